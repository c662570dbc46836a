package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flags.server.auth.TokenService;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.FileJournal;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server as operators run it: a real child JVM started through {@link Main}, configured by
 * environment variables, stopped with SIGTERM.
 */
class ServerProcessTest {

    @TempDir
    Path dir;

    /** A running child server and everything it logged. */
    private record Child(Process process, List<String> log, BlockingQueue<String> lines, Thread reader) implements AutoCloseable {
        String awaitLine(String contains) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (System.nanoTime() < deadline) {
                String line = lines.poll(1, TimeUnit.SECONDS);
                if (line != null && line.contains(contains)) {
                    return line;
                }
                if (line == null && !reader.isAlive() && lines.isEmpty()) {
                    break; // the process ended and everything it wrote was read
                }
            }
            throw new AssertionError("the server never logged \"" + contains + "\"; it logged:\n" + String.join("\n", log));
        }

        @Override
        public void close() {
            process.destroyForcibly();
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private Child start(Path dataDir, int httpPort, int grpcPort, String adminToken) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Main.class.getName())
                .redirectErrorStream(true);
        pb.environment().put("FLAGS_DATA_DIR", dataDir.toString());
        pb.environment().put("FLAGS_HTTP_PORT", String.valueOf(httpPort));
        pb.environment().put("FLAGS_GRPC_PORT", String.valueOf(grpcPort));
        pb.environment().put("FLAGS_BIND", "127.0.0.1");
        pb.environment().remove("FLAGS_ADMIN_TOKEN");
        if (adminToken != null) {
            pb.environment().put("FLAGS_ADMIN_TOKEN", adminToken);
        }
        Process p = pb.start();
        List<String> log = new CopyOnWriteArrayList<>();
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    log.add(line);
                    lines.add(line);
                }
            } catch (IOException e) {
                // the process ended
            }
        }, "child-log");
        reader.setDaemon(true);
        reader.start();
        return new Child(p, log, lines, reader);
    }

    @Test
    void firstStartGeneratesAnOwnerOnlyAdminTokenAndNeverLogsIt() throws Exception {
        Path data = dir.resolve("data");
        int http = freePort();
        try (Child child = start(data, http, freePort(), null)) {
            child.awaitLine("flag server ready");
            Path tokenFile = data.resolve("admin-token");
            assertThat(tokenFile).exists();
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(tokenFile))).isEqualTo("rw-------");
            String token = Files.readString(tokenFile).trim();
            assertThat(token).startsWith("flg_");
            assertThat(String.join("\n", child.log())).contains(tokenFile.toAbsolutePath().toString()).doesNotContain(token);

            ApiClient api = new ApiClient(http);
            assertThat(api.post("/api/v1/environments", token, "{\"key\": \"production\"}").status()).isEqualTo(201);

            // SIGTERM, as an operator or an orchestrator sends it (Process.destroy would also close our
            // end of the child's output, so the handle's destroy is used: the same signal)
            assertThat(child.process().toHandle().destroy()).isTrue();
            assertThat(child.process().waitFor(30, TimeUnit.SECONDS)).isTrue();
            child.awaitLine("flag server stopped");
        }
        // the same data directory, the same token, and the change is still there
        int http2 = freePort();
        try (Child again = start(data, http2, freePort(), null)) {
            again.awaitLine("flag server ready");
            String token = Files.readString(data.resolve("admin-token")).trim();
            assertThat(new ApiClient(http2).get("/api/v1/environments/production", token).status()).isEqualTo(200);
        }
    }

    @Test
    void theAdminTokenComesFromTheEnvironmentWhenSet() throws Exception {
        Path data = dir.resolve("env-token");
        int http = freePort();
        String token = "operator-chosen-token-0123456789";
        try (Child child = start(data, http, freePort(), token)) {
            child.awaitLine("flag server ready");
            assertThat(data.resolve("admin-token")).doesNotExist();
            assertThat(new ApiClient(http).get("/api/v1/environments", token).status()).isEqualTo(200);
            assertThat(String.join("\n", child.log())).doesNotContain(token);
        }
    }

    @Test
    void startWarnsAboutEachTesterTokenMadeBeforeTokensHadAUserAndNeverLogsItsSecret() throws Exception {
        Path data = dir.resolve("legacy");
        String secret = TokenService.newSecret();
        try (FileJournal journal = FileJournal.builder(data.resolve("journal")).open()) {
            journal.append(Change.of(EntryType.ENVIRONMENT_CREATED, "production", "admin",
                    JsonNodeFactory.instance.objectNode().put("name", "production")));
            // As a server before tokens had a user recorded a tester token: no "userId".
            ObjectNode payload = JsonNodeFactory.instance.objectNode().put("id", "tok-legacy").put("hash", sha256(secret))
                    .put("name", "tess").put("scope", "tester");
            payload.putArray("environments").add("production");
            journal.append(Change.of(EntryType.TOKEN_CREATED, null, "admin", payload));
        }
        try (Child child = start(data, freePort(), freePort(), ServerFixture.ADMIN)) {
            String warning = child.awaitLine("tok-legacy");
            child.awaitLine("flag server ready");
            assertThat(warning).contains("WARN").contains("tess").contains("any user id")
                    .contains("DELETE /api/v1/tokens/tok-legacy").contains("\"userId\"");
            assertThat(String.join("\n", child.log())).doesNotContain(secret);
        }
    }

    private static String sha256(String secret) throws Exception {
        byte[] digest = MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8));
        return "sha256:" + HexFormat.of().formatHex(digest);
    }

    @Test
    void aSecondServerOnTheSameDataDirectoryRefusesToStart() throws Exception {
        Path data = dir.resolve("locked");
        try (FlagServer first = ServerFixture.start(data)) {
            try (Child second = start(data, freePort(), freePort(), ServerFixture.ADMIN)) {
                assertThat(second.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
                assertThat(second.process().exitValue()).isEqualTo(Main.EXIT_CANNOT_START);
                assertThat(String.join("\n", second.log())).containsIgnoringCase("lock")
                        .contains("flags-server: cannot start: ").doesNotContain("\tat ");
            }
            assertThat(first.isReady()).isTrue();
        }
    }

    @Test
    void aPortInUseOrADataDirectoryThatCannotBeMadeIsOneLineNotAStackTrace() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            int port = taken.getLocalPort();
            try (Child child = start(dir.resolve("busy"), port, freePort(), ServerFixture.ADMIN)) {
                assertThat(child.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
                child.reader().join(10_000);
                assertThat(child.process().exitValue()).isEqualTo(Main.EXIT_CANNOT_START);
                assertThat(String.join("\n", child.log()))
                        .contains("flags-server: cannot start: cannot listen on 127.0.0.1:" + port + " for HTTP")
                        .doesNotContain("\tat ");
            }
        }
        Path inTheWay = Files.writeString(dir.resolve("a-file"), "not a directory");
        try (Child child = start(inTheWay.resolve("data"), freePort(), freePort(), ServerFixture.ADMIN)) {
            assertThat(child.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
            child.reader().join(10_000);
            assertThat(child.process().exitValue()).isEqualTo(Main.EXIT_CANNOT_START);
            assertThat(String.join("\n", child.log())).contains("flags-server: cannot start: " + inTheWay)
                    .doesNotContain("\tat ");
        }
    }

    @Test
    void badSettingsAreRejectedWithAClearMessage() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "--http-port", "not-a-port", "--data-dir", dir.resolve("x").toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(2);
        assertThat(out).contains("--http-port").contains("not-a-port");

        Process retention = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "--journal-retention", "PT1H", "--data-dir", dir.resolve("y").toString()).redirectErrorStream(true).start();
        String said = new String(retention.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(retention.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(retention.exitValue()).isEqualTo(2);
        assertThat(said).contains("journal retention must be at least one day").contains("PT1H").doesNotContain("\tat ");

        Process tls = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "--tls-cert", dir.resolve("missing.pem").toString(), "--tls-key", dir.resolve("missing.key").toString(),
                "--data-dir", dir.resolve("z").toString()).redirectErrorStream(true).start();
        String tlsSaid = new String(tls.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(tls.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(tls.exitValue()).isEqualTo(2);
        assertThat(tlsSaid).contains("TLS certificate file " + dir.resolve("missing.pem") + " does not exist")
                .doesNotContain("\tat ");
    }
}
