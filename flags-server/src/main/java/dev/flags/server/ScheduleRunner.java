package dev.flags.server;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.Journal;
import dev.flags.server.journal.Schedule;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe. Applies scheduled flag changes at their time: one {@link DueTimer} for the earliest
 * pending schedule, on one daemon thread ({@code flags-schedules}), as {@link GrantExpiry} has for
 * grants.
 *
 * <p>A due schedule's patch is applied by {@link FlagService}'s write path as actor
 * {@code flags-server (schedule sch-... by <who made it>)} with the schedule's comment, so it is
 * durable, streamed to every SDK and shown in history and audit like any change. If it no longer
 * applies (the flag was archived or deleted, the rule it names is gone, the result is not valid), the
 * schedule ends as failed, with the reason, in a {@code SCHEDULE_ENDED} entry, and a WARN is logged:
 * a failed change is never retried. One that would change nothing ends as applied, unchanged.
 *
 * <p>Applied exactly once: the flag's change and the end of the schedule are one journal entry
 * ({@code SCHEDULE_APPLIED}), and the journal refuses to end a schedule that is not pending. Two
 * entries (the flag change, then "schedule done") would leave a window in which a crash keeps the
 * change and the pending schedule both, and the next start would apply it again; the opposite order
 * would lose the change. With one entry there is no such window, and a round that races a cancel (or
 * a second round) gets a 409 instead of a second change.
 *
 * <p>Schedules due while the server was stopped are applied when it starts, before its ports open; those
 * of an archived environment wait until it is restored; when the journal refuses a write (it stopped,
 * the server is shutting down) the round is tried again after {@link #RETRY}; the timer looks at the
 * clock at least every {@link #MAX_SLEEP}.
 */
public final class ScheduleRunner implements AutoCloseable {

    /** The actor's prefix: the server's name, as in the audit log's {@code actor=flags-server}. */
    public static final String ACTOR_PREFIX = "flags-server (schedule ";
    /** How soon a round that could not finish is tried again. */
    static final Duration RETRY = DueTimer.RETRY;
    /** The longest the timer sleeps before it looks at the clock again. */
    static final Duration MAX_SLEEP = DueTimer.MAX_SLEEP;
    private static final int ATTEMPTS_PER_SCHEDULE = 5;
    private static final int MAX_ACTOR = 256;
    private static final int MAX_REASON = 1_000;
    private static final Logger LOG = LoggerFactory.getLogger(ScheduleRunner.class);

    private final Journal journal;
    private final Clock clock;
    private final DueTimer timer;
    private final AtomicLong applied = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    /** The write paths, and what tells a live token, set once by {@link #start} before the timer runs anything. */
    private volatile ChangeWriter writer;
    private volatile FlagService flags;
    private volatile MakerCheck whyNoLongerActing;

    /**
     * Why the token that made a schedule may no longer act for it, or null if it may:
     * {@link dev.flags.server.auth.TokenService#whyNoLongerActing}. Revocation is judged now, expiry at the schedule's time
     * (or now, if that is sooner), so that a schedule due while its maker's token was live applies even when it is applied
     * late, and every prediction of a schedule's fate agrees with what the runner does.
     */
    @FunctionalInterface
    public interface MakerCheck {
        /**
         * @param tokenId the maker's token id, as in an actor's parentheses
         * @param madeAt when the schedule was made
         * @param dueAt the schedule's time
         * @return why the token may no longer act for it (as "was revoked", "expired at ..."), or null if it may
         */
        String whyNoLongerActing(String tokenId, Instant madeAt, Instant dueAt);
    }

    /**
     * Applies nothing until {@link #start}ed.
     *
     * @param journal the journal, for the state
     * @param clock the time schedules fall due by
     */
    public ScheduleRunner(Journal journal, Clock clock) {
        this.journal = Objects.requireNonNull(journal, "journal");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.timer = new DueTimer("flags-schedules", "apply scheduled changes", journal, clock, new DueTimer.Work() {
            @Override
            public Collection<Instant> dueTimes(EnvironmentState env) {
                return env.schedules().isEmpty() ? List.of() : env.pendingSchedules().stream().map(Schedule::at).toList();
            }

            @Override
            public boolean runDue(String environment) {
                return runDueIn(environment);
            }
        });
    }

    /**
     * Applies the schedules that fell due while the server was stopped, on the caller's thread (before
     * the ports open), and sets the timer for the next.
     *
     * @param writer the write path, for the failures it records
     * @param flags the flags' write path, which applies the changes
     * @param whyNoLongerActing why a schedule's maker's token may no longer act for it, or null if it may: a schedule
     *     whose maker's token was revoked, expired before the schedule's time, or was a replaced bootstrap admin token
     *     ends as failed instead of applying (someone who left, or who held a leaked token, must not change flags later)
     */
    public void start(ChangeWriter writer, FlagService flags, MakerCheck whyNoLongerActing) {
        this.writer = Objects.requireNonNull(writer, "writer");
        this.flags = Objects.requireNonNull(flags, "flags");
        this.whyNoLongerActing = Objects.requireNonNull(whyNoLongerActing, "whyNoLongerActing");
        timer.start();
    }

    /**
     * Called after every committed change to an environment: a schedule made for earlier than the
     * timer, or an environment restored with schedules past due, moves the timer.
     *
     * @param environment the environment's key
     */
    public void environmentChanged(String environment) {
        timer.environmentChanged(environment);
    }

    /** @return how many scheduled changes this server applied since it started */
    public long appliedCount() {
        return applied.get();
    }

    /** @return how many scheduled changes this server could not apply since it started */
    public long failedCount() {
        return failed.get();
    }

    /** @return when the timer is set for, or null if no schedule is pending */
    Instant nextAt() {
        return timer.nextAt();
    }

    /** Stops the timer; a change being applied finishes first (for at most a few seconds). */
    @Override
    public void close() {
        timer.close();
    }

    /** What the timer does when it fires: applies every due schedule, soonest first, then sets itself again. */
    void runDue() {
        timer.runRound();
    }

    /**
     * Applies the environment's due schedules, soonest first.
     *
     * @return false if some due schedule is left for the next round (the environment kept changing)
     */
    private boolean runDueIn(String environment) {
        ChangeWriter writer = this.writer;
        FlagService flags = this.flags;
        for (int attempt = 0; attempt < ATTEMPTS_PER_SCHEDULE; attempt++) {
            // Read, judged and written under the environment's lock, as every read-modify-write of it is: read outside
            // it, a write of the environment committed before a schedule's end (failed, or nothing to change) made every
            // attempt a 412, so that in a busy environment the schedule stayed pending, round after round (as QA84 F1).
            Step step = writer.serialized(environment, () -> runFirstDue(writer, flags, environment));
            if (step == Step.NONE_DUE) {
                return true;
            }
            if (step == Step.ENDED) {
                attempt = -1; // one ended: the next due schedule gets attempts of its own
            }
        }
        return false;
    }

    /** What one look at an environment's due schedules did. */
    private enum Step {
        /** No schedule of the environment is due (or it is archived, or gone). */
        NONE_DUE,
        /** The soonest due schedule ended (applied, unchanged, or failed): look again. */
        ENDED,
        /** The environment changed between its read and the schedule's write: read it again. */
        CHANGED
    }

    private Step runFirstDue(ChangeWriter writer, FlagService flags, String environment) {
        EnvironmentState env = journal.state().environment(environment).orElse(null);
        if (env == null || env.archived()) {
            return Step.NONE_DUE; // an archived environment's schedules wait for its restore
        }
        List<Schedule> pending = env.pendingSchedules();
        if (pending.isEmpty() || pending.get(0).at().isAfter(clock.instant())) {
            return Step.NONE_DUE;
        }
        return run(writer, flags, env, pending.get(0)) ? Step.ENDED : Step.CHANGED;
    }

    /**
     * Applies one due schedule, or records why it cannot be.
     *
     * @return true if the schedule ended; false if the environment changed meanwhile (read it again)
     * @throws ApiException for a write the journal refuses (500, 503): the round is tried again later
     */
    private boolean run(ChangeWriter writer, FlagService flags, EnvironmentState env, Schedule s) {
        String actor = actor(s);
        String makerGone = makerGone(s, whyNoLongerActing);
        if (makerGone != null) {
            return end(writer, env, s, actor, "failed", makerGone);
        }
        try {
            // Made by the maker's token, as its request's changes are: checked above under the environment's lock, the
            // token could still be revoked before the append (a revocation takes no environment's lock), and the change
            // landed after the revocation was answered (QA92 F2). The journal refuses it then (401), and the next look
            // ends it as failed, saying so.
            FlagService.Written w = ActingToken.actingAs(tokenOf(s.createdBy()), () -> flags.applySchedule(env.key(), s.id(),
                    s.flag(), s.patch().toJsonNode(), actor, comment(s)));
            if (w.changed()) {
                applied.incrementAndGet();
                LOG.info("schedule {} applied to flag {} in environment {} (due at {}): version {}", s.id(),
                        LogText.quoted(s.flag()), LogText.quoted(env.key()), s.at(), w.flag().version());
                return true;
            }
            return end(writer, env, s, actor, "unchanged", "the flag already was as the change makes it");
        } catch (ApiException e) {
            if (e.status() >= 500 || e.status() == 412 || e.status() == 401) {
                if (e.status() == 412 || e.status() == 401) {
                    return false; // changed meanwhile, or its maker's token revoked: read again, judged again
                }
                throw e;
            }
            // 400, 404, 409, 422: the change no longer applies, unless the environment was archived or the
            // schedule ended (a cancel, say) since it was read: read again before calling it a failure.
            EnvironmentState now = journal.state().environment(env.key()).orElse(null);
            if (now == null || now.archived() || !now.schedules().containsKey(s.id()) || !now.schedules().get(s.id()).pending()) {
                return false;
            }
            return end(writer, now, s, actor, "failed", reason(e));
        }
    }

    /** The comment of what a schedule does at its time: its own, or one that says where the change came from. */
    private static String comment(Schedule s) {
        return s.comment().isEmpty() ? "scheduled for " + s.at() + " by " + s.createdBy() : s.comment();
    }

    /**
     * Why a schedule will fail for its maker's token, or null if that token may still act: said when it ends, and
     * beforehand in the list of schedules.
     *
     * @param whyNoLongerActing why a schedule's maker's token may no longer act for it, or null: expiry judged at the
     *     schedule's time (or now, if sooner), so that the runner and every prediction judge alike
     */
    public static String makerGone(Schedule s, MakerCheck whyNoLongerActing) {
        String maker = tokenOf(s.createdBy());
        String gone = maker == null ? null : whyNoLongerActing.whyNoLongerActing(maker, s.createdAt(), s.at());
        if (gone == null) {
            return null;
        }
        return "the token that made it (" + maker + ") " + gone + ": a scheduled change runs only while its maker's token may act";
    }

    /**
     * The token id in an actor, {@code alice (tok-1a2b3c4d)}: what is in its last parentheses (a name may
     * hold parentheses of its own); null for an actor without them.
     */
    static String tokenOf(String actor) {
        int open = actor.lastIndexOf(" (");
        return open < 0 || !actor.endsWith(")") ? null : actor.substring(open + 2, actor.length() - 1);
    }

    /** Ends a schedule without a flag change, if the environment is still as it was read. */
    private boolean end(ChangeWriter writer, EnvironmentState env, Schedule s, String actor, String outcome, String reason) {
        try {
            writer.append(Change.of(EntryType.SCHEDULE_ENDED, env.key(), actor, JsonNodeFactory.instance.objectNode()
                            .put("id", s.id()).put("outcome", outcome).put("reason", reason))
                    .withComment(comment(s)).expectingVersion(env.version()));
        } catch (ApiException e) {
            if (e.status() == 412 || e.status() == 409 || e.status() == 404) {
                return false; // changed meanwhile: read it again
            }
            throw e;
        }
        if (outcome.equals("failed")) {
            failed.incrementAndGet();
            LOG.warn("schedule {} of flag {} in environment {} (due at {}, made by {}) failed and will not be retried: {}", s.id(),
                    LogText.quoted(s.flag()), LogText.quoted(env.key()), s.at(), LogText.quoted(s.createdBy()), LogText.escape(reason));
        } else {
            LOG.info("schedule {} of flag {} in environment {} (due at {}): nothing to change", s.id(), LogText.quoted(s.flag()),
                    LogText.quoted(env.key()), s.at());
        }
        return true;
    }

    /** Why a change did not apply: the API's detail, with each problem of an invalid flag. */
    private static String reason(ApiException e) {
        StringBuilder why = new StringBuilder(e.getMessage());
        Object problems = e.extensions().get("problems");
        if (problems instanceof List<?> list && list.size() > 1) {
            why.append(':');
            for (Object problem : list) {
                if (problem instanceof Map<?, ?> m) {
                    why.append(' ').append(m.get("path")).append(' ').append(m.get("message")).append(';');
                }
            }
        }
        return why.length() > MAX_REASON ? why.substring(0, MAX_REASON - 3) + "..." : why.toString();
    }

    /**
     * The actor of a schedule's change: the server, naming the schedule and who made it, within the journal's longest
     * actor. A long maker (a token name of up to 200 characters) is shortened in its name, never in its token id, the
     * {@code (tok-...)} at its end: names are free text and not unique, so the id is what tells who made it.
     */
    static String actor(Schedule s) {
        String head = ACTOR_PREFIX + s.id() + " by ";
        String by = s.createdBy();
        int room = MAX_ACTOR - head.length() - 1; // the closing parenthesis
        if (by.length() > room) {
            int open = tokenOf(by) == null ? -1 : by.lastIndexOf(" (");
            String tail = open < 0 ? "" : by.substring(open); // " (tok-...)"
            int keep = room - tail.length() - 3;
            if (keep < 1) { // no name left to shorten (a maker that is all parentheses): cut the end, as it must be
                tail = "";
                keep = room - 3;
            }
            if (Character.isHighSurrogate(by.charAt(keep - 1))) {
                keep--; // not half a character
            }
            by = by.substring(0, keep) + "..." + tail;
        }
        return head + by + ")";
    }
}
