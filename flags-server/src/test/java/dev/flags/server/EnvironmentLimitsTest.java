package dev.flags.server;

import static dev.flags.server.ServerFixture.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How much one environment may serve, on a real server: a flag or grant past a limit is refused with a 409 that
 * says which limit, what takes room, and what to do; nothing is written; a kill switch is never refused.
 */
class EnvironmentLimitsTest {

    private static final String ENV = "/api/v1/environments/production";

    @TempDir
    Path dir;

    private FlagServer start(EnvironmentLimits limits) throws Exception {
        FlagServer server = FlagServer.start(ServerFixture.config(dir).withEnvironmentLimits(limits));
        ApiClient api = new ApiClient(server.httpPort());
        if (api.get(ENV, ADMIN).status() == 404) {
            assertThat(api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}").status()).isEqualTo(201);
        }
        return server;
    }

    /** A flag of about {@code kib} KiB: one target of users with long ids. */
    private static String flagOf(int kib) {
        String users = IntStream.range(0, kib * 1024 / 64).mapToObj(i -> "\"user-" + "x".repeat(50) + String.format("%05d", i) + "\"")
                .collect(Collectors.joining(", "));
        return "{\"enabled\": true, \"targets\": [{\"userIds\": [" + users + "]}]}";
    }

    private static void assertFull(ApiClient.Response r, String detail) {
        assertThat(r.status()).as(r.body()).isEqualTo(409);
        assertThat(r.json().get("title").asText()).isEqualTo("environment full");
        assertThat(r.json().get("detail").asText()).contains(detail);
    }

    @Test
    void theLargestEnvironmentAServerMayServeFitsAFlagFileSoThatItCanBeExportedAndReadOffline() {
        // flags export writes an environment indented, which adds up to about three quarters for grants of one short role
        // ("u1": ["r"]); a flag file (and an SDK's cache file) must still take it.
        assertThat((long) dev.flags.core.FlagFormat.MAX_FILE_BYTES).isGreaterThanOrEqualTo((long) EnvironmentLimits.MOST_MEBIBYTES * 2 << 20);
        assertThat(dev.flags.core.FlagFormat.MAX_FLAGS).isGreaterThanOrEqualTo(EnvironmentLimits.MOST_FLAGS);
    }

    @Test
    void oneFlagPastTheCountIsRefusedUntilOneIsArchived() throws Exception {
        try (FlagServer server = start(new EnvironmentLimits(3, 16))) {
            ApiClient api = new ApiClient(server.httpPort());
            for (String key : new String[] {"a", "b", "c"}) {
                assertThat(api.put(ENV + "/flags/" + key, ADMIN, "{\"enabled\": true}").status()).isEqualTo(201);
            }
            long version = api.get(ENV, ADMIN).json().get("version").asLong();

            assertFull(api.put(ENV + "/flags/d", ADMIN, "{\"enabled\": true}"), "environment \"production\" serves 3 flags; an"
                    + " environment may serve at most 3 (--max-flags-per-environment): archive flags no code uses any more"
                    + " (flags stale lists them) first");
            assertThat(api.get(ENV, ADMIN).json().get("version").asLong()).as("nothing written").isEqualTo(version);
            assertThat(api.put(ENV + "/flags/c", ADMIN, "{\"enabled\": false, \"description\": \"still changeable\"}").status())
                    .as("a flag it serves is changed as ever").isEqualTo(200);

            assertThat(api.delete(ENV + "/flags/c", ADMIN).status()).isEqualTo(200);
            assertThat(api.put(ENV + "/flags/d", ADMIN, "{\"enabled\": true}").status()).isEqualTo(201);
            assertFull(api.post(ENV + "/flags/c/revert", ADMIN, "{\"version\": " + version + ", \"switchOn\": true}"), "serves 3 flags");
        }
        // Under a lower limit, a clone of the environment would be past it from its first version.
        try (FlagServer server = start(new EnvironmentLimits(2, 16))) {
            ApiClient api = new ApiClient(server.httpPort());
            ApiClient.Response clone = api.post("/api/v1/environments", ADMIN, "{\"key\": \"copy\", \"cloneFrom\": \"production\"}");
            assertFull(clone, "environment \"copy\" would serve 3 flags of ");
            assertThat(clone.json().get("detail").asText()).contains("copied from \"production\": more than an environment may (2"
                    + " flags, --max-flags-per-environment; 16777216 bytes, --max-environment-mib)");
            assertThat(api.get("/api/v1/environments/copy", ADMIN).status()).as("nothing made").isEqualTo(404);
            assertThat(api.patch(ENV + "/flags/a", ADMIN, "{\"enabled\": false}").status()).as("over it, still switched")
                    .isEqualTo(200);
        }
    }

