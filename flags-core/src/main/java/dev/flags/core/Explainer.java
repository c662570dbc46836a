package dev.flags.core;

import dev.flags.core.Explanation.Kind;
import dev.flags.core.Explanation.Step;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Immutable (stateless). Explains an evaluation step by step ({@link Explanation}), walking the
 * flag's model in the evaluator's order: switch, targets, then each rule (a rule's conditions other
 * than its percentage first, in order, then its percentage), then the default. The answer itself is
 * always the evaluator's: {@code ExplanationTest} holds the steps to it.
 *
 * <p>Off the hot path on purpose: it compiles each condition again and builds sentences.
 */
final class Explainer {

    private Explainer() {
    }

    /**
     * @param answer the evaluator's answer for this user (an ERROR one if the rules failed on the user)
     * @param grantsShown false when the caller may not see the server's role grants to this user (a
     *                    tester explaining another user): then the steps do not claim it has none
     */
    static Explanation explain(CompiledFlag compiled, User user, Map<String, Set<String>> grants, Evaluation answer,
                               boolean grantsShown) {
        BoundedText.resetBudget(); // the walk reads the patterns again, with a budget of its own
        Flag flag = compiled.flag();
        List<Step> steps = new ArrayList<>();
        if (!flag.enabled()) {
            steps.add(new Step(Kind.SWITCH, -1, null, false,
                    "the flag is switched off: off for everyone, whatever its targets and rules say"));
            return new Explanation(answer, steps);
        }
        steps.add(new Step(Kind.SWITCH, -1, null, true, "the flag is on"));
        String id = user.id();
        if (!flag.targets().isEmpty()) {
            if (id == null) {
                steps.add(new Step(Kind.TARGETS, -1, null, false, "the user has no id, so no target can include it"));
            } else {
                for (int i = 0; i < flag.targets().size(); i++) {
                    Target t = flag.targets().get(i);
                    if (t.userIds().contains(id)) {
                        steps.add(new Step(Kind.TARGETS, i, null, true, "user id " + quote(id) + " is in targets[" + i
                                + "], which serves " + served(t.serve(), t.variant(), answer, user, flag.bucketBy())));
                        return new Explanation(answer, steps);
                    }
                }
                steps.add(new Step(Kind.TARGETS, -1, null, false, "user id " + quote(id) + " is in no target"));
            }
        }
        boolean skippedForMissingId = false;
        for (int i = 0; i < flag.rules().size(); i++) {
            Rule rule = flag.rules().get(i);
            RuleWalk walk = walk(rule, flag, user, grants, grantsShown);
            if (walk.error) { // the evaluator failed here too: its answer is the ERROR one
                steps.add(new Step(Kind.RULE, i, rule.name(), false, walk.failed));
                return new Explanation(answer, steps);
            }
            if (walk.failed != null) {
                steps.add(new Step(Kind.RULE, i, rule.name(), false, walk.failed));
                skippedForMissingId |= walk.missingId;
                continue;
            }
            String held = walk.held.isEmpty() ? "it has no conditions: it matches everyone"
                    : "every condition holds: " + String.join("; ", walk.held);
            steps.add(new Step(Kind.RULE, i, rule.name(), true, held + "; it serves "
                    + served(rule.serve(), rule.variant(), answer, user, flag.bucketBy())));
            return new Explanation(answer, steps);
        }
        String none = flag.targets().isEmpty() && flag.rules().isEmpty() ? "the flag has no targets or rules"
                : "no target or rule matched";
        steps.add(new Step(Kind.DEFAULT, -1, null, true, none + ": the flag's default, " + served(flag.defaultValue(), null, answer, user, flag.bucketBy())
                + (skippedForMissingId ? " (a rule with a partial rollout matched otherwise, but the user has "
                        + Bucketing.missing(flag.bucketBy()) + ")" : "")));
        return new Explanation(answer, steps);
    }

    /** What a rule made of the user: the first condition that failed, or every condition, held. */
    private record RuleWalk(String failed, boolean missingId, List<String> held, boolean error) {
        RuleWalk(String failed, boolean missingId, List<String> held) {
            this(failed, missingId, held, false);
        }
    }

    private static RuleWalk walk(Rule rule, Flag flag, User user, Map<String, Set<String>> grants, boolean grantsShown) {
        List<String> held = new ArrayList<>();
        // A 0% rule includes nobody, wherever its percentage stands: the evaluator skips it without running its
        // other conditions (CompiledFlag: neverMatches), so they are not run here either. Run, a pattern among
        // them told "failed on this user" of a rule the evaluator never tried, and spent reads it did not.
        for (int j = 0; j < rule.conditions().size(); j++) {
            if (rule.conditions().get(j) instanceof Condition.Percentage p && Bucketing.threshold(p.percentage()) == 0) {
                return new RuleWalk(at(j) + "percentage " + number(p.percentage()) + " includes nobody", false, held);
            }
        }
        int percentageAt = -1;
        for (int j = 0; j < rule.conditions().size(); j++) {
            Condition c = rule.conditions().get(j);
            if (c instanceof Condition.Percentage) {
                percentageAt = j;
                continue;
            }
            Described d;
            try {
                d = describe(c, user, grants, grantsShown);
            } catch (RuntimeException | StackOverflowError e) {
                return new RuleWalk(at(j) + "failed on this user: " + FlagSet.failure(e), false, held, true);
            }
            if (!d.holds) {
                return new RuleWalk(at(j) + d.sentence, false, held);
            }
            held.add(at(j) + d.sentence);
        }
        if (percentageAt >= 0) {
            double percentage = ((Condition.Percentage) rule.conditions().get(percentageAt)).percentage();
            int threshold = Bucketing.threshold(percentage);
            String what = at(percentageAt) + "percentage " + number(percentage);
            if (threshold >= Bucketing.BUCKETS) {
                held.add(what + " includes everyone");
            } else if (Bucketing.stickyKey(flag.bucketBy(), user) == null) {
                return new RuleWalk(what + ": the user has " + Bucketing.missing(flag.bucketBy()) + ", so no partial rollout"
                        + " can include it", true, held);
            } else {
                String sticky = Bucketing.stickyKey(flag.bucketBy(), user);
                int bucket = Bucketing.rolloutBucket(flag.effectiveSalt(), sticky);
                String buckets = (flag.bucketBy() == null ? "the user's bucket is "
                        : "the bucket of " + flag.bucketBy() + " " + quote(sticky) + " is ") + bucket + " of " + Bucketing.BUCKETS
                        + ", and the rollout includes buckets 0 to " + (threshold - 1);
                if (bucket >= threshold) {
                    return new RuleWalk(what + ": " + buckets, false, held);
                }
                held.add(what + ": " + buckets);
            }
        }
        return new RuleWalk(null, false, held);
    }

