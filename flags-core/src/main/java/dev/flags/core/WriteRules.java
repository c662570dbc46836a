package dev.flags.core;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * Immutable (static functions only). The rules a flag server holds a flag write to, beyond the flag format
 * that {@link FlagFormat} reads and the SDKs evaluate: so that {@code flags validate} can tell, without a
 * server, what a {@code flags put} would be refused for.
 *
 * <p><b>Rule names.</b> A rule is named to be found by that name ({@code flags rollout ... --rule "eu canary"},
 * PATCH {@code "rule": "eu canary"}), and a number finds a rule by its index; so two rules of one name, or a
 * name of digits only, would let a rollout land on another rule than the one meant.
 *
 * <p><b>Text.</b> A flag's description, its rules' names and the user ids it targets are read in lists, diffs,
 * the history and terminals, so they are held to {@link ReadableText}'s rules: a description may hold line
 * breaks and tabs but no other control character, line separator, bidirectional control or lone surrogate; a
 * rule's name and a user id no invisible character either, as a grant's user id. None of them, nor a new flag's key,
 * nor a role or region its rules add, may hold what looks like a flag server's token ({@link ReadableText#holdsAToken}):
 * a secret pasted in the wrong place would be kept for good and sent to every SDK.
 *
 * <p><b>Steps.</b> A percentage or a weight has at most three decimals, exactly: the format takes one within a
 * millionth of a step ({@link #steps}).
 *
 * <p><b>Numbers.</b> A numeric operator's value is a number a double holds: not {@code "1e-400"}, which is not 0 but
 * nearer 0 than any double ({@link #numbers}); the format reads one, as no number, since earlier releases took it.
 *
 * <p><b>Patterns.</b> A {@code matches} pattern runs: RE2 syntax, at most {@value Patterns#MAX_PROGRAM_SIZE} instructions
 * ({@link #patterns}). The format also reads one in {@code java.util.regex} syntax, which earlier releases took.
 *
 * <p>The flag format itself allows all of these, and a server's journal holds what earlier releases accepted:
 * only a problem a write adds is refused ({@code existing} is the flag before the write), so that a flag that
 * has one can still be changed (switched off, above all) without first being fixed.
 */
public final class WriteRules {

    private WriteRules() {}

    /**
     * Every problem a write of {@code next} over {@code existing} adds: {@link #ruleNames} and {@link #content}.
     *
     * @param existing the flag before the write, or null for a new flag
     * @param next the flag the write would store
     * @return the new problems, empty if none
     */
    public static List<Problem> added(Flag existing, Flag next) {
        List<Problem> problems = new ArrayList<>(ruleNames(existing, next));
        problems.addAll(content(existing, next));
        return problems;
    }

    /**
     * Every problem the document of a write adds but its rule names: {@link #text}, {@link #steps}, {@link #patterns},
     * {@link #ownFields} and {@link #numbers}.
     *
     * @param existing the flag before the write, or null for a new flag
     * @param next the flag the write would store
     * @return the new problems, empty if none
     */
    public static List<Problem> content(Flag existing, Flag next) {
        List<Problem> problems = new ArrayList<>(text(existing, next));
        problems.addAll(steps(existing, next));
        problems.addAll(patterns(existing, next));
        problems.addAll(ownFields(existing, next));
        problems.addAll(numbers(existing, next));
        return problems;
    }

    /**
     * The attribute conditions of {@code next} on {@code id}, {@code region} or {@code roles} that {@code existing} did not
     * have. An attribute condition reads a custom attribute of the user ({@code User.attribute}), never the user's own id,
     * region or roles, so {@code {"attribute": "id", "operator": "startsWith", "values": ["test-"]}} matched no one and
     * said nothing (QA86). A flag that has one keeps it (an application may set a custom attribute of that name, and an
     * SDK reads the condition as before); a write may not add one.
     *
     * @param existing the flag before the write, or null for a new flag
     * @param next the flag the write would store
     * @return the new problems, empty if none
     */
    public static List<Problem> ownFields(Flag existing, Flag next) {
        Set<String> before = new HashSet<>();
        if (existing != null) {
            existing.rules().forEach(r -> r.conditions().forEach(c -> {
                if (c instanceof Condition.Attribute a) {
                    before.add(a.attribute());
                }
            }));
        }
        List<Problem> problems = new ArrayList<>();
        for (int r = 0; r < next.rules().size(); r++) {
            List<Condition> conditions = next.rules().get(r).conditions();
            for (int c = 0; c < conditions.size(); c++) {
                if (conditions.get(c) instanceof Condition.Attribute a && !before.contains(a.attribute())) {
                    String instead = switch (a.attribute()) {
                        case "id" -> "match user ids with a \"userIds\" condition or the flag's targets";
                        case "region" -> "match regions with a \"regions\" condition";
                        case "roles" -> "match roles with a \"roles\" condition";
                        default -> null;
                    };
                    if (instead != null) {
                        problems.add(new Problem(next.key(), "rules[" + r + "].conditions[" + c + "].attribute",
                                "names a custom attribute of the user, and \"" + a.attribute() + "\" is the user's own "
                                + a.attribute() + ", which an attribute condition never reads: " + instead));
                    }
                }
            }
        }
        return problems;
    }

    /**
     * The {@code matches} patterns of {@code next} that cannot run ({@link Patterns}: not RE2 syntax, or a program of more
     * than {@value Patterns#MAX_PROGRAM_SIZE} instructions) and that {@code existing} did not have. The format reads a
     * pattern earlier releases took ({@code java.util.regex} syntax), which then matches nobody; a write may not add one.
     *
     * @param existing the flag before the write, or null for a new flag
     * @param next the flag the write would store
     * @return the new problems, empty if none
     */
    public static List<Problem> patterns(Flag existing, Flag next) {
        Set<String> before = new HashSet<>();
        if (existing != null) {
            existing.rules().forEach(r -> r.conditions().forEach(c -> {
                if (c instanceof Condition.Attribute a && a.operator() == Operator.MATCHES) {
                    before.addAll(a.values());
                }
            }));
        }
        List<Problem> problems = new ArrayList<>();
        for (int r = 0; r < next.rules().size(); r++) {
            List<Condition> conditions = next.rules().get(r).conditions();
            for (int c = 0; c < conditions.size(); c++) {
                if (conditions.get(c) instanceof Condition.Attribute a && a.operator() == Operator.MATCHES) {
                    for (int v = 0; v < a.values().size(); v++) {
                        String pattern = a.values().get(v);
                        String problem = before.contains(pattern) ? null : Patterns.problem(pattern);
                        if (problem != null) {
                            problems.add(new Problem(next.key(), "rules[" + r + "].conditions[" + c + "].values[" + v + "]",
                                    problem));
                        }
                    }
                }
            }
        }
        return problems;
    }

    /**
     * The numeric operators' values of {@code next} that are not 0 as written but nearer 0 than a double holds
     * ({@code "1e-400"}), which {@code existing} did not have. A double reads such text as 0, exactly read it is not:
     * it is no number ({@link Matchers#decimal}), so the value would never hold, as {@code "1e400"} is none and is
     * refused by the format; the format reads one an earlier release stored (QA88 F4).
     *
     * @param existing the flag before the write, or null for a new flag
     * @param next the flag the write would store
     * @return the new problems, empty if none
     */
    public static List<Problem> numbers(Flag existing, Flag next) {
        Set<String> before = new HashSet<>();
        if (existing != null) {
            existing.rules().forEach(r -> r.conditions().forEach(c -> {
                if (c instanceof Condition.Attribute a && a.operator().kind() == Operator.Kind.NUMBER) {
                    before.addAll(a.values());
                }
            }));
        }
        List<Problem> problems = new ArrayList<>();
        for (int r = 0; r < next.rules().size(); r++) {
            List<Condition> conditions = next.rules().get(r).conditions();
            for (int c = 0; c < conditions.size(); c++) {
                if (conditions.get(c) instanceof Condition.Attribute a && a.operator().kind() == Operator.Kind.NUMBER) {
                    for (int v = 0; v < a.values().size(); v++) {
                        String value = a.values().get(v);
                        // Only what the format took (a number a double reads): what it refuses, it says itself.
                        if (!before.contains(value) && FlagValidator.numberProblem(value) == null
                                && Matchers.nearerZeroThanADouble(value)) {
                            problems.add(new Problem(next.key(), "rules[" + r + "].conditions[" + c + "].values[" + v + "]",
                                    FlagFormat.TOO_SMALL + ", was " + Problems.quote(value)));
                        }
                    }
                }
            }
        }
        return problems;
    }

    /**
     * The percentages and weights of {@code next} with more than three decimals that {@code existing} did not have. The
     * format reads such a number within a millionth of a 0.001 step as that step ({@code 1e-300} as 0, {@code
     * 0.0009999999999} as 0.001), and an SDK of another language may round it otherwise: what is stored is what was
     * meant, in steps of 0.001 (QA61 F4).
     *
     * @param existing the flag before the write, or null for a new flag
     * @param next the flag the write would store
     * @return the new problems, empty if none
     */
    public static List<Problem> steps(Flag existing, Flag next) {
        Set<Double> before = new HashSet<>();
        if (existing != null) {
            existing.variants().forEach(v -> before.add(v.weight()));
            existing.rules().forEach(r -> r.conditions().forEach(c -> {
                if (c instanceof Condition.Percentage p) {
                    before.add(p.percentage());
                }
            }));
        }
        List<Problem> problems = new ArrayList<>();
        for (int v = 0; v < next.variants().size(); v++) {
            stepProblem(next.key(), "variants[" + v + "].weight", next.variants().get(v).weight(), before, problems);
        }
        for (int r = 0; r < next.rules().size(); r++) {
            List<Condition> conditions = next.rules().get(r).conditions();
            for (int c = 0; c < conditions.size(); c++) {
                if (conditions.get(c) instanceof Condition.Percentage p) {
                    stepProblem(next.key(), "rules[" + r + "].conditions[" + c + "].percentage", p.percentage(), before, problems);
                }
            }
        }
        return problems;
    }

    private static void stepProblem(String key, String path, double value, Set<Double> before, List<Problem> problems) {
        // As typed: a double's shortest form (33.333 is "33.333", though 33.333 * 1000 is not a whole double).
        java.math.BigDecimal typed = java.math.BigDecimal.valueOf(value).stripTrailingZeros();
        if (typed.scale() > 3 && !before.contains(value)) {
            String plain = typed.toPlainString();
            problems.add(new Problem(key, path, "must have at most three decimals (0.001% steps), was "
                    + (plain.length() <= 30 ? plain : typed.toString()))); // 1E-300, not 300 digits
        }
    }

    /**
     * The rule-name problems {@code next} has that {@code existing} did not.
     *
     * @param existing the flag before the write, or null for a new flag
     * @param next the flag the write would store
     * @return the new problems, empty if none
     */
    public static List<Problem> ruleNames(Flag existing, Flag next) {
        Set<String> before = existing == null ? Set.of() : offending(existing);
        List<Problem> problems = new ArrayList<>();
        Map<String, Integer> firstIndex = new HashMap<>();
        List<Rule> rules = next.rules();
        for (int i = 0; i < rules.size(); i++) {
            String name = rules.get(i).name();
            if (name == null || before.contains(name)) {
                continue;
            }
            String path = "rules[" + i + "].name";
            if (name.matches("\\d+")) {
                problems.add(new Problem(next.key(), path, "must not be digits only: a number names a rule by its index"
                        + " (flags ... --rule 1, PATCH \"rule\": 1), so \"" + name + "\" would be ambiguous"));
            }
            Integer first = firstIndex.putIfAbsent(name, i);
            if (first != null) {
                problems.add(new Problem(next.key(), path, "repeats the name of rules[" + first + "], \"" + name
                        + "\": a rule's name finds it (flags ... --rule NAME, PATCH \"rule\": NAME), so names must differ"));
            }
        }
        return problems;
    }

    private static Set<String> offending(Flag flag) {
        Set<String> names = new TreeSet<>();
        Set<String> seen = new TreeSet<>();
        for (Rule rule : flag.rules()) {
            String name = rule.name();
            if (name != null && (name.matches("\\d+") || !seen.add(name))) {
                names.add(name);
            }
        }
        return names;
    }

    /**
     * The text problems {@code next} has that {@code existing} did not.
     *
     * @param existing the flag before the write, or null for a new flag
     * @param next the flag the write would store
     * @return the new problems, empty if none
     */
    public static List<Problem> text(Flag existing, Flag next) {
        List<Problem> problems = new ArrayList<>();
        String description = next.description();
        if (existing == null && ReadableText.holdsAToken(next.key())) {
            problems.add(new Problem(next.key(), "key", ReadableText.HOLDS_A_TOKEN));
        }
        if (description != null && (existing == null || !Objects.equals(existing.description(), description))) {
            if (ReadableText.holdsAToken(description)) {
                problems.add(new Problem(next.key(), "description", ReadableText.HOLDS_A_TOKEN));
            }
            int bad = ReadableText.unfitForText(description);
            if (bad >= 0) {
                problems.add(new Problem(next.key(), "description", "may hold line breaks and tabs but no other control"
                        + " characters, line separators, bidirectional controls or half characters; character "
                        + (description.codePointCount(0, bad) + 1) + " is " + unicode(description.codePointAt(bad))));
            }
        }
        Set<String> namesBefore = new HashSet<>();
        Set<String> idsBefore = new HashSet<>();
        Set<String> rolesAndRegionsBefore = new HashSet<>();
        if (existing != null) {
            existing.rules().forEach(r -> namesBefore.add(r.name()));
            idsBefore.addAll(userIds(existing));
            rolesAndRegionsBefore.addAll(rolesAndRegions(existing));
        }
        List<Rule> rules = next.rules();
        for (int i = 0; i < rules.size(); i++) {
            String name = rules.get(i).name();
            if (name != null && !namesBefore.contains(name)) {
                if (ReadableText.holdsAToken(name)) {
                    problems.add(new Problem(next.key(), "rules[" + i + "].name", ReadableText.HOLDS_A_TOKEN));
                }
                int bad = ReadableText.unfitForName(name);
                if (bad >= 0) {
                    problems.add(new Problem(next.key(), "rules[" + i + "].name", "must not hold control characters, line"
                            + " separators, bidirectional controls, invisible characters or half characters; character "
                            + (name.codePointCount(0, bad) + 1) + " is " + unicode(name.codePointAt(bad))));
                }
            }
        }
        List<Target> targets = next.targets();
        for (int t = 0; t < targets.size(); t++) {
            userIdProblem(next.key(), "targets[" + t + "].userIds", targets.get(t).userIds(), idsBefore, problems);
        }
        for (int r = 0; r < rules.size(); r++) {
            List<Condition> conditions = rules.get(r).conditions();
            for (int c = 0; c < conditions.size(); c++) {
                String path = "rules[" + r + "].conditions[" + c + "]";
                if (conditions.get(c) instanceof Condition.UserIds u) {
                    userIdProblem(next.key(), path + ".userIds", u.userIds(), idsBefore, problems);
                } else if (conditions.get(c) instanceof Condition.Roles rc) {
                    tokenProblem(next.key(), path + ".roles", rc.roles(), rolesAndRegionsBefore, problems);
                } else if (conditions.get(c) instanceof Condition.Regions gc) {
                    tokenProblem(next.key(), path + ".regions", gc.regions(), rolesAndRegionsBefore, problems);
                }
            }
        }
        return problems;
    }

    /** Adds a problem for the first new user id of a list that is unfit to name a user. */
    /**
     * The user ids of a flag file's role grants, held to the rule the server holds a grant's user id to: what {@code
     * flags validate} says of a file a server would refuse to grant from (QA48a F9).
     *
     * @param roleGrants role name to user ids
     * @return a problem for each role with a user id the server would refuse (its first such id), empty if none
     */
    public static List<Problem> grants(Map<String, Set<String>> roleGrants) {
        List<Problem> problems = new ArrayList<>();
        roleGrants.forEach((role, ids) -> {
            for (String id : ids) { // a set: said by the id, not by a position the file may not have
                if (ReadableText.holdsAToken(id)) { // not quoted: it may be a secret (QA62 F7)
                    problems.add(new Problem(null, "roleGrants." + role, "holds a user id that "
                            + ReadableText.HOLDS_A_TOKEN.substring("holds what ".length())));
                    return;
                }
                int bad = ReadableText.unfitForName(id);
                if (bad >= 0) {
                    problems.add(new Problem(null, "roleGrants." + role, "holds a user id that must not hold control"
                            + " characters, line separators, bidirectional controls, invisible characters or half characters,"
                            + " as a user id in a grant; was " + ReadableText.quoted(id, 80) + ", character "
                            + (id.codePointCount(0, bad) + 1) + " is " + unicode(id.codePointAt(bad))));
                    return;
                }
            }
        });
        return problems;
    }

    /** Writes compact JSON: a flag's size is counted as a flag server stores it. */
    private static final com.fasterxml.jackson.databind.ObjectMapper COMPACT = new com.fasterxml.jackson.databind.ObjectMapper();

    /**
     * The size of a flag's document as a flag server stores it: compact JSON in UTF-8, its version aside (the version is
     * the server's, and grows a digit now and then, which must not make a document it took too large later).
     *
     * @param flag a flag
     * @return its size in bytes
     */
    public static long storedBytes(Flag flag) {
        com.fasterxml.jackson.databind.node.ObjectNode document = FlagFormat.toJson(flag);
        document.remove("version");
        try {
            return COMPACT.writeValueAsBytes(document).length;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("a flag's document cannot be written: " + e.getOriginalMessage(), e);
        }
    }

    /**
     * The problem of a flag document over {@link FlagFormat#MAX_FLAG_BYTES} as a flag server stores it, which it refuses
     * (but for a write that only switches the flag on or off: a kill switch always goes through).
     *
     * @param key the flag's key
     * @param storedBytes its size as {@link #storedBytes} counts it
     * @return the problem, or null if it is within the limit
     */
    public static Problem tooLarge(String key, long storedBytes) {
        if (storedBytes <= FlagFormat.MAX_FLAG_BYTES) {
            return null;
        }
        return new Problem(key, "", "is " + storedBytes + " bytes as the server stores it (compact JSON, its version aside);"
                + " a flag document may be at most " + FlagFormat.MAX_FLAG_BYTES + " bytes: move long lists of user ids to a"
                + " role (a grant per user) or split the flag");
    }

    /**
     * Keys of a flag file that differ from another one only in letter case, which a flag server refuses (code and
     * people would confuse them: {@code billing-v2} and {@code Billing-v2}).
     *
     * @param flags the file's flags, in any order
     * @return a problem for each such key but the first of its kind in key order, naming that one; empty if none
     */
    public static List<Problem> caseTwins(java.util.Collection<Flag> flags) {
        Map<String, String> first = new HashMap<>();
        List<Problem> problems = new ArrayList<>();
        for (String key : new TreeSet<>(flags.stream().map(Flag::key).toList())) {
            String other = first.putIfAbsent(key.toLowerCase(java.util.Locale.ROOT), key);
            if (other != null) {
                problems.add(new Problem(key, "key", "differs from \"" + other + "\", also in the file, only in case,"
                        + " which code and people would confuse: a flag server takes only one of them"));
            }
        }
        return problems;
    }

    private static void userIdProblem(String key, String path, List<String> ids, Set<String> before, List<Problem> problems) {
        for (int i = 0; i < ids.size(); i++) {
            String id = ids.get(i);
            if (!before.contains(id) && ReadableText.holdsAToken(id)) {
                problems.add(new Problem(key, path + "[" + i + "]", ReadableText.HOLDS_A_TOKEN));
                return;
            }
            int bad = before.contains(id) ? -1 : ReadableText.unfitForName(id);
            if (bad >= 0) {
                problems.add(new Problem(key, path + "[" + i + "]", "must not hold control characters, line separators,"
                        + " bidirectional controls, invisible characters or half characters, as no user id may; was "
                        + ReadableText.quoted(id, 80) + ", character " + (id.codePointCount(0, bad) + 1) + " is " + unicode(id.codePointAt(bad))));
                return;
            }
        }
    }

    /**
     * Adds a problem for the first value of a list (a rule's roles or regions, sent to every SDK) that holds what looks
     * like a token and is not in {@code before} (QA67 F3).
     */
    private static void tokenProblem(String key, String path, List<String> values, Set<String> before, List<Problem> problems) {
        for (int i = 0; i < values.size(); i++) {
            if (!before.contains(values.get(i)) && ReadableText.holdsAToken(values.get(i))) {
                problems.add(new Problem(key, path + "[" + i + "]", ReadableText.HOLDS_A_TOKEN));
                return;
            }
        }
    }

    /** Every role and region the flag's rules name. */
    private static Set<String> rolesAndRegions(Flag flag) {
        Set<String> values = new HashSet<>();
        for (Rule r : flag.rules()) {
            for (Condition c : r.conditions()) {
                if (c instanceof Condition.Roles rc) {
                    values.addAll(rc.roles());
                } else if (c instanceof Condition.Regions gc) {
                    values.addAll(gc.regions());
                }
            }
        }
        return values;
    }

    /** Every user id the flag names: in its targets and in its rules' user-id conditions. */
    private static Set<String> userIds(Flag flag) {
        Set<String> ids = new HashSet<>();
        for (Target t : flag.targets()) {
            ids.addAll(t.userIds());
        }
        for (Rule r : flag.rules()) {
            for (Condition c : r.conditions()) {
                if (c instanceof Condition.UserIds u) {
                    ids.addAll(u.userIds());
                }
            }
        }
        return ids;
    }

    private static String unicode(int c) {
        return String.format("U+%04X", c);
    }
}
