package dev.flags.client.internal;

import java.time.Duration;
import java.util.function.DoubleSupplier;

/**
 * Not thread-safe (confined to the sync thread). Exponential backoff with jitter: the n-th delay is
 * {@code min(max, initial * 2^n)}, of which a random half to whole is taken ("equal jitter"), so that
 * a thousand SDKs that lost the same server do not come back in the same millisecond, and none waits
 * much less than the nominal delay.
 */
final class Backoff {

    private final long initialMillis;
    private final long maxMillis;
    private final DoubleSupplier random;
    private int attempts;

    /**
     * @param initial the first nominal delay
     * @param max the longest nominal delay
     * @param random numbers in [0, 1); injected so tests are exact
     */
    Backoff(Duration initial, Duration max, DoubleSupplier random) {
        this.initialMillis = Math.max(1, initial.toMillis());
        this.maxMillis = Math.max(initialMillis, max.toMillis());
        this.random = random;
    }

    /** @return the next delay in milliseconds; each call doubles the nominal delay up to the maximum */
    long nextDelayMillis() {
        long nominal = initialMillis;
        for (int i = 0; i < attempts && nominal < maxMillis; i++) {
            nominal *= 2;
        }
        nominal = Math.min(nominal, maxMillis);
        if (attempts < 62) {
            attempts++;
        }
        return jitter(nominal);
    }

    /** @return the longest delay, jittered: for errors that a quick retry cannot fix (a refused token) */
    long maxDelayMillis() {
        return jitter(maxMillis);
    }

    /** Starts again from the initial delay, once a stream has proven that it works (Syncer: one heartbeat interval). */
    void reset() {
        attempts = 0;
    }

    private long jitter(long nominal) {
        double r = Math.min(Math.max(random.getAsDouble(), 0), 1);
        return Math.max(1, nominal / 2 + (long) (r * (nominal - nominal / 2)));
    }
}
