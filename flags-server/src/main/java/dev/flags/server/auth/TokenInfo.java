package dev.flags.server.auth;

import java.time.Instant;
import java.util.Objects;

/**
 * Immutable. What the API shows of a live token: who it is and what it may do, when and by whom it
 * was made, when it expires, and when it was last used. Never its secret or hash.
 *
 * @param principal the token's id, name, scope, environments, user and expiry ({@link Principal#expiresAt()})
 * @param createdAt when the journal recorded the token's creation (the {@code TOKEN_CREATED} entry's
 *     timestamp); null if the journal no longer holds that entry (removed by retention)
 * @param createdBy who made it (that entry's actor, such as {@code admin} or {@code ops (tok-1a2b3c4d)});
 *     null when createdAt is
 * @param expired whether the token had expired when this was taken
 * @param lastUsedAt the last time the token authenticated a request or opened a sync stream since this
 *     server started, to the second; null if it has not been used since then. Kept in memory only.
 */
public record TokenInfo(Principal principal, Instant createdAt, String createdBy, boolean expired, Instant lastUsedAt) {

    /** Checks the principal. */
    public TokenInfo {
        Objects.requireNonNull(principal, "principal");
    }
}
