package dev.flags.server.usage;

import dev.flags.server.TokenBucket;
import dev.flags.server.TokenBuckets;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;

/**
 * Thread-safe (its buckets are). The limits on usage reports: a server-wide {@link TokenBucket} that
 * holds a second's worth of reports and refills evenly, so {@code perSecond} reports may come at once
 * and then {@code perSecond} a second; and, inside it, at most a tenth of that for any one token.
 *
 * <p>Server-wide, because what the limit guards is the server's CPU; a share per token, because
 * otherwise one runaway application (or anyone holding one {@code sdk} token) could take it all, and
 * every other environment's reports would be refused: their flags would look unused, which is what
 * people archive. A tenth, not less: the SDKs of a fleet share one token (at the default 1,000 a
 * second, a token's 100 a second is 6,000 instances reporting every minute). A refused report costs its
 * SDK nothing but that period's marks, which it sends with the next. Time is the server's clock; a
 * clock stepped back refills nothing until it catches up, one stepped forward refills the buckets.
 */
public final class ReportRateLimit {

    /**
     * What one report got.
     *
     * @param admitted true if taken
     * @param logLine a line worth logging, once per episode of refusals (the server's, or one token's),
     *                or null
     */
    public record Admission(boolean admitted, String logLine) {
    }

    private static final Admission ADMITTED = new Admission(true, null);
    private static final Admission REFUSED = new Admission(false, null);
    /** The share of the server-wide rate one token may take: a tenth. */
    static final int TOKEN_SHARE_DIVISOR = 10;
    private static final Duration SECOND = Duration.ofSeconds(1);

    private final Clock clock;
    private final int perSecond;
    private final int perToken;
    private final TokenBucket bucket;
    private final TokenBuckets tokens;

    /**
     * @param perSecond the reports taken per second, at least 1
     * @param clock the server's clock
     * @throws IllegalArgumentException if perSecond is below 1
     */
    public ReportRateLimit(int perSecond, Clock clock) {
        if (perSecond < 1) {
            throw new IllegalArgumentException("reports per second must be at least 1, was " + perSecond);
        }
        this.clock = Objects.requireNonNull(clock, "clock");
        this.perSecond = perSecond;
        this.perToken = Math.max(1, perSecond / TOKEN_SHARE_DIVISOR);
        this.bucket = new TokenBucket(perSecond, SECOND, TokenBuckets.nanos(clock.instant()));
        this.tokens = new TokenBuckets(perToken, SECOND, clock);
    }

    /**
     * Takes a report of a token: from its share first, then from the server's.
     *
     * @param tokenId the reporting token's id (never the token itself)
     * @return whether it is taken, and a line to log when refusals start
     */
    public Admission take(String tokenId) {
        TokenBucket.Admission own = tokens.take(tokenId);
        if (!own.admitted()) {
            return !own.firstRefusal() ? REFUSED : new Admission(false, "usage: token " + tokenId + " reports more than "
                    + perToken + " a second (a tenth of --usage-reports-per-second); refusing some of its reports until"
                    + " they slow down, so that it cannot crowd out other tokens' (its SDKs report again next period)");
        }
        TokenBucket.Admission all = bucket.take(TokenBuckets.nanos(clock.instant()));
        if (all.admitted()) {
            return ADMITTED;
        }
        return !all.firstRefusal() ? REFUSED : new Admission(false, "usage: more than " + perSecond + " reports a second"
                + " (--usage-reports-per-second); refusing some until they slow down (their SDKs report again next period)");
    }

    /** @return the reports taken per second, from all tokens */
    public int perSecond() {
        return perSecond;
    }

    /** @return the reports taken per second from one token */
    public int perToken() {
        return perToken;
    }
}
