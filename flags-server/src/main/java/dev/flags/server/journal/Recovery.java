package dev.flags.server.journal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Not thread-safe. Rebuilds the state of a journal directory at open: the newest sound checkpoint,
 * plus every entry after it, checked record by record.
 *
 * <p>Only the last segment may end in a torn record (the crash case); it is cut with a WARN line. Any
 * other problem (a damaged record before the tail, a gap in the sequence, a checkpoint newer than
 * the journal) throws {@link JournalCorruptedException} before anything on disk is changed.
 */
final class Recovery {

    private static final Logger LOG = LoggerFactory.getLogger(Recovery.class);

    private Recovery() {}

    /** One segment file and the first sequence number its header promises. */
    static final class SegmentInfo {
        final Path file;
        final long firstSequence;
        /** Timestamp of the first entry, read lazily for audit queries; null until known. */
        volatile Instant firstTimestamp;

        SegmentInfo(Path file, long firstSequence) {
            this.file = file;
            this.firstSequence = firstSequence;
        }

        @Override
        public String toString() {
            return file.getFileName().toString();
        }
    }

    /** What recovery found. */
    record Result(
            MutableState state,
            List<SegmentInfo> segments,
            long lastSequence,
            long tailEnd,
            long checkpointSequence,
            long replayed,
            long discardedBytes,
            List<String> notes) {}

    static Result run(Path dir) throws IOException {
        List<String> notes = new ArrayList<>();
        removeTemporaryFiles(dir, notes);
        List<SegmentInfo> segments = readHeaders(dir);

        Checkpoints.Loaded base = null;
        Path baseFile = null;
        for (Checkpoints.Ref ref : Checkpoints.list(dir)) {
            try {
                base = Checkpoints.read(ref.file());
                baseFile = ref.file();
                break;
            } catch (JournalCorruptedException e) {
                note(notes, "skipped damaged checkpoint " + ref.file() + " (" + e.getMessage()
                        + "); using an older checkpoint or the whole journal instead");
            }
        }
        long checkpointSequence = base == null ? 0 : base.sequence();
        MutableState state = base == null ? new MutableState() : base.state();

        if (segments.isEmpty()) {
            if (checkpointSequence > 0) {
                throw newerCheckpoint(baseFile, checkpointSequence, 0);
            }
            return new Result(state, segments, 0, Segments.HEADER_SIZE, 0, 0, 0, notes);
        }
        long first = segments.get(0).firstSequence;
        if (checkpointSequence + 1 < first) {
            throw new JournalCorruptedException(segments.get(0).file, 0, "the journal starts at sequence "
                    + first + " but " + (base == null ? "there is no checkpoint"
                            : "the newest sound checkpoint is at sequence " + checkpointSequence)
                    + ": sequences " + (checkpointSequence + 1) + ".." + (first - 1) + " are missing");
        }
        int start = 0;
        for (int i = 0; i < segments.size(); i++) {
            if (segments.get(i).firstSequence <= checkpointSequence + 1) {
                start = i;
            }
        }

        long last = segments.get(start).firstSequence - 1;
        long replayed = 0;
        long tailEnd = Segments.HEADER_SIZE;
        long cutAt = -1;
        long fileSize = 0;
        for (int i = start; i < segments.size(); i++) {
            SegmentInfo seg = segments.get(i);
            boolean isLast = i == segments.size() - 1;
            if (i > start && seg.firstSequence != last + 1) {
                throw new JournalCorruptedException(seg.file, 12, "segment starts at sequence "
                        + seg.firstSequence + " but the previous segment ends at sequence " + last);
            }
            try (FileChannel ch = FileChannel.open(seg.file, StandardOpenOption.READ)) {
                fileSize = ch.size();
                SegmentScanner scan = new SegmentScanner(seg.file, ch, seg.firstSequence, fileSize);
                while (scan.next()) {
                    RecordCodec.View v = scan.view();
                    if (v.sequence() > checkpointSequence) {
                        try {
                            state.apply(v.toEntry());
                        } catch (RecordCodec.BadRecordException | RuntimeException e) {
                            throw new JournalCorruptedException(seg.file, scan.recordOffset(), e.getMessage());
                        }
                        replayed++;
                    }
                }
                last = scan.lastSequence();
                tailEnd = scan.goodEnd();
                if (scan.problem() != null) {
                    if (!isLast || SegmentScanner.soundRecordFollows(ch, scan.problemOffset(), fileSize,
                            scan.lastSequence())) {
                        throw scan.damage();
                    }
                    cutAt = scan.problemOffset();
                    note(notes, "found a torn tail in " + seg.file + " at byte offset " + cutAt + " ("
                            + scan.problem() + "): cutting " + (fileSize - cutAt) + " bytes that were never"
                            + " acknowledged; the last complete entry is sequence " + last);
                }
            }
        }
        if (checkpointSequence > last) {
            throw newerCheckpoint(baseFile, checkpointSequence, last);
        }
        long discarded = 0;
        if (cutAt >= 0) {
            SegmentInfo tail = segments.get(segments.size() - 1);
            try (FileChannel ch = FileChannel.open(tail.file, StandardOpenOption.WRITE)) {
                ch.truncate(cutAt);
                ch.force(true);
            }
            discarded = fileSize - cutAt;
            tailEnd = cutAt;
        }
        return new Result(state, segments, last, tailEnd, checkpointSequence, replayed, discarded,
                notes);
    }

    private static JournalCorruptedException newerCheckpoint(Path checkpoint, long sequence,
            long last) {
        return new JournalCorruptedException(checkpoint, -1, "checkpoint is at sequence " + sequence
                + " but the journal ends at sequence " + last + ": the journal lost acknowledged entries."
                + " Restore the missing segment files, or set the checkpoint aside with"
                + " 'JournalTool repair <dir> --cut-at-damage' (the state then comes from the journal"
                + " alone)");
    }

    /** Reads every segment's header; a damaged header or a disorder throws. */
    static List<SegmentInfo> readHeaders(Path dir) throws IOException {
        List<SegmentInfo> segments = new ArrayList<>();
        for (Path file : Segments.list(dir)) {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                segments.add(new SegmentInfo(file, Segments.readHeader(ch, file)));
            }
        }
        return segments;
    }

    /** Removes leftovers of interrupted atomic writes: they were never renamed into place. */
    private static void removeTemporaryFiles(Path dir, List<String> notes) throws IOException {
        List<Path> temps = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.filter(p -> p.getFileName().toString().endsWith(Segments.TEMP_SUFFIX)).forEach(temps::add);
        }
        for (Path temp : temps) {
            Files.deleteIfExists(temp);
            note(notes, "removed " + temp + ", left by a write that a crash interrupted before it"
                    + " completed");
        }
    }

    private static void note(List<String> notes, String line) {
        LOG.warn("journal: {}", line);
        notes.add(line);
    }
}
