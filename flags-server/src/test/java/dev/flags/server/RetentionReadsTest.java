package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.flags.server.journal.MutableClock;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flags.server.auth.Principal;
import dev.flags.server.auth.Scope;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.FileJournal;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Time travel to before what the journal retains: a clear 410, not a 500. */
class RetentionReadsTest {

    @TempDir
    Path dir;

    private static Change flag(EntryType type, boolean enabled) {
        ObjectNode flag = JsonNodeFactory.instance.objectNode().put("key", "billing-v2").put("enabled", enabled);
        return Change.of(type, "staging", "alice", flag);
    }

    @Test
    void theStateAtATimeWhoseEntriesRetentionRemovedIsGone() {
        MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
        try (FileJournal journal = FileJournal.builder(dir).clock(clock).segmentSize(4096).checkpointInterval(1_000_000)
                .retention(Duration.ofDays(30)).open()) {
            journal.append(Change.of(EntryType.ENVIRONMENT_CREATED, "staging", "admin",
                    JsonNodeFactory.instance.objectNode().put("name", "Staging")));
            journal.append(flag(EntryType.FLAG_CREATED, false));
            Instant early = clock.instant();
            for (int i = 0; i < 60; i++) {
                journal.append(flag(EntryType.FLAG_UPDATED, i % 2 == 0));
            }
            clock.set(early.plus(Duration.ofDays(31)));
            journal.append(flag(EntryType.FLAG_UPDATED, true));
            journal.checkpoint();
            journal.checkpoint();

            HistoryService history = new HistoryService(journal, clock);
            Principal admin = new Principal("tok-admin", "admin", Scope.ADMIN, Set.of());
            ApiException gone = catchThrowableOfType(() -> history.stateAt(admin, "staging", early), ApiException.class);
            assertThat(gone).as("an answer, not an internal error").isNotNull();
            assertThat(gone.status()).isEqualTo(410);
            assertThat(gone.getMessage()).contains("is not available").contains("removed by retention")
                    .contains("--journal-retention");
            assertThat(history.stateAt(admin, "staging", clock.instant()).environment("staging")).isPresent();

            // A flag's history then starts later, and says so rather than look complete.
            long oldest = journal.oldestRetainedSequence();
            assertThat(oldest).isGreaterThan(2);
            HistoryService.HistoryPage all = history.flagHistory(admin, "staging", "billing-v2", null, 1000);
            assertThat(all.versions().get(0).sequence()).isEqualTo(oldest);
            assertThat(all.oldestRetainedSequence()).isEqualTo(oldest);
            HistoryService.HistoryPage below = history.flagHistory(admin, "staging", "billing-v2", 5L, 1000);
            assertThat(below.versions()).isEmpty();
            assertThat(below.oldestRetainedSequence()).as("an empty page below the retained range says why").isEqualTo(oldest);
            HistoryService.HistoryPage newest = history.flagHistory(admin, "staging", "billing-v2", null, 1);
            assertThat(newest.oldestRetainedSequence()).as("only the last page").isNull();
        }
    }

