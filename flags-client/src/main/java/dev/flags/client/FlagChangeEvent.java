package dev.flags.client;

import java.util.Objects;

/**
 * Immutable. A flag that changed: created, updated (its document, or the role grants its rules
 * depend on), or removed.
 *
 * <p>A change of where the flags come from (for example from {@link Source#CACHE_FILE} to
 * {@link Source#LIVE}) that changes no flag is not an event.
 *
 * @param flagKey the flag that changed
 * @param change how it changed
 * @param version the version of the whole set of flags that now answers (the environment's version)
 * @param source where the flags that now answer came from
 */
public record FlagChangeEvent(String flagKey, Change change, long version, Source source) {

    /** How a flag changed. */
    public enum Change {
        /** The flag did not exist and now does. */
        ADDED,
        /** The flag's document changed, or a role grant that one of its rules names. */
        UPDATED,
        /** The flag no longer exists (deleted or archived): every answer is the caller's default. */
        REMOVED
    }

    /** Checks the key, change and source. */
    public FlagChangeEvent {
        Objects.requireNonNull(flagKey, "flagKey");
        Objects.requireNonNull(change, "change");
        Objects.requireNonNull(source, "source");
    }
}
