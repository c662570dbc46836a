package dev.flags.server.journal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Set;
import java.util.function.Function;

/**
 * Not thread-safe. The exclusive lock on a journal's data directory: an OS file lock on {@code
 * journal.lock}, so that a second process (or a second journal in this process) refuses to open the
 * same directory. The file holds the owner's pid and start time, for the refusal message only; the
 * lock, not the file's presence, is what counts, so a crash never leaves a stale lock behind.
 */
final class DirectoryLock implements AutoCloseable {

    static final String FILE_NAME = "journal.lock";

    private final FileChannel channel;
    private final FileLock lock;
    /** What the file said of the last holder, which did not close the journal; null if it did (or there was none). */
    private final String unclosedBy;
    /** Whether a close puts the unclosed holder's line back (a journal tool's), for the server's next start to say. */
    private final boolean passesOnUnclosed;
    /** Why this holder's line could not be written into the file (a read-only tool went on without it), or null. */
    private final String holderLineFailure;

    private DirectoryLock(FileChannel channel, FileLock lock, String unclosedBy, boolean passesOnUnclosed,
            String holderLineFailure) {
        this.channel = channel;
        this.lock = lock;
        this.unclosedBy = unclosedBy;
        this.passesOnUnclosed = passesOnUnclosed;
        this.holderLineFailure = holderLineFailure;
    }

    /** Opens the lock file; a seam for tests, which give a channel whose writes fail as on a full disk. */
    @FunctionalInterface
    interface Opener {
        FileChannel open(Path file) throws IOException;
    }

    private static final Opener OWNER_ONLY = file -> FileAccess.openOwnerOnly(file,
            Set.of(StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE));

    /**
     * @return why this holder's line could not be written into the lock file (a read-only journal tool holds the lock
     *     without it), or null if it was written
     */
    String holderLineFailure() {
        return holderLineFailure;
    }

    /**
     * @return the last holder ("pid 4711, flags-server, since ...") if it did not close the journal (killed, crashed,
     *     the machine stopped: its close empties the file), or null
     */
    String unclosedBy() {
        return unclosedBy;
    }

    /**
     * Takes the lock, creating the directory if needed.
     *
     * @param holder what holds it, as a process refused the lock is told ("flags-server", "journal tool verify")
     * @throws JournalLockedException if another journal holds it
     */
    static DirectoryLock acquire(Path dir, String holder) throws IOException {
        return acquire(dir, holder, false, false, OWNER_ONLY);
    }

    /**
     * Takes the lock as a journal tool does: its close leaves the mark of a holder that did not close the journal (a
     * server killed), so that the server's next start still says so. A verify run after a crash, the first step the
     * docs give, must not wipe the only record in the server's log that the stop was unclean (QA53 F1).
     *
     * <p>A read-only command (verify) holds the lock even when its holder line cannot be written (a full disk, QA81
     * F2): the line only names the holder to a process refused the lock, and verify is what an operator runs on a full
     * disk. {@link #holderLineFailure()} then says why.
     *
     * @param holder what holds it, as a process refused the lock is told
     * @param readOnly whether the command only reads the journal
     * @throws JournalLockedException if another journal holds it
     */
    static DirectoryLock acquireForTool(Path dir, String holder, boolean readOnly) throws IOException {
        return acquire(dir, holder, true, readOnly, OWNER_ONLY);
    }

    /** As {@link #acquireForTool(Path, String, boolean)}, with the lock file opened by {@code opener} (for tests). */
    static DirectoryLock acquireForTool(Path dir, String holder, boolean readOnly, Opener opener) throws IOException {
        return acquire(dir, holder, true, readOnly, opener);
    }

    private static DirectoryLock acquire(Path dir, String holder, boolean passesOnUnclosed, boolean readOnly,
            Opener opener) throws IOException {
        FileAccess.createOwnerOnlyDirectories(dir);
        Path file = dir.resolve(FILE_NAME);
        FileChannel channel;
        try {
            channel = opener.open(file);
        } catch (AccessDeniedException e) {
            AccessDeniedException explained = new AccessDeniedException(file.toString(), null,
                    accessDenied(dir, file));
            explained.initCause(e);
            throw explained;
        }
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException e) {
            channel.close();
            throw new JournalLockedException("journal data directory " + dir.toAbsolutePath()
                    + " is already open in this process; close that journal first");
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        if (lock == null) {
            String owner = owner(channel);
            channel.close();
            throw new JournalLockedException("journal data directory " + dir.toAbsolutePath()
                    + " is locked by another process" + owner + "; only one process at a time may open a journal, a"
                    + " server or a journal tool: stop the other one (stop the server before a journal tool's verify or"
                    + " repair), or point this one at another directory");
        }
        String last = owner(channel);
        String unclosedBy = last.isEmpty() ? null : last.substring(2, last.length() - 1);
        byte[] info = ("pid " + ProcessHandle.current().pid() + ", " + holder + ", since "
                + Instant.now().truncatedTo(ChronoUnit.SECONDS) + "\n")
                .getBytes(StandardCharsets.UTF_8);
        try {
            replaceContent(channel, info);
        } catch (IOException e) {
            // The previous holder's line is the one record that it did not close the journal (QA53 F1): put it back,
            // should the failed write have cut it.
            try {
                replaceContent(channel, unclosedBy == null ? new byte[0] : (unclosedBy + "\n").getBytes(StandardCharsets.UTF_8));
            } catch (IOException again) {
                e.addSuppressed(again);
            }
            String failure = "cannot write this process's holder line into " + file + ": "
                    + (e.getMessage() != null ? e.getMessage() : e.toString());
            if (readOnly) {
                return new DirectoryLock(channel, lock, unclosedBy, passesOnUnclosed, failure);
            }
            try {
                lock.release();
            } finally {
                channel.close();
            }
            throw new IOException(failure + "; if the file system is full, free space on it (or fix the cause), then try"
                    + " again; nothing in the journal was changed", e);
        }
        return new DirectoryLock(channel, lock, unclosedBy, passesOnUnclosed, null);
    }

