package dev.flags.server;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** Not thread-safe. A hand-written HTTP/2 client for tests: frames as an attacker sends them, which no real client does. */
final class RawH2 implements AutoCloseable {
    /** Counted down once the server has closed the connection (the reader saw its end). */
    final java.util.concurrent.CountDownLatch closedByServer = new java.util.concurrent.CountDownLatch(1);
    final Socket socket;
    final OutputStream out;
    final InputStream in;
    final ByteArrayOutputStream pending = new ByteArrayOutputStream();
    volatile long bytesRead;

    RawH2(int port) throws IOException {
        socket = new Socket("127.0.0.1", port);
        socket.setTcpNoDelay(true);
        out = socket.getOutputStream();
        in = socket.getInputStream();
        Thread reader = new Thread(() -> {
            byte[] b = new byte[65536];
            try {
                int n;
                while ((n = in.read(b)) >= 0) {
                    bytesRead += n;
                }
            } catch (IOException e) {
                // reset, or closed by the test
            }
            closedByServer.countDown();
        }, "rawh2-reader");
        reader.setDaemon(true);
        reader.start();
    }

    void preface() throws IOException {
        pending.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        frame(4, 0, 0, new byte[0]); // SETTINGS
        frame(4, 1, 0, new byte[0]); // SETTINGS ack (of the server's, in advance)
        flush();
    }

    void frame(int type, int flags, int stream, byte[] payload) {
        int len = payload.length;
        pending.write((len >>> 16) & 0xff);
        pending.write((len >>> 8) & 0xff);
        pending.write(len & 0xff);
        pending.write(type);
        pending.write(flags);
        pending.write((stream >>> 24) & 0x7f);
        pending.write((stream >>> 16) & 0xff);
        pending.write((stream >>> 8) & 0xff);
        pending.write(stream & 0xff);
        pending.writeBytes(payload);
    }

    static byte[] headerBlock(String path, String token) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        literal(b, ":method", "POST");
        literal(b, ":scheme", "http");
        literal(b, ":path", path);
        literal(b, ":authority", "localhost");
        literal(b, "content-type", "application/grpc");
        literal(b, "te", "trailers");
        if (token != null) {
            literal(b, "authorization", "Bearer " + token);
        }
        return b.toByteArray();
    }

    static void literal(ByteArrayOutputStream b, String name, String value) {
        b.write(0x00);
        string(b, name.getBytes(StandardCharsets.US_ASCII));
        string(b, value.getBytes(StandardCharsets.US_ASCII));
    }

    static void string(ByteArrayOutputStream b, byte[] s) {
        integer(b, s.length, 7, 0);
        b.writeBytes(s);
    }

    static void integer(ByteArrayOutputStream b, int value, int prefixBits, int firstByteFlags) {
        int max = (1 << prefixBits) - 1;
        if (value < max) {
            b.write(firstByteFlags | value);
            return;
        }
        b.write(firstByteFlags | max);
        value -= max;
        while (value >= 128) {
            b.write((value & 0x7f) | 0x80);
            value >>>= 7;
        }
        b.write(value);
    }

    static byte[] grpcMessage(byte[] message) {
        byte[] out = new byte[5 + message.length];
        out[1] = (byte) (message.length >>> 24);
        out[2] = (byte) (message.length >>> 16);
        out[3] = (byte) (message.length >>> 8);
        out[4] = (byte) message.length;
        System.arraycopy(message, 0, out, 5, message.length);
        return out;
    }

    static byte[] rst(int code) {
        return new byte[] {(byte) (code >>> 24), (byte) (code >>> 16), (byte) (code >>> 8), (byte) code};
    }

    void flush() throws IOException {
        out.write(pending.toByteArray());
        out.flush();
        pending.reset();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
