package dev.flags.server.journal;

/**
 * Immutable. A change made by a stored token that is no longer in the token set when the change is appended: it was
 * revoked while the request that makes the change waited ({@link Change#byToken}). Nothing was appended.
 */
public final class ActingTokenGoneException extends JournalException {

    /** @param tokenId the token's id */
    public ActingTokenGoneException(String tokenId) {
        super("token " + tokenId + " was revoked while its request waited to be written: nothing was changed");
    }
}
