package dev.flags.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Immutable but for its {@link UsageMarks}, which are thread-safe. A validated flag compiled for
 * evaluation: matchers built, bucketing prefixes encoded and every answer built in advance. Evaluating
 * allocates nothing.
 */
final class CompiledFlag {

    private static final int NO_ROLLOUT = -1;

    private final Flag flag;
    private final Murmur3.Prefix rolloutPrefix; // null when no rule has a partial rollout
    private final Murmur3.Prefix variantPrefix; // null when the flag has no variants
    private final Evaluation off;
    private final Map<String, Outcome> targetedUsers;
    private final CompiledRule[] rules;
    private final AttributeLadder[] laddersByStart; // null when the flag has no ladder
    private final Outcome fallthrough;
    private final Outcome fallthroughWithoutKey;
    private final Evaluation sameForEveryone; // off, or on with no target, rule or variant; else null
    private final boolean usesPatterns; // a "matches" condition: evaluations get a budget of reads (BoundedText)
    private final UsageMarks usage;

    /*
     * A ladder: three or more consecutive rules whose only condition is "attribute X in [values]" on
     * the same attribute (the classic "plan in A, then plan in B, ..."). It is evaluated with one
     * attribute lookup and one map lookup instead of one of each per rule: the first rule containing
     * the value decides, exactly as trying the rules in order would. A missing attribute matches none.
     */
    private record AttributeLadder(String attribute, Map<String, Integer> firstRule, int end) {
    }

    private static final int MIN_LADDER = 3;

    private static final CompiledRule[] NO_RULES = new CompiledRule[0];

    /** A rule: matchers ANDed, then an optional partial rollout. */
    private record CompiledRule(ConditionMatcher[] matchers, int rolloutThreshold, boolean neverMatches, Outcome outcome) {
    }

    /*
     * Every SDK compiles each changed flag as the change arrives, so what a plain switch does not need
     * (bucketing prefixes, maps and lists for targets and rules it lacks) is not built: it was most of
     * the garbage of compiling one.
     */
    CompiledFlag(Flag flag) {
        this(flag, new UsageMarks());
    }

