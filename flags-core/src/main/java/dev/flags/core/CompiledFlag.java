package dev.flags.core;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Immutable. A validated flag compiled for evaluation: matchers built, bucketing prefixes encoded and
 * every answer built in advance. Evaluating allocates nothing.
 */
final class CompiledFlag {

    private static final int NO_ROLLOUT = -1;

    private final Flag flag;
    private final byte[] rolloutPrefix;
    private final byte[] variantPrefix;
    private final Evaluation off;
    private final Map<String, Outcome> targetedUsers;
    private final CompiledRule[] rules;
    private final Outcome fallthrough;
    private final Outcome fallthroughWithoutKey;

    /** A rule: matchers ANDed, then an optional partial rollout. */
    private record CompiledRule(ConditionMatcher[] matchers, int rolloutThreshold, boolean neverMatches, Outcome outcome) {
    }

    CompiledFlag(Flag flag) {
        this.flag = flag;
        String salt = flag.effectiveSalt();
        this.rolloutPrefix = Bucketing.prefix(salt);
        this.variantPrefix = Bucketing.variantPrefix(salt);
        this.off = new Evaluation(flag.key(), false, null, null, Reason.of(Reason.Kind.FLAG_OFF), flag.version());

        Map<String, Outcome> targeted = new HashMap<>();
        for (int i = 0; i < flag.targets().size(); i++) {
            Target t = flag.targets().get(i);
            Outcome outcome = outcome(t.serve(), t.variant(), new Reason(Reason.Kind.TARGET_MATCH, i, null, null));
            t.userIds().forEach(id -> targeted.putIfAbsent(id, outcome));
        }
        this.targetedUsers = Map.copyOf(targeted);

        List<CompiledRule> compiled = new ArrayList<>();
        boolean anyPartialRollout = false;
        for (int i = 0; i < flag.rules().size(); i++) {
            Rule r = flag.rules().get(i);
            List<ConditionMatcher> matchers = new ArrayList<>();
            int threshold = NO_ROLLOUT;
            boolean never = false;
            for (Condition c : r.conditions()) {
                if (c instanceof Condition.Percentage p) {
                    int t = Bucketing.threshold(p.percentage());
                    if (t == 0) {
                        never = true; // 0% includes nobody, with or without an id
                    } else if (t < Bucketing.BUCKETS) {
                        threshold = t;
                        anyPartialRollout = true;
                    } // 100% includes everybody, with or without an id
                } else {
                    matchers.add(Matchers.compile(c));
                }
            }
            Outcome outcome = outcome(r.serve(), r.variant(), new Reason(Reason.Kind.RULE_MATCH, i, r.name(), null));
            compiled.add(new CompiledRule(matchers.toArray(new ConditionMatcher[0]), threshold, never, outcome));
        }
        this.rules = compiled.toArray(new CompiledRule[0]);

        this.fallthrough = outcome(flag.defaultValue(), null, Reason.of(Reason.Kind.DEFAULT));
        this.fallthroughWithoutKey = anyPartialRollout
                ? outcome(flag.defaultValue(), null, Reason.of(Reason.Kind.DEFAULT,
                        "user has no id, so no partial rollout can include it"))
                : fallthrough;
    }

    private Outcome outcome(boolean serve, String variant, Reason reason) {
        if (!serve) {
            return Outcome.fixed(new Evaluation(flag.key(), false, null, null, reason, flag.version()));
        }
        if (flag.variants().isEmpty()) {
            return Outcome.fixed(new Evaluation(flag.key(), true, null, null, reason, flag.version()));
        }
        if (variant != null) {
            Variant v = flag.variants().stream().filter(x -> x.key().equals(variant)).findFirst().orElseThrow();
            return Outcome.fixed(new Evaluation(flag.key(), true, v.key(), v.payload(), reason, flag.version()));
        }
        return Outcome.split(flag, reason);
    }

    Flag flag() {
        return flag;
    }

    /**
     * Evaluates the flag. The rollout bucket is hashed at most once, and only when a rule that
     * otherwise matches has a partial rollout; the variant bucket at most once, at the end.
     */
    Evaluation evaluate(User user, Map<String, Set<String>> grants) {
        if (!flag.enabled()) {
            return off;
        }
        String key = user.id();
        if (key != null && !targetedUsers.isEmpty()) {
            Outcome targeted = targetedUsers.get(key);
            if (targeted != null) {
                return choose(targeted, key);
            }
        }
        int rolloutBucket = -1;
        boolean skippedForMissingKey = false;
        for (CompiledRule rule : rules) {
            if (rule.neverMatches || !allMatch(rule.matchers, user, grants)) {
                continue;
            }
            if (rule.rolloutThreshold != NO_ROLLOUT) {
                if (key == null) {
                    skippedForMissingKey = true;
                    continue;
                }
                if (rolloutBucket < 0) {
                    rolloutBucket = Bucketing.bucket(rolloutPrefix, key);
                }
                if (rolloutBucket >= rule.rolloutThreshold) {
                    continue;
                }
            }
            return choose(rule.outcome, key);
        }
        return choose(skippedForMissingKey ? fallthroughWithoutKey : fallthrough, key);
    }

    private static boolean allMatch(ConditionMatcher[] matchers, User user, Map<String, Set<String>> grants) {
        for (ConditionMatcher m : matchers) {
            if (!m.matches(user, grants)) {
                return false;
            }
        }
        return true;
    }

    private Evaluation choose(Outcome outcome, String key) {
        if (!outcome.needsVariantBucket()) {
            return outcome.fixedAnswer();
        }
        if (key == null) {
            return outcome.withoutKey();
        }
        return outcome.forBucket(Bucketing.bucket(variantPrefix, key));
    }
}
