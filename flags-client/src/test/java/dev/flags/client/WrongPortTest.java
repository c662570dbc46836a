package dev.flags.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * An SDK pointed at the flag server's admin HTTP port instead of its gRPC port, over a real loopback
 * socket that answers as an HTTP/1.1 server does: the problem it reports names the likely mistake.
 */
class WrongPortTest {

    @Test
    void anHttp1ServerIsReportedAsProbablyTheAdminPort() throws Exception {
        try (ServerSocket http1 = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread answering = new Thread(() -> {
                while (!http1.isClosed()) {
                    try (Socket s = http1.accept(); OutputStream out = s.getOutputStream()) {
                        out.write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                                .getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                        s.getInputStream().transferTo(OutputStream.nullOutputStream()); // until the SDK hangs up
                    } catch (IOException e) {
                        return; // closed at the end of the test
                    }
                }
            }, "http1-server");
            answering.setDaemon(true);
            answering.start();
            try (Flags flags = Flags.builder().target("127.0.0.1:" + http1.getLocalPort()).plaintext().sdkToken("t")
                    .environment("production").initialBackoff(Duration.ofMillis(20)).maxBackoff(Duration.ofMillis(100))
                    .build()) {
                Await.until("the SDK reports the failed connection", () -> flags.freshness().problem()
                        .filter(p -> !p.startsWith("the flag server has not answered yet")).isPresent());
                assertThat(flags.freshness().problem().orElseThrow())
                        .contains("the target answers HTTP/1.x, not gRPC: is it the flag server's admin HTTP port?")
                        .doesNotContain("\n");
                assertThat(flags.health().detail()).contains("admin HTTP port");
            }
        }
    }

    @Test
    void aServerThatClosesEachConnectionAtOnceMayBeAtItsConnectionCapWithTlsOrWithout() throws Exception {
        try (ServerSocket closing = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread closer = new Thread(() -> { // as a flag server at --grpc-max-connections does: closed as accepted
                while (!closing.isClosed()) {
                    try {
                        closing.accept().close();
                    } catch (IOException e) {
                        return; // closed at the end of the test
                    }
                }
            }, "closing-server");
            closer.setDaemon(true);
            closer.start();
            for (boolean plaintext : new boolean[] {true, false}) {
                Flags.Builder builder = Flags.builder().target("127.0.0.1:" + closing.getLocalPort()).sdkToken("t")
                        .environment("production").initialBackoff(Duration.ofMillis(20)).maxBackoff(Duration.ofMillis(100));
                try (Flags flags = (plaintext ? builder.plaintext() : builder).build()) {
                    Await.until("the SDK reports the closed connection", () -> flags.freshness().problem()
                            .filter(p -> !p.startsWith("the flag server has not answered yet")).isPresent());
                    assertThat(flags.freshness().problem().orElseThrow()).as(plaintext ? "plaintext" : "TLS")
                            .contains("at its connection cap (then its log says \"refused a connection\")")
                            .doesNotContain("\n");
                }
            }
        }
    }

    @Test
    void aHostThatDoesNotResolveIsSaidOnceAndTheLineNamesGrpcsOwnLoggerOfIt() {
        String target = "flags-sdk-test.invalid:9090"; // ".invalid" never resolves (RFC 6761)
        try (Flags first = unresolvable(target); Flags second = unresolvable(target)) {
            for (Flags flags : List.of(first, second)) {
                Await.until("the SDK reports the failed resolution", () -> flags.freshness().problem()
                        .filter(p -> p.contains("flags-sdk-test.invalid")).isPresent());
                assertThat(flags.freshness().problem().orElseThrow()).doesNotContain("java.util.logging");
            }
            Await.until("both instances' outage lines", () -> log.lines("cannot reach the flag server at " + target).size() == 2);
            List<String> lines = log.lines("cannot reach the flag server at " + target);
            assertThat(lines).allSatisfy(line -> assertThat(line).contains("flags-sdk-test.invalid")
                    .contains("logger io.grpc.internal.ManagedChannelImpl, level WARNING): set that logger to SEVERE"));
        }
    }

    private static Flags unresolvable(String target) {
        return Flags.builder().target(target).plaintext().sdkToken("t").environment("production")
                .initialBackoff(Duration.ofMillis(20)).maxBackoff(Duration.ofMillis(100)).build();
    }

    @RegisterExtension
    final LogCapture log = new LogCapture();

    @Test
    void anHttp2ServerWithoutFlagSyncIsReportedAsNotAFlagServerNotAsARefusedToken() throws Exception {
        io.grpc.Server other = io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder
                .forAddress(new java.net.InetSocketAddress("127.0.0.1", 0))
                .build().start(); // serves no service: a proxy's 404, or some other gRPC server, answers the same
        try (Flags flags = Flags.builder().target("127.0.0.1:" + other.getPort()).plaintext().sdkToken("t")
                .environment("production").build()) {
            Await.until("the SDK is refused", () -> flags.freshness().refused());
            assertThat(flags.freshness().problem().orElseThrow()).startsWith("UNIMPLEMENTED");
            assertThat(flags.evaluate("billing-v2", dev.flags.core.User.withId("u-1")).reason().toString())
                    .contains("the target is not a flag server (UNIMPLEMENTED");
            Await.until("the error line", () -> !log.lines("does not serve flag sync").isEmpty());
            assertThat(log.lines("does not serve flag sync").get(0)).contains("ERROR")
                    .contains("check the target, the flag server's gRPC port").doesNotContain("sdk token");
        } finally {
            other.shutdownNow().awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS);
        }
    }
}
