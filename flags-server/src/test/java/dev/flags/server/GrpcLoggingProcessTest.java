package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What gRPC logs goes through the server's log, at its level and in its format: a client that speaks
 * HTTP/1 to the gRPC port (a port scanner, a curl at the wrong port) is not the server's problem, and
 * fills the log only when asked for debug. A real child JVM started through {@link Main}, as
 * {@link ServerProcessTest} does.
 */
class GrpcLoggingProcessTest {

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

        /** Stops the server with SIGTERM, as an operator does, and waits for the last of its output. */
        String stop() throws InterruptedException {
            assertThat(process.toHandle().destroy()).isTrue();
            assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
            reader.join(10_000);
            return String.join("\n", log);
        }

        @Override
        public void close() {
            process.destroyForcibly();
        }
    }

    @Test
    void aPlainHttpRequestToTheGrpcPortLogsNothingAtTheDefaultLevel() throws Exception {
        int grpc = freePort();
        try (Child child = start(grpc, null)) {
            child.awaitLine("flag server ready");
            http1Request(grpc);
            // gRPC logs a failed connection before it counts the connection as closed, and a stopping
            // server waits for every connection to be closed: anything logged is in by "stopped".
            String log = child.stop();
            assertThat(log).contains("flag server ready").contains("flag server stopped")
                    .doesNotContain("Transport failed").doesNotContain("Http2Exception").doesNotContain("\tat ");
        }
    }

    @Test
    void atDebugTheFailedConnectionIsADebugLineInTheServersFormat() throws Exception {
        int grpc = freePort();
        try (Child child = start(grpc, "debug")) {
            child.awaitLine("flag server ready");
            http1Request(grpc);
            String line = child.awaitLine("Transport failed");
            assertThat(line).matches("\\d{4}-\\d\\d-\\d\\dT\\S+ \\[[^]]+\\] DEBUG io\\.grpc\\.netty\\.shaded\\.io\\.grpc\\.netty"
                    + "\\.NettyServerTransport\\.connections - Transport failed");
        }
    }

    /** Sends what curl sends to an HTTP/1 server, and reads until the gRPC port closes the connection. */
    private static void http1Request(int port) throws IOException {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
            socket.setSoTimeout(30_000);
            socket.getOutputStream().write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            socket.getInputStream().readAllBytes();
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private Child start(int grpcPort, String logLevel) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Main.class.getName())
                .redirectErrorStream(true);
        pb.environment().put("FLAGS_DATA_DIR", dir.resolve("data").toString());
        pb.environment().put("FLAGS_HTTP_PORT", String.valueOf(freePort()));
        pb.environment().put("FLAGS_GRPC_PORT", String.valueOf(grpcPort));
        pb.environment().put("FLAGS_BIND", "127.0.0.1");
        pb.environment().put("FLAGS_ADMIN_TOKEN", ServerFixture.ADMIN);
        pb.environment().remove("FLAGS_LOG_LEVEL");
        if (logLevel != null) {
            pb.environment().put("FLAGS_LOG_LEVEL", logLevel);
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
}
