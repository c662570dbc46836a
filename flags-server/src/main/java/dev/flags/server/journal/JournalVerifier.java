package dev.flags.server.journal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Not thread-safe (the static helpers are). Checks every record of every segment and every
 * checkpoint of a journal directory, and on request cuts the journal at the first damage. Backs
 * {@link JournalTool}; the caller holds the directory's lock.
 */
final class JournalVerifier {

    private JournalVerifier() {}

    /** What kind of problem a finding is: the summary labels each kind differently. */
    enum Kind {
        /** A file's bytes are wrong. */
        DAMAGED("damaged: "),
        /** A file is of a format version a newer release writes: not damaged, and no repair may touch it. */
        NEWER_FORMAT("newer format: "),
        /** A sound checkpoint is after the journal's last sound entry: the segments lost acknowledged entries. */
        AHEAD("ahead of the journal: "),
        /** Entries no segment holds, between two segments: the file is the one that should hold them. */
        MISSING("missing: "),
        /** A segment shorter than its header (an empty file, most often): damaged, but it holds no entry to lose. */
        NO_ENTRIES("damaged: ");

        final String label;

        Kind(String label) {
            this.label = label;
        }
    }

    /**
     * A problem at a place in a file.
     *
     * @param restore what to restore from a backup to mend it, as words: the file's name if null
     */
    record Finding(Path file, long offset, String reason, Kind kind, String restore) {
        Finding(Path file, long offset, String reason) {
            this(file, offset, reason, Kind.DAMAGED);
        }

        Finding(Path file, long offset, String reason, Kind kind) {
            this(file, offset, reason, kind, null);
        }

        /** What to restore from a backup to mend it. */
        String toRestore() {
            return restore != null ? restore : file.getFileName().toString();
        }

        static Finding of(JournalCorruptedException e) {
            return new Finding(e.file(), e.offset(), e.reason(), e.newerFormat() ? Kind.NEWER_FORMAT : Kind.DAMAGED);
        }

        /** Whether the file is of a format version a newer release writes, not damaged. */
        boolean newerFormat() {
            return kind == Kind.NEWER_FORMAT;
        }

        @Override
        public String toString() {
            return file + (offset >= 0 ? " at byte offset " + offset : "") + ": " + reason;
        }
    }

    /**
     * What {@code repair --from-checkpoint} would do: keep the newest sound checkpoint's state, and with it
     * the segments from the first one that can follow it (all sound, no gap, starting at or before the
     * checkpoint's next entry); the segments before are set aside, as retention would remove them. When
     * no segment can follow it, every segment is set aside and a new one starts after the checkpoint.
     *
     * @param checkpoint the sequence of the checkpoint whose state is kept, or -1 if there is none
     * @param keepFrom the index of the first segment kept; the number of segments if none is
     * @param keptFirst the first sequence the repaired journal holds
     * @param keptEnd the last sequence the repaired journal holds, or the checkpoint's if it holds none
     * @param refusal why it cannot be done (or is not needed), or null
     * @param copied whether the entries after the checkpoint, up to {@code keptEnd}, are copied out of the
     *     segments set aside into a new one: they are sound, but in segments that cannot follow the
     *     checkpoint (damage before them, in the same segment)
     */
    record CheckpointPlan(long checkpoint, int keepFrom, long keptFirst, long keptEnd, String refusal, boolean copied) {

        static CheckpointPlan refused(String why) {
            return new CheckpointPlan(-1, -1, -1, -1, why, false);
        }
    }

