package dev.flags.server;

import static dev.flags.server.ServerChild.freePort;
import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.protocol.v1.SyncMessage;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gRPC port on Java NIO, the transport of every system but Linux (and of a Linux server whose native library did not
 * load): SDKs subscribe, the connection cap closes a connection over it, and on Linux the log says why it is not epoll. A
 * real child JVM, with Netty's native transport switched off as the JVM starts.
 */
class GrpcNioProcessTest {

    @TempDir
    Path dir;

    @Test
    void onNioTheGrpcPortServesSdksCapsConnectionsAndLinuxSaysWhy() throws Exception {
        int http = freePort();
        int grpc = freePort();
        Map<String, String> env = Map.of("JAVA_TOOL_OPTIONS", "-Dio.grpc.netty.shaded.io.netty.transport.noNative=true",
                "FLAGS_GRPC_MAX_CONNECTIONS", "1");
        try (ServerChild child = ServerChild.start(List.of(), env, dir.resolve("data"), http, grpc, ServerFixture.ADMIN)) {
            child.awaitLine("flag server ready");
            if (System.getProperty("os.name").toLowerCase(java.util.Locale.ROOT).startsWith("linux")) {
                assertThat(child.awaitLine("did not load")).contains("WARN").contains("runs on Java NIO")
                        .contains("explicit disabled"); // Netty's own words for the switch
            }
            ApiClient api = new ApiClient(http);
            String sdk = ServerFixture.productionWithSdkToken(api);
            ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", grpc).usePlaintext().build();
            try {
                Iterator<SyncMessage> stream = ServerFixture.subscribe(channel, sdk);
                assertThat(stream.next().hasSnapshot()).isTrue();
                api.put("/api/v1/environments/production/flags/billing-v2", ServerFixture.ADMIN, "{\"enabled\": true}");
                SyncMessage change = stream.next();
                assertThat(change.hasDelta()).as(change.toString()).isTrue();

                try (Socket second = new Socket("127.0.0.1", grpc)) {
                    second.setSoTimeout(10_000); // a guard: the server closes it at once
                    assertThat(answered(second)).as("a second connection, over the cap of 1").isFalse();
                }
                assertThat(child.awaitLine("refused a connection")).contains("1 connection is open, the most"
                        + " --grpc-max-connections allows");
            } finally {
                channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
            assertThat(child.stop()).contains("flag server stopped");
        }
    }

    /** @return true if the server answers an HTTP/2 start with its SETTINGS, false if it closes the connection */
    private static boolean answered(Socket socket) throws Exception {
        try {
            OutputStream out = socket.getOutputStream();
            out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.write(new byte[] {0, 0, 0, 0x4, 0, 0, 0, 0, 0});
            out.flush();
            DataInputStream in = new DataInputStream(socket.getInputStream());
            in.skipNBytes(3);
            return in.readUnsignedByte() == 0x4;
        } catch (EOFException | SocketException closed) {
            return false;
        }
    }
}
