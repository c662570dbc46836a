package dev.flags.server.usage;

import java.time.Clock;
import java.time.Instant;
import java.util.Objects;

/**
 * Thread-safe (its method is synchronized). The server-wide limit on usage reports: a token bucket that
 * holds a second's worth of reports and refills evenly, so {@code perSecond} reports may come at once
 * and then {@code perSecond} a second.
 *
 * <p>Server-wide, not per token: the SDKs of a fleet share one {@code sdk} token, and what the limit
 * guards is the server's CPU. A refused report costs its SDK nothing but that period's marks, which it
 * sends with the next. In whole numbers, so that a refill is exact: a report costs a second's
 * nanoseconds, and every nanosecond earns {@code perSecond} of credit. Time is the server's clock; a
 * clock stepped back refills nothing until it catches up, one stepped forward refills the bucket.
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

    private static final long COST = 1_000_000_000L; // a second, in nanoseconds

    private final Clock clock;
    private final long perSecond;
    private final long capacity;
    /** Guarded by this. */
    private long credit;
    private long refilledAt;
    private boolean refusing;

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
        this.capacity = perSecond * COST;
        this.credit = capacity;
        this.refilledAt = nanos(clock.instant());
    }

    /** @return whether a report is taken now, and if not, whether it is the first refused */
    public synchronized Admission take() {
        long now = nanos(clock.instant());
        long elapsed = Math.min(Math.max(0, now - refilledAt), COST); // a second refills everything
        credit = Math.min(capacity, credit + elapsed * perSecond);
        refilledAt = Math.max(refilledAt, now);
        if (credit >= COST) {
            credit -= COST;
            refusing = false;
            return Admission.ADMITTED;
        }
        boolean first = !refusing;
        refusing = true;
        return first ? Admission.FIRST_REFUSED : Admission.REFUSED;
    }

    /** @return the reports taken per second */
    public int perSecond() {
        return (int) perSecond;
    }

    private static long nanos(Instant at) {
        return at.getEpochSecond() * COST + at.getNano();
    }
}
