package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.protocol.v1.SyncMessage;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bounds on gRPC connections, as a client sees them: how many the port holds, in all and per address, streams per
 * connection, and how long one may idle.
 */
class GrpcConnectionLimitTest {

    private static final int SETTINGS = 0x4;
    private static final int ACK = 0x1;
    private static final int MAX_CONCURRENT_STREAMS = 0x3;
    private static final int PING = 0x6;
    private static final int GOAWAY = 0x7;

    @TempDir
    Path dir;

    /** A channel of its own (one connection) to the server's gRPC port. */
    private static ManagedChannel plaintextChannel(FlagServer server) {
        return NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build();
    }

    @Test
    void aConnectionWhoseCallsAreAllRefusedIsClosedOnceAsOldAsAnIdleOneWhileASubscribedOneStays() throws Exception {
        // QA61 F3: a refused call now and then kept a connection from idling, so it was never closed.
        try (FlagServer server = FlagServer.startWithGrpcIdle(ServerFixture.config(dir.resolve("refused")), Duration.ofMillis(500))) {
            ApiClient api = new ApiClient(server.httpPort());
            String sdk = ServerFixture.productionWithSdkToken(api);
            ManagedChannel subscribed = plaintextChannel(server);
            ManagedChannel wrongToken = plaintextChannel(server);
            try {
                Iterator<SyncMessage> stream = ServerFixture.subscribe(subscribed, sdk);
                assertThat(stream.next().hasSnapshot()).isTrue();
                refusedUntilClosed(api, wrongToken, "flg_wrong", 0, "a wrong token's connection");
                // The subscribed connection, past the same age, stays: its stream still brings a change.
                assertThat(api.put("/api/v1/environments/production/flags/late", ServerFixture.ADMIN, "{\"key\": \"late\"}")
                        .status()).isEqualTo(201);
                SyncMessage next = stream.next();
                while (next.hasHeartbeat()) {
                    next = stream.next();
                }
                assertThat(next.getDelta().getUpserted(0).getKey()).isEqualTo("late");
                wrongToken.shutdownNow().awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS);
                long closedBefore = metric(api, "flags_grpc_connections_untrusted_closed_total");

                // QA62 F1: the token of a connection that once presented a good one is revoked while its SDK keeps trying.
                String id = null;
                for (com.fasterxml.jackson.databind.JsonNode t : api.get("/api/v1/tokens", ServerFixture.ADMIN).json().get("tokens")) {
                    id = t.get("name").asText().equals("svc") ? t.get("id").asText() : id;
                }
                assertThat(api.delete("/api/v1/tokens/" + id, ServerFixture.ADMIN).status()).isEqualTo(200);
                refusedUntilClosed(api, subscribed, sdk, closedBefore, "a revoked token's connection");
            } finally {
                subscribed.shutdownNow();
                wrongToken.shutdownNow();
            }
        }
    }

    /**
     * Makes a call refused for its token every 100 ms on the channel (the client's pace: never idle for the port's limit)
     * until the port has closed more connections for that than {@code closedBefore}; fails after 20 s.
     */
    private static void refusedUntilClosed(ApiClient api, ManagedChannel channel, String token, long closedBefore, String what)
            throws InterruptedException {
        io.grpc.Metadata headers = new io.grpc.Metadata();
        headers.put(io.grpc.Metadata.Key.of("authorization", io.grpc.Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        dev.flags.protocol.v1.FlagSyncGrpc.FlagSyncBlockingStub refused = dev.flags.protocol.v1.FlagSyncGrpc
                .newBlockingStub(channel).withInterceptors(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(headers));
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (metric(api, "flags_grpc_connections_untrusted_closed_total") == closedBefore) {
            assertThat(System.nanoTime() - deadline).as(what + " closed within 20 s").isNegative();
            try {
                refused.getSnapshot(dev.flags.protocol.v1.SnapshotRequest.newBuilder().setEnvironment("production").build());
            } catch (io.grpc.StatusRuntimeException e) {
                // Refused, or the connection closed under the call: UNAVAILABLE, or UNKNOWN "channel closed" when the
                // call's own write met the close (how grpc-java reports a write to a channel just closed, grpc-java#10474;
                // it failed a CI run once).
                io.grpc.Status status = e.getStatus();
                boolean closedUnderTheCall = status.getCode() == io.grpc.Status.Code.UNKNOWN
                        && (String.valueOf(status.getDescription()).contains("closed")
                        || status.getCause() instanceof java.nio.channels.ClosedChannelException);
                assertThat(status.getCode() == io.grpc.Status.Code.UNAUTHENTICATED
                        || status.getCode() == io.grpc.Status.Code.UNAVAILABLE || closedUnderTheCall)
                        .as("%s: %s", what, status).isTrue();
            }
            Thread.sleep(100);
        }
    }

    @Test
    void theServerAnnouncesHowManyStreamsAConnectionMayCarry() throws Exception {
        assertThat(announcedLimit(ServerFixture.config(dir.resolve("a")))).as("the default").isEqualTo(1_000);
        assertThat(announcedLimit(ServerFixture.config(dir.resolve("b")).withMaxSyncStreamsPerConnection(7))).isEqualTo(7);
    }

    @Test
    void aConnectionThatMakesNoCallIsClosedOnceIdleWhileASubscribedOneStays() throws Exception {
        try (FlagServer server = FlagServer.startWithGrpcIdle(ServerFixture.config(dir.resolve("idle")), Duration.ofMillis(500))) {
            ApiClient api = new ApiClient(server.httpPort());
            String sdk = ServerFixture.productionWithSdkToken(api);
            ManagedChannel channel = plaintextChannel(server);
            try {
                Iterator<SyncMessage> stream = ServerFixture.subscribe(channel, sdk);
                assertThat(stream.next().hasSnapshot()).isTrue();
                try (Socket idle = new Socket("127.0.0.1", server.grpcPort())) {
                    idle.setSoTimeout(30_000); // a guard: the server closes it after 0.5 s
                    OutputStream out = idle.getOutputStream();
                    out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    out.write(new byte[] {0, 0, 0, SETTINGS, 0, 0, 0, 0, 0}); // a handshake, and then no call
                    out.flush();
                    awaitOpenConnections(api, 2);
                    DataInputStream in = new DataInputStream(idle.getInputStream());
                    boolean goaway = false;
                    try {
                        while (true) { // the server's SETTINGS, then its GOAWAY and a PING; the end of the stream is the close
                            int length = in.readUnsignedByte() << 16 | in.readUnsignedByte() << 8 | in.readUnsignedByte();
                            int type = in.readUnsignedByte();
                            int flags = in.readUnsignedByte();
                            in.readInt();
                            byte[] payload = new byte[length];
                            in.readFully(payload);
                            goaway |= type == GOAWAY;
                            if (type == PING && (flags & ACK) == 0) {
                                // Acknowledged as a client does: a graceful close waits for it (10 s, else).
                                out.write(new byte[] {0, 0, 8, PING, ACK, 0, 0, 0, 0});
                                out.write(payload);
                                out.flush();
                            }
                        }
                    } catch (java.io.EOFException closed) {
                        assertThat(goaway).as("closed with a GOAWAY, as idle").isTrue();
                    }
                }
                awaitOpenConnections(api, 1);
                // The subscribed connection outlives many idle periods: it carries a call (and its heartbeats).
                for (int i = 0; i < 3; i++) {
                    assertThat(stream.next().hasHeartbeat()).isTrue();
                }
                assertThat(openConnections(api)).isEqualTo(1);
            } finally {
                channel.shutdownNow();
            }
        }
    }

    @Test
    void theGrpcPortClosesAConnectionOverItsCapsAtOnceAndTheRestOfTheServerCarriesOn() throws Exception {
        ServerConfig config = ServerFixture.config(dir.resolve("cap")).withConnectionLimits(new ConnectionLimits(3, 2, 0));
        try (FlagServer server = FlagServer.start(config)) {
            ApiClient api = new ApiClient(server.httpPort());
            InetAddress one = InetAddress.getByName("127.0.0.1");
            InetAddress another = InetAddress.getByName("127.0.0.2"); // loopback too, on Linux: another client address
            try (Socket a1 = http2(server, one); Socket a2 = http2(server, one)) {
                assertThat(settingsArrive(a1)).isTrue();
                assertThat(settingsArrive(a2)).isTrue();
                try (Socket a3 = http2(server, one)) {
                    assertThat(settingsArrive(a3)).as("a third from one address: over the cap per address").isFalse();
                }
                try (Socket b1 = http2(server, another)) {
                    assertThat(settingsArrive(b1)).as("another address still gets in").isTrue();
                    try (Socket b2 = http2(server, another)) {
                        assertThat(settingsArrive(b2)).as("over the total of 3").isFalse();
                    }
                    assertThat(metric(api, "flags_grpc_connections_refused_total")).isEqualTo(2);
                    assertThat(metric(api, "flags_grpc_connections_max")).isEqualTo(3);
                    assertThat(api.get("/healthz", null).status()).isEqualTo(200);
                }
                awaitOpenConnections(api, 2);
                try (Socket b3 = http2(server, another)) {
                    assertThat(settingsArrive(b3)).as("room again once one has closed").isTrue();
                }
            }
        }
    }

    /** A connection from {@code from} that starts HTTP/2 with prior knowledge, as a gRPC client does. */
    private static Socket http2(FlagServer server, InetAddress from) throws IOException {
        Socket socket = new Socket(InetAddress.getByName("127.0.0.1"), server.grpcPort(), from, 0);
        socket.setSoTimeout(10_000); // a guard: the server answers at once, with its SETTINGS or by closing
        OutputStream out = socket.getOutputStream();
        try {
            out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.write(new byte[] {0, 0, 0, SETTINGS, 0, 0, 0, 0, 0});
            out.flush();
        } catch (SocketException closedAlready) {
            // the server may have closed it before these bytes went out: settingsArrive says so
        }
        return socket;
    }

    /** @return true if the server's first frame, its SETTINGS, arrives; false if it closes the connection instead */
    private static boolean settingsArrive(Socket socket) throws IOException {
        try {
            DataInputStream in = new DataInputStream(socket.getInputStream());
            in.skipNBytes(3);
            return in.readUnsignedByte() == SETTINGS;
        } catch (EOFException | SocketException closed) {
            return false;
        }
    }

    private static long metric(ApiClient api, String name) {
        return api.get("/metrics", null).body().lines().filter(l -> l.startsWith(name + " "))
                .mapToLong(l -> Long.parseLong(l.substring(l.indexOf(' ') + 1).trim())).findFirst().orElseThrow();
    }

    private static long openConnections(ApiClient api) {
        return metric(api, "flags_grpc_connections");
    }

    /** The gauge follows the transports' own events, which the test cannot hook: it is read until it says so. */
    private static void awaitOpenConnections(ApiClient api, long expected) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (openConnections(api) != expected) {
            assertThat(System.nanoTime()).as("flags_grpc_connections reaches " + expected).isLessThan(deadline);
            Thread.sleep(20);
        }
    }

    /** Speaks HTTP/2 (prior knowledge, plaintext) to the gRPC port and reads the server's first SETTINGS. */
    private static long announcedLimit(ServerConfig config) throws Exception {
        try (FlagServer server = FlagServer.start(config); Socket socket = new Socket("127.0.0.1", server.grpcPort())) {
            socket.setSoTimeout(10_000); // a guard: the server sends its SETTINGS at once
            OutputStream out = socket.getOutputStream();
            out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.write(new byte[] {0, 0, 0, SETTINGS, 0, 0, 0, 0, 0}); // our own, empty SETTINGS frame
            out.flush();
            DataInputStream in = new DataInputStream(socket.getInputStream());
            while (true) {
                int length = in.readUnsignedByte() << 16 | in.readUnsignedByte() << 8 | in.readUnsignedByte();
                int type = in.readUnsignedByte();
                int flags = in.readUnsignedByte();
                in.readInt(); // stream id
                byte[] payload = new byte[length];
                in.readFully(payload);
                if (type == SETTINGS && (flags & ACK) == 0) {
                    ByteBuffer settings = ByteBuffer.wrap(payload);
                    while (settings.remaining() >= 6) {
                        int id = settings.getShort() & 0xFFFF;
                        long value = settings.getInt() & 0xFFFFFFFFL;
                        if (id == MAX_CONCURRENT_STREAMS) {
                            return value;
                        }
                    }
                    return -1; // not announced: unbounded
                }
            }
        }
    }
}
