package dev.flags.server.journal;

import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;

/**
 * Immutable (stateless). Replaces a file so that a crash leaves either the old content or the new,
 * never a torn mix: the journal's own way of writing segment headers and checkpoints (a temporary file
 * that is forced, renamed over the target, then the directory forced), for the server's other files.
 *
 * <p>The files it writes are readable and writable by their owner only (mode 600) where the file system has
 * POSIX modes, as the admin token file is: they are the server's own (usage.json names the applications
 * that use each flag), and the data directory it keeps them in may have been made open by its operator.
 */
public final class DurableFiles {

    /** Large enough that writing a file of megabytes is a few hundred system calls, small enough not to matter. */
    private static final int BUFFER_BYTES = 64 * 1024;

    private DurableFiles() {
    }

    /** Writes a file's content, as it is produced: a large file need not be held in memory whole. */
    @FunctionalInterface
    public interface Content {
        /**
         * @param out where the content goes, buffered; closing it only flushes it
         * @throws IOException if the content cannot be written
         */
        void writeTo(OutputStream out) throws IOException;
    }

    /**
     * Writes {@code content} to {@code target} atomically and durably: {@link #replace(Path, Content)}.
     *
     * @param target the file to create or replace
     * @param content its new content
     * @throws IOException if it cannot be written (the old content is then still there)
     */
    public static void replace(Path target, byte[] content) throws IOException {
        replace(target, out -> out.write(content));
    }

    /**
     * Writes the content to {@code target} atomically and durably, through {@code <target>.tmp} in the
     * same directory, made anew with mode 600 (see the class). Returns once the new content and the rename
     * are on disk.
     *
     * @param target the file to create or replace
     * @param content writes its new content
     * @throws IOException if it cannot be written, or the file system cannot rename atomically (the old
     *     content is then still there, and the temporary file is removed)
     */
    public static void replace(Path target, Content content) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Path temp = dir.resolve(target.getFileName() + Segments.TEMP_SUFFIX);
        // One left by a crash (or by an older server, with another mode) is not reused: a file's mode is set
        // when it is created, and this one's must be 600.
        Files.deleteIfExists(temp);
        try {
            write(temp, content);
            Segments.moveAtomically(temp, target);
        } catch (IOException | RuntimeException e) {
            // As a checkpoint's: a partial file on a full disk would hold the space the journal's appends need, until
            // the next write of this file succeeded (QA66 F6).
            removePartial(temp, e);
            throw e;
        }
        Segments.forceDirectory(dir);
    }

    /** Removes the partial temporary file of a failed write; a failure to remove it is kept with the write's own. */
    static void removePartial(Path temp, Exception failure) {
        try {
            Files.deleteIfExists(temp);
        } catch (IOException again) {
            failure.addSuppressed(again);
        }
    }

    private static void write(Path temp, Content content) throws IOException {
        try (FileChannel ch = FileAccess.openOwnerOnly(temp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))) {
            OutputStream out = new BufferedOutputStream(Channels.newOutputStream(ch), BUFFER_BYTES);
            content.writeTo(new FilterOutputStream(out) {
                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    out.write(b, off, len); // FilterOutputStream's own writes a byte at a time
                }

                @Override
                public void close() throws IOException {
                    flush(); // the channel is forced and closed below, not by the content's writer
                }
            });
            out.flush();
            ch.force(true);
        }
    }
}
