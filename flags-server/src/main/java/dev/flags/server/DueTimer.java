package dev.flags.server;

import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.Journal;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.Objects;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe. One timer, on one daemon thread, for work that falls due at instants the environments'
 * state holds (a grant's expiry, a scheduled change's time): it is set for the earliest, runs a round
 * of what is due then, and sets itself for the next. {@link GrantExpiry} and {@link ScheduleRunner}
 * each own one, and say what falls due and what a round does in an environment.
 *
 * <ul>
 *   <li>Nothing runs until {@link #start()}; start runs the first round on the caller's thread, so that
 *       what fell due while the server was stopped is done before its ports open.</li>
 *   <li>Rounds never overlap (a round's own writes tell the timer of changes).</li>
 *   <li>A round that could not finish (the journal refused a write, an environment kept changing) is
 *       tried again after {@link #RETRY}, not at once: what failed would fail again, in a loop. A fault of one
 *       environment's leaves that one to the retry, and the round goes on with the others.</li>
 *   <li>The timer sleeps at most {@link #MAX_SLEEP} before it looks at the clock again, so a wall clock
 *       stepped forward (or a host resumed from suspension) delays the work by that much at most.</li>
 *   <li>Archived environments are skipped (they accept no changes); their restore is a change, which
 *       sets the timer.</li>
 * </ul>
 */
final class DueTimer implements AutoCloseable {

    /** What falls due, and what is done then. */
    interface Work {
        /** @return the instants at which something in this environment (not archived) falls due */
        Collection<Instant> dueTimes(EnvironmentState env);

        /**
         * Does what is due in the environment now.
         *
         * @return false if some of it is left for a retry (the environment kept changing)
         * @throws ApiException for a write the journal refuses: the round is tried again later
         */
        boolean runDue(String environment);
    }

    /** How soon a round that could not finish is tried again. */
    static final Duration RETRY = Duration.ofSeconds(30);
    /** The longest the timer sleeps before it looks at the clock again. */
    static final Duration MAX_SLEEP = Duration.ofMinutes(1);
    private static final Logger LOG = LoggerFactory.getLogger(DueTimer.class);

    private final String what;
    private final Journal journal;
    private final Clock clock;
    private final Work work;
    private final ScheduledThreadPoolExecutor timer;
    /** Held for a whole round, so that rounds never overlap. */
    private final Object round = new Object();
    /** Guarded by this. */
    private boolean started;
    private boolean closed;
    private ScheduledFuture<?> next;
    private Instant nextAt;

    /**
     * @param threadName the timer thread's name
     * @param what what a round does, for the log ("revoke expired role grants")
     * @param journal the journal, for the state
     * @param clock the time things fall due by
     * @param work what falls due and what is done then
     */
    DueTimer(String threadName, String what, Journal journal, Clock clock, Work work) {
        this.what = Objects.requireNonNull(what, "what");
        this.journal = Objects.requireNonNull(journal, "journal");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.work = Objects.requireNonNull(work, "work");
        this.timer = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, threadName);
            t.setDaemon(true);
            return t;
        });
        // A timer set hours ahead must not hold up a shutdown (by default, shutdown() still runs it).
        timer.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        timer.setRemoveOnCancelPolicy(true);
    }

    /** Runs a round on the caller's thread, and from then on sets the timer. */
    void start() {
        synchronized (this) {
            started = true;
        }
        runRound();
    }

    /**
     * Called after every committed change to an environment: something due earlier than the timer, or
     * an environment restored with work past due, moves the timer.
     */
    void environmentChanged(String environment) {
        EnvironmentState env = journal.state().environment(environment).orElse(null);
        if (env == null || env.archived()) {
            return;
        }
        Instant earliest = null;
        for (Instant at : work.dueTimes(env)) {
            earliest = earliest == null || at.isBefore(earliest) ? at : earliest;
        }
        if (earliest == null) {
            return; // every write of an environment with nothing due stops here
        }
        synchronized (this) {
            // nextAt is null during a round too: the round's end reads the state again and sets the timer anyway
            if (nextAt == null || earliest.isBefore(nextAt)) {
                schedule(earliest);
            }
        }
    }

    /** @return when the timer is set for, or null if it is not set (nothing falls due) */
    synchronized Instant nextAt() {
        return nextAt;
    }

    /** Stops the timer; a round under way finishes first (for at most a few seconds). */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            if (next != null) {
                next.cancel(false);
            }
        }
        Timers.stop(timer);
    }

    /** Sets the timer for {@code at} (at once if it has passed), replacing the one set. Holds this. */
    private void schedule(Instant at) {
        if (closed || !started) {
            return;
        }
        if (next != null) {
            next.cancel(false);
        }
        long delayMillis = Math.min(MAX_SLEEP.toMillis(), Math.max(0, Duration.between(clock.instant(), at).toMillis()));
        nextAt = at;
        next = timer.schedule(this::runRound, delayMillis, TimeUnit.MILLISECONDS);
    }

    /**
     * Does what is due in one environment; a fault of its own (not the journal's: a refusal of one of its writes, a
     * bug) is logged and left for the retry, and the round goes on with the others: with the round ended there, every
     * environment after it in the loop waited too, at every retry while the fault lasted (QA91, QA92 notes).
     *
     * @return false if some of it is left for a retry
     * @throws ApiException 5xx, for a write the journal cannot take (stopped, shutting down): no environment can go on
     */
    private boolean runDue(String environment) {
        try {
            return work.runDue(environment);
        } catch (RuntimeException e) {
            if (e instanceof ApiException refused && refused.status() >= 500) {
                throw refused; // the journal stopped, or the server is stopping: no environment can go on
            }
            LOG.error("could not {} in environment {}; the other environments go on, this one is tried again in {} s", what,
                    LogText.quoted(environment), RETRY.toSeconds(), e);
            return false;
        }
    }

    /** The timer's work: a round in every environment that is not archived, then the timer for the next. */
    void runRound() {
        synchronized (round) {
            synchronized (this) {
                if (next != null) {
                    next.cancel(false);
                }
                next = null;
                nextAt = null;
            }
            Instant retryAt = null;
            try {
                for (EnvironmentState env : journal.state().environments().values()) {
                    if (!env.archived() && !work.dueTimes(env).isEmpty() && !runDue(env.key())) {
                        retryAt = clock.instant().plus(RETRY);
                    }
                }
            } catch (ApiException e) {
                // The journal stopped, or the server is shutting down: nothing more can be written now.
                LOG.warn("could not {} ({}); trying again in {} s", what, e.getMessage(), RETRY.toSeconds());
                retryAt = clock.instant().plus(RETRY);
            } catch (RuntimeException e) {
                LOG.error("could not {}; trying again in {} s", what, RETRY.toSeconds(), e);
                retryAt = clock.instant().plus(RETRY);
            } catch (Error e) {
                // An OutOfMemoryError on a server near its heap, say. Not caught, it ended the round before the timer was
                // set again, and went into a future nobody reads: nothing was due until some write moved the timer (QA72 F2).
                LOG.error("could not {} ({}); trying again in {} s", what, e, RETRY.toSeconds(), e);
                retryAt = clock.instant().plus(RETRY);
            }
            synchronized (this) {
                // Read under the lock: what is committed after this read finds nextAt set, and moves it if earlier.
                Instant now = clock.instant();
                Instant earliest = null;
                Instant earliestNotDue = null; // after a failed round, what is due waits for the retry
                for (EnvironmentState env : journal.state().environments().values()) {
                    if (env.archived()) {
                        continue;
                    }
                    for (Instant at : work.dueTimes(env)) {
                        earliest = earliest == null || at.isBefore(earliest) ? at : earliest;
                        if (at.isAfter(now) && (earliestNotDue == null || at.isBefore(earliestNotDue))) {
                            earliestNotDue = at;
                        }
                    }
                }
                Instant at = earliest;
                if (retryAt != null) {
                    at = earliestNotDue == null || retryAt.isBefore(earliestNotDue) ? retryAt : earliestNotDue;
                }
                if (at != null) {
                    schedule(at);
                }
            }
        }
    }
}
