package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.protocol.v1.SubscribeRequest;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * HTTP/2 "rapid reset" on the gRPC port (QA95 F3): a client with an sdk token that opens streams and resets each at
 * once is never held by the cap on open streams, and one connection kept the port's CPU busy for as long as it went on.
 * Past {@link FlagServer#MAX_RST_FRAMES} resets in {@link FlagServer#RST_WINDOW_SECONDS} its connection is closed.
 */
class GrpcRapidResetTest {

    @TempDir
    Path dir;

    @Test
    @Timeout(60)
    void aConnectionThatResetsStreamsFasterThanAnySdkIsClosed() throws Exception {
        try (FlagServer server = ServerFixture.start(dir.resolve("data"))) {
            String sdk = ServerFixture.productionWithSdkToken(new ApiClient(server.httpPort()));
            byte[] block = RawH2.headerBlock("/dev.flags.protocol.v1.FlagSync/Subscribe", sdk);
            byte[] request = RawH2.grpcMessage(SubscribeRequest.newBuilder().setEnvironment("production").setSdk("x").build()
                    .toByteArray());
            try (RawH2 raw = new RawH2(server.grpcPort())) {
                raw.preface();
                int stream = 1;
                try {
                    for (int batch = 0; batch < 2 * FlagServer.MAX_RST_FRAMES / 50 && raw.closedByServer.getCount() > 0; batch++) {
                        for (int i = 0; i < 50; i++, stream += 2) {
                            raw.frame(1, 0x4, stream, block); // HEADERS, END_HEADERS
                            raw.frame(0, 0x1, stream, request); // DATA, END_STREAM
                            raw.frame(3, 0, stream, RawH2.rst(8)); // RST_STREAM, CANCEL
                        }
                        raw.flush();
                    }
                } catch (IOException e) {
                    // the server closed the connection while the frames were still going out
                }
                assertThat(raw.closedByServer.await(20, TimeUnit.SECONDS))
                        .as("the connection closed after " + (stream / 2) + " streams reset").isTrue();
            }
            // The port still serves others.
            try (TestStream legit = TestStream.open(server.grpcPort(), sdk, "production")) {
                assertThat(legit.messages.next().hasSnapshot()).isTrue();
            }
        }
    }
}