    @Test
    void theHistoryApiSaysWhereRetentionCutTheJournal() throws Exception {
        Path data = dir.resolve("data");
        MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
        long oldest;
        try (FileJournal journal = FileJournal.builder(data.resolve("journal")).clock(clock).segmentSize(4096)
                .retention(Duration.ofDays(30)).open()) {
            journal.append(Change.of(EntryType.ENVIRONMENT_CREATED, "staging", "admin",
                    JsonNodeFactory.instance.objectNode().put("name", "Staging")));
            journal.append(flag(EntryType.FLAG_CREATED, false));
            for (int i = 0; i < 60; i++) {
                journal.append(flag(EntryType.FLAG_UPDATED, i % 2 == 0));
            }
            clock.set(clock.instant().plus(Duration.ofDays(31)));
            journal.append(flag(EntryType.FLAG_UPDATED, true));
            journal.checkpoint();
            journal.checkpoint();
            oldest = journal.oldestRetainedSequence();
        }
        assertThat(oldest).isGreaterThan(2);
        String admin = "retention-test-admin-token-0123456789";
        try (FlagServer server = FlagServer.start(ServerConfig.defaults().withDataDir(data).withPorts(0, 0)
                .withBindAddress("127.0.0.1").withAdminToken(admin).withJournalRetention(Duration.ofDays(30)))) {
            ApiClient api = new ApiClient(server.httpPort());
            ApiClient.Response page = api.call("GET", "/api/v1/environments/staging/flags/billing-v2/history", admin, null,
                    java.util.Map.of());
            assertThat(page.status()).as(page.body()).isEqualTo(200);
            assertThat(page.json().at("/versions/0/sequence").asLong()).isEqualTo(oldest);

            assertThat(page.json().at("/retention/oldestRetainedSequence").asLong()).isEqualTo(oldest);
            assertThat(page.json().at("/retention/detail").asText())
                    .isEqualTo("the journal's entries before sequence " + oldest + " are no longer in it (removed by"
                            + " retention, --journal-retention, or set aside by a repair that kept a checkpoint's state):"
                            + " this flag may have older versions");
            ApiClient.Response first = api.call("GET", "/api/v1/environments/staging/flags/billing-v2/history?limit=1", admin,
                    null, java.util.Map.of());
            assertThat(first.json().has("retention")).as("not before the last page").isFalse();
        }
    }

    @Test
    void aFlagCreatedWhoseEarlierVersionsRetentionRemovedMayHaveBeenARestore() throws Exception {
        Path data = dir.resolve("data");
        MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
        try (FileJournal journal = FileJournal.builder(data.resolve("journal")).clock(clock).segmentSize(4096)
                .retention(Duration.ofDays(30)).open()) {
            journal.append(Change.of(EntryType.ENVIRONMENT_CREATED, "staging", "admin",
                    JsonNodeFactory.instance.objectNode().put("name", "Staging")));
            journal.append(flag(EntryType.FLAG_CREATED, false));
            journal.append(Change.of(EntryType.FLAG_ARCHIVED, "staging", "alice",
                    JsonNodeFactory.instance.objectNode().put("key", "billing-v2")));
            for (int i = 0; i < 60; i++) { // another flag's changes fill the segments that retention removes
                journal.append(Change.of(EntryType.FLAG_CREATED, "staging", "alice",
                        JsonNodeFactory.instance.objectNode().put("key", "other-" + i).put("enabled", false)));
            }
            clock.set(clock.instant().plus(Duration.ofDays(31)));
            journal.append(flag(EntryType.FLAG_CREATED, true)); // the PUT that brought billing-v2 back
            journal.checkpoint();
            journal.checkpoint();
            assertThat(journal.oldestRetainedSequence()).as("the first version and the archive are gone").isGreaterThan(3);
        }
        String admin = "retention-test-admin-token-0123456789";
        try (FlagServer server = FlagServer.start(ServerConfig.defaults().withDataDir(data).withPorts(0, 0)
                .withBindAddress("127.0.0.1").withAdminToken(admin).withJournalRetention(Duration.ofDays(30)))) {
            ApiClient.Response page = new ApiClient(server.httpPort()).call("GET",
                    "/api/v1/environments/staging/flags/billing-v2/history", admin, null, java.util.Map.of());
            assertThat(page.json().get("versions")).hasSize(1);
            assertThat(page.json().at("/versions/0/change").asText()).isEqualTo("flag_created");
            assertThat(page.json().at("/versions/0/restored").isNull()).as("what came before it is gone: not known").isTrue();
            assertThat(page.json().has("retention")).isTrue();
        }
    }

    @Test
    void historyWithoutRetentionSaysNothingAboutIt() {
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            journal.append(Change.of(EntryType.ENVIRONMENT_CREATED, "staging", "admin",
                    JsonNodeFactory.instance.objectNode().put("name", "Staging")));
            journal.append(flag(EntryType.FLAG_CREATED, false));
            Principal admin = new Principal("tok-admin", "admin", Scope.ADMIN, Set.of());
            assertThat(journal.oldestRetainedSequence()).isEqualTo(1);
            assertThat(new HistoryService(journal, Clock.systemUTC()).flagHistory(admin, "staging", "billing-v2", null, 1000)
                    .oldestRetainedSequence()).isNull();
        }
    }
}
