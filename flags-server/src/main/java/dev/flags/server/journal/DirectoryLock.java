package dev.flags.server.journal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;

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

    private DirectoryLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Takes the lock, creating the directory if needed.
     *
     * @throws JournalLockedException if another journal holds it
     */
    static DirectoryLock acquire(Path dir) throws IOException {
        Files.createDirectories(dir);
        Path file = dir.resolve(FILE_NAME);
        FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE,
                StandardOpenOption.READ, StandardOpenOption.WRITE);
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
                    + " is locked by another process" + owner + "; only one server may use a journal: stop"
                    + " the other one or point this one at another directory");
        }
        byte[] info = ("pid " + ProcessHandle.current().pid() + " since " + Instant.now() + "\n")
                .getBytes(StandardCharsets.UTF_8);
        channel.truncate(0);
        channel.write(ByteBuffer.wrap(info), 0);
        return new DirectoryLock(channel, lock);
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
            lock.release();
        } finally {
            channel.close();
        }
    }
}
