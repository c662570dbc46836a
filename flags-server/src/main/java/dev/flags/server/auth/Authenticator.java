package dev.flags.server.auth;

import java.util.Optional;

/**
 * Thread-safe. Turns a presented bearer token into a {@link Principal}. Implementations compare
 * hashes in constant time and never log or keep the presented secret.
 */
public interface Authenticator {

    /**
     * @param presentedToken the secret after "Bearer "; may be null or malformed
     * @return the principal, or empty if the token is unknown, revoked, expired or malformed
     */
    Optional<Principal> authenticate(String presentedToken);

    /**
     * Checks a presented token and says why it is refused: as {@link #authenticate}, but an expired
     * token is told apart from an unknown one. Callers that serve a request or a stream call this one,
     * so that an implementation may count the use (see {@link TokenService}).
     *
     * @param presentedToken the secret after "Bearer "; may be null or malformed
     * @return what the check found; by default accepted or unknown, as {@link #authenticate} says
     */
    default Authentication check(String presentedToken) {
        return authenticate(presentedToken).map(Authentication::accepted).orElse(Authentication.unknown());
    }

    /**
     * Told of a request refused because {@link #check} found its token unknown (not expired): for the log and the
     * metrics, never with the token. By default nothing.
     *
     * @param where the port, "http" or "grpc"
     * @param from the client's address as the port saw it
     */
    default void refusedUnknown(String where, String from) {
    }
}
