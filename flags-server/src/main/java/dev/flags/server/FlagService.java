package dev.flags.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flags.core.Flag;
import dev.flags.core.FlagFormat;
import dev.flags.core.FlagValidationException;
import dev.flags.core.WriteRules;
import dev.flags.core.Problem;
import dev.flags.core.Suggestions;
import dev.flags.server.auth.Principal;
import dev.flags.server.journal.CanonicalJson;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.Journal;
import dev.flags.server.journal.JournalEntry;
import dev.flags.server.journal.Schedule;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeSet;
import java.util.function.UnaryOperator;

/**
 * Thread-safe. Reads and changes flags: whole documents, partial changes, archiving and reverts.
 *
 * <p>A flag's version is the environment's version at the flag's last change; it is stored in the
 * flag's document, returned as the ETag, and checked against {@code If-Match} so that two product
 * owners never overwrite each other silently. Writes that race on other flags of the same
 * environment are retried; writes that race on the same flag get 412 when they asked with If-Match.
 */
public final class FlagService {

    private static final int RETRIES = 8;

    private final Journal journal;
    private final ChangeWriter writer;
    private final EnvironmentLimits limits;

    /** A flag with its version, as stored. */
    public record VersionedFlag(Flag flag, long version) {
    }

    /**
     * @param journal the journal, for reads
     * @param writer the write path
     */
    public FlagService(Journal journal, ChangeWriter writer) {
        this(journal, writer, EnvironmentLimits.defaults());
    }

    /** A service whose writes keep each environment within {@code limits}. */
    public FlagService(Journal journal, ChangeWriter writer, EnvironmentLimits limits) {
        this.journal = Objects.requireNonNull(journal, "journal");
        this.writer = Objects.requireNonNull(writer, "writer");
        this.limits = Objects.requireNonNull(limits, "limits");
    }

    /**
     * One page of an environment's flags, by key.
     *
     * @param documents the flags' documents as stored (each with its version), sorted by key
     * @param after the key to ask the next page {@code after}, if more flags follow; else null
     */
    public record FlagPage(List<CanonicalJson> documents, String after) {
        /** Copies the list. */
        public FlagPage {
            documents = List.copyOf(documents);
        }
    }

    /**
     * A page of an environment's served or archived flags: those whose keys sort after {@code after}, at most
     * {@code limit} of them and no more than {@link HistoryService#PAGE_BYTES} of documents (at least one flag,
     * whatever its size). The served flags are bounded by the environment's limits, the archived ones are not (the
     * server keeps every archived flag's last document), so without a page a list could hold more than the heap.
     *
     * @param archived true for the archived flags (their last documents, which a revert or a PUT restores), false for
     *                 the served ones
     * @param after only keys that sort after this one; null from the first
     * @param limit at most this many, 1 to {@value EnvironmentLimits#MOST_FLAGS}
     * @return the page
     */
    public FlagPage page(Principal p, String env, boolean archived, String after, int limit) {
        Access.requireRead(p, env);
        if (limit < 1 || limit > EnvironmentLimits.MOST_FLAGS) {
            throw ApiException.badRequest("limit must be between 1 and " + EnvironmentLimits.MOST_FLAGS + ", was " + limit);
        }
        EnvironmentState state = Access.environment(journal, env);
        Map<String, CanonicalJson> docs = archived ? state.archivedFlags() : state.flags();
        List<String> keys = docs.keySet().stream().filter(k -> after == null || k.compareTo(after) > 0).sorted().toList();
        List<CanonicalJson> out = new ArrayList<>();
        long bytes = 0;
        String last = null;
        for (String key : keys) {
            CanonicalJson doc = docs.get(key);
            if (out.size() == limit || !out.isEmpty() && bytes + doc.size() > HistoryService.PAGE_BYTES) {
                return new FlagPage(out, last);
            }
            last = key;
            bytes += doc.size();
            out.add(doc); // as stored, not parsed: a page is written out document by document, never held as trees
        }
        return new FlagPage(out, null);
    }

