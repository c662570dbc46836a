package dev.flags.server.journal;

import static dev.flags.server.journal.Fixtures.createEnvironment;
import static dev.flags.server.journal.Fixtures.createFlag;
import static dev.flags.server.journal.Fixtures.updateFlag;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The documented verify and repair commands. */
class JournalToolTest {

    @TempDir
    Path dir;

    String out;
    String err;

    private int run(String... args) {
        StringWriter o = new StringWriter();
        StringWriter e = new StringWriter();
        int code = JournalTool.run(new PrintWriter(o, true), new PrintWriter(e, true), args);
        out = o.toString();
        err = e.toString();
        return code;
    }

    private void write(int updates) {
        try (FileJournal journal = FileJournal.builder(dir).segmentSize(4096).open()) {
            journal.append(createEnvironment("prod"));
            journal.append(createFlag("prod", "billing-v2"));
            for (int i = 0; i < updates; i++) {
                journal.append(updateFlag("prod", "billing-v2", i % 2 == 0));
            }
        }
    }

    @Test
    void verifyReportsACleanJournal() throws Exception {
        FormatTest.copyGolden(dir);

        assertThat(run("verify", dir.toString())).as(out + err).isZero();
        assertThat(out).contains("segment 00000000000000000001.seg: ok, 33 entries, sequences 1..33")
                .contains("checkpoint checkpoint-00000000000000000057.ckpt: ok, sequence 57")
                .endsWith("ok: 2 segments, 57 entries, last sequence 57\n").doesNotContain("set aside");
    }

    @Test
    void verifyAfterACrashSaysSoAndLeavesTheMarkForTheServersNextStart() throws Exception {
        FormatTest.copyGolden(dir);
        String killed = "pid 4711, flags-server, since 2026-12-06T19:00:00Z";
        Files.writeString(dir.resolve("journal.lock"), killed + "\n"); // as a server killed leaves it

        assertThat(run("verify", dir.toString())).as(out + err).isZero();
        assertThat(out).startsWith("note: the journal's last holder (" + killed + ") did not close it: it was killed, crashed,"
                + " or its machine stopped");
        assertThat(Files.readString(dir.resolve("journal.lock"))).as("passed on, not wiped (QA53 F1)").isEqualTo(killed + "\n");
        try (DirectoryLock serversNextStart = DirectoryLock.acquire(dir, "flags-server")) {
            assertThat(serversNextStart.unclosedBy()).isEqualTo(killed);
        }
        assertThat(Files.readString(dir.resolve("journal.lock"))).as("a server's close empties it").isEmpty();
        assertThat(run("verify", dir.toString())).isZero();
        assertThat(out).doesNotContain("did not close it");
    }

