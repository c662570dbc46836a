package dev.flags.core;

/**
 * Immutable. What a matched target, rule or default serves, with every possible {@link Evaluation}
 * built in advance, so that choosing one allocates nothing.
 */
final class Outcome {

    private final Evaluation fixed;          // the answer when no variant split is needed, else null
    private final int[] cumulativeBuckets;   // upper bounds (exclusive) of each variant's buckets
    private final Evaluation[] byVariant;    // the answer for each variant, same order
    private final Evaluation withoutKey;     // a split for a user with no sticky key: the first variant weighted above 0

    private Outcome(Evaluation fixed, int[] cumulativeBuckets, Evaluation[] byVariant, Evaluation withoutKey) {
        this.fixed = fixed;
        this.cumulativeBuckets = cumulativeBuckets;
        this.byVariant = byVariant;
        this.withoutKey = withoutKey;
    }

    /** An outcome that always gives the same answer. */
    static Outcome fixed(Evaluation evaluation) {
        return new Outcome(evaluation, null, null, null);
    }

    /**
     * An outcome that serves true and splits users between the flag's variants by weight.
     */
    static Outcome split(Flag flag, Reason reason) {
        int n = flag.variants().size();
        int[] cumulative = new int[n];
        Evaluation[] answers = new Evaluation[n];
        int sum = 0;
        for (int i = 0; i < n; i++) {
            Variant v = flag.variants().get(i);
            sum += Bucketing.threshold(v.weight());
            cumulative[i] = sum;
            answers[i] = new Evaluation(flag.key(), true, v.key(), v.payload(), reason, flag.version());
        }
        Variant first = firstWithAShare(flag);
        String noSplit = "user has " + Bucketing.missing(flag.bucketBy()) + ", so it cannot be split between variants; the first"
                + " variant with a weight above 0 is served";
        // Kept before it: the default's own detail (a partial rollout skipped for want of the key), which the docs promise.
        Reason noKeyReason = new Reason(reason.kind(), reason.ruleIndex(), reason.ruleName(),
                reason.detail() == null ? noSplit : reason.detail() + "; " + noSplit);
        Evaluation withoutKey = new Evaluation(flag.key(), true, first.key(), first.payload(), noKeyReason, flag.version());
        return new Outcome(null, cumulative, answers, withoutKey);
    }

    /**
     * The variant a user without a sticky key gets: the first whose weight is above 0. A weight of 0 takes a variant out
     * of an experiment; it must not then be served to every anonymous user (QA57 F5). Weights add up to 100, so there is one.
     */
    static Variant firstWithAShare(Flag flag) {
        for (Variant v : flag.variants()) {
            if (Bucketing.threshold(v.weight()) > 0) {
                return v;
            }
        }
        return flag.variants().get(0); // weights that add up to 100 leave one above 0; a flag built in code may not
    }

    /** @return true if choosing the answer needs the user's variant bucket */
    boolean needsVariantBucket() {
        return fixed == null;
    }

    /** @return the fixed answer; only when {@link #needsVariantBucket()} is false */
    Evaluation fixedAnswer() {
        return fixed;
    }

    /** @return the answer for a user without a sticky key */
    Evaluation withoutKey() {
        return withoutKey;
    }

    /** @return the answer for a user in this variant bucket (0 to 99,999) */
    Evaluation forBucket(int variantBucket) {
        int[] bounds = cumulativeBuckets;
        for (int i = 0; i < bounds.length; i++) {
            if (variantBucket < bounds[i]) {
                return byVariant[i];
            }
        }
        return byVariant[byVariant.length - 1]; // unreachable: weights sum to 100
    }
}