    @Test
    void growthPastTheSizeIsRefusedButAKillSwitchNeverIs() throws Exception {
        try (FlagServer server = start(new EnvironmentLimits(100, 1))) {
            ApiClient api = new ApiClient(server.httpPort());
            assertThat(api.put(ENV + "/flags/big-1", ADMIN, flagOf(600)).status()).isEqualTo(201);
            ApiClient.Response second = api.put(ENV + "/flags/big-2", ADMIN, flagOf(600));
            assertFull(second, "environment \"production\" serves ");
            assertThat(second.json().get("detail").asText()).contains("bytes of flags and role grants; with flag \"big-2\" (")
                    .contains("more than the 1048576 an environment may (1 MiB, --max-environment-mib; every SDK of it receives"
                            + " and holds all of it)");
            assertThat(api.get(ENV + "/flags/big-2", ADMIN).status()).as("nothing written").isEqualTo(404);
        }
        try (FlagServer server = start(new EnvironmentLimits(100, 2))) {
            assertThat(new ApiClient(server.httpPort()).put(ENV + "/flags/big-2", ADMIN, flagOf(600)).status()).isEqualTo(201);
        }
        // Under a lower limit (set after it was filled), the environment is over it: it may shrink, and be switched.
        try (FlagServer server = start(new EnvironmentLimits(100, 1))) {
            ApiClient api = new ApiClient(server.httpPort());
            ApiClient.Response off = api.patch(ENV + "/flags/big-1", ADMIN, "{\"enabled\": false}");
            assertThat(off.status()).as("a kill switch is never refused: " + off.body()).isEqualTo(200);
            assertThat(api.patch(ENV + "/flags/big-1", ADMIN, "{\"enabled\": true}").status()).isEqualTo(200);
            assertFull(api.patch(ENV + "/flags/big-2", ADMIN, "{\"description\": \"grows it\"}"), "with flag \"big-2\"");
            String member = "/api/v1/environments/production/roles/beta-tester/members/tess";
            assertFull(api.put(member, ADMIN, null), "with a grant of role \"beta-tester\"");
            // An edit that keeps the document's size is no growth, though the new version number has more digits.
            while (api.get(ENV, ADMIN).json().get("version").asLong() < 10) {
                assertThat(api.patch(ENV + "/flags/big-1", ADMIN, "{\"enabled\": false}").status()).isEqualTo(200);
                assertThat(api.patch(ENV + "/flags/big-1", ADMIN, "{\"enabled\": true}").status()).isEqualTo(200);
            }
            assertThat(api.get(ENV + "/flags/big-2", ADMIN).json().get("version").asLong()).isLessThan(10);
            ApiClient.Response sameSize = api.put(ENV + "/flags/big-2", ADMIN, flagOf(600).replaceFirst("user-x", "user-y"));
            assertThat(sameSize.status()).as(sameSize.body()).isEqualTo(200);
            assertThat(api.put(ENV + "/flags/big-2", ADMIN, flagOf(300)).status()).as("shrinking is taken").isEqualTo(200);
            assertThat(api.put(member, ADMIN, null).status()).as("room again").isEqualTo(200);
        }
    }

