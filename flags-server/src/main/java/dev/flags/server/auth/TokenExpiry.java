package dev.flags.server.auth;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe. Tells a listener the moment each token expires, so that what the token holds open (an
 * SDK's sync streams) is closed then, not at its next reconnect: a request or a new stream is refused
 * by the expiry check itself, but a stream opened before the expiry would otherwise run on for days.
 *
 * <p>One daemon thread, {@code flags-token-expiry}, owned by this object and stopped by {@link
 * #close()}. Each token with an expiry has one pending task. The delay is taken from the clock when the
 * task is armed, but the scheduler counts elapsed time, not the clock: a task wakes at least once a
 * minute and again at the expiry, and only tells the listener once the clock says the expiry has
 * passed. So a clock stepped forward (or a host resumed from suspension) delays the close by a minute
 * at most, and a token that expires in ten years is still told on time.
 *
 * <pre>{@code
 * TokenExpiry expiry = new TokenExpiry(Clock.systemUTC(), broadcaster::tokenExpired);
 * TokenService tokens = new TokenService(journal, writer::append, adminToken, broadcaster::tokenRevoked,
 *     Clock.systemUTC(), expiry);
 * // at shutdown, once the streams are closed:
 * expiry.close();
 * }</pre>
 */
public final class TokenExpiry implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(TokenExpiry.class);
    /** The longest a task sleeps before it looks at the clock again. */
    static final Duration MAX_SLEEP = Duration.ofMinutes(1);

    private final Clock clock;
    private final Consumer<String> onExpired;
    private final ScheduledThreadPoolExecutor executor;
    /** The pending task of each token; guarded by this. */
    private final Map<String, Armed> armed = new HashMap<>();
    /** Guarded by this. */
    private long generations;
    /** Guarded by this. */
    private boolean closed;

    /** A token's pending task; the generation tells a task that was replaced or cancelled from the current one. */
    private record Armed(long generation, ScheduledFuture<?> future) {
    }

    /**
     * Starts the expiry thread.
     *
     * @param clock what "now" is, as the token checks see it
     * @param onExpired told the id of each token once it has expired, on the expiry thread; it must not
     *     block (the server's closes the token's sync streams)
     * @throws NullPointerException if an argument is null
     */
    public TokenExpiry(Clock clock, Consumer<String> onExpired) {
        this.clock = Objects.requireNonNull(clock, "clock");
        this.onExpired = Objects.requireNonNull(onExpired, "onExpired");
        this.executor = new ScheduledThreadPoolExecutor(1, task -> {
            Thread t = new Thread(task, "flags-token-expiry");
            t.setDaemon(true);
            return t;
        });
        this.executor.setRemoveOnCancelPolicy(true); // a revoked token's task goes at once, not at its expiry
    }

    /**
     * Arranges for the listener to be told when a token expires: at once if it already has. Replaces
     * what was arranged for the token before. Does nothing once closed.
     *
     * @param tokenId the token's id
     * @param expiresAt when it expires
     * @throws NullPointerException if an argument is null
     */
    public synchronized void schedule(String tokenId, Instant expiresAt) {
        Objects.requireNonNull(tokenId, "tokenId");
        Objects.requireNonNull(expiresAt, "expiresAt");
        if (closed) {
            return;
        }
        Armed old = armed.remove(tokenId);
        if (old != null) {
            old.future().cancel(false);
        }
        arm(tokenId, expiresAt, ++generations);
    }

    /**
     * Forgets a token (it was revoked): the listener is not told of its expiry.
     *
     * @param tokenId the token's id
     */
    public synchronized void cancel(String tokenId) {
        Armed old = armed.remove(tokenId);
        if (old != null) {
            old.future().cancel(false);
        }
    }

    /** @return how many tokens have an expiry still to be told */
    public synchronized int pending() {
        return armed.size();
    }

    /** Guarded by this. */
    private void arm(String tokenId, Instant expiresAt, long generation) {
        long delayNanos;
        try {
            Duration remaining = Duration.between(clock.instant(), expiresAt);
            delayNanos = remaining.isNegative() ? 0 : remaining.compareTo(MAX_SLEEP) > 0 ? MAX_SLEEP.toNanos() : remaining.toNanos();
        } catch (ArithmeticException e) {
            delayNanos = MAX_SLEEP.toNanos(); // centuries away
        }
        ScheduledFuture<?> future = executor.schedule(() -> fire(tokenId, expiresAt, generation), delayNanos, TimeUnit.NANOSECONDS);
        armed.put(tokenId, new Armed(generation, future));
    }

    private void fire(String tokenId, Instant expiresAt, long generation) {
        synchronized (this) {
            Armed current = armed.get(tokenId);
            if (closed || current == null || current.generation() != generation) {
                return; // cancelled or replaced meanwhile
            }
            if (clock.instant().isBefore(expiresAt)) {
                arm(tokenId, expiresAt, generation); // a look each minute, or the clock was set back: not yet
                return;
            }
            armed.remove(tokenId);
        }
        try {
            onExpired.accept(tokenId);
        } catch (RuntimeException | Error e) { // an Error too: it went into a future nobody reads, unlogged (QA72 F2)
            LOG.warn("token {} expired, but closing what it held open failed", tokenId, e);
        }
    }

    /** Stops the expiry thread; pending expiries are not told. Idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            armed.clear();
        }
        executor.shutdownNow();
        try {
            if (!executor.awaitTermination(5, TimeUnit.SECONDS)) {
                LOG.warn("the token expiry thread did not stop within 5 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
