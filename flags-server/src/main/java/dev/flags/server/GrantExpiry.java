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
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe. Revokes role grants when they expire: at each grant's {@code expiresAt} it appends a
 * {@code ROLE_REVOKED} entry (actor {@value #ACTOR}), which the audit log shows and the sync streams
 * carry to every SDK like any revocation. One {@link DueTimer} for the earliest expiry, on one daemon
 * thread ({@code flags-grant-expiry}).
 *
 * <p>Grants that expired while the server was stopped are revoked when it starts, before its ports
 * open. A grant in an archived environment (which accepts no changes) is revoked once the environment
 * is restored. A revocation is appended only if the environment is still at the version it was read
 * at, so a grant renewed at the same moment is never revoked by its old expiry.
 */
public final class GrantExpiry implements AutoCloseable {

    /** The actor of the revocations this class appends. */
    public static final String ACTOR = "flags-server (grant expiry)";
    /** How soon a round that could not finish (the journal stopped, say) is tried again. */
    static final Duration RETRY = DueTimer.RETRY;
    private static final int ATTEMPTS_PER_ENVIRONMENT = 5;
    private static final Logger LOG = LoggerFactory.getLogger(GrantExpiry.class);

    private final Journal journal;
    private final Clock clock;
    private final DueTimer timer;
    private final AtomicLong revoked = new AtomicLong();
    /** The write path, set once by {@link #start} before the timer runs anything. */
    private volatile ChangeWriter writer;

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
        this.timer = new DueTimer("flags-grant-expiry", "revoke expired role grants", journal, clock, new DueTimer.Work() {
            @Override
            public java.util.Collection<Instant> dueTimes(EnvironmentState env) {
                return env.grantExpiries().values();
            }

            @Override
            public boolean runDue(String environment) {
                return revokeExpired(environment);
            }
        });
    }

    /**
     * Revokes the grants that expired while the server was stopped, on the caller's thread (the server
     * calls this before its ports open, so that no SDK is sent a grant that has expired), and sets the
     * timer for the next.
     *
     * @param writer the write path the revocations take
     */
    public void start(ChangeWriter writer) {
        this.writer = Objects.requireNonNull(writer, "writer");
        timer.start();
    }

    /**
     * Called after every committed change to an environment: a grant made (or renewed) with an earlier
     * expiry than the timer's, or an environment restored with expired grants, moves the timer.
     *
     * @param environment the environment's key
     */
    public void environmentChanged(String environment) {
        timer.environmentChanged(environment);
    }

    /** @return how many grants this server has revoked because they expired, since it started */
    public long revokedCount() {
        return revoked.get();
    }

    /** Stops the timer; a revocation being appended finishes first (for at most a few seconds). */
    @Override
    public void close() {
        timer.close();
    }

    /** What the timer does when it fires: revokes every grant whose time has come, then sets itself again. */
    void expireDue() {
        timer.runRound();
    }

    /** @return when the timer is set for, or null if it is not set (no grant expires) */
    Instant nextAt() {
        return timer.nextAt();
    }

    /**
     * Revokes the environment's expired grants, each appended only if the environment has not
     * changed since it was read (else read again).
     *
     * @return false if the environment kept changing and some expired grant is left for the next round
     */
    private boolean revokeExpired(String environment) {
        ChangeWriter writer = this.writer;
        for (int attempt = 0; attempt < ATTEMPTS_PER_ENVIRONMENT; attempt++) {
            // Read and appended under the environment's lock, as every read-modify-write of it is: read outside it, a write
            // of the environment committed between the read and the append (it waited for that lock) made every attempt a
            // 412, so that in a busy environment an expired grant stayed, round after round.
            Revocation done = writer.serialized(environment, () -> revokeOneExpired(writer, environment));
            if (done == Revocation.NONE_DUE) {
                return true;
            }
            if (done == Revocation.REVOKED) {
                attempt = -1; // one revoked: the next expired grant gets attempts of its own
            }
        }
        return false;
    }

    /** What one look at an environment's expired grants did. */
    private enum Revocation {
        /** No grant of the environment is due (or it is archived, or gone). */
        NONE_DUE,
        /** One grant was revoked: look again. */
        REVOKED,
        /** The environment changed between its read and the revocation: read it again. */
        CHANGED
    }

    /** Revokes one expired grant of the environment, if it is unchanged since read. */
    private Revocation revokeOneExpired(ChangeWriter writer, String environment) {
        EnvironmentState env = journal.state().environment(environment).orElse(null);
        if (env == null || env.archived()) {
            return Revocation.NONE_DUE;
        }
        Instant now = clock.instant();
        Map.Entry<Grant, Instant> due = env.grantExpiries().entrySet().stream()
                .filter(g -> !g.getValue().isAfter(now)).findFirst().orElse(null);
        if (due == null) {
            return Revocation.NONE_DUE;
        }
        Grant grant = due.getKey();
        try {
            writer.append(Change.of(EntryType.ROLE_REVOKED, environment, ACTOR, JsonNodeFactory.instance.objectNode()
                            .put("user", grant.userId()).put("role", grant.role()))
                    .withComment("the grant expired at " + due.getValue())
                    .expectingVersion(env.version()));
        } catch (ApiException e) {
            if (e.status() != 412 && e.status() != 409 && e.status() != 404) {
                throw e;
            }
            return Revocation.CHANGED; // changed (or archived, or deleted) since it was read: read it again
        }
        revoked.incrementAndGet();
        LOG.info("role {} of user {} in environment {} expired at {}: revoked", LogText.quoted(grant.role()),
                LogText.quoted(grant.userId()), LogText.quoted(environment), due.getValue());
        return Revocation.REVOKED;
    }
}