    /**
     * @return an archived flag's last document (what a revert or a PUT restores); 404 if the flag is served, or the
     *     environment has no flag of that key
     */
    public VersionedFlag getArchived(Principal p, String env, String key) {
        Access.requireRead(p, env);
        EnvironmentState state = Access.environment(journal, env);
        CanonicalJson doc = state.archivedFlags().get(key);
        if (doc == null) {
            throw notArchived(state, env, key, true);
        }
        return parse(doc);
    }

    /**
     * The 404 of a key with no archived flag: served, deleted (its history remains), or never there; for a delete of a
     * served flag a 409, as for a served environment (it is there, in the wrong state). A suggestion of a near archived
     * key only where it cannot lead to harm: never for a delete, which would remove another flag for good.
     */
    private ApiException notArchived(EnvironmentState state, String env, String key, boolean suggest) {
        if (state.flags().containsKey(key)) {
            String served = "flag \"" + key + "\" in environment \"" + env + "\" is not archived: it is served";
            return suggest ? ApiException.notFound("flag", served)
                    : ApiException.conflict(served + "; archive it first (flags archive), then delete it");
        }
        if (wasDeleted(env, key)) {
            return ApiException.notFound("flag", deleted(env, key));
        }
        return ApiException.notFound("flag", "there is no flag \"" + key + "\" in environment \"" + env + "\", archived or"
                + " served" + (suggest ? Suggestions.closest(key, new TreeSet<>(state.archivedFlags().keySet()), 2)
                        .map(near -> "; did you mean the archived \"" + near + "\"?").orElse("") : ""));
    }

    /** Whether the key has versions in the environment's history (it is neither served nor archived: deleted). */
    private boolean wasDeleted(String env, String key) {
        return !journal.history(env, key, Long.MAX_VALUE, 1).isEmpty();
    }

    private static String deleted(String env, String key) {
        return "flag \"" + key + "\" in environment \"" + env + "\" was deleted; its history remains (flags history " + key
                + "), and a revert to one of its versions brings it back (flags revert " + key + " VERSION)";
    }

    /** @return one flag, or 404 (also for an archived flag, with a detail that says so) */
    public VersionedFlag get(Principal p, String env, String key) {
        Access.requireRead(p, env);
        return current(Access.environment(journal, env), key);
    }

    /**
     * Creates or replaces a flag with a whole document.
     *
     * @param body the flag document (flags-core format); its key must match the path's, or be absent
     * @param precondition what the flag must be before the write (If-Match, If-None-Match)
     * @param switchOn whether a document that switches the flag on may do so over a flag that is off without naming the
     *     version it was read from; false refuses that ({@code 409}): most often the flag was switched off (its kill
     *     switch) after the document was read, or the document is a copy kept elsewhere (git), and writing it would undo
     *     the kill switch as one line among its changes
     * @return the stored flag and whether it was created
     */
    public Written put(Principal p, String env, String key, JsonNode body, Precondition precondition, boolean switchOn,
                       String comment) {
        Access.requireWriteFlags(p, env);
        Flag flag = parseBody(key, body);
        return write(p, env, key, precondition, comment, existing -> {
            Flag checked = withCheckedText(existing, flag);
            // What is wrong with the document is said first (422): the 409 only once it could be written.
            List<Problem> names = WriteRules.ruleNames(existing, checked);
            if (!names.isEmpty()) {
                throw invalid(new FlagValidationException(names));
            }
            // Off, or archived (often after its kill switch): a document from elsewhere would release it unseen.
            boolean offNow = existing != null ? !existing.enabled() : isArchived(env, key);
            if (!switchOn && precondition.version() == null && offNow && flag.enabled()) {
                throw new ApiException(409, "would switch on", "this document would switch flag \"" + key + "\" on in"
                        + " environment \"" + env + "\", where it is " + (existing != null ? "off (its kill switch?)"
                        : "archived (restoring it so would release it at once)") + ", and the write names no version it"
                        + " was read from: nothing was written. Add ?switchOn=true to switch it on with this document, set"
                        + " \"enabled\": false in it to keep it off, or send If-Match with the version you read",
                        Map.of("switchesOn", true));
            }
            return checked;
        });
    }