    /**
     * Makes the file hold exactly {@code content}: written over the old content first, then cut to its length. Emptying
     * the file first would free its block, which a full disk may not give back, and lose the old line with it.
     */
    private static void replaceContent(FileChannel channel, byte[] content) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(content);
        while (b.hasRemaining()) {
            channel.write(b, b.position());
        }
        channel.truncate(content.length);
    }

    /**
     * Why the lock file cannot be opened, and what to do: the usual cause is a journal tool run as another
     * user (root, say), which left a lock file the service user may not write; the fix is to give it back,
     * not to delete it (the lock is the OS lock on that file: a second file would let two processes in).
     *
     * @param user the user this process runs as
     * @param owner a file's owner, or null if it cannot be told
     * @param mode a file's permissions such as {@code rw-r--r--}, or null
     */
    static String accessDenied(Path dir, Path file) {
        return accessDenied(dir, file, System.getProperty("user.name", "?"), FileAccess::ownerOf, FileAccess::modeOf);
    }

    /** As {@link #accessDenied(Path, Path)}, with the user, owners and modes given (for tests). */
    static String accessDenied(Path dir, Path file, String user, Function<Path, String> owner, Function<Path, String> mode) {
        String dirOwner = owner.apply(dir);
        String fileOwner = Files.exists(file, LinkOption.NOFOLLOW_LINKS) ? owner.apply(file) : null;
        String serviceUser = dirOwner != null ? dirOwner : "the service user";
        if (fileOwner == null) {
            String facts = "permission denied: cannot create it in " + dir + ", which belongs to " + (dirOwner != null ? dirOwner : "?")
                    + modeIn(mode.apply(dir)) + ", and this process runs as " + user;
            if (user.equals(dirOwner)) {
                return facts + ", but its permissions do not let its owner create files in it: 'chmod u+rwx "
                        + ToolCommand.quote(dir.toString()) + "'";
            }
            if ("root".equals(dirOwner)) {
                return facts + "; a journal that root owns was probably copied or restored as root: give it to the user that"
                        + " runs the server, 'chown -R " + user + " " + ToolCommand.quote(dir.toString()) + "' (as root, with"
                        + " nothing running on it), or run the server and the journal tools as root";
            }
            return facts + "; run the server and the journal tools as " + serviceUser + ", the user that owns the journal";
        }
        String facts = "permission denied: it belongs to " + fileOwner + modeIn(mode.apply(file)) + ", and this process runs as "
                + user;
        if (dirOwner != null && !fileOwner.equals(dirOwner)) {
            // The server itself run as another user leaves files too (segments, checkpoints): give back the directory.
            // The data directory, when the journal is its journal/: a server run as root leaves usage.json there too.
            Path give = dir.getFileName() != null && dir.getFileName().toString().equals("journal") && dir.getParent() != null
                    ? dir.getParent() : dir;
            return facts + "; the server or a journal tool run as " + fileOwner + " probably left it, and maybe other files:"
                    + " give them back with 'chown -R " + dirOwner + " " + ToolCommand.quote(give.toString()) + "' (do not delete"
                    + " them while anything may have the journal open), and run the server and the journal tools as " + dirOwner
                    + ", the service user";
        }
        if (fileOwner.equals(user)) {
            return facts + ", but its permissions do not let its owner read and write it: 'chmod u+rw "
                    + ToolCommand.quote(file.toString()) + "'";
        }
        if (fileOwner.equals("root")) {
            // Root is seldom the service user: a journal root owns whole was most likely copied or restored as root.
            return facts + "; a journal that root owns was probably copied or restored as root: give it to the user that runs"
                    + " the server, 'chown -R " + user + " " + ToolCommand.quote(dir.toString()) + "' (as root, with nothing"
                    + " running on it), or run the server and the journal tools as root";
        }
        return facts + "; run the server and the journal tools as " + fileOwner + ", the service user that owns the journal";
    }

    private static String modeIn(String mode) {
        return mode == null ? "" : " (" + mode + ")";
    }



    private static String owner(FileChannel channel) {
        try {
            ByteBuffer b = ByteBuffer.allocate(200);
            channel.read(b, 0);
            String text = new String(b.array(), 0, b.position(), StandardCharsets.UTF_8).trim();
            return text.isEmpty() ? "" : " (" + text + ")";
        } catch (IOException e) {
            return "";
        }
    }

    @Override
    public void close() throws IOException {
        try {
            // Empty: the next holder can tell that this one closed the journal. A tool passes on the mark of a holder
            // that did not: the line as it found it.
            replaceContent(channel, passesOnUnclosed && unclosedBy != null
                    ? (unclosedBy + "\n").getBytes(StandardCharsets.UTF_8) : new byte[0]);
        } catch (IOException e) {
            // a file that cannot be written now: the next holder takes this close for a crash, and says so
        }
        try {
            lock.release();
        } finally {
            channel.close();
        }
    }
}