    /**
     * What verification found.
     *
     * @param lines a human-readable line per segment and checkpoint
     * @param segments the segment files, in order
     * @param entries the sound entries before the first damage
     * @param lastSequence the last sound sequence number before the first damage or a torn tail
     * @param damage the first damage in the segments, in journal order (where a cut goes), or null
     * @param damagedSegment index in {@code segments} of the first damaged segment (for a gap, of the
     *     segment after it), or -1
     * @param damages every damage in the segments, in journal order; the first is {@code damage}
     * @param tornTail a torn tail of the last segment (cut automatically at the next open), or null
     * @param badCheckpoints checkpoints that are damaged, of a newer format, or ahead of the journal
     * @param missingStart entries at the start that are missing and that no sound checkpoint covers, or null
     * @param firstSequence the first sequence the journal holds (its first segment's), 1 if it has no segment
     * @param soundCheckpoints the sequences of the checkpoints that read soundly, newest first, whether or
     *     not they are beyond the damage
     * @param reached the furthest sequence the journal is known to have reached: its last sound entry, or
     *     beyond, as a sound record past damage, a later segment's name or a checkpoint shows
     * @param fromCheckpoint what {@code repair --from-checkpoint} would do
     */
    record Report(
            List<String> lines,
            List<Path> segments,
            long entries,
            long lastSequence,
            Finding damage,
            int damagedSegment,
            List<Finding> damages,
            Finding tornTail,
            List<Finding> badCheckpoints,
            Finding missingStart,
            long firstSequence,
            List<Long> soundCheckpoints,
            long reached,
            CheckpointPlan fromCheckpoint) {

        boolean clean() {
            return damage == null && badCheckpoints.isEmpty() && missingStart == null;
        }

        /** The files of a format version a newer release writes: no repair may touch them. */
        List<Finding> newerFormat() {
            List<Finding> newer = new ArrayList<>();
            damages.stream().filter(Finding::newerFormat).forEach(newer::add);
            badCheckpoints.stream().filter(Finding::newerFormat).forEach(newer::add);
            return newer;
        }

        /**
         * What a cut at the first damage keeps, as words: "sequences 86..119" or "no entries". The range
         * starts at the journal's first retained sequence, not at 1: retention may have removed the older
         * segments.
         */
        String cutKeeps() {
            return lastSequence >= firstSequence
                    ? "sequences " + firstSequence + ".." + lastSequence
                    : "no entries";
        }

        /**
         * Why a cut at the first damage would be refused, or null if it would be accepted. A cut keeps
         * the entries up to the damage; when the journal starts after sequence 1 (retention removed the
         * older segments, or they are missing), their state must come from a sound checkpoint at or
         * before the cut, the rule retention itself relies on. A checkpoint after the cut cannot serve:
         * the cut sets it aside, since the journal no longer reaches it.
         */
        String cutRefusal() {
            if (firstSequence <= 1) {
                return null;
            }
            for (long sequence : soundCheckpoints) {
                if (sequence >= firstSequence - 1 && sequence <= lastSequence) {
                    return null;
                }
            }
            List<Long> after = soundCheckpoints.stream().filter(s -> s > lastSequence).sorted().toList();
            return "a cut would keep " + cutKeeps() + ", but entries 1.." + (firstSequence - 1)
                    + " are no longer in the journal and no sound checkpoint at or before sequence " + lastSequence
                    + " holds their state"
                    + (after.isEmpty() ? "" : " (the sound " + (after.size() == 1 ? "checkpoint is at sequence "
                            : "checkpoints are at sequences ") + join(after) + ", after the cut: a cut sets "
                            + (after.size() == 1 ? "it" : "them") + " aside)");
        }

        /**
         * The sound checkpoints a cut sets aside, newest first: they are after the cut, so the cut journal
         * no longer reaches them. Each holds acknowledged state (a checkpoint is written only from
         * acknowledged entries) that the cut takes out of the journal, so a repair needs the operator's
         * explicit word for it.
         */
        List<Long> checkpointsACutSetsAside() {
            if (!newerFormat().isEmpty()) {
                return List.of(); // not judged: a newer release may read the journal up to them
            }
            return soundCheckpoints.stream().filter(sequence -> sequence > lastSequence).toList();
        }

        /** Whether a cut takes acknowledged state out of the journal: entries after the cut, or checkpoints. */
        boolean cutLosesEntries() {
            return (damage != null && !damageHoldsNoEntries()) || !checkpointsACutSetsAside().isEmpty();
        }

        /**
         * Whether every damaged segment is too short to hold an entry (an empty file: a copy cut short, a truncation)
         * and nothing beyond the cut is known: a cut then loses nothing, and restoring the file brings nothing back.
         */
        boolean damageHoldsNoEntries() {
            return damage != null && reached <= lastSequence && damages.stream().allMatch(d -> d.kind() == Kind.NO_ENTRIES);
        }

        /**
         * What a cut costs, in one line: the entries it keeps, those that leave the journal, and the state
         * the journal then has.
         */
        String cutCost() {
            String state = "the state goes back to " + (lastSequence >= 1 ? "sequence " + lastSequence : "empty");
            if (lastSequence < 1) {
                return "a cut keeps no entries: all of the journal's entries, at least " + reached + ", leave it, and "
                        + state;
            }
            if (damageHoldsNoEntries()) {
                return "a cut keeps " + cutKeeps() + " and loses no entry: the damaged segment" + (damages.size() == 1 ? " is" : "s are")
                        + " too short to hold one";
            }
            long leave = reached - lastSequence;
            return "a cut keeps " + cutKeeps() + (leave > 0 ? "; the journal had reached at least sequence " + reached
                    + ", so at least " + leave + (leave == 1 ? " entry leaves" : " entries leave") + " it and " + state : "");
        }

        /**
         * Whether {@code repair --from-checkpoint} is worth offering: it can be done, and a cut would lose the
         * newest checkpoint's state.
         */
        boolean offersFromCheckpoint() {
            return fromCheckpoint.refusal() == null && fromCheckpoint.checkpoint() > lastSequence;
        }

        /** What {@code repair --from-checkpoint} keeps and costs, in one line. */
        String fromCheckpointCost() {
            CheckpointPlan plan = fromCheckpoint;
            String kept = "it keeps the state at sequence " + plan.checkpoint() + " (" + Checkpoints.fileName(plan.checkpoint())
                    + ")" + (plan.keptEnd() > plan.checkpoint() ? " and the entries after it, up to sequence " + plan.keptEnd() : "")
                    + (plan.copied() ? " (copied out of the segments it sets aside into a new one, sound as they are)" : "");
            String history = plan.keepFrom() == 0
                    ? "; history, audit and time travel start at sequence " + plan.keptFirst() + " (no segment holds the"
                            + " entries before it)"
                    : plan.keptFirst() > firstSequence
                    ? "; the history of sequences " + firstSequence + ".." + (plan.keptFirst() - 1) + " leaves the journal"
                            + " (history, audit and time travel start at sequence " + plan.keptFirst() + "; its segments are"
                            + " set aside, not deleted)"
                    : "";
            String goesOn = plan.keepFrom() < segments.size() ? "" : "; the journal goes on at sequence " + (plan.keptEnd() + 1);
            long leave = reached - plan.keptEnd();
            String lost = leave > 0 ? "; the journal had reached at least sequence " + reached + ", so at least " + leave
                    + (leave == 1 ? " entry leaves" : " entries leave") + " it" : "";
            return kept + history + goesOn + lost;
        }

        /** What to restore from a backup to mend the journal without losing anything: "restore X from a backup". */
        String restoreAdvice() {
            return "restore " + toRestore() + " from a backup";
        }

        /** The files to restore from a backup to mend the journal without losing anything, as words. */
        String toRestore() {
            if (damage != null) {
                List<String> files = damages.stream().map(Finding::toRestore).distinct().toList();
                return String.join(files.size() == 2 ? " and " : ", ", files);
            }
            if (missingStart != null) {
                return "the missing segment files, or a checkpoint that covers them,";
            }
            long newest = soundCheckpoints.stream().mapToLong(Long::longValue).max().orElse(0);
            if (newest > lastSequence) {
                return "the segment files that hold sequences " + (lastSequence + 1) + ".." + newest;
            }
            return "the journal's files";
        }
    }

