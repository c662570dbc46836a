package dev.flags.server.http;

import io.undertow.server.HttpHandler;
import io.undertow.server.HttpServerExchange;
import io.undertow.util.Headers;
import io.undertow.util.StatusCodes;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Objects;

/**
 * Thread-safe. The HTTP port's front handler at shutdown: every request it has begun is answered before
 * the port closes, and every request after {@link #close} begins is answered {@code 503} at once.
 *
 * <p>Why: without it, closing the port cut connections whose request was still being read or answered.
 * A client then had no answer, and could not tell whether its write was applied: the journal may have
 * taken a write whose answer was still being sent. With it, a request the server took is answered, so
 * "no answer" means the request never reached the server (the port had closed), and nothing was applied.
 */
public final class AnsweredBeforeClosing implements HttpHandler {

    private static final byte[] SHUTTING_DOWN = Json.problem("shutting down", 503, "the server is shutting down and takes"
            + " no more requests; retry once it is back (it is the one server of its journal)");

    private final HttpHandler next;
    private final Object lock = new Object();
    /** Requests begun and not yet answered; guarded by {@code lock}. */
    private long active;
    /** Whether {@link #close} has begun; guarded by {@code lock}. */
    private boolean closing;

    /** @param next the handler that answers requests until shutdown */
    public AnsweredBeforeClosing(HttpHandler next) {
        this.next = Objects.requireNonNull(next, "next");
    }

    @Override
    public void handleRequest(HttpServerExchange exchange) throws Exception {
        synchronized (lock) {
            if (!closing) {
                active++;
            } else {
                refuse(exchange);
                return;
            }
        }
        // Called once the answer is sent, also after a failure (Undertow ends the exchange then).
        exchange.addExchangeCompleteListener((ended, nextListener) -> {
            try {
                nextListener.proceed();
            } finally {
                answered();
            }
        });
        next.handleRequest(exchange);
    }

    private void answered() {
        synchronized (lock) {
            active--;
            if (active == 0) {
                lock.notifyAll();
            }
        }
    }

    private static void refuse(HttpServerExchange exchange) {
        refuseUnread(exchange, SHUTTING_DOWN);
    }

    /**
     * Answers 503 with {@code Retry-After: 1}, the request's body unread, and closes the connection after it (the unread
     * body would otherwise be taken for the next request).
     */
    static void refuseUnread(HttpServerExchange exchange, byte[] problem) {
        exchange.setStatusCode(StatusCodes.SERVICE_UNAVAILABLE);
        exchange.getResponseHeaders().put(Headers.CONTENT_TYPE, "application/problem+json");
        exchange.getResponseHeaders().put(Headers.CACHE_CONTROL, "no-store");
        exchange.getResponseHeaders().put(Headers.X_CONTENT_TYPE_OPTIONS, "nosniff");
        exchange.getResponseHeaders().put(Headers.CONNECTION, "close");
        exchange.getResponseHeaders().put(Headers.RETRY_AFTER, "1");
        exchange.setPersistent(false);
        exchange.getResponseSender().send(ByteBuffer.wrap(problem));
    }

    /**
     * Answers every later request {@code 503}, and waits until each request begun before is answered.
     *
     * @param grace how long to wait at most
     * @return true if every request begun before was answered in that time
     * @throws InterruptedException if interrupted while waiting
     */
    public boolean close(Duration grace) throws InterruptedException {
        long deadline = System.nanoTime() + grace.toNanos();
        synchronized (lock) {
            closing = true;
            while (active > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                lock.wait(Math.max(1, left / 1_000_000));
            }
            return true;
        }
    }

    /** @return the requests begun and not yet answered */
    public long active() {
        synchronized (lock) {
            return active;
        }
    }

}