    @Test
    void grantsAtTheSameMomentNeverTakeTheEnvironmentPastItsSize() throws Exception {
        try (FlagServer server = start(new EnvironmentLimits(100, 1))) {
            ApiClient api = new ApiClient(server.httpPort());
            assertThat(api.put(ENV + "/flags/big-1", ADMIN, flagOf(450)).status()).isEqualTo(201);
            assertThat(api.put(ENV + "/flags/big-2", ADMIN, flagOf(450)).status()).isEqualTo(201);
            JsonNode env = api.get(ENV, ADMIN).json();
            assertThat(env.get("limits").get("bytes").asLong()).isEqualTo(1 << 20);
            assertThat(env.get("limits").get("flags").asInt()).isEqualTo(100);
            String role = "beta-tester";
            String longId = "-" + "x".repeat(1000); // large grants: few of them fill the room
            int grantBytes = "user-00000".length() + longId.length() + role.length();
            int user = 0;
            // One at a time until room is left for a few, so that the many asked at once all meet at the limit.
            while ((1 << 20) - api.get(ENV, ADMIN).json().get("bytes").asLong() > 8 * grantBytes) {
                String member = ENV + "/roles/" + role + "/members/" + String.format("user-%05d", user++) + longId;
                assertThat(api.put(member, ADMIN, null).status()).isEqualTo(200);
            }
            int fits = (int) (((1 << 20) - api.get(ENV, ADMIN).json().get("bytes").asLong()) / grantBytes);
            int asked = 48;

            ExecutorService pool = Executors.newFixedThreadPool(16);
            CountDownLatch go = new CountDownLatch(1);
            try {
                List<Future<Integer>> answers = new ArrayList<>();
                for (int i = user; i < user + asked; i++) {
                    String member = ENV + "/roles/" + role + "/members/" + String.format("user-%05d", i) + longId;
                    answers.add(pool.submit(() -> {
                        go.await();
                        return new ApiClient(server.httpPort()).put(member, ADMIN, null).status();
                    }));
                }
                go.countDown();
                int granted = 0;
                for (Future<Integer> answer : answers) {
                    int status = answer.get(60, TimeUnit.SECONDS);
                    assertThat(status).isIn(200, 409);
                    granted += status == 200 ? 1 : 0;
                }
                assertThat(granted).as("every grant that fits, and not one more").isEqualTo(fits);
            } finally {
                pool.shutdownNow();
            }
            env = api.get(ENV, ADMIN).json();
            assertThat(env.get("bytes").asLong()).isLessThanOrEqualTo(1 << 20);
            assertThat(api.get("/metrics", null).body()).containsPattern("\nflags_environment_full_percent (99|100)\n");
        }
    }

    @Test
    void aServerStartedWithLimitsBelowWhatAnEnvironmentServesSaysSo() throws Exception {
        Path data = dir.resolve("data");
        try (FlagServer server = FlagServer.start(ServerFixture.config(data))) {
            ApiClient api = new ApiClient(server.httpPort());
            assertThat(api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}").status()).isEqualTo(201);
            for (String key : new String[] {"a", "b", "c"}) {
                assertThat(api.put(ENV + "/flags/" + key, ADMIN, "{\"enabled\": true}").status()).isEqualTo(201);
            }
        }
        int http = ServerChild.freePort();
        try (ServerChild child = ServerChild.start(List.of(), Map.of("FLAGS_MAX_FLAGS_PER_ENVIRONMENT", "2"), data, http,
                ServerChild.freePort(), ADMIN)) {
            String warning = child.awaitLine("is past its limits");
            assertThat(warning).contains("WARN").endsWith("environment \"production\" is past its limits: it serves 3 flags,"
                    + " more than the 2 it may (--max-flags-per-environment), and takes no new flag until it serves fewer than 2."
                    + " Turning flags on or off, and shrinking, still work");
            assertThat(child.awaitLine("flag server ready")).contains("an environment serves at most 2 flags and 16 MiB");
            ApiClient api = new ApiClient(http);
            assertThat(api.get("/metrics", null).body()).contains("\nflags_environment_full_percent 150\n");
            // Restored, it takes changes again, but not all: said as at a start.
            assertThat(api.delete(ENV, ADMIN).status()).isEqualTo(200);
            assertThat(api.post(ENV + "/restore", ADMIN, null).status()).isEqualTo(200);
            assertThat(child.awaitLine("is past its limits")).contains("WARN").contains("it serves 3 flags");
        }
    }

