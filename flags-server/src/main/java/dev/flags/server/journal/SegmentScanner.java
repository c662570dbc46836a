package dev.flags.server.journal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Map;

/**
 * Not thread-safe. Reads one segment's records in order, checking each frame's length, checksum,
 * layout and sequence number, and stops at the first problem, remembering where it is.
 *
 * <p>Reads go through a heap buffer of a megabyte (larger for a larger record) with positional
 * reads, so several scanners may read the same file at once.
 */
final class SegmentScanner {

    private static final int BUFFER = 1 << 20;
    private static final int POINT_READ_BUFFER = 16 << 10;

    private final Path file;
    private final FileChannel ch;
    private final long end;
    private ByteBuffer buf;
    /** File offset of buf[0]. */
    private long bufStart;
    private int pos;
    private int lim;
    private long expectedSequence;
    private long lastSequence;
    private long recordOffset = -1;
    private String problem;
    private long problemOffset = -1;
    private boolean problemNewerFormat;
    private final RecordCodec.View view = new RecordCodec.View();

    /**
     * Starts a scan after the header.
     *
     * @param file the segment, for messages
     * @param ch an open channel on it
     * @param firstSequence the first sequence number the header promises
     * @param end where to stop: the file size, or a smaller bound at a record boundary
     */
    SegmentScanner(Path file, FileChannel ch, long firstSequence, long end) {
        this(file, ch, firstSequence, end, BUFFER);
    }

    /**
     * A scanner for reading single records with {@link #readAt}: its buffer is small, since each read
     * fills it from the record on.
     *
     * @param file the segment, for messages
     * @param ch an open channel on it
     * @param end where records end: the file size, or a smaller bound at a record boundary
     * @return the scanner
     */
    static SegmentScanner forRecordsAt(Path file, FileChannel ch, long end) {
        return new SegmentScanner(file, ch, 1, end, POINT_READ_BUFFER);
    }

    private SegmentScanner(Path file, FileChannel ch, long firstSequence, long end, int buffer) {
        this.file = file;
        this.ch = ch;
        this.end = end;
        this.buf = ByteBuffer.allocate((int) Math.min(buffer, Math.max(64, end)));
        this.bufStart = Segments.HEADER_SIZE;
        this.expectedSequence = firstSequence;
        this.lastSequence = firstSequence - 1;
    }

    /**
     * Moves to the next record.
     *
     * @return true if {@link #view()} now shows a sound record; false at the end or at a problem
     *     (see {@link #problem()})
     */
    boolean next() throws IOException {
        if (problem != null) {
            return false;
        }
        long offset = bufStart + pos;
        if (offset >= end) {
            return false;
        }
        if (end - offset < RecordCodec.FRAME_HEADER) {
            return fail(offset, "incomplete record header: " + (end - offset) + " bytes left in the file");
        }
        fill(RecordCodec.FRAME_HEADER);
        int length = buf.getInt(pos);
        if (length < RecordCodec.MIN_BODY || length > RecordCodec.MAX_BODY) {
            return fail(offset, "record length " + length + " is out of range");
        }
        if (offset + RecordCodec.FRAME_HEADER + length > end) {
            // Counted from the record's start, as the cut and its "set aside" count them.
            return fail(offset, "record of " + length + " bytes runs past the end of the file (" + (end - offset)
                    + " bytes left, with its " + RecordCodec.FRAME_HEADER + "-byte header)");
        }
        fill(RecordCodec.FRAME_HEADER + length);
        int stored = buf.getInt(pos + 4);
        int computed = RecordCodec.crc(buf.array(), pos, length);
        if (stored != computed) {
            return fail(offset, String.format("checksum mismatch (stored %08x, computed %08x)", stored,
                    computed));
        }
        try {
            view.reset(buf.array(), pos + RecordCodec.FRAME_HEADER, length);
        } catch (RecordCodec.BadRecordException e) {
            problemNewerFormat = e.newerFormat;
            return fail(offset, e.getMessage());
        }
        long sequence = view.sequence();
        if (sequence != expectedSequence) {
            return fail(offset, "sequence " + sequence + " where " + expectedSequence
                    + " was expected");
        }
        expectedSequence++;
        lastSequence = sequence;
        recordOffset = offset;
        pos += RecordCodec.FRAME_HEADER + length;
        return true;
    }

