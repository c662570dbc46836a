package dev.flags.server;

import java.util.Map;

/**
 * Immutable. What a write requires of the flag before it: nothing, a version ({@code If-Match: "12"}),
 * that it exists ({@code If-Match: *}), or that it does not ({@code If-None-Match: *}, a create that
 * never overwrites).
 *
 * @param version the version the flag must be at, or null
 * @param mustExist the flag must exist (at any version)
 * @param mustNotExist the flag must not exist
 */
public record Precondition(Long version, boolean mustExist, boolean mustNotExist) {

    private static final Precondition NONE = new Precondition(null, false, false);

    /** @return no requirement */
    public static Precondition none() {
        return NONE;
    }

    /**
     * @param version the version the writer last saw
     * @return a requirement that the flag is at that version
     */
    public static Precondition atVersion(long version) {
        return new Precondition(version, true, false);
    }

    /** @return a requirement that the flag exists, at any version */
    public static Precondition exists() {
        return new Precondition(null, true, false);
    }

    /** @return a requirement that the flag does not exist */
    public static Precondition absent() {
        return new Precondition(null, false, true);
    }

    /**
     * @param existing the flag's current version, or null if it does not exist
     * @param key the flag's key, for the message
     * @throws ApiException 412 if the requirement does not hold
     */
    void check(Long existing, String key) {
        check(existing, key, "the flag does not exist");
    }

    /**
     * As {@link #check(Long, String)}, saying why a flag that must exist is not there.
     *
     * @param absent why the flag is not there ("the flag does not exist", "it is archived ..."), for the message
     */
    void check(Long existing, String key, String absent) {
        if (mustNotExist && existing != null) {
            throw new ApiException(412, "flag exists", "flag \"" + key + "\" already exists (at version " + existing
                    + ") and If-None-Match: * asked for a new one only", Map.of("currentVersion", existing));
        }
        if (mustExist && existing == null) {
            throw new ApiException(412, "version mismatch", (version == null ? "If-Match: * asks for an existing flag"
                    : "If-Match names version " + version + " of flag \"" + key + "\"") + ", but " + absent);
        }
        if (version != null && existing != null && !version.equals(existing)) {
            throw new ApiException(412, "version mismatch", "flag \"" + key + "\" is at version " + existing
                    + ", not " + version + " as If-Match says: someone else changed it; read it again and reapply your change",
                    Map.of("currentVersion", existing));
        }
    }
}
