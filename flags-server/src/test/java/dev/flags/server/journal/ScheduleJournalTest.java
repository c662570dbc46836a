package dev.flags.server.journal;

import static dev.flags.server.journal.Fixtures.createEnvironment;
import static dev.flags.server.journal.Fixtures.createFlag;
import static dev.flags.server.journal.Fixtures.json;
import static dev.flags.server.journal.RoundTripTest.schedule;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Scheduled flag changes in the journal: made, cancelled, applied (the flag's change and the end of the
 * schedule in one entry, refused a second time), ended by the server; kept by checkpoints (format 2)
 * and replays alike, and verified by the journal tool.
 */
class ScheduleJournalTest {

    private static final String ENV = "staging";

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(Fixtures.T0);

    private static Change applied(String id, boolean enabled) {
        return Change.of(EntryType.SCHEDULE_APPLIED, ENV, "flags-server (schedule " + id + " by alice)",
                json("{\"key\":\"promo\",\"schedule\":\"" + id + "\",\"flag\":{\"key\":\"promo\",\"enabled\":" + enabled
                        + ",\"rules\":[{\"percentage\":0}]}}"));
    }

    private static Change ended(String id, String outcome) {
        return Change.of(EntryType.SCHEDULE_ENDED, ENV, "flags-server (schedule " + id + " by alice)",
                json("{\"id\":\"" + id + "\",\"outcome\":\"" + outcome + "\",\"reason\":\"flag \\\"promo\\\" is archived\"}"));
    }

    private static Change cancelled(String id) {
        return Change.of(EntryType.SCHEDULE_CANCELLED, ENV, "bob", json("{\"id\":\"" + id + "\"}")).withComment("not yet");
    }

    private static EnvironmentState staging(FileJournal journal) {
        return journal.state().environment(ENV).orElseThrow();
    }

    private static int checkpointFormat(Path checkpoint) throws Exception {
        return ByteBuffer.wrap(Files.readAllBytes(checkpoint), 8, 2).getShort();
    }

