package dev.flags.server;

import dev.flags.server.journal.FileAccess;
import dev.flags.server.journal.JournalException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;

/**
 * Immutable (stateless). Why the server could not start, in one line an operator can act on: a port
 * in use, a data directory it may not write, a journal another server holds. Those are the
 * environment's doing, not bugs, so a stack trace would only bury the line that matters. Public for
 * launchers that embed the server (the demo), so that they word a failed start the same way.
 */
public final class StartFailure {

    private StartFailure() {
    }

    /**
     * @param failure what {@link FlagServer#start} threw
     * @return true if the failure is the environment's (ports, files, journal, certificates), so its
     *     message says everything; false for anything else, which is a bug worth its stack trace
     */
    public static boolean isEnvironmental(Throwable failure) {
        return failure instanceof IOException || failure instanceof UncheckedIOException
                || failure instanceof JournalException || failure instanceof GeneralSecurityException;
    }

    /**
     * @param failure what {@link FlagServer#start} threw
     * @return its reason on one line, with the file or address it concerns
     */
    public static String describe(Throwable failure) {
        StringBuilder line = new StringBuilder();
        String previous = null;
        for (Throwable t = failure; t != null; t = t.getCause()) {
            String part = own(t);
            // A wrapper that put its cause in its message as "java.nio.file.AccessDeniedException: <file>" (the
            // journal's "cannot open journal in ...") says it in the cause's own words instead, and once.
            Throwable cause = t.getCause();
            if (part != null && cause != null && part.contains(cause.toString()) && own(cause) != null) {
                part = part.replace(cause.toString(), own(cause));
                t = cause;
            }
            // Wrappers repeat their cause's message, or name its class: say each thing once.
            if (part == null || part.isBlank() || (previous != null && previous.contains(part))
                    || (t.getCause() != null && part.equals(t.getCause().toString()))) {
                continue;
            }
            if (line.length() > 0) {
                line.append(": ");
            }
            line.append(part);
            previous = part;
        }
        for (Throwable t = failure; t != null; t = t.getCause()) {
            // Once, for the first file refused, unless a message already said whose it is.
            if (t instanceof AccessDeniedException denied && denied.getFile() != null) {
                if (line.indexOf(" belongs to ") < 0) {
                    line.append(whoMay(Path.of(denied.getFile())));
                }
                break;
            }
        }
        return line.length() == 0 ? failure.getClass().getSimpleName() : line.toString();
    }

    /** What the throwable itself says: a file problem with its file, else its message. */
    private static String own(Throwable t) {
        return t instanceof FileSystemException fs ? fileProblem(fs) : t.getMessage();
    }

    private static String fileProblem(FileSystemException e) {
        String reason = e.getReason() != null ? e.getReason()
                : e instanceof AccessDeniedException ? "permission denied"
                : e instanceof NoSuchFileException ? "no such file or directory"
                : e instanceof NotDirectoryException ? "not a directory"
                : e instanceof FileAlreadyExistsException ? "already exists, and is not a directory"
                : "cannot be used";
        String other = e.getOtherFile() == null ? "" : " (and " + e.getOtherFile() + ")";
        return e.getFile() + other + ": " + reason;
    }

    /**
     * Who owns the file (or, for one that is not there, the directory it would be made in), its mode, and who this
     * process is: a permission problem is a user mismatch far more often than a mode, and the line must say which.
     */
    static String whoMay(Path file) {
        Path existing = file;
        while (existing != null && !Files.exists(existing, LinkOption.NOFOLLOW_LINKS)) {
            existing = existing.getParent();
        }
        if (existing == null) {
            return "";
        }
        String owner = FileAccess.ownerOf(existing);
        if (owner == null) {
            return "";
        }
        String mode = FileAccess.modeOf(existing);
        String user = System.getProperty("user.name", "?");
        return " (" + (existing.equals(file) ? "it" : existing.toString()) + " belongs to " + owner
                + (mode == null ? "" : " (" + mode + ")") + ", and this process runs as " + user
                + (owner.equals(user) ? "" : ": run the server as " + owner + ", or give it to " + user + " with chown") + ")";
    }
}
