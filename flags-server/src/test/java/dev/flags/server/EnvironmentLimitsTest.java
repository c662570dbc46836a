package dev.flags.server;

import static dev.flags.server.ServerFixture.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
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
    void oneFlagPastTheCountIsRefusedUntilOneIsArchived() throws Exception {
        try (FlagServer server = start(new EnvironmentLimits(3, 16))) {
            ApiClient api = new ApiClient(server.httpPort());
            for (String key : new String[] {"a", "b", "c"}) {
                assertThat(api.put(ENV + "/flags/" + key, ADMIN, "{\"enabled\": true}").status()).isEqualTo(201);
            }
            long version = api.get(ENV, ADMIN).json().get("version").asLong();

            assertFull(api.put(ENV + "/flags/d", ADMIN, "{\"enabled\": true}"), "environment \"production\" serves 3 flags, the"
                    + " most an environment may (3, --max-flags-per-environment): archive flags no code uses any more (flags"
                    + " stale lists them) before making another");
            assertThat(api.get(ENV, ADMIN).json().get("version").asLong()).as("nothing written").isEqualTo(version);
            assertThat(api.put(ENV + "/flags/c", ADMIN, "{\"enabled\": false, \"description\": \"still changeable\"}").status())
                    .as("a flag it serves is changed as ever").isEqualTo(200);

            assertThat(api.delete(ENV + "/flags/c", ADMIN).status()).isEqualTo(200);
            assertThat(api.put(ENV + "/flags/d", ADMIN, "{\"enabled\": true}").status()).isEqualTo(201);
            assertFull(api.post(ENV + "/flags/c/revert", ADMIN, "{\"version\": " + version + "}"), "serves 3 flags");
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
            assertThat(api.put(ENV + "/flags/big-2", ADMIN, flagOf(300)).status()).as("shrinking is taken").isEqualTo(200);
            assertThat(api.put(member, ADMIN, null).status()).as("room again").isEqualTo(200);
        }
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
