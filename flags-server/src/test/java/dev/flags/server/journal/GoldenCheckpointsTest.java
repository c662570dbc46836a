package dev.flags.server.journal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The golden checkpoints of format versions 2 and 3 ({@link GoldenCheckpoints}): this release writes them byte for byte
 * and reads them. Without them, version 2's layout grew twice without a new version number, and the checkpoints that
 * earlier builds wrote were taken for damage (QA89 F3).
 */
class GoldenCheckpointsTest {

    @TempDir
    Path fresh;

    private static Path golden() throws Exception {
        return Path.of(GoldenCheckpointsTest.class.getResource(GoldenCheckpoints.RESOURCE).toURI());
    }

    private static List<String> names(Path dir) throws Exception {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".ckpt")).sorted().toList();
        }
    }

    @Test
    void thisReleaseWritesTheGoldenCheckpointsOfVersionsTwoAndThree() throws Exception {
        GoldenCheckpoints.write(fresh);
        List<String> names = names(golden());
        assertThat(names).hasSize(2).isEqualTo(names(fresh));
        assertThat(names.stream().map(n -> {
            try {
                return (int) ByteBuffer.wrap(Files.readAllBytes(golden().resolve(n)), 8, 2).getShort();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        })).containsExactly(2, 3);
        for (String name : names) {
            assertThat(Files.readAllBytes(fresh.resolve(name)))
                    .as("%s differs from the golden file: the format changed; bump the format version and add golden"
                            + " files for it instead of changing these", name)
                    .isEqualTo(Files.readAllBytes(golden().resolve(name)));
        }
    }

    @Test
    void theGoldenCheckpointsAreRead() throws Exception {
        GoldenCheckpoints.write(fresh);
        ServerState expected;
        ServerState atTwo;
        List<String> names = names(golden());
        long two = Checkpoints.sequenceOf(golden().resolve(names.get(0)));
        try (FileJournal journal = FileJournal.builder(fresh).open()) {
            expected = journal.state();
            atTwo = journal.stateAt(two);
        }
        for (String name : names) {
            Files.copy(golden().resolve(name), fresh.resolve(name), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        try (FileJournal journal = FileJournal.builder(fresh).open()) {
            assertThat(journal.recoveryReport().notes()).noneMatch(note -> note.contains("damaged"));
            assertThat(journal.recoveryReport().replayedEntries()).isZero();
            assertThat(journal.state()).isEqualTo(expected);
            assertThat(journal.stateAt(two)).isEqualTo(atTwo);
        }
        Fixtures.deleteCheckpoints(fresh);
        Files.copy(golden().resolve(names.get(0)), fresh.resolve(names.get(0)));
        try (FileJournal journal = FileJournal.builder(fresh).open()) {
            assertThat(journal.recoveryReport().checkpointSequence()).as("the version-2 checkpoint").isEqualTo(two);
            assertThat(journal.state()).isEqualTo(expected);
        }
    }
}
