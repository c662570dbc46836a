package dev.flags.server.journal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Not thread-safe. The state the journal's entries add up to, in mutable maps so that replaying a
 * million entries costs a map update each; {@link #freeze()} turns it into an immutable {@link
 * ServerState}, copying only the environments that changed since the last freeze.
 *
 * <p>{@link #prepare} checks a change against the state (the journal calls it under its lock);
 * {@link #apply} applies a committed entry without checks: replay trusts what was checked when it
 * was appended, so replaying the same entries always gives the same state.
 */
final class MutableState {

    private long sequence;
    private Instant timestamp = Instant.EPOCH;
    private long tokensVersion;
    private final HashMap<String, CanonicalJson> tokens = new HashMap<>();
    private final HashMap<String, Env> environments = new HashMap<>();
    /** The keys of environments deleted for good, which are never used again. */
    private final HashSet<String> deletedEnvironments = new HashSet<>();
    private Set<String> frozenDeleted = Set.of();
    private boolean deletedChanged;
    private Map<String, CanonicalJson> frozenTokens = Map.of();
    private boolean tokensChanged;
    private ServerState frozen = ServerState.EMPTY;
    private boolean changed;

    /** Not thread-safe. One environment's mutable state and its last frozen copy. */
    static final class Env {
        final String key;
        long version;
        boolean archived;
        CanonicalJson metadata;
        final HashMap<String, CanonicalJson> flags = new HashMap<>();
        final HashMap<String, CanonicalJson> archivedFlags = new HashMap<>();
        final HashMap<String, Set<String>> grants = new HashMap<>();
        final HashSet<String> selfServiceRoles = new HashSet<>();
        final HashMap<Grant, Instant> grantExpiries = new HashMap<>();
        final HashMap<String, Duration> maxGrantDurations = new HashMap<>();
        /** Pending schedules and the newest ended ones (see {@link #endSchedule}). */
        final HashMap<String, Schedule> schedules = new HashMap<>();
        private EnvironmentState frozen;
        /** The grants of the last frozen state, shared by the states after it until a grant changes; null before. */
        private Map<String, Set<String>> frozenGrants;
        /** The users whose roles changed since {@link #frozenGrants} (the next freeze copies only theirs anew). */
        private final HashSet<String> grantsChangedFor = new HashSet<>();

        Env(String key, CanonicalJson metadata) {
            this.key = key;
            this.metadata = metadata;
        }

        EnvironmentState freeze() {
            if (frozen == null) {
                if (frozenGrants == null) {
                    frozenGrants = EnvironmentState.frozenGrants(grants);
                    grantsChangedFor.clear();
                } else if (!grantsChangedFor.isEmpty()) {
                    frozenGrants = EnvironmentState.frozenGrants(frozenGrants, grants, grantsChangedFor);
                    grantsChangedFor.clear();
                }
                frozen = new EnvironmentState(key, version, archived, metadata, flags, archivedFlags,
                        frozenGrants, selfServiceRoles, grantExpiries, maxGrantDurations, schedules);
            }
            return frozen;
        }
    }

    /** What {@link #prepare} decided: the new version and the payload to store. */
    record Prepared(long version, CanonicalJson payload) {}

    long sequence() {
        return sequence;
    }

    Instant timestamp() {
        return timestamp;
    }

    /** Restores the counters from a checkpoint; environments and tokens are added by the caller. */
    void restore(long sequence, Instant timestamp, long tokensVersion) {
        this.sequence = sequence;
        this.timestamp = timestamp;
        this.tokensVersion = tokensVersion;
        this.changed = true;
        this.tokensChanged = true;
    }

    Env addEnvironment(String key, CanonicalJson metadata) {
        Env env = new Env(key, metadata);
        environments.put(key, env);
        changed = true;
        return env;
    }

    boolean hasEnvironment(String key) {
        return environments.containsKey(key);
    }

    /** Adds the key of an environment deleted for good (from a checkpoint). */
    void addDeleted(String key) {
        deletedEnvironments.add(key);
        deletedChanged = true;
        changed = true;
    }

    void putToken(String id, CanonicalJson payload) {
        tokens.put(id, payload);
        tokensChanged = true;
        changed = true;
    }

    /**
     * Checks a change against the state and decides its version and stored payload.
     *
     * @throws ChangeConflictException if the change does not fit
     * @throws ActingTokenGoneException if the stored token that makes it is no longer in the token set
     */
    Prepared prepare(Change change, ChangeRules.Shape shape) {
        if (change.actingToken() != null && !tokens.containsKey(change.actingToken())) {
            throw new ActingTokenGoneException(change.actingToken());
        }
        EntryType type = change.type();
        String subject = shape.subject();
        if (type.isGlobal()) {
            expect(change, "the token set", tokensVersion);
            boolean exists = tokens.containsKey(subject);
            if (type == EntryType.TOKEN_CREATED && exists) {
                throw conflict("token \"" + subject + "\" already exists");
            }
            if (type == EntryType.TOKEN_REVOKED && !exists) {
                throw conflict("token \"" + subject + "\" does not exist or was already revoked");
            }
            return new Prepared(tokensVersion + 1, change.payload());
        }
        String name = change.environment();
        Env env = environments.get(name);
        if (deletedEnvironments.contains(name)) {
            // Never used again: a token scoped to the old environment would read the new one, and its history would mix.
            throw conflict("environment \"" + name + "\" was deleted for good, and its key is not used again"
                    + (type == EntryType.ENVIRONMENT_CREATED || type == EntryType.ENVIRONMENT_CLONED
                            ? ": choose another key" : ""));
        }
        if (type == EntryType.ENVIRONMENT_CREATED || type == EntryType.ENVIRONMENT_CLONED) {
            if (env != null) {
                throw conflict("environment \"" + name + "\" already exists");
            }
            if (change.expectedVersion() > 0) {
                throw conflict("expected environment \"" + name + "\" at version "
                        + change.expectedVersion() + ", but it does not exist yet");
            }
            if (type == EntryType.ENVIRONMENT_CLONED) {
                return new Prepared(1, cloneOf(name, shape.tree()));
            }
            return new Prepared(1, change.payload());
        }
        if (env == null) {
            throw conflict("environment \"" + name + "\" does not exist");
        }
        if (type == EntryType.ENVIRONMENT_RESTORED) {
            if (!env.archived) {
                throw conflict("environment \"" + name + "\" is not archived");
            }
        } else if (type == EntryType.ENVIRONMENT_DELETED) {
            // Two steps, as for a flag: the archive stops every change first, and a restore can still undo it.
            if (!env.archived) {
                throw conflict("environment \"" + name + "\" is not archived: only an archived environment is deleted");
            }
        } else if (env.archived && type != EntryType.SCHEDULE_CANCELLED) {
            // A cancel changes nothing served, and lets an admin drop a change gone stale before a restore applies it.
            throw conflict("environment \"" + name + "\" is archived and accepts no changes");
        }
        expect(change, "environment \"" + name + "\"", env.version);
        String in = " in environment \"" + name + "\"";
        switch (type) {
            case FLAG_CREATED:
                if (env.flags.containsKey(subject)) {
                    throw conflict("flag \"" + subject + "\" already exists" + in);
                }
                break;
            case FLAG_UPDATED:
            case FLAG_ARCHIVED:
                if (!env.flags.containsKey(subject)) {
                    throw conflict(env.archivedFlags.containsKey(subject)
                            ? "flag \"" + subject + "\" is archived" + in
                                    + "; create it again to restore it"
                            : "flag \"" + subject + "\" does not exist" + in);
                }
                break;
            case FLAG_REVERTED:
                // The entry says whether it brought the flag back; a record that says otherwise would mislead history.
                boolean served = env.flags.containsKey(subject);
                if (shape.tree().get("restored").booleanValue() == served) {
                    throw conflict("flag \"" + subject + "\" is " + (served ? "" : "not ") + "served" + in
                            + ": a revert of it has restored " + !served);
                }
                break;
            case FLAG_DELETED:
                if (!env.flags.containsKey(subject) && !env.archivedFlags.containsKey(subject)) {
                    throw conflict("flag \"" + subject + "\" does not exist" + in);
                }
                break;
            case ROLE_GRANTED:
                // Granting again is how a grant's expiry is changed (or removed); the same grant twice is not.
                if (env.grants.getOrDefault(subject, Set.of()).contains(shape.role())
                        && Objects.equals(env.grantExpiries.get(new Grant(subject, shape.role())),
                                shape.expiresAt())) {
                    throw conflict("user \"" + subject + "\" already has role \"" + shape.role() + "\""
                            + (shape.expiresAt() == null ? "" : " until " + shape.expiresAt()) + in);
                }
                break;
            case ROLE_REVOKED:
                if (!env.grants.getOrDefault(subject, Set.of()).contains(shape.role())) {
                    throw conflict("user \"" + subject + "\" does not have role \"" + shape.role() + "\""
                            + in);
                }
                break;
            case ROLE_MARKED_SELF_SERVICE:
                // Marking again is how the longest grant of a self-service role is changed (or removed).
                if (env.selfServiceRoles.contains(subject)
                        && Objects.equals(env.maxGrantDurations.get(subject), shape.maxGrantDuration())) {
                    throw conflict("role \"" + subject + "\" is already self-service"
                            + (shape.maxGrantDuration() == null ? "" : " for at most " + shape.maxGrantDuration()) + in);
                }
                break;
            case ROLE_UNMARKED_SELF_SERVICE:
                if (!env.selfServiceRoles.contains(subject)) {
                    throw conflict("role \"" + subject + "\" is not self-service" + in);
                }
                break;
            case SCHEDULE_CREATED:
                if (env.schedules.containsKey(subject)) {
                    throw conflict("schedule \"" + subject + "\" already exists" + in);
                }
                break;
            case SCHEDULE_APPLIED:
                requirePending(env, shape.schedule(), in);
                if (!env.schedules.get(shape.schedule()).flag().equals(subject)) {
                    throw conflict("schedule \"" + shape.schedule() + "\" changes flag \""
                            + env.schedules.get(shape.schedule()).flag() + "\", not \"" + subject + "\"" + in);
                }
                if (!env.flags.containsKey(subject)) {
                    throw conflict("flag \"" + subject + "\" is not served" + in + "; the schedule cannot apply to it");
                }
                break;
            case SCHEDULE_CANCELLED:
            case SCHEDULE_ENDED:
                requirePending(env, subject, in);
                break;
            default:
                break;
        }
        return new Prepared(env.version + 1, change.payload());
    }

    /**
     * A schedule ends once: whatever ends it (applied, ended by the server, cancelled) is refused for a
     * schedule that is not pending. This is what makes a scheduled change apply at most once.
     */
    private static void requirePending(Env env, String id, String in) {
        Schedule s = env.schedules.get(id);
        if (s == null) {
            throw conflict("schedule \"" + id + "\" does not exist" + in);
        }
        if (!s.pending()) {
            throw conflict("schedule \"" + id + "\" is not pending" + in + ": it was " + s.status().apiName());
        }
    }

    private static void expect(Change change, String what, long current) {
        if (change.expectedVersion() != Change.ANY_VERSION && change.expectedVersion() != current) {
            throw conflict("expected " + what + " at version " + change.expectedVersion()
                    + ", but it is at version " + current);
        }
    }

    private static ChangeConflictException conflict(String message) {
        return new ChangeConflictException(message);
    }

    /** The clone's stored payload: the caller's fields plus what is copied from the source. */
    private CanonicalJson cloneOf(String name, ObjectNode tree) {
        String sourceName = tree.get("source").textValue();
        Env source = environments.get(sourceName);
        if (source == null) {
            throw conflict("cannot clone environment \"" + name + "\": source environment \""
                    + sourceName + "\" does not exist");
        }
        tree.put("sourceVersion", source.version);
        tree.set("flags", definitions(tree, source.flags));
        tree.set("archivedFlags", definitions(tree, source.archivedFlags));
        ArrayNode roles = tree.putArray("selfServiceRoles");
        new TreeSet<>(source.selfServiceRoles).forEach(roles::add);
        if (!source.maxGrantDurations.isEmpty()) {
            ObjectNode max = tree.putObject("maxGrantDurations");
            new TreeMap<>(source.maxGrantDurations).forEach((role, d) -> max.put(role, d.toString()));
        }
        CanonicalJson payload = CanonicalJson.of(tree);
        if (payload.size() > RecordCodec.MAX_PAYLOAD_BYTES) {
            // A clone is one entry, and an environment may serve up to 48 MiB: say which way out there is (QA72 F4).
            ObjectNode served = tree.deepCopy();
            served.set("archivedFlags", served.arrayNode());
            boolean archivedMakeItTooLarge = !source.archivedFlags.isEmpty()
                    && CanonicalJson.of(served).size() <= RecordCodec.MAX_PAYLOAD_BYTES;
            throw conflict("cannot clone environment \"" + sourceName + "\": the copy takes " + payload.size()
                    + " bytes, more than one journal entry holds (" + RecordCodec.MAX_PAYLOAD_BYTES + ", 16 MiB), and a clone"
                    + " is one entry; " + (archivedMakeItTooLarge
                    ? "it copies the archived flags' last documents too: an admin deleting archived flags for good (flags"
                            + " delete) makes it fit"
                    : "create the environment and copy the flags one write each instead (flags export --as-code, then"
                            + " flags apply into the new environment)"));
        }
        return payload;
    }

    /**
     * The source's definitions, each with its {@code "version"} (if it has one) set to 1, the clone's
     * version: a copied flag's last change in the new environment is the clone. Kept at the source's
     * version (as clones made before this rule are), it would go backwards at the clone's next change
     * (41, then 2), and an old {@code If-Match} could match a later, different document.
     */
    private static ObjectNode definitions(ObjectNode tree, Map<String, CanonicalJson> flags) {
        ObjectNode out = tree.objectNode();
        new TreeMap<>(flags).forEach((key, json) -> {
            JsonNode definition = json.toJsonNode();
            if (definition instanceof ObjectNode object && object.has("version")) {
                object.put("version", 1);
            }
            out.set(key, definition);
        });
        return out;
    }

    /**
     * Applies a committed entry. Entries were checked when they were appended, so this trusts them.
     *
     * @throws IllegalStateException if the entry names an environment that does not exist (the
     *     journal is inconsistent)
     */
    void apply(JournalEntry e) {
        String subject = e.subject();
        if (e.type().isGlobal()) {
            if (e.type() == EntryType.TOKEN_CREATED) {
                tokens.put(subject, e.payload());
            } else {
                tokens.remove(subject);
            }
            tokensVersion = e.version();
            tokensChanged = true;
        } else {
            Env env;
            if (e.type() == EntryType.ENVIRONMENT_CREATED) {
                env = new Env(e.environment(), e.payload());
                environments.put(e.environment(), env);
            } else if (e.type() == EntryType.ENVIRONMENT_CLONED) {
                env = cloned(e);
                environments.put(e.environment(), env);
            } else if (e.type() == EntryType.ENVIRONMENT_DELETED) {
                if (environments.remove(e.environment()) == null) {
                    throw new IllegalStateException("entry " + e.sequence() + " (" + e.type().label()
                            + ") names environment \"" + e.environment() + "\", which does not exist");
                }
                deletedEnvironments.add(e.environment());
                deletedChanged = true;
                sequence = e.sequence();
                timestamp = e.timestamp();
                changed = true;
                return;
            } else {
                env = environments.get(e.environment());
                if (env == null) {
                    throw new IllegalStateException("entry " + e.sequence() + " (" + e.type().label()
                            + ") names environment \"" + e.environment() + "\", which does not exist");
                }
                applyTo(env, e, subject);
            }
            env.version = e.version();
            env.frozen = null;
        }
        sequence = e.sequence();
        timestamp = e.timestamp();
        changed = true;
    }

    private static void applyTo(Env env, JournalEntry e, String subject) {
        switch (e.type()) {
            case FLAG_CREATED:
                env.archivedFlags.remove(subject);
                env.flags.put(subject, e.payload());
                break;
            case FLAG_UPDATED:
                env.flags.put(subject, e.payload());
                break;
            case FLAG_REVERTED:
                env.archivedFlags.remove(subject);
                env.flags.put(subject, CanonicalJson.of(e.payload().toJsonNode().get("flag")));
                break;
            case FLAG_DELETED:
                env.flags.remove(subject);
                env.archivedFlags.remove(subject);
                break;
            case FLAG_ARCHIVED:
                CanonicalJson last = env.flags.remove(subject);
                if (last != null) {
                    env.archivedFlags.put(subject, last);
                }
                break;
            case ENVIRONMENT_ARCHIVED:
                env.archived = true;
                break;
            case ENVIRONMENT_RESTORED:
                env.archived = false;
                break;
            case ROLE_GRANTED:
                JsonNode granted = e.payload().toJsonNode();
                Grant grant = new Grant(subject, granted.get("role").textValue());
                env.grants.computeIfAbsent(subject, u -> new HashSet<>()).add(grant.role());
                env.grantsChangedFor.add(subject);
                Instant expiresAt = ChangeRules.expiresAt(granted);
                if (expiresAt == null) {
                    env.grantExpiries.remove(grant);
                } else {
                    env.grantExpiries.put(grant, expiresAt);
                }
                break;
            case ROLE_REVOKED:
                Set<String> roles = env.grants.get(subject);
                if (roles != null) {
                    roles.remove(role(e));
                    if (roles.isEmpty()) {
                        env.grants.remove(subject);
                    }
                }
                env.grantsChangedFor.add(subject);
                env.grantExpiries.remove(new Grant(subject, role(e)));
                break;
            case ROLE_MARKED_SELF_SERVICE:
                env.selfServiceRoles.add(subject);
                Duration max = ChangeRules.maxGrantDuration(e.payload().toJsonNode());
                if (max == null) {
                    env.maxGrantDurations.remove(subject);
                } else {
                    env.maxGrantDurations.put(subject, max);
                }
                break;
            case ROLE_UNMARKED_SELF_SERVICE:
                env.selfServiceRoles.remove(subject);
                env.maxGrantDurations.remove(subject);
                break;
            case SCHEDULE_CREATED:
                JsonNode created = e.payload().toJsonNode();
                env.schedules.put(subject, new Schedule(subject, created.get("flag").textValue(),
                        Instant.parse(created.get("at").textValue()), CanonicalJson.of(created.get("patch")), e.actor(),
                        e.timestamp(), e.comment(), Schedule.Status.PENDING, null, null, null, 0));
                break;
            case SCHEDULE_CANCELLED:
                endSchedule(env, subject, Schedule.Status.CANCELLED, e, e.comment().isEmpty() ? null : e.comment(), 0);
                break;
            case SCHEDULE_APPLIED:
                JsonNode applied = e.payload().toJsonNode();
                env.flags.put(subject, CanonicalJson.of(applied.get("flag")));
                endSchedule(env, applied.get("schedule").textValue(), Schedule.Status.APPLIED, e, null, e.version());
                break;
            case SCHEDULE_ENDED:
                JsonNode ended = e.payload().toJsonNode();
                boolean failed = ChangeRules.OUTCOME_FAILED.equals(ended.get("outcome").textValue());
                endSchedule(env, subject, failed ? Schedule.Status.FAILED : Schedule.Status.APPLIED, e,
                        ended.get("reason").textValue(), 0);
                break;
            default:
                throw new IllegalStateException("entry type " + e.type() + " cannot change an existing"
                        + " environment");
        }
    }

    /**
     * Ends a schedule, and keeps only the newest {@link Schedule#KEPT_ENDED} ended ones: the oldest by
     * (end, id) leaves the state, an order a checkpoint keeps, so that a checkpoint and a replay agree.
     */
    private static void endSchedule(Env env, String id, Schedule.Status how, JournalEntry e, String reason, long version) {
        Schedule s = env.schedules.get(id);
        if (s == null) {
            return; // replay trusts the entry; nothing to end
        }
        env.schedules.put(id, s.ended(how, e.timestamp(), e.actor(), reason, version));
        trimEnded(env);
    }

    static void trimEnded(Env env) {
        int ended = 0;
        Schedule oldest = null;
        for (Schedule s : env.schedules.values()) {
            if (!s.pending()) {
                ended++;
                if (oldest == null || ENDED_ORDER.compare(s, oldest) < 0) {
                    oldest = s;
                }
            }
        }
        if (ended > Schedule.KEPT_ENDED) {
            env.schedules.remove(oldest.id());
        }
    }

    private static final java.util.Comparator<Schedule> ENDED_ORDER =
            java.util.Comparator.comparing(Schedule::endedAt).thenComparing(Schedule::id);

    private static String role(JournalEntry e) {
        return e.payload().toJsonNode().get("role").textValue();
    }

    private static Env cloned(JournalEntry e) {
        ObjectNode tree = (ObjectNode) e.payload().toJsonNode();
        JsonNode flags = tree.get("flags");
        JsonNode archived = tree.get("archivedFlags");
        JsonNode roles = tree.get("selfServiceRoles");
        JsonNode max = tree.get("maxGrantDurations");
        tree.remove(ChangeRules.CLONE_FIELDS);
        Env env = new Env(e.environment(), CanonicalJson.of(tree));
        copyDefinitions(flags, env.flags);
        copyDefinitions(archived, env.archivedFlags);
        if (roles != null) {
            roles.forEach(r -> env.selfServiceRoles.add(r.textValue()));
        }
        if (max != null) {
            max.properties().forEach(m -> env.maxGrantDurations.put(m.getKey(), Duration.parse(m.getValue().textValue())));
        }
        return env;
    }

    private static void copyDefinitions(JsonNode from, Map<String, CanonicalJson> to) {
        if (from == null) {
            return;
        }
        for (Map.Entry<String, JsonNode> f : from.properties()) {
            to.put(f.getKey(), CanonicalJson.of(f.getValue()));
        }
    }

    /** The state as an immutable value; cheap when little changed since the last call. */
    ServerState freeze() {
        if (!changed) {
            return frozen;
        }
        if (tokensChanged) {
            frozenTokens = Map.copyOf(tokens);
            tokensChanged = false;
        }
        if (deletedChanged) {
            frozenDeleted = Set.copyOf(deletedEnvironments);
            deletedChanged = false;
        }
        Map<String, EnvironmentState> envs = new HashMap<>(environments.size() * 2);
        environments.forEach((key, env) -> envs.put(key, env.freeze()));
        frozen = new ServerState(sequence, timestamp, envs, tokensVersion, frozenTokens, frozenDeleted);
        changed = false;
        return frozen;
    }

    /** Environments in key order, for checkpoints that must be byte-for-byte reproducible. */
    static List<EnvironmentState> sorted(ServerState state) {
        List<EnvironmentState> list = new ArrayList<>(state.environments().values());
        list.sort((a, b) -> a.key().compareTo(b.key()));
        return Collections.unmodifiableList(list);
    }
}