    /** What a revert does with a flag's switch when the version it brings back is on and the flag is off, or not served. */
    public enum SwitchOn {
        /** Refuse such a revert ({@code 409}): it would undo a kill switch, or release a flag, as one line of its changes. */
        REFUSE,
        /** Bring the version back, switch included. */
        SWITCH_ON,
        /** Bring the version back but for its switch: the flag stays (or comes back) off. */
        KEEP_OFF
    }

    /**
     * The result of a write.
     *
     * @param flag the flag as stored
     * @param created true if the write created the flag
     * @param entry the journal entry written, or null if the write changed nothing and was not recorded
     */
    public record Written(VersionedFlag flag, boolean created, JournalEntry entry, boolean switchedOff) {
        /** @return false if the flag already was what the write asked for */
        public boolean changed() {
            return entry != null;
        }
    }

    /**
     * Applies partial changes to a flag (see docs/api.md, "PATCH a flag").
     *
     * @param body an object of operations: enabled, default, description, percentage, addRole,
     *             removeRole, addRegion, removeRegion, addTarget, removeTarget
     */
    public Written patch(Principal p, String env, String key, JsonNode body, Precondition precondition, String comment) {
        Access.requirePatch(p, env, body);
        UnaryOperator<Flag> patch = FlagPatch.parse(body);
        try {
            return write(p, env, key, precondition, comment, existing -> withCheckedText(existing, patched(env, key, existing,
                    patch)));
        } catch (ApiException e) {
            if (e.status() == 404 && e.getMessage().endsWith(CREATE_IT)) {
                String noFlag = e.getMessage().substring(0, e.getMessage().length() - CREATE_IT.length());
                if (Access.onlySwitchesOff(body)) {
                    // A kill switch of a key that is no flag: its SDKs already answer their code's default; "create it
                    // first" is the advice only where that default is true (QA47a F11), and an operator's token, the
                    // on-call's, may not create one (QA52 F1).
                    throw ApiException.notFound("flag", noFlag + ": its SDKs answer the default their code gives (false,"
                            + " unless the code says otherwise), so there is nothing to switch off; where the code's default"
                            + " is true, " + (p.canWriteFlags(env) ? "create the flag, off (flags create)"
                            : "an editor creates the flag, off (flags create)"));
                }
                if (!p.canWriteFlags(env)) {
                    // An operator switches off what is there: making a flag is not its to do, nor to be told to do (QA46a F10).
                    throw ApiException.notFound("flag", noFlag);
                }
            }
            throw e;
        }
    }

    /** How a 404 of a flag that was never made ends, for a token that may make it. */
    private static final String CREATE_IT = "; create it first with a PUT of its document (flags create or flags put)";

    /**
     * The flag a PUT or PATCH would store, if its document adds none of the problems of {@link WriteRules#content}
     * (text fit to show, percentages in 0.001 steps, patterns that can run, no condition on the user's own fields,
     * numbers a double holds). A revert is not held to them: it brings back what the journal took once, and a revert
     * must not fail when it is needed.
     */
    private static Flag withCheckedText(Flag existing, Flag next) {
        List<Problem> problems = WriteRules.content(existing, next);
        if (!problems.isEmpty()) {
            throw invalid(new FlagValidationException(problems));
        }
        return next;
    }