    /**
     * Reads the one record whose frame starts at a byte offset, with all the checks of {@link #next()};
     * it must have the given sequence number. Reuses what the buffer holds when the record is in it.
     *
     * @param offset the frame's byte offset
     * @param sequence the sequence number the record must have
     * @return true if {@link #view()} now shows that record; false at a problem (see {@link #problem()})
     */
    boolean readAt(long offset, long sequence) throws IOException {
        if (offset < Segments.HEADER_SIZE) {
            return fail(offset, "no record can start at byte offset " + offset);
        }
        if (offset >= bufStart && offset <= bufStart + lim) {
            pos = (int) (offset - bufStart);
        } else {
            bufStart = offset;
            pos = 0;
            lim = 0;
        }
        problem = null;
        problemOffset = -1;
        expectedSequence = sequence;
        lastSequence = sequence - 1;
        if (next()) {
            return true;
        }
        if (problem == null) {
            fail(offset, "no record at byte offset " + offset + ": the segment ends there");
        }
        return false;
    }

    private boolean fail(long offset, String reason) {
        problem = reason;
        problemOffset = offset;
        return false;
    }

    /** Makes at least {@code n} bytes from pos available in the buffer. */
    private void fill(int n) throws IOException {
        if (lim - pos >= n) {
            return;
        }
        if (n > buf.capacity()) {
            ByteBuffer bigger = ByteBuffer.allocate(n);
            bigger.put(buf.array(), pos, lim - pos);
            buf = bigger;
        } else {
            System.arraycopy(buf.array(), pos, buf.array(), 0, lim - pos);
        }
        bufStart += pos;
        lim -= pos;
        pos = 0;
        while (lim < n) {
            int want = (int) Math.min(buf.capacity() - lim, end - (bufStart + lim));
            ByteBuffer target = ByteBuffer.wrap(buf.array(), lim, want);
            int read = ch.read(target, bufStart + lim);
            if (read < 0) {
                throw new IOException(file + " became shorter while it was read");
            }
            lim += read;
        }
    }

    /** The current record; valid until the next call to {@link #next()}. */
    RecordCodec.View view() {
        return view;
    }

    /** Byte offset of the current record's frame. */
    long recordOffset() {
        return recordOffset;
    }

    /** Byte offset just after the last sound record (or after the header if there is none). */
    long goodEnd() {
        return bufStart + pos;
    }

    /** Sequence number of the last sound record, or firstSequence - 1 if there is none. */
    long lastSequence() {
        return lastSequence;
    }

    /** Why the scan stopped early, or null. */
    String problem() {
        return problem;
    }

    /** Byte offset of the problem, or -1. */
    long problemOffset() {
        return problemOffset;
    }

    /**
     * Whether the problem is a sound record of an entry type this release does not know: a newer
     * release's entry, which is neither a torn write to cut nor damage to repair.
     */
    boolean problemIsNewerFormat() {
        return problemNewerFormat;
    }

    JournalCorruptedException damage() {
        return problemNewerFormat
                ? JournalCorruptedException.newerFormat(file, problemOffset, problem, "the journal was not opened and"
                        + " nothing on disk was changed: a newer release wrote this entry; run that release (do not"
                        + " repair: a repair would cut the journal here)")
                : new JournalCorruptedException(file, problemOffset, problem);
    }

