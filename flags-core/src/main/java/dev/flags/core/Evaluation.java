package dev.flags.core;

import java.util.Objects;

/**
 * Immutable. The answer of one evaluation and why: the "why is this on for me?" answer.
 *
 * @param flagKey the flag asked for
 * @param value whether the feature is on for the user
 * @param variant the variant served, or null (the flag has no variants, or served false)
 * @param payload the served variant's payload, or null
 * @param reason why this answer
 * @param flagVersion the version of the flag that answered, or -1 if no flag did
 */
public record Evaluation(String flagKey, boolean value, String variant, String payload, Reason reason,
                         long flagVersion) {

    /** Checks the key and reason. */
    public Evaluation {
        Objects.requireNonNull(flagKey, "flagKey");
        Objects.requireNonNull(reason, "reason");
    }

    /**
     * @param flagKey the flag asked for
     * @param defaultValue the caller's default
     * @return the answer for a flag that does not exist
     */
    public static Evaluation notFound(String flagKey, boolean defaultValue) {
        return new Evaluation(flagKey, defaultValue, null, null,
                Reason.of(Reason.Kind.FLAG_NOT_FOUND, "no flag \"" + flagKey + "\" in this set"), -1);
    }

    /**
     * @param flagKey the flag asked for
     * @param defaultValue the caller's default
     * @param detail what went wrong, for people
     * @param flagVersion the flag's version, or -1
     * @return an error answer carrying the caller's default
     */
    public static Evaluation error(String flagKey, boolean defaultValue, String detail, long flagVersion) {
        return new Evaluation(flagKey, defaultValue, null, null, Reason.of(Reason.Kind.ERROR, detail), flagVersion);
    }
}
