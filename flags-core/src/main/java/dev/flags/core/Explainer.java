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

    static Explanation explain(CompiledFlag compiled, User user, Map<String, Set<String>> grants) {
        Evaluation answer = compiled.evaluate(user, grants);
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
                                + "], which serves " + served(t.serve(), t.variant(), answer)));
                        return new Explanation(answer, steps);
                    }
                }
                steps.add(new Step(Kind.TARGETS, -1, null, false, "user id " + quote(id) + " is in no target"));
            }
        }
        boolean skippedForMissingId = false;
        for (int i = 0; i < flag.rules().size(); i++) {
            Rule rule = flag.rules().get(i);
            RuleWalk walk = walk(rule, flag, user, grants);
            if (walk.failed != null) {
                steps.add(new Step(Kind.RULE, i, rule.name(), false, walk.failed));
                skippedForMissingId |= walk.missingId;
                continue;
            }
            String held = walk.held.isEmpty() ? "it has no conditions: it matches everyone"
                    : "every condition holds: " + String.join("; ", walk.held);
            steps.add(new Step(Kind.RULE, i, rule.name(), true, held + "; it serves "
                    + served(rule.serve(), rule.variant(), answer)));
            return new Explanation(answer, steps);
        }
        String none = flag.targets().isEmpty() && flag.rules().isEmpty() ? "the flag has no targets or rules"
                : "no target or rule matched";
        steps.add(new Step(Kind.DEFAULT, -1, null, true, none + ": the flag's default, " + served(flag.defaultValue(), null, answer)
                + (skippedForMissingId ? " (a rule with a partial rollout matched otherwise, but the user has no id)" : "")));
        return new Explanation(answer, steps);
    }

    /** What a rule made of the user: the first condition that failed, or every condition, held. */
    private record RuleWalk(String failed, boolean missingId, List<String> held) {
    }

    private static RuleWalk walk(Rule rule, Flag flag, User user, Map<String, Set<String>> grants) {
        List<String> held = new ArrayList<>();
        int percentageAt = -1;
        for (int j = 0; j < rule.conditions().size(); j++) {
            Condition c = rule.conditions().get(j);
            if (c instanceof Condition.Percentage p) {
                percentageAt = j;
                if (Bucketing.threshold(p.percentage()) == 0) {
                    return new RuleWalk(at(j) + "percentage " + number(p.percentage()) + " includes nobody", false, held);
                }
                continue;
            }
            String sentence = describe(c, user, grants);
            if (!Matchers.compile(c).matches(user, grants)) {
                return new RuleWalk(at(j) + sentence, false, held);
            }
            held.add(at(j) + sentence);
        }
        if (percentageAt >= 0) {
            double percentage = ((Condition.Percentage) rule.conditions().get(percentageAt)).percentage();
            int threshold = Bucketing.threshold(percentage);
            String what = at(percentageAt) + "percentage " + number(percentage);
            if (threshold >= Bucketing.BUCKETS) {
                held.add(what + " includes everyone");
            } else if (user.id() == null) {
                return new RuleWalk(what + ": the user has no id, so no partial rollout can include it", true, held);
            } else {
                int bucket = Bucketing.rolloutBucket(flag.effectiveSalt(), user.id());
                String buckets = "the user's bucket is " + bucket + " of " + Bucketing.BUCKETS
                        + ", and the rollout includes buckets 0 to " + (threshold - 1);
                if (bucket >= threshold) {
                    return new RuleWalk(what + ": " + buckets, false, held);
                }
                held.add(what + ": " + buckets);
            }
        }
        return new RuleWalk(null, false, held);
    }

    /** A condition and what the user has, whether it holds or not (the caller knows which). */
    private static String describe(Condition c, User user, Map<String, Set<String>> grants) {
        if (c instanceof Condition.Roles r) {
            Set<String> granted = user.id() == null ? Set.of() : grants.getOrDefault(user.id(), Set.of());
            return "roles " + list(r.roles()) + ": the application gave the user " + list(user.roles())
                    + (user.id() == null ? " (no id, so no roles granted on the server)"
                            : " and the server granted " + list(granted));
        } else if (c instanceof Condition.Regions r) {
            return "regions " + list(r.regions()) + ": "
                    + (user.region() == null ? "the user has no region" : "the user's region is " + quote(user.region()));
        } else if (c instanceof Condition.UserIds u) {
            return "user ids (" + u.userIds().size() + "): "
                    + (user.id() == null ? "the user has no id"
                            : "user id " + quote(user.id()) + (u.userIds().contains(user.id()) ? " is" : " is not") + " in the list");
        } else if (c instanceof Condition.Attribute a) {
            String condition = quote(a.attribute()) + (a.negate() ? " not " : " ") + a.operator().jsonName() + " "
                    + list(a.values()) + (a.ignoreCase() ? " ignoring case" : "");
            Object value = user.attribute(a.attribute());
            return condition + ": " + switch (Matchers.explain(a, user)) {
                case MISSING -> "the user has no attribute " + quote(a.attribute()) + ", which never matches";
                case UNREADABLE -> "the user's value " + quote(Matchers.text(value)) + " cannot be read as "
                        + a.operator().kind().name().toLowerCase(Locale.ROOT) + ", which never matches";
                case HOLDS -> "the user's value " + quote(Matchers.text(value)) + " holds";
                case DOES_NOT_HOLD -> "the user's value " + quote(Matchers.text(value)) + " does not hold";
            };
        }
        throw new IllegalArgumentException("not a matcher condition: " + c);
    }

    private static String served(boolean serve, String variant, Evaluation answer) {
        if (!serve) {
            return "false";
        }
        if (variant != null) {
            return "true, variant " + quote(variant);
        }
        return answer.variant() != null ? "true, variant " + quote(answer.variant()) + " by the user's variant bucket"
                : "true";
    }

    private static String at(int index) {
        return "conditions[" + index + "]: ";
    }

    private static String number(double percentage) {
        return Matchers.text(percentage) + "%";
    }

    private static String list(List<String> values) {
        return values.stream().map(Explainer::quote).collect(Collectors.joining(", ", "[", "]"));
    }

    /** A set of the user's (roles), sorted so that the sentence is the same every time. */
    private static String list(Set<String> values) {
        return list(List.copyOf(new TreeSet<>(values)));
    }

    private static String quote(String s) {
        return Problems.quote(s);
    }
}
