package dev.flags.server;

import static dev.flags.server.ServerFixture.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Product owners writing to one environment at the same moment, over real HTTP: a write without a
 * precondition is never refused because another write came first.
 */
class ConcurrentWritesTest {

    @TempDir
    Path dir;

    @Test
    void overlappingWritesWithoutIfMatchAllSucceedAndEachGetsItsOwnVersion() throws Exception {
        try (FlagServer server = ServerFixture.start(dir.resolve("data"))) {
            ApiClient api = new ApiClient(server.httpPort());
            assertThat(api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}").status()).isEqualTo(201);
            int writers = 8;
            int writesEach = 15;
            ExecutorService pool = Executors.newFixedThreadPool(writers);
            try {
                List<Future<List<Integer>>> results = new ArrayList<>();
                for (int w = 0; w < writers; w++) {
                    String flag = "/api/v1/environments/production/flags/f" + w;
                    Callable<List<Integer>> writer = () -> {
                        List<Integer> statuses = new ArrayList<>();
                        statuses.add(api.put(flag, ADMIN, "{\"enabled\": false}").status());
                        for (int i = 0; i < writesEach; i++) {
                            statuses.add(api.patch(flag, ADMIN, "{\"enabled\": " + (i % 2 == 0) + "}").status());
                        }
                        statuses.add(api.delete(flag, ADMIN).status()); // archive
                        return statuses;
                    };
                    results.add(pool.submit(writer));
                }
                for (Future<List<Integer>> r : results) {
                    assertThat(r.get()).as("statuses of one writer").allSatisfy(s -> assertThat(s).isBetween(200, 201));
                }
            } finally {
                pool.shutdownNow();
            }
            long version = api.get("/api/v1/environments/production", ADMIN).json().get("version").asLong();
            assertThat(version).as("creation + every write, none lost or refused").isEqualTo(1 + writers * (writesEach + 2L));
        }
    }
}