    /**
     * @param flag the flag
     * @param usage the marks of an earlier version of the flag (they carry on), or new ones
     */
    CompiledFlag(Flag flag, UsageMarks usage) {
        this.flag = flag;
        this.usage = usage;
        this.off = new Evaluation(flag.key(), false, null, null, Reason.of(Reason.Kind.FLAG_OFF), flag.version());

        if (flag.targets().isEmpty()) {
            this.targetedUsers = Map.of();
        } else {
            Map<String, Outcome> targeted = new HashMap<>();
            for (int i = 0; i < flag.targets().size(); i++) {
                Target t = flag.targets().get(i);
                Outcome outcome = outcome(t.serve(), t.variant(), new Reason(Reason.Kind.TARGET_MATCH, i, null, null));
                t.userIds().forEach(id -> targeted.putIfAbsent(id, outcome));
            }
            // Not Map.copyOf: its open addressing degrades with ids whose hashes run in sequence (see
            // FlagFormat.unmodifiableHashSet), and a flag may target thousands of users.
            this.targetedUsers = Collections.unmodifiableMap(targeted);
        }

        List<CompiledRule> compiled = new ArrayList<>(flag.rules().size());
        boolean anyPartialRollout = false;
        boolean anyPattern = false;
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
                    anyPattern |= c instanceof Condition.Attribute a && a.operator() == Operator.MATCHES;
                }
            }
            Outcome outcome = outcome(r.serve(), r.variant(), new Reason(Reason.Kind.RULE_MATCH, i, r.name(), null));
            compiled.add(new CompiledRule(matchers.toArray(new ConditionMatcher[0]), threshold, never, outcome));
        }
        this.rules = compiled.isEmpty() ? NO_RULES : compiled.toArray(new CompiledRule[0]);
        this.usesPatterns = anyPattern; // found in the loop above: every SDK compiles each changed flag
        this.laddersByStart = flag.rules().size() < MIN_LADDER ? null : ladders(flag.rules());
        String salt = flag.effectiveSalt();
        this.rolloutPrefix = anyPartialRollout ? Murmur3.prefix(Bucketing.prefix(salt)) : null;
        this.variantPrefix = flag.variants().isEmpty() ? null : Murmur3.prefix(Bucketing.variantPrefix(salt));

        this.fallthrough = outcome(flag.defaultValue(), null, Reason.of(Reason.Kind.DEFAULT));
        this.fallthroughWithoutKey = anyPartialRollout
                ? outcome(flag.defaultValue(), null, Reason.of(Reason.Kind.DEFAULT,
                        "user has " + Bucketing.missing(flag.bucketBy()) + ", so no partial rollout can include it"))
                : fallthrough;
        // Switched off, or on for everyone with nothing to choose between: the answer needs no user,
        // so evaluating it reads one field (a kill switch and a full release are the commonest flags).
        if (!flag.enabled()) {
            this.sameForEveryone = off;
        } else if (targetedUsers.isEmpty() && rules.length == 0 && !fallthrough.needsVariantBucket()) {
            this.sameForEveryone = fallthrough.fixedAnswer();
        } else {
            this.sameForEveryone = null;
        }
    }

    private static AttributeLadder[] ladders(List<Rule> rules) {
        AttributeLadder[] byStart = new AttributeLadder[rules.size()];
        boolean any = false;
        int i = 0;
        while (i < rules.size()) {
            String attribute = ladderAttribute(rules.get(i));
            int end = i + 1;
            while (attribute != null && end < rules.size() && attribute.equals(ladderAttribute(rules.get(end)))) {
                end++;
            }
            if (attribute != null && end - i >= MIN_LADDER) {
                Map<String, Integer> first = new HashMap<>();
                for (int k = i; k < end; k++) {
                    for (String value : ((Condition.Attribute) rules.get(k).conditions().get(0)).values()) {
                        first.putIfAbsent(value, k);
                    }
                }
                byStart[i] = new AttributeLadder(attribute, Collections.unmodifiableMap(first), end);
                any = true;
                i = end;
            } else {
                i++;
            }
        }
        return any ? byStart : null;
    }

    /** The attribute of a rule that can join a ladder, or null. */
    private static String ladderAttribute(Rule rule) {
        if (rule.conditions().size() == 1 && rule.conditions().get(0) instanceof Condition.Attribute a
                && a.operator() == Operator.IN && !a.negate() && !a.ignoreCase()) {
            return a.attribute();
        }
        return null;
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
     * The answer of a switched-off flag, which needs no user: the kill switch wins over everything,
     * a null user included (a caller whose user is null by a bug must not turn a killed feature on).
     *
     * @return the {@code FLAG_OFF} answer if the flag is switched off, else null
     */
    Evaluation offAnswer() {
        return flag.enabled() ? null : off;
    }

    /** @return this flag's usage marks, shared with the compiled versions before and after it */
    UsageMarks usage() {
        return usage;
    }

    /**
     * Evaluates the flag. The rollout bucket is hashed at most once, and only when a rule that
     * otherwise matches has a partial rollout; the variant bucket at most once, at the end.
     */
    Evaluation evaluate(User user, Map<String, Set<String>> grants) {
        if (sameForEveryone != null) {
            return sameForEveryone;
        }
        if (usesPatterns) {
            BoundedText.resetBudget(); // one budget for all of this evaluation's patterns
        }
        String id = user.id();
        // What rollouts and variant splits bucket by: the id, or the flag's bucketBy attribute (an account's users together).
        // A String, or a Long (a whole-number bucketBy attribute), hashed as its text without building it.
        Object key = flag.bucketBy() == null ? id : Bucketing.stickyValue(flag.bucketBy(), user);
        if (id != null && !targetedUsers.isEmpty()) {
            Outcome targeted = targetedUsers.get(id);
            if (targeted != null) {
                return choose(targeted, key);
            }
        }
        int rolloutBucket = -1;
        boolean skippedForMissingKey = false;
        AttributeLadder[] ladders = laddersByStart;
        int i = 0;
        while (i < rules.length) {
            AttributeLadder ladder = ladders == null ? null : ladders[i];
            if (ladder != null) {
                Object value = user.attribute(ladder.attribute);
                Integer hit = value == null ? null : ladder.firstRule.get(Matchers.text(value));
                if (hit != null) {
                    return choose(rules[hit].outcome, key);
                }
                i = ladder.end;
                continue;
            }
            CompiledRule rule = rules[i++];
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

    private Evaluation choose(Outcome outcome, Object key) {
        if (!outcome.needsVariantBucket()) {
            return outcome.fixedAnswer();
        }
        if (key == null) {
            return outcome.withoutKey();
        }
        return outcome.forBucket(Bucketing.bucket(variantPrefix, key));
    }
}
