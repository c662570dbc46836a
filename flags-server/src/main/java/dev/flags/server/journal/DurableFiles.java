package dev.flags.server.journal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Immutable (stateless). Replaces a small file so that a crash leaves either the old content or the new,
 * never a torn mix: the journal's own way of writing segment headers and checkpoints (a temporary file
 * that is forced, renamed over the target, then the directory forced), for the server's other files.
 */
public final class DurableFiles {

    private DurableFiles() {
    }

    /**
     * Writes {@code content} to {@code target} atomically and durably, through {@code <target>.tmp} in the
     * same directory. Returns once the new content and the rename are on disk.
     *
     * @param target the file to create or replace
     * @param content its new content
     * @throws IOException if it cannot be written, or the file system cannot rename atomically (the old
     *     content is then still there)
     */
    public static void replace(Path target, byte[] content) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Path temp = dir.resolve(target.getFileName() + Segments.TEMP_SUFFIX);
        try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(content);
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
        Segments.moveAtomically(temp, target);
        Segments.forceDirectory(dir);
    }
}