    @Test
    void verifyNamesTheDamageAndRepairCutsThere() throws Exception {
        write(100);
        Path first = Fixtures.segments(dir).get(0);
        long record = CorruptionTest.recordOffsets(first).get(10);
        CorruptionTest.flip(first, record + 30);
        int segments = Fixtures.segments(dir).size();

        assertThat(run("verify", dir.toString())).isEqualTo(1);
        assertThat(out).contains("damaged: " + first + " at byte offset " + record
                + ": checksum mismatch");
        assertThat(out).as("what a cut would cost, said before it is made")
                .contains("a cut keeps sequences 1..10; the journal had reached at least sequence 102, so at least"
                        + " 92 entries leave it and the state goes back to sequence 10; restoring " + first.getFileName()
                        + " from a backup may keep them all")
                .contains("a cut also sets aside checkpoint-00000000000000000102.ckpt, which holds acknowledged state up"
                        + " to sequence 102: repair does that only with --discard-checkpoint-state");

        assertThat(run("repair", dir.toString())).isEqualTo(2);
        assertThat(err).contains("repair needs --cut-at-damage");
        assertThat(Fixtures.segments(dir)).hasSize(segments);
        List<String> before = listing();
        assertThat(run("repair", dir.toString(), "--cut-at-damage")).isEqualTo(1);
        assertThat(err).startsWith("error: not repaired, nothing changed: the cut would set aside"
                + " checkpoint-00000000000000000102.ckpt, which holds acknowledged state up to sequence 102")
                .contains("add --discard-checkpoint-state to cut anyway");
        assertThat(listing()).isEqualTo(before);

        assertThat(run("repair", dir.toString(), "--cut-at-damage", "--discard-checkpoint-state")).as(out + err).isZero();
        assertThat(out).contains("repair: cut 00000000000000000001.seg at byte offset " + record)
                .contains("repair: moved segment").contains("repair: moved checkpoint")
                .endsWith("ok: 1 segment, 10 entries, last sequence 10\n");
        Path aside;
        try (Stream<Path> s = Files.list(dir)) {
            aside = s.filter(p -> p.getFileName().toString().startsWith("damaged-")).findFirst()
                    .orElseThrow();
        }
        try (Stream<Path> s = Files.list(aside)) {
            List<String> kept = s.map(p -> p.getFileName().toString()).collect(Collectors.toList());
            assertThat(kept).contains("00000000000000000001.seg.from-" + record);
            assertThat(kept).hasSize(1 + (segments - 1) + 1); // the cut bytes, later segments, checkpoint
        }
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            assertThat(journal.lastSequence()).isEqualTo(10);
            assertThat(journal.recoveryReport().notes()).isEmpty();
        }
    }

    /**
     * A journal that retention has trimmed, as a server with a retention writes it: entries 1..62 at the
     * start, older than the retention, then 40 more a month later; a checkpoint after entry 62 and, if asked,
     * none until the end. Retention removes the segments before the one that holds entry 61.
     *
     * @param checkpointBeforeTheEnd whether a checkpoint is kept at sequence 62, inside the retained segments
     * @return the first sequence the journal still holds
     */
    private long writeTrimmedByRetention(boolean checkpointBeforeTheEnd) throws Exception {
        MutableClock clock = new MutableClock(Fixtures.T0);
        try (FileJournal journal = Fixtures.builder(dir, clock).segmentSize(4096).checkpointInterval(1_000_000)
                .checkpointsToKeep(3).retention(java.time.Duration.ofDays(30))
                .segmentMaxAge(java.time.Duration.ofDays(36_500)).open()) { // rolls by size only: checkpoints where placed
            journal.append(createEnvironment("prod"));
            journal.append(createFlag("prod", "billing-v2"));
            for (int i = 0; i < 60; i++) {
                journal.append(updateFlag("prod", "billing-v2", i % 2 == 0));
            }
            clock.advance(java.time.Duration.ofDays(31));
            if (checkpointBeforeTheEnd) {
                journal.checkpoint();
            }
            for (int i = 0; i < 40; i++) {
                journal.append(updateFlag("prod", "billing-v2", i % 2 == 0));
            }
            journal.checkpoint();
            journal.append(updateFlag("prod", "billing-v2", true));
            journal.checkpoint();
        }
        long first = Segments.firstSequenceOf(Fixtures.segments(dir).get(0));
        assertThat(first).as("retention removed the first segments").isGreaterThan(1);
        return first;
    }

    private Path segmentHolding(long sequence) throws Exception {
        Path holding = null;
        for (Path segment : Fixtures.segments(dir)) {
            if (Segments.firstSequenceOf(segment) <= sequence) {
                holding = segment;
            }
        }
        return holding;
    }

    private long offsetOf(long sequence) throws Exception {
        Path segment = segmentHolding(sequence);
        return CorruptionTest.recordOffsets(segment).get((int) (sequence - Segments.firstSequenceOf(segment)));
    }

    @Test
    void aCutThatWouldLeaveTheStateIncompleteIsNeitherRecommendedNorMade() throws Exception {
        long first = writeTrimmedByRetention(false);
        Path segment = Fixtures.segments(dir).get(0);
        long record = CorruptionTest.recordOffsets(segment).get(3);
        CorruptionTest.flip(segment, record + 30);
        List<String> before = listing();

        assertThat(run("verify", dir.toString())).isEqualTo(1);
        assertThat(out).contains("damaged: " + segment + " at byte offset " + record)
                .contains("problems found: 'repair DIR --cut-at-damage' cannot repair this journal: a cut would keep"
                        + " sequences " + first + ".." + (first + 2) + ", but entries 1.." + (first - 1)
                        + " are no longer in the journal and no sound checkpoint at or before sequence " + (first + 2)
                        + " holds their state (the sound checkpoints are at sequences 102 and 103, after the cut")
                .contains("restore " + segment.getFileName() + " from a backup")
                .as("the journal as it is starts soundly: its checkpoints cover the entries before it")
                .doesNotContain("no sound checkpoint covers").doesNotContain("sequences 1..").doesNotContain("a cut keeps");

        assertThat(run("repair", dir.toString(), "--cut-at-damage")).isEqualTo(1);
        assertThat(err).startsWith("error: cannot repair by cutting, nothing changed: a cut would keep sequences " + first)
                .contains("restore " + segment.getFileName() + " from a backup, or run 'repair DIR --from-checkpoint' to keep"
                        + " the state (it keeps the state at sequence 103");
        assertThat(listing()).as("nothing set aside").isEqualTo(before);

        assertThatThrownBy(() -> FileJournal.builder(dir).open())
                .isInstanceOf(JournalCorruptedException.class)
                .hasMessageContaining("nothing on disk was changed: restore " + segment.getFileName() + " from a backup")
                .hasMessageContaining("; a cut at the damage cannot repair this journal: a cut would keep sequences " + first)
                .hasMessageNotContaining("--cut-at-damage");
    }

    @Test
    void verifyOfAJournalThatStartsPastSequenceOneSaysWhichEntriesAreNotThere() throws Exception {
        // Retention's doing, or a backup that missed the first segment: the tool cannot tell which, so it says both.
        long first = writeTrimmedByRetention(true);
        assertThat(first).isGreaterThan(1);

        assertThat(run("verify", dir.toString())).as(out + err).isZero();
        assertThat(out).contains("ok: ").contains("note: the journal starts at sequence " + first + ": entries 1.."
                + (first - 1) + " (their history and audit log) are not here. That is expected if the server runs with"
                + " --journal-retention; if it does not, a segment is missing: restore it from a backup");
    }

    @Test
    void aCutOfAJournalTrimmedByRetentionKeepsFromItsFirstRetainedSequence() throws Exception {
        long first = writeTrimmedByRetention(true);
        long last = 69; // the checkpoint at 62 is before the cut: it holds the state of the entries before the journal's start
        CorruptionTest.flip(segmentHolding(last + 1), offsetOf(last + 1) + 30);

        assertThat(run("verify", dir.toString())).isEqualTo(1);
        assertThat(out).contains("a cut keeps sequences " + first + ".." + last + "; the journal had reached at least"
                + " sequence 103, so at least " + (103 - last) + " entries leave it and the state goes back to sequence " + last);

        assertThat(run("repair", dir.toString(), "--cut-at-damage", "--discard-checkpoint-state")).as(out + err).isZero();
        try (FileJournal journal = FileJournal.builder(dir).retention(java.time.Duration.ofDays(30)).open()) {
            assertThat(journal.lastSequence()).isEqualTo(last);
            assertThat(journal.recoveryReport().checkpointSequence()).isEqualTo(62);
        }
    }

    @Test
    void verifyReportsEverySegmentAndEveryDamageNotOnlyTheFirst() throws Exception {
        write(200);
        List<Path> segments = Fixtures.segments(dir);
        assertThat(segments).hasSizeGreaterThan(4);
        Path second = segments.get(1);
        Path fourth = segments.get(3);
        long inSecond = CorruptionTest.recordOffsets(second).get(2);
        long inFourth = CorruptionTest.recordOffsets(fourth).get(4);
        CorruptionTest.flip(second, inSecond + 30);
        CorruptionTest.flip(fourth, inFourth + 30);

        assertThat(run("verify", dir.toString())).isEqualTo(1);
        for (Path segment : segments) {
            assertThat(out).as("a line for every segment").contains("segment " + segment.getFileName() + ": ");
        }
        assertThat(out).contains("segment " + second.getFileName() + ": DAMAGED at byte offset " + inSecond)
                .contains("segment " + fourth.getFileName() + ": DAMAGED at byte offset " + inFourth)
                .contains("segment " + segments.get(2).getFileName() + ": ok, ")
                .contains("segment " + segments.get(4).getFileName() + ": ok, ")
                .contains("damaged: " + second + " at byte offset " + inSecond)
                .contains("damaged: " + fourth + " at byte offset " + inFourth)
                .as("a sound checkpoint after the damage is sound, not damaged")
                .contains("checkpoint checkpoint-00000000000000000202.ckpt: ok, sequence 202")
                .doesNotContain("damaged: " + dir.resolve(Checkpoints.fileName(202)))
                .doesNotContain("NEWER")
                .contains("restoring " + second.getFileName() + " and " + fourth.getFileName() + " from a backup");
        assertThat(out.indexOf("damaged: " + second)).as("journal order: the first is where a cut goes")
                .isLessThan(out.indexOf("damaged: " + fourth));
    }

    @Test
    void aMissingSegmentIsNamedWithTheSequencesItHeldAndACutGoesBeforeIt() throws Exception {
        write(100);
        List<Path> segments = Fixtures.segments(dir);
        Path missing = segments.get(1);
        long from = Segments.firstSequenceOf(missing);
        long to = Segments.firstSequenceOf(segments.get(2)) - 1;
        Files.delete(missing);

        assertThat(run("verify", dir.toString())).isEqualTo(1);
        assertThat(out).contains("missing: " + missing + ": no segment holds sequences " + from + ".." + to)
                .contains("restoring " + missing.getFileName() + " (sequences " + from + ".." + to + ") from a backup")
                .contains("segment " + segments.get(2).getFileName() + ": ok, ")
                .doesNotContain("damaged: ");

        assertThat(run("repair", dir.toString(), "--cut-at-damage", "--discard-checkpoint-state")).as(out + err).isZero();
        assertThat(out).contains("repair: moved segment " + segments.get(2).getFileName())
                .endsWith("ok: 1 segment, " + (from - 1) + " entries, last sequence " + (from - 1) + "\n");
    }

    @Test
    void anEmptySegmentFileIsSaidToHoldNoEntrySoThatACutLosesNone() throws Exception {
        write(20); // a clean close writes checkpoint 22
        Path empty = Files.createFile(dir.resolve(Segments.fileName(23))); // a copy cut short, say

        assertThat(run("verify", dir.toString())).as(out + err).isEqualTo(1);
        assertThat(out).contains("segment " + empty.getFileName() + ": DAMAGED: segment header is incomplete: the file has 0"
                        + " bytes, a header needs " + Segments.HEADER_SIZE + "; it holds no entry")
                .contains("a cut keeps sequences 1..22 and loses no entry: the damaged segment is too short to hold one\n")
                .doesNotContain("from a backup may keep them all");
        String refused = org.assertj.core.api.Assertions.catchThrowableOfType(() -> FileJournal.builder(dir).open(),
                JournalCorruptedException.class).getMessage();
        assertThat(refused).as("the server's own advice").contains("a cut keeps sequences 1..22 and loses no entry");

        assertThat(run("repair", dir.toString(), "--cut-at-damage")).as(out + err).isZero();
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            assertThat(journal.lastSequence()).as("not an entry lost").isEqualTo(22);
        }
    }

    @Test
    void aDamagedCheckpointBesideSoundSegmentsIsSaidToLoseNothing() throws Exception {
        write(20); // a clean close writes checkpoint 22; every segment is kept
        Path checkpoint = dir.resolve("checkpoint-00000000000000000022.ckpt");
        CorruptionTest.flip(checkpoint, java.nio.file.Files.size(checkpoint) / 2);

        assertThat(run("verify", dir.toString())).as(out + err).isEqualTo(1);
        assertThat(out).contains("problems found: only a checkpoint is damaged; the segments are sound, so nothing is lost:"
                + " the server skips a damaged checkpoint at open").doesNotContain("cuts the journal at the first damage");
        assertThat(run("repair", dir.toString(), "--cut-at-damage")).as(out + err).isZero();
        assertThat(out).contains("repair: moved checkpoint checkpoint-00000000000000000022.ckpt");
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            assertThat(journal.lastSequence()).as("not an entry lost").isEqualTo(22);
        }
    }

    @Test
    void repairSetsACheckpointNewerThanTheJournalAside() throws Exception {
        write(20);
        Path last = Fixtures.segments(dir).get(Fixtures.segments(dir).size() - 1);
        List<Long> offsets = CorruptionTest.recordOffsets(last);
        CorruptionTest.truncate(last, offsets.get(offsets.size() - 1));

        assertThat(run("verify", dir.toString())).isEqualTo(1);
        assertThat(out).contains("PAST the end of the sound journal (sequence 22 > 21): the segments lost or damaged entries it holds");
        assertThat(run("repair", dir.toString(), "--cut-at-damage", "--discard-checkpoint-state")).as(out + err).isZero();
        assertThat(out).contains("repair: moved checkpoint checkpoint-00000000000000000022.ckpt");
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            assertThat(journal.lastSequence()).isEqualTo(21);
        }
    }

    @Test
    void checkpointsThatHoldTheOnlyCopyOfTheStateAreNotSetAsideWithoutAnExplicitWord() throws Exception {
        write(100);
        for (Path segment : Fixtures.segments(dir)) {
            Files.delete(segment); // an operator's mistake: only the checkpoint holds the state now
        }
        List<String> before = listing();

        assertThat(run("verify", dir.toString())).isEqualTo(1);
        assertThat(out).contains("a cut keeps no entries: all of the journal's entries, at least 102, leave it, and the"
                        + " state goes back to empty; restoring the segment files that hold sequences 1..102 from a backup"
                        + " may keep them all")
                .contains("a cut also sets aside checkpoint-00000000000000000102.ckpt, which holds acknowledged state up"
                        + " to sequence 102: repair does that only with --discard-checkpoint-state")
                .contains("problems found: 'repair DIR --cut-at-damage --discard-checkpoint-state'");

        assertThat(run("repair", dir.toString(), "--cut-at-damage")).isEqualTo(1);
        assertThat(err).startsWith("error: not repaired, nothing changed: the cut would set aside"
                + " checkpoint-00000000000000000102.ckpt, which holds acknowledged state up to sequence 102 (a cut keeps"
                + " no entries: all of the journal's entries, at least 102, leave it, and the state goes back to empty);"
                + " restore the segment files that hold sequences 1..102 from a backup to keep it");
        assertThat(out).doesNotContain("ok:");
        assertThat(listing()).as("nothing set aside").isEqualTo(before);
        assertThatThrownBy(() -> FileJournal.builder(dir).open())
                .isInstanceOf(JournalCorruptedException.class)
                .hasMessageContaining("restore the segment files that hold sequences 1..102 from a backup, or run '")
                .hasMessageContaining(" repair " + dir + " --cut-at-damage --discard-checkpoint-state' to set the checkpoints"
                        + " newer than the journal aside (a cut keeps no entries: all of the journal's entries, at least"
                        + " 102, leave it, and the state goes back to empty");

        // Said in so many words, the operator may still start over.
        assertThat(run("repair", dir.toString(), "--cut-at-damage", "--discard-checkpoint-state")).as(out + err).isZero();
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            assertThat(journal.lastSequence()).isZero();
        }
    }

    @Test
    void aLastRecordThatACheckpointHoldsIsDamageNotATornTailAndItsCutIsCosted() throws Exception {
        write(20);
        Path last = Fixtures.segments(dir).get(Fixtures.segments(dir).size() - 1);
        List<Long> offsets = CorruptionTest.recordOffsets(last);
        long lastRecord = offsets.get(offsets.size() - 1);
        CorruptionTest.truncate(last, Files.size(last) - 10); // the record the checkpoint at 22 holds is cut short

        assertThat(run("verify", dir.toString())).isEqualTo(1);
        assertThat(out).contains("segment " + last.getFileName() + ": DAMAGED at byte offset " + lastRecord)
                .contains("sequence 22 was acknowledged (checkpoint-00000000000000000022.ckpt holds the state after"
                        + " sequence 22), so this is damage, not a write that a crash cut short")
                .contains("a cut keeps sequences 1..21; the journal had reached at least sequence 22, so at least 1 entry"
                        + " leaves it and the state goes back to sequence 21")
                .doesNotContain("torn tail").doesNotContain("never acknowledged");
    }

    private ServerState stateNow() {
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            return journal.state();
        }
    }

    private Path asideDirectory() throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith("damaged-")).findFirst().orElseThrow();
        }
    }

    @Test
    void fromCheckpointKeepsTheStateWhenRetentionLeftNoCheckpointACutCouldUse() throws Exception {
        long first = writeTrimmedByRetention(false);
        ServerState before = stateNow();
        List<Path> segments = Fixtures.segments(dir);
        Path last = segments.get(segments.size() - 1);
        long record = CorruptionTest.recordOffsets(last).get(2); // before the checkpoints at 102 and 103, as in the QA case
        CorruptionTest.flip(last, record + 30);

        assertThat(run("verify", dir.toString())).isEqualTo(1);
        assertThat(out).contains("'repair DIR --cut-at-damage' cannot repair this journal")
                .contains("'repair DIR --from-checkpoint' keeps the state instead: it keeps the state at sequence 103"
                        + " (checkpoint-00000000000000000103.ckpt); the history of sequences " + first + "..103 leaves the"
                        + " journal (history, audit and time travel start at sequence 104; its segments are set aside, not"
                        + " deleted); the journal goes on at sequence 104");
        assertThatThrownBy(() -> FileJournal.builder(dir).open())
                .hasMessageContaining("restore " + last.getFileName() + " from a backup, or run '")
                .hasMessageContaining(" repair " + dir + " --from-checkpoint' to keep the state from the newest checkpoint");

        assertThat(run("repair", dir.toString(), "--from-checkpoint")).as(out + err).isZero();
        assertThat(out).contains("repair: started segment 00000000000000000104.seg: the journal goes on from the state of"
                        + " checkpoint-00000000000000000103.ckpt")
                .endsWith("ok: 1 segment, 0 entries, last sequence 103\n");
        Path aside = asideDirectory();
        for (Path segment : segments) {
            assertThat(aside.resolve(segment.getFileName())).as("set aside, not deleted").exists();
        }
        try (FileJournal journal = FileJournal.builder(dir).retention(java.time.Duration.ofDays(30)).open()) {
            assertThat(journal.state()).as("every acknowledged change is still there").isEqualTo(before);
            assertThat(journal.append(updateFlag("prod", "billing-v2", false)).sequence()).isEqualTo(104);
        }
    }

    @Test
    void fromCheckpointKeepsTheStateWhenOnlyTheCheckpointIsLeft() throws Exception {
        write(100);
        ServerState before = stateNow();
        for (Path segment : Fixtures.segments(dir)) {
            Files.delete(segment);
        }

        assertThat(run("verify", dir.toString())).isEqualTo(1);
        assertThat(out).contains("'repair DIR --from-checkpoint' keeps the state instead: it keeps the state at sequence 102"
                + " (checkpoint-00000000000000000102.ckpt); history, audit and time travel start at sequence 103 (no segment"
                + " holds the entries before it); the journal goes on at sequence 103");

        assertThat(run("repair", dir.toString(), "--from-checkpoint")).as(out + err).isZero();
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            assertThat(journal.state()).isEqualTo(before);
            assertThat(journal.lastSequence()).isEqualTo(102);
        }
    }

    @Test
    void fromCheckpointSetsAsideOnlyTheHistoryBeforeTheSegmentsThatCanFollowIt() throws Exception {
        write(100);
        ServerState before = stateNow();
        List<Path> segments = Fixtures.segments(dir);
        Path firstSegment = segments.get(0);
        CorruptionTest.flip(firstSegment, CorruptionTest.recordOffsets(firstSegment).get(10) + 30);
        long kept = Segments.firstSequenceOf(segments.get(1));

        assertThat(run("repair", dir.toString(), "--cut-at-damage", "--from-checkpoint")).isEqualTo(2);
        assertThat(err).contains("repair needs only one of --cut-at-damage").contains("or --from-checkpoint");

        assertThat(run("repair", dir.toString(), "--from-checkpoint")).as(out + err).isZero();
        assertThat(out).contains("keeping the checkpoint's state: it keeps the state at sequence 102"
                        + " (checkpoint-00000000000000000102.ckpt); the history of sequences 1.." + (kept - 1) + " leaves the"
                        + " journal")
                .contains("repair: moved segment " + firstSegment.getFileName())
                .doesNotContain("repair: moved segment " + segments.get(1).getFileName())
                .endsWith("ok: " + (segments.size() - 1) + " segments, " + (102 - kept + 1) + " entries, last sequence 102\n");
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            assertThat(journal.state()).isEqualTo(before);
            assertThat(journal.read(kept, 1000)).hasSize((int) (102 - kept + 1)); // the history it could keep, kept
        }
    }

    /** 142 entries, checkpoints at 102 only, 4 KiB segments: none after the one holding 100 starts at or before 103. */
    private ServerState writePastTheCheckpoint() throws Exception {
        write(100); // a checkpoint at 102
        try (FileJournal journal = FileJournal.builder(dir).segmentSize(4096).open()) {
            for (int i = 0; i < 40; i++) {
                journal.append(updateFlag("prod", "billing-v2", i % 2 == 0));
            }
        }
        ServerState state = stateNow();
        Files.deleteIfExists(dir.resolve(Checkpoints.fileName(142))); // the final checkpoint: 102 is again the newest
        Path holding = segmentHolding(100);
        assertThat(Segments.firstSequenceOf(Fixtures.segments(dir).get(Fixtures.segments(dir).indexOf(holding) + 1)))
                .as("no segment after the damage starts at or before 103").isGreaterThan(103);
        return state;
    }

    @Test
    void fromCheckpointCopiesTheSoundEntriesAfterItOutOfASegmentDamagedBeforeIt() throws Exception {
        ServerState before = writePastTheCheckpoint();
        Path holding = segmentHolding(100);
        CorruptionTest.flip(holding, offsetOf(100) + 30);

        assertThat(run("verify", dir.toString())).isEqualTo(1);
        assertThat(out).contains("'repair DIR --from-checkpoint' keeps the state instead: it keeps the state at sequence 102"
                + " (checkpoint-00000000000000000102.ckpt) and the entries after it, up to sequence 142 (copied out of the"
                + " segments it sets aside into a new one, sound as they are)").contains("the journal goes on at sequence 143");

        assertThat(run("repair", dir.toString(), "--from-checkpoint")).as(out + err).isZero();
        assertThat(out).contains("repair: copied the sound entries 103..142 into segment " + Segments.fileName(103))
                .endsWith("ok: 1 segment, 40 entries, last sequence 142\n");
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            assertThat(journal.state()).as("every acknowledged change kept").isEqualTo(before);
            assertThat(journal.read(103, 1000)).hasSize(40);
            assertThat(journal.append(updateFlag("prod", "billing-v2", true)).sequence()).isEqualTo(143);
        }
        try (Stream<Path> aside = Files.list(asideDirectory())) {
            assertThat(aside.map(f -> f.getFileName().toString())).as("the old segments set aside, not deleted")
                    .contains(holding.getFileName().toString());
        }
    }

    @Test
    void inAJournalOfOneSegmentOldDamageCostsTheHistoryBeforeTheCheckpointOnly() throws Exception {
        try (FileJournal journal = FileJournal.builder(dir).open()) { // 64 MiB segments: one holds it all
            journal.append(createEnvironment("prod"));
            journal.append(createFlag("prod", "billing-v2"));
            for (int i = 0; i < 100; i++) {
                journal.append(updateFlag("prod", "billing-v2", i % 2 == 0));
            }
        }
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            journal.append(updateFlag("prod", "billing-v2", false));
        }
        ServerState before = stateNow();
        Files.deleteIfExists(dir.resolve(Checkpoints.fileName(103))); // the newest checkpoint is 102, one entry behind
        Path only = Fixtures.segments(dir).get(0);
        assertThat(Fixtures.segments(dir)).hasSize(1);
        CorruptionTest.flip(only, CorruptionTest.recordOffsets(only).get(10) + 30);

        assertThat(run("verify", dir.toString())).isEqualTo(1);
        assertThat(out).contains("it keeps the state at sequence 102 (checkpoint-00000000000000000102.ckpt) and the entries"
                + " after it, up to sequence 103 (copied out of the segments it sets aside into a new one");
        assertThat(run("repair", dir.toString(), "--from-checkpoint")).as(out + err).isZero();
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            assertThat(journal.state()).as("nothing acknowledged lost").isEqualTo(before);
            assertThat(journal.lastSequence()).isEqualTo(103);
            assertThat(journal.oldestRetainedSequence()).as("what history's marker of a cut journal reads").isEqualTo(103);
        }
        assertThat(run("verify", dir.toString())).isZero();
        assertThat(out).as("what the repair set aside, which nothing deletes").containsPattern("\nset aside: 1 directory of what"
                + " earlier repairs or cut torn tails took out of the journal \\(damaged-\\d{8}T\\d{6}Z\\), [1-9]\\d*\\.\\d KiB; the journal"
                + " does not read them: keep them while they may serve an investigation, then delete them\n");
    }

    @Test
    void fromCheckpointRefusesToSetAsideSoundEntriesTheCheckpointDoesNotHold() throws Exception {
        writePastTheCheckpoint();
        long at100 = offsetOf(100);
        long at120 = offsetOf(120);
        CorruptionTest.flip(segmentHolding(100), at100 + 30);
        CorruptionTest.flip(segmentHolding(120), at120 + 30); // and one after the checkpoint: no copy holds it
        List<String> before = listing();

        assertThat(run("verify", dir.toString())).isEqualTo(1);
        assertThat(out).contains("'repair DIR --from-checkpoint' cannot keep the state either: sound entries up to sequence"
                + " 142 are in segments that cannot follow the checkpoint at sequence 102, and damage or a gap lies among the"
                + " entries after the checkpoint");
        assertThat(run("repair", dir.toString(), "--from-checkpoint")).isEqualTo(1);
        assertThat(err).startsWith("error: cannot repair from a checkpoint, nothing changed: sound entries up to sequence 142");
        assertThat(listing()).isEqualTo(before);
    }

    @Test
    void aNewerReleasesJournalIsNotCalledDamagedAndRepairLeavesItAlone() throws Exception {
        FormatTest.copyGolden(dir);
        Path second = Fixtures.segments(dir).get(1);
        FormatTest.setVersion(second, 2, Segments.HEADER_SIZE - 4);
        Path checkpoint = dir.resolve(Checkpoints.fileName(57));
        FormatTest.setVersion(checkpoint, Checkpoints.FORMAT_VERSION + 1, -1);
        List<String> before = listing();

        assertThat(run("verify", dir.toString())).isEqualTo(1);
        assertThat(out).contains("segment " + second.getFileName() + ": of a NEWER format: unsupported journal format version 2")
                .contains("newer format: " + second + " at byte offset 8")
                .contains("checkpoint checkpoint-00000000000000000057.ckpt: of a NEWER format")
                .endsWith("written by a newer release: " + JournalTool.NEWER_RELEASE + "\n")
                .doesNotContain("damaged:").doesNotContain("--cut-at-damage").doesNotContain("a cut keeps");

        assertThat(run("repair", dir.toString(), "--cut-at-damage")).isEqualTo(1);
        assertThat(err).isEqualTo("error: not repaired, nothing changed: " + second.getFileName()
                + " is of a format a newer release writes; " + JournalTool.NEWER_RELEASE + "\n");
        assertThat(listing()).as("nothing set aside").isEqualTo(before);
    }

    /** Gives the record at an offset another type code and a checksum that holds: a newer release's entry. */
    private static void retype(Path segment, long offset, int code) throws Exception {
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(segment,
                java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE)) {
            java.nio.ByteBuffer length = java.nio.ByteBuffer.allocate(4);
            ch.read(length, offset);
            int bodyLength = length.getInt(0);
            java.nio.ByteBuffer frame = java.nio.ByteBuffer.allocate(RecordCodec.FRAME_HEADER + bodyLength);
            ch.read(frame, offset);
            byte[] a = frame.array();
            a[RecordCodec.FRAME_HEADER + 28] = (byte) code;
            java.nio.ByteBuffer.wrap(a).putInt(4, RecordCodec.crc(a, 0, bodyLength));
            ch.write(java.nio.ByteBuffer.wrap(a), offset);
        }
    }

    @Test
    void anEntryOfATypeThisReleaseDoesNotKnowIsANewerReleasesNeverCutNeitherAsDamageNorAsATornTail() throws Exception {
        write(20);
        Path last = Fixtures.segments(dir).get(Fixtures.segments(dir).size() - 1);
        List<Long> offsets = CorruptionTest.recordOffsets(last);
        retype(last, offsets.get(offsets.size() - 1), 99); // the very last record: where a torn write would be
        Fixtures.deleteCheckpoints(dir);
        List<String> before = listing();
        long size = Files.size(last);

        assertThat(run("verify", dir.toString())).isEqualTo(1);
        assertThat(out).contains(": an entry of a NEWER format at byte offset " + offsets.get(offsets.size() - 1))
                .contains("unknown entry type code 99").endsWith("written by a newer release: " + JournalTool.NEWER_RELEASE + "\n")
                .doesNotContain("torn tail").doesNotContain("--cut-at-damage");
        assertThat(run("repair", dir.toString(), "--cut-at-damage")).isEqualTo(1);
        assertThat(err).startsWith("error: not repaired, nothing changed");
        assertThatThrownBy(() -> FileJournal.builder(dir).open()).as("an older server must not cut it as a torn tail")
                .isInstanceOfSatisfying(JournalCorruptedException.class, e -> assertThat(e.newerFormat()).isTrue())
                .hasMessageContaining("journal of a newer format in").hasMessageContaining("do not repair");
        assertThat(listing()).isEqualTo(before);
        assertThat(Files.size(last)).isEqualTo(size);
    }

    @Test
    void aSegmentOfANewerFormatLeavesTheCheckpointsUnjudgedAndVersionZeroIsDamage() throws Exception {
        FormatTest.copyGolden(dir);
        Path first = Fixtures.segments(dir).get(0);
        FormatTest.setVersion(first, 2, Segments.HEADER_SIZE - 4);
        assertThat(run("verify", dir.toString())).isEqualTo(1);
        assertThat(out).contains("beyond what this release can read of the journal: not checked").doesNotContain("damaged:");

        FormatTest.setVersion(first, 0, Segments.HEADER_SIZE - 4);
        assertThat(run("verify", dir.toString())).isEqualTo(1);
        assertThat(out).contains("DAMAGED: journal format version 0 does not exist").doesNotContain("NEWER format");
    }

    private List<String> listing() throws Exception {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(f -> f.getFileName().toString()).filter(n -> !n.equals("journal.lock")).sorted().toList();
        }
    }

    @Test
    void verifyMentionsATornTailButCallsItClean() throws Exception {
        write(5);
        Fixtures.deleteCheckpoints(dir);
        Path last = Fixtures.segments(dir).get(0);
        CorruptionTest.append(last, new byte[100]);

        assertThat(run("verify", dir.toString())).isZero();
        assertThat(out).contains("torn tail at byte offset").contains("cut at the next open")
                .contains("(a torn tail will be cut at the next open)");
    }

    @Test
    void theVersionIsTheServers() {
        assertThat(run("-V")).isZero();
        assertThat(out).isEqualTo(JournalTool.VERSION + "\n");
        String server = new picocli.CommandLine(new dev.flags.server.Main()).getCommandSpec().version()[0];
        assertThat(JournalTool.VERSION).as("the same release as flags-server -V").isEqualTo("journal-tool (" + server + ")");
        assertThat(run("verify", "-V")).isZero();
        assertThat(out).isEqualTo(JournalTool.VERSION + "\n");
    }

    @Test
    void aFileGivenForTheDirectoryIsSaidToBeAFile() throws Exception {
        write(5);
        Path segment = Fixtures.segments(dir).get(0);
        assertThat(run("verify", segment.toString())).isEqualTo(2);
        assertThat(err).isEqualTo("error: " + segment + " is a file, not a directory: give the journal's directory, the"
                + " server's <data-dir>/journal (this file's is " + dir.toAbsolutePath() + ")\n");
        assertThat(run("repair", segment.toString(), "--cut-at-damage")).isEqualTo(2);
        assertThat(err).contains("is a file, not a directory");
    }

    @Test
    void aFileTheToolMayNotReadIsSaidToBeSo() {
        assertThat(JournalTool.describe(new java.nio.file.AccessDeniedException("/data/journal/journal.lock")))
                .isEqualTo("/data/journal/journal.lock: permission denied: run the tool as the service user, the one the"
                        + " server runs as, which owns the journal");
        assertThat(JournalTool.describe(new java.nio.file.AccessDeniedException("/x", null, "already explained")))
                .isEqualTo("/x: already explained");
    }

    @Test
    void runAsAnotherUserThanTheJournalsOwnerTheToolWarnsThatItsFilesWillStopTheServer() throws Exception {
        assertThat(JournalTool.ownerWarning(Path.of("/var/lib/flags/journal"), "flags", "root"))
                .isEqualTo("warning: /var/lib/flags/journal belongs to flags, but this tool runs as root: the files it"
                        + " creates (journal.lock, and what a repair writes) will belong to root, and a server running as"
                        + " flags will not start until they are given back ('chown -R flags /var/lib/flags/journal'); run"
                        + " the tool as flags, the service user");
        assertThat(JournalTool.ownerWarning(dir, "flags", "flags")).isNull();
        write(3);
        assertThat(run("verify", dir.toString())).isZero();
        assertThat(err).as("run as the owner, as tests are: no warning").isEmpty();
    }

    @Test
    void theCommandsInMessagesNameTheJarTheyRunFrom() throws Exception {
        assertThat(ToolCommand.MAIN_CLASS).isEqualTo(JournalTool.class.getName());
        // Run from classes (as in this test), the build's path is the advice.
        assertThat(ToolCommand.journalTool("verify", Path.of("data/journal")))
                .isEqualTo("java -cp flags-server/target/flags-server.jar dev.flags.server.journal.JournalTool verify data/journal");
        // Run from a jar, wherever it was deployed, that jar's path, quoted for a shell when it needs it.
        Path jar = Files.createDirectories(dir.resolve("opt flags")).resolve("flags-server.jar");
        try (java.util.jar.JarOutputStream out = new java.util.jar.JarOutputStream(Files.newOutputStream(jar));
                java.io.InputStream in = ToolCommand.class.getResourceAsStream("ToolCommand.class")) {
            out.putNextEntry(new java.util.jar.JarEntry("dev/flags/server/journal/ToolCommand.class"));
            in.transferTo(out);
        }
        try (java.net.URLClassLoader loader = new java.net.URLClassLoader(new java.net.URL[] {jar.toUri().toURL()},
                ClassLoader.getPlatformClassLoader())) {
            Class<?> deployed = loader.loadClass(ToolCommand.class.getName());
            java.lang.reflect.Method command = deployed.getDeclaredMethod("journalTool", String.class, Path.class, String[].class);
            command.setAccessible(true);
            assertThat(command.invoke(null, "repair", Path.of("/var/lib/flags/journal"), new String[] {"--cut-at-damage"}))
                    .isEqualTo("java -cp '" + jar.toAbsolutePath() + "' dev.flags.server.journal.JournalTool repair"
                            + " /var/lib/flags/journal --cut-at-damage");
        }
    }

    @Test
    void refusesADirectoryInUseAndBadUsage() throws Exception {
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            assertThat(journal.lastSequence()).isZero();
            assertThat(run("verify", dir.toString())).isEqualTo(3);
            assertThat(err).contains("is already open in this process");
        }
        Path dataDir = dir.resolve("a-data-directory");
        Files.createDirectories(dataDir.resolve("journal"));
        assertThat(run("verify", dataDir.toString())).as("the data directory, not its journal/").isEqualTo(2);
        assertThat(err).contains("holds no journal; a server's journal is in its data directory's journal/: "
                + dataDir.resolve("journal"));
        assertThat(run("repair", dataDir.toString(), "--cut-at-damage")).isEqualTo(2);
        assertThat(dataDir.resolve("journal.lock")).as("no lock file left in the wrong directory").doesNotExist();
        assertThat(run("verify", dir.resolve("missing").toString())).isEqualTo(3);
        assertThat(err).contains("no such directory");
        assertThat(run()).isEqualTo(2);
        assertThat(run("verify")).isEqualTo(2);
        assertThat(err).contains("Missing required parameter: 'DIR'");
    }
}
