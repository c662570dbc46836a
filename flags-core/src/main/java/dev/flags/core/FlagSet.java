package dev.flags.core;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * Thread-safe: share one set between any number of threads. A compiled set of flags (one
 * environment's) with the role grants made on the server: the thing that evaluates. Its flags and
 * grants are immutable; what changes is only the usage marks each evaluation sets (which flags gave
 * which answers, see {@link #takeUsage()}), which never change an answer.
 *
 * <p>Flags are validated and compiled once, when the set is built; evaluating is a map lookup plus a
 * pure function, allocates nothing (but for the conditions that parse a text attribute: {@link #isEnabled(String, User)}),
 * and never throws.
 * <pre>{@code
 * FlagSet flags = FlagSet.fromJson(Files.readString(Path.of("flags.json")));
 * if (flags.isEnabled("billing-v2", User.withId("u-42").roles("beta-tester"))) { ... }
 * Evaluation why = flags.evaluate("billing-v2", user); // value, variant, reason, version
 * }</pre>
 *
 * <p>Changes make new sets ({@link #withFlag}, {@link #withoutFlag}, {@link #withRoleGrants}); a
 * change recompiles only the flag it touches.
 */
public final class FlagSet {

    private static final FlagSet EMPTY = new FlagSet(new HashMap<>(), Map.of(), Map.of(), 0);

    /*
     * Never written after construction (a final field, so safely published) and never handed out. A
     * HashMap rather than Map.copyOf: a change copies it once, where an immutable map would take a
     * second copy (every SDK of a fleet applies every change, so each copy is garbage in every
     * application), and a lookup finds the bucket with a mask, where the immutable map divides.
     * Its keys are interned: applications ask with string literals, which are interned, so a lookup
     * matches the key by identity instead of comparing its characters.
     */
    private final HashMap<String, CompiledFlag> flags;
    private final Map<String, Set<String>> grantsByRole;
    private final Map<String, Set<String>> grantsByUser;
    private final long version;

    private FlagSet(HashMap<String, CompiledFlag> flags, Map<String, Set<String>> grantsByRole,
                    Map<String, Set<String>> grantsByUser, long version) {
        this.flags = flags;
        this.grantsByRole = grantsByRole;
        this.grantsByUser = grantsByUser;
        this.version = version;
    }

    /** @return a set with no flags: every flag is unknown */
    public static FlagSet empty() {
        return EMPTY;
    }

    /**
     * Validates and compiles flags.
     *
     * @param flags the flags; keys must be unique
     * @param roleGrants role name to the user ids granted that role on the server
     * @param version the version of the whole set (an environment's version), 0 if none
     * @return the compiled set
     * @throws FlagValidationException listing every problem of every flag
     * @throws NullPointerException if an argument is null
     */
    public static FlagSet of(Collection<Flag> flags, Map<String, Set<String>> roleGrants, long version) {
        return of(flags, roleGrants, version, EMPTY);
    }

    /**
     * Validates and compiles flags that replace another set's, keeping that set's usage marks of the
     * flags both have (an SDK replacing its flags with a full snapshot: marks not yet taken are not
     * lost).
     *
     * @param flags the flags; keys must be unique
     * @param roleGrants role name to the user ids granted that role on the server
     * @param version the version of the whole set (an environment's version), 0 if none
     * @param usageFrom the set replaced
     * @return the compiled set
     * @throws FlagValidationException listing every problem of every flag
     * @throws NullPointerException if an argument is null
     */
    public static FlagSet of(Collection<Flag> flags, Map<String, Set<String>> roleGrants, long version,
                             FlagSet usageFrom) {
        Objects.requireNonNull(flags, "flags");
        Objects.requireNonNull(roleGrants, "roleGrants");
        Objects.requireNonNull(usageFrom, "usageFrom");
        Problems problems = new Problems();
        HashMap<String, CompiledFlag> compiled = new HashMap<>();
        int i = 0;
        for (Flag flag : flags) {
            Objects.requireNonNull(flag, "flag");
            String path = Problems.index("flags", i++);
            problems.flag(flag.key());
            int before = problems.size();
            FlagValidator.validate(flag, path, problems);
            if (problems.size() == before && compiled.containsKey(flag.key())) {
                problems.add(Problems.child(path, "key"), "repeats a flag key; flag keys must be unique");
            }
            problems.flag(null);
            if (problems.isEmpty()) {
                compiled.put(flag.key().intern(), new CompiledFlag(flag, usageFrom.marksFor(flag.key())));
            }
        }
        problems.throwIfAny();
        return new FlagSet(compiled, FlagFormat.copyGrants(roleGrants), invert(roleGrants), version);
    }

    /**
     * Validates and compiles flags with no role grants.
     *
     * @param flags the flags
     * @return the compiled set
     * @throws FlagValidationException listing every problem
     */
    public static FlagSet of(Flag... flags) {
        return of(List.of(flags), Map.of(), 0);
    }

    /**
     * Reads and compiles a flag file (see {@code docs/flag-format.md}).
     *
     * @param json the file's contents
     * @return the compiled set
     * @throws FlagValidationException listing every problem
     */
    public static FlagSet fromJson(String json) {
        FlagFormat.FlagFile file = FlagFormat.readFile(json);
        return of(file.flags(), file.roleGrants(), 0);
    }

    /**
     * Reads and compiles a flag file from disk.
     *
     * @param file the file
     * @return the compiled set
     * @throws IOException if the file cannot be read ({@link java.nio.file.NoSuchFileException} if there is
     *         none; {@link UnfitFileException} if it is not a regular file, or larger than {@link FlagFormat#MAX_FILE_BYTES})
     * @throws FlagValidationException listing every problem
     */
    public static FlagSet read(Path file) throws IOException {
        FlagFormat.FlagFile parsed = FlagFormat.readFile(UnfitFileException.readWhole(file, FlagFormat.MAX_FILE_BYTES));
        return of(parsed.flags(), parsed.roleGrants(), 0);
    }

    // ---------------------------------------------------------------- evaluation

    /**
     * Whether the flag is on for the user. Never throws and allocates nothing (but for a date or numeric condition on
     * a text attribute, or {@code matches}, which parse the user's value; and for the text of a number or an instant
     * that a string operator or a {@code bucketBy} reads, or the lower-cased copy an {@code ignoreCase} condition makes
     * of a value with upper-case letters: docs/client.md).
     *
     * @param flagKey the flag's key
     * @param user the user; null is treated as an error and gives false
     * @return the flag's answer, or false if there is no such flag or the evaluation failed
     */
    public boolean isEnabled(String flagKey, User user) {
        return isEnabled(flagKey, user, false);
    }

    /**
     * Whether the flag is on for the user, with the caller's default for an unknown flag or an error.
     * Never throws.
     *
     * @param flagKey the flag's key
     * @param user the user; null gives {@code defaultValue}, but false for a switched-off flag (the kill switch wins)
     * @param defaultValue the answer when there is no such flag or the evaluation fails
     * @return the answer
     */
    public boolean isEnabled(String flagKey, User user, boolean defaultValue) {
        return isEnabled(flagKey, user, defaultValue, EvaluationFailureHandler.IGNORE);
    }

    /**
     * Whether the flag is on for the user, telling {@code onFailure} when the flag's rules failed on
     * the user (the answer is then {@code defaultValue}) or when there is no such flag. Never throws;
     * allocates nothing unless the rules fail.
     *
     * @param flagKey the flag's key
     * @param user the user; null gives {@code defaultValue} (not a failure of the flag), but false for a
     *     switched-off flag (the kill switch wins)
     * @param defaultValue the answer when there is no such flag or the evaluation fails
     * @param onFailure told of a failure of the flag's rules
     * @return the answer
     */
    public boolean isEnabled(String flagKey, User user, boolean defaultValue, EvaluationFailureHandler onFailure) {
        if (flagKey == null) {
            return defaultValue;
        }
        CompiledFlag flag = flags.get(flagKey);
        if (flag == null) {
            tellUnknown(onFailure, flagKey);
            return defaultValue;
        }
        boolean value = defaultValue;
        if (user == null) {
            // The kill switch wins over a null user: a switched-off flag is off whatever the caller's default.
            if (flag.offAnswer() != null) {
                value = false;
            }
        } else {
            if (user.unmatchableAttribute() != null) {
                tellUnmatchable(onFailure, user.unmatchableAttribute());
            }
            try {
                value = flag.evaluate(user, grantsByUser).value();
            } catch (RuntimeException | StackOverflowError e) {
                tell(onFailure, flag, e);
            }
        }
        flag.usage().mark(value); // the code asked for the flag and got this answer, whatever the cause
        return value;
    }

    private static void tell(EvaluationFailureHandler onFailure, CompiledFlag flag, Throwable failure) {
        try {
            onFailure.failed(flag.flag().key(), flag.flag().version(), failure);
        } catch (RuntimeException | StackOverflowError ignored) {
            // The handler is a log line or a metric; its own failure must not reach the caller either.
        }
    }

    private static void tellUnmatchable(EvaluationFailureHandler onFailure, String attributeName) {
        try {
            onFailure.unmatchableAttribute(attributeName);
        } catch (RuntimeException | StackOverflowError ignored) {
            // As in tell(): the handler's own failure must not reach the caller.
        }
    }

    private static void tellUnknown(EvaluationFailureHandler onFailure, String flagKey) {
        try {
            onFailure.unknownFlag(flagKey);
        } catch (RuntimeException | StackOverflowError ignored) {
            // As in tell(): the handler's own failure must not reach the caller.
        }
    }

    /**
     * Evaluates a flag and says why. Never throws; allocates nothing unless the flag is unknown or
     * the evaluation fails.
     *
     * @param flagKey the flag's key
     * @param user the user
     * @return value, variant, reason and flag version; for an unknown flag or a null user, false with
     *         a reason that says so ({@code FLAG_OFF} for a switched-off flag, whatever the user)
     */
    public Evaluation evaluate(String flagKey, User user) {
        return evaluate(flagKey, user, false);
    }

    /**
     * Evaluates a flag and says why, with the caller's default for an unknown flag or an error.
     * Never throws.
     *
     * @param flagKey the flag's key
     * @param user the user
     * @param defaultValue the answer when there is no such flag or the evaluation fails
     * @return value, variant, reason and flag version
     */
    public Evaluation evaluate(String flagKey, User user, boolean defaultValue) {
        return evaluate(flagKey, user, defaultValue, EvaluationFailureHandler.IGNORE);
    }

    /**
     * Evaluates a flag and says why, telling {@code onFailure} when the flag's rules failed on the
     * user (the answer is then {@code defaultValue} with an {@link Reason.Kind#ERROR} reason), or when
     * there is no such flag ({@link EvaluationFailureHandler#unknownFlag}). A null key or user is an
     * error of the caller, not a failure of the flag: it is not told. A switched-off flag answers
     * {@code FLAG_OFF} (false) even for a null user: the kill switch wins. Never throws.
     *
     * @param flagKey the flag's key
     * @param user the user
     * @param defaultValue the answer when there is no such flag or the evaluation fails
     * @param onFailure told of a failure of the flag's rules
     * @return value, variant, reason and flag version
     */
    public Evaluation evaluate(String flagKey, User user, boolean defaultValue, EvaluationFailureHandler onFailure) {
        if (flagKey == null) {
            // A bug in the caller, not a flag someone forgot to create: say so, not "no flag \"\"".
            return Evaluation.error("", defaultValue, "the flag key was null", -1);
        }
        String key = flagKey;
        CompiledFlag flag = flags.get(flagKey);
        if (flag == null) {
            tellUnknown(onFailure, flagKey);
            return Evaluation.notFound(key, defaultValue);
        }
        Evaluation answer;
        if (user == null) {
            // The kill switch wins over a null user (see isEnabled): only a flag that is on needs the user.
            Evaluation off = flag.offAnswer();
            answer = off != null ? off : Evaluation.error(key, defaultValue, "user was null", flag.flag().version());
        } else {
            if (user.unmatchableAttribute() != null) {
                tellUnmatchable(onFailure, user.unmatchableAttribute());
            }
            try {
                answer = flag.evaluate(user, grantsByUser);
            } catch (RuntimeException | StackOverflowError e) {
                // A rule that fails on this user's data must not take the application down.
                tell(onFailure, flag, e);
                answer = Evaluation.error(key, defaultValue, "evaluation failed: " + failure(e), flag.flag().version());
            }
        }
        flag.usage().mark(answer.value());
        return answer;
    }

    /**
     * Evaluates a flag and explains the answer step by step: the switch, the targets, each rule tried
     * with the first condition that did not hold (the user's region, roles, attribute or rollout
     * bucket), the default. For people (a playground, a CLI); allocates freely, so not for the
     * request path. Never throws.
     *
     * @param flagKey the flag's key
     * @param user the user
     * @return the evaluation (the same as {@link #evaluate(String, User)}'s) and its steps; no steps for
     *         an unknown flag, a null key or user, or an evaluation that failed (the reason says why)
     */
    public Explanation explain(String flagKey, User user) {
        return explain(flagKey, user, true);
    }

    /**
     * Like {@link #explain(String, User)}, for a caller who may not see the server's role grants to
     * this user (a tester explaining another user, with a set whose grants were left out): the steps
     * then say the grants are not shown instead of "the role grants give it []".
     *
     * @param flagKey the flag's key
     * @param user the user
     * @param grantsShown whether this set's role grants are the server's, shown to the caller
     * @return the evaluation and its steps
     */
    public Explanation explain(String flagKey, User user, boolean grantsShown) {
        Evaluation answer = evaluate(flagKey, user);
        CompiledFlag flag = flagKey == null ? null : flags.get(flagKey);
        if (flag == null || user == null) {
            return new Explanation(answer, List.of());
        }
        try {
            return Explainer.explain(flag, user, grantsByUser, answer, grantsShown);
        } catch (RuntimeException | StackOverflowError e) {
            return new Explanation(answer, List.of()); // the answer stands; only its story failed
        }
    }

    /** A failure of a flag's rules in words: our own (a pattern's budget) by its message, others by class too. */
    static String failure(Throwable e) {
        return e instanceof BoundedText.TooMuchPatternWorkException || e instanceof Patterns.UnusablePatternException
                ? e.getMessage() : e.toString();
    }

    /**
     * The variant served to the user, for A/B flags.
     *
     * @param flagKey the flag's key
     * @param user the user
     * @return the variant's key, or null if the flag is off for the user, has no variants or is unknown
     */
    public String variant(String flagKey, User user) {
        return evaluate(flagKey, user).variant();
    }

    /**
     * Evaluates every flag for the user, for handing flags to a front end. Marks every flag as used
     * (see {@link #takeUsage()}): what the front end does with them is not seen here, and a flag it
     * still reads must not look unused.
     *
     * @param user the user
     * @return flag key to evaluation; immutable
     */
    public Map<String, Evaluation> evaluateAll(User user) {
        Map<String, Evaluation> all = new HashMap<>();
        flags.keySet().forEach(k -> all.put(k, evaluate(k, user)));
        return Collections.unmodifiableMap(all);
    }

    // ---------------------------------------------------------------- contents and changes

    /** @return the version of this set (an environment's version), 0 if none */
    public long version() {
        return version;
    }

    /** @return the number of flags */
    public int size() {
        return flags.size();
    }

    /**
     * @param flagKey a key
     * @return the flag of that key, if any
     */
    public Optional<Flag> flag(String flagKey) {
        CompiledFlag f = flags.get(flagKey);
        return f == null ? Optional.empty() : Optional.of(f.flag());
    }

    /** @return every flag, in no particular order; immutable */
    public List<Flag> flags() {
        List<Flag> list = new ArrayList<>(flags.size());
        flags.values().forEach(f -> list.add(f.flag()));
        return Collections.unmodifiableList(list);
    }

    /** @return role name to the user ids granted that role on the server; immutable */
    public Map<String, Set<String>> roleGrants() {
        return grantsByRole;
    }

    /**
     * @param flag a flag to add or replace
     * @param newVersion the version of the new set
     * @return a new set with the flag; the others are not recompiled
     * @throws FlagValidationException if the flag is not valid
     */
    public FlagSet withFlag(Flag flag, long newVersion) {
        Problems problems = new Problems();
        problems.flag(flag.key());
        FlagValidator.validate(flag, "", problems);
        problems.throwIfAny();
        HashMap<String, CompiledFlag> copy = new HashMap<>(flags);
        copy.put(keyFor(copy, flag.key()), new CompiledFlag(flag, marksFor(flag.key())));
        return new FlagSet(copy, grantsByRole, grantsByUser, newVersion);
    }

    /**
     * Several changes at once, in one copy of the set: a change of k flags in a set of N costs O(N + k),
     * where k calls of {@link #withFlag} would cost O(N·k).
     *
     * @param upserted flags to add or replace
     * @param removed keys of flags to remove (unknown keys are ignored; a key also upserted is removed)
     * @param newVersion the version of the new set
     * @return a new set with the changes; the other flags are not recompiled
     * @throws FlagValidationException if an upserted flag is not valid (then nothing changes)
     */
    public FlagSet withChanges(Collection<Flag> upserted, Collection<String> removed, long newVersion) {
        Problems problems = new Problems();
        for (Flag flag : upserted) {
            problems.flag(flag.key());
            FlagValidator.validate(flag, "", problems);
        }
        problems.throwIfAny();
        HashMap<String, CompiledFlag> copy = new HashMap<>(flags);
        for (Flag flag : upserted) {
            copy.put(keyFor(copy, flag.key()), new CompiledFlag(flag, marksFor(flag.key())));
        }
        removed.forEach(copy::remove);
        return new FlagSet(copy, grantsByRole, grantsByUser, newVersion);
    }

    /** The usage marks of this set's flag of that key, which its next version keeps; new ones for a new key. */
    private UsageMarks marksFor(String key) {
        CompiledFlag current = flags.get(key);
        return current == null ? new UsageMarks() : current.usage();
    }

    /**
     * Takes the usage marks of every flag of this set and clears them: which flags were evaluated
     * (by {@link #isEnabled}, {@link #evaluate}, {@link #variant} or {@link #evaluateAll}) since the
     * last take, and whether each answered true, false or both. A set made from this one by a change
     * shares the marks of the flags it keeps, so take them from the newest set. An evaluation that runs
     * while this does is either in this take or the next, never in neither. Allocates the list.
     *
     * @return one entry per flag evaluated, in no particular order; empty if none was
     */
    public List<FlagUsage> takeUsage() {
        List<FlagUsage> used = new ArrayList<>();
        flags.forEach((key, flag) -> {
            int bits = flag.usage().take();
            if (bits != 0) {
                used.add(new FlagUsage(key, (bits & UsageMarks.TRUE) != 0, (bits & UsageMarks.FALSE) != 0));
            }
        });
        return used;
    }

    /**
     * Takes the usage marks of the flags of this set that another set does not have (a change removed
     * them: archived, deleted) and clears them, as {@link #takeUsage} does. A set made by a change
     * carries the marks of the flags it keeps, not of those it drops: this is how an SDK keeps, for its
     * next report, the answers a flag gave just before it was archived. An evaluation on this set that
     * marks a removed flag after this take, still running when the change was swapped in, is not seen.
     *
     * @param next the set that replaced this one
     * @return one entry per removed flag that was evaluated; empty if none was
     */
    public List<FlagUsage> takeUsageOfFlagsNotIn(FlagSet next) {
        List<FlagUsage> used = new ArrayList<>();
        flags.forEach((key, flag) -> {
            if (!next.flags.containsKey(key)) {
                int bits = flag.usage().take();
                if (bits != 0) {
                    used.add(new FlagUsage(key, (bits & UsageMarks.TRUE) != 0, (bits & UsageMarks.FALSE) != 0));
                }
            }
        });
        return used;
    }

    /**
     * The steps that {@code matches} conditions' patterns have taken on the calling thread, in every evaluation it
     * made (each character a pattern reads costs its compiled program's size): a server that evaluates for someone else
     * (a playground) can charge the work to them, since one evaluation of a flag may take up to 10,000,000 steps (some
     * milliseconds). Read it before and after.
     *
     * @return the steps taken so far on this thread
     */
    public static long patternStepsOnThisThread() {
        return BoundedText.stepsOnThisThread();
    }

    /** @return whether this set has a flag of that key */
    public boolean has(String flagKey) {
        return flags.containsKey(flagKey);
    }

    /**
     * The key to put a flag under: the interned one for a new key. An existing key needs none: a
     * {@code put} keeps the key object the map has, already interned, and interning costs a call into
     * the JVM (a few hundred ns) that every SDK of a fleet would pay on every change of a flag.
     */
    private static String keyFor(HashMap<String, CompiledFlag> map, String key) {
        return map.containsKey(key) ? key : key.intern();
    }

    /**
     * @param flagKey the key of a flag to remove
     * @param newVersion the version of the new set
     * @return a new set without that flag
     */
    public FlagSet withoutFlag(String flagKey, long newVersion) {
        HashMap<String, CompiledFlag> copy = new HashMap<>(flags);
        copy.remove(flagKey);
        return new FlagSet(copy, grantsByRole, grantsByUser, newVersion);
    }

    /**
     * @param roleGrants the new grants: role name to user ids
     * @param newVersion the version of the new set
     * @return a new set with these grants in place of the old ones
     */
    public FlagSet withRoleGrants(Map<String, Set<String>> roleGrants, long newVersion) {
        return new FlagSet(flags, FlagFormat.copyGrants(roleGrants), invert(roleGrants), newVersion);
    }

    /**
     * The same flags after some users got or lost roles. Only those users' entries of the grant index are made
     * again: with tens of thousands of grants, {@link #withRoleGrants} rebuilt the whole index for each grant.
     *
     * @param added role name to the user ids that got it (ids that already have it are ignored)
     * @param removed role name to the user ids that lost it (ids that do not have it are ignored); applied before
     *     {@code added}
     * @param newVersion the version of the new set
     * @return a new set with these grants changed
     * @throws NullPointerException if an argument or an id is null
     */
    public FlagSet withRoleChanges(Map<String, ? extends Collection<String>> added,
            Map<String, ? extends Collection<String>> removed, long newVersion) {
        Set<String> roles = new LinkedHashSet<>(removed.keySet());
        roles.addAll(added.keySet());
        Map<String, Set<String>> byRole = new HashMap<>(grantsByRole);
        Set<String> users = new LinkedHashSet<>();
        for (String role : roles) {
            // One copy of the role's members, kept as it is (not copied again into an immutable set): with tens of
            // thousands of members, each copy is milliseconds of a grant's cost in the SDK.
            Set<String> members = new HashSet<>(byRole.getOrDefault(role, Set.of()));
            for (String user : idsOf(removed, role)) {
                if (members.remove(Objects.requireNonNull(user, "user id"))) {
                    users.add(user);
                }
            }
            for (String user : idsOf(added, role)) {
                if (members.add(Objects.requireNonNull(user, "user id"))) {
                    users.add(user);
                }
            }
            if (members.isEmpty()) {
                byRole.remove(role);
            } else {
                byRole.put(role, Collections.unmodifiableSet(members));
            }
        }
        // A copy of the index's table, not of its role sets: only the users named get new ones.
        HashMap<String, Set<String>> byUser = new HashMap<>(grantsByUser);
        for (String user : users) {
            Set<String> userRoles = new LinkedHashSet<>(byUser.getOrDefault(user, Set.of()));
            for (String role : roles) {
                if (byRole.getOrDefault(role, Set.of()).contains(user)) {
                    userRoles.add(role);
                } else {
                    userRoles.remove(role);
                }
            }
            if (userRoles.isEmpty()) {
                byUser.remove(user);
            } else {
                byUser.put(user, Set.copyOf(userRoles));
            }
        }
        return new FlagSet(flags, Collections.unmodifiableMap(byRole), Collections.unmodifiableMap(byUser), newVersion);
    }

    private static Collection<String> idsOf(Map<String, ? extends Collection<String>> byRole, String role) {
        Collection<String> ids = byRole.get(role);
        return ids == null ? List.of() : ids;
    }

    private static Map<String, Set<String>> invert(Map<String, Set<String>> byRole) {
        Map<String, Set<String>> byUser = new HashMap<>();
        byRole.forEach((role, users) -> users.forEach(
                user -> byUser.computeIfAbsent(user, u -> new LinkedHashSet<>()).add(role)));
        Map<String, Set<String>> frozen = new HashMap<>();
        byUser.forEach((user, roles) -> frozen.put(user, Set.copyOf(roles)));
        return Collections.unmodifiableMap(frozen); // not Map.copyOf: see FlagFormat.unmodifiableHashSet
    }

    @Override
    public String toString() {
        return "FlagSet{version=" + version + ", flags=" + flags.keySet() + "}";
    }
}
