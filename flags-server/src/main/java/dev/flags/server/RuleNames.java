package dev.flags.server;

import dev.flags.core.Flag;
import dev.flags.core.Problem;
import dev.flags.core.Rule;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Immutable (static functions only). The rule names a write may introduce. A rule is named to be
 * found by that name ({@code flags rollout ... --rule "eu canary"}, PATCH {@code "rule": "eu canary"}),
 * and a number finds a rule by its index; so two rules of one name, or a name of digits only, would
 * let a rollout land on another rule than the one meant.
 *
 * <p>The flag format itself allows both, and the journal holds what earlier releases accepted: only
 * a problem a write adds is refused, so that a flag that has one can still be changed (switched off,
 * above all) without first being fixed.
 */
final class RuleNames {

    private RuleNames() {}

    /**
     * The rule-name problems {@code next} has that {@code existing} did not.
     *
     * @param existing the flag before the write, or null for a new flag
     * @param next the flag the write would store
     * @return the new problems, empty if none
     */
    static List<Problem> added(Flag existing, Flag next) {
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
}
