package dev.flags.server;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.Grant;
import dev.flags.server.journal.Journal;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe. Revokes role grants when they expire: at each grant's {@code expiresAt} it appends a
 * {@code ROLE_REVOKED} entry (actor {@value #ACTOR}), which the audit log shows and the sync streams
 * carry to every SDK like any revocation. One timer for the earliest expiry, on one daemon thread.
 *
 * <p>Grants that expired while the server was stopped are revoked as soon as it starts. A grant in an
 * archived environment (which accepts no changes) is revoked once the environment is restored. A
 * revocation is appended only if the environment is still at the version it was read at, so a grant
 * renewed at the same moment is never revoked by its old expiry.
 */
public final class GrantExpiry implements AutoCloseable {

    /** The actor of the revocations this class appends. */
    public static final String ACTOR = "flags-server (grant expiry)";
    /** How soon a round that could not finish (the journal stopped, say) is tried again. */
    static final Duration RETRY = Duration.ofSeconds(30);
    /** The longest the timer sleeps before it looks at the clock again. */
    static final Duration MAX_SLEEP = Duration.ofMinutes(1);
    private static final int ATTEMPTS_PER_ENVIRONMENT = 5;
    private static final Logger LOG = LoggerFactory.getLogger(GrantExpiry.class);

    private final Journal journal;
    private final Clock clock;
    private final ScheduledExecutorService timer;
    private final AtomicLong revoked = new AtomicLong();
    /** Held for a whole round, so that rounds never overlap (a round's own revocations set the timer). */
    private final Object round = new Object();
    /** The write path, once started; guarded by this. */
    private ChangeWriter writer;
    /** The timer set and when it fires; guarded by this. */
    private ScheduledFuture<?> next;
    private Instant nextAt;
    private boolean closed;

    /**
     * Revokes nothing until {@link #start}ed: the write path it revokes through tells it of changes,
     * so it is made first.
     *
     * @param journal the journal, for the state
     * @param clock the time grants expire by
     */
    public GrantExpiry(Journal journal, Clock clock) {
        this.journal = Objects.requireNonNull(journal, "journal");
        this.clock = Objects.requireNonNull(clock, "clock");
        ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "flags-grant-expiry");
            t.setDaemon(true);
            return t;
        });
        // A timer set hours ahead must not hold up a shutdown (by default, shutdown() still runs it).
        executor.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        executor.setRemoveOnCancelPolicy(true);
        this.timer = executor;
    }

    /**
     * Revokes the grants that expired while the server was stopped, on the caller's thread (the server
     * calls this before its ports open, so that no SDK is sent a grant that has expired), and sets the
     * timer for the next.
     *
     * @param writer the write path the revocations take
     */
    public void start(ChangeWriter writer) {
        synchronized (this) {
            this.writer = Objects.requireNonNull(writer, "writer");
        }
        expireDue();
    }

    /**
     * Called after every committed change to an environment: a grant made (or renewed) with an earlier
     * expiry than the timer's, or an environment restored with expired grants, moves the timer.
     *
     * @param environment the environment's key
     */
    public void environmentChanged(String environment) {
        EnvironmentState env = journal.state().environment(environment).orElse(null);
        if (env == null || env.archived() || env.grantExpiries().isEmpty()) {
            return; // every write of an environment without expiring grants stops here
        }
        Instant earliest = earliest(env);
        synchronized (this) {
            // nextAt is null during a round too: the round's end reads the state again and sets the timer anyway
            if (writer != null && (nextAt == null || earliest.isBefore(nextAt))) {
                schedule(earliest);
            }
        }
    }

    /** @return how many grants this server has revoked because they expired, since it started */
    public long revokedCount() {
        return revoked.get();
    }

    /** Stops the timer; a revocation being appended finishes first (for at most a few seconds). */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            if (next != null) {
                next.cancel(false);
            }
        }
        timer.shutdown();
        try {
            if (!timer.awaitTermination(5, TimeUnit.SECONDS)) {
                timer.shutdownNow();
            }
        } catch (InterruptedException e) {
            timer.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Sets the timer for {@code at} (at once if it has passed), replacing the one set; it sleeps at most
     * {@link #MAX_SLEEP} and then looks again, so that a wall clock stepped forward, or a host that was
     * suspended, delays a revocation by no more than that. Holds this.
     */
    private void schedule(Instant at) {
        if (closed || writer == null) {
            return;
        }
        if (next != null) {
            next.cancel(false);
        }
        long delayMillis = Math.min(MAX_SLEEP.toMillis(), Math.max(0, Duration.between(clock.instant(), at).toMillis()));
        nextAt = at;
        next = timer.schedule(this::expireDue, delayMillis, TimeUnit.MILLISECONDS);
    }

    /**
     * The timer's work: revokes every grant whose time has come, then sets the timer for the next one,
     * or, after a round that could not finish, for {@link #RETRY} later (what failed would fail again at
     * once). One round at a time.
     */
    void expireDue() {
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
                    if (!env.archived() && !env.grantExpiries().isEmpty() && !revokeExpired(env.key())) {
                        retryAt = clock.instant().plus(RETRY);
                    }
                }
            } catch (ApiException e) {
                // The journal stopped, or the server is shutting down: nothing more can be written now.
                LOG.warn("could not revoke expired role grants ({}); trying again in {} s", e.getMessage(), RETRY.toSeconds());
                retryAt = clock.instant().plus(RETRY);
            } catch (RuntimeException e) {
                LOG.error("could not revoke expired role grants; trying again in {} s", RETRY.toSeconds(), e);
                retryAt = clock.instant().plus(RETRY);
            }
            synchronized (this) {
                // Read under the lock: a grant committed after this read finds nextAt set, and moves it if it is earlier.
                Instant now = clock.instant();
                Instant earliest = null;
                Instant earliestNotDue = null; // after a failed round, what is due waits for the retry
                for (EnvironmentState env : journal.state().environments().values()) {
                    if (env.archived()) {
                        continue;
                    }
                    for (Instant e : env.grantExpiries().values()) {
                        earliest = earliest == null || e.isBefore(earliest) ? e : earliest;
                        if (e.isAfter(now) && (earliestNotDue == null || e.isBefore(earliestNotDue))) {
                            earliestNotDue = e;
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

    /** @return when the timer is set for, or null if it is not set (no grant expires) */
    synchronized Instant nextAt() {
        return nextAt;
    }

    /**
     * Revokes the environment's expired grants, each appended only if the environment has not
     * changed since it was read (else read again).
     *
     * @return false if the environment kept changing and some expired grant is left for the next round
     */
    private boolean revokeExpired(String environment) {
        ChangeWriter writer;
        synchronized (this) {
            writer = this.writer;
        }
        for (int attempt = 0; attempt < ATTEMPTS_PER_ENVIRONMENT; attempt++) {
            EnvironmentState env = journal.state().environment(environment).orElse(null);
            if (env == null || env.archived()) {
                return true;
            }
            Instant now = clock.instant();
            Map.Entry<Grant, Instant> due = env.grantExpiries().entrySet().stream()
                    .filter(g -> !g.getValue().isAfter(now)).findFirst().orElse(null);
            if (due == null) {
                return true;
            }
            Grant grant = due.getKey();
            try {
                writer.append(Change.of(EntryType.ROLE_REVOKED, environment, ACTOR, JsonNodeFactory.instance.objectNode()
                                .put("user", grant.userId()).put("role", grant.role()))
                        .withComment("the grant expired at " + due.getValue())
                        .expectingVersion(env.version()));
                revoked.incrementAndGet();
                attempt = -1; // one revoked: the next expired grant gets attempts of its own
                LOG.info("role {} of user {} in environment {} expired at {}: revoked", LogText.quoted(grant.role()),
                        LogText.quoted(grant.userId()), LogText.quoted(environment), due.getValue());
            } catch (ApiException e) {
                if (e.status() != 412 && e.status() != 409 && e.status() != 404) {
                    throw e;
                }
                // Changed (or archived, or deleted) since it was read: read it again.
            }
        }
        return false;
    }

    private static Instant earliest(EnvironmentState env) {
        Instant earliest = null;
        for (Instant at : env.grantExpiries().values()) {
            earliest = earliest == null || at.isBefore(earliest) ? at : earliest;
        }
        return earliest;
    }
}
