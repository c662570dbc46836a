package dev.flags.server.journal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The journal written by format version 1 is always read, this release writes exactly that
 * format, and files of another version are refused by name instead of being misread.
 */
class FormatTest {

    @TempDir
    Path dir;

    @TempDir
    Path fresh;

    @Test
    void goldenVersionOneJournalIsRead() throws Exception {
        copyGolden(dir);
        GoldenJournal.write(fresh);
        ServerState expected;
        List<JournalEntry> expectedEntries;
        try (FileJournal now = FileJournal.builder(fresh).open()) {
            expected = now.state();
            expectedEntries = now.read(1, 1000);
        }

        try (FileJournal golden = FileJournal.builder(dir).open()) {
            assertThat(golden.lastSequence()).isEqualTo(57);
            assertThat(golden.read(1, 1000)).isEqualTo(expectedEntries);
            assertThat(golden.state()).isEqualTo(expected);
            assertThat(golden.recoveryReport().checkpointSequence()).isEqualTo(57);
            assertThat(golden.state().environment("production-2").orElseThrow().flags())
                    .containsOnlyKeys("billing-v2");
            assertThat(golden.stateAt(19)).isEqualTo(replayedTo(expectedEntries, 19));
        }
        Fixtures.deleteCheckpoints(dir);
        try (FileJournal golden = FileJournal.builder(dir).open()) {
            assertThat(golden.state()).isEqualTo(expected);
        }
    }

    @Test
    void thisReleaseWritesTheGoldenBytes() throws Exception {
        GoldenJournal.write(fresh);
        Path golden = goldenDirectory();
        List<String> names = journalFiles(golden);
        assertThat(journalFiles(fresh)).isEqualTo(names);
        for (String name : names) {
            assertThat(Files.readAllBytes(fresh.resolve(name)))
                    .as("%s differs from the golden file: the format changed; bump the format version and"
                            + " add golden files for it instead of changing these", name)
                    .isEqualTo(Files.readAllBytes(golden.resolve(name)));
        }
    }

    @Test
    void newerSegmentFormatVersionIsRefusedByName() throws Exception {
        copyGolden(dir);
        Path first = dir.resolve(Segments.fileName(1));
        setVersion(first, 2, Segments.HEADER_SIZE - 4);

        assertThatThrownBy(() -> FileJournal.builder(dir).open())
                .isInstanceOfSatisfying(JournalCorruptedException.class, e -> {
                    assertThat(e.file()).isEqualTo(first);
                    assertThat(e.offset()).isEqualTo(8);
                })
                .hasMessageStartingWith("journal of a newer format in " + first + " at byte offset 8: unsupported"
                        + " journal format version 2 (this release reads version 1); the journal was not"
                        + " opened and nothing on disk was changed: it was written by a newer release");
    }

    /**
     * A checkpoint of a newer format is refused as a newer segment is, and left as it was (QA81 F1): the older
     * release skipped it as damaged, served the state it replayed, and overwrote it with its own at the close.
     */
    @Test
    void newerCheckpointFormatVersionIsRefusedByNameAndLeftAlone() throws Exception {
        copyGolden(dir);
        for (long sequence : new long[] {57, 19}) { // the newest checkpoint, and an older one checked only
            Path checkpoint = dir.resolve(Checkpoints.fileName(sequence));
            byte[] original = Files.readAllBytes(checkpoint);
            setVersion(checkpoint, 4, -1);
            byte[] newer = Files.readAllBytes(checkpoint);

            assertThatThrownBy(() -> FileJournal.builder(dir).open().close())
                    .isInstanceOfSatisfying(JournalCorruptedException.class, e -> {
                        assertThat(e.newerFormat()).isTrue();
                        assertThat(e.file()).isEqualTo(checkpoint);
                    })
                    .hasMessageStartingWith("journal of a newer format in " + checkpoint + " at byte offset 8:"
                            + " unsupported checkpoint format version 4 (this release reads versions 1 to 3); the"
                            + " journal was not opened and nothing on disk was changed: it was written by a newer"
                            + " release; run that release (do not repair");
            assertThat(Files.readAllBytes(checkpoint)).as("the newer release's checkpoint is left as it was")
                    .isEqualTo(newer);
            Files.write(checkpoint, original);
        }
        try (Stream<Path> s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString()).filter(n -> !n.equals(DirectoryLock.FILE_NAME)))
                    .as("nothing added or set aside").containsExactlyInAnyOrderElementsOf(journalFiles(goldenDirectory()));
        }
    }

    @Test
    void aFileThatIsNotASegmentIsRefused() throws Exception {
        copyGolden(dir);
        Path first = dir.resolve(Segments.fileName(1));
        CorruptionTest.flip(first, 0);

        assertThatThrownBy(() -> FileJournal.builder(dir).open())
                .isInstanceOf(JournalCorruptedException.class)
                .hasMessageStartingWith("journal damaged in " + first + " at byte offset 0: not a"
                        + " journal segment: magic is not \"FLAGSJNL\"; the journal was not opened");
    }

    @Test
    void canonicalJsonSortsPropertiesAndIsStable() {
        CanonicalJson a = CanonicalJson.parse("{ \"key\": \"k\", \"b\": {\"z\": 1, \"a\": [2, 1]} }");
        assertThat(a.toString()).isEqualTo("{\"b\":{\"a\":[2,1],\"z\":1},\"key\":\"k\"}");
        assertThat(CanonicalJson.parse(a.toString())).isEqualTo(a);
        assertThat(CanonicalJson.of(a.toJsonNode())).isEqualTo(a);
        assertThatThrownBy(() -> CanonicalJson.parse("{\"a\":1,\"a\":2}"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("json is not valid: Duplicate field 'a'");
    }

    // --- helpers

    static Path goldenDirectory() throws URISyntaxException {
        return Path.of(FormatTest.class.getResource(GoldenJournal.RESOURCE).toURI());
    }

    static void copyGolden(Path target) throws IOException, URISyntaxException {
        Path golden = goldenDirectory();
        for (String name : journalFiles(golden)) {
            Files.copy(golden.resolve(name), target.resolve(name));
        }
    }

    private static List<String> journalFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".seg") || n.endsWith(".ckpt")).sorted()
                    .collect(Collectors.toList());
        }
    }

    /** Writes a format version at byte 8; if crcAt >= 0 also fixes the header's checksum there. */
    static void setVersion(Path file, int version, int crcAt) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(2).putShort(0, (short) version), 8);
            if (crcAt >= 0) {
                ByteBuffer header = ByteBuffer.allocate(crcAt);
                ch.read(header, 0);
                CRC32C crc = new CRC32C();
                crc.update(header.array());
                ch.write(ByteBuffer.allocate(4).putInt(0, (int) crc.getValue()), crcAt);
            }
        }
    }

    private static ServerState replayedTo(List<JournalEntry> entries, long sequence) {
        MutableState state = new MutableState();
        entries.stream().filter(e -> e.sequence() <= sequence).forEach(state::apply);
        return state.freeze();
    }
}