    private static String join(List<Long> sequences) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < sequences.size(); i++) {
            b.append(i == 0 ? "" : i == sequences.size() - 1 ? " and " : ", ").append(sequences.get(i));
        }
        return b.toString();
    }

    /** A checkpoint as read: its state's header, or why it cannot be used. */
    private record CheckedCheckpoint(Checkpoints.Ref ref, Checkpoints.Loaded loaded, JournalCorruptedException problem) {}

    /**
     * What checking one segment found.
     *
     * @param firstSequence the first sequence its header gives (its name's if the header is unreadable)
     * @param headerRead whether the header was read soundly
     * @param entries how many sound entries it holds before any problem
     * @param lastSound the sequence of its last sound entry (firstSequence - 1 if none)
     * @param problem damage in it, or its torn tail, or null
     * @param torn whether the problem is a torn tail, which the next open cuts
     * @param reach the highest sequence of any sound record in it, past damage too
     * @param line its line in the report
     */
    private record CheckedSegment(long firstSequence, boolean headerRead, long entries, long lastSound, Finding problem,
            boolean torn, long reach, String line) {

        /** Whether all of it can be kept as it is: a sound header and no damage (a torn tail the next open cuts). */
        boolean sound() {
            return headerRead && (problem == null || torn);
        }
    }

    /**
     * Reads every record of every segment and every checkpoint. A damaged segment does not stop the
     * check: every segment gets its line and every damage is listed, the first (in journal order) being
     * where a cut goes.
     */
    static Report verify(Path dir) throws IOException {
        List<String> lines = new ArrayList<>();
        List<Path> files = Segments.list(dir);
        // Checkpoints are read first: a sound one tells whether the journal's last record was acknowledged.
        List<CheckedCheckpoint> checkpoints = new ArrayList<>();
        long newestSound = -1;
        // A checkpoint file is renamed into place only once written whole: its name proves its sequence acknowledged,
        // should its body be damaged since (QA81 F3).
        long newestNamed = -1;
        Path newestNamedFile = null;
        for (Checkpoints.Ref ref : Checkpoints.list(dir)) {
            if (ref.sequence() > newestNamed) {
                newestNamed = ref.sequence();
                newestNamedFile = ref.file();
            }
            try {
                Checkpoints.Loaded loaded = Checkpoints.read(ref.file());
                checkpoints.add(new CheckedCheckpoint(ref, loaded, null));
                if (loaded.sequence() > newestSound) {
                    newestSound = loaded.sequence();
                }
            } catch (JournalCorruptedException e) {
                checkpoints.add(new CheckedCheckpoint(ref, null, e));
            }
        }

        long entries = 0;
        long last = -1;
        long first = -1;
        Finding damage = null;
        int damagedSegment = -1;
        List<Finding> damages = new ArrayList<>();
        Finding torn = null;
        long previousEnd = -1; // the previous segment's last sound sequence; -1 if its end is unknown (damaged)
        long end = 0; // the last segment's last sound sequence: where the journal ends
        long reached = 0;
        List<CheckedSegment> segments = new ArrayList<>();
        boolean[] gapBefore = new boolean[files.size()];
        for (int i = 0; i < files.size(); i++) {
            Path file = files.get(i);
            CheckedSegment checked = checkSegment(file, i == files.size() - 1, newestNamed,
                    newestNamedFile == null ? null : newestNamedFile.getFileName() + (newestNamed == newestSound
                            ? " holds the state after sequence " + newestSound
                            : " was written after sequence " + newestNamed + ", damaged or not"));
            segments.add(checked);
            if (i == 0 && checked.headerRead()) {
                first = checked.firstSequence();
            }
            if (checked.headerRead() && previousEnd >= 0 && checked.firstSequence() != previousEnd + 1) {
                // Entries no file holds: named as missing, with the file that should hold them. (A cut still
                // goes before the segment after the gap, which is sound.)
                Finding gap = checked.firstSequence() > previousEnd + 1
                        ? new Finding(dir.resolve(Segments.fileName(previousEnd + 1)), -1,
                                Segments.gap(files.get(i - 1), previousEnd, file, checked.firstSequence()), Kind.MISSING,
                                Segments.fileName(previousEnd + 1) + " (sequences " + (previousEnd + 1) + ".."
                                        + (checked.firstSequence() - 1) + ")")
                        : new Finding(file, 12, "segment starts at sequence " + checked.firstSequence()
                                + " but the previous segment ends at sequence " + previousEnd);
                damages.add(gap);
                gapBefore[i] = true;
                lines.add((gap.kind() == Kind.MISSING ? "missing before segment " : "gap before segment ")
                        + file.getFileName() + ": " + gap.reason());
                if (damage == null) {
                    damage = gap;
                    damagedSegment = i;
                }
            }
            if (damage == null && checked.headerRead()) {
                entries += checked.entries();
                last = checked.lastSound();
            }
            if (checked.problem() != null && checked.torn()) {
                torn = checked.problem();
            } else if (checked.problem() != null) {
                damages.add(checked.problem());
                if (damage == null) {
                    damage = checked.problem();
                    damagedSegment = i;
                }
            }
            lines.add(checked.line());
            previousEnd = checked.headerRead() && (checked.problem() == null || checked.torn()) ? checked.lastSound() : -1;
            end = checked.lastSound();
            reached = Math.max(reached, Math.max(checked.reach(), Segments.firstSequenceOf(file) - 1));
        }
        // The first sequence the journal holds: the first segment's header's, or its name's when the header
        // itself is damaged (a cut then keeps nothing, and the entries before it still need a checkpoint).
        long firstSequence = first > 0 ? first : files.isEmpty() ? 1 : Math.max(1, Segments.firstSequenceOf(files.get(0)));
        if (last < 0) {
            last = firstSequence - 1;
        }
        boolean newerFormatSeen = damages.stream().anyMatch(Finding::newerFormat);

        List<Finding> badCheckpoints = new ArrayList<>();
        List<Long> soundCheckpoints = new ArrayList<>();
        for (CheckedCheckpoint checked : checkpoints) {
            Checkpoints.Ref ref = checked.ref();
            String name = "checkpoint " + ref.file().getFileName();
            if (checked.problem() != null) {
                JournalCorruptedException e = checked.problem();
                badCheckpoints.add(Finding.of(e));
                lines.add(name + (e.newerFormat() ? ": of a NEWER format: " : ": DAMAGED: ") + e.reason());
                continue;
            }
            long sequence = checked.loaded().sequence();
            soundCheckpoints.add(sequence);
            if (sequence > last && newerFormatSeen) {
                // The journal goes on past what this release can read: the checkpoint may well match it.
                lines.add(name + ": sequence " + sequence + ", beyond what this release can read of the journal: not checked");
            } else if (sequence > end) {
                // Sound, but the segments end before it: they lost entries it holds (the open refuses this).
                badCheckpoints.add(new Finding(ref.file(), -1, "checkpoint is at sequence " + sequence
                        + " but the sound journal ends at sequence " + end, Kind.AHEAD));
                lines.add(name + ": PAST the end of the sound journal (sequence " + sequence + " > " + end + "): the"
                        + " segments lost or damaged entries it holds");
            } else {
                lines.add(name + ": ok, sequence " + sequence);
            }
        }
        // How far the journal is known to have reached past its sound part: every segment's sound end and name,
        // and every checkpoint's (a damaged one's name still tells), so that a cut's cost is a lower bound.
        reached = Math.max(reached, last);
        for (CheckedCheckpoint checked : checkpoints) {
            reached = Math.max(reached, checked.ref().sequence());
        }
        // The journal as it is: a sound checkpoint anywhere at or after the gap covers it (one beyond the
        // damage too: whether a cut could use it is the cut's question, see Report.cutRefusal).
        Finding missingStart = null;
        if (first > 1 && newestSound < first - 1) {
            missingStart = new Finding(files.get(0), 0, "the journal starts at sequence " + first
                    + " and no sound checkpoint covers sequences 1.." + (first - 1));
        }
        CheckpointPlan plan = newerFormatSeen || badCheckpoints.stream().anyMatch(Finding::newerFormat)
                ? CheckpointPlan.refused("the journal holds files of a newer format")
                : planFromCheckpoint(files, segments, gapBefore, newestSound, last, end);
        return new Report(lines, files, entries, last, damage, damagedSegment, List.copyOf(damages), torn,
                badCheckpoints, missingStart, firstSequence, List.copyOf(soundCheckpoints), reached, plan);
    }

    /**
     * Plans {@code repair --from-checkpoint} (see {@link CheckpointPlan}). It never sets aside a sound
     * entry that the checkpoint does not hold: when the segments that could follow the checkpoint are
     * damaged but hold sound records after it, it refuses.
     *
     * @param newestSound the newest sound checkpoint's sequence, or -1
     * @param cut the last sound sequence before the first damage: a cut keeps the state up to it
     * @param end the last sound sequence of the last segment
     */
    private static CheckpointPlan planFromCheckpoint(List<Path> files, List<CheckedSegment> segments, boolean[] gapBefore,
            long newestSound, long cut, long end) throws IOException {
        if (newestSound < 0) {
            return CheckpointPlan.refused("there is no sound checkpoint whose state it could keep");
        }
        if (newestSound <= cut) {
            return CheckpointPlan.refused("not needed: a cut at the first damage keeps the newest checkpoint (sequence "
                    + newestSound + ") and the entries up to sequence " + cut);
        }
        // The longest run of sound segments at the end, each starting where the one before it ends.
        int run = segments.size();
        while (run > 0 && segments.get(run - 1).sound() && (run == segments.size() || !gapBefore[run])) {
            run--;
        }
        if (run < segments.size() && segments.get(run).firstSequence() <= newestSound + 1 && end >= newestSound) {
            return new CheckpointPlan(newestSound, run, segments.get(run).firstSequence(), end, null, false);
        }
        // No segment can follow the checkpoint: all are set aside, which must not take a sound entry it lacks.
        long beyond = segments.stream().mapToLong(CheckedSegment::reach).max().orElse(0);
        if (beyond > newestSound) {
            // Damage before them in the same segment (the usual case: one segment holds most journals) need not
            // cost them: when every entry after the checkpoint is there and sound, they are copied into a new one.
            if (soundRecords(files, newestSound, beyond) != null) {
                return new CheckpointPlan(newestSound, segments.size(), newestSound + 1, beyond, null, true);
            }
            return CheckpointPlan.refused("sound entries up to sequence " + beyond + " are in segments that cannot follow"
                    + " the checkpoint at sequence " + newestSound + ", and damage or a gap lies among the entries after the"
                    + " checkpoint, so keeping its state would set entries it does not hold aside");
        }
        return new CheckpointPlan(newestSound, segments.size(), newestSound + 1, newestSound, null, false);
    }

    /**
     * The sound records numbered {@code after + 1} to {@code to}, in order, found anywhere in the segments
     * (past damage too), or null if one of them is missing or damaged (or shows up twice, differently).
     */
    static List<ByteBuffer> soundRecords(List<Path> files, long after, long to) throws IOException {
        Map<Long, ByteBuffer> found = new HashMap<>();
        for (Path file : files) {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                if (!SegmentScanner.collectSoundFrames(ch, Segments.HEADER_SIZE, ch.size(), after, to, found)) {
                    return null;
                }
            }
        }
        List<ByteBuffer> frames = new ArrayList<>();
        for (long sequence = after + 1; sequence <= to; sequence++) {
            ByteBuffer frame = found.get(sequence);
            if (frame == null) {
                return null;
            }
            frames.add(frame);
        }
        return frames;
    }

    /**
     * Checks one segment: its header and every record, up to the first problem.
     *
     * @param isLast whether it is the journal's last segment, where a problem may be a torn tail
     * @param acknowledged the newest checkpoint's sequence, by its name (-1 if none), sound or damaged: a record it
     *     covers was acknowledged, so a problem there is damage, never a torn tail
     * @param witness what says so, for the message ("checkpoint-...57.ckpt holds the state after sequence 57")
     */
    private static CheckedSegment checkSegment(Path file, boolean isLast, long acknowledged, String witness)
            throws IOException {
        String name = "segment " + file.getFileName();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long firstSequence;
            try {
                firstSequence = Segments.readHeader(ch, file);
            } catch (JournalCorruptedException e) {
                long named = Math.max(1, Segments.firstSequenceOf(file));
                long reach = e.newerFormat() ? named - 1
                        : Math.max(named - 1, SegmentScanner.highestSoundSequenceFrom(ch, Segments.HEADER_SIZE, ch.size()));
                // Shorter than a header: no record can follow, so the file holds no entry (whatever it held is gone).
                Finding finding = !e.newerFormat() && ch.size() < Segments.HEADER_SIZE
                        ? new Finding(e.file(), e.offset(), e.reason() + "; it holds no entry", Kind.NO_ENTRIES)
                        : Finding.of(e);
                return new CheckedSegment(named, false, 0, named - 1, finding, false, reach,
                        name + (e.newerFormat() ? ": of a NEWER format: " : ": DAMAGED: ") + finding.reason());
            }
            long size = ch.size();
            SegmentScanner scan = new SegmentScanner(file, ch, firstSequence, size);
            long count = 0;
            Finding bad = null;
            while (scan.next()) {
                try {
                    scan.view().toEntry();
                } catch (RecordCodec.BadRecordException e) {
                    bad = new Finding(file, scan.recordOffset(), e.getMessage());
                    break;
                }
                count++;
            }
            long lastSound = bad == null ? scan.lastSequence() : scan.lastSequence() - 1;
            boolean torn = false;
            if (bad == null && scan.problem() != null) {
                bad = new Finding(file, scan.problemOffset(), scan.problem(),
                        scan.problemIsNewerFormat() ? Kind.NEWER_FORMAT : Kind.DAMAGED);
                if (isLast && !scan.problemIsNewerFormat() && !SegmentScanner.soundRecordFollows(ch, scan.problemOffset(), size,
                        scan.lastSequence())) {
                    if (acknowledged > scan.lastSequence()) {
                        // A crash cuts short only a write that was never acknowledged; a checkpoint covers this one.
                        bad = new Finding(file, scan.problemOffset(), scan.problem() + "; sequence "
                                + (scan.lastSequence() + 1) + " was acknowledged (" + witness + "), so this is damage, not a"
                                + " write that a crash cut short");
                    } else {
                        torn = true;
                    }
                }
            }
            String line;
            if (bad != null && !torn) {
                line = name + (bad.newerFormat() ? ": an entry of a NEWER format" : ": DAMAGED") + " at byte offset "
                        + bad.offset() + ": " + bad.reason() + " (" + count + " sound entries before it)";
            } else {
                line = name + ": ok, " + count + " entries"
                        + (count > 0 ? ", sequences " + firstSequence + ".." + lastSound : "")
                        + (torn ? "; torn tail at byte offset " + bad.offset() + " (" + (size - bad.offset())
                                + " bytes: a write cut short by a crash, never acknowledged, unless the file was cut short"
                                + " by another process or the disk damaged the last record; cut at the next open, its bytes"
                                + " kept in damaged-<time>/): " + bad.reason() : "");
            }
            // Past damage, sound records may still hold entries: a repair must know how far they go.
            long reach = bad != null && !torn && !bad.newerFormat()
                    ? Math.max(lastSound, SegmentScanner.highestSoundSequenceFrom(ch, bad.offset(), size))
                    : lastSound;
            return new CheckedSegment(firstSequence, true, count, lastSound, bad, torn, reach, line);
        }
    }

    /**
     * Cuts the journal at its first damage (or torn tail) and sets aside what cannot be used: the
     * bytes after the cut, later segments, damaged checkpoints and checkpoints newer than the cut
     * journal. Nothing is deleted: everything set aside goes to a new {@code damaged-<time>}
     * directory inside the data directory.
     *
     * @return what was done, a line per action
     */
    static List<String> repair(Path dir, Report report, Clock clock) throws IOException {
        List<String> done = new ArrayList<>();
        Path aside = asideDirectory(dir, clock);
        Finding cut = report.damage() != null ? report.damage() : report.tornTail();
        int firstMoved = report.segments().size();
        if (cut != null) {
            FileAccess.createOwnerOnlyDirectories(aside);
            int index = report.damage() != null ? report.damagedSegment()
                    : report.segments().size() - 1;
            if (cut.offset() < Segments.HEADER_SIZE) {
                firstMoved = index; // the header is bad, or entries before this file are missing: it goes aside whole
            } else {
                cutFile(cut.file(), cut.offset(), aside, done);
                firstMoved = index + 1;
            }
        }
        for (int i = firstMoved; i < report.segments().size(); i++) {
            Path file = report.segments().get(i);
            FileAccess.createOwnerOnlyDirectories(aside);
            Files.move(file, aside.resolve(file.getFileName()));
            done.add("moved segment " + file.getFileName() + " to " + aside);
        }
        for (Finding bad : report.badCheckpoints()) {
            FileAccess.createOwnerOnlyDirectories(aside);
            Files.move(bad.file(), aside.resolve(bad.file().getFileName()));
            done.add("moved checkpoint " + bad.file().getFileName() + " to " + aside + " ("
                    + bad.reason() + ")");
        }
        // Checkpoints beyond the new end of the journal cannot be used either.
        for (Checkpoints.Ref ref : Checkpoints.list(dir)) {
            if (ref.sequence() > report.lastSequence()) {
                FileAccess.createOwnerOnlyDirectories(aside);
                Files.move(ref.file(), aside.resolve(ref.file().getFileName()));
                done.add("moved checkpoint " + ref.file().getFileName() + " to " + aside
                        + " (newer than the cut journal, which ends at sequence " + report.lastSequence()
                        + ")");
            }
        }
        startAfterCheckpointIfNoSegmentIsLeft(dir, done);
        Segments.forceDirectory(dir);
        if (Files.isDirectory(aside)) {
            Segments.forceDirectory(aside);
        }
        return done;
    }

    /**
     * Keeps the newest sound checkpoint's state: sets aside the segments before the first one that can
     * follow it (as retention removes old segments), damaged checkpoints, and sound ones older than the
     * repaired journal's start (nothing could follow them any more); when no segment is left, starts an
     * empty one after the checkpoint. Nothing is deleted. The caller has checked that the plan is not
     * refused.
     *
     * @return what was done, a line per action
     */
    static List<String> repairFromCheckpoint(Path dir, Report report, Clock clock) throws IOException {
        CheckpointPlan plan = report.fromCheckpoint();
        if (plan.refusal() != null) {
            throw new IllegalStateException("refused plan: " + plan.refusal());
        }
        Path kept = dir.resolve(Checkpoints.fileName(plan.checkpoint()));
        if (!Files.isRegularFile(kept)) {
            throw new IOException("the checkpoint to keep, " + kept + ", is gone; nothing was changed: run verify again");
        }
        List<String> done = new ArrayList<>();
        // Read before anything moves: the copy must be of what verify saw.
        List<ByteBuffer> copies = plan.copied() ? soundRecords(report.segments(), plan.checkpoint(), plan.keptEnd()) : List.of();
        if (copies == null) {
            throw new IOException("the entries after the checkpoint changed since they were checked; nothing was changed:"
                    + " run verify again");
        }
        Path aside = asideDirectory(dir, clock);
        // The copy goes in first, so that a crash before the old segments are set aside leaves a journal this repair
        // can finish (the copy is then a segment that follows the checkpoint); unless a segment of that name, one
        // being set aside, is in the way.
        boolean copyFirst = plan.copied() && !Files.exists(dir.resolve(Segments.fileName(plan.checkpoint() + 1)));
        if (copyFirst) {
            copy(dir, plan, copies, done);
        }
        for (int i = 0; i < plan.keepFrom(); i++) {
            Path file = report.segments().get(i);
            FileAccess.createOwnerOnlyDirectories(aside);
            Files.move(file, aside.resolve(file.getFileName()));
            done.add("moved segment " + file.getFileName() + " to " + aside + " (history before the kept state)");
        }
        // Only damaged checkpoints are "bad" here: one ahead of the old segments is sound, and the newest is
        // the state this repair keeps.
        for (Finding bad : report.badCheckpoints()) {
            if (bad.kind() == Kind.DAMAGED) {
                FileAccess.createOwnerOnlyDirectories(aside);
                Files.move(bad.file(), aside.resolve(bad.file().getFileName()));
                done.add("moved checkpoint " + bad.file().getFileName() + " to " + aside + " (" + bad.reason() + ")");
            }
        }
        for (Checkpoints.Ref ref : Checkpoints.list(dir)) {
            if (ref.sequence() < plan.keptFirst() - 1) {
                FileAccess.createOwnerOnlyDirectories(aside);
                Files.move(ref.file(), aside.resolve(ref.file().getFileName()));
                done.add("moved checkpoint " + ref.file().getFileName() + " to " + aside + " (older than the repaired"
                        + " journal, which starts at sequence " + plan.keptFirst() + ")");
            }
        }
        if (plan.copied() && !copyFirst) {
            copy(dir, plan, copies, done);
        }
        startAfterCheckpointIfNoSegmentIsLeft(dir, done);
        Segments.forceDirectory(dir);
        if (Files.isDirectory(aside)) {
            Segments.forceDirectory(aside);
        }
        return done;
    }

    private static void copy(Path dir, CheckpointPlan plan, List<ByteBuffer> copies, List<String> done) throws IOException {
        Path segment = Segments.create(dir, plan.checkpoint() + 1, copies);
        done.add("copied the sound entries " + (plan.checkpoint() + 1) + ".." + plan.keptEnd() + " into segment "
                + segment.getFileName() + ": the journal goes on after them, from the state of "
                + Checkpoints.fileName(plan.checkpoint()));
    }

    /**
     * A journal whose segments were all set aside but whose state a kept checkpoint holds goes on after
     * that checkpoint, in a new empty segment: as after retention, the checkpoint covers every entry
     * before it. (An open refuses a checkpoint with no segment at all: the segments may have gone
     * missing, so only a repair, on the operator's word, starts one.)
     */
    private static void startAfterCheckpointIfNoSegmentIsLeft(Path dir, List<String> done) throws IOException {
        if (!Segments.list(dir).isEmpty()) {
            return;
        }
        for (Checkpoints.Ref ref : Checkpoints.list(dir)) {
            try {
                long sequence = Checkpoints.read(ref.file()).sequence();
                Path segment = Segments.create(dir, sequence + 1);
                done.add("started segment " + segment.getFileName() + ": the journal goes on from the state of "
                        + ref.file().getFileName());
                return;
            } catch (JournalCorruptedException e) {
                // only sound checkpoints are left after a repair; an unreadable one is no state to go on from
            }
        }
    }

    /**
     * What earlier repairs and cut torn tails set aside in the journal's {@code damaged-<time>} directories, which
     * the journal never reads and nothing deletes: they add up, one per repair and per cut.
     *
     * @param dir the journal's directory
     * @return one line naming them and their size, or null if there are none (or they cannot be listed)
     */
    static String setAsideNote(Path dir) {
        List<Path> aside;
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            aside = files.filter(f -> f.getFileName().toString().startsWith("damaged-") && Files.isDirectory(f)).sorted().toList();
        } catch (IOException e) {
            return null;
        }
        if (aside.isEmpty()) {
            return null;
        }
        long bytes = 0;
        for (Path d : aside) {
            try (java.util.stream.Stream<Path> files = Files.walk(d)) {
                bytes += files.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
            } catch (IOException | java.io.UncheckedIOException e) {
                // counted as far as it could be listed
            }
        }
        String names = aside.size() <= 3 ? aside.stream().map(d -> d.getFileName().toString()).collect(
                java.util.stream.Collectors.joining(", ")) : aside.get(0).getFileName() + " ... " + aside.get(aside.size() - 1).getFileName();
        return "set aside: " + aside.size() + (aside.size() == 1 ? " directory" : " directories") + " of what earlier repairs"
                + " or cut torn tails took out of the journal (" + names + "), " + (bytes < 1024 * 1024
                ? String.format(java.util.Locale.ROOT, "%.1f KiB", bytes / 1024.0)
                : String.format(java.util.Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024.0))) + "; the journal does not read them: keep them while they may serve an"
                + " investigation, then delete them";
    }

    /** The new {@code damaged-<time>} directory of a journal, where a repair (or an open's cut) sets bytes aside. */
    static Path asideDirectory(Path dir, Clock clock) {
        return dir.resolve("damaged-" + DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'")
                .withZone(ZoneOffset.UTC).format(clock.instant()));
    }

    /**
     * Copies the bytes of a file from an offset into a file of the aside directory, then truncates it there. If the
     * copy cannot be made (a full disk, say), nothing is cut, the partial copy is removed (and the aside directory, if
     * that leaves it empty: an empty one would later pass for bytes set aside), and the exception says so.
     */
    static void cutFile(Path file, long offset, Path aside, List<String> done)
            throws IOException {
        Path copy = aside.resolve(file.getFileName() + ".from-" + offset);
        boolean existed = Files.exists(copy, java.nio.file.LinkOption.NOFOLLOW_LINKS);
        try {
            copyAndCut(file, offset, copy, done);
        } catch (IOException e) {
            if (!existed && Files.exists(copy) && Files.size(file) > offset) { // ours, and not cut yet: not needed
                Files.deleteIfExists(copy);
                try (java.util.stream.Stream<Path> left = Files.list(aside)) {
                    if (left.findAny().isEmpty()) {
                        Files.deleteIfExists(aside);
                    }
                }
            }
            throw new IOException("cannot set aside the " + (Files.size(file) - offset) + " bytes after byte offset " + offset
                    + " of " + file + " before cutting them (" + e.getMessage() + "); nothing was cut: free space (or fix"
                    + " the cause), then try again", e);
        }
    }

    private static void copyAndCut(Path file, long offset, Path copy, List<String> done) throws IOException {
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
                FileChannel out = FileAccess.openOwnerOnly(copy, Set.of(StandardOpenOption.CREATE_NEW,
                        StandardOpenOption.WRITE))) {
            long size = in.size();
            long at = offset;
            ByteBuffer b = ByteBuffer.allocate(1 << 16);
            while (at < size) {
                b.clear();
                int n = in.read(b, at);
                if (n < 0) {
                    break;
                }
                b.flip();
                while (b.hasRemaining()) {
                    out.write(b);
                }
                at += n;
            }
            out.force(true);
            // The copy's name durable before the cut: after a power cut, the cut must not survive without the copy.
            Segments.forceDirectory(copy.getParent());
            in.truncate(offset);
            in.force(true);
            done.add("cut " + file.getFileName() + " at byte offset " + offset + "; the "
                    + (size - offset) + " bytes after it are in " + copy);
        }
    }
}
