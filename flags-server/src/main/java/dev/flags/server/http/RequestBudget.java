package dev.flags.server.http;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.flags.server.TokenBucket;
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

    private final int perMinute;
    private final Ticker ticker;
    private final Cache<String, TokenBucket> buckets;

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
    TokenBucket.Admission take(String key) {
        if (perMinute == 0) {
            return TokenBucket.Admission.ADMITTED;
        }
        long now = ticker.read();
        return buckets.get(key, k -> new TokenBucket(perMinute, REFILL, now)).take(now);
    }

    /**
     * @param key whose budget
     * @return admitted unless the key's bucket is in debt for work charged after the fact
     */
    TokenBucket.Admission checkNoDebt(String key) {
        if (perMinute == 0) {
            return TokenBucket.Admission.ADMITTED;
        }
        long now = ticker.read();
        return buckets.get(key, k -> new TokenBucket(perMinute, REFILL, now)).checkNoDebt(now);
    }

    /**
     * Gives one request back to the key's bucket (see {@link TokenBucket#giveBack}).
     *
     * @param key whose budget
     */
    void giveBack(String key) {
        if (perMinute == 0) {
            return;
        }
        long now = ticker.read();
        buckets.get(key, k -> new TokenBucket(perMinute, REFILL, now)).giveBack(now);
    }

    /**
     * Charges the key's bucket for work an admitted request turned out to cost (see {@link TokenBucket#charge}).
     *
     * @param key whose budget
     * @param takes how many requests the work was worth
     */
    void charge(String key, long takes) {
        if (perMinute == 0 || takes <= 0) {
            return;
        }
        long now = ticker.read();
        buckets.get(key, k -> new TokenBucket(perMinute, REFILL, now)).charge(takes, now);
    }
}
