package dev.flags.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.undertow.Undertow;
import io.undertow.server.HttpHandler;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Over real sockets, with Undertow and the body buffering as the server runs them: which bodies are read into buffers,
 * and how many at once.
 */
class BodiesInFlightTest {

    private static final String KNOWN = "known-token";
    private static final String OTHER = "other-token";

    private Undertow server;
    private BodiesInFlight bodies;
    private final java.util.List<String> refused = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final dev.flags.server.journal.MutableClock clock =
            new dev.flags.server.journal.MutableClock(java.time.Instant.parse("2026-12-06T09:00:00Z"));
    private final java.util.List<String> log = new java.util.concurrent.CopyOnWriteArrayList<>();

    @AfterEach
    void stop() {
        if (server != null) {
            server.stop();
        }
    }

    private int start(int cap) {
        return start(cap, java.time.Duration.ofMinutes(1));
    }

    private int start(int cap, java.time.Duration deadline) {
        return start(cap, deadline, exchange -> exchange.getResponseSender().send("handled"));
    }

    private int start(int cap, java.time.Duration deadline, HttpHandler answer) {
        return start(cap, deadline, deadline, answer);
    }

    /** @param dropDeadline how long the rest of a body over the limit may take to arrive after its 413 */
    private int start(int cap, java.time.Duration deadline, java.time.Duration dropDeadline, HttpHandler answer) {
        // Its refusals are BodyBufferingTest's.
        HttpHandler buffering = new BodyBuffering(BodiesInFlight.bodyArrived(answer), ApiServlet.MAX_BODY_BYTES,
                4L * ApiServlet.MAX_BODY_BYTES, dropDeadline, (exchange, status) -> { });
        bodies = new BodiesInFlight(buffering, answer, cap, deadline,
                token -> token.equals(KNOWN) || token.equals(OTHER) ? new BodiesInFlight.Sender("tok-" + token, Integer.MAX_VALUE)
                        : null,
                (exchange, status) -> refused.add(exchange.getRequestMethod() + " " + status), clock, log::add);
        server = Undertow.builder().addHttpListener(0, "127.0.0.1").setHandler(bodies).build();
        server.start();
        return ((InetSocketAddress) server.getListenerInfo().get(0).getAddress()).getPort();
    }

    private static final int LARGE = 100_000;

    private static Socket startBody(int port, String token) throws Exception {
        return startBody(port, token, LARGE);
    }

