package dev.flags.server.auth;

/**
 * Immutable. What a token may do. Least privilege: each scope may do only what its users need.
 */
public enum Scope {
    /** Everything, including tokens and environments. */
    ADMIN,
    /** Read and write flags (and read history) in the environments the token lists. */
    EDITOR,
    /**
     * Read flags and history, and switch flags off (the kill switch, nothing else), in the environments the token lists:
     * for whoever is on call, who must stop a feature at once but has no business releasing one.
     */
    OPERATOR,
    /** Read flags, and grant or revoke self-service roles, in the environments the token lists. */
    TESTER,
    /** Read flags, history and the playground in the environments the token lists; change nothing. */
    VIEWER,
    /** Read-only sync stream and snapshots of the one environment the token lists. */
    SDK;

    /** @return the name used in the API and the journal: lowercase */
    public String apiName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** @return the API name with its article, as a sentence says it: "an editor", "a tester", "an sdk" */
    public String withArticle() {
        return (this == TESTER || this == VIEWER ? "a " : "an ") + apiName();
    }

    /** @return every scope's API name, as a refusal of an unknown one lists them: "admin, editor, ... or sdk" */
    public static String apiNames() {
        Scope[] all = values();
        StringBuilder names = new StringBuilder();
        for (int i = 0; i < all.length; i++) {
            names.append(i == 0 ? "" : i == all.length - 1 ? " or " : ", ").append(all[i].apiName());
        }
        return names.toString();
    }
}
