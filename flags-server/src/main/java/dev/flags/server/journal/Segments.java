package dev.flags.server.journal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * Not thread-safe (the static helpers are). Segment files: naming, the header of format version 1,
 * atomic creation, and directory listing.
 *
 * <pre>
 * header (24 bytes): "FLAGSJNL" | uint16 formatVersion | uint16 reserved (0)
 *                    | int64 firstSequence | int32 crc32c(bytes 0..19)
 * </pre>
 *
 * <p>A segment is named after its first sequence number, 20 digits, e.g. {@code
 * 00000000000000000001.seg}, so names sort in sequence order.
 */
final class Segments {

    static final byte[] MAGIC = "FLAGSJNL".getBytes(StandardCharsets.US_ASCII);
    static final int FORMAT_VERSION = 1;
    static final int HEADER_SIZE = 24;
    static final String SUFFIX = ".seg";
    static final String TEMP_SUFFIX = ".tmp";

    private Segments() {}

    static String fileName(long firstSequence) {
        // Locale.ROOT: under the JVM's default locale, an ar-EG or bn-IN server named its files in Arabic or Bengali digits
        return String.format(java.util.Locale.ROOT, "%020d%s", firstSequence, SUFFIX);
    }

    /** The first sequence number a segment's name promises, or -1 if it is not a segment's name. */
    static long firstSequenceOf(Path file) {
        String name = file.getFileName().toString();
        return numberedName(name, "", SUFFIX) ? numberOf(name.substring(0, 20)) : -1;
    }

    /**
     * Whether a file name has the shape of a journal file's: the prefix, 20 digits and the suffix (its number may still be
     * too large to be a sequence number).
     */
    static boolean numberedName(String name, String prefix, String suffix) {
        if (name.length() != prefix.length() + 20 + suffix.length() || !name.startsWith(prefix) || !name.endsWith(suffix)) {
            return false;
        }
        for (int i = prefix.length(); i < prefix.length() + 20; i++) {
            if (!Character.isDigit(name.charAt(i))) {
                return false;
            }
        }
        return true;
    }

    /**
     * The sequence number 20 digits give, or -1 if it is past the largest one: 20 digits reach 10^20 - 1, a long only
     * 2^63 - 1, so no journal names a file so, and such a file is none of its files (an open says it ignores it).
     */
    static long numberOf(String digits) {
        try {
            return Long.parseLong(digits);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /**
     * Why no segment holds the entries between two segments: the words for a gap, from a verify and from
     * a refused open alike. The file that should hold them is named after the first missing sequence.
     *
     * @param previous the segment before the gap
     * @param previousLast the last sequence it holds
     * @param next the segment after the gap
     * @param nextFirst the first sequence it holds, after previousLast + 1
     */
    static String gap(Path previous, long previousLast, Path next, long nextFirst) {
        return "no segment holds sequences " + (previousLast + 1) + ".." + (nextFirst - 1) + " ("
                + previous.getFileName() + " ends at sequence " + previousLast + ", " + next.getFileName()
                + " starts at sequence " + nextFirst + "): the segment file " + fileName(previousLast + 1)
                + " is missing, or " + previous.getFileName() + " was cut short";
    }

    /** Segment files in the directory, in sequence order. */
    static List<Path> list(Path dir) throws IOException {
        List<Path> files = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.filter(p -> firstSequenceOf(p) >= 0 && Files.isRegularFile(p)).forEach(files::add);
        }
        files.sort(java.util.Comparator.comparingLong(Segments::firstSequenceOf)); // by number: names in other digits too
        return files;
    }

    static ByteBuffer header(long firstSequence) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_SIZE);
        b.put(MAGIC).putShort((short) FORMAT_VERSION).putShort((short) 0).putLong(firstSequence);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, HEADER_SIZE - 4);
        b.putInt((int) crc.getValue());
        return b.flip();
    }

    /**
     * Reads and checks a segment's header.
     *
     * @return the first sequence number it holds
     * @throws JournalCorruptedException if the header is damaged, of another format version, or does
     *     not match the file's name
     */
    static long readHeader(FileChannel ch, Path file) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(HEADER_SIZE);
        while (b.hasRemaining()) {
            if (ch.read(b, b.position()) < 0) {
                throw new JournalCorruptedException(file, 0, "segment header is incomplete: the file has "
                        + ch.size() + " bytes, a header needs " + HEADER_SIZE);
            }
        }
        byte[] a = b.array();
        if (!Arrays.equals(a, 0, MAGIC.length, MAGIC, 0, MAGIC.length)) {
            throw new JournalCorruptedException(file, 0,
                    "not a journal segment: magic is not \"FLAGSJNL\"");
        }
        int version = b.getShort(8) & 0xFFFF;
        CRC32C crc = new CRC32C();
        crc.update(a, 0, HEADER_SIZE - 4);
        if ((int) crc.getValue() != b.getInt(20)) {
            throw new JournalCorruptedException(file, 0, "segment header checksum mismatch");
        }
        if (version < FORMAT_VERSION) {
            throw new JournalCorruptedException(file, 8, "journal format version " + version
                    + " does not exist (this release reads version " + FORMAT_VERSION + ")");
        }
        if (version != FORMAT_VERSION) {
            throw JournalCorruptedException.newerFormat(file, 8, "unsupported journal format version " + version
                    + " (this release reads version " + FORMAT_VERSION + ")", "the journal was not opened"
                    + " and nothing on disk was changed: it was written by a newer release; run that"
                    + " release (do not repair: a repair would set the newer segments aside)");
        }
        long first = b.getLong(12);
        long named = firstSequenceOf(file);
        if (named >= 0 && named != first) {
            throw new JournalCorruptedException(file, 12, "header says the first sequence is " + first
                    + " but the file name says " + named);
        }
        return first;
    }

    /**
     * Creates an empty segment atomically: the header goes to a temporary file that is forced and
     * renamed, then the directory is forced, so a crash never leaves a segment with a torn header.
     */
    static Path create(Path dir, long firstSequence) throws IOException {
        return create(dir, firstSequence, List.of());
    }

    /**
     * Creates a segment that holds the given records (whole frames, numbered from {@code firstSequence} on,
     * in order) atomically, as {@link #create(Path, long)} does: a repair's copy of sound records.
     */
    static Path create(Path dir, long firstSequence, List<ByteBuffer> frames) throws IOException {
        Path target = dir.resolve(fileName(firstSequence));
        Path temp = dir.resolve(fileName(firstSequence) + TEMP_SUFFIX);
        Files.deleteIfExists(temp); // left by a crash, maybe by an older server with another mode: made anew
        try (FileChannel ch = FileAccess.openOwnerOnly(temp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))) {
            ByteBuffer h = header(firstSequence);
            while (h.hasRemaining()) {
                ch.write(h);
            }
            for (ByteBuffer frame : frames) {
                ByteBuffer f = frame.duplicate();
                while (f.hasRemaining()) {
                    ch.write(f);
                }
            }
            ch.force(true);
        }
        moveAtomically(temp, target);
        forceDirectory(dir);
        return target;
    }

    static void moveAtomically(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("the file system of " + to.getParent()
                    + " cannot rename atomically; the journal needs it", e);
        }
    }

    /** Makes a directory's entries (created, renamed, removed files) durable. */
    static void forceDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (NoSuchFileException e) {
            throw e;
        } catch (IOException e) {
            // Windows cannot open a directory as a channel; there, the rename is the best we have.
            if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("win")) {
                throw e;
            }
        }
    }
}
