package dev.flags.server;

import static dev.flags.server.ServerFixture.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.protocol.v1.Acknowledgement;
import dev.flags.protocol.v1.FlagSyncGrpc;
import dev.flags.protocol.v1.SnapshotRequest;
import dev.flags.protocol.v1.SubscribeRequest;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each token's Acknowledge and GetSnapshot calls, and apart from them its Subscribe calls, on a real gRPC port (QA96): a
 * token that makes them far faster than any fleet is refused with RESOURCE_EXHAUSTED, and said once in the log; another
 * token's calls are still taken. Without the limits one token could call as fast as the port answers (subscribing again
 * and again with one instance id meets no stream cap), and other tokens' SDKs got their changes late.
 */
class GrpcCallRateTest {

    @TempDir
    Path dir;

    private final List<ManagedChannel> channels = new ArrayList<>();

    @AfterEach
    void close() throws InterruptedException {
        for (ManagedChannel c : channels) {
            c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    private FlagSyncGrpc.FlagSyncBlockingStub stub(FlagServer server, String token) {
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build();
        channels.add(channel);
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        return FlagSyncGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
    }

    /** Subscribes as an SDK instance and waits for its snapshot: its acknowledgements then name an open stream. */
    private static void subscribe(FlagSyncGrpc.FlagSyncBlockingStub stub, String instanceId) {
        assertThat(stub.subscribe(SubscribeRequest.newBuilder().setEnvironment("production").setInstanceId(instanceId)
                .build()).next().hasSnapshot()).isTrue();
    }

    private static Acknowledgement ack(String instanceId) {
        return Acknowledgement.newBuilder().setEnvironment("production").setInstanceId(instanceId).setVersion(1).build();
    }

    /** Makes calls until one is refused, at most {@code max}; returns the refusal, with how many were taken before it. */
    private static StatusRuntimeException firstRefusal(int max, int[] taken, Supplier<Object> call) {
        for (int i = 0; i < max; i++) {
            try {
                call.get();
                taken[0]++;
            } catch (StatusRuntimeException e) {
                return e;
            }
        }
        throw new AssertionError(max + " calls in a row were all taken");
    }

    @Test
    @Timeout(60)
    void aTokenFarOverTheRateIsRefusedAndSaidOnceWhileAnotherTokensCallsAreTaken() throws Exception {
        String[] flooderSecret = new String[1];
        String log = StandardErrorCapture.during(() -> {
            try (FlagServer server = FlagServer.start(ServerFixture.config(dir.resolve("data")).withGrpcCallsPerTokenPerSecond(2))) {
                ApiClient api = new ApiClient(server.httpPort());
                String flooder = ServerFixture.productionWithSdkToken(api);
                flooderSecret[0] = flooder;
                String other = api.post("/api/v1/tokens", ADMIN, "{\"name\": \"other\", \"scope\": \"sdk\","
                        + " \"environments\": [\"production\"]}").json().get("token").asText();
                FlagSyncGrpc.FlagSyncBlockingStub a = stub(server, flooder);
                FlagSyncGrpc.FlagSyncBlockingStub b = stub(server, other);
                subscribe(a, "inst-a");
                subscribe(b, "inst-b");

                int[] taken = {0};
                StatusRuntimeException refused = firstRefusal(500, taken, () -> a.acknowledge(ack("inst-a")));
                assertThat(refused.getStatus().getCode()).as(refused.toString()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                assertThat(refused.getStatus().getDescription()).isEqualTo("this token makes more than 2 Acknowledge and"
                        + " GetSnapshot calls a second, the most one token may make (the flag server's"
                        + " --grpc-calls-per-token-per-second): call again later");
                assertThat(taken[0]).as("ten seconds' worth at once, and what refilled meanwhile").isBetween(20, 120);

                int[] snapshots = {0};
                StatusRuntimeException snapshotRefused = firstRefusal(500, snapshots,
                        () -> a.getSnapshot(SnapshotRequest.newBuilder().setEnvironment("production").build()));
                assertThat(snapshotRefused.getStatus().getCode()).as("the same limit").isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                assertThat(snapshots[0]).isLessThan(100);

                b.acknowledge(ack("inst-b")); // another token's bucket
                b.getSnapshot(SnapshotRequest.newBuilder().setEnvironment("production").build());

                String metrics = api.get("/metrics", null).body();
                assertThat(metrics).contains("flags_grpc_calls_refused_total{method=\"Acknowledge\",code=\"RESOURCE_EXHAUSTED\"} 1\n")
                        .contains("flags_grpc_calls_refused_total{method=\"GetSnapshot\",code=\"RESOURCE_EXHAUSTED\"} 1\n");
            }
        });
        List<String> warnings = log.lines().filter(l -> l.contains("--grpc-calls-per-token-per-second")).toList();
        assertThat(warnings).as(log).hasSize(1);
        assertThat(warnings.get(0)).contains(" WARN ").containsPattern("sync: token tok-[0-9a-f]+ makes more than 2"
                + " Acknowledge and GetSnapshot calls a second");
        assertThat(log).doesNotContain(flooderSecret[0]);
    }

    @Test
    @Timeout(60)
    void aTokenSubscribingAgainAndAgainWithOneInstanceIdIsRefusedOnItsOwnLimit() throws Exception {
        String log = StandardErrorCapture.during(() -> {
            try (FlagServer server = FlagServer.start(ServerFixture.config(dir.resolve("data")).withGrpcCallsPerTokenPerSecond(2))) {
                ApiClient api = new ApiClient(server.httpPort());
                String flooder = ServerFixture.productionWithSdkToken(api);
                String other = api.post("/api/v1/tokens", ADMIN, "{\"name\": \"other\", \"scope\": \"sdk\","
                        + " \"environments\": [\"production\"]}").json().get("token").asText();
                FlagSyncGrpc.FlagSyncBlockingStub a = stub(server, flooder);
                subscribe(a, "inst-a");
                a.acknowledge(ack("inst-a")); // the other calls' bucket is not the subscriptions'

                // Each replaces the one before (same instance id): no stream cap, no reset stream; only the rate stops it.
                int[] taken = {1};
                StatusRuntimeException refused = firstRefusal(500, taken, () -> {
                    subscribe(a, "inst-a");
                    return null;
                });
                assertThat(refused.getStatus().getCode()).as(refused.toString()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
                assertThat(refused.getStatus().getDescription()).isEqualTo("this token makes more than 2 Subscribe calls a"
                        + " second, the most one token may make (the flag server's --grpc-calls-per-token-per-second):"
                        + " call again later");
                assertThat(taken[0]).as("ten seconds' worth at once, and what refilled meanwhile").isBetween(20, 120);

                subscribe(stub(server, other), "inst-b"); // another token's bucket
                assertThat(api.get("/metrics", null).body())
                        .contains("flags_grpc_calls_refused_total{method=\"Subscribe\",code=\"RESOURCE_EXHAUSTED\"} 1\n");
            }
        });
        assertThat(log.lines().filter(l -> l.contains("--grpc-calls-per-token-per-second")).toList()).as(log).singleElement()
                .asString().contains(" WARN ").containsPattern("sync: token tok-[0-9a-f]+ makes more than 2 Subscribe calls"
                        + " a second \\(--grpc-calls-per-token-per-second; refused first: Subscribe\\)");
    }
}
