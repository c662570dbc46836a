package dev.flags.server.usage;

import dev.flags.server.TokenBucket;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * Thread-safe (its bucket is). The server-wide limit on usage reports: a {@link TokenBucket} that
 * holds a second's worth of reports and refills evenly, so {@code perSecond} reports may come at once
 * and then {@code perSecond} a second.
 *
 * <p>Server-wide, not per token: the SDKs of a fleet share one {@code sdk} token, and what the limit
 * guards is the server's CPU. A refused report costs its SDK nothing but that period's marks, which it
 * sends with the next. Time is the server's clock; a clock stepped back refills nothing until it
 * catches up, one stepped forward refills the bucket.
 */
public final class ReportRateLimit {

    /** What one report got. */
    public enum Admission {
        /** Taken. */
        ADMITTED,
        /** Refused; the one before was refused too. */
        REFUSED,
        /** Refused, the first since a report was taken: worth a log line, where the ones after it are not. */
        FIRST_REFUSED
    }

    private static final long NANOS_PER_SECOND = 1_000_000_000L;

    private final Clock clock;
    private final int perSecond;
    private final TokenBucket bucket;

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
        this.bucket = new TokenBucket(perSecond, Duration.ofSeconds(1), nanos(clock.instant()));
    }

    /** @return whether a report is taken now, and if not, whether it is the first refused */
    public Admission take() {
        TokenBucket.Admission a = bucket.take(nanos(clock.instant()));
        return a.admitted() ? Admission.ADMITTED : a.firstRefusal() ? Admission.FIRST_REFUSED : Admission.REFUSED;
    }

    /** @return the reports taken per second */
    public int perSecond() {
        return perSecond;
    }

    /** The clock's time in nanoseconds since the epoch: enough until the year 2262. */
    private static long nanos(Instant at) {
        return at.getEpochSecond() * NANOS_PER_SECOND + at.getNano();
    }
}
