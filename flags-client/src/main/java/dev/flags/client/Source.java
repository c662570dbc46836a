package dev.flags.client;

/**
 * Immutable. Where the flags that gave an answer came from, so that no answer is silently stale.
 *
 * <p>Every {@link FlagEvaluation} carries one, and so does {@link Freshness}.
 */
public enum Source {
    /** From the flag server, over a stream that is up: the answer is current. */
    LIVE,
    /**
     * From the flag server, but the stream is down or silent: the answer is the last one the server
     * gave, and may be out of date. The SDK is reconnecting; or it is closed, and nothing updates them any more.
     */
    STALE,
    /**
     * From the local cache file, written by an earlier run: the server has not been reached yet in
     * this process (fail static).
     */
    CACHE_FILE,
    /** From a flag file, in offline mode: there is no server. */
    OFFLINE_FILE,
    /** From flags a test set directly ({@link dev.flags.client.testing.TestFlags}). */
    IN_MEMORY,
    /**
     * No flags at all: the server has not been reached and there was no usable cache file (or the
     * offline file could not be read). Every answer is the caller's default.
     */
    DEFAULTS
}
