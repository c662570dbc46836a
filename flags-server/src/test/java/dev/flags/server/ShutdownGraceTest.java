package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.protocol.v1.FlagSyncGrpc;
import dev.flags.protocol.v1.SubscribeRequest;
import dev.flags.protocol.v1.SyncMessage;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A stop has one deadline, the shutdown grace, for all its waits: a sync stream whose SDK does not read and
 * an HTTP request that is never finished, both at once, cost one grace, not one each.
 */
class ShutdownGraceTest {

    private static final String ADMIN = "shutdown-grace-test-admin-token";
    private static final String ENV = "/api/v1/environments/production";
    private static final Duration GRACE = Duration.ofSeconds(2);
    /** How many streams do not read: a few, for the closes of their calls at the cut to race the stop. */
    private static final int STUCK_STREAMS = 6;

    @TempDir
    Path dir;

    @Test
    void aStreamThatDoesNotReadAndARequestNeverFinishedShareOneGrace() throws Exception {
        FlagServer server = FlagServer.start(ServerConfig.defaults().withDataDir(dir).withPorts(0, 0)
                .withBindAddress("127.0.0.1").withAdminToken(ADMIN).withShutdownGrace(GRACE));
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext()
                .flowControlWindow(32 * 1024).build();
        try (Socket unfinished = new Socket("127.0.0.1", server.httpPort())) {
            ApiClient api = new ApiClient(server.httpPort());
            assertThat(api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}").status()).isEqualTo(201);
            String description = "x".repeat(2_000);
            for (int i = 0; i < 100; i++) { // a snapshot of about 200 kB: far more than the stream's window
                assertThat(api.put(ENV + "/flags/f-" + i, ADMIN, "{\"enabled\": true, \"description\": \"" + description + "\"}")
                        .status()).isEqualTo(201);
            }
            // Streams whose client asks for no message: their snapshots stay in the server's buffers.
            for (int i = 0; i < STUCK_STREAMS; i++) {
                ClientCall<SubscribeRequest, SyncMessage> stuck = ClientInterceptors.intercept(channel,
                        MetadataUtils.newAttachHeadersInterceptor(bearer())).newCall(FlagSyncGrpc.getSubscribeMethod(),
                        CallOptions.DEFAULT);
                stuck.start(new ClientCall.Listener<>() { }, new Metadata());
                stuck.sendMessage(SubscribeRequest.newBuilder().setEnvironment("production").build());
                stuck.halfClose();
            }
            awaitSnapshotsWritten(api);
            // A request whose headers came and whose body never will.
            OutputStream out = unfinished.getOutputStream();
            out.write(("PATCH " + ENV + "/flags/f-1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + ADMIN
                    + "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            awaitInFlight(server);

            long start = System.nanoTime();
            String logged = StandardErrorCapture.during(() -> {
                server.close();
                // The event loops end within close(): a cut stream's call is closed on them, on gRPC's call executor,
                // which close() stops after them (stopped before, each close was a WARN with a stack trace).
                assertThat(Thread.getAllStackTraces().keySet()).as("the gRPC port's event loops have ended")
                        .noneMatch(t -> t.getName().startsWith("flags-grpc-io") && t.isAlive());
            });
            Duration took = Duration.ofNanos(System.nanoTime() - start);

            assertThat(took).as("one grace for both waits, not one each (2 x %s)", GRACE)
                    .isGreaterThanOrEqualTo(GRACE).isLessThan(GRACE.multipliedBy(7).dividedBy(4));
            assertThat(logged).contains("sync streams still open at the end of the shutdown grace")
                    .doesNotContain("RejectedExecutionException").doesNotContain("Failed to mark a promise");
            assertThat(unfinished.getInputStream().read()).as("the unfinished request's connection is closed").isEqualTo(-1);
        } finally {
            server.close();
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    private static Metadata bearer() {
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + ADMIN);
        return headers;
    }

    /** Waits until the server counts the streams' snapshots as sent. */
    private static void awaitSnapshotsWritten(ApiClient api) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!api.get("/metrics", null).body().contains("\nflags_sync_snapshots_sent_total " + STUCK_STREAMS + "\n")) {
            assertThat(System.nanoTime()).as("the snapshot written").isLessThan(deadline);
            Thread.onSpinWait();
        }
    }

    private static void awaitInFlight(FlagServer server) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (server.httpRequestsInFlight() != 1) {
            assertThat(System.nanoTime()).as("the request in flight").isLessThan(deadline);
            Thread.onSpinWait();
        }
    }
}
