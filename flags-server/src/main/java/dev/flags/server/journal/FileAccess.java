package dev.flags.server.journal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Immutable (static functions only). Who may use the server's files: their owner and mode, for messages
 * that say why one cannot be used, and directories made for their owner only (the journal holds token
 * hashes, user ids and the audit trail). Public for the server, which says the same of its data directory.
 */
public final class FileAccess {

    private FileAccess() {
    }

    /** @return the file's owner, or null if it cannot be told (no such file, no owners on this file system) */
    public static String ownerOf(Path path) {
        try {
            return Files.getOwner(path, LinkOption.NOFOLLOW_LINKS).getName();
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return null;
        }
    }

    /** @return the file's permissions such as {@code rw-r--r--}, or null if it cannot be told */
    public static String modeOf(Path path) {
        try {
            return PosixFilePermissions.toString(Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS));
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return null;
        }
    }

    /**
     * Makes a directory and its missing parents readable by their owner only ({@code rwx------}), where the file
     * system has POSIX modes; one that exists keeps its mode (the operator's choice).
     */
    public static void createOwnerOnlyDirectories(Path dir) throws IOException {
        if (Files.isDirectory(dir)) {
            return;
        }
        try {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (UnsupportedOperationException e) {
            Files.createDirectories(dir); // not a POSIX file system
        }
    }
}
