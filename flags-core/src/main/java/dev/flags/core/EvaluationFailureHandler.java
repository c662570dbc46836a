package dev.flags.core;

/**
 * Told when a flag's rules failed on a user, when the caller asked for a flag that is not there, or when
 * the user has an attribute no flag can name, so that the mistake is not silent. The evaluator still
 * answers (the caller's default, with an {@link Reason.Kind#ERROR} reason from
 * {@link FlagSet#evaluate}); this is for a log line or a metric.
 *
 * <p>A rule fails on a user's data only in rare cases: a {@code matches} condition whose regular
 * expression overflows the stack on a very long attribute value, for example. Implementations are
 * called on the evaluating thread, so they must be thread-safe, cheap, and must not throw (what one
 * throws is ignored).
 *
 * <pre>{@code
 * boolean on = flags.isEnabled("billing-v2", user, false,
 *         (key, version, failure) -> log.warn("flag {} v{} failed: {}", key, version, failure.toString()));
 * }</pre>
 */
@FunctionalInterface
public interface EvaluationFailureHandler {

    /** A handler that does nothing. */
    EvaluationFailureHandler IGNORE = (flagKey, flagVersion, failure) -> { };

    /**
     * Called after a flag's rules failed on a user.
     *
     * @param flagKey the flag's key
     * @param flagVersion the flag's version
     * @param failure what the rules threw ({@link RuntimeException} or {@link StackOverflowError})
     */
    void failed(String flagKey, long flagVersion, Throwable failure);

    /**
     * Called when the caller asked for a flag the set does not have (the answer is the caller's default,
     * with a {@link Reason.Kind#FLAG_NOT_FOUND} reason from {@link FlagSet#evaluate}): a typo in the code,
     * or a flag archived while code still asks for it. Not called for a null key. Does nothing unless
     * overridden; the same rules as {@link #failed}: thread-safe, cheap, must not throw.
     *
     * @param flagKey the key asked for; any string the caller passed
     */
    default void unknownFlag(String flagKey) {
    }

    /**
     * Called when the user evaluated for has an attribute whose name no flag can name ({@code "my attr"}: see
     * {@link User#attribute(String, String)}), on each evaluation for such a user: a typo in the code, most likely, and
     * a condition meant for that attribute never holds. The answer is as if the attribute were not there. Does nothing
     * unless overridden; the same rules as {@link #failed}: thread-safe, cheap, must not throw.
     *
     * @param attributeName the first such name the user was given
     */
    default void unmatchableAttribute(String attributeName) {
    }
}
