package dev.flags.server;

import static dev.flags.server.ServerFixture.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flags.server.journal.MutableClock;
import com.fasterxml.jackson.databind.JsonNode;
import dev.flags.core.Flag;
import dev.flags.core.FlagFormat;
import dev.flags.protocol.v1.FlagSyncGrpc;
import dev.flags.protocol.v1.SubscribeRequest;
import dev.flags.protocol.v1.SyncMessage;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** End to end through the real server: an HTTP write arrives as a delta on an SDK's gRPC stream. */
class HttpToStreamTest {

    @TempDir
    Path dir;

    private static FlagSyncGrpc.FlagSyncBlockingStub stub(ManagedChannel channel, String token) {
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        return FlagSyncGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
    }

    private static String sdkToken(ApiClient api) {
        return api.post("/api/v1/tokens", ADMIN, "{\"name\": \"svc\", \"scope\": \"sdk\", \"environments\": [\"production\"]}")
                .json().get("token").asText();
    }

    @Test
    void aPutOverHttpReachesASubscribedStreamAsADelta() throws Exception {
        try (FlagServer server = ServerFixture.start(dir.resolve("data"))) {
            ApiClient api = new ApiClient(server.httpPort());
            api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}");
            String sdk = sdkToken(api);
            ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build();
            try {
                Iterator<SyncMessage> stream = stub(channel, sdk).subscribe(
                        SubscribeRequest.newBuilder().setEnvironment("production").setFromVersion(0).build());
                SyncMessage first = stream.next();
                long version = first.hasSnapshot() ? first.getSnapshot().getVersion() : first.getDelta().getVersion();
                assertThat(version).isEqualTo(1);

                api.put("/api/v1/environments/production/flags/billing-v2", ADMIN, "{\"enabled\": true}");
                SyncMessage next = stream.next();
                while (next.hasHeartbeat()) {
                    next = stream.next();
                }
                assertThat(next.hasDelta()).isTrue();
                assertThat(next.getDelta().getFromVersion()).isEqualTo(version);
                assertThat(next.getDelta().getVersion()).isEqualTo(version + 1);
                assertThat(next.getDelta().getUpsertedList()).hasSize(1);
                Flag flag = FlagFormat.readFlag(next.getDelta().getUpserted(0).getJson());
                assertThat(flag.key()).isEqualTo("billing-v2");
                assertThat(flag.enabled()).isTrue();

                // graceful stop: the SDK is told to reconnect elsewhere
                server.close();
                assertThatThrownBy(() -> {
                    while (stream.hasNext()) {
                        stream.next();
                    }
                }).isInstanceOfSatisfying(StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
            } finally {
                channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    @Timeout(60) // without the revocation closing it, the stream would run on, heartbeat after heartbeat
    void revokingAnSdkTokenClosesItsOpenStreamsAtOnceAndRefusesItsReconnects() throws Exception {
        try (FlagServer server = ServerFixture.start(dir.resolve("data"))) {
            ApiClient api = new ApiClient(server.httpPort());
            api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}");
            JsonNode created = api.post("/api/v1/tokens", ADMIN,
                    "{\"name\": \"leaked\", \"scope\": \"sdk\", \"environments\": [\"production\"]}").json();
            String revoked = created.get("token").asText();
            String revokedId = created.get("id").asText();
            String kept = sdkToken(api);
            ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build();
            try {
                SubscribeRequest request = SubscribeRequest.newBuilder().setEnvironment("production").setFromVersion(0).build();
                Iterator<SyncMessage> doomed = stub(channel, revoked).subscribe(request);
                Iterator<SyncMessage> alive = stub(channel, kept).subscribe(request);
                doomed.next();
                alive.next();

                assertThat(api.delete("/api/v1/tokens/" + revokedId, ADMIN).status()).isEqualTo(200);
                assertThatThrownBy(() -> {
                    while (doomed.hasNext()) {
                        doomed.next();
                    }
                }).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
                    assertThat(e.getStatus().getDescription()).contains("revoked");
                });
                assertThatThrownBy(() -> stub(channel, revoked).subscribe(request).next())
                        .isInstanceOfSatisfying(StatusRuntimeException.class,
                                e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED));

                // the other token's stream still gets changes
                api.put("/api/v1/environments/production/flags/billing-v2", ADMIN, "{\"enabled\": true}");
                SyncMessage next = alive.next();
                while (next.hasHeartbeat()) {
                    next = alive.next();
                }
                assertThat(next.hasDelta()).isTrue();
            } finally {
                channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    @Timeout(60) // without the expiry closing it, the stream would run on, heartbeat after heartbeat
    void anSdkTokensOpenStreamsAreClosedWhenItExpiresAndItsReconnectsAreRefused() throws Exception {
        // The server's clock stands still while the streams open, so that none of them can race the expiry;
        // the expiry thread waits the two seconds for real, and closes the stream once the clock has passed it.
        MutableClock clock = new MutableClock(Instant.now().truncatedTo(ChronoUnit.SECONDS));
        try (FlagServer server = FlagServer.start(ServerFixture.config(dir.resolve("data")), clock)) {
            ApiClient api = new ApiClient(server.httpPort());
            api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}");
            JsonNode created = api.post("/api/v1/tokens", ADMIN,
                    "{\"name\": \"short-lived\", \"scope\": \"sdk\", \"environments\": [\"production\"], \"expiresIn\": \"PT2S\"}").json();
            String expiring = created.get("token").asText();
            Instant expiresAt = Instant.parse(created.get("expiresAt").asText());
            String kept = sdkToken(api);
            ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build();
            try {
                SubscribeRequest request = SubscribeRequest.newBuilder().setEnvironment("production").setFromVersion(0).build();
                Iterator<SyncMessage> doomed = stub(channel, expiring).subscribe(request);
                Iterator<SyncMessage> alive = stub(channel, kept).subscribe(request);
                assertThat(doomed.next().hasSnapshot()).isTrue();
                alive.next();

                clock.advance(Duration.ofSeconds(2));
                assertThatThrownBy(() -> {
                    while (doomed.hasNext()) {
                        doomed.next();
                    }
                }).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
                    assertThat(e.getStatus().getDescription()).isEqualTo("the token expired: give the application (or whoever uses it) a new one");
                });
                assertThat(clock.instant()).isAfterOrEqualTo(expiresAt);
                assertThatThrownBy(() -> stub(channel, expiring).subscribe(request).next())
                        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
                            assertThat(e.getStatus().getDescription())
                                    .isEqualTo("the sdk token expired at " + expiresAt + ": give the application a new one")
                                    .doesNotContain(expiring);
                        });

