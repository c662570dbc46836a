package dev.flags.server;

import static dev.flags.server.ServerChild.freePort;
import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.protocol.v1.FlagSyncGrpc;
import dev.flags.protocol.v1.SubscribeRequest;
import dev.flags.protocol.v1.UsageReport;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What gRPC logs goes through the server's log, at its level and in its format: a client that speaks
 * HTTP/1 to the gRPC port (a port scanner, a curl at the wrong port) is not the server's problem, and
 * fills the log only when asked for debug; nor is a request message gRPC refuses (too large, also once
 * decompressed, or not a message), which anyone with a token could send by the thousand. A real child
 * JVM started through {@link Main}, as {@link ServerProcessTest} does.
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
            assertThat(log).contains("flag server ready").contains("running on Java ").contains("flag server stopped")
                    .contains("INFO dev.flags.server.FlagServer - flags-server " + dev.flags.core.Build.describe() + ", log level info, running"
                            + " on Java ")
                    .doesNotContain("Transport failed").doesNotContain("Http2Exception").doesNotContain("\tat ");
        }
    }

    @Test
    void httpConnectionsLogNothingAtTheDefaultLevel() throws Exception {
        int http = freePort();
        int grpc = freePort();
        try (ServerChild child = start(http, grpc, null)) {
            child.awaitLine("flag server ready");
            for (int i = 0; i < 5; i++) { // a probe each, and a bare connect: anyone can make either, as often as they like
                try (java.net.Socket s = new java.net.Socket("127.0.0.1", http)) {
                    s.setSoTimeout(20_000);
                    s.getOutputStream().write("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                            .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                    assertThat(new String(s.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII))
                            .startsWith("HTTP/1.1 200");
                }
                new java.net.Socket("127.0.0.1", http).close();
            }
            String log = child.stop();
            // Undertow warned of an option it no longer supports once per connection: a log anyone could fill.
            String served = log.substring(log.indexOf("flag server ready"));
            assertThat(served.lines().filter(l -> l.contains(" WARN ") || l.contains(" ERROR "))).as(log).isEmpty();
        }
    }

    @Test
    void atDebugTheFailedConnectionIsADebugLineInTheServersFormat() throws Exception {
        int grpc = freePort();
        try (ServerChild child = start(grpc, "DEBUG")) {
            child.awaitLine("flag server ready");
            assertThat(child.awaitLine("running on Java")).contains("flags-server " + dev.flags.core.Build.describe() + ", log level debug,");
            // Not the libraries' start-up probes, some with stack traces, which buried the server's own lines (QA53 F4).
            assertThat(child.log()).as("the start at debug").noneSatisfy(line -> assertThat(line).containsAnyOf(
                    "javax.management", "Unable to apply census stats", "PlatformDependent", "ClassNotFoundException"));
            assertThat(child.log()).filteredOn(line -> line.matches("\\s+at .*")).as("no stack trace").isEmpty();
            http1Request(grpc);
            String line = child.awaitLine("Transport failed");
            assertThat(line).matches("\\d{4}-\\d\\d-\\d\\dT\\S+ \\[[^]]+\\] DEBUG io\\.grpc\\.netty\\.shaded\\.io\\.grpc\\.netty"
                    + "\\.NettyServerTransport\\.connections - Transport failed");
        }
    }

    @Test
    void messagesOverTheLimitLogNothingAtTheDefaultLevelAndTheClientIsToldWhy() throws Exception {
        int http = freePort();
        int grpc = freePort();
        try (ServerChild child = start(http, grpc, null)) {
            child.awaitLine("flag server ready");
            String sdk = sdkToken(http);
            ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", grpc).usePlaintext().build();
            try {
                for (int i = 0; i < 3; i++) {
                    Channel withSdk = withToken(channel, sdk);
                    // About 3 KB on the wire, 3 MiB once decompressed: gRPC answers UNKNOWN (grpc-java#11246), as for
                    // bytes that are not a message; it logs them just after answering, so they go first.
                    assertThat(status(() -> FlagSyncGrpc.newBlockingStub(withSdk).withCompression("gzip").reportUsage(OVERSIZED_REPORT))
                            .getCode()).isEqualTo(Status.Code.UNKNOWN);
                    assertThat(status(() -> sendNotAMessage(withSdk)).getCode()).isEqualTo(Status.Code.UNKNOWN);
                    // Without a token the call is refused before gRPC reads its message.
                    assertThat(status(() -> FlagSyncGrpc.newBlockingStub(channel).reportUsage(OVERSIZED_REPORT)).getCode())
                            .isEqualTo(Status.Code.UNAUTHENTICATED);
                    assertThat(status(() -> FlagSyncGrpc.newBlockingStub(channel).subscribe(OVERSIZED_SUBSCRIBE).hasNext()).getCode())
                            .isEqualTo(Status.Code.UNAUTHENTICATED);
                    // gRPC logs a message over the limit before it answers.
                    for (Status refused : List.of(status(() -> FlagSyncGrpc.newBlockingStub(withSdk).reportUsage(OVERSIZED_REPORT)),
                            status(() -> FlagSyncGrpc.newBlockingStub(withSdk).subscribe(OVERSIZED_SUBSCRIBE).hasNext()))) {
                        assertThat(refused.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                        assertThat(refused.getDescription()).startsWith("gRPC message exceeds maximum size 2097152: ");
                    }
                }
            } finally {
                channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
            }
            // Not in the log, but counted: four refused messages a round (gRPC may count one just after answering).
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (refusedMessages(http) < 12 && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertThat(refusedMessages(http)).isEqualTo(12);
            String log = child.stop();
            assertThat(log).contains("flag server ready").contains("running on Java ").contains("flag server stopped")
                    .doesNotContain("Exception processing message").doesNotContain("Exception while executing runnable")
                    .doesNotContain("exceeds maximum size").doesNotContain("Invalid protobuf").doesNotContain("\tat ");
        }
    }

    @Test
    void atTheErrorLevelARefusedMessageIsStillCounted() throws Exception {
        int http = freePort();
        int grpc = freePort();
        try (ServerChild child = start(http, grpc, "error")) {
            awaitReady(http); // at this level, no "ready" line to wait for
            String sdk = sdkToken(http);
            ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", grpc).usePlaintext().build();
            try {
                // gRPC logs it at WARN, which the error level does not build a record for unless told to.
                assertThat(status(() -> FlagSyncGrpc.newBlockingStub(withToken(channel, sdk)).reportUsage(OVERSIZED_REPORT))
                        .getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
            } finally {
                channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
            }
            assertThat(refusedMessages(http)).isEqualTo(1);
        }
    }

    @Test
    void atDebugARefusedMessageIsADebugLineWithItsCause() throws Exception {
        int http = freePort();
        int grpc = freePort();
        try (ServerChild child = start(http, grpc, "debug")) {
            child.awaitLine("flag server ready");
            String sdk = sdkToken(http);
            ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", grpc).usePlaintext().build();
            try {
                Channel calls = withToken(channel, sdk);
                status(() -> FlagSyncGrpc.newBlockingStub(calls).reportUsage(OVERSIZED_REPORT));
                assertThat(child.awaitLine("Exception processing message")).matches(DEBUG_LINE
                        + "io\\.grpc\\.netty\\.shaded\\.io\\.grpc\\.netty\\.NettyServerStream - Exception processing message");
                child.awaitLine("RESOURCE_EXHAUSTED: gRPC message exceeds maximum size 2097152");

                status(() -> FlagSyncGrpc.newBlockingStub(calls).withCompression("gzip").reportUsage(OVERSIZED_REPORT));
                assertThat(child.awaitLine("Exception while executing runnable")).matches(DEBUG_LINE
                        + "io\\.grpc\\.internal\\.SerializingExecutor - Exception while executing runnable .*");
                child.awaitLine("RESOURCE_EXHAUSTED: Decompressed gRPC message exceeds maximum size 2097152");

                status(() -> sendNotAMessage(calls));
                assertThat(child.awaitLine("Exception while executing runnable")).matches(DEBUG_LINE
                        + "io\\.grpc\\.internal\\.SerializingExecutor - Exception while executing runnable .*");
                child.awaitLine("INTERNAL: Invalid protobuf byte sequence");
            } finally {
                channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
            }
            // Its connection closed, and its first call made: neither is a library's stack trace at debug (QA55 F2).
            String log = child.stop();
            assertThat(log).doesNotContain("TcpMetrics").doesNotContain("Storage override");
        }
    }

    private static void awaitReady(int http) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try {
                if (new ApiClient(http).get("/readyz", null).status() == 200) {
                    return;
                }
            } catch (UncheckedIOException notListeningYet) {
                assertThat(System.nanoTime()).as("ready within a minute").isLessThan(deadline);
            }
            TimeUnit.MILLISECONDS.sleep(20); // nothing to await: the child logs nothing at this level
        }
    }

    private static long refusedMessages(int http) {
        return new ApiClient(http).get("/metrics", null).body().lines()
                .filter(l -> l.startsWith("flags_grpc_requests_refused_total ")).mapToLong(l -> Long.parseLong(l.split(" ")[1]))
                .findFirst().orElseThrow();
    }

    private static final String DEBUG_LINE = "\\d{4}-\\d\\d-\\d\\dT\\S+ \\[[^]]+\\] DEBUG ";

    /** 3 MiB of SDK name: over the 2 MiB the gRPC port takes. */
    private static final String OVER_THE_LIMIT = "x".repeat(3 << 20);
    private static final UsageReport OVERSIZED_REPORT =
            UsageReport.newBuilder().setEnvironment("production").setSdk(OVER_THE_LIMIT).build();
    private static final SubscribeRequest OVERSIZED_SUBSCRIBE =
            SubscribeRequest.newBuilder().setEnvironment("production").setSdk(OVER_THE_LIMIT).build();

    private static String sdkToken(int httpPort) {
        ApiClient api = new ApiClient(httpPort);
        assertThat(api.post("/api/v1/environments", ServerFixture.ADMIN, "{\"key\": \"production\"}").status()).isEqualTo(201);
        return api.post("/api/v1/tokens", ServerFixture.ADMIN,
                "{\"name\": \"app\", \"scope\": \"sdk\", \"environments\": [\"production\"]}").json().get("token").asText();
    }

    private static Channel withToken(Channel channel, String token) {
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        return ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(headers));
    }

    /** Runs a call that must fail, and returns its status. */
    private static Status status(Runnable call) {
        try {
            call.run();
        } catch (StatusRuntimeException e) {
            return e.getStatus();
        }
        throw new AssertionError("the call succeeded");
    }

    /** Sends ReportUsage three bytes that are not a UsageReport (a field that claims more than follows). */
    private static void sendNotAMessage(Channel channel) {
        MethodDescriptor.Marshaller<byte[]> bytes = new MethodDescriptor.Marshaller<>() {
            @Override
            public InputStream stream(byte[] value) {
                return new ByteArrayInputStream(value);
            }

            @Override
            public byte[] parse(InputStream stream) {
                try {
                    return stream.readAllBytes();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        };
        MethodDescriptor<byte[], byte[]> reportUsage = FlagSyncGrpc.getReportUsageMethod().toBuilder(bytes, bytes).build();
        ClientCalls.blockingUnaryCall(channel, reportUsage, CallOptions.DEFAULT, new byte[] {0x12, 0x7f, 'x'});
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
        return start(freePort(), grpcPort, logLevel);
    }

    private ServerChild start(int httpPort, int grpcPort, String logLevel) throws IOException {
        return ServerChild.start(List.of(), logLevel == null ? Map.of() : Map.of("FLAGS_LOG_LEVEL", logLevel),
                dir.resolve("data"), httpPort, grpcPort, ServerFixture.ADMIN);
    }
}
