package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.DataInputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bound on streams per gRPC connection, as a client sees it: the server's HTTP/2 SETTINGS. */
class GrpcConnectionLimitTest {

    private static final int SETTINGS = 0x4;
    private static final int ACK = 0x1;
    private static final int MAX_CONCURRENT_STREAMS = 0x3;

    @TempDir
    Path dir;

    @Test
    void theServerAnnouncesHowManyStreamsAConnectionMayCarry() throws Exception {
        assertThat(announcedLimit(ServerFixture.config(dir.resolve("a")))).as("the default").isEqualTo(1_000);
        assertThat(announcedLimit(ServerFixture.config(dir.resolve("b")).withMaxSyncStreamsPerConnection(7))).isEqualTo(7);
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
