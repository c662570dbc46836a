package dev.flags.server.journal;

import static dev.flags.server.journal.Fixtures.T0;
import static dev.flags.server.journal.Fixtures.createEnvironment;
import static dev.flags.server.journal.Fixtures.json;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * QA89 F3: checkpoint format version 2 grew twice without a new version number (2026-12-03: the grant expiries, then the
 * longest grants of self-service roles, then the schedules). A version-2 checkpoint that a build of that day wrote, in
 * an earlier layout, is sound (its checksum holds): it must be read, not skipped as damaged (with retention, the
 * segments before it may be gone, and the journal could then not open at all).
 */
class CheckpointLayoutTest {

    @TempDir
    Path dir;

    /**
     * @param layout 1: an environment's grant expiries only after its self-service roles (the first build with expiring
     *     grants); 2: and the longest grants (the build before scheduled changes)
     */
    private ServerState writeInEarlierLayout(int layout) throws Exception {
        ServerState expected;
        try (FileJournal journal = Fixtures.builder(dir, new MutableClock(T0)).open()) {
            journal.append(createEnvironment("staging"));
            journal.append(Change.of(EntryType.ROLE_GRANTED, "staging", "bob",
                    json("{\"user\":\"tess\",\"role\":\"beta\",\"expiresAt\":\"2026-12-04T12:00:00Z\"}")));
            expected = journal.state();
        } // the close writes a checkpoint: version 2, for the expiring grant
        List<Path> checkpoints = Fixtures.checkpoints(dir);
        assertThat(checkpoints).hasSize(1);
        Path checkpoint = checkpoints.get(0);
        byte[] now = Files.readAllBytes(checkpoint);
        assertThat(ByteBuffer.wrap(now, 8, 2).getShort()).isEqualTo((short) 2);
        // One environment, the last thing in the body: its two counts after the expiries (longest grants, schedules),
        // both 0, end the body. An earlier build did not write them (layout 1) or the last one (layout 2).
        int bodyEnd = now.length - 4 - Checkpoints.END.length;
        int dropped = layout == 1 ? 8 : 4;
        assertThat(Arrays.copyOfRange(now, bodyEnd - 8, bodyEnd)).containsOnly(0);
        int earlierEnd = bodyEnd - dropped;
        CRC32C crc = new CRC32C();
        crc.update(now, 0, earlierEnd);
        ByteBuffer earlier = ByteBuffer.allocate(earlierEnd + 4 + Checkpoints.END.length);
        earlier.put(now, 0, earlierEnd).putInt((int) crc.getValue()).put(Checkpoints.END);
        Files.write(checkpoint, earlier.array());
        return expected;
    }

    private void assertReadFromTheCheckpoint(ServerState expected) throws Exception {
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            assertThat(journal.recoveryReport().notes()).as("no checkpoint skipped as damaged")
                    .noneMatch(note -> note.contains("damaged"));
            assertThat(journal.recoveryReport().checkpointSequence()).isEqualTo(2);
            assertThat(journal.recoveryReport().replayedEntries()).isZero();
            assertThat(journal.state().environment("staging")).isEqualTo(expected.environment("staging"));
        }
    }

    @Test
    void aVersionTwoCheckpointWithoutSchedulesIsRead() throws Exception {
        assertReadFromTheCheckpoint(writeInEarlierLayout(2));
    }

    @Test
    void aVersionTwoCheckpointWithGrantExpiriesOnlyIsRead() throws Exception {
        assertReadFromTheCheckpoint(writeInEarlierLayout(1));
    }
}
