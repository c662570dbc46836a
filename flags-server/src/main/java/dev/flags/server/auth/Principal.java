package dev.flags.server.auth;

import java.time.Instant;
import java.util.Objects;
import java.util.Set;

/**
 * Immutable. Who is calling: the token that authenticated a request, and what it may do.
 *
 * @param tokenId the token's id (never the secret); used as the actor in the journal with its name
 * @param name the token's name, such as "alice" or "billing-service"
 * @param scope what the token may do
 * @param environments the environments a token of any scope but admin is for; empty for admin
 * @param userId the one user whose roles a tester token may grant and revoke; null for other scopes,
 *               and for tester tokens created before tokens had a user (those may grant to anyone)
 * @param expiresAt the instant from which the token is refused; null for a token that never expires
 *                  (the bootstrap admin token, and every token made without an expiry)
 */
public record Principal(String tokenId, String name, Scope scope, Set<String> environments, String userId,
                        Instant expiresAt) {

    /** Copies the environments. */
    public Principal {
        Objects.requireNonNull(tokenId, "tokenId");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(scope, "scope");
        environments = environments == null ? Set.of() : Set.copyOf(environments);
    }

    /** A principal that never expires. */
    public Principal(String tokenId, String name, Scope scope, Set<String> environments, String userId) {
        this(tokenId, name, scope, environments, userId, null);
    }

    /** A principal that is not a tester's (no user of its own) and never expires. */
    public Principal(String tokenId, String name, Scope scope, Set<String> environments) {
        this(tokenId, name, scope, environments, null, null);
    }

    /**
     * @param now the time to judge by
     * @return whether the token has expired at that time: its expiry is at or before {@code now}
     */
    public boolean isExpiredAt(Instant now) {
        return expiresAt != null && !now.isBefore(expiresAt);
    }

    /** @return true for an admin token */
    public boolean isAdmin() {
        return scope == Scope.ADMIN;
    }

    /** @return whether the token may read the environment's flags over HTTP */
    public boolean canRead(String environment) {
        return isAdmin() || (scope != Scope.SDK && environments.contains(environment));
    }

    /** @return whether the token may change flags in the environment */
    public boolean canWriteFlags(String environment) {
        return isAdmin() || (scope == Scope.EDITOR && environments.contains(environment));
    }

    /**
     * @return whether the token may switch the environment's flags off (the kill switch): an editor's and an operator's,
     *     whose tokens may do nothing else to a flag
     */
    public boolean canSwitchOff(String environment) {
        return isAdmin() || ((scope == Scope.EDITOR || scope == Scope.OPERATOR) && environments.contains(environment));
    }

    /**
     * @return whether the token may read the environment's history, audit log and past states, which name who changed
     *     what: every scope that reads flags but a tester's
     */
    public boolean canReadHistory(String environment) {
        return isAdmin() || ((scope == Scope.EDITOR || scope == Scope.OPERATOR || scope == Scope.VIEWER)
                && environments.contains(environment));
    }

    /** @return whether the token may grant or revoke self-service roles in the environment */
    public boolean canGrantSelfServiceRoles(String environment) {
        return isAdmin() || ((scope == Scope.TESTER || scope == Scope.EDITOR) && environments.contains(environment));
    }

    /**
     * @param grantee the user whose roles are to change
     * @return whether the token may change that user's roles: a tester token only its own user's
     *         (testers grant themselves beta roles, not anyone else)
     */
    public boolean mayChangeRolesOf(String grantee) {
        return scope != Scope.TESTER || userId == null || userId.equals(grantee);
    }

    /** @return whether the token may subscribe to the environment's sync stream */
    public boolean canSync(String environment) {
        return isAdmin() || (scope == Scope.SDK && environments.contains(environment));
    }

    /**
     * The most characters of the name an actor holds: with the id it stays within the journal's 256
     * characters of an actor even when a name's control characters are written out.
     */
    private static final int MAX_ACTOR_NAME = 200;

    /**
     * @return the actor recorded in the journal: "name (tokenId)". Tokens made before names were
     *     checked may have control characters in their names, which the journal refuses in an actor:
     *     each is written as its JSON escape ({@code \\u001b} for ESC), so that such a token can still make changes.
     */
    public String actor() {
        StringBuilder shown = new StringBuilder(name.length());
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (Character.isISOControl(c)) {
                shown.append(String.format("\\u%04x", (int) c));
            } else {
                shown.append(c);
            }
        }
        if (shown.length() > MAX_ACTOR_NAME) { // only names with many control characters grow this long
            shown.setLength(MAX_ACTOR_NAME - 3);
            shown.append("...");
        }
        return shown + " (" + tokenId + ")";
    }
}
