package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.flags.server.auth.Principal;
import dev.flags.server.auth.Scope;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.FileJournal;
import dev.flags.server.journal.Journal;
import dev.flags.server.journal.MutableClock;
import dev.flags.server.journal.ServerState;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HistoryServiceTest {

    @Test
    void anActorIsFoundByItsNameAloneOrWhole() {
        assertThat(HistoryService.actorMatches("alice", "alice (tok-1a2b3c4d)")).isTrue();
        assertThat(HistoryService.actorMatches("alice (tok-1a2b3c4d)", "alice (tok-1a2b3c4d)")).isTrue();
        assertThat(HistoryService.actorMatches("admin", "admin (admin)")).as("the bootstrap token").isTrue();
        assertThat(HistoryService.actorMatches("flags-server", "flags-server (grant expiry)")).isTrue();
        assertThat(HistoryService.actorMatches("alice", "alice (ops) (tok-1a2b3c4d)")).as("a token named 'alice (ops)'").isFalse();
        assertThat(HistoryService.actorMatches("alice (ops)", "alice (ops) (tok-1a2b3c4d)")).isTrue();
        assertThat(HistoryService.actorMatches("ali", "alice (tok-1a2b3c4d)")).isFalse();
        assertThat(HistoryService.actorMatches("alice", "alice")).isTrue();
        assertThat(HistoryService.actorMatches("tok-1a2b3c4d", "alice (tok-1a2b3c4d)")).as("the id alone").isTrue();
        assertThat(HistoryService.actorMatches("tok-1a2b3c4d", "bob (tok-9f9f9f9f)")).isFalse();
        assertThat(HistoryService.actorMatches("tok-1a2b", "alice (tok-1a2b3c4d)")).as("not a prefix of one").isFalse();
    }

    @Test
    void aSecondPastStateAskedForWhileOneIsRebuiltIsABusy503ThatSaysWhenToComeBack(@TempDir Path dir) throws Exception {
        Instant t0 = Instant.parse("2026-12-06T09:00:00Z");
        MutableClock clock = new MutableClock(t0);
        try (FileJournal real = FileJournal.builder(dir).clock(clock).open()) {
            real.append(Change.of(EntryType.ENVIRONMENT_CREATED, "production", "admin (admin)", JsonMapper.builder().build()
                    .readTree("{}")));
            clock.advance(Duration.ofMinutes(1));
            real.append(Change.of(EntryType.FLAG_CREATED, "production", "admin (admin)", JsonMapper.builder().build()
                    .readTree("{\"key\": \"promo\", \"enabled\": false, \"rules\": []}")));
            // The journal as the server has it, except that a rebuild by time holds on until the test lets it go: only
            // the timing is the test's, the rebuild is the journal's.
            CountDownLatch rebuilding = new CountDownLatch(1);
            CountDownLatch finish = new CountDownLatch(1);
            Journal held = (Journal) Proxy.newProxyInstance(Journal.class.getClassLoader(), new Class<?>[] {Journal.class},
                    (proxy, method, args) -> {
                        if (method.getName().equals("stateAt") && args[0] instanceof Instant) {
                            rebuilding.countDown();
                            finish.await(10, TimeUnit.SECONDS);
                        }
                        try {
                            return method.invoke(real, args);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                    });
            HistoryService history = new HistoryService(held, clock);
            Principal admin = new Principal("admin", "admin", Scope.ADMIN, Set.of());
            Instant before = t0.plusSeconds(30);
            CompletableFuture<ServerState> first = CompletableFuture.supplyAsync(() -> history.stateAt(admin, "production", before));
            assertThat(rebuilding.await(10, TimeUnit.SECONDS)).isTrue();

            assertThatThrownBy(() -> history.stateAt(admin, "production", before)).isInstanceOfSatisfying(ApiException.class, e -> {
                assertThat(e.status()).isEqualTo(503);
                assertThat(e.extensions()).containsEntry("retryAfterSeconds", HistoryService.PAST_STATE_RETRY_SECONDS);
                assertThat(e.getMessage()).isEqualTo("the server is rebuilding another past state (one at a time: each is a"
                        + " copy of the whole server's state, beside the current one); ask again in 2 s");
            });
            assertThat(history.stateAt(admin, "production", clock.instant()).environment("production").orElseThrow().flags())
                    .as("now: nothing to rebuild, no turn to wait for").containsOnlyKeys("promo");
            finish.countDown();
            assertThat(first.get(10, TimeUnit.SECONDS).environment("production").orElseThrow().flags()).isEmpty();
            assertThat(history.stateAt(admin, "production", before).environment("production")).as("its turn, once the first"
                    + " is done").isPresent();
        }
    }

    @Test
    void anAuditPageReadsABoundedNumberOfEntriesAndTheNextGoesOnFromWhereItStopped(@TempDir Path dir) throws Exception {
        // QA72: filtered by an environment with few changes, a page read the journal to its end to fill itself.
        JsonMapper json = JsonMapper.builder().build();
        MutableClock clock = new MutableClock(Instant.parse("2026-12-06T09:00:00Z"));
        try (FileJournal real = FileJournal.builder(dir).clock(clock).open()) {
            real.append(Change.of(EntryType.ENVIRONMENT_CREATED, "quiet", "admin (admin)", json.readTree("{}")));
            real.append(Change.of(EntryType.ENVIRONMENT_CREATED, "busy", "admin (admin)", json.readTree("{}")));
            for (int i = 0; i < 25; i++) {
                real.append(Change.of(EntryType.FLAG_CREATED, "busy", "admin (admin)",
                        json.readTree("{\"key\": \"f" + i + "\", \"enabled\": false, \"rules\": []}")));
            }
            real.append(Change.of(EntryType.FLAG_CREATED, "quiet", "admin (admin)",
                    json.readTree("{\"key\": \"promo\", \"enabled\": false, \"rules\": []}")));
            java.util.concurrent.atomic.AtomicInteger read = new java.util.concurrent.atomic.AtomicInteger();
            Journal counted = (Journal) Proxy.newProxyInstance(Journal.class.getClassLoader(), new Class<?>[] {Journal.class},
                    (proxy, method, args) -> {
                        try {
                            Object out = method.invoke(real, args);
                            if (method.getName().equals("read")) {
                                read.addAndGet(((java.util.List<?>) out).size());
                            }
                            return out;
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                    });
            HistoryService history = new HistoryService(counted, clock, 10);
            Principal admin = new Principal("admin", "admin", Scope.ADMIN, Set.of());

            java.util.List<String> found = new java.util.ArrayList<>();
            java.util.List<Integer> readPerPage = new java.util.ArrayList<>();
            long after = 0;
            for (int pages = 0; pages < 10; pages++) {
                read.set(0);
                HistoryService.AuditPage page = history.audit(admin, "quiet", null, Instant.MIN, Instant.MAX, after, 100);
                readPerPage.add(read.get());
                page.entries().forEach(e -> found.add(e.type() + " " + e.sequence()));
                if (!page.more()) {
                    break;
                }
                assertThat(page.resumeAfter()).as("each page goes on").isGreaterThan(after);
                after = page.resumeAfter();
            }
            assertThat(found).containsExactly("ENVIRONMENT_CREATED 1", "FLAG_CREATED 28");
            assertThat(readPerPage).as("entries read per page").allSatisfy(n -> assertThat(n).isLessThanOrEqualTo(10))
                    .hasSize(3);
        }
    }
}
