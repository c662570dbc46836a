package dev.flags.server.auth;

import java.util.Optional;

/**
 * Thread-safe. Turns a presented bearer token into a {@link Principal}. Implementations compare
 * hashes in constant time and never log or keep the presented secret.
 */
public interface Authenticator {

    /**
     * @param presentedToken the secret after "Bearer "; may be null or malformed
     * @return the principal, or empty if the token is unknown, revoked or malformed
     */
    Optional<Principal> authenticate(String presentedToken);
}
