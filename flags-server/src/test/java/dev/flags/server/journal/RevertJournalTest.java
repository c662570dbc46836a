package dev.flags.server.journal;

import static dev.flags.server.journal.Fixtures.createEnvironment;
import static dev.flags.server.journal.Fixtures.createFlag;
import static dev.flags.server.journal.Fixtures.json;
import static dev.flags.server.journal.Fixtures.updateFlag;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A revert in the journal: a flag change of its own type, served (or restored) like an update, found by the
 * flag's history after a reopen, and refused when its payload is malformed or says the wrong thing about
 * whether it restored the flag.
 */
class RevertJournalTest {

    private static final String ENV = "staging";

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(Fixtures.T0);

    private static Change reverted(long to, boolean restored, boolean enabled) {
        return Change.of(EntryType.FLAG_REVERTED, ENV, "alice", json("{\"key\":\"promo\",\"revertedTo\":" + to
                + ",\"restored\":" + restored + ",\"flag\":{\"key\":\"promo\",\"enabled\":" + enabled
                + ",\"rules\":[{\"percentage\":0}]}}")).withComment("the launch broke checkout");
    }

    @Test
    void aRevertServesItsFlagRestoresAnArchivedOneAndStaysInTheFlagsHistory() {
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            journal.append(createEnvironment(ENV));
            JournalEntry created = journal.append(createFlag(ENV, "promo"));
            journal.append(updateFlag(ENV, "promo", true));
            journal.append(reverted(created.version(), false, false));
            assertThat(Fixtures.tree(journal.state().environment(ENV).orElseThrow().flags().get("promo")).get("enabled")
                    .asBoolean()).isFalse();

            journal.append(Change.of(EntryType.FLAG_ARCHIVED, ENV, "alice", json("{\"key\":\"promo\"}")));
            journal.append(reverted(created.version(), true, true));
            EnvironmentState staging = journal.state().environment(ENV).orElseThrow();
            assertThat(staging.archivedFlags()).doesNotContainKey("promo");
            assertThat(Fixtures.tree(staging.flags().get("promo")).get("enabled").asBoolean()).isTrue();
        }
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            List<JournalEntry> history = journal.history(ENV, "promo", Long.MAX_VALUE, 100);
            assertThat(history).extracting(JournalEntry::type).containsExactly(EntryType.FLAG_CREATED, EntryType.FLAG_UPDATED,
                    EntryType.FLAG_REVERTED, EntryType.FLAG_ARCHIVED, EntryType.FLAG_REVERTED);
            assertThat(history).isEqualTo(journal.historyByScan(ENV, "promo"));
            JournalEntry last = history.get(4);
            assertThat(last.flagDefinition("promo").orElseThrow().get("enabled").asBoolean()).isTrue();
            assertThat(last.comment()).isEqualTo("the launch broke checkout");
            assertThat(Fixtures.tree(journal.state().environment(ENV).orElseThrow().flags().get("promo")).get("enabled")
                    .asBoolean()).isTrue();
        }
    }

    @Test
    void aRevertThatSaysTheWrongThingAboutRestoringIsRefusedAndNothingIsAppended() {
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            journal.append(createEnvironment(ENV));
            journal.append(createFlag(ENV, "promo"));
            long sequence = journal.state().sequence();

            assertThatThrownBy(() -> journal.append(reverted(2, true, false))).isInstanceOf(ChangeConflictException.class)
                    .hasMessageContaining("flag \"promo\" is served in environment \"staging\": a revert of it has restored false");
            journal.append(Change.of(EntryType.FLAG_ARCHIVED, ENV, "alice", json("{\"key\":\"promo\"}")));
            assertThatThrownBy(() -> journal.append(reverted(2, false, false))).isInstanceOf(ChangeConflictException.class)
                    .hasMessageContaining("flag \"promo\" is not served in environment \"staging\": a revert of it has restored true");
            assertThat(journal.state().sequence()).isEqualTo(sequence + 1);
        }
    }

    @Test
    void aMalformedRevertIsRefusedWithWhatIsWrong() {
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            journal.append(createEnvironment(ENV));
            journal.append(createFlag(ENV, "promo"));
            String flag = "\"flag\":{\"key\":\"promo\",\"enabled\":true}";
            assertThatThrownBy(() -> journal.append(revert("{\"key\":\"promo\",\"restored\":false," + flag + "}")))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("payload of flag_reverted: revertedTo must be the"
                            + " version reverted to, a whole number from 1, was missing");
            assertThatThrownBy(() -> journal.append(revert("{\"key\":\"promo\",\"revertedTo\":0,\"restored\":false," + flag + "}")))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageEndingWith("a whole number from 1, was 0");
            assertThatThrownBy(() -> journal.append(revert("{\"key\":\"promo\",\"revertedTo\":\"2\",\"restored\":false," + flag
                    + "}"))).isInstanceOf(IllegalArgumentException.class).hasMessageEndingWith("was \"2\"");
            assertThatThrownBy(() -> journal.append(revert("{\"key\":\"promo\",\"revertedTo\":2," + flag + "}")))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("payload of flag_reverted: restored must be true or"
                            + " false (whether the flag was not served before), was missing");
            assertThatThrownBy(() -> journal.append(revert("{\"key\":\"promo\",\"revertedTo\":2,\"restored\":false,"
                    + "\"flag\":{\"key\":\"other\"}}"))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("payload of flag_reverted must have an object \"flag\", the flag's definition, whose key is \"promo\"");
            assertThat(journal.state().sequence()).isEqualTo(2);
        }
    }

    private static Change revert(String payload) {
        return Change.of(EntryType.FLAG_REVERTED, ENV, "alice", json(payload));
    }
}