    @Test
    void aCloneIsCountedAtTheVersionItWillHave() throws Exception {
        try (FlagServer server = start(new EnvironmentLimits(100, 2))) {
            ApiClient api = new ApiClient(server.httpPort());
            while (api.get(ENV, ADMIN).json().get("version").asLong() < 12) {
                assertThat(api.put(ENV + "/flags/switch?switchOn=true", ADMIN, "{\"enabled\": " + (api.get(ENV, ADMIN).json().get("version").asLong() % 2 == 0)
                        + "}").status()).isBetween(200, 201);
            }
            // Two-digit versions everywhere, one byte each more than the clone's version 1: filled to the limit plus 3.
            assertThat(api.put(ENV + "/flags/filler-a", ADMIN, fillerOf(1000, 300)).status()).isEqualTo(201);
            long target = (1 << 20) + 3;
            int ids = (int) ((target - api.get(ENV, ADMIN).json().get("bytes").asLong() - 400) / 503);
            int tail = 300;
            for (int attempt = 0; attempt < 3; attempt++) {
                assertThat(api.put(ENV + "/flags/filler-b", ADMIN, fillerOf(ids, tail)).status()).isBetween(200, 201);
                tail += (int) (target - api.get(ENV, ADMIN).json().get("bytes").asLong());
            }
            assertThat(api.get(ENV, ADMIN).json().get("bytes").asLong()).isEqualTo(target);
            for (String flag : new String[] {"switch", "filler-a", "filler-b"}) {
                assertThat(api.get(ENV + "/flags/" + flag, ADMIN).json().get("version").asLong()).isBetween(10L, 99L);
            }
        }
        try (FlagServer server = start(new EnvironmentLimits(100, 1))) {
            ApiClient api = new ApiClient(server.httpPort());
            ApiClient.Response clone = api.post("/api/v1/environments", ADMIN, "{\"key\": \"copy\", \"cloneFrom\": \"production\"}");
            assertThat(clone.status()).as("1 MiB + 2 bytes here, exactly 1 MiB as a clone: " + clone.body()).isEqualTo(201);
            assertThat(api.get("/api/v1/environments/copy", ADMIN).json().get("bytes").asLong()).isEqualTo(1 << 20);
        }
    }

    /** A flag of {@code ids} user ids of 500 characters, and one of {@code tail} characters. */
    private static String fillerOf(int ids, int tail) {
        String all = IntStream.range(0, ids).mapToObj(i -> "\"" + String.format("u%04d", i) + "x".repeat(495) + "\"")
                .collect(Collectors.joining(","));
        return "{\"enabled\":true,\"targets\":[{\"userIds\":[" + all + ",\"" + "t".repeat(tail) + "\"]}]}";
    }

    @Test
    void limitsOutsideTheirRangeAreBadSettings() {
        assertThatThrownBy(() -> new EnvironmentLimits(0, 16)).isInstanceOf(BadSettingException.class)
                .hasMessage("max flags per environment must be between 1 and 1000000, was 0");
        assertThatThrownBy(() -> new EnvironmentLimits(10, 49)).isInstanceOf(BadSettingException.class)
                .hasMessage("max environment size must be between 1 and 48 MiB (an SDK takes at most 64 MiB in one message),"
                        + " was 49");
    }
}
