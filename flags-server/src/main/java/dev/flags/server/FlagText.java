package dev.flags.server;

import dev.flags.core.Condition;
import dev.flags.core.Flag;
import dev.flags.core.Problem;
import dev.flags.core.Rule;
import dev.flags.core.Target;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Immutable (static functions only). The text in a flag document that people read in lists, diffs, the
 * history and terminals: its description, its rules' names and the user ids it targets. They are held to
 * the rules of names and comments ({@link LogText}): a description may hold line breaks and tabs, but no
 * other control character (a NUL, a terminal escape), no line separator, no bidirectional control and no
 * lone surrogate; a rule's name and a user id no invisible character either, as a grant's user id.
 *
 * <p>The flag format itself takes any text, and the journal holds what earlier releases accepted: only
 * what a write adds is refused (a changed description, a new name, a new user id), so that a flag that
 * has such text can still be changed (switched off, above all) without first being fixed.
 */
final class FlagText {

    private FlagText() {}

    /**
     * The text problems {@code next} has that {@code existing} did not.
     *
     * @param existing the flag before the write, or null for a new flag
     * @param next the flag the write would store
     * @return the new problems, empty if none
     */
    static List<Problem> added(Flag existing, Flag next) {
        List<Problem> problems = new ArrayList<>();
        String description = next.description();
        if (description != null && (existing == null || !Objects.equals(existing.description(), description))) {
            int bad = LogText.unfitForText(description);
            if (bad >= 0) {
                problems.add(new Problem(next.key(), "description", "may hold line breaks and tabs but no other control"
                        + " characters, line separators, bidirectional controls or half characters; character "
                        + (description.codePointCount(0, bad) + 1) + " is " + unicode(description.codePointAt(bad))));
            }
        }
        Set<String> namesBefore = new HashSet<>();
        Set<String> idsBefore = new HashSet<>();
        if (existing != null) {
            existing.rules().forEach(r -> namesBefore.add(r.name()));
            idsBefore.addAll(userIds(existing));
        }
        List<Rule> rules = next.rules();
        for (int i = 0; i < rules.size(); i++) {
            String name = rules.get(i).name();
            if (name != null && !namesBefore.contains(name)) {
                int bad = LogText.unfitForName(name);
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
                if (conditions.get(c) instanceof Condition.UserIds u) {
                    userIdProblem(next.key(), "rules[" + r + "].conditions[" + c + "].userIds", u.userIds(), idsBefore, problems);
                }
            }
        }
        return problems;
    }

    /** Adds a problem for the first new user id of a list that is unfit to name a user. */
    private static void userIdProblem(String key, String path, List<String> ids, Set<String> before, List<Problem> problems) {
        for (int i = 0; i < ids.size(); i++) {
            String id = ids.get(i);
            int bad = before.contains(id) ? -1 : LogText.unfitForName(id);
            if (bad >= 0) {
                problems.add(new Problem(key, path + "[" + i + "]", "must not hold control characters, line separators,"
                        + " bidirectional controls, invisible characters or half characters, as a user id in a grant; was "
                        + LogText.quoted(id, 80) + ", character " + (id.codePointCount(0, bad) + 1) + " is " + unicode(id.codePointAt(bad))));
                return;
            }
        }
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
