package dev.flags.server.auth;

import java.util.Objects;
import java.util.Optional;

/**
 * Immutable. What checking a presented token found: a principal to serve, a token that is known but
 * has expired, or nothing (unknown, revoked or malformed). The API and the sync service refuse the
 * last two alike (401, {@code UNAUTHENTICATED}) and differ only in the words, so that whoever holds an
 * expired token learns to ask for a new one instead of suspecting a typo.
 *
 * <pre>{@code
 * Authentication a = tokens.check(presented);
 * if (a.isExpired()) {
 *     refuse("the token expired at " + a.expiredToken().expiresAt());
 * }
 * Principal p = a.principal().orElseThrow(() -> refusal("unknown or revoked token"));
 * }</pre>
 */
public final class Authentication {

    private static final Authentication UNKNOWN = new Authentication(null, false);

    private final Principal principal;
    private final boolean expired;

    private Authentication(Principal principal, boolean expired) {
        this.principal = principal;
        this.expired = expired;
    }

    /**
     * @param principal who the token belongs to, and what it may do
     * @return a token to serve
     * @throws NullPointerException if principal is null
     */
    public static Authentication accepted(Principal principal) {
        return new Authentication(Objects.requireNonNull(principal, "principal"), false);
    }

    /**
     * @param principal the expired token's principal: for the words of the refusal and the log, never to
     *     authorize anything
     * @return a known token refused because it has expired
     * @throws NullPointerException if principal is null
     */
    public static Authentication expired(Principal principal) {
        return new Authentication(Objects.requireNonNull(principal, "principal"), true);
    }

    /** @return no such token: unknown, revoked or malformed */
    public static Authentication unknown() {
        return UNKNOWN;
    }

    /** @return the principal to serve, or empty if the token is refused (unknown, revoked or expired) */
    public Optional<Principal> principal() {
        return expired ? Optional.empty() : Optional.ofNullable(principal);
    }

    /** @return whether the token is known and refused only because it has expired */
    public boolean isExpired() {
        return expired;
    }

    /**
     * @return the expired token's principal (its id, name and expiry), for the words of a refusal
     * @throws IllegalStateException if the token is not {@linkplain #isExpired() expired}
     */
    public Principal expiredToken() {
        if (!expired) {
            throw new IllegalStateException("the token is not expired");
        }
        return principal;
    }

    @Override
    public String toString() {
        return expired ? "Authentication{expired " + principal.tokenId() + "}"
                : principal == null ? "Authentication{unknown}" : "Authentication{" + principal.tokenId() + "}";
    }
}
