package dev.flags.server.journal;

/**
 * Immutable. Another journal (in this or another process) already owns the data directory.
 *
 * <p>Only one writer may use a journal's data directory; a second server pointed at the same
 * directory refuses to start with this exception instead of corrupting it.
 */
public final class JournalLockedException extends JournalException {

    /**
     * Creates the exception.
     *
     * @param message which directory is held, and by whom if known
     */
    public JournalLockedException(String message) {
        super(message);
    }
}