    /**
     * Each PATCH body applied in turn to the flag as it is now, each to what the ones before it made, and one that fails
     * leaving the flag as it was: how pending schedules will apply at their times, with no other write between them. What a
     * schedule is checked with when it is made (the flag as it will be at its time, not as it is now: "target her at nine,
     * untarget her at five" is a plan even while she is not targeted yet), and what tells which pending schedules a write
     * broke.
     *
     * @param bodies PATCH bodies, in the order they would apply
     * @return for each body, null if it would apply, or what it would be refused with, as a PATCH would be without writing
     *     anything: 400 for a body that is not a patch, 404 for a flag that is not served, 409 for a change that does not
     *     fit the flag, 422 for a result that is not a valid flag
     * @throws ApiException 404 for an environment that is not served
     */
    public List<ApiException> previewInTurn(String env, String key, List<JsonNode> bodies) {
        EnvironmentState state = Access.environment(journal, env);
        CanonicalJson stored = state.flags().get(key);
        Flag flag = stored == null ? null : parse(stored).flag();
        List<ApiException> refusals = new ArrayList<>(bodies.size());
        for (JsonNode body : bodies) {
            try {
                flag = previewed(env, key, flag, body);
                refusals.add(null);
            } catch (ApiException e) {
                refusals.add(e);
            }
        }
        return refusals;
    }

    private Flag previewed(String env, String key, Flag existing, JsonNode body) {
        UnaryOperator<Flag> patch = FlagPatch.parse(body);
        Flag next = patched(env, key, existing, patch);
        List<Problem> names = WriteRules.added(existing, next);
        if (!names.isEmpty()) {
            throw invalid(new FlagValidationException(names));
        }
        return next;
    }

    /**
     * Applies a schedule's PATCH body to the flag as it is now, through the same write path as a PATCH,
     * as one {@code SCHEDULE_APPLIED} entry: the flag's new version and the end of the schedule
     * together. The journal refuses it (409) if the schedule is no longer pending.
     *
     * @param actor who the change is recorded as
     * @return what was written; {@link Written#changed()} false if the flag already was as the patch makes it
     * @throws ApiException as {@link #patch} does; 409 if the schedule is not pending
     */
    Written applySchedule(String env, String scheduleId, String key, JsonNode body, String actor, String comment) {
        UnaryOperator<Flag> patch = FlagPatch.parse(body);
        return writer.serialized(env, () -> writeAlone(actor, env, key, Precondition.none(), comment,
                existing -> patched(env, key, existing, patch), scheduleId, 0));
    }

    private Flag patched(String env, String key, Flag existing, UnaryOperator<Flag> patch) {
        if (existing == null) {
            EnvironmentState now = journal.state().environments().get(env);
            throw ApiException.notFound("flag", now != null && now.archivedFlags().containsKey(key)
                    ? archived(env, key) + "; restore it before changing it"
                    : noSuchFlag(now, env, key).orElse("there is no flag \"" + key + "\" in environment \"" + env
                            + "\"" + CREATE_IT));
        }
        Flag patched = patch.apply(existing);
        try {
            FlagFormat.readFlag(FlagFormat.toJson(patched)); // the same validation as a PUT
        } catch (FlagValidationException e) {
            throw invalid(e);
        }
        return patched;
    }

    /** Archives a flag: no longer served, its history kept. */
    public JournalEntry archive(Principal p, String env, String key, Precondition precondition, String comment) {
        Access.requireWriteFlags(p, env);
        return writer.serialized(env, () -> archiveAlone(p, env, key, precondition, comment));
    }

    private JournalEntry archiveAlone(Principal p, String env, String key, Precondition precondition, String comment) {
        return appendToState(env, state -> {
            VersionedFlag existing = current(state, key);
            precondition.check(existing.version(), key);
            return Change.of(EntryType.FLAG_ARCHIVED, env, p.actor(), keyPayload(key)).withComment(Keys.comment(comment))
                    .expectingVersion(state.version());
        });
    }

    /**
     * Appends the change that {@code step} makes of the environment as it is now, expecting its version; again, at most
     * {@value #RETRIES} more times, if the version moved in between (role grants, which do not read first, may move it
     * even inside {@link ChangeWriter#serialized}). The step's own refusals (a 404, If-Match's 412) are not retried.
     */
    private JournalEntry appendToState(String env, java.util.function.Function<EnvironmentState, Change> step) {
        for (int attempt = 0; ; attempt++) {
            Change change = step.apply(Access.writableEnvironment(journal, env));
            try {
                return writer.append(change);
            } catch (ApiException e) {
                if (e.status() != 412 || attempt >= RETRIES) {
                    throw e;
                }
            }
        }
    }

