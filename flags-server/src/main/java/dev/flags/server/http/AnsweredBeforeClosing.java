package dev.flags.server.http;

import io.undertow.server.HttpHandler;
import io.undertow.server.HttpServerExchange;
import io.undertow.util.AttachmentKey;
import io.undertow.util.Headers;
import io.undertow.util.StatusCodes;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Thread-safe. The HTTP port's front handler at shutdown: every request it has begun is answered before
 * the port closes, and every request after {@link #close} begins is answered {@code 503} at once.
 *
 * <p>Why: without it, closing the port cut connections whose request was still being read or answered.
 * A client then had no answer, and could not tell whether its write was applied: the journal may have
 * taken a write whose answer was still being sent. With it, a request the server took is answered, so
 * "no answer" means the request never reached the server (the port had closed), and nothing was applied.
 *
 * <p>A request counts as answered once its exchange ends, or once {@link #answeredWhole} says its answer has been sent
 * whole while the exchange goes on: the rest of a body over the limit, read and dropped after its {@code 413} (up to a
 * minute of a client trickling it), then holds no stop (it held one for the whole grace, its answer long sent).
 */
public final class AnsweredBeforeClosing implements HttpHandler {

    private static final byte[] SHUTTING_DOWN = Json.problem("shutting down", 503, "the server is shutting down and takes"
            + " no more requests; retry once it is back (it is the one server of its journal)");

    /** Counts its exchange as answered, once however often it runs. */
    private static final AttachmentKey<Runnable> ANSWERED = AttachmentKey.create(Runnable.class);

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
        // Counted down once only: at the end of the exchange, or before it if its answer went out whole earlier.
        AtomicBoolean counted = new AtomicBoolean();
        Runnable answered = () -> {
            if (counted.compareAndSet(false, true)) {
                answered();
            }
        };
        exchange.putAttachment(ANSWERED, answered);
        // Called once the answer is sent, also after a failure (Undertow ends the exchange then).
        exchange.addExchangeCompleteListener((ended, nextListener) -> {
            try {
                nextListener.proceed();
            } finally {
                answered.run();
            }
        });
        next.handleRequest(exchange);
    }

    /**
     * Says that an exchange's answer has been sent whole, though the exchange goes on (the rest of its body is read
     * and dropped): a stop no longer waits for it, and the port's close cuts it. Only for an answer that is complete;
     * a request still being read or answered must be left to end its exchange.
     *
     * @param exchange an exchange begun through this handler (any other is left alone)
     */
    static void answeredWhole(HttpServerExchange exchange) {
        Runnable answered = exchange.getAttachment(ANSWERED);
        if (answered != null) {
            answered.run();
        }
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

    /** @return the requests begun and not yet answered (one answered whole, its body being dropped, is not counted) */
    public long active() {
        synchronized (lock) {
            return active;
        }
    }

}
