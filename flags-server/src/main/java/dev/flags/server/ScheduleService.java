package dev.flags.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flags.server.auth.Principal;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.Journal;
import dev.flags.server.journal.Schedule;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.Period;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * Thread-safe. Scheduled flag changes: a flag PATCH body to apply at a time ("at 09:00 Monday, ramp
 * billing-v2 to 50%"), made, listed and cancelled by the editors and admins of the environment.
 * {@link ScheduleRunner} applies each at its time.
 *
 * <p>A schedule's patch is checked when it is made, against the flag as it will be at its time (as it is now, changed
 * by its pending schedules due by then), with the code a PATCH uses ({@link FlagService#previewInTurn}): a change that
 * could never apply is refused now, not found out at its time. It can still fail at its time (the flag changed or
 * archived meanwhile, say); that is recorded, and a write that breaks a pending schedule is told so at once.
 */
public final class ScheduleService {

    /** The furthest ahead a change may be scheduled: further is a typo, not a plan. */
    public static final Period MAX_AHEAD = Period.ofYears(1);
    /** The most pending schedules an environment holds. */
    public static final int MAX_PENDING = 1_000;
    /** What a token that may not change flags is told it may not do when it makes a schedule. */
    public static final String SCHEDULE = "schedule changes of flags";
    /** What a token that may not change flags is told it may not do when it cancels a schedule. */
    public static final String CANCEL = "cancel scheduled changes";
    private static final int RETRIES = 8;
    private static final SecureRandom IDS = new SecureRandom();

    private final Journal journal;
    private final ChangeWriter writer;
    private final FlagService flags;
    private final Clock clock;
    private final ScheduleRunner.MakerCheck whyNoLongerActing;

    /**
     * @param journal the journal, for reads
     * @param writer the write path
     * @param flags the flags, whose PATCH checks a schedule's change
     * @param clock the time "in the future" is judged by
     * @param whyNoLongerActing why a schedule's maker's token may no longer act for it, or null if it may
     *     ({@link ScheduleRunner#makerGone}, judged as the runner judges it): such a schedule will fail at its time
     */
    public ScheduleService(Journal journal, ChangeWriter writer, FlagService flags, Clock clock,
                           ScheduleRunner.MakerCheck whyNoLongerActing) {
        this.journal = Objects.requireNonNull(journal, "journal");
        this.writer = Objects.requireNonNull(writer, "writer");
        this.flags = Objects.requireNonNull(flags, "flags");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.whyNoLongerActing = Objects.requireNonNull(whyNoLongerActing, "whyNoLongerActing");
    }

    /**
     * What will become of a pending schedule at its time, as things are now.
     *
     * @param schedule the schedule
     * @param makerGone why its maker's token can no longer act (so it will fail whatever the flag is), or null
     * @param refusal what its patch would be refused with, applied to the flag as the pending schedules before it leave
     *     it, or null if it applies (or its maker is gone: it is not tried)
     */
    public record Fate(Schedule schedule, String makerGone, ApiException refusal) {
        /** @return why it will fail at its time, or null if it will apply */
        public String willFail() {
            if (makerGone != null) {
                return makerGone;
            }
            return refusal == null ? null : "it no longer applies to the flag as it will be then, after the pending schedules"
                    + " before it: " + refusal.getMessage();
        }
    }

    /**
     * The pending schedules of a flag, in the order they will apply, each with its fate: one whose maker's token can no
     * longer act will fail, and is left out when the ones after it are judged; one whose patch will not apply leaves the
     * flag as it was, as it will at its time.
     *
     * @return every pending schedule of the flag, soonest first; empty for an environment that is not there
     */
    public List<Fate> fates(String env, String key) {
        EnvironmentState state = journal.state().environments().get(env);
        if (state == null) {
            return List.of();
        }
        List<Fate> fates = new ArrayList<>();
        List<Schedule> acting = new ArrayList<>();
        for (Schedule s : state.pendingSchedules()) {
            if (s.flag().equals(key)) {
                String gone = ScheduleRunner.makerGone(s, whyNoLongerActing);
                fates.add(new Fate(s, gone, null));
                if (gone == null) {
                    acting.add(s);
                }
            }
        }
        List<ApiException> refusals;
        try {
            refusals = flags.previewInTurn(env, key, acting.stream().map(s -> s.patch().toJsonNode()).toList());
        } catch (ApiException e) { // the environment went meanwhile: nothing to judge them against
            return fates;
        }
        java.util.Map<String, ApiException> byId = new java.util.HashMap<>();
        for (int i = 0; i < acting.size(); i++) {
            byId.put(acting.get(i).id(), refusals.get(i));
        }
        fates.replaceAll(f -> f.makerGone() == null ? new Fate(f.schedule(), null, byId.get(f.schedule().id())) : f);
        return fates;
    }

    /**
     * Schedules a change of a flag.
     *
     * @param at when, an ISO-8601 instant with its offset, in the future and at most {@link #MAX_AHEAD} ahead
     * @param patch the change, a body {@code PATCH .../flags/{key}} takes
     * @return the schedule as recorded
     * @throws ApiException 403 for a token that may not change the flags; 400 for a bad {@code at} or
     *     patch, or too many pending schedules; 404, 409, 422 for a change that does not apply to the
     *     flag as it is now (as a PATCH would answer); 409 for an archived environment
     */
    public Schedule create(Principal p, String env, String key, JsonNode at, JsonNode patch, String comment) {
        Access.requireWriteFlags(p, env, SCHEDULE);
        Keys.comment(comment);
        Instant when = at(at);
        if (p.expiresAt() != null && !when.isBefore(p.expiresAt())) {
            // It would end as failed at its time ("the token that made it has expired"): say so while it can be changed.
            throw ApiException.badRequest("\"at\" (" + when + ") is not before this token expires (" + p.expiresAt() + "): a"
                    + " schedule runs only while the token that made it may act, so this one would fail; schedule it sooner, or"
                    + " with a token that lasts past it");
        }
        if (patch == null || patch.isNull()) {
            throw ApiException.badRequest("\"patch\" is required: the change, as PATCH .../flags/" + key + " takes it, such as"
                    + " {\"enabled\": false}");
        }
        String id = "sch-" + HexFormat.of().formatHex(randomBytes());
        return writer.serialized(env, () -> {
            for (int attempt = 0; ; attempt++) {
                EnvironmentState state = Access.writableEnvironment(journal, env);
                checkAt(env, state, key, when, patch); // 400, 404, 409 or 422 now, rather than a failure at its time
                ObjectNode payload = JsonNodeFactory.instance.objectNode().put("id", id).put("flag", key).put("at", when.toString());
                payload.set("patch", withRuleNames(patch, state.flags().get(key)));
                long pending = state.schedules().values().stream().filter(Schedule::pending).count();
                if (pending >= MAX_PENDING) {
                    throw ApiException.badRequest("environment \"" + env + "\" has " + pending + " pending schedules, the most it"
                            + " may have (" + MAX_PENDING + "); cancel some first");
                }
                try {
                    writer.append(Change.of(EntryType.SCHEDULE_CREATED, env, p.actor(), payload).withComment(comment)
                            .expectingVersion(state.version()));
                    return journal.state().environment(env).orElseThrow().schedules().get(id);
                } catch (ApiException e) {
                    if (e.status() != 412 || attempt >= RETRIES) {
                        throw e;
                    }
                }
            }
        });
    }

    /**
     * The pending schedules of a flag that no longer apply to it as it will be at their times (a rule they name was
     * renamed or removed, say), each checked after the ones due before it: each would end as failed at its time. Read
     * right after a write, to tell the writer at once.
     *
     * @return their ids, soonest first
     */
    public List<String> noLongerApplying(String env, String key) {
        return fates(env, key).stream().filter(f -> f.refusal() != null).map(f -> f.schedule().id()).toList();
    }

    /**
     * {@link #noLongerApplying} read before a write of the flag, by its writer: checked first that the writer may write
     * there, so that a token that may not does not have the server judge every pending schedule of the flag for nothing.
     *
     * @throws ApiException 403 as the write itself would be refused
     */
    public List<String> noLongerApplyingBefore(Principal p, String env, String key) {
        return noLongerApplyingBefore(p, env, key, "change flags");
    }

    /**
     * As {@link #noLongerApplyingBefore(Principal, String, String)}, before a schedule is made or cancelled.
     *
     * @param action what the refusal says the token may not do ("schedule changes of flags")
     */
    public List<String> noLongerApplyingBefore(Principal p, String env, String key, String action) {
        Access.requireWriteFlags(p, env, action);
        return noLongerApplying(env, key);
    }


    /**
     * Checks a new schedule's patch against the flag as it will be at its time: after the flag's pending schedules due
     * by then (those due at the same instant were made before it, so they apply first), each that would fail skipped,
     * and so each whose maker's token can no longer act.
     */
    private void checkAt(String env, EnvironmentState state, String key, Instant when, JsonNode patch) {
        List<JsonNode> inTurn = new ArrayList<>();
        for (Schedule s : state.pendingSchedules()) {
            if (s.flag().equals(key) && !s.at().isAfter(when) && ScheduleRunner.makerGone(s, whyNoLongerActing) == null) {
                inTurn.add(s.patch().toJsonNode());
            }
        }
        int before = inTurn.size();
        inTurn.add(patch);
        ApiException refusal = flags.previewInTurn(env, key, inTurn).get(before);
        if (refusal == null) {
            return;
        }
        if (refusal.status() == 400) { // PATCH's own words, which speak of "the body"
            throw ApiException.badRequest("in \"patch\": " + refusal.getMessage());
        }
        if (before == 0 || refusal.status() == 404) {
            throw refusal;
        }
        // Judged against the flag as it will be, which flags show does not show: say so, whatever the reason.
        throw new ApiException(refusal.status(), refusal.title(), refusal.getMessage() + "; that is the flag as it will be at "
                + when + ", after " + (before == 1 ? "the pending schedule" : "the " + before + " pending schedules") + " of it"
                + " due by then (flags schedules " + key + ")", refusal.extensions());
    }

    /**
     * The pending schedules that switch a flag on ({@code "enabled": true}) and will apply, soonest first: read right
     * after a write switched it off (the kill switch), since each would undo it at its time. One that will fail (its
     * maker's token can no longer act, or it no longer applies) undoes nothing: {@code flags schedules} marks it so.
     */
    public List<Schedule> switchingOn(String env, String key) {
        return fates(env, key).stream().filter(f -> f.willFail() == null).map(Fate::schedule)
                .filter(s -> s.patch().toJsonNode().path("enabled").asBoolean(false)).toList();
    }

    /**
     * The pending schedules a token made, in every environment (soonest first within each): read when it is revoked, since each
     * will fail at its time (a schedule runs only while its maker's token may act).
     *
     * @return each as {@code environment/id (flag KEY at INSTANT)}
     */
    public List<String> madeWith(String tokenId) {
        List<String> made = new ArrayList<>();
        journal.state().environments().forEach((env, state) -> state.pendingSchedules().stream()
                .filter(s -> tokenId.equals(ScheduleRunner.tokenOf(s.createdBy())))
                .forEach(s -> made.add(env + "/" + s.id() + " (flag " + s.flag() + " at " + s.at() + ")")));
        return made;
    }

    /** The pending schedules of a flag, soonest first: read before it is archived, since each will fail at its time. */
    public List<Schedule> pending(String env, String key) {
        EnvironmentState state = journal.state().environments().get(env);
        return state == null ? List.of() : state.pendingSchedules().stream().filter(s -> s.flag().equals(key)).toList();
    }

    /**
     * @param flag only this flag's schedules, or null for all
     * @param status which: {@code pending} (null: the same), {@code applied}, {@code failed}, {@code cancelled},
     *     {@code ended} (those three) or {@code all}
     * @return the pending ones soonest first, then the ended ones (the newest {@value Schedule#KEPT_ENDED}
     *     the environment keeps) latest end first: "what is next" and "what just happened" both at the top
     */
    public List<Schedule> list(Principal p, String env, String flag, String status) {
        Access.requireRead(p, env); // what is planned for a flag is as readable as the flag
        if (flag != null && flag.isEmpty()) {
            throw ApiException.badRequest("\"flag\" must name a flag; leave it out for every flag's schedules");
        }
        Predicate<Schedule> wanted = statusFilter(status == null ? "pending" : status);
        EnvironmentState state = Access.environment(journal, env);
        List<Schedule> ended = state.schedules().values().stream().filter(s -> !s.pending())
                .sorted(Comparator.comparing(Schedule::endedAt).thenComparing(Schedule::at).thenComparing(Schedule::createdAt)
                        .reversed().thenComparing(Schedule::id)).toList(); // ended together: the reverse of the order applied
        return Stream.concat(state.pendingSchedules().stream(), ended.stream())
                .filter(s -> flag == null || s.flag().equals(flag)).filter(wanted).toList();
    }

    private static Predicate<Schedule> statusFilter(String status) {
        return switch (status) {
            case "all" -> s -> true;
            case "ended" -> s -> !s.pending();
            default -> {
                Schedule.Status one = Arrays.stream(Schedule.Status.values()).filter(v -> v.apiName().equals(status)).findFirst()
                        .orElseThrow(() -> ApiException.badRequest("status must be pending, applied, failed, cancelled, ended"
                                + " or all, was " + LogText.quoted(status, 40)));
                yield s -> s.status() == one;
            }
        };
    }

    /** @return one schedule, pending or ended (the newest ended ones are kept), or 404 */
    public Schedule get(Principal p, String env, String id) {
        Access.requireRead(p, env);
        Schedule s = Access.environment(journal, env).schedules().get(id);
        if (s == null) {
            throw notFound(env, id);
        }
        return s;
    }

    /**
     * Cancels a pending schedule.
     *
     * @return the schedule, cancelled
     * @throws ApiException 404 for an unknown id; 409 for a schedule that already ended, or an archived environment
     */
    public Schedule cancel(Principal p, String env, String id, String comment) {
        Access.requireWriteFlags(p, env, CANCEL);
        Keys.comment(comment);
        // Read, appended and read again under the environment's lock, as every read-modify-write of it is: the read after
        // the append, outside it, failed when the environment (archived) was deleted for good in between, and a cancel
        // that was durable was answered 500 (QA91 F2).
        return writer.serialized(env, () -> {
            EnvironmentState state = Access.environment(journal, env);
            Schedule s = state.schedules().get(id);
            if (s == null) {
                throw notFound(env, id);
            }
            if (!s.pending()) {
                throw ApiException.conflict("schedule \"" + id + "\" in environment \"" + env + "\" already ended: "
                        + (s.status() == Schedule.Status.FAILED ? "it failed" : "it was " + s.status().apiName()) + " at "
                        + s.endedAt().truncatedTo(ChronoUnit.SECONDS));
            }
            // Also in an archived environment: its due schedules apply at its restore, unless cancelled first.
            writer.append(Change.of(EntryType.SCHEDULE_CANCELLED, env, p.actor(), JsonNodeFactory.instance.objectNode()
                    .put("id", id)).withComment(comment));
            return journal.state().environment(env).orElseThrow().schedules().get(id);
        });
    }

    /**
     * The patch with each rule it names by index named by the rule's name instead, where the rule has a
     * name no other rule has: by its time the rules may have been reordered, and "rule 0" would then be
     * another rule.
     */
    static JsonNode withRuleNames(JsonNode patch, dev.flags.server.journal.CanonicalJson flag) {
        if (flag == null || !patch.isObject()) {
            return patch;
        }
        JsonNode rules = flag.toJsonNode().path("rules");
        ObjectNode named = patch.deepCopy();
        for (java.util.Map.Entry<String, JsonNode> op : named.properties()) {
            JsonNode rule = op.getValue().path("rule");
            if (op.getValue().isObject() && rule.canConvertToInt() && rule.isIntegralNumber()) {
                JsonNode name = rules.path(rule.asInt()).path("name");
                long sameName = 0;
                for (JsonNode r : rules) {
                    sameName += name.isTextual() && name.equals(r.path("name")) ? 1 : 0;
                }
                if (name.isTextual() && !name.textValue().isEmpty() && sameName == 1) { // a shared name would be ambiguous
                    ((ObjectNode) op.getValue()).put("rule", name.textValue());
                }
            }
        }
        return named;
    }

    private static ApiException notFound(String env, String id) {
        return ApiException.notFound("schedule", "there is no schedule \"" + id + "\" in environment \"" + env + "\""
                + " (ended schedules are kept for a while only; the audit log keeps every one)");
    }

    private Instant at(JsonNode at) {
        if (at == null || at.isNull()) {
            throw ApiException.badRequest("\"at\" is required: when to apply the change, an ISO-8601 instant with its offset,"
                    + " such as \"2027-01-31T09:00:00+01:00\"");
        }
        if (!at.isTextual()) {
            throw ApiException.badRequest("\"at\" must be an ISO-8601 instant as a string, such as \"2027-01-31T09:00:00Z\"");
        }
        Instant when;
        try {
            when = OffsetDateTime.parse(at.textValue()).toInstant();
        } catch (DateTimeParseException e) {
            String shown = at.textValue().length() > 80 ? at.textValue().substring(0, 77) + "..." : at.textValue();
            throw ApiException.badRequest("\"at\" must be an ISO-8601 instant with its offset, such as \"2027-01-31T09:00:00Z\""
                    + " or \"2027-01-31T09:00:00+01:00\", was \"" + LogText.escape(shown) + "\"");
        }
        Instant asked = when;
        when = when.truncatedTo(ChronoUnit.SECONDS); // kept to the second, as expiries are
        Instant now = clock.instant();
        if (!when.isAfter(now)) {
            throw ApiException.badRequest("\"at\" must be in the future, was " + asked + (asked.equals(when) ? ""
                    : ", kept to the second as " + when) + " (the server's time is " + now + ")");
        }
        Instant latest = now.atOffset(ZoneOffset.UTC).plus(MAX_AHEAD).toInstant();
        if (when.isAfter(latest)) {
            throw ApiException.badRequest("\"at\" must be at most a year ahead (" + latest.truncatedTo(ChronoUnit.SECONDS)
                    + "), was " + when);
        }
        return when;
    }

    private static byte[] randomBytes() {
        byte[] b = new byte[6];
        IDS.nextBytes(b);
        return b;
    }
}