    private static ObjectNode keyPayload(String key) {
        return com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode().put("key", key);
    }

    /** Why the pending schedules of a flag deleted for good ended: they were made for that flag, not for its key. */
    public static final String DELETED_FOR_GOOD = "the flag was deleted for good: a scheduled change is for the flag it was made"
            + " for, not for a new flag that may take its key";

    /**
     * What a delete for good did.
     *
     * @param entry the journal entry ({@code flag_deleted})
     * @param endedSchedules the flag's pending schedules it ended as failed, soonest first
     */
    public record DeletedForGood(JournalEntry entry, List<Schedule> endedSchedules) {
        /** Keeps its own copy of the list. */
        public DeletedForGood {
            endedSchedules = List.copyOf(endedSchedules);
        }
    }

    /**
     * Deletes an archived flag's last document for good: the server no longer holds it (a restore by a PUT of its key
     * starts from the document sent), which frees what it took of the heap. Its history stays in the journal, as long
     * as retention keeps it, and a revert to one of its versions still brings the flag back. Admin only: it is how an
     * operator makes room in a server that is full ({@link HeapRoom}).
     *
     * <p>The flag's pending schedules end as failed ({@value #DELETED_FOR_GOOD}), one {@code schedule_ended} entry each:
     * left pending, they would apply at their time to a new flag created later with the same key. They are ended first,
     * in the same serialized section as the delete: a crash (or a journal that stops) between the two leaves the flag
     * archived with its schedules ended, which the admin's retry of the delete completes, rather than the flag deleted
     * with schedules that could change a future flag of its key.
     *
     * @param precondition what the archived flag must be (If-Match: its last version)
     * @return the journal entry ({@code flag_deleted}) and the schedules ended; 404 if the flag is not archived (a
     *     served flag is archived first)
     */
    public DeletedForGood deleteArchived(Principal p, String env, String key, Precondition precondition, String comment) {
        Access.requireAdmin(p);
        return writer.serialized(env, () -> {
            // Checked before the schedules end, so that a refused delete ends none of them.
            EnvironmentState before = Access.writableEnvironment(journal, env);
            requireArchived(before, env, key, precondition);
            String why = Keys.comment(comment);
            List<Schedule> ended = new ArrayList<>();
            for (Schedule s : before.pendingSchedules()) {
                if (s.flag().equals(key) && endDeleted(env, s, p.actor(), why)) {
                    ended.add(s);
                }
            }
            JournalEntry deleted = appendToState(env, state -> {
                requireArchived(state, env, key, precondition);
                return Change.of(EntryType.FLAG_DELETED, env, p.actor(), keyPayload(key)).withComment(why)
                        .expectingVersion(state.version());
            });
            return new DeletedForGood(deleted, ended);
        });
    }

    private void requireArchived(EnvironmentState state, String env, String key, Precondition precondition) {
        CanonicalJson last = state.archivedFlags().get(key);
        if (last == null) {
            throw notArchived(state, env, key, false);
        }
        precondition.check(parse(last).version(), key); // If-Match: the archived version the admin saw
    }

    /**
     * Ends a pending schedule of a flag being deleted for good.
     *
     * @return false if it ended meanwhile (a cancel, which does not wait for the environment's lock)
     */
    private boolean endDeleted(String env, Schedule s, String actor, String comment) {
        try {
            writer.append(Change.of(EntryType.SCHEDULE_ENDED, env, actor, com.fasterxml.jackson.databind.node.JsonNodeFactory.instance
                    .objectNode().put("id", s.id()).put("outcome", "failed").put("reason", DELETED_FOR_GOOD)).withComment(comment));
            return true;
        } catch (ApiException e) {
            if (e.status() == 409 && journal.state().environment(env).map(now -> now.schedules().get(s.id()))
                    .filter(now -> !now.pending()).isPresent()) {
                return false;
            }
            throw e;
        }
    }

