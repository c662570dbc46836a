package dev.flags.server;

import static dev.flags.server.ServerFixture.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Playground requests that overlap each other and the writes: the compiled set is kept per environment and updated
 * from whichever set another request left (of an older version or a newer one), so each answer must still be the one
 * its own version of the flag gives.
 */
@Timeout(120)
class PlaygroundConcurrencyTest {

    private static final int WRITES = 60;
    private static final int READERS = 4;

    @TempDir
    Path dir;

    @Test
    void overlappingRequestsEachAnswerAsTheVersionTheyNameWhileTheFlagIsSwitchedOnAndOff() throws Exception {
        try (FlagServer server = ServerFixture.start(dir.resolve("data"))) {
            ApiClient api = new ApiClient(server.httpPort());
            assertThat(api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}").status()).isEqualTo(201);
            // Version 1 is on; each write flips the switch, so an odd version answers true and an even one false.
            assertThat(api.put("/api/v1/environments/production/flags/f", ADMIN, "{\"key\": \"f\", \"default\": true}")
                    .status()).isEqualTo(201);
            ConcurrentLinkedQueue<JsonNode> answers = new ConcurrentLinkedQueue<>();
            // The flag's version the last acknowledged write made: an answer asked for after it must not be older.
            AtomicLong acknowledged = new AtomicLong(1);
            AtomicBoolean writing = new AtomicBoolean(true);
            ExecutorService readers = Executors.newFixedThreadPool(READERS);
            try {
                List<Future<?>> reads = new ArrayList<>();
                for (int r = 0; r < READERS; r++) {
                    String user = "user-" + r;
                    // A token of its own: one playground request at a time per token.
                    String token = api.post("/api/v1/tokens", ADMIN, "{\"name\": \"reader-" + r + "\", \"scope\": \"editor\","
                            + " \"environments\": [\"production\"]}").json().get("token").asText();
                    reads.add(readers.submit(() -> {
                        // At least a few answers after the last write, so that some come from the last version too.
                        for (int after = 0; writing.get() || after < 5; after += writing.get() ? 0 : 1) {
                            long acknowledgedBefore = acknowledged.get();
                            ApiClient.Response answer = api.post("/api/v1/environments/production/evaluate", token,
                                    "{\"user\": {\"id\": \"" + user + "\"}}");
                            assertThat(answer.status()).as(answer.body()).isEqualTo(200);
                            long flagVersion = answer.json().get("results").get(0).get("flagVersion").asLong();
                            assertThat(flagVersion).as("not older than the write acknowledged before it was asked")
                                    .isGreaterThanOrEqualTo(acknowledgedBefore);
                            answers.add(answer.json());
                        }
                        return null;
                    }));
                }
                for (int i = 0; i < WRITES; i++) {
                    ApiClient.Response written = api.patch("/api/v1/environments/production/flags/f", ADMIN,
                            "{\"enabled\": " + (i % 2 == 1) + "}");
                    assertThat(written.status()).as(written.body()).isEqualTo(200);
                    acknowledged.set(written.json().get("version").asLong());
                }
                writing.set(false);
                for (Future<?> read : reads) {
                    read.get();
                }
            } finally {
                readers.shutdownNow();
            }
            long flagVersions = answers.stream().map(a -> a.get("results").get(0).get("flagVersion").asLong()).distinct().count();
            assertThat(flagVersions).as("answers of many versions: the requests did overlap the writes").isGreaterThan(2);
            for (JsonNode answer : answers) {
                JsonNode result = answer.get("results").get(0);
                long flagVersion = result.get("flagVersion").asLong();
                assertThat(result.get("value").asBoolean()).as(answer.toString()).isEqualTo(flagVersion % 2 == 1);
                assertThat(answer.get("version").asLong()).as("the environment's version holds the flag's")
                        .isGreaterThanOrEqualTo(flagVersion);
            }
            assertThat(answers).as("the last answers give the last version").anyMatch(a -> a.get("results").get(0)
                    .get("flagVersion").asLong() == WRITES + 1);
        }
    }
}
