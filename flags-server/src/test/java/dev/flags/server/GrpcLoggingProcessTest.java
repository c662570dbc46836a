package dev.flags.server;

import static dev.flags.server.ServerChild.freePort;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
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

    @Test
    void aPlainHttpRequestToTheGrpcPortLogsNothingAtTheDefaultLevel() throws Exception {
        int grpc = freePort();
        try (ServerChild child = start(grpc, null)) {
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
        try (ServerChild child = start(grpc, "debug")) {
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

    private ServerChild start(int grpcPort, String logLevel) throws IOException {
        return ServerChild.start(List.of(), logLevel == null ? Map.of() : Map.of("FLAGS_LOG_LEVEL", logLevel),
                dir.resolve("data"), freePort(), grpcPort, ServerFixture.ADMIN);
    }
}