                // the other token's stream still gets changes
                api.put("/api/v1/environments/production/flags/billing-v2", ADMIN, "{\"enabled\": true}");
                SyncMessage next = alive.next();
                while (next.hasHeartbeat()) {
                    next = alive.next();
                }
                assertThat(next.hasDelta()).isTrue();
            } finally {
                channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void theSyncPortRefusesBadTokensAndServesTls() throws Exception {
        TestCertificates certs = TestCertificates.create(dir);
        try (FlagServer server = FlagServer.start(ServerFixture.config(dir.resolve("data")).withTls(certs.certificate, certs.key))) {
            ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort())
                    .sslContext(GrpcSslContexts.forClient().trustManager(certs.certificate.toFile()).build())
                    .overrideAuthority("localhost").build();
            try {
                SubscribeRequest request = SubscribeRequest.newBuilder().setEnvironment("production").build();
                assertThatThrownBy(() -> stub(channel, "flg_wrong").subscribe(request).next())
                        .isInstanceOfSatisfying(StatusRuntimeException.class,
                                e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
                // the admin token may sync any environment; this one does not exist
                assertThatThrownBy(() -> stub(channel, ADMIN).subscribe(request).next())
                        .isInstanceOfSatisfying(StatusRuntimeException.class,
                                e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
            } finally {
                channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void everyScopeOnTheSyncPort() throws Exception {
        try (FlagServer server = ServerFixture.start(dir.resolve("data"))) {
            ApiClient api = new ApiClient(server.httpPort());
            api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}");
            api.post("/api/v1/environments", ADMIN, "{\"key\": \"staging\"}");
            String sdk = sdkToken(api);
            String editor = api.post("/api/v1/tokens", ADMIN, "{\"name\": \"e\", \"scope\": \"editor\", \"environments\": [\"production\"]}")
                    .json().get("token").asText();
            String tester = api.post("/api/v1/tokens", ADMIN, "{\"name\": \"t\", \"scope\": \"tester\", \"environments\": [\"production\"], \"userId\": \"tess\"}")
                    .json().get("token").asText();
            ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build();
            try {
                SubscribeRequest production = SubscribeRequest.newBuilder().setEnvironment("production").build();
                SubscribeRequest staging = SubscribeRequest.newBuilder().setEnvironment("staging").build();
                SyncMessage first = stub(channel, sdk).subscribe(production).next();
                assertThat(first.hasSnapshot() || first.hasDelta()).isTrue();
                assertThat(stub(channel, ADMIN).subscribe(staging).hasNext()).isTrue();
                for (String[] denied : new String[][] {{sdk, "staging"}, {editor, "production"}, {tester, "production"}}) {
                    SubscribeRequest request = SubscribeRequest.newBuilder().setEnvironment(denied[1]).build();
                    assertThatThrownBy(() -> stub(channel, denied[0]).subscribe(request).next())
                            .isInstanceOfSatisfying(StatusRuntimeException.class,
                                    e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED));
                }
                assertThatThrownBy(() -> FlagSyncGrpc.newBlockingStub(channel).subscribe(production).next())
                        .isInstanceOfSatisfying(StatusRuntimeException.class,
                                e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
            } finally {
                channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        }
    }
}
