package dev.flags.server.auth;

/**
 * Immutable. What a token may do. Least privilege: each scope may do only what its users need.
 */
public enum Scope {
    /** Everything, including tokens and environments. */
    ADMIN,
    /** Read and write flags (and read history) in the environments the token lists. */
    EDITOR,
    /** Read flags, and grant or revoke self-service roles, in the environments the token lists. */
    TESTER,
    /** Read-only sync stream and snapshots of the one environment the token lists. */
    SDK;

    /** @return the name used in the API and the journal: lowercase */
    public String apiName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