    /** A condition and what the user has, and whether it holds. */
    private record Described(String sentence, boolean holds) {
    }

    private static Described describe(Condition c, User user, Map<String, Set<String>> grants, boolean grantsShown) {
        if (c instanceof Condition.Attribute a) {
            // Matched once, here: a pattern's reads count against the budget (BoundedText).
            Matchers.AttributeResult result = Matchers.explain(a, user);
            String condition = quote(a.attribute()) + (a.negate() ? " not " : " ") + a.operator().jsonName() + " "
                    + list(a.values()) + (a.ignoreCase() ? " ignoring case" : "");
            Object value = user.attribute(a.attribute());
            String what = switch (result) {
                case MISSING -> "the user has no attribute " + quote(a.attribute()) + ", which never matches"
                        + ownFieldNote(a.attribute());
                case UNREADABLE -> "the user's value " + quote(Matchers.text(value)) + " cannot be read as "
                        + a.operator().kind().name().toLowerCase(Locale.ROOT) + ", which never matches";
                case HOLDS -> "the user's value " + quote(Matchers.text(value)) + " holds";
                case DOES_NOT_HOLD -> "the user's value " + quote(Matchers.text(value)) + " does not hold";
            };
            return new Described(condition + ": " + what, result == Matchers.AttributeResult.HOLDS);
        }
        boolean holds = Matchers.compile(c).matches(user, grants);
        if (c instanceof Condition.Roles r) {
            String granted = user.id() == null ? " (no id, so no role grants apply)"
                    : grantsShown ? " and the role grants give it " + list(grants.getOrDefault(user.id(), Set.of()))
                    : " (the server's grants to this user are not shown to this token)";
            return new Described("roles " + list(r.roles()) + ": the application gave the user " + list(user.roles())
                    + granted, holds);
        } else if (c instanceof Condition.Regions r) {
            return new Described("regions " + list(r.regions()) + ": "
                    + (user.region() == null ? "the user has no region" : "the user's region is " + quote(user.region())), holds);
        } else if (c instanceof Condition.UserIds u) {
            return new Described("user ids (" + u.userIds().size() + "): "
                    + (user.id() == null ? "the user has no id"
                            : "user id " + quote(user.id()) + (holds ? " is" : " is not") + " in the list"), holds);
        }
        throw new IllegalArgumentException("not a matcher condition: " + c);
    }

    private static String served(boolean serve, String variant, Evaluation answer, User user, String bucketBy) {
        if (!serve) {
            return "false";
        }
        if (variant != null) {
            return "true, variant " + quote(variant);
        }
        if (answer.variant() == null) {
            return "true";
        }
        String sticky = Bucketing.stickyKey(bucketBy, user);
        return "true, variant " + quote(answer.variant()) + (sticky == null
                ? " (the user has " + Bucketing.missing(bucketBy) + ", so no variant bucket: the first variant with a weight above 0)"
                : bucketBy == null ? " by the user's variant bucket" : " by the variant bucket of " + bucketBy + " " + quote(sticky));
    }

    private static String at(int index) {
        return "conditions[" + index + "]: ";
    }

    private static String number(double percentage) {
        return Matchers.text(percentage) + "%";
    }

    /** At most this many items of a list are shown: a user may hold thousands of roles. */
    private static final int MAX_LISTED = 10;

    private static String list(List<String> values) {
        String shown = values.stream().limit(MAX_LISTED).map(Explainer::quote).collect(Collectors.joining(", "));
        return "[" + shown + (values.size() > MAX_LISTED ? ", ... " + (values.size() - MAX_LISTED) + " more" : "") + "]";
    }

    /** A set of the user's (roles), sorted so that the sentence is the same every time. */
    private static String list(Set<String> values) {
        return list(List.copyOf(new TreeSet<>(values)));
    }

    /**
     * Said of a condition on a custom attribute named as one of the user's own fields, which it never reads: "why is this
     * off for me?" has that answer, though no write may add such a condition now ({@link WriteRules#ownFields}).
     */
    private static String ownFieldNote(String attribute) {
        return switch (attribute) {
            case "id", "region", "roles" -> " (a custom attribute of that name: the user's own " + attribute
                    + " is not read by an attribute condition)";
            default -> "";
        };
    }

    private static String quote(String s) {
        return Problems.quote(s);
    }
}
