package dev.flags.server.journal;

/**
 * Immutable. A change does not fit the current state: the environment or flag it names does (or
 * does not) exist, the environment is archived, or it is not at the expected version.
 *
 * <p>Nothing was appended. At the HTTP edge this is a 409 Conflict (or 404 where a thing is
 * missing); malformed changes (limits, missing fields) are {@link IllegalArgumentException}s instead.
 */
public final class ChangeConflictException extends JournalException {

    /**
     * Creates the exception.
     *
     * @param message what conflicts, with the keys and versions involved
     */
    public ChangeConflictException(String message) {
        super(message);
    }
}
