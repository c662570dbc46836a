package dev.flags.server;

import static dev.flags.server.ServerFixture.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.flags.server.auth.Scope;
import dev.flags.server.auth.TokenService;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.FileJournal;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Stopping while product owners write: every acknowledged write survives, later ones are refused. */
class GracefulShutdownTest {

    @TempDir
    Path dir;

    @Test
    void everyAcknowledgedWriteSurvivesAStopInTheMiddleOfWrites() throws Exception {
        Set<String> acknowledged = ConcurrentHashMap.newKeySet();
        AtomicInteger refused = new AtomicInteger();
        Path data = dir.resolve("data");
        FlagServer server = ServerFixture.start(data);
        ApiClient api = new ApiClient(server.httpPort());
        api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}");
        ExecutorService writers = Executors.newFixedThreadPool(8);
        CountDownLatch someWritten = new CountDownLatch(20);
        for (int w = 0; w < 8; w++) {
            int writer = w;
            writers.submit(() -> {
                for (int i = 0; i < 200; i++) {
                    String key = "flag-" + writer + "-" + i;
                    try {
                        ApiClient.Response r = api.put("/api/v1/environments/production/flags/" + key, ADMIN, "{\"enabled\": true}");
                        if (r.status() == 201) {
                            acknowledged.add(key);
                            someWritten.countDown();
                        } else {
                            assertThat(r.status()).as(r.body()).isEqualTo(503);
                            refused.incrementAndGet();
                        }
                    } catch (UncheckedIOException e) {
                        refused.incrementAndGet(); // the port closed: nothing was acknowledged
                    }
                }
            });
        }
        assertThat(someWritten.await(30, TimeUnit.SECONDS)).isTrue();
        server.close(); // while the writers are still writing
        writers.shutdown();
        assertThat(writers.awaitTermination(60, TimeUnit.SECONDS)).isTrue();
        assertThat(refused.get()).as("some writes came after the stop").isPositive();

        try (FlagServer again = ServerFixture.start(data)) {
            JsonNode flags = new ApiClient(again.httpPort()).get("/api/v1/environments/production/flags", ADMIN).json().get("flags");
            Set<String> stored = new HashSet<>();
            flags.forEach(f -> stored.add(f.get("key").asText()));
            assertThat(stored).containsAll(acknowledged);
            assertThat(List.copyOf(acknowledged)).isNotEmpty();
        }
    }

    @Test
    void tokensAreMadeAndRevokedThroughTheWritePathSoAStoppingServerRefusesThemAndTheMetricCountsThem() {
        // Wired as the server wires them: a token written past the write path raced the journal's close
        // at shutdown, was accepted after "flag server stopping", and was missing from the append metric.
        try (FileJournal journal = FileJournal.builder(dir.resolve("journal")).open()) {
            journal.append(Change.of(EntryType.ENVIRONMENT_CREATED, "production", "admin",
                    JsonNodeFactory.instance.objectNode()));
            Metrics metrics = new Metrics();
            ChangeWriter writer = new ChangeWriter(journal, metrics, env -> { });
            TokenService tokens = new TokenService(journal, writer::append, TokenService.newSecret(), id -> { });

            TokenService.CreatedToken alice = tokens.create("alice", Scope.EDITOR, Set.of("production"), null, "admin");
            assertThat(tokens.revoke(alice.principal().tokenId(), "admin")).isTrue();
            assertThat(metrics.scrape()).contains("\nflags_journal_append_seconds_count 2\n");

            long before = journal.lastSequence();
            TokenService.CreatedToken bob = tokens.create("bob", Scope.EDITOR, Set.of("production"), null, "admin");
            assertThat(writer.drain(Duration.ofSeconds(1))).isTrue(); // what FlagServer.close() does first
            assertThatThrownBy(() -> tokens.create("carol", Scope.ADMIN, Set.of(), null, "admin"))
                    .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.status()).isEqualTo(503));
            assertThatThrownBy(() -> tokens.revoke(bob.principal().tokenId(), "admin"))
                    .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.status()).isEqualTo(503));
            assertThat(journal.lastSequence()).as("only bob, before the stop").isEqualTo(before + 1);
            assertThat(tokens.authenticate(bob.secret())).isPresent();
        }
    }
}
