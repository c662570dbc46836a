package dev.flags.server.journal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether the files a journal writes through are still the ones it opened, checked before each batch and after each
 * fsync (a few stat calls, against a fsync's milliseconds), and every few seconds while no write comes. A file changed
 * under a running journal is found then, not at the next start:
 * <ul>
 *   <li>a segment deleted takes writes and fsyncs that no restart reads;</li>
 *   <li>a segment replaced (a backup restored into the live directory) leaves the writes in a file no longer named;</li>
 *   <li>a segment truncated takes the next writes after a hole of zeros, which a restart cuts;</li>
 *   <li>a lock file deleted or replaced no longer keeps a second process out, which would write beside this one.</li>
 * </ul>
 *
 * <p>Not thread-safe: confined to the journal's writer thread (and to its open, before that thread starts).
 */
final class OwnedFiles {

    /** The journal's own logger: what is said here is the journal's to say, and read under its name. */
    private static final Logger LOG = LoggerFactory.getLogger(FileJournal.class);

    private final Path lockFile;
    private final Object lockFileKey;
    private Path segment;
    private Object segmentKey;
    /** The last bytes written before a batch, and where: a cut below them shows as zeros there once the batch is in. */
    private final java.nio.ByteBuffer tail = java.nio.ByteBuffer.allocate(TAIL);
    private FileChannel tailOf;
    private long tailAt;
    private static final int TAIL = 16;

    /**
     * A file the journal owns was changed by someone else: not an i/o failure of the journal's own, and not one a
     * restart alone recovers from, so it says what to do.
     */
    abstract static class FileChangedException extends IOException {
        FileChangedException(String message) {
            super(message);
        }

        /** @return what the operator must do, in words for the log and for API answers */
        abstract String remedy();
    }

    /** A segment changed under the journal: its acknowledged state is still in memory, and only there. */
    static final class SegmentChangedException extends FileChangedException {
        private final String first;

        SegmentChangedException(String message) {
            this(message, null);
        }

        /** @param first what to do before the stop, if anything (put a moved segment back), or null */
        SegmentChangedException(String message, String first) {
            super(message);
            this.first = first;
        }

        @Override
        String remedy() {
            return (first == null ? "" : first + "; else ") + "stop the server: its stop keeps every acknowledged entry in a"
                    + " checkpoint, and the next start says how to repair the journal with it (docs/journal.md)";
        }
    }

    /** The lock file is no longer the one this process locked: a second process may be writing beside this one. */
    static final class LockLostException extends FileChangedException {
        private final Path dataDirectory;

        LockLostException(String message, Path dataDirectory) {
            super(message);
            this.dataDirectory = dataDirectory;
        }

        @Override
        String remedy() {
            return "stop every process using " + dataDirectory + ", then start one server";
        }
    }

    /**
     * @param lockFile the journal's lock file, held by this process
     * @throws IOException if it cannot be looked at
     */
    OwnedFiles(Path lockFile) throws IOException {
        this.lockFile = lockFile;
        this.lockFileKey = fileKey(lockFile);
    }

    /**
     * @param file the segment the journal now writes to
     * @throws IOException if it cannot be looked at
     */
    void segmentOpened(Path file) throws IOException {
        segment = file;
        segmentKey = fileKey(file);
    }

    /**
     * @param active the open segment
     * @param written how many bytes of it the journal wrote
     * @throws IOException saying which file changed, and how: the journal must stop
     */
    void check(FileChannel active, long written) throws IOException {
        BasicFileAttributes now;
        try {
            now = Files.readAttributes(segment, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            boolean rescue = logRescue(segment);
            throw new SegmentChangedException("the journal's segment " + segment + " is gone: deleted or moved while the server"
                    + " ran (its directory removed? a volume detached?); nothing acknowledged is lost: this server holds it all,"
                    + " but the history since the last checkpoint is in that file only", (rescue
                    ? "to keep that history, copy the segment back as the line before says, then restart the server"
                    : "to keep that history, put the segment back where it was (moved, or from a backup), then restart the"
                    + " server"));
        }
        if (segmentKey != null && !segmentKey.equals(now.fileKey())) {
            logRescue(segment);
            throw new SegmentChangedException("the journal's segment " + segment + " was replaced by another file while"
                    + " the server ran (a backup restored or a copy made into the live data directory?); what this server"
                    + " wrote to it after that copy was taken is not in that file. Restore only into the data directory of"
                    + " a stopped server");
        }
        if (lockFileKey != null && !lockFileKey.equals(fileKeyIfAny(lockFile))) {
            throw new LockLostException("the journal's lock file " + lockFile + " was deleted or replaced while the server"
                    + " ran: it no longer keeps a second process (another server started on this data directory?) from"
                    + " opening the journal and writing beside this one, so this one stops writing; never delete "
                    + lockFile.getFileName(), lockFile.getParent());
        }
        long size = active.size();
        if (size < written) {
            throw new SegmentChangedException("the journal's segment " + segment + " was cut short while the server ran: "
                    + size
                    + " bytes, where this server had written " + written + " (truncated by another process?); the entries"
                    + " in the bytes cut are lost unless a backup has them");
        }
    }

    /**
     * Notes the last bytes before a batch is written (after {@link #check}, which found none cut yet).
     *
     * @param active the open segment
     * @param written how many bytes of it the journal wrote
     * @throws IOException if they cannot be read
     */
    void beforeBatch(FileChannel active, long written) throws IOException {
        tailAt = Math.max(0, written - TAIL);
        tail.clear().limit((int) (written - tailAt));
        active.read(tail, tailAt);
        tail.flip();
        tailOf = active;
    }

    /**
     * After a batch's fsync: a segment cut between {@link #check} and the batch's write took the batch after a hole of
     * zeros (the write grew the file again, so its size says nothing); the bytes before the batch tell.
     *
     * @param active the open segment (a batch that moved to a new segment has nothing to compare)
     * @throws IOException if the bytes before the batch are no longer those written
     */
    void afterBatch(FileChannel active) throws IOException {
        if (active != tailOf || !tail.hasRemaining()) {
            return;
        }
        java.nio.ByteBuffer now = java.nio.ByteBuffer.allocate(tail.remaining());
        active.read(now, tailAt);
        now.flip();
        if (!now.equals(tail)) {
            throw new SegmentChangedException("the journal's segment " + segment + " was cut short while the server ran,"
                    + " below byte offset " + (tailAt + tail.remaining()) + ", and this batch's write made it long again"
                    + " over a hole (truncated by another process?); the entries in the bytes cut are lost unless a backup"
                    + " has them");
        }
    }

    /**
     * A segment deleted while this process holds it open is still whole behind the open descriptor, until the process
     * ends: says how to copy it back (Linux's /proc), in the log only (API answers carry the failure, not this).
     */
    /** @return whether it said how */
    private static boolean logRescue(Path segment) {
        String deleted = segment.toAbsolutePath() + " (deleted)";
        try (Stream<Path> open = Files.list(Path.of("/proc/self/fd"))) {
            java.util.Optional<Path> found = open.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString().equals(deleted);
                } catch (IOException | UnsupportedOperationException e) {
                    return false; // closed meanwhile, or not a link
                }
            }).findFirst();
            found.ifPresent(fd -> LOG.error("journal: the deleted segment {} is still whole behind this process's"
                    + " open file; before this server stops, copy it back: mkdir -p {} && cp /proc/{}/fd/{} {} (then restart"
                    + " the server: it recovers every acknowledged entry, and their history, from it)", segment,
                    segment.toAbsolutePath().getParent(), ProcessHandle.current().pid(), fd.getFileName(),
                    segment.toAbsolutePath()));
            return found.isPresent();
        } catch (IOException | RuntimeException e) {
            return false; // No /proc (not Linux): no hint; the failure itself is said anyway.
        }
    }

    private static Object fileKeyIfAny(Path file) throws IOException {
        try {
            return fileKey(file);
        } catch (NoSuchFileException e) {
            return "none";
        }
    }

    /** @return the file's device and inode where the platform has them (null where not: no replacement is told) */
    private static Object fileKey(Path file) throws IOException {
        return Files.readAttributes(file, BasicFileAttributes.class).fileKey();
    }
}
