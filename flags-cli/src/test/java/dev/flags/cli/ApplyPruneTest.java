package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.server.FlagServer;
import dev.flags.server.ServerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code flags apply --prune} against a real server: what it archives first, and when it needs --force. */
class ApplyPruneTest {

    private static final String ADMIN = "cli-test-admin-token-0123456789";

    @TempDir
    Path dir;
    private FlagServer server;

    @BeforeEach
    void start() throws Exception {
        server = FlagServer.start(ServerConfig.defaults().withDataDir(dir.resolve("data")).withPorts(0, 0)
                .withBindAddress("127.0.0.1").withAdminToken(ADMIN));
        assertThat(flags("environments", "create", "production").exit()).isZero();
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private FlagsCommandTest.Run flags(String... args) {
        return FlagsCommandTest.against(server, ADMIN, args);
    }

    @Test
    void aKeyRenamedInItsCaseOnlyIsArchivedThenCreatedAnew() throws Exception {
        for (String key : new String[] {"alpha", "beta", "gamma", "delta"}) {
            assertThat(flags("create", key, "-e", "production").exit()).isZero();
        }
        Path file = Files.writeString(dir.resolve("flags.json"), """
                {"formatVersion": 1, "flags": [{"key": "Alpha", "enabled": false}, {"key": "beta", "enabled": false},
                 {"key": "gamma", "enabled": false}, {"key": "delta", "enabled": false}]}""");
        FlagsCommandTest.Run applied = flags("apply", file.toString(), "--prune", "-e", "production");
        assertThat(applied.exit()).as(applied.err() + applied.out()).isZero();
        assertThat(applied.out()).contains("archive alpha", "create Alpha").doesNotContain("differs only in case");
        FlagsCommandTest.Run list = flags("list", "-e", "production");
        assertThat(list.out()).contains("Alpha").doesNotContainPattern("(?m)^alpha ");
    }

    @Test
    void pruningTheOnlyFlagOfAnEnvironmentNeedsForceAsHalfOfItDoes() throws Exception {
        assertThat(flags("create", "solo", "-e", "production").exit()).isZero();
        Path file = Files.writeString(dir.resolve("other.json"), """
                {"formatVersion": 1, "flags": [{"key": "other", "enabled": false}]}""");
        FlagsCommandTest.Run refused = flags("apply", file.toString(), "--prune", "-e", "production");
        assertThat(refused.exit()).as(refused.err()).isEqualTo(1);
        assertThat(refused.err()).contains("--prune would archive 1 of the 1 flags served in \"production\"",
                "Nothing was written; add --force if it is meant");
        assertThat(flags("list", "-e", "production").out()).contains("solo").doesNotContain("other");
        FlagsCommandTest.Run forced = flags("apply", file.toString(), "--prune", "--force", "-e", "production");
        assertThat(forced.exit()).as(forced.err()).isZero();
        assertThat(flags("list", "-e", "production").out()).contains("other").doesNotContain("solo");
    }
}
