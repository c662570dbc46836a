package dev.flags.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.undertow.Undertow;
import io.undertow.connector.ByteBufferPool;
import io.undertow.connector.PooledByteBuffer;
import io.undertow.server.DefaultByteBufferPool;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Over real sockets, with Undertow as the server runs it: a body within the limit is handed on whole, one over it is
 * answered 413 on the I/O thread and its rest dropped within the bounds given, and the next handler never sees it.
 */
class BodyBufferingTest {

    private static final int LIMIT = 64 * 1024;
    private static final long DROP_LIMIT = 4L * LIMIT;

    private Undertow server;
    private final CountingPool pool = new CountingPool();
    private final AtomicInteger handled = new AtomicInteger();
    private final List<String> refused = new CopyOnWriteArrayList<>();

    @AfterEach
    void stop() {
        if (server != null) {
            server.stop();
        }
    }

    /** Starts a server whose next handler answers with the length of the body it reads, on a worker thread. */
    private int start(Duration dropDeadline) {
        BodyBuffering buffering = new BodyBuffering(exchange -> {
            handled.incrementAndGet();
            exchange.dispatch(() -> {
                exchange.startBlocking();
                try {
                    exchange.getResponseSender().send("read " + exchange.getInputStream().readAllBytes().length);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
        }, LIMIT, DROP_LIMIT, dropDeadline, (exchange, status) -> refused.add(exchange.getRequestMethod() + " " + status));
        server = Undertow.builder().addHttpListener(0, "127.0.0.1").setByteBufferPool(pool).setHandler(buffering).build();
        server.start();
        return ((InetSocketAddress) server.getListenerInfo().get(0).getAddress()).getPort();
    }

    private static Socket open(int port) throws IOException {
        Socket s = new Socket(InetAddress.getLoopbackAddress(), port);
        s.setSoTimeout(20_000);
        return s;
    }

    private static void head(OutputStream out, String lengthOrChunked) throws IOException {
        out.write(("POST /x HTTP/1.1\r\nHost: x\r\n" + lengthOrChunked + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    }

    private static void chunk(OutputStream out, int size) throws IOException {
        out.write((Integer.toHexString(size) + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(new byte[size]);
        out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
    }

    private static String readToEnd(Socket s) throws IOException {
        return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }

    @Test
    void aBodyWithinTheLimitIsHandedOnWholeDeclaredOrChunkedAndSentInPieces() throws Exception {
        int port = start(Duration.ofMinutes(1));
        try (Socket s = open(port)) {
            OutputStream out = s.getOutputStream();
            head(out, "Content-Length: " + LIMIT);
            out.write(new byte[LIMIT / 2]);
            out.flush(); // the rest later: the reading waits for it on the I/O thread
            out.write(new byte[LIMIT / 2]);
            head(out, "Transfer-Encoding: chunked");
            chunk(out, 1000);
            out.flush();
            chunk(out, LIMIT - 1000);
            out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String answers = readUntil(s.getInputStream(), "read " + LIMIT, 2);
            assertThat(answers.split("read " + LIMIT, -1)).as("both, whole, on one kept connection").hasSize(3);
            assertThat(answers).doesNotContain("413");
        }
        assertThat(handled).hasValue(2);
        assertThat(refused).isEmpty();
    }

    @Test
    void aBodyOverTheLimitIsAnsweredThenItsRestDroppedThenTheConnectionClosed() throws Exception {
        int port = start(Duration.ofMinutes(1));
        try (Socket declared = open(port); Socket chunked = open(port)) {
            head(declared.getOutputStream(), "Content-Length: " + (3 * LIMIT));
            declared.getOutputStream().write(new byte[3 * LIMIT]); // all of it before the answer is read
            head(chunked.getOutputStream(), "Transfer-Encoding: chunked");
            for (int i = 0; i < 3; i++) {
                chunk(chunked.getOutputStream(), LIMIT);
            }
            chunked.getOutputStream().write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(readToEnd(declared)).startsWith("HTTP/1.1 413").contains("application/problem+json")
                    .contains("the body may be at most 65536 bytes, was 196608");
            assertThat(readToEnd(chunked)).startsWith("HTTP/1.1 413").contains("the body may be at most 65536 bytes\"");
        }
        assertThat(handled).as("the API never sees it").hasValue(0);
        assertThat(refused).containsExactlyInAnyOrder("POST 413", "POST 413");
    }

    @Test
    void aBodyThatIsStillComingAtTheDropDeadlineHasItsConnectionClosed() throws Exception {
        int port = start(Duration.ofMillis(300));
        for (String framing : List.of("Content-Length: " + (2 * LIMIT), "Transfer-Encoding: chunked")) {
            try (Socket s = open(port)) {
                OutputStream out = s.getOutputStream();
                head(out, framing);
                if (framing.startsWith("Transfer")) {
                    chunk(out, LIMIT + 1);
                } else {
                    out.write(new byte[LIMIT + 1]);
                }
                out.flush(); // and the rest never comes
                assertThat(readToEnd(s)).as(framing).startsWith("HTTP/1.1 413");
            }
        }
        assertThat(handled).hasValue(0);
    }

    @Test
    void aBodyDeclaredOverTheDropLimitIsNotReadAndOneThatGoesPastItHasItsConnectionClosed() throws Exception {
        int port = start(Duration.ofMinutes(1));
        try (Socket s = open(port)) {
            head(s.getOutputStream(), "Content-Length: " + (DROP_LIMIT + 1));
            s.getOutputStream().flush();
            assertThat(readToEnd(s)).as("answered and closed with no byte of the body sent").startsWith("HTTP/1.1 413")
                    .contains("was " + (DROP_LIMIT + 1));
        }
        try (Socket s = open(port)) {
            head(s.getOutputStream(), "Transfer-Encoding: chunked");
            InputStream in = s.getInputStream();
            assertThatThrownBy(() -> {
                for (int i = 0; i < 100; i++) { // 6.4 MiB: the connection closes once 4 times the limit is past
                    chunk(s.getOutputStream(), LIMIT);
                }
                in.readAllBytes();
            }).as("closed with the rest unread: the sender cannot send on").isInstanceOf(IOException.class);
        }
        assertThat(handled).hasValue(0);
    }

    @Test
    void aBodyOverTheLimitThatAwaitsA100ContinueIsAnsweredWithoutOneAndNotAwaited() throws Exception {
        int port = start(Duration.ofMinutes(1));
        try (Socket s = open(port)) {
            head(s.getOutputStream(), "Expect: 100-continue\r\nContent-Length: " + (2 * LIMIT));
            s.getOutputStream().flush();
            assertThat(readToEnd(s)).as("closed at once, not after the drop deadline").startsWith("HTTP/1.1 413")
                    .doesNotContain("100 Continue");
        }
    }

    /**
     * Bodies that cannot be read, each as the parts sent after the request line and host (an empty part: the client ends
     * its sending there): a chunk size past what Undertow takes, arriving with the headers (so the first read fails) and
     * after them; and a body that ends before its length.
     */
    private static final List<List<String>> UNREADABLE = List.of(
            List.of("Transfer-Encoding: chunked\r\n\r\n" + "f".repeat(20) + "\r\nx\r\n"),
            List.of("Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", "f".repeat(20) + "\r\nx\r\n"),
            List.of("Content-Length: 1000\r\n\r\nabc", ""));

    /** Sends a request whose body cannot be read, and reads what comes back until the server ends the connection. */
    private static String sendUnreadable(int port, List<String> parts) throws IOException {
        try (Socket s = open(port)) {
            OutputStream out = s.getOutputStream();
            out.write(("POST /x HTTP/1.1\r\nHost: x\r\n" + parts.get(0)).getBytes(StandardCharsets.US_ASCII));
            out.flush();
            for (String part : parts.subList(1, parts.size())) {
                if (part.isEmpty()) {
                    s.shutdownOutput();
                } else {
                    out.write(part.getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                }
            }
            ByteArrayOutputStream answer = new ByteArrayOutputStream();
            try {
                s.getInputStream().transferTo(answer);
            } catch (java.net.SocketException reset) {
                // ended so, too
            }
            return answer.toString(StandardCharsets.UTF_8);
        }
    }

    @Test
    void aBodyThatCannotBeReadGivesItsBuffersBackToThePool() throws Exception {
        int port = start(Duration.ofMinutes(1));
        for (List<String> parts : UNREADABLE) {
            sendUnreadable(port, parts);
            awaitNoBuffersOut(parts.toString());
        }
        assertThat(handled).hasValue(0);
    }

    @Test
    void aBodyThatEndsBeforeItsLengthIsAnswered400AndItsConnectionClosed() throws Exception {
        int port = start(Duration.ofMinutes(1));
        // Whether the end arrives with the headers (the first read fails) or after the reading waits, the client that
        // stopped sending still reads: it is told why, not left with a bare 500 or a closed connection.
        for (List<String> parts : List.of(List.of("Content-Length: 1000\r\n\r\nabc", ""),
                List.of("Content-Length: 1000\r\n\r\n", "abc", ""))) {
            assertThat(sendUnreadable(port, parts)).as(parts.toString()).startsWith("HTTP/1.1 400")
                    .containsIgnoringCase("Connection: close").contains("application/problem+json")
                    .contains("the body could not be read: it ended before its length");
        }
        assertThat(handled).as("the API never sees them").hasValue(0);
        assertThat(refused).as("counted, and charged to their senders").containsExactly("POST 400", "POST 400");
    }

    @Test
    void chunkedFramingThatGoesOnWithoutDataHasItsConnectionClosedWhileReadOrDropped() throws Exception {
        int port = start(Duration.ofMinutes(1));
        try (Socket s = open(port)) { // trailers a client may send are read as before
            head(s.getOutputStream(), "Transfer-Encoding: chunked");
            s.getOutputStream().write("5\r\nhello\r\n0\r\nX-Checksum: 1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(readUntil(s.getInputStream(), "read 5", 1)).contains("read 5");
        }
        // Undertow keeps a trailer's bytes in a StringBuilder with no bound, for as long as they come: one connection
        // grew the heap by 581 MiB in a second with 300 MiB of them, within the limit or after it (the rest being dropped)
        for (int before : new int[] {5, LIMIT + 1}) {
            try (Socket s = open(port)) {
                OutputStream out = s.getOutputStream();
                head(out, "Transfer-Encoding: chunked");
                chunk(out, before);
                out.write("0\r\n".getBytes(StandardCharsets.US_ASCII));
                byte[] trailer = new byte[16 * 1024];
                java.util.Arrays.fill(trailer, (byte) 'x');
                assertThatThrownBy(() -> {
                    for (int i = 0; i < 64 * 64; i++) { // 64 MiB of a trailer's name, with no end
                        out.write(trailer);
                    }
                }).as("closed while the trailer still comes, " + before + " bytes into the body")
                        .isInstanceOf(IOException.class);
            }
        }
        assertThat(handled).hasValue(1);
    }

    /** Waits, within a bound, until every buffer taken from the server's pool has been given back. */
    private void awaitNoBuffersOut(String after) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (pool.out.get() != 0 && System.nanoTime() < deadline) {
            Thread.sleep(10); // the connection's own buffer goes back as it closes, on the server's I/O thread
        }
        assertThat(pool.out.get()).as("buffers not given back after " + after).isZero();
    }

    /** Undertow's pool of 16 KiB direct buffers, counting those taken and not yet given back. */
    private static final class CountingPool implements ByteBufferPool {
        private final DefaultByteBufferPool pool = new DefaultByteBufferPool(true, 16 * 1024);
        final AtomicInteger out = new AtomicInteger();

        @Override
        public PooledByteBuffer allocate() {
            PooledByteBuffer taken = pool.allocate();
            out.incrementAndGet();
            return new PooledByteBuffer() {
                private final AtomicBoolean closed = new AtomicBoolean();

                @Override
                public ByteBuffer getBuffer() {
                    return taken.getBuffer();
                }

                @Override
                public void close() {
                    if (closed.compareAndSet(false, true)) {
                        out.decrementAndGet();
                        taken.close();
                    }
                }

                @Override
                public boolean isOpen() {
                    return !closed.get();
                }
            };
        }

        @Override
        public ByteBufferPool getArrayBackedPool() {
            return pool.getArrayBackedPool();
        }

        @Override
        public void close() {
            pool.close();
        }

        @Override
        public int getBufferSize() {
            return pool.getBufferSize();
        }

        @Override
        public boolean isDirect() {
            return true;
        }
    }

    /** Reads until {@code text} has arrived {@code count} times, or the connection ends. */
    private static String readUntil(InputStream in, String text, int count) throws IOException {
        ByteArrayOutputStream seen = new ByteArrayOutputStream();
        while (seen.toString(StandardCharsets.UTF_8).split(text, -1).length <= count) {
            int b = in.read();
            if (b < 0) {
                break;
            }
            seen.write(b);
        }
        return seen.toString(StandardCharsets.UTF_8);
    }
}
