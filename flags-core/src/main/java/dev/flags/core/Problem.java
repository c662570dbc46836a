package dev.flags.core;

import java.util.Objects;

/**
 * Immutable. One thing wrong with a flag document, located by its JSON path.
 *
 * @param flagKey the key of the flag the problem is in, or null when it is not inside a flag (or the
 *                flag has no readable key)
 * @param path the JSON path of the bad value from the document's root, such as
 *             {@code flags[2].rules[1].conditions[0].percentage}; empty for the document itself
 * @param message what is wrong, in words a product owner understands, such as
 *                {@code must be between 0 and 100, was 150}
 */
public record Problem(String flagKey, String path, String message) {

    /** Checks the path and message. */
    public Problem {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(message, "message");
    }

    /**
     * The problem as one sentence, such as
     * {@code flag "billing-v2": rules[1].conditions[0].percentage must be between 0 and 100, was 150}.
     */
    @Override
    public String toString() {
        if (flagKey == null && path.isEmpty() && message.startsWith(Problems.UNLISTED_PREFIX)) {
            return message; // the count of the problems not listed is a sentence of its own, about no one place (QA57 F4)
        }
        String where = path.isEmpty() ? "document" : path;
        return flagKey == null ? where + " " + message : "flag \"" + flagKey + "\": " + where + " " + message;
    }
}
