package dev.flags.server.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.undertow.server.HttpHandler;
import io.undertow.server.HttpServerExchange;
import io.undertow.util.HeaderValues;
import io.undertow.util.Headers;
import io.undertow.util.StatusCodes;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe. Decides, on the I/O thread and before a byte of a request's body is read, whether the body may be read
 * into buffers: those buffers are outside the heap, in the memory the gRPC port's buffers share, and a client that sends
 * a body slowly holds them until it ends.
 *
 * <ul>
 *   <li>A request with a body and without a token the server knows is not buffered: it goes to the API unread, which
 *       refuses it ({@code 401}) and closes the connection. Before, 700 connections with no token, each trickling
 *       a body of almost 1 MiB, took all of that memory: the health checks, the API and new SDK connections
 *       stalled.</li>
 *   <li>At most {@code cap} bodies are read at once, by any tokens; one more is answered {@code 503} with
 *       {@code Retry-After} at once, unread.</li>
 * </ul>
 *
 * <p>Requests without a body (GET, most DELETEs) pass as they are.
 */
public final class BodiesInFlight implements HttpHandler {

    private static final Logger LOG = LoggerFactory.getLogger(BodiesInFlight.class);
    private static final byte[] BUSY = busy();

    private final HttpHandler buffered;
    private final HttpHandler unread;
    private final int cap;
    private final Predicate<String> knownToken;
    private final AtomicInteger reading = new AtomicInteger();
    private final AtomicBoolean warned = new AtomicBoolean();

    /**
     * @param buffered reads the body into buffers, then hands the request on
     * @param unread hands the request on with its body unread
     * @param cap how many bodies may be read at once
     * @param knownToken whether a bearer token is one the server knows and has not expired (cheap enough for the I/O
     *     thread: a hash and a lookup)
     */
    public BodiesInFlight(HttpHandler buffered, HttpHandler unread, int cap, Predicate<String> knownToken) {
        if (cap < 1) {
            throw new IllegalArgumentException("cap must be at least 1, was " + cap);
        }
        this.buffered = buffered;
        this.unread = unread;
        this.cap = cap;
        this.knownToken = knownToken;
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
        if (!knownToken(exchange)) {
            exchange.setPersistent(false); // the body stays unread: the connection ends with the answer
            unread.handleRequest(exchange);
            return;
        }
        if (reading.incrementAndGet() > cap) {
            reading.decrementAndGet();
            if (warned.compareAndSet(false, true)) {
                LOG.warn("http: {} request bodies are being read at once, the most the server reads (a quarter of the memory"
                        + " the JVM allows outside its heap); more are answered 503 until some end (clients sending bodies"
                        + " slowly? ss -tn state established '( sport = :<http port> )' lists them)", cap);
            }
            busy(exchange);
            return;
        }
        warned.set(false);
        exchange.addExchangeCompleteListener((done, next) -> {
            reading.decrementAndGet();
            next.proceed();
        });
        buffered.handleRequest(exchange);
    }

    /** @return the bodies being read now */
    public int reading() {
        return reading.get();
    }

    private static boolean hasBody(HttpServerExchange exchange) {
        return exchange.getRequestContentLength() > 0 || exchange.getRequestHeaders().contains(Headers.TRANSFER_ENCODING);
    }

    /** The API's own check, made early: one Authorization header, a bearer token the server knows, not expired. */
    private boolean knownToken(HttpServerExchange exchange) {
        HeaderValues headers = exchange.getRequestHeaders().get(Headers.AUTHORIZATION);
        if (headers == null || headers.size() != 1) {
            return false;
        }
        String header = headers.getFirst();
        if (!header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return false;
        }
        return knownToken.test(header.substring(7).trim());
    }

    private static void busy(HttpServerExchange exchange) {
        exchange.setStatusCode(StatusCodes.SERVICE_UNAVAILABLE);
        exchange.getResponseHeaders().put(Headers.CONTENT_TYPE, "application/problem+json");
        exchange.getResponseHeaders().put(Headers.CACHE_CONTROL, "no-store");
        exchange.getResponseHeaders().put(Headers.X_CONTENT_TYPE_OPTIONS, "nosniff");
        exchange.getResponseHeaders().put(Headers.RETRY_AFTER, "1");
        exchange.setPersistent(false); // its body is not read
        exchange.getResponseSender().send(ByteBuffer.wrap(BUSY));
    }

    private static byte[] busy() {
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put("type", "about:blank");
        n.put("title", "busy");
        n.put("status", 503);
        n.put("detail", "the server is reading as many request bodies as it reads at once; retry in a second");
        try {
            return Json.MAPPER.writeValueAsBytes(n);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
