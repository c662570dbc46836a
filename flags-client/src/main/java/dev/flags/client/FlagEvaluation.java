package dev.flags.client;

import dev.flags.core.Reason;
import java.util.Objects;

/**
 * Immutable. The answer of one evaluation, why it was given, and where the flags came from: the
 * "why is this on for me?" answer.
 *
 * <pre>{@code
 * FlagEvaluation why = flags.evaluate("billing-v2", user);
 * log.info("billing-v2 is {} for {}: {} (flag version {}, from {})",
 *     why.value(), user.id(), why.reason(), why.flagVersion(), why.source());
 * }</pre>
 *
 * @param flagKey the flag asked for; {@code ""} when the key asked for was null (the reason says so), so that code
 *                that groups or logs by key never meets a null
 * @param value whether the feature is on for the user
 * @param variant the variant served, or null (the flag has no variants, or served false)
 * @param payload the served variant's payload, or null
 * @param reason why this answer (flags-core's reasons: {@code FLAG_NOT_FOUND}, {@code FLAG_OFF},
 *               {@code TARGET_MATCH}, {@code RULE_MATCH}, {@code DEFAULT}, {@code ERROR})
 * @param flagVersion the version of the flag that answered, or -1 if no flag did
 * @param source where the flags that answered came from: live, stale, cache file, offline file,
 *               in memory, or none at all (defaults)
 * @param version the version of the whole set of flags that answered (the environment's version),
 *                0 if none
 */
public record FlagEvaluation(String flagKey, boolean value, String variant, String payload, Reason reason,
                             long flagVersion, Source source, long version) {

    /** Checks the key, reason and source. */
    public FlagEvaluation {
        Objects.requireNonNull(flagKey, "flagKey");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(source, "source");
    }
}