    /**
     * Reverts a flag to an earlier version: a new version whose content equals the old one's.
     *
     * @param toVersion a version from the flag's history
     * @param switchOn what to do when that version is switched on and the flag is off now, archived or deleted
     */
    public Written revert(Principal p, String env, String key, long toVersion, Precondition precondition, SwitchOn switchOn,
                          String comment) {
        Access.requireWriteFlags(p, env);
        Access.environment(journal, env); // a deleted one says so, not that the flag has no such version
        Flag old = null;
        if (toVersion >= 1 && toVersion < Long.MAX_VALUE) {
            // The flag's last change at or before that version: one record, found through the history index.
            for (JournalEntry e : journal.history(env, key, toVersion + 1, 1)) {
                if (e.version() == toVersion) { // a creation, an update, or the clone that copied the flag here
                    JsonNode definition = e.flagDefinition(key).orElse(null);
                    old = definition == null ? null : parse(CanonicalJson.of(definition)).flag();
                }
            }
        }
        if (old == null) {
            throw ApiException.notFound("version", "flag \"" + key + "\" in environment \"" + env
                    + "\" has no version " + toVersion + " to revert to; see its history");
        }
        Flag target = old;
        String why = comment == null || comment.isBlank()
                ? "revert to version " + toVersion + (switchOn == SwitchOn.KEEP_OFF ? ", kept off" : "") : comment;
        Keys.comment(why);
        return writer.serialized(env, () -> writeAlone(p.actor(), env, key, precondition, why, existing -> {
            if (switchOn == SwitchOn.KEEP_OFF && existing != null && existing.enabled() && target.enabled()) {
                throw ApiException.conflict("\"keepOff\" keeps off a flag that is off; flag \"" + key + "\" is on in"
                        + " environment \"" + env + "\", and version " + toVersion + " is on too: nothing was written. Revert"
                        + " without it, or switch the flag off first");
            }
            if (!target.enabled() || (existing != null && existing.enabled()) || switchOn == SwitchOn.SWITCH_ON) {
                return target;
            }
            if (switchOn == SwitchOn.KEEP_OFF) {
                return target.withEnabled(false);
            }
            throw new ApiException(409, "would switch on", "version " + toVersion + " of flag \"" + key + "\" is switched"
                    + " on, and in environment \"" + env + "\" the flag is " + (existing != null ? "off (its kill switch?)"
                    : "not served (archived or deleted): the revert would release it to every user its rules match at once")
                    + ": nothing was written. Send \"switchOn\": true to switch it on with the revert, or \"keepOff\": true"
                    + " to bring back the rest and keep it off", Map.of("switchesOn", true));
        }, null, toVersion));
    }

    /**
     * Refuses a new flag whose key differs from a served one's only in case: code asking for {@code Billing-v2} would get
     * its default while {@code billing-v2} is switched, and a kill switch thrown on one would leave the other on.
     */
    private static void refuseCaseTwin(EnvironmentState state, String env, String key) {
        for (String k : state.flags().keySet()) {
            if (!k.equals(key) && k.equalsIgnoreCase(key)) {
                throw ApiException.conflict("flag \"" + k + "\" exists in environment \"" + env + "\", and \"" + key
                        + "\" differs from it only in case, which code and people would confuse: choose another key");
            }
        }
    }

    private Written write(Principal p, String env, String key, Precondition precondition, String comment, UnaryOperator<Flag> change) {
        Keys.comment(comment);
        return writer.serialized(env, () -> writeAlone(p.actor(), env, key, precondition, comment, change, null, 0));
    }

