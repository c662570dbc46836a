package dev.flags.server.journal;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Immutable. A journal or checkpoint file is damaged (or was written by a newer release) at a known
 * place, and the journal refuses to guess.
 *
 * <p>The message names the file and the byte offset; {@link #file()} and {@link #offset()} give them
 * to programs. A journal with damage before its tail does not open; {@code JournalTool verify} shows
 * the damage and {@code JournalTool repair --cut-at-damage} cuts the journal there (see
 * {@code docs/journal.md}).
 */
public final class JournalCorruptedException extends JournalException {

    /** The damaged file (not serialized: a path is not serializable). */
    private final transient Path file;
    /** The byte offset of the damage, or -1. */
    private final long offset;

    /**
     * Creates the exception.
     *
     * @param file the damaged file
     * @param offset the byte offset of the damage in that file, or -1 if it concerns the whole file
     * @param reason what is wrong there
     */
    public JournalCorruptedException(Path file, long offset, String reason) {
        super(describe(file, offset, reason));
        this.file = Objects.requireNonNull(file, "file");
        this.offset = offset;
    }

    private static String describe(Path file, long offset, String reason) {
        return offset >= 0
                ? "journal damaged in " + file + " at byte offset " + offset + ": " + reason
                : "journal damaged: " + file + ": " + reason;
    }

    /**
     * Returns the damaged file.
     *
     * @return the file's path
     */
    public Path file() {
        return file;
    }

    /**
     * Returns where in the file the damage starts.
     *
     * @return the byte offset, or -1 if the problem concerns the whole file
     */
    public long offset() {
        return offset;
    }
}
