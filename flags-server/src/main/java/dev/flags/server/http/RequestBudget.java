package dev.flags.server.http;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import java.time.Duration;

/**
 * Thread-safe. A token bucket per key (a token's id): {@code perMinute} requests, refilled evenly over
 * a minute, any number of them at once while the bucket holds them.
 *
 * <p>The buckets live in a Caffeine cache that forgets a bucket a minute after its last use: by then
 * it has refilled completely, so forgetting it changes no answer, and revoked tokens leave nothing
 * behind. The size bound only guards memory; only authenticated tokens reach a budget, and the server
 * holds at most 10,000 of them.
 */
final class RequestBudget {

    private static final Duration REFILL = Duration.ofMinutes(1);
    private static final long MAX_KEYS = 100_000;

    /**
     * What one request got.
     *
     * @param waitNanos 0 if admitted; otherwise how long until the next request would be
     * @param firstRefusal true for the first refusal after an admitted request (for one log line per
     *                     episode, not one per request)
     */
    record Admission(long waitNanos, boolean firstRefusal) {
        static final Admission ADMITTED = new Admission(0, false);

        boolean admitted() {
            return waitNanos == 0;
        }
    }

    private final int perMinute;
    private final Ticker ticker;
    private final Cache<String, Bucket> buckets;

    /**
     * @param perMinute the budget per key; 0 for no limit
     * @param ticker the clock (nanoseconds), a fake one in tests
     */
    RequestBudget(int perMinute, Ticker ticker) {
        this.perMinute = perMinute;
        this.ticker = ticker;
        this.buckets = Caffeine.newBuilder().ticker(ticker).expireAfterAccess(REFILL).maximumSize(MAX_KEYS).build();
    }

    /** @return the budget per minute; 0 means no limit */
    int perMinute() {
        return perMinute;
    }

    /**
     * Takes one request from the key's bucket, if it has one.
     *
     * @param key whose budget
     * @return whether the request is admitted, and if not, when it would be
     */
    Admission take(String key) {
        if (perMinute == 0) {
            return Admission.ADMITTED;
        }
        long now = ticker.read();
        return buckets.get(key, k -> new Bucket(perMinute, now)).take(now);
    }

    /**
     * Thread-safe (its method is synchronized): one key's credit and when it was last refilled. In whole
     * numbers, so that a refill is exact: a request costs a minute's nanoseconds, and every nanosecond
     * earns {@code perMinute} of credit, up to a full budget.
     */
    private static final class Bucket {
        private static final long COST = REFILL.toNanos();

        private final long perMinute;
        private final long capacity;
        private long credit;
        private long refilledAt;
        private boolean refusing;

        Bucket(int perMinute, long now) {
            this.perMinute = perMinute;
            this.capacity = perMinute * COST;
            this.credit = capacity;
            this.refilledAt = now;
        }

        synchronized Admission take(long now) {
            long elapsed = Math.min(Math.max(0, now - refilledAt), COST); // a minute refills everything
            credit = Math.min(capacity, credit + elapsed * perMinute);
            refilledAt = Math.max(refilledAt, now);
            if (credit >= COST) {
                credit -= COST;
                refusing = false;
                return Admission.ADMITTED;
            }
            boolean first = !refusing;
            refusing = true;
            return new Admission((COST - credit + perMinute - 1) / perMinute, first);
        }
    }
}
