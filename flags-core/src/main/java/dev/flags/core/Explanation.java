package dev.flags.core;

import java.util.List;
import java.util.Objects;

/**
 * Immutable. Why a flag gives a user its answer, step by step, in the order the evaluator takes them:
 * the switch, the individual targets, each rule tried (and, for a rule that did not match, the first
 * condition that did not hold, with the user's own value: the region, the roles, the rollout bucket),
 * then the flag's default. For people asking "why is this on for me?" or "why isn't user X in the
 * canary?" (the server's playground, the CLI); not for the hot path: made by
 * {@link FlagSet#explain}, which allocates freely.
 *
 * <p>The answer is the evaluator's own ({@link #evaluation()}); the steps describe how it got there.
 *
 * @param evaluation the answer, exactly as {@link FlagSet#evaluate} gives it
 * @param steps what was tried, in order; the last one decided (empty for an unknown flag or a null user)
 */
public record Explanation(Evaluation evaluation, List<Step> steps) {

    /** Copies the steps. */
    public Explanation {
        Objects.requireNonNull(evaluation, "evaluation");
        steps = List.copyOf(steps);
    }

    /**
     * Immutable. One step of an evaluation.
     *
     * @param kind what was looked at
     * @param index the target's or rule's index (from 0), or -1 for the switch and the default
     * @param ruleName the rule's name, or null
     * @param matched whether the step applied to the user (the switch: whether the flag is on); the
     *                step that decided is the last, and the only one with {@code matched} true,
     *                unless the flag's default decided
     * @param detail a sentence for people, such as {@code "conditions[1]: percentage 10: the user's
     *               bucket is 70201 of 100000; the rollout includes buckets 0 to 9999"}
     */
    public record Step(Kind kind, int index, String ruleName, boolean matched, String detail) {

        /** Checks the kind and detail. */
        public Step {
            Objects.requireNonNull(kind, "kind");
            Objects.requireNonNull(detail, "detail");
        }
    }

    /** What a step looked at. */
    public enum Kind {
        /** The flag's switch: off is off for everyone. */
        SWITCH,
        /** The individual targets (user ids), tried before the rules. */
        TARGETS,
        /** A rule. */
        RULE,
        /** The flag's default, served when no target or rule matched. */
        DEFAULT
    }
}
