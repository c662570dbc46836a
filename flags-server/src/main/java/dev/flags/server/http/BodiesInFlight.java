package dev.flags.server.http;

import dev.flags.server.MinuteLog;
import io.undertow.io.IoCallback;
import io.undertow.server.HttpHandler;
import io.undertow.server.HttpServerExchange;
import io.undertow.server.protocol.http.HttpContinue;
import io.undertow.util.HeaderValues;
import io.undertow.util.Headers;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.ObjIntConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xnio.IoUtils;
import org.xnio.XnioExecutor;

/**
 * Thread-safe. Decides, on the I/O thread and before a byte of a request's body is read, whether the body may be read
 * into buffers: those buffers are outside the heap, in the memory the gRPC port's buffers share, and a client that sends
 * a body slowly holds them until it ends.
 *
 * <ul>
 *   <li>A request with a body is read only for a token that may send one: known, not expired, and not an {@code sdk}
 *       token (which may do nothing over HTTP). Any other goes to the API unread, which refuses it ({@code 401} or
 *       {@code 403}), and its connection is closed. Before, 700 connections with no token, each trickling a body of
 *       almost 1 MiB, took all of that memory: the health checks, the API and new SDK connections stalled.</li>
 *   <li>At most {@code cap} bodies are read at once, and at most an eighth of them for one token (2 for a
 *       {@code tester} token, which may write little), so that one token's clients cannot take every place; one more
 *       is answered {@code 503} with {@code Retry-After} at once, unread.</li>
 *   <li>A body declared to fit in one buffer ({@link #SMALL} bytes: a kill switch, a grant, most flag edits) takes
 *       none of those places, so that a kill switch is never refused for other clients' large bodies; of them, one
 *       token may have {@code cap / 2} read at once (at least 8; 4 for a {@code tester} token), so that one token's
 *       trickles cannot hold every connection of the HTTP port either.</li>
 *   <li>A body must have arrived {@link #BODY_DEADLINE} after its headers; a client still sending then (a trickle of a
 *       byte every few seconds, which no idle timeout ends) has its connection closed, and its place is free again
 *       (said in the log once a minute at most, with a count by token). One answered {@code 413} whose rest is still
 *       being dropped then is closed too, but neither logged so nor counted: its body did not fail to arrive.</li>
 *   <li>A request that asks for {@code Expect: 100-continue} is sent its {@code 100 Continue} here, once it has a place,
 *       and its body is read into buffers as any other's.</li>
 * </ul>
 *
 * <p>Requests without a body (GET, most DELETEs) pass as they are.
 */
public final class BodiesInFlight implements HttpHandler {

    /** How long a request's body may take to arrive: 1 MiB, the largest, at about 140 kbit/s. */
    public static final Duration BODY_DEADLINE = Duration.ofMinutes(1);
    /** A body declared at most this long is read into one buffer, and takes no place. */
    public static final int SMALL = 16 * 1024;

    /**
     * Who sends a body.
     *
     * @param tokenId the token's id
     * @param share how many of its bodies may be read at once, at most
     */
    public record Sender(String tokenId, int share) {}

    private static final Logger LOG = LoggerFactory.getLogger(BodiesInFlight.class);
    /** The id of the token whose body is read. */
    private static final io.undertow.util.AttachmentKey<String> SENDER = io.undertow.util.AttachmentKey.create(String.class);
    /** The deadline of a body being read; removed once it has arrived. */
    private static final io.undertow.util.AttachmentKey<XnioExecutor.Key> DEADLINE =
            io.undertow.util.AttachmentKey.create(XnioExecutor.Key.class);
    private static final byte[] BUSY = Json.problem("busy", 503, "the server is reading as many request bodies as it"
            + " reads at once; retry in a second");
    private static final byte[] TOKEN_BUSY = Json.problem("busy", 503, "this token's clients are sending as many request"
            + " bodies at once as one token may; retry in a second, once they are read");

    private final HttpHandler buffered;
    private final HttpHandler unread;
    private final int cap;
    private final int perToken;
    private final Duration deadline;
    private final Function<String, Sender> writer;
    private final ObjIntConsumer<HttpServerExchange> refused;
    private final AtomicInteger reading = new AtomicInteger();
    private final ConcurrentHashMap<String, AtomicInteger> readingByToken = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, AtomicInteger> smallByToken = new ConcurrentHashMap<>();
    private final AtomicBoolean warnedFull = new AtomicBoolean();
    private final Set<String> warnedTokens = ConcurrentHashMap.newKeySet();
    /** Connections closed at the deadline: one line a minute at most (any token that may write can make dozens). */
    private final MinuteLog lateBodies;

