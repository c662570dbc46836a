package dev.flags.server.journal;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Not thread-safe. Rebuilds the state of a journal directory at open: the newest sound checkpoint,
 * plus every entry after it, checked record by record; and checks every older record too (length,
 * checksum, layout, sequence), without applying it, so that damage anywhere stops the open.
 *
 * <p>Only the last segment may end in a torn record (the crash case); it is cut with a WARN line. Any
 * other problem (a damaged record before the tail, in any retained segment; a gap in the sequence; a
 * checkpoint newer than the journal) throws {@link JournalCorruptedException} before anything on
 * disk is changed, with a message that names the file, the byte offset and the command to run.
 */
final class Recovery {

    private static final Logger LOG = LoggerFactory.getLogger(Recovery.class);
    /** Most threads that check older segments at open; each reads one segment at a time. */
    private static final int MAX_CHECK_THREADS = 4;

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
            long verified,
            long discardedBytes,
            List<String> notes) {}

    /**
     * Recovers the journal in {@code dir}; the caller holds its lock.
     *
     * @throws JournalCorruptedException for damage before the tail, a gap, missing first entries, a
     *     checkpoint newer than the journal, or a segment or checkpoint of a newer format; nothing on disk was changed (beyond removing leftover
     *     temporary files)
     */
    static Result run(Path dir) throws IOException {
        try {
            return recover(dir);
        } catch (JournalCorruptedException e) {
            throw e.advice() != null ? e : e.withAdvice(repairAdvice(dir, Checkpoints.sequenceOf(e.file()) >= 0));
        }
    }

    /**
     * What a refused open tells the operator to do about damage. The journal is verified the way {@code
     * JournalTool verify} does it, so that the message never recommends a repair that would refuse, and
     * says when a cut would set aside acknowledged state that a checkpoint holds.
     */
    private static String repairAdvice(Path dir, boolean newerCheckpoint) {
        JournalVerifier.Report report;
        try {
            report = JournalVerifier.verify(dir);
        } catch (IOException | RuntimeException e) {
            LOG.warn("journal: cannot verify {} to advise on its damage: {}", dir, e.toString());
            report = null;
        }
        String notOpened = "the journal was not opened and nothing on disk was changed: ";
        // The commands name the jar this server runs from, so that they can be pasted on its host.
        String verify = "run '" + ToolCommand.journalTool("verify", dir) + "' to list every problem";
        String docs = "; see docs/journal.md, \"Verify and repair\"";
        if (report == null) {
            return notOpened + verify + ", then restore the damaged file from a backup" + docs;
        }
        String fromCheckpoint = report.offersFromCheckpoint()
                ? ", or run '" + ToolCommand.journalTool("repair", dir, "--from-checkpoint") + "' to keep the state from the newest checkpoint ("
                        + report.fromCheckpointCost() + ")"
                : "";
        String refusal = report.missingStart() != null ? report.missingStart().reason() : report.cutRefusal();
        if (refusal != null) {
            return notOpened + report.restoreAdvice() + fromCheckpoint + "; a cut at the damage cannot repair this journal: "
                    + refusal + "; " + verify + docs;
        }
        List<Long> lost = report.checkpointsACutSetsAside();
        String cut = "'" + (lost.isEmpty() ? ToolCommand.journalTool("repair", dir, "--cut-at-damage")
                : ToolCommand.journalTool("repair", dir, "--cut-at-damage", "--discard-checkpoint-state")) + "'";
        String what = newerCheckpoint && report.damage() == null
                ? " to set the checkpoints newer than the journal aside"
                : " to cut the journal at the first damage";
        return notOpened + verify + " and what each repair costs, then " + report.restoreAdvice() + fromCheckpoint
                + ", or run " + cut + what
                + " (" + report.cutCost() + (lost.isEmpty() ? "" : "; the cut also sets aside " + JournalTool.checkpointNames(lost)
                        + ", which hold" + (lost.size() == 1 ? "s" : "") + " acknowledged state")
                + "; what leaves the journal is moved to " + dir.resolve("damaged-<time>") + ", not deleted)" + docs;
    }

    private static Result recover(Path dir) throws IOException {
        List<String> notes = new ArrayList<>();
        removeTemporaryFiles(dir, notes);
        noteOutOfRangeNames(dir, notes);
        List<SegmentInfo> segments = readHeaders(dir);

        Checkpoints.Loaded base = null;
        Path baseFile = null;
        // A checkpoint is renamed into place only once written whole: a damaged one's name still proves its sequence
        // was acknowledged, so a damaged last record it covers is damage, not a torn tail to cut (QA81 F3). (A sound
        // checkpoint past the last record is refused below, as newer than the journal.)
        long acknowledged = 0;
        for (Checkpoints.Ref ref : Checkpoints.list(dir)) {
            if (base != null) {
                // Only checked, not loaded: an older checkpoint is the fallback should the newest be damaged one day,
                // and one that is damaged already must be said now, not found when it is needed.
                try {
                    Checkpoints.checkSum(ref.file());
                } catch (JournalCorruptedException e) {
                    if (e.newerFormat()) {
                        throw newerFormatCheckpoint(e);
                    }
                    note(notes, "older checkpoint " + ref.file() + " is damaged (" + e.getMessage() + "); the journal opened"
                            + " from the newest, but the older one could not stand in should the newest be damaged: the"
                            + " next checkpoints replace it, and 'verify' lists what else is wrong");
                }
                continue;
            }
            try {
                base = Checkpoints.read(ref.file());
                baseFile = ref.file();
            } catch (JournalCorruptedException e) {
                if (e.newerFormat()) {
                    throw newerFormatCheckpoint(e);
                }
                acknowledged = Math.max(acknowledged, ref.sequence());
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
            return new Result(state, segments, 0, Segments.HEADER_SIZE, 0, 0, 0, 0, notes);
        }
        long first = segments.get(0).firstSequence;
        if (checkpointSequence + 1 < first) {
            throw new JournalCorruptedException(segments.get(0).file, 0, "the journal starts at sequence "
                    + first + " but " + (base == null ? "there is no checkpoint"
                            : "the newest sound checkpoint is at sequence " + checkpointSequence)
                    + ": sequences " + (checkpointSequence + 1) + ".." + (first - 1) + " are missing",
                    "the journal was not opened and nothing on disk was changed: restore the missing"
                    + " segment files, or a checkpoint that covers them, from a backup (cutting at"
                    + " damage cannot repair this)");
        }
        int start = 0;
        for (int i = 0; i < segments.size(); i++) {
            if (segments.get(i).firstSequence <= checkpointSequence + 1) {
                start = i;
            }
        }

        // The segments before the one that holds the checkpoint's next entry are not replayed, but
        // they are history and audit, and a repair cuts at the first damage: so their records are
        // checked too, on their own threads while this one replays the tail, before anything is cut.
        try (OlderSegments older = OlderSegments.check(segments.subList(0, start))) {
            long last = segments.get(start).firstSequence - 1;
            long replayed = 0;
            long verified = 0;
            long tailEnd = Segments.HEADER_SIZE;
            long cutAt = -1;
            long fileSize = 0;
            String torn = null;
            JournalCorruptedException tailDamage = null;
            try {
                for (int i = start; i < segments.size(); i++) {
                    SegmentInfo seg = segments.get(i);
                    boolean isLast = i == segments.size() - 1;
                    if (i > start && seg.firstSequence != last + 1) {
                        throw gap(segments.get(i - 1), last, seg);
                    }
                    try (FileChannel ch = FileChannel.open(seg.file, StandardOpenOption.READ)) {
                        fileSize = ch.size();
                        SegmentScanner scan = new SegmentScanner(seg.file, ch, seg.firstSequence,
                                fileSize);
                        while (scan.next()) {
                            RecordCodec.View v = scan.view();
                            if (v.sequence() > checkpointSequence) {
                                try {
                                    state.apply(v.toEntry());
                                } catch (RecordCodec.BadRecordException | RuntimeException e) {
                                    throw new JournalCorruptedException(seg.file, scan.recordOffset(),
                                            e.getMessage());
                                }
                                replayed++;
                            } else {
                                verified++;
                            }
                        }
                        last = scan.lastSequence();
                        tailEnd = scan.goodEnd();
                        if (scan.problem() != null) {
                            // A newer release's entry is never a torn tail to cut, even as the last record.
                            if (!isLast || scan.problemIsNewerFormat() || acknowledged > scan.lastSequence()
                                    || SegmentScanner.soundRecordFollows(ch, scan.problemOffset(), fileSize,
                                            scan.lastSequence())) {
                                throw scan.damage();
                            }
                            cutAt = scan.problemOffset();
                            torn = scan.problem();
                        }
                    }
                }
            } catch (JournalCorruptedException e) {
                tailDamage = e;
            }
            // The first damage in journal order is the one to report: it is where a repair cuts.
            verified += older.awaitSound(segments.get(start));
            if (tailDamage != null) {
                throw tailDamage;
            }
            if (checkpointSequence > last) {
                throw newerCheckpoint(baseFile, checkpointSequence, last);
            }
            long discarded = 0;
            if (cutAt >= 0) {
                SegmentInfo tail = segments.get(segments.size() - 1);
                // Kept, not deleted: almost always a write a crash cut short, which was never acknowledged; but a
                // last record damaged on disk after it was written looks the same, and its bytes must not vanish.
                Path aside = JournalVerifier.asideDirectory(dir, Clock.systemUTC());
                FileAccess.createOwnerOnlyDirectories(aside); // journal bytes: its owner's only
                List<String> done = new ArrayList<>();
                JournalVerifier.cutFile(tail.file, cutAt, aside, done);
                Segments.forceDirectory(aside);
                note(notes, "found a torn tail in " + tail.file + " at byte offset " + cutAt + " ("
                        + torn + "): cut " + (fileSize - cutAt) + " bytes, a write cut short by a crash (never"
                        + " acknowledged), unless the file was cut short by another process or the disk damaged the last"
                        + " record; they are kept in " + aside
                        + "; the last complete entry is sequence " + last);
                discarded = fileSize - cutAt;
                tailEnd = cutAt;
            }
            return new Result(state, segments, last, tailEnd, checkpointSequence, replayed, verified,
                    discarded, notes);
        }
    }

    /**
     * A segment that does not start where the one before it ends. Entries missing between them are named
     * as missing, with the file that should hold them (not as damage in the next one, which is sound);
     * a segment that starts before the previous one ends is damage at its first-sequence field.
     */
    private static JournalCorruptedException gap(SegmentInfo previous, long previousLast, SegmentInfo next) {
        if (next.firstSequence > previousLast + 1) {
            return new JournalCorruptedException(next.file.resolveSibling(Segments.fileName(previousLast + 1)), -1,
                    Segments.gap(previous.file, previousLast, next.file, next.firstSequence));
        }
        return new JournalCorruptedException(next.file, 12, "segment starts at sequence "
                + next.firstSequence + " but the previous segment ends at sequence " + previousLast);
    }

    /**
     * Not thread-safe (the opening thread uses it; the checks run on their own threads). Checks the
     * segments that recovery does not replay, those before the one that holds the checkpoint's next
     * entry: every record's length, checksum, layout and sequence number, and that each segment
     * ends where the next one starts. Payloads are not decoded and nothing is applied, so the cost is
     * reading the files and checksumming them (CRC32C runs on the CPU's crc32 instruction).
     *
     * <p>Segments are checked in parallel, one per thread ({@code flags-journal-check-N}, up to the
     * number of processors and at most {@value #MAX_CHECK_THREADS}); the results are examined in
     * journal order, so the damage reported is always the first one.
     */
    private static final class OlderSegments implements AutoCloseable {

        /** What checking one segment found. */
        private record Checked(long lastSequence, long entries, JournalCorruptedException damage) {}

        private final List<SegmentInfo> segments;
        private final ExecutorService pool;
        private final List<Future<Checked>> results = new ArrayList<>();

        private OlderSegments(List<SegmentInfo> segments) {
            this.segments = segments;
            int threads = Math.min(segments.size(),
                    Math.min(MAX_CHECK_THREADS, Runtime.getRuntime().availableProcessors()));
            if (threads == 0) {
                this.pool = null;
                return;
            }
            AtomicInteger count = new AtomicInteger();
            this.pool = Executors.newFixedThreadPool(threads, r -> {
                Thread t = new Thread(r, "flags-journal-check-" + count.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
            for (SegmentInfo seg : segments) {
                results.add(pool.submit(() -> checkOne(seg)));
            }
        }

        static OlderSegments check(List<SegmentInfo> segments) {
            return new OlderSegments(List.copyOf(segments));
        }

        private static Checked checkOne(SegmentInfo seg) throws IOException {
            try (FileChannel ch = FileChannel.open(seg.file, StandardOpenOption.READ)) {
                SegmentScanner scan = new SegmentScanner(seg.file, ch, seg.firstSequence, ch.size());
                long entries = 0;
                while (scan.next()) {
                    entries++;
                }
                return new Checked(scan.lastSequence(), entries,
                        scan.problem() == null ? null : scan.damage());
            }
        }

        /**
         * Waits for every check and throws the first problem in journal order: damage inside a
         * segment, or a segment that does not end where the next one (or {@code following}, the
         * first replayed segment) starts.
         *
         * @return how many entries the checked segments hold
         */
        long awaitSound(SegmentInfo following) throws IOException {
            long entries = 0;
            for (int i = 0; i < segments.size(); i++) {
                Checked c = result(i);
                if (c.damage() != null) {
                    throw c.damage();
                }
                SegmentInfo next = i + 1 < segments.size() ? segments.get(i + 1) : following;
                if (next.firstSequence != c.lastSequence() + 1) {
                    throw gap(segments.get(i), c.lastSequence(), next);
                }
                entries += c.entries();
            }
            return entries;
        }

        private Checked result(int i) throws IOException {
            try {
                return results.get(i).get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while checking " + segments.get(i).file);
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof IOException) {
                    throw (IOException) cause;
                }
                if (cause instanceof RuntimeException) {
                    throw (RuntimeException) cause;
                }
                if (cause instanceof Error) {
                    throw (Error) cause;
                }
                throw new IOException("cannot check " + segments.get(i).file + ": " + cause, cause);
            }
        }

        /** Stops checks still running (after a failure elsewhere) and ends the threads. */
        @Override
        public void close() {
            if (pool != null) {
                pool.shutdownNow();
            }
        }
    }

    /**
     * A checkpoint of a newer format version is a refusal, as a newer segment is, never a damaged file to skip: its
     * release wrote that version because its state holds what this release cannot express (QA81 F1), and skipping it
     * would serve a state replayed by rules that misread the newer entries, then overwrite or delete the newer
     * release's file at the next checkpoint.
     */
    private static JournalCorruptedException newerFormatCheckpoint(JournalCorruptedException e) {
        return e.withAdvice("the journal was not opened and nothing on disk was changed: it was written by a newer"
                + " release; run that release (do not repair: the repair refuses a journal of a newer format)");
    }

    private static JournalCorruptedException newerCheckpoint(Path checkpoint, long sequence,
            long last) {
        // No advice here: run() words it from a verification, which knows whether a cut can help.
        return new JournalCorruptedException(checkpoint, -1, "checkpoint is at sequence " + sequence
                + " but the journal ends at sequence " + last + ": the journal lost acknowledged entries");
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

    /**
     * Removes leftovers of interrupted atomic writes: they were never renamed into place. Only the journal's own
     * temporary files are removed (QA81 F5): a {@code .tmp} file or directory an operator put there is not the
     * journal's to delete, and deleting a directory would fail the open.
     */
    private static void removeTemporaryFiles(Path dir, List<String> notes) throws IOException {
        List<Path> temps = new ArrayList<>();
        List<Path> strangers = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.filter(p -> p.getFileName().toString().endsWith(Segments.TEMP_SUFFIX))
                    .forEach(p -> (isJournalTemporary(p) ? temps : strangers).add(p));
        }
        temps.sort(null);
        strangers.sort(null);
        for (Path temp : temps) {
            Files.deleteIfExists(temp);
            note(notes, "removed " + temp + ", left by a write that did not complete (a crash, or a checkpoint that"
                    + " failed: a full disk?)");
        }
        for (Path stranger : strangers) {
            note(notes, "left " + stranger + " alone: it ends in " + Segments.TEMP_SUFFIX + " but is not a temporary"
                    + " file the journal writes" + (Files.isDirectory(stranger, LinkOption.NOFOLLOW_LINKS)
                            ? " (it is a directory)" : "") + "; move it out of " + dir);
        }
    }

    /**
     * Whether the file is a regular file named as the journal names its temporary files: a segment's or a
     * checkpoint's name with {@code .tmp} appended, or the write check's.
     */
    private static boolean isJournalTemporary(Path file) {
        String name = file.getFileName().toString();
        String target = name.substring(0, name.length() - Segments.TEMP_SUFFIX.length());
        boolean named = name.equals(FileJournal.WRITE_CHECK_FILE)
                || Segments.numberedName(target, "", Segments.SUFFIX)
                || Segments.numberedName(target, Checkpoints.PREFIX, Checkpoints.SUFFIX);
        return named && Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS);
    }

    /**
     * Says which files are named like a segment or a checkpoint but with a number past the largest sequence number: no
     * journal wrote them, so they are ignored, as any other file that is not the journal's (QA66 F3).
     */
    private static void noteOutOfRangeNames(Path dir, List<String> notes) throws IOException {
        List<Path> strays = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.filter(p -> {
                String name = p.getFileName().toString();
                return Segments.numberedName(name, "", Segments.SUFFIX) && Segments.firstSequenceOf(p) < 0
                        || Segments.numberedName(name, Checkpoints.PREFIX, Checkpoints.SUFFIX) && Checkpoints.sequenceOf(p) < 0;
            }).forEach(strays::add);
        }
        strays.sort(null);
        for (Path stray : strays) {
            note(notes, "ignored " + stray + ": it is named like a journal file, but its number is past the largest"
                    + " sequence number (" + Long.MAX_VALUE + "), so no journal wrote it; move it out of " + dir);
        }
    }

    private static void note(List<String> notes, String line) {
        LOG.warn("journal: {}", line);
        notes.add(line);
    }
}
