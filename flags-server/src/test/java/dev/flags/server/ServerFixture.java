package dev.flags.server;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

/** Starts a real server on free ports in a temporary data directory. */
final class ServerFixture {

    static final String ADMIN = "test-admin-token-0123456789";

    private ServerFixture() {
    }

    static ServerConfig config(Path dataDir) {
        return ServerConfig.defaults().withDataDir(dataDir).withPorts(0, 0).withBindAddress("127.0.0.1")
                .withAdminToken(ADMIN).withHeartbeatInterval(Duration.ofSeconds(1));
    }

    static FlagServer start(Path dataDir) throws IOException {
        return FlagServer.start(config(dataDir));
    }
}
