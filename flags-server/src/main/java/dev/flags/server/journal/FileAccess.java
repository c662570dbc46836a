package dev.flags.server.journal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.channels.FileChannel;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * Immutable (static functions only). Who may use the server's files: their owner and mode, for messages
 * that say why one cannot be used, and directories made for their owner only (the journal holds token
 * hashes, user ids and the audit trail), and files made for their owner only. Public for the server, which says
 * the same of its data directory.
 */
public final class FileAccess {

    private FileAccess() {
    }

    /**
     * @param word a word of a command to paste into a shell, such as a path
     * @return the word as a POSIX shell takes it: as it is if plain, else quoted
     */
    public static String shellQuoted(String word) {
        return ToolCommand.quote(word);
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
        Path absolute = dir.toAbsolutePath();
        Path topMade = absolute;
        while (topMade.getParent() != null && !Files.isDirectory(topMade.getParent())) {
            topMade = topMade.getParent();
        }
        try {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (UnsupportedOperationException e) {
            Files.createDirectories(dir); // not a POSIX file system
        }
        // Each new directory's entry forced in its parent: where a file's fsync does not commit its directory's own entry
        // (XFS, btrfs), a power cut soon after a new journal's first acknowledged writes, or after a repair set bytes
        // aside, could lose the whole directory (QA66 F5, F4). Not observable in a test without a power cut.
        for (Path made = absolute; made != null && made.getParent() != null; made = made.getParent()) {
            try {
                Segments.forceDirectory(made.getParent());
            } catch (java.nio.file.AccessDeniedException e) {
                // a parent this process may enter but not read (mode 711): its entry is as durable as its file system makes it
            }
            if (made.equals(topMade)) {
                break;
            }
        }
    }

    /**
     * Opens a file, and if this creates it, makes it readable and writable by its owner only ({@code rw-------})
     * where the file system has POSIX modes: not left to the process's umask (commonly {@code rw-r--r--}), so that a
     * copy of the journal taken out of its directory (a backup, a file set aside by a repair) keeps the directory's
     * protection. A file that exists keeps its mode.
     *
     * @param file the file
     * @param options how to open it, as for {@link FileChannel#open(Path, Set, FileAttribute[])}
     */
    public static FileChannel openOwnerOnly(Path file, Set<? extends OpenOption> options) throws IOException {
        try {
            return FileChannel.open(file, options, PosixFilePermissions.asFileAttribute(OWNER_READ_WRITE));
        } catch (UnsupportedOperationException e) {
            return FileChannel.open(file, options); // not a POSIX file system
        }
    }

    private static final Set<PosixFilePermission> OWNER_READ_WRITE = PosixFilePermissions.fromString("rw-------");
}
