package dev.flags.server;

import static dev.flags.server.ServerFixture.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.flags.protocol.v1.SyncMessage;
import dev.flags.server.journal.FileJournal;
import dev.flags.server.journal.JournalEntry;
import dev.flags.server.journal.MutableClock;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * QA91: the write path under concurrency, over real HTTP, a real gRPC stream and a real journal: writers racing each other
 * with If-Match on one flag, scheduled changes of that flag and self-granted grants that expire, all at once. No update
 * is lost, versions are handed out once each and in order, the SDK stream sees them in the journal's order, and a
 * restart finds exactly what was acknowledged.
 */
class WritePathRaceTest {

    private static final String ENV = "/api/v1/environments/production";
    private static final String FLAG = ENV + "/flags/f";
    private static final String MEMBERS = ENV + "/roles/beta-tester/members/";
    private static final Instant T0 = Instant.parse("2026-12-04T09:00:00Z");

    @TempDir
    Path dir;

    @Test
    @Timeout(120)
    void ifMatchWritesSchedulesAndExpiringGrantsRacingOnOneEnvironmentLoseNothingAndStayInOrder() throws Exception {
        MutableClock clock = new MutableClock(T0);
        ServerConfig config = ServerFixture.config(dir.resolve("data"));
        List<Long> acknowledged = Collections.synchronizedList(new ArrayList<>());
        Map<Long, String> acknowledgedDescriptions = new java.util.concurrent.ConcurrentHashMap<>();
        long finalVersion;
        JsonNode finalFlag;
        try (FlagServer server = FlagServer.start(config, clock)) {
            ApiClient api = new ApiClient(server.httpPort());
            String sdk = ServerFixture.productionWithSdkToken(api);
            api.put(ENV + "/roles/beta-tester", ADMIN, "{\"selfService\": true}");
            List<String> testers = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                testers.add(api.post("/api/v1/tokens", ADMIN, "{\"name\": \"t" + i + "\", \"scope\": \"tester\","
                        + " \"environments\": [\"production\"], \"userId\": \"u" + i + "\"}").json().get("token").asText());
            }
            assertThat(api.put(FLAG, ADMIN, "{\"enabled\": false, \"description\": \"start\"}").status()).isEqualTo(201);

            List<Long> streamed = new CopyOnWriteArrayList<>();
            TestStream stream = TestStream.open(server.grpcPort(), sdk, "production");
            Thread reader = new Thread(() -> {
                try {
                    while (true) {
                        SyncMessage m = stream.messages.next();
                        if (m.hasSnapshot()) {
                            streamed.add(m.getSnapshot().getVersion());
                        } else if (m.hasDelta()) {
                            streamed.add(m.getDelta().getVersion());
                        }
                    }
                } catch (RuntimeException ended) {
                    // the stream ends with the test
                }
            }, "qa91-stream");
            reader.setDaemon(true);
            reader.start();

            int writers = 6;
            int rounds = 40;
            CyclicBarrier start = new CyclicBarrier(writers + 2);
            ExecutorService pool = Executors.newFixedThreadPool(writers + 2);
            List<Future<int[]>> results = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                int writer = w;
                results.add(pool.submit(() -> {
                    start.await();
                    int ok = 0;
                    int stale = 0;
                    for (int i = 0; i < rounds; i++) {
                        ApiClient.Response read = api.get(FLAG, ADMIN);
                        String etag = read.header("ETag");
                        String description = "w" + writer + "-" + i;
                        ApiClient.Response r = api.call("PATCH", FLAG, ADMIN, "{\"description\": \"" + description + "\"}",
                                Map.of("If-Match", etag));
                        if (r.status() == 200) {
                            long v = r.json().get("version").asLong();
                            acknowledged.add(v);
                            acknowledgedDescriptions.put(v, description);
                            assertThat(v).as("a version after the one If-Match named").isGreaterThan(
                                    Long.parseLong(etag.replace("\"", "")));
                            ok++;
                        } else {
                            assertThat(r.status()).as(r.body()).isIn(412, 429);
                            stale++;
                        }
                    }
                    return new int[] {ok, stale};
                }));
            }
            // Schedules of the same flag, due as the clock moves.
            results.add(pool.submit(() -> {
                start.await();
                for (int i = 0; i < 10; i++) {
                    Instant at = clock.instant().plusSeconds(2).truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
                    ApiClient.Response r = api.post(FLAG + "/schedules", ADMIN, "{\"at\": \"" + at
                            + "\", \"patch\": {\"enabled\": " + (i % 2 == 0) + "}}");
                    assertThat(r.status()).as(r.body()).isEqualTo(201);
                    clock.advance(Duration.ofSeconds(3));
                }
                return new int[0];
            }));
            // Testers granting themselves the role for a second, over and over.
            results.add(pool.submit(() -> {
                start.await();
                for (int i = 0; i < 30; i++) {
                    ApiClient.Response r = api.put(MEMBERS + "u" + (i % 3), testers.get(i % 3), "{\"expiresIn\": \"PT1S\"}");
                    assertThat(r.status()).as(r.body()).isIn(200, 201, 429);
                }
                return new int[0];
            }));
            for (Future<int[]> f : results) {
                f.get(100, TimeUnit.SECONDS);
            }
            pool.shutdown();
            clock.advance(Duration.ofMinutes(5));
            // Every schedule and grant is due now; wait for the timers (they sleep for real: at most their retry).
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (System.nanoTime() < deadline) {
                JsonNode pending = api.get(ENV + "/schedules", ADMIN).json().get("schedules");
                JsonNode grants = api.get(ENV + "/roles", ADMIN).json().at("/members/beta-tester");
                if (pending.size() == 0 && (grants.isMissingNode() || grants.size() == 0)) {
                    break;
                }
                Thread.sleep(50); // polling for the timers' outcome (they sleep for real), not ordering threads
            }
            assertThat(api.get(ENV + "/schedules", ADMIN).json().get("schedules")).as("every schedule applied").isEmpty();
            finalVersion = api.get(ENV, ADMIN).json().get("version").asLong();
            finalFlag = api.get(FLAG, ADMIN).json();
            long streamDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while ((streamed.isEmpty() || streamed.get(streamed.size() - 1) != finalVersion) && System.nanoTime() < streamDeadline) {
                Thread.sleep(20); // likewise, for the stream's last message
            }
            List<Long> seen = new ArrayList<>(streamed);
            assertThat(seen.get(seen.size() - 1)).as("the stream ends at the journal's version").isEqualTo(finalVersion);
            for (int i = 1; i < seen.size(); i++) {
                assertThat(seen.get(i)).as("stream versions grow: " + seen).isGreaterThan(seen.get(i - 1));
            }
            stream.close();
        }
        assertThat(new HashSet<>(acknowledged)).as("each version acknowledged once").hasSize(acknowledged.size());

        // The journal holds every acknowledged write as it was acknowledged, in version order, and a restart keeps them.
        try (FileJournal journal = FileJournal.builder(dir.resolve("data").resolve("journal")).open()) {
            List<JournalEntry> all = journal.read(1, 100_000);
            long lastVersion = 0;
            Set<Long> versions = new HashSet<>();
            for (JournalEntry e : all) {
                if ("production".equals(e.environment())) {
                    assertThat(e.version()).as("versions of the environment grow with the sequence").isGreaterThan(lastVersion);
                    lastVersion = e.version();
                    versions.add(e.version());
                    String d = acknowledgedDescriptions.get(e.version());
                    if (d != null) {
                        assertThat(e.payload().toString()).as("version " + e.version()).contains("\"" + d + "\"");
                    }
                }
            }
            assertThat(versions).as("every acknowledged write is in the journal").containsAll(acknowledged);
            assertThat(lastVersion).isEqualTo(finalVersion);
            long pendingSchedules = journal.state().environment("production").orElseThrow().pendingSchedules().size();
            assertThat(pendingSchedules).isZero();
            long applied = all.stream().filter(e -> e.type() == dev.flags.server.journal.EntryType.SCHEDULE_APPLIED).count();
            long ended = all.stream().filter(e -> e.type() == dev.flags.server.journal.EntryType.SCHEDULE_ENDED).count();
            assertThat(applied + ended).as("each schedule ended exactly once").isEqualTo(10);
            assertThat(journal.state().environment("production").orElseThrow().flags().get("f").toJsonNode().get("description"))
                    .isEqualTo(finalFlag.get("description"));
        }
    }
}