    private static Socket startBody(int port, String token, int length) throws Exception {
        Socket s = new Socket(InetAddress.getLoopbackAddress(), port);
        s.setSoTimeout(20_000);
        OutputStream out = s.getOutputStream();
        out.write(("PUT /x HTTP/1.1\r\nHost: x\r\n" + (token == null ? "" : "Authorization: Bearer " + token + "\r\n")
                + "Content-Length: " + length + "\r\n\r\n{").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        return s;
    }

    private static String answer(Socket s) throws Exception {
        InputStream in = s.getInputStream();
        return new String(in.readNBytes(12), StandardCharsets.US_ASCII);
    }

    @Test
    void aBodyWithoutAKnownTokenIsNotReadButHandedOnAtOnce() throws Exception {
        int port = start(1);
        try (Socket noToken = startBody(port, null); Socket unknown = startBody(port, "guessed")) {
            // Handled with most of the body still unsent: nothing waited to read it into buffers.
            assertThat(answer(noToken)).isEqualTo("HTTP/1.1 200");
            assertThat(answer(unknown)).isEqualTo("HTTP/1.1 200");
            assertThat(bodies.reading()).isZero();
        }
    }

    @Test
    void atMostCapBodiesAreReadAtOnceAndOneMoreIsAnswered503UntilOneEnds() throws Exception {
        int port = start(16); // one token's share: 2
        Socket first = startBody(port, KNOWN);
        Socket second = startBody(port, KNOWN);
        awaitReading(2); // their bodies are being read (most of each to come)
        try (Socket third = startBody(port, KNOWN)) {
            String busy = new String(third.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(busy).as("a third of the same token's: over its share").startsWith("HTTP/1.1 503")
                    .contains("this token's clients are sending as many request bodies at once as one token may");
        }
        assertThat(bodies.reading()).as("the first two still hold their places").isEqualTo(2);
        try (Socket other = startBody(port, OTHER)) { // (its body may be counted as soon as its headers arrive)
            other.getOutputStream().write(" ".repeat(LARGE - 1).getBytes(StandardCharsets.US_ASCII));
            assertThat(answer(other)).as("another token is not held back").isEqualTo("HTTP/1.1 200");
        }
        try (Socket small = startBody(port, KNOWN, 20)) { // a kill switch's body: never refused for the places
            small.getOutputStream().write(" ".repeat(19).getBytes(StandardCharsets.US_ASCII));
            assertThat(answer(small)).isEqualTo("HTTP/1.1 200");
        }
        first.close();
        second.close();
        awaitReading(0);
        assertThat(refused).containsExactly("PUT 503");
    }

    @Test
    void aBodyStillArrivingAtItsDeadlineHasItsConnectionClosedAndItsPlaceFreed() throws Exception {
        int port = start(16, java.time.Duration.ofMillis(300));
        try (Socket trickle = startBody(port, KNOWN)) {
            awaitReading(1);
            assertThat(trickle.getInputStream().read()).as("closed, unanswered").isEqualTo(-1);
            awaitReading(0);
        }
    }

    @Test
    void connectionsClosedAtTheDeadlineAreLoggedOnceAMinuteWithACountByTokenAndCountedAtOnce() throws Exception {
        int port = start(16, java.time.Duration.ofMillis(300));
        for (int i = 0; i < 3; i++) {
            try (Socket trickle = startBody(port, i == 2 ? OTHER : KNOWN)) {
                assertThat(trickle.getInputStream().read()).as("closed, unanswered").isEqualTo(-1);
            }
        }
        awaitReading(0);
        assertThat(bodies.timedOut()).isEqualTo(3);
        assertThat(log).singleElement().asString().startsWith("http: closed a connection from /127.0.0.1:")
                .endsWith(" whose request body (token tok-known-token) had not arrived after 0 s (a client sending its body"
                        + " slowly, or stalled); more within a minute are counted, not logged one by one");

        clock.advance(java.time.Duration.ofMinutes(1));
        try (Socket trickle = startBody(port, KNOWN)) {
            assertThat(trickle.getInputStream().read()).isEqualTo(-1);
        }
        awaitReading(0);
        assertThat(log).hasSize(2);
        assertThat(log.get(1)).startsWith("http: 2 more connections closed so in the minute from 2026-12-06T09:00:00Z to"
                + " 2026-12-06T09:01:00Z: token tok-known-token (1), token tok-other-token (1); then closed a connection from");
        assertThat(bodies.timedOut()).isEqualTo(4);
    }

    @Test
    void theRestOfABodyOverTheLimitDroppedAfterIts413IsClosedAtTheDeadlineButNotLoggedOrCountedAsNotArrived()
            throws Exception {
        // The server's deadlines are both a minute, the drop's counted from the 413: the body's, from the headers,
        // comes first. So here, at a scale a test waits for, the drop's far off.
        int port = start(16, java.time.Duration.ofSeconds(2), java.time.Duration.ofMinutes(1),
                exchange -> exchange.getResponseSender().send("handled"));
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setSoTimeout(20_000);
            int chunk = ApiServlet.MAX_BODY_BYTES + 1;
            OutputStream out = s.getOutputStream();
            out.write(("PUT /x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KNOWN + "\r\nTransfer-Encoding: chunked"
                    + "\r\n\r\n" + Integer.toHexString(chunk) + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(new byte[chunk]);
            out.write("\r\n".getBytes(StandardCharsets.US_ASCII)); // and no more: the rest still to come
            out.flush();
            InputStream in = s.getInputStream();
            assertThat(new String(in.readNBytes(12), StandardCharsets.US_ASCII)).isEqualTo("HTTP/1.1 413");
            // Its answer has gone out whole (and its side of the connection is shut); the rest of the body is being
            // dropped until the connection is closed at the body's deadline, which frees its place (the client still
            // holds its socket open: the close is the server's).
            awaitReading(0);
        }
        assertThat(bodies.timedOut()).as("answered, so not a body that had not arrived").isZero();
        assertThat(log).isEmpty();
    }

    @Test
    void aRequestWhoseBodyArrivedIsNotCutAtTheDeadlineHoweverLongItsHandlingTakes() throws Exception {
        // Answered 400 ms after its body arrived, by a timer on the same I/O thread as the deadline's (100 ms): the
        // deadline's task runs first, and must leave the connection alone.
        HttpHandler slow = exchange -> exchange.dispatch(io.undertow.util.SameThreadExecutor.INSTANCE, () ->
                exchange.getIoThread().executeAfter(() -> exchange.getResponseSender().send("late"), 400,
                        java.util.concurrent.TimeUnit.MILLISECONDS));
        int port = start(16, java.time.Duration.ofMillis(100), slow);
        try (Socket s = startBody(port, KNOWN, LARGE)) {
            s.getOutputStream().write(" ".repeat(LARGE - 1).getBytes(StandardCharsets.US_ASCII));
            assertThat(answer(s)).isEqualTo("HTTP/1.1 200");
        }
    }

    @Test
    void oneTokensSmallBodiesHaveAShareTooSoItsTricklesCannotHoldEveryConnection() throws Exception {
        int port = start(16); // small share of a token: 8
        java.util.List<Socket> trickles = new java.util.ArrayList<>();
        try {
            for (int i = 0; i < 8; i++) {
                trickles.add(startBody(port, KNOWN, 20));
            }
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (bodies.smallReading() != 8) { // all eight being read before the ninth comes
                assertThat(System.nanoTime()).as("small bodies being read: %s", bodies.smallReading()).isLessThan(deadline);
                Thread.sleep(5);
            }
            try (Socket ninth = startBody(port, KNOWN, 20)) {
                String busy = new String(ninth.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertThat(busy).startsWith("HTTP/1.1 503").contains("as many request bodies at once as one token may");
            }
            try (Socket other = startBody(port, OTHER, 20)) {
                other.getOutputStream().write(" ".repeat(19).getBytes(StandardCharsets.US_ASCII));
                assertThat(answer(other)).as("another token's kill switch").isEqualTo("HTTP/1.1 200");
            }
        } finally {
            for (Socket t : trickles) {
                t.close();
            }
        }
    }

    @Test
    void atMostCapBodiesAreReadAtOnceInAll() throws Exception {
        int port = start(1);
        Socket first = startBody(port, KNOWN);
        awaitReading(1); // its body is being read (most of it to come)
        try (Socket second = startBody(port, OTHER)) {
            String busy = new String(second.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(busy).startsWith("HTTP/1.1 503").contains("Retry-After: 1").contains("\"title\" : \"busy\"");
        }
        first.close(); // a client that goes away mid-body gives its place back
        awaitReading(0);
        try (Socket third = startBody(port, KNOWN)) {
            third.getOutputStream().write(" ".repeat(LARGE - 1).getBytes(StandardCharsets.US_ASCII));
            assertThat(answer(third)).isEqualTo("HTTP/1.1 200");
        }
        awaitReading(0);
    }

    private void awaitReading(int n) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (bodies.reading() != n) {
            assertThat(System.nanoTime()).as("bodies being read: %s, expected %s", bodies.reading(), n).isLessThan(deadline);
            Thread.sleep(5);
        }
    }
}