    /** Told of each sound frame a search past damage finds. */
    private interface SoundFrames {
        /**
         * @param map the mapped bytes searched
         * @param at where the frame starts in them
         * @param length its body's length
         * @param sequence its sequence number
         * @return false to stop the search
         */
        boolean found(MappedByteBuffer map, int at, int length, long sequence);
    }

    /**
     * Searches bytes for sound frames, past damage too: each byte offset from {@code first} on is tried as a frame
     * start. Lengths out of range or past the end (zeros, text) are skipped at once, so only plausible frames cost a
     * checksum; a frame's inside starts no other frame, so the search goes on after each sound one. Runs only after a
     * problem, never on a clean journal.
     */
    private static void searchSoundFrames(FileChannel ch, long from, long end, int first, SoundFrames frames)
            throws IOException {
        if (end - from < RecordCodec.FRAME_HEADER + RecordCodec.MIN_BODY) {
            return;
        }
        MappedByteBuffer map = ch.map(FileChannel.MapMode.READ_ONLY, from, end - from);
        int size = map.capacity();
        for (int at = first; at + RecordCodec.FRAME_HEADER + RecordCodec.MIN_BODY <= size; at++) {
            int length = map.getInt(at);
            if (length < RecordCodec.MIN_BODY || length > RecordCodec.MAX_BODY
                    || (long) at + RecordCodec.FRAME_HEADER + length > size) {
                continue;
            }
            ByteBuffer frame = map.duplicate().position(at);
            if (RecordCodec.crc(frame, length) != map.getInt(at + 4)) {
                continue;
            }
            if (!frames.found(map, at, length, map.getLong(at + RecordCodec.FRAME_HEADER))) {
                return;
            }
            at += RecordCodec.FRAME_HEADER + length - 1;
        }
    }

    /**
     * Finds the highest sequence number of any sound record from a byte offset on: what a segment still
     * holds past damage, which a scan cannot reach.
     *
     * @return the highest sequence number found, or -1 if no sound record follows
     */
    static long highestSoundSequenceFrom(FileChannel ch, long from, long end) throws IOException {
        long[] highest = {-1};
        searchSoundFrames(ch, from, end, 0, (map, at, length, sequence) -> {
            highest[0] = Math.max(highest[0], sequence);
            return true;
        });
        return highest[0];
    }

    /**
     * Collects a copy of every sound frame numbered after {@code after} up to {@code to}, wherever it lies
     * between {@code from} and {@code end}, past damage too.
     *
     * @param into where to put the frames, by sequence number
     * @return false if a sequence number shows up in two frames that differ (nothing to trust then)
     */
    static boolean collectSoundFrames(FileChannel ch, long from, long end, long after, long to, Map<Long, ByteBuffer> into)
            throws IOException {
        boolean[] consistent = {true};
        searchSoundFrames(ch, from, end, 0, (map, at, length, sequence) -> {
            if (sequence > after && sequence <= to) {
                ByteBuffer copy = ByteBuffer.allocate(RecordCodec.FRAME_HEADER + length);
                copy.put(map.duplicate().position(at).limit(at + RecordCodec.FRAME_HEADER + length)).flip();
                ByteBuffer earlier = into.putIfAbsent(sequence, copy);
                consistent[0] = earlier == null || earlier.equals(copy);
            }
            return consistent[0];
        });
        return consistent[0];
    }

    /**
     * Decides whether a problem at the end of the last segment is a torn write or damage: it is damage
     * if any sound record with a later sequence number follows it. Records are never rewritten, so a
     * sound record after the problem means good data follows, which a crash cannot produce. The search
     * starts one byte after the problem, which is no sound frame.
     */
    static boolean soundRecordFollows(FileChannel ch, long from, long end, long afterSequence)
            throws IOException {
        boolean[] follows = {false};
        searchSoundFrames(ch, from, end, 1, (map, at, length, sequence) -> {
            follows[0] = sequence > afterSequence;
            return !follows[0];
        });
        return follows[0];
    }
}