    /**
     * @param buffered reads the body into buffers, then hands the request on
     * @param unread hands the request on with its body unread
     * @param cap how many bodies may be read at once; one token's at most an eighth of it, and at least 2
     * @param deadline how long a body may take to arrive
     * @param writer who a bearer token is, if it may send a body (known, not expired, not an sdk token), with its
     *     share ({@code Integer.MAX_VALUE} for the default, an eighth of {@code cap}), else null; on the I/O thread, so
     *     cheap: a hash and a lookup
     * @param refused told of each request answered here, with its status (503): for the request counts
     */
    public BodiesInFlight(HttpHandler buffered, HttpHandler unread, int cap, Duration deadline,
            Function<String, Sender> writer, ObjIntConsumer<HttpServerExchange> refused) {
        this(buffered, unread, cap, deadline, writer, refused, java.time.Clock.systemUTC(), LOG::info);
    }

    /** As the public constructor, with the clock of the log's minutes and where its lines go (for tests). */
    BodiesInFlight(HttpHandler buffered, HttpHandler unread, int cap, Duration deadline, Function<String, Sender> writer,
            ObjIntConsumer<HttpServerExchange> refused, java.time.Clock clock, java.util.function.Consumer<String> log) {
        if (cap < 1) {
            throw new IllegalArgumentException("cap must be at least 1, was " + cap);
        }
        this.buffered = buffered;
        this.unread = unread;
        this.cap = cap;
        this.perToken = Math.max(2, cap / 8);
        this.deadline = deadline;
        this.writer = writer;
        this.refused = refused;
        this.lateBodies = new MinuteLog(clock, log, "http: ", "more connection closed so", "more connections closed so",
                "of other tokens");
    }

    /**
     * @return a quarter of the memory the JVM allows outside its heap (as much as its largest heap unless
     *     {@code -XX:MaxDirectMemorySize} says otherwise), in bodies of the API's largest size, and at least 16
     */
    public static int defaultCap() {
        return (int) Math.max(16, Runtime.getRuntime().maxMemory() / 4 / ApiServlet.MAX_BODY_BYTES);
    }

    @Override
    public void handleRequest(HttpServerExchange exchange) throws Exception {
        if (!hasBody(exchange)) {
            buffered.handleRequest(exchange); // nothing to read: passes as it is
            return;
        }
        Sender sender = sender(exchange);
        if (sender == null) {
            exchange.setPersistent(false); // the body stays unread: the connection ends with the answer
            unread.handleRequest(exchange);
            return;
        }
        String tokenId = sender.tokenId();
        exchange.putAttachment(SENDER, tokenId);
        long declared = exchange.getRequestContentLength();
        if (declared > ApiServlet.MAX_BODY_BYTES) {
            buffered.handleRequest(exchange); // refused before a byte is read (413): it takes no place
            return;
        }
        if (declared > 0 && declared <= SMALL) {
            AtomicInteger small = smallByToken.computeIfAbsent(tokenId, k -> new AtomicInteger());
            int share = sender.share() == Integer.MAX_VALUE ? Math.max(8, cap / 2) : 2 * sender.share();
            if (small.incrementAndGet() > share) {
                releaseSmall(tokenId, small);
                busy(exchange, TOKEN_BUSY);
                return;
            }
            read(exchange, tokenId, () -> releaseSmall(tokenId, small));
            return;
        }
        AtomicInteger ofToken = readingByToken.computeIfAbsent(tokenId, k -> new AtomicInteger());
        if (ofToken.incrementAndGet() > Math.min(perToken, sender.share())) {
            release(tokenId, ofToken);
            if (warnedTokens.add(tokenId)) {
                LOG.warn("http: token {} has {} request bodies being read at once, the most one token may; its next ones"
                        + " are answered 503 until some end (its clients sending bodies slowly?)", tokenId,
                        Math.min(perToken, sender.share()));
            }
            busy(exchange, TOKEN_BUSY);
            return;
        }
        if (reading.incrementAndGet() > cap) {
            reading.decrementAndGet();
            release(tokenId, ofToken);
            if (warnedFull.compareAndSet(false, true)) {
                LOG.warn("http: {} request bodies are being read at once, the most the server reads (a quarter of the memory"
                        + " the JVM allows outside its heap); more are answered 503 until some end (clients sending bodies"
                        + " slowly? ss -tn state established '( sport = :<http port> )' lists them)", cap);
            }
            busy(exchange, BUSY);
            return;
        }
        read(exchange, tokenId, () -> {
            reading.decrementAndGet();
            release(tokenId, ofToken);
        });
    }

