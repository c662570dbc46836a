package dev.flags.server;

import java.time.Duration;

/**
 * Thread-safe (its method is synchronized). A token bucket: {@code perPeriod} takes refilled evenly over
 * a period, any number of them at once while the bucket holds them (a full bucket is one period's
 * worth). The request budgets of the admin API (per token, per minute) and the server-wide limit on
 * usage reports (per second) are both one.
 *
 * <p>In whole numbers, so that a refill is exact: a take costs a period's nanoseconds, and every
 * nanosecond earns {@code perPeriod} of credit. Time is what the caller passes, in nanoseconds on any
 * origin: a time that goes back refills nothing until it catches up, one that jumps ahead refills the
 * bucket.
 */
public final class TokenBucket {

    /**
     * What one take got.
     *
     * @param waitNanos 0 if admitted; otherwise how long until the next take would be
     * @param firstRefusal true for a refusal with none in the period before it: the first of an episode
     *                     of overload (for one log line per episode, at most one per period while the
     *                     overload lasts, not one per refused take)
     */
    public record Admission(long waitNanos, boolean firstRefusal) {
        /** The answer to every take that is admitted. */
        public static final Admission ADMITTED = new Admission(0, false);

        /** @return true if taken */
        public boolean admitted() {
            return waitNanos == 0;
        }
    }

    private final long cost;
    private final long perPeriod;
    private final long capacity;
    /** Guarded by this. */
    private long credit;
    private long refilledAt;
    private boolean refused; // ever
    private long lastRefusedAt;

    /**
     * A full bucket.
     *
     * @param perPeriod the takes per period, at least 1
     * @param period the period, at least a nanosecond and at most about 292 years divided by perPeriod
     * @param now the time now, in nanoseconds
     * @throws IllegalArgumentException if perPeriod is below 1 or the period is not positive
     */
    public TokenBucket(long perPeriod, Duration period, long now) {
        if (perPeriod < 1 || period.isNegative() || period.isZero()) {
            throw new IllegalArgumentException("a bucket needs at least 1 take per positive period, was " + perPeriod
                    + " per " + period);
        }
        this.cost = period.toNanos();
        this.perPeriod = perPeriod;
        this.capacity = Math.multiplyExact(perPeriod, cost);
        this.credit = capacity;
        this.refilledAt = now;
    }

    /**
     * Takes one, if the bucket holds one.
     *
     * @param now the time now, in nanoseconds on the origin of the constructor's
     * @return admitted, or how long until the next take would be
     */
    public synchronized Admission take(long now) {
        refill(now);
        if (credit >= cost) {
            credit -= cost;
            return Admission.ADMITTED;
        }
        // Under a steady overload takes are admitted and refused in turn as credit trickles in: an
        // episode ends only after a whole period without a refusal, not at the next admitted take.
        boolean first = !refused || now - lastRefusedAt >= cost;
        refused = true;
        lastRefusedAt = now;
        return new Admission((cost - credit + perPeriod - 1) / perPeriod, first);
    }

    /**
     * Takes more after the fact, for work a request turned out to cost (it was admitted as one): the bucket may go
     * into debt, at most a period's worth, and refuses takes until it has refilled.
     *
     * @param takes how many takes the work was worth
     * @param now the time now, in nanoseconds on the origin of the constructor's
     */
    public synchronized void charge(long takes, long now) {
        refill(now);
        credit = Math.max(-capacity, credit - Math.min(takes, 2 * perPeriod) * cost); // no overflow, at most a period in debt
    }

    /**
     * Gives back one take, for a request that turned out to cost nothing of what the bucket guards; never beyond a full
     * bucket.
     *
     * @param now the time now, in nanoseconds on the origin of the constructor's
     */
    public synchronized void giveBack(long now) {
        refill(now);
        credit = Math.min(capacity, credit + cost);
    }

    /**
     * Whether the bucket is in debt (see {@link #charge}), without taking: work that may cost more than a take asks
     * this before it starts.
     *
     * @param now the time now, in nanoseconds on the origin of the constructor's
     * @return admitted, or how long until the debt is paid
     */
    public synchronized Admission checkNoDebt(long now) {
        refill(now);
        return credit >= 0 ? Admission.ADMITTED : new Admission((-credit + perPeriod - 1) / perPeriod, false);
    }

    private void refill(long now) {
        long elapsed = Math.min(Math.max(0, now - refilledAt), cost); // a period refills everything
        credit = Math.min(capacity, credit + elapsed * perPeriod);
        refilledAt = Math.max(refilledAt, now);
    }
}
