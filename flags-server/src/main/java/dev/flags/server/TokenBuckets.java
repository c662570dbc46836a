package dev.flags.server;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * Thread-safe (its buckets are). A {@link TokenBucket} per key (a token's id), each full when first used, on the
 * server's clock: the per-token share of usage reports ({@code usage.ReportRateLimit}) and each token's rate of gRPC
 * calls ({@code sync.CallRateLimit}). A bucket is forgotten a period after its last use, when it is full again, so
 * forgetting changes no answer; at most {@value #MAX_KEYS} are held (tokens are made by admins).
 *
 * <pre>{@code
 * TokenBuckets perToken = new TokenBuckets(100, Duration.ofSeconds(1), clock);
 * if (!perToken.take(tokenId).admitted()) { ... refuse ... }
 * }</pre>
 */
public final class TokenBuckets {

    /** The most buckets held at once. */
    static final int MAX_KEYS = 100_000;
    private static final long NANOS_PER_SECOND = 1_000_000_000L;

    private final Clock clock;
    private final long perPeriod;
    private final Duration period;
    private final Cache<String, TokenBucket> buckets;

    /**
     * @param perPeriod the takes each key may make per period, all at once while its bucket is full; at least 1
     * @param period the period a bucket refills over, evenly
     * @param clock the server's clock: one stepped back refills nothing until it catches up, one stepped forward refills
     * @throws IllegalArgumentException if perPeriod is below 1 or the period is not positive
     * @throws NullPointerException if period or clock is null
     */
    public TokenBuckets(long perPeriod, Duration period, Clock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
        this.period = Objects.requireNonNull(period, "period");
        new TokenBucket(perPeriod, period, 0); // checks both, with its message
        this.perPeriod = perPeriod;
        Ticker ticker = () -> nanos(clock.instant());
        this.buckets = Caffeine.newBuilder().ticker(ticker).expireAfterAccess(period).maximumSize(MAX_KEYS).build();
    }

    /**
     * Takes one from a key's bucket, if it holds one.
     *
     * @param key whose bucket: a token's id, never the token itself
     * @return admitted, or how long until the next take would be
     */
    public TokenBucket.Admission take(String key) {
        long now = nanos(clock.instant());
        return buckets.get(key, k -> new TokenBucket(perPeriod, period, now)).take(now);
    }

    /**
     * @param at an instant of the server's clock
     * @return it in nanoseconds since the epoch, the time {@link TokenBucket}s of the server's clock take: enough until
     *     the year 2262
     */
    public static long nanos(Instant at) {
        return at.getEpochSecond() * NANOS_PER_SECOND + at.getNano();
    }
}
