package dev.flags.client;

import dev.flags.core.User;
import java.util.Objects;

/**
 * Immutable. The answer one user gets from one flag changed: its value, its variant, or the variant's payload.
 *
 * @param flagKey the flag
 * @param user the user the listener was registered for
 * @param oldValue the answer the listener last knew of (at its registration, or at the change before this one)
 * @param newValue the answer now served
 */
public record FlagValueChangeEvent(String flagKey, User user, FlagEvaluation oldValue, FlagEvaluation newValue) {

    /** Checks that nothing is null. */
    public FlagValueChangeEvent {
        Objects.requireNonNull(flagKey, "flagKey");
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(oldValue, "oldValue");
        Objects.requireNonNull(newValue, "newValue");
    }
}