    /**
     * @param schedule the schedule this write applies (a {@code SCHEDULE_APPLIED} entry), or null
     * @param revertedTo the version this write reverts the flag to (a {@code FLAG_REVERTED} entry), or 0
     */
    private Written writeAlone(String actor, String env, String key, Precondition precondition, String comment,
                               UnaryOperator<Flag> change, String schedule, long revertedTo) {
        // Retried only for writes that do not read first (role grants), which may still move the version.
        for (int attempt = 0; ; attempt++) {
            EnvironmentState state = Access.writableEnvironment(journal, env);
            CanonicalJson stored = state.flags().get(key);
            VersionedFlag existing = stored == null ? null : parse(stored);
            CanonicalJson archivedDocument = existing == null ? state.archivedFlags().get(key) : null;
            if (revertedTo > 0 && archivedDocument != null) {
                // A revert restores an archived flag: If-Match names the archived version, as list --archived shows it.
                precondition.check(parse(archivedDocument).version(), key);
            } else {
                // An archived flag is not "gone": its owner hears that it is archived, and how to bring it back.
                precondition.check(existing == null ? null : existing.version(), key, archivedDocument != null
                        ? archived(env, key) + "; restore it before changing it" : "the flag does not exist");
            }
            if (existing == null) {
                refuseCaseTwin(state, env, key);
            }
            Flag next = change.apply(existing == null ? null : existing.flag());
            List<Problem> names = WriteRules.ruleNames(existing == null ? null : existing.flag(), next);
            if (!names.isEmpty()) {
                throw invalid(new FlagValidationException(names));
            }
            if (existing != null && next.withVersion(existing.version()).equals(existing.flag())) {
                // Nothing would change: no version, no journal entry, no fan-out to every SDK.
                return new Written(existing, false, null, false);
            }
            long newVersion = state.version() + 1;
            Flag versioned = next.withVersion(newVersion);
            EntryType type = existing == null ? EntryType.FLAG_CREATED : EntryType.FLAG_UPDATED;
            JsonNode payload = FlagFormat.toJson(versioned);
            boolean onOffOnly = existing != null
                    && next.withEnabled(existing.flag().enabled()).withVersion(existing.version()).equals(existing.flag());
            int versionGrowth = existing == null ? 0
                    : Long.toString(newVersion).length() - Long.toString(existing.version()).length();
            CanonicalJson document = CanonicalJson.of(payload);
            refuseOverLimit(key, document, newVersion, onOffOnly);
            long growth = limits.checkFlag(state, key, document, versionGrowth, onOffOnly);
            HeapRoom.require(journal.state(), growth, "flag \"" + key + "\" of environment \"" + env + "\" (" + growth
                    + " bytes more)");
            if (schedule != null) {
                type = EntryType.SCHEDULE_APPLIED;
                ObjectNode applied = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode()
                        .put("key", key).put("schedule", schedule);
                applied.set("flag", payload);
                payload = applied;
            } else if (revertedTo > 0) {
                // Marked as a revert in history and audit, whatever the comment says.
                type = EntryType.FLAG_REVERTED;
                ObjectNode reverted = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode()
                        .put("key", key).put("revertedTo", revertedTo).put("restored", existing == null);
                reverted.set("flag", payload);
                payload = reverted;
            }
            try {
                JournalEntry entry = writer.append(Change.of(type, env, actor, payload)
                        .withComment(comment).expectingVersion(state.version()));
                boolean switchedOff = existing != null && existing.flag().enabled() && !next.enabled();
                return new Written(new VersionedFlag(versioned, entry.version()), existing == null, entry, switchedOff);
            } catch (ApiException e) {
                // Another write to this environment came first: read again and reapply (If-Match is rechecked).
                if (e.status() != 412 || attempt >= RETRIES) {
                    throw e;
                }
            }
        }
    }

    /**
     * Refuses a flag document over {@link FlagFormat#MAX_FLAG_BYTES} as the server stores it (compact canonical JSON),
     * its version aside: the version is the server's, and grows a digit now and then, which must not make a document
     * that was taken too large later. A write that only switches the flag on or off is never refused for it (a kill
     * switch must always go through); the journal takes {@link dev.flags.server.journal.FileJournal#PAYLOAD_HEADROOM} bytes over the limit for the
     * version's digits and a revert's or scheduled change's wrapping.
     */
    private static void refuseOverLimit(String key, CanonicalJson document, long version, boolean onOffOnly) {
        // The version's field in canonical JSON: "version":N and a comma, wherever it sorts.
        long bytes = document.size() - ("\"version\":".length() + Long.toString(version).length() + 1);
        Problem tooLarge = onOffOnly ? null : WriteRules.tooLarge(key, bytes);
        if (tooLarge != null) {
            throw invalid(new FlagValidationException(List.of(tooLarge)));
        }
    }