    /**
     * Reads the body into buffers, closing the connection if it has not arrived at the deadline (see {@link
     * #bodyArrived}); {@code done} runs once the exchange ends, either way.
     */
    private void read(HttpServerExchange exchange, String tokenId, Runnable done) throws Exception {
        AtomicBoolean ended = new AtomicBoolean();
        XnioExecutor.Key timeout = exchange.getIoThread().executeAfter(() -> {
            if (!ended.get() && exchange.getAttachment(DEADLINE) != null) {
                if (BodyBuffering.dropping(exchange)) {
                    // Answered 413 already, the rest of its body (over the limit) being dropped: not a body that "had
                    // not arrived", so neither logged as one nor counted in timedOut (an operator would look for a
                    // stalled client that is not there). Still closed here, so that it holds its place no longer than
                    // any body may; said at DEBUG only (its 413 is counted with the API's answers).
                    LOG.debug("http: closed a connection from {} still sending the rest of a request body answered 413"
                            + " (token {}), {} s after its headers", exchange.getSourceAddress(), tokenId,
                            deadline.toSeconds());
                    IoUtils.safeClose(exchange.getConnection());
                    return;
                }
                lateBodies.add("token " + tokenId, () -> "closed a connection from " + exchange.getSourceAddress()
                        + " whose request body (token " + tokenId + ") had not arrived after " + deadline.toSeconds() + " s (a"
                        + " client sending its body slowly, or stalled); more within a minute are counted, not logged one by one");
                IoUtils.safeClose(exchange.getConnection());
            }
        }, deadline.toMillis(), TimeUnit.MILLISECONDS);
        exchange.putAttachment(DEADLINE, timeout);
        exchange.addExchangeCompleteListener((finished, next) -> {
            if (ended.compareAndSet(false, true)) {
                timeout.remove();
                done.run();
            }
            next.proceed();
        });
        // Undertow's buffering leaves a body sent after "Expect: 100-continue" (curl's way with a large body) unread,
        // and the worker thread then read it at the sender's pace: clients that trickled such bodies held every worker,
        // and the API and the health checks stopped (QA83 F2). So the 100 is sent here, and the body buffered as any.
        if (!HttpContinue.requiresContinueResponse(exchange)) {
            exchange.getRequestHeaders().remove(Headers.EXPECT); // none, or not needed: the body is coming already
            buffered.handleRequest(exchange);
            return;
        }
        HttpContinue.sendContinueResponse(exchange, new IoCallback() {
            @Override
            public void onComplete(HttpServerExchange continued, io.undertow.io.Sender unused) {
                continued.getRequestHeaders().remove(Headers.EXPECT); // answered: the buffering reads the body, and
                // the servlet sends no second 100
                try {
                    buffered.handleRequest(continued);
                } catch (Exception e) {
                    LOG.debug("http: reading a request body after its 100 Continue failed", e);
                    IoUtils.safeClose(continued.getConnection());
                }
            }

            @Override
            public void onException(HttpServerExchange continued, io.undertow.io.Sender unused, java.io.IOException e) {
                IoUtils.safeClose(continued.getConnection()); // the client went away before its 100 Continue
            }
        });
    }

    /** @return the id of the token whose request body is read here, or null for a request without a body */
    public static String senderOf(HttpServerExchange exchange) {
        return exchange.getAttachment(SENDER);
    }

    /**
     * @param next what handles a request once its body has been read into buffers
     * @return a handler to put between the buffering and {@code next}: the body has arrived, so its deadline no longer
     *     applies (a request whose handling takes long, a write waiting for a slow disk, is not cut)
     */
    public static HttpHandler bodyArrived(HttpHandler next) {
        return exchange -> {
            XnioExecutor.Key timeout = exchange.removeAttachment(DEADLINE);
            if (timeout != null) {
                timeout.remove();
            }
            next.handleRequest(exchange);
        };
    }

    private void release(String tokenId, AtomicInteger ofToken) {
        if (ofToken.decrementAndGet() <= 0) {
            readingByToken.remove(tokenId, ofToken); // a token with nothing in flight leaves no entry behind
            warnedTokens.remove(tokenId);
        }
        if (reading.get() < cap) {
            warnedFull.set(false);
        }
    }

    private void releaseSmall(String tokenId, AtomicInteger small) {
        if (small.decrementAndGet() <= 0) {
            smallByToken.remove(tokenId, small);
        }
    }

    /** @return the small bodies being read now (for tests) */
    int smallReading() {
        return smallByToken.values().stream().mapToInt(AtomicInteger::get).sum();
    }

    /** @return the bodies being read now */
    public int reading() {
        return reading.get();
    }

    /**
     * @return the connections closed since the start because their bodies had not arrived by the deadline (not those
     *     answered {@code 413} whose rest was still being dropped then)
     */
    public long timedOut() {
        return lateBodies.total();
    }

    private static boolean hasBody(HttpServerExchange exchange) {
        return exchange.getRequestContentLength() > 0 || exchange.getRequestHeaders().contains(Headers.TRANSFER_ENCODING);
    }

    /** The API's own check, made early: one Authorization header, a bearer token that may send a body. */
    private Sender sender(HttpServerExchange exchange) {
        HeaderValues headers = exchange.getRequestHeaders().get(Headers.AUTHORIZATION);
        if (headers == null || headers.size() != 1) {
            return null;
        }
        String header = headers.getFirst();
        if (!header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return null;
        }
        return writer.apply(header.substring(7).trim());
    }

    private void busy(HttpServerExchange exchange, byte[] problem) {
        AnsweredBeforeClosing.refuseUnread(exchange, problem);
        refused.accept(exchange, 503);
    }

}
