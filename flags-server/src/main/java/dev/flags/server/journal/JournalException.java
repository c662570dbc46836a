package dev.flags.server.journal;

/**
 * Immutable. The journal could not do what was asked: an i/o failure, a closed or stopped journal,
 * or (in the subclasses) damage, a held lock, or a conflicting change.
 *
 * <p>Messages are lowercase, name the file, offset or value at fault, and never contain a secret.
 */
public class JournalException extends RuntimeException {

    /**
     * Creates the exception.
     *
     * @param message what went wrong
     */
    public JournalException(String message) {
        super(message);
    }

    /**
     * Creates the exception with its cause.
     *
     * @param message what went wrong
     * @param cause the underlying failure
     */
    public JournalException(String message, Throwable cause) {
        super(message, cause);
    }
}