    private static String archived(String env, String key) {
        return "flag \"" + key + "\" in environment \"" + env + "\" is archived; its history remains, and a PUT of its"
                + " document or a revert to a version in its history restores it";
    }

    /** @return whether the environment has an archived flag of that key (a PUT of it brings the key back) */
    public boolean isArchived(String env, String key) {
        EnvironmentState state = journal.state().environments().get(env);
        return state != null && state.archivedFlags().containsKey(key);
    }

    /**
     * A key that is no flag but one edit or two away from one (biling-v2): most often a misspelling, and during an
     * incident "create it first" would be the wrong advice for a kill switch.
     */
    private static Optional<String> noSuchFlag(EnvironmentState state, String env, String key) {
        return nearest(state, key).map(near -> "there is no flag \"" + key
                + "\" in environment \"" + env + "\"; did you mean \"" + near + "\"?");
    }

    /**
     * @param env an environment
     * @param key a key that is no flag of it
     * @return the flag of the environment one or two edits away from the key (biling-v2: billing-v2), if there is one
     */
    public Optional<String> nearest(String env, String key) {
        return nearest(journal.state().environments().get(env), key);
    }

    private static Optional<String> nearest(EnvironmentState state, String key) {
        return state == null ? Optional.empty() : Suggestions.closest(key, new TreeSet<>(state.flags().keySet()), 2);
    }

    private VersionedFlag current(EnvironmentState state, String key) {
        CanonicalJson doc = state.flags().get(key);
        if (doc == null) {
            String detail = state.archivedFlags().containsKey(key)
                    ? archived(state.key(), key)
                    : wasDeleted(state.key(), key) ? deleted(state.key(), key)
                    : noSuchFlag(state, state.key(), key).orElse("there is no flag \"" + key + "\" in environment \"" + state.key() + "\"");
            throw ApiException.notFound("flag", detail);
        }
        return parse(doc);
    }

    static VersionedFlag parse(CanonicalJson doc) {
        Flag flag = FlagFormat.readFlag(doc.toJsonNode());
        return new VersionedFlag(flag, flag.version());
    }

    private static Flag parseBody(String key, JsonNode body) {
        if (body == null || !body.isObject()) {
            throw ApiException.badRequest("the body must be a flag document: a JSON object");
        }
        ObjectNode doc = ((ObjectNode) body).deepCopy();
        JsonNode bodyKey = doc.get("key");
        if (bodyKey == null) {
            doc.put("key", key);
        } else if (!bodyKey.isTextual() || !bodyKey.asText().equals(key)) {
            throw ApiException.badRequest("the body's key " + bodyKey + " differs from the key in the path, \"" + key + "\"");
        }
        // A document read from GET carries its version: it is checked like the rest of the document,
        // then ignored, since the server assigns versions (If-Match is how a writer names the one it saw).
        try {
            return FlagFormat.readFlag(doc);
        } catch (FlagValidationException e) {
            throw invalid(e);
        }
    }

    static ApiException invalid(FlagValidationException e) {
        List<Map<String, String>> problems = new ArrayList<>();
        e.problems().forEach(pr -> {
            Map<String, String> m = new LinkedHashMap<>();
            // flags-core quotes the document's text as it is: a U+202E in a key must not reorder the answer's text.
            m.put("path", LogText.escape(pr.path()));
            m.put("message", LogText.escape(pr.message()));
            problems.add(m);
        });
        String detail = e.problems().size() == 1
                ? "the flag is not valid: " + e.problems().get(0)
                : "the flag is not valid: " + e.count() + " problems, listed in \"problems\""
                        + (e.count() > e.problems().size() ? " (the first " + (e.problems().size() - 1) + ", and a count of the rest)" : "");
        return new ApiException(422, "invalid flag", detail, Map.of("problems", problems));
    }
}
