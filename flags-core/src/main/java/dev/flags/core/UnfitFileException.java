package dev.flags.core;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * A file that is there but cannot be read as a whole file of a bounded size: not a regular file (a
 * named pipe would block its reader for good, a device such as {@code /dev/zero} never end), or larger
 * than the limit. Its message says which, in words that follow the file's name ("is not a regular file
 * ...").
 */
public final class UnfitFileException extends IOException {

    private static final long serialVersionUID = 1L;

    private UnfitFileException(String message) {
        super(message);
    }

    /**
     * Reads a whole regular file (a symbolic link to one too) of at most {@code maxBytes} bytes: a file whose size is
     * over the limit is refused unread, and no more than one byte past the limit is read whatever the file claims its
     * size to be.
     *
     * @param file the file
     * @param maxBytes the most bytes it may hold, less than 2 GiB
     * @return its bytes
     * @throws NoSuchFileException if there is no such file
     * @throws UnfitFileException if it is not a regular file, or holds more than {@code maxBytes}
     * @throws IOException if it cannot be read
     */
    public static byte[] readWhole(Path file, int maxBytes) throws IOException {
        if (!Files.isRegularFile(file)) {
            if (!Files.exists(file)) {
                throw new NoSuchFileException(file.toString());
            }
            throw new UnfitFileException("is not a regular file (a directory, a device or a named pipe): give the path"
                    + " of a file");
        }
        long size = Files.size(file);
        if (size > maxBytes) { // said before reading: a file far over the limit must not fill the heap to find out
            throw new UnfitFileException("is too large: " + size + " bytes, the limit is " + maxBytes);
        }
        try (InputStream in = Files.newInputStream(file)) {
            byte[] bytes = in.readNBytes(maxBytes + 1); // the size said may be wrong (a file growing, /proc)
            if (bytes.length > maxBytes) {
                throw new UnfitFileException("is too large: more than " + maxBytes + " bytes");
            }
            return bytes;
        }
    }
}
