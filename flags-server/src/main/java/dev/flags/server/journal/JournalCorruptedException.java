package dev.flags.server.journal;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Immutable. A journal or checkpoint file is damaged (or was written by a newer release) at a known
 * place, and the journal refuses to guess.
 *
 * <p>The message names the file and the byte offset; {@link #file()} and {@link #offset()} give them
 * to programs. A journal with damage before its tail does not open; the message of that refusal
 * also says what to do: {@code JournalTool verify} shows the damage and {@code JournalTool repair
 * --cut-at-damage} cuts the journal there (see {@code docs/journal.md}).
 */
public final class JournalCorruptedException extends JournalException {

    /** The damaged file (not serialized: a path is not serializable). */
    private final transient Path file;
    /** The byte offset of the damage, or -1. */
    private final long offset;
    /** What is wrong, without the file, the offset or the advice. */
    private final String reason;
    /** What the operator can do about it, or null. */
    private final String advice;
    /** Whether the file is of a format version this release does not read: not damage, a newer release's. */
    private final boolean newerFormat;

    /**
     * Creates the exception.
     *
     * @param file the damaged file
     * @param offset the byte offset of the damage in that file, or -1 if it concerns the whole file
     * @param reason what is wrong there
     * @throws NullPointerException if file is null
     */
    public JournalCorruptedException(Path file, long offset, String reason) {
        this(file, offset, reason, null);
    }

    /** Creates the exception with advice for the operator, appended to the message. */
    JournalCorruptedException(Path file, long offset, String reason, String advice) {
        this(file, offset, reason, advice, false);
    }

    private JournalCorruptedException(Path file, long offset, String reason, String advice, boolean newerFormat) {
        super(describe(file, offset, reason, advice, newerFormat));
        this.file = Objects.requireNonNull(file, "file");
        this.offset = offset;
        this.reason = reason;
        this.advice = advice;
        this.newerFormat = newerFormat;
    }

    /** A file of a format version this release does not read: written by a newer release, not damaged. */
    static JournalCorruptedException newerFormat(Path file, long offset, String reason, String advice) {
        return new JournalCorruptedException(file, offset, reason, advice, true);
    }

    private static String describe(Path file, long offset, String reason, String advice, boolean newerFormat) {
        String what = newerFormat ? "journal of a newer format" : "journal damaged";
        String where = offset >= 0
                ? what + " in " + file + " at byte offset " + offset + ": " + reason
                : what + ": " + file + ": " + reason;
        return advice == null ? where : where + "; " + advice;
    }

    /**
     * Returns the same finding with advice for the operator; the stack trace is the original's, so
     * it still shows where the damage was found.
     */
    JournalCorruptedException withAdvice(String text) {
        JournalCorruptedException advised = new JournalCorruptedException(file, offset, reason, text, newerFormat);
        advised.setStackTrace(getStackTrace());
        return advised;
    }

    /**
     * Whether the file is of a format version this release does not read: most likely written by a
     * newer release, which reads it; a repair would set sound data aside.
     *
     * @return true for a newer format version
     */
    public boolean newerFormat() {
        return newerFormat;
    }

    /**
     * Returns the damaged file; for entries that no segment holds, the segment file that should hold
     * them (named after the first missing sequence), which does not exist.
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

    /** What is wrong at that place, without the file and offset. */
    String reason() {
        return reason;
    }

    /** What the message advises, or null. */
    String advice() {
        return advice;
    }
}