    @Test
    void aScheduleIsPendingUntilOneEntryEndsItAndAppliedItChangesTheFlagInTheSameEntry() {
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            journal.append(createEnvironment(ENV));
            journal.append(createFlag(ENV, "promo"));
            clock.advance(Duration.ofMinutes(1));
            JournalEntry made = journal.append(schedule(ENV, "sch-000000000001", "promo", "{\"enabled\":true}")
                    .withComment("launch"));
            journal.append(schedule(ENV, "sch-000000000002", "promo", "{\"enabled\":false}"));
            journal.append(schedule(ENV, "sch-000000000003", "promo", "{\"default\":true}"));
            assertThat(made.subject()).isEqualTo("sch-000000000001");

            Schedule pending = staging(journal).schedules().get("sch-000000000001");
            assertThat(pending.status()).isEqualTo(Schedule.Status.PENDING);
            assertThat(pending.flag()).isEqualTo("promo");
            assertThat(pending.at()).isEqualTo(Instant.parse("2026-12-07T08:00:00Z"));
            assertThat(pending.patch().toString()).isEqualTo("{\"enabled\":true}");
            assertThat(pending.createdBy()).isEqualTo("alice");
            assertThat(pending.createdAt()).isEqualTo(Fixtures.T0.plus(Duration.ofMinutes(1)));
            assertThat(pending.comment()).isEqualTo("launch");
            assertThat(staging(journal).pendingSchedules()).extracting(Schedule::id)
                    .containsExactly("sch-000000000001", "sch-000000000002", "sch-000000000003");

            clock.advance(Duration.ofMinutes(1));
            JournalEntry change = journal.append(applied("sch-000000000001", true));
            EnvironmentState after = staging(journal);
            assertThat(Fixtures.tree(after.flags().get("promo")).get("enabled").asBoolean()).isTrue();
            Schedule done = after.schedules().get("sch-000000000001");
            assertThat(done.status()).isEqualTo(Schedule.Status.APPLIED);
            assertThat(done.flagVersion()).isEqualTo(change.version());
            assertThat(done.endedBy()).isEqualTo("flags-server (schedule sch-000000000001 by alice)");
            assertThat(change.subject()).isEqualTo("promo");
            assertThat(journal.history(ENV, "promo")).extracting(JournalEntry::type)
                    .as("a flag change: history shows it").containsExactly(EntryType.FLAG_CREATED, EntryType.SCHEDULE_APPLIED);
            assertThat(change.flagDefinition("promo")).isPresent();

            // Exactly once: nothing ends a schedule that is not pending, the same change a second time included.
            long version = after.version();
            assertThatThrownBy(() -> journal.append(applied("sch-000000000001", false)))
                    .isInstanceOf(ChangeConflictException.class)
                    .hasMessage("schedule \"sch-000000000001\" is not pending in environment \"staging\": it was applied");
            assertThatThrownBy(() -> journal.append(cancelled("sch-000000000001"))).isInstanceOf(ChangeConflictException.class);
            assertThatThrownBy(() -> journal.append(ended("sch-000000000009", "failed")))
                    .isInstanceOf(ChangeConflictException.class)
                    .hasMessage("schedule \"sch-000000000009\" does not exist in environment \"staging\"");
            assertThatThrownBy(() -> journal.append(schedule(ENV, "sch-000000000002", "promo", "{\"enabled\":true}")))
                    .isInstanceOf(ChangeConflictException.class).hasMessageContaining("already exists");
            assertThat(staging(journal).version()).as("nothing appended").isEqualTo(version);

            journal.append(cancelled("sch-000000000002"));
            journal.append(ended("sch-000000000003", "failed"));
            EnvironmentState last = staging(journal);
            assertThat(last.pendingSchedules()).isEmpty();
            assertThat(last.schedules().get("sch-000000000002").status()).isEqualTo(Schedule.Status.CANCELLED);
            assertThat(last.schedules().get("sch-000000000002").reason()).isEqualTo("not yet");
            assertThat(last.schedules().get("sch-000000000003").status()).isEqualTo(Schedule.Status.FAILED);
            assertThat(last.schedules().get("sch-000000000003").reason()).isEqualTo("flag \"promo\" is archived");
        }
    }

    @Test
    void payloadsAreCheckedBeforeTheyAreAppended() {
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            journal.append(createEnvironment(ENV));
            journal.append(createFlag(ENV, "promo"));
            journal.append(schedule(ENV, "sch-000000000001", "promo", "{\"enabled\":true}"));
            assertThatThrownBy(() -> journal.append(Change.of(EntryType.SCHEDULE_CREATED, ENV, "alice",
                    json("{\"id\":\"sch-1\",\"flag\":\"promo\",\"at\":\"monday\",\"patch\":{\"enabled\":true}}"))))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("payload of schedule_created: at must be an ISO-8601 instant in UTC, such as"
                            + " \"2027-01-31T00:00:00Z\", was \"monday\"");
            assertThatThrownBy(() -> journal.append(schedule(ENV, "sch-2", "promo", "{}")))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("payload of schedule_created must have a non-empty object \"patch\"");
            assertThatThrownBy(() -> journal.append(Change.of(EntryType.SCHEDULE_APPLIED, ENV, "s",
                    json("{\"key\":\"promo\",\"schedule\":\"sch-000000000001\",\"flag\":{\"key\":\"other\"}}"))))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("whose key is \"promo\"");
            assertThatThrownBy(() -> journal.append(ended("sch-000000000001", "maybe")))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("payload of schedule_ended: outcome must be \"failed\" or \"unchanged\", was \"maybe\"");
            journal.append(Change.of(EntryType.FLAG_ARCHIVED, ENV, "alice", json("{\"key\":\"promo\"}")));
            assertThatThrownBy(() -> journal.append(applied("sch-000000000001", true)))
                    .as("an archived flag takes no scheduled change").isInstanceOf(ChangeConflictException.class);
        }
    }

    @Test
    void schedulesSurviveACheckpointOfFormatTwoAndAReplayAndTheToolVerifiesThem() throws Exception {
        EnvironmentState before;
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            journal.append(createEnvironment(ENV));
            journal.append(createFlag(ENV, "promo"));
            journal.append(schedule(ENV, "sch-000000000001", "promo", "{\"enabled\":true}").withComment("launch"));
            journal.append(schedule(ENV, "sch-000000000002", "promo", "{\"enabled\":false}"));
            journal.append(schedule(ENV, "sch-000000000003", "promo", "{\"default\":true}"));
            journal.append(schedule(ENV, "sch-000000000004", "promo", "{\"description\":\"later\"}"));
            journal.append(applied("sch-000000000001", true));
            journal.append(cancelled("sch-000000000002"));
            journal.append(ended("sch-000000000003", "unchanged"));
            before = staging(journal);
        } // closing writes a checkpoint
        Path checkpoint = Fixtures.checkpoints(dir).get(Fixtures.checkpoints(dir).size() - 1);
        assertThat(checkpointFormat(checkpoint)).isEqualTo(2);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        assertThat(JournalTool.run(new PrintWriter(out, true), new PrintWriter(err, true), "verify", dir.toString()))
                .as(out + "" + err).isZero();
        assertThat(out.toString()).contains("checkpoint checkpoint-00000000000000000009.ckpt: ok, sequence 9");

        try (FileJournal fromCheckpoint = Fixtures.builder(dir, clock).open()) {
            assertThat(fromCheckpoint.recoveryReport().checkpointSequence()).isEqualTo(9);
            assertThat(staging(fromCheckpoint)).isEqualTo(before);
            assertThat(staging(fromCheckpoint).schedules().get("sch-000000000003").status())
                    .as("ended without a change: applied, no version").isEqualTo(Schedule.Status.APPLIED);
            assertThat(staging(fromCheckpoint).schedules().get("sch-000000000003").flagVersion()).isZero();
            assertThat(staging(fromCheckpoint).pendingSchedules()).extracting(Schedule::id).containsExactly("sch-000000000004");
        }
        Fixtures.deleteCheckpoints(dir);
        try (FileJournal replayed = Fixtures.builder(dir, clock).open()) {
            assertThat(replayed.recoveryReport().checkpointSequence()).isZero();
            assertThat(staging(replayed)).isEqualTo(before);
        }
    }

    @Test
    void anEnvironmentKeepsTheNewestEndedSchedulesAndACheckpointKeepsTheSameOnes() throws Exception {
        EnvironmentState before;
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            journal.append(createEnvironment(ENV));
            journal.append(createFlag(ENV, "promo"));
            for (int i = 0; i < Schedule.KEPT_ENDED + 5; i++) {
                String id = String.format("sch-%012d", i);
                journal.append(schedule(ENV, id, "promo", "{\"enabled\":true}"));
                clock.advance(Duration.ofSeconds(1));
                journal.append(cancelled(id));
                if (i == 50) {
                    journal.checkpoint(); // the rest is replayed on top of it
                }
            }
            before = staging(journal);
            assertThat(before.schedules()).hasSize(Schedule.KEPT_ENDED).doesNotContainKey("sch-000000000004")
                    .containsKey("sch-000000000005");
        }
        java.util.List<Path> checkpoints = Fixtures.checkpoints(dir);
        Files.delete(checkpoints.get(checkpoints.size() - 1)); // the one of the close: the mid-way one, then the tail
        try (FileJournal fromCheckpoint = Fixtures.builder(dir, clock).open()) {
            assertThat(fromCheckpoint.recoveryReport().checkpointSequence()).isEqualTo(2 + 2 * 51);
            assertThat(staging(fromCheckpoint)).isEqualTo(before);
        }
        Fixtures.deleteCheckpoints(dir);
        try (FileJournal replayed = Fixtures.builder(dir, clock).open()) {
            assertThat(staging(replayed)).isEqualTo(before);
        }
    }
}
