package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.Iterator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SDKs that cannot sync show in the metrics by why, not only as fewer streams. */
class RefusedCallsTest {

    @TempDir
    Path dir;

    @Test
    void callsRefusedBeforeAnythingIsSentAreCountedByMethodAndCodeAndAServedStreamIsNot() throws Exception {
        try (FlagServer server = ServerFixture.start(dir.resolve("data"))) {
            ApiClient api = new ApiClient(server.httpPort());
            String sdk = ServerFixture.productionWithSdkToken(api);
            ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build();
            try {
                Iterator<dev.flags.protocol.v1.SyncMessage> served = ServerFixture.subscribe(channel, sdk);
                assertThat(served.next().hasSnapshot()).isTrue();
                for (int i = 0; i < 2; i++) {
                    StatusRuntimeException unknown = catchThrowableOfType(
                            () -> ServerFixture.subscribe(channel, "flg_guessed-0123456789").hasNext(), StatusRuntimeException.class);
                    assertThat(unknown.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
                }
                io.grpc.Metadata headers = new io.grpc.Metadata();
                headers.put(io.grpc.Metadata.Key.of("authorization", io.grpc.Metadata.ASCII_STRING_MARSHALLER), "Bearer " + sdk);
                StatusRuntimeException typo = catchThrowableOfType(() -> dev.flags.protocol.v1.FlagSyncGrpc.newBlockingStub(channel)
                        .withInterceptors(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(headers))
                        .subscribe(dev.flags.protocol.v1.SubscribeRequest.newBuilder().setEnvironment("prodution").build())
                        .hasNext(), StatusRuntimeException.class);
                assertThat(typo.getStatus().getCode()).as("a token of another environment").isEqualTo(Status.Code.PERMISSION_DENIED);
            } finally {
                channel.shutdownNow();
            }
            String metrics = api.get("/metrics", null).body();
            assertThat(metrics).contains("# TYPE flags_grpc_calls_refused_total counter\n")
                    .contains("\nflags_grpc_calls_refused_total{method=\"Subscribe\",code=\"UNAUTHENTICATED\"} 2\n")
                    .contains("\nflags_grpc_calls_refused_total{method=\"Subscribe\",code=\"PERMISSION_DENIED\"} 1\n")
                    .doesNotContain("code=\"OK\"").doesNotContain("code=\"CANCELLED\"");
        }
    }
}
