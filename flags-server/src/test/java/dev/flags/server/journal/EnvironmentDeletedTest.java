package dev.flags.server.journal;

import static dev.flags.server.journal.Fixtures.T0;
import static dev.flags.server.journal.Fixtures.createEnvironment;
import static dev.flags.server.journal.Fixtures.createFlag;
import static dev.flags.server.journal.Fixtures.json;
import static dev.flags.server.journal.Fixtures.role;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An archived environment deleted for good: gone from the state (its heap freed), its key never used again, its
 * entries still in the journal, and the same after a replay and from a checkpoint (format 3 only then).
 */
class EnvironmentDeletedTest {

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(T0);

    private static Change archive(String env) {
        return Change.of(EntryType.ENVIRONMENT_ARCHIVED, env, "admin", json("{}"));
    }

    private static Change delete(String env) {
        return Change.of(EntryType.ENVIRONMENT_DELETED, env, "admin", json("{\"reason\":\"preview merged\"}"));
    }

    private static int checkpointFormat(Path checkpoint) throws Exception {
        return ByteBuffer.wrap(Files.readAllBytes(checkpoint), 8, 2).getShort();
    }

    private static Path newestCheckpoint(Path dir) throws Exception {
        List<Path> all = Fixtures.checkpoints(dir);
        return all.get(all.size() - 1);
    }

    @Test
    void onlyAnArchivedEnvironmentIsDeletedAndItsKeyIsNeverUsedAgain() {
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            journal.append(createEnvironment("pr-7"));
            journal.append(createFlag("pr-7", "billing-v2"));
            journal.append(createEnvironment("staging"));
            assertThatThrownBy(() -> journal.append(delete("pr-7"))).isInstanceOf(ChangeConflictException.class)
                    .hasMessageContaining("environment \"pr-7\" is not archived: only an archived environment is deleted");
            assertThatThrownBy(() -> journal.append(delete("nope"))).isInstanceOf(ChangeConflictException.class)
                    .hasMessageContaining("environment \"nope\" does not exist");

            journal.append(archive("pr-7"));
            assertThat(journal.completeHistoryIndex().positions("pr-7", "billing-v2")).hasSize(2);
            JournalEntry deleted = journal.append(delete("pr-7"));
            assertThat(journal.completeHistoryIndex().positions("pr-7", "billing-v2")).as("nothing reads it: let go")
                    .isEmpty();
            assertThat(journal.completeHistoryIndex().changes()).isZero();
            assertThat(deleted.version()).as("the environment's last version").isEqualTo(4);
            assertThat(journal.state().environment("pr-7")).isEmpty();
            assertThat(journal.state().wasDeleted("pr-7")).isTrue();
            assertThat(journal.state().wasDeleted("staging")).isFalse();
            assertThat(journal.stateAt(deleted.sequence() - 1).environment("pr-7")).as("the state before it").isPresent();

            for (Change again : List.of(createEnvironment("pr-7"),
                    Change.of(EntryType.ENVIRONMENT_CLONED, "pr-7", "admin", json("{\"source\":\"staging\"}")))) {
                assertThatThrownBy(() -> journal.append(again)).isInstanceOf(ChangeConflictException.class)
                        .hasMessageContaining("environment \"pr-7\" was deleted for good, and its key is not used again:"
                                + " choose another key");
            }
            for (Change later : List.of(createFlag("pr-7", "x"), archive("pr-7"), delete("pr-7"),
                    Change.of(EntryType.ENVIRONMENT_RESTORED, "pr-7", "admin", json("{}")))) {
                assertThatThrownBy(() -> journal.append(later)).isInstanceOf(ChangeConflictException.class)
                        .hasMessageContaining("environment \"pr-7\" was deleted for good");
            }
            assertThatThrownBy(() -> journal.append(Change.of(EntryType.ENVIRONMENT_CLONED, "copy", "admin",
                    json("{\"source\":\"pr-7\"}")))).isInstanceOf(ChangeConflictException.class)
                    .hasMessageContaining("source environment \"pr-7\" does not exist");
            assertThat(journal.read(1, 100)).extracting(JournalEntry::environment).as("its entries stay")
                    .containsExactly("pr-7", "pr-7", "staging", "pr-7", "pr-7");
        }
    }

    @Test
    void aDeleteSurvivesAReplayAndACheckpointWhichIsOfFormatThreeOnlyOnceAnEnvironmentWasDeleted() throws Exception {
        ServerState before;
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            journal.append(createEnvironment("staging"));
            journal.append(role(EntryType.ROLE_GRANTED, "staging", "ann", "beta"));
            journal.checkpoint();
            assertThat(checkpointFormat(newestCheckpoint(dir))).as("nothing deleted: the format older releases read")
                    .isEqualTo(1);
            journal.append(createEnvironment("pr-7"));
            journal.append(createFlag("pr-7", "billing-v2"));
            journal.append(archive("pr-7"));
            journal.append(delete("pr-7"));
            before = journal.state();
        }
        Fixtures.deleteCheckpoints(dir); // this open replays every entry
        try (FileJournal replayed = Fixtures.builder(dir, clock).open()) {
            assertThat(replayed.recoveryReport().checkpointSequence()).isZero();
            assertThat(replayed.state()).isEqualTo(before);
            replayed.checkpoint();
        }
        assertThat(checkpointFormat(newestCheckpoint(dir))).isEqualTo(3);
        try (FileJournal fromCheckpoint = Fixtures.builder(dir, clock).open()) {
            assertThat(fromCheckpoint.recoveryReport().checkpointSequence()).isEqualTo(6);
            assertThat(fromCheckpoint.state()).isEqualTo(before);
            assertThat(fromCheckpoint.state().wasDeleted("pr-7")).isTrue();
            assertThat(fromCheckpoint.state().environment("staging").orElseThrow().roleGrants()).containsKey("ann");
            assertThat(fromCheckpoint.completeHistoryIndex().changes()).as("the journal's older changes of it are not"
                    + " indexed either").isZero();
            assertThatThrownBy(() -> fromCheckpoint.append(createEnvironment("pr-7")))
                    .isInstanceOf(ChangeConflictException.class).hasMessageContaining("choose another key");
        }
    }
}
