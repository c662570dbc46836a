package dev.flags.server.journal;

import static dev.flags.server.journal.Fixtures.createEnvironment;
import static dev.flags.server.journal.Fixtures.createFlag;
import static dev.flags.server.journal.Fixtures.updateFlag;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damage gives the documented behaviour: a torn tail is cut with a note, anything else stops the
 * open with the file and byte offset and leaves the files as they were.
 */
class CorruptionTest {

    @TempDir
    Path dir;

    final MutableClock clock = new MutableClock(Fixtures.T0);

    /** Writes 2 + n entries in small segments and closes (which writes a final checkpoint). */
    private ServerState write(int n) {
        try (FileJournal journal = Fixtures.builder(dir, clock).segmentSize(4096)
                .checkpointInterval(1_000_000).open()) {
            journal.append(createEnvironment("prod"));
            journal.append(createFlag("prod", "billing-v2"));
            for (int i = 0; i < n; i++) {
                journal.append(updateFlag("prod", "billing-v2", i % 2 == 0).withComment("change " + i));
            }
            return journal.state();
        }
    }

    private FileJournal open() {
        return Fixtures.builder(dir, clock).open();
    }

    private Path lastSegment() throws IOException {
        List<Path> segments = Fixtures.segments(dir);
        return segments.get(segments.size() - 1);
    }

    @Test
    void filesAreNamedInAsciiDigitsWhateverTheDefaultLocale() throws Exception {
        java.util.Locale before = java.util.Locale.getDefault();
        java.util.Locale.setDefault(java.util.Locale.forLanguageTag("ar-EG")); // whose digits String.format would write
        ServerState written;
        try {
            written = write(100);
        } finally {
            java.util.Locale.setDefault(before);
        }
        List<String> names = new java.util.ArrayList<>();
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            files.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(".seg") || n.endsWith(".ckpt")).forEach(names::add);
        }
        assertThat(names).hasSizeGreaterThan(2).allSatisfy(n -> assertThat(n).matches("(checkpoint-)?[0-9]{20}\\.(seg|ckpt)"));
        try (FileJournal journal = open()) {
            assertThat(journal.state()).isEqualTo(written);
        }
    }

    @Test
    void flippedByteInAnOlderSegmentStopsTheOpenWithFileAndOffset() throws Exception {
        write(100);
        Fixtures.deleteCheckpoints(dir);
        Path first = Fixtures.segments(dir).get(0);
        long record = recordOffsets(first).get(5);
        flip(first, record + 40);
        long size = Files.size(first);

        assertThatThrownBy(this::open)
                .isInstanceOfSatisfying(JournalCorruptedException.class, e -> {
                    assertThat(e.file()).isEqualTo(first);
                    assertThat(e.offset()).isEqualTo(record);
                })
                .hasMessageStartingWith("journal damaged in " + first + " at byte offset " + record
                        + ": checksum mismatch");
        assertThat(Files.size(first)).isEqualTo(size);
        // The refused open released the lock: trying again gives the same answer, not "locked".
        assertThatThrownBy(this::open).isInstanceOf(JournalCorruptedException.class);
    }

    @Test
    void flippedByteInTheMiddleOfTheLastSegmentIsDamageNotATornTail() throws Exception {
        write(100);
        Fixtures.deleteCheckpoints(dir);
        Path last = lastSegment();
        List<Long> offsets = recordOffsets(last);
        assertThat(offsets).hasSizeGreaterThan(3);
        long record = offsets.get(1);
        flip(last, record + 50);
        long size = Files.size(last);

        assertThatThrownBy(this::open)
                .isInstanceOfSatisfying(JournalCorruptedException.class, e -> {
                    assertThat(e.file()).isEqualTo(last);
                    assertThat(e.offset()).isEqualTo(record);
                });
        assertThat(Files.size(last)).isEqualTo(size);
    }

    @Test
    void flippedLengthFieldIsDamageToo() throws Exception {
        write(100);
        Fixtures.deleteCheckpoints(dir);
        Path last = lastSegment();
        long record = recordOffsets(last).get(1);
        flip(last, record + 1); // the length now points far past the end of the file

        assertThatThrownBy(this::open)
                .isInstanceOfSatisfying(JournalCorruptedException.class,
                        e -> assertThat(e.offset()).isEqualTo(record))
                .hasMessageContaining("runs past the end of the file (" + (java.nio.file.Files.size(last) - record)
                        + " bytes left, with its 8-byte header)"); // counted as a cut from there counts them
    }

    @Test
    void flippedByteInASegmentOlderThanTheCheckpointStopsTheOpen() throws Exception {
        write(100);
        List<Path> segments = Fixtures.segments(dir);
        assertThat(segments).hasSizeGreaterThan(2);
        assertThat(Fixtures.checkpoints(dir)).isNotEmpty(); // the open would not replay this segment
        Path first = segments.get(0);
        long record = recordOffsets(first).get(3);
        flip(first, record + 40);
        long size = Files.size(first);

        assertThatThrownBy(this::open)
                .isInstanceOfSatisfying(JournalCorruptedException.class, e -> {
                    assertThat(e.file()).isEqualTo(first);
                    assertThat(e.offset()).isEqualTo(record);
                })
                .hasMessageStartingWith("journal damaged in " + first + " at byte offset " + record
                        + ": checksum mismatch")
                .hasMessageContaining("the journal was not opened and nothing on disk was changed")
                .hasMessageContaining("java -cp flags-server/target/flags-server.jar"
                        + " dev.flags.server.journal.JournalTool verify " + dir)
                .hasMessageContaining("JournalTool repair " + dir + " --cut-at-damage");
        assertThat(Files.size(first)).isEqualTo(size);
        assertThat(Fixtures.segments(dir)).isEqualTo(segments);
    }

    @Test
    void afterARepairAtTheDamageTheJournalOpensAndWhatWasCutIsKeptAside() throws Exception {
        write(100);
        List<Path> segments = Fixtures.segments(dir);
        Path first = segments.get(0);
        List<Long> offsets = recordOffsets(first);
        long record = offsets.get(3);
        byte[] cutBytes = Arrays.copyOfRange(Files.readAllBytes(first), (int) record,
                (int) Files.size(first));
        flip(first, record + 40);
        assertThatThrownBy(this::open).isInstanceOf(JournalCorruptedException.class);

        StringWriter out = new StringWriter();
        int code = JournalTool.run(new PrintWriter(out, true), new PrintWriter(out, true), "repair",
                dir.toString(), "--cut-at-damage", "--discard-checkpoint-state");
        assertThat(code).as(out.toString()).isZero();

        try (FileJournal journal = open()) {
            assertThat(journal.lastSequence()).isEqualTo(3); // sequences 1..3 precede the damage
            assertThat(journal.recoveryReport().notes()).isEmpty();
            assertThat(journal.read(1, 1000)).extracting(JournalEntry::sequence).containsExactly(1L, 2L,
                    3L);
            assertThat(journal.append(updateFlag("prod", "billing-v2", true)).sequence()).isEqualTo(4);
        }
        Path aside = damagedDirectory();
        byte[] kept = Files.readAllBytes(aside.resolve(first.getFileName() + ".from-" + record));
        assertThat(kept).hasSize(cutBytes.length);
        kept[40] ^= 0x5A; // undo the flip: what was cut is exactly what was there
        assertThat(kept).isEqualTo(cutBytes);
        for (Path later : segments.subList(1, segments.size())) {
            assertThat(aside.resolve(later.getFileName())).exists();
        }
        assertThat(aside.resolve(Checkpoints.fileName(102))).exists();
    }

    @Test
    void theFirstDamageInJournalOrderIsReported() throws Exception {
        write(200);
        List<Path> segments = Fixtures.segments(dir);
        assertThat(segments).hasSizeGreaterThan(4);
        Path second = segments.get(1);
        Path fourth = segments.get(3);
        long inSecond = recordOffsets(second).get(2);
        flip(fourth, recordOffsets(fourth).get(1) + 40);
        flip(second, inSecond + 40);

        for (int i = 0; i < 5; i++) { // the segments are checked in parallel; the answer must not vary
            assertThatThrownBy(this::open)
                    .isInstanceOfSatisfying(JournalCorruptedException.class, e -> {
                        assertThat(e.file()).isEqualTo(second);
                        assertThat(e.offset()).isEqualTo(inSecond);
                    });
        }
    }

    @Test
    void olderDamageIsReportedBeforeATornTailIsCut() throws Exception {
        write(100);
        Path first = Fixtures.segments(dir).get(0);
        long record = recordOffsets(first).get(3);
        flip(first, record + 40);
        Path last = lastSegment();
        long end = Files.size(last);
        append(last, new byte[100]); // a torn tail too: it must not be cut while the open fails

        assertThatThrownBy(this::open)
                .isInstanceOfSatisfying(JournalCorruptedException.class,
                        e -> assertThat(e.file()).isEqualTo(first));
        assertThat(Files.size(last)).isEqualTo(end + 100);
    }

    @Test
    void missingSegmentBeforeTheCheckpointIsAGap() throws Exception {
        write(100);
        List<Path> segments = Fixtures.segments(dir);
        assertThat(segments).hasSizeGreaterThan(3);
        Files.delete(segments.get(1));
        long from = Segments.firstSequenceOf(segments.get(1));
        long to = Segments.firstSequenceOf(segments.get(2)) - 1;

        assertThatThrownBy(this::open)
                .isInstanceOfSatisfying(JournalCorruptedException.class, e -> {
                    assertThat(e.file()).as("the missing file, not the sound one after it").isEqualTo(segments.get(1));
                    assertThat(e.offset()).isEqualTo(-1);
                })
                .hasMessageStartingWith("journal damaged: " + segments.get(1) + ": no segment holds sequences " + from + ".."
                        + to + " (" + segments.get(0).getFileName() + " ends at sequence " + (from - 1) + ", "
                        + segments.get(2).getFileName() + " starts at sequence " + (to + 1) + "): the segment file "
                        + segments.get(1).getFileName() + " is missing")
                .hasMessageContaining("restore " + segments.get(1).getFileName() + " (sequences " + from + ".." + to
                        + ") from a backup")
                .hasMessageNotContaining("restore " + segments.get(2).getFileName());
    }

    @Test
    void everyRetainedEntryIsCheckedAtOpen() throws Exception {
        write(100);
        try (FileJournal journal = open()) {
            RecoveryReport report = journal.recoveryReport();
            assertThat(report.checkpointSequence()).isEqualTo(102);
            assertThat(report.replayedEntries()).isZero();
            assertThat(report.verifiedEntries()).isEqualTo(102);
            assertThat(report.notes()).isEmpty();
        }
    }

    @Test
    void damageAppearingWhileOpenIsFoundByReadsThatTouchIt() throws Exception {
        write(100);
        Path first = Fixtures.segments(dir).get(0);
        long record = recordOffsets(first).get(3);

        try (FileJournal journal = open()) {
            assertThat(journal.lastSequence()).isEqualTo(102);
            flip(first, record + 40); // bit rot after the open's check
            assertThatThrownBy(() -> journal.history("prod", "billing-v2"))
                    .isInstanceOfSatisfying(JournalCorruptedException.class, e -> {
                        assertThat(e.file()).isEqualTo(first);
                        assertThat(e.offset()).isEqualTo(record);
                    });
        }
    }

    @Test
    void tornLastRecordIsCutWithANoteAndNothingAcknowledgedIsLost() throws Exception {
        ServerState before = write(50);
        // A crash in the middle of writing entry 53: half of its frame reached the file.
        JournalEntry next = new JournalEntry(53, EntryType.FLAG_UPDATED, "prod", 52, Fixtures.T0,
                "alice", "", "billing-v2", CanonicalJson.of(Fixtures.flag("billing-v2", true)));
        byte[] frame = RecordCodec.encode(next);
        Path last = lastSegment();
        long end = Files.size(last);
        append(last, Arrays.copyOf(frame, frame.length / 2));

        try (FileJournal journal = open()) {
            RecoveryReport report = journal.recoveryReport();
            assertThat(report.discardedBytes()).isEqualTo(frame.length / 2);
            assertThat(report.notes()).singleElement().asString()
                    .contains("found a torn tail in " + last + " at byte offset " + end)
                    .contains("the last complete entry is sequence 52").contains("they are kept in");
            assertThat(journal.state()).isEqualTo(before);
            assertThat(Files.size(last)).isEqualTo(end);
            // Kept, not deleted: a last record damaged on disk looks like a torn write, and must not vanish.
            try (java.util.stream.Stream<Path> files = Files.list(last.getParent())) {
                Path aside = files.filter(f -> f.getFileName().toString().startsWith("damaged-")).findFirst().orElseThrow();
                assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(aside)))
                        .as("journal bytes: its owner's only").isEqualTo("rwx------");
                Path cut = aside.resolve(last.getFileName() + ".from-" + end);
                assertThat(Files.readAllBytes(cut)).isEqualTo(Arrays.copyOf(frame, frame.length / 2));
                assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(cut)))
                        .as("whatever the umask").isEqualTo("rw-------");
            }
            assertThat(journal.append(updateFlag("prod", "billing-v2", true)).sequence())
                    .isEqualTo(53);
        }
        try (FileJournal journal = open()) {
            assertThat(journal.recoveryReport().notes()).isEmpty();
            assertThat(journal.read(1, 1000)).hasSize(53);
        }
    }

    @Test
    void truncatedTailIsCut() throws Exception {
        write(50);
        Fixtures.deleteCheckpoints(dir); // no checkpoint may cover what the crash cut off
        Path last = lastSegment();
        long lastRecord = recordOffsets(last).get(recordOffsets(last).size() - 1);
        truncate(last, lastRecord + 20);

        try (FileJournal journal = open()) {
            assertThat(journal.lastSequence()).isEqualTo(51);
            assertThat(journal.recoveryReport().discardedBytes()).isEqualTo(20);
            assertThat(journal.recoveryReport().notes()).singleElement().asString()
                    .contains("torn tail").contains("byte offset " + lastRecord);
        }
    }

    @Test
    void zeroFilledTailIsCut() throws Exception {
        ServerState before = write(50);
        Path last = lastSegment();
        long end = Files.size(last);
        append(last, new byte[4096]);

        try (FileJournal journal = open()) {
            assertThat(journal.state()).isEqualTo(before);
            assertThat(journal.recoveryReport().discardedBytes()).isEqualTo(4096);
            assertThat(journal.recoveryReport().notes()).singleElement().asString()
                    .contains("record length 0 is out of range");
            assertThat(Files.size(last)).isEqualTo(end);
        }
    }

    @Test
    void missingCheckpointMeansAFullReplay() throws Exception {
        ServerState before = write(80);
        Fixtures.deleteCheckpoints(dir);

        try (FileJournal journal = open()) {
            assertThat(journal.state()).isEqualTo(before);
            assertThat(journal.recoveryReport().checkpointSequence()).isZero();
            assertThat(journal.recoveryReport().replayedEntries()).isEqualTo(82);
        }
    }

    @Test
    void checkpointNewerThanTheJournalStopsTheOpen() throws Exception {
        write(50);
        Path last = lastSegment();
        List<Long> offsets = recordOffsets(last);
        truncate(last, offsets.get(offsets.size() - 2)); // two whole entries lost
        long size = Files.size(last);
        Path checkpoint = dir.resolve(Checkpoints.fileName(52));

        assertThatThrownBy(this::open)
                .isInstanceOfSatisfying(JournalCorruptedException.class,
                        e -> assertThat(e.file()).isEqualTo(checkpoint))
                .hasMessageContaining("checkpoint is at sequence 52 but the journal ends at sequence 50:"
                        + " the journal lost acknowledged entries");
        assertThat(Files.size(last)).isEqualTo(size);
        assertThat(checkpoint).exists();
    }

    /** Three entries, checkpoint 2 taken on the way and checkpoint 3 at the close; returns the state. */
    private ServerState writeWithTwoCheckpoints() {
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            journal.append(createEnvironment("prod"));
            journal.append(createFlag("prod", "billing-v2"));
            journal.checkpoint();
            journal.append(updateFlag("prod", "billing-v2", true));
            return journal.state();
        }
    }

    @Test
    void damagedCheckpointIsSkippedWithANote() throws Exception {
        ServerState before = writeWithTwoCheckpoints();
        Path newest = dir.resolve(Checkpoints.fileName(3));
        flip(newest, Files.size(newest) / 2);

        try (FileJournal journal = open()) {
            assertThat(journal.state()).isEqualTo(before);
            assertThat(journal.recoveryReport().checkpointSequence()).isEqualTo(2);
            assertThat(journal.recoveryReport().notes()).singleElement().asString()
                    .startsWith("skipped damaged checkpoint " + newest);
        }
    }

    @Test
    void aDamagedOlderCheckpointIsSaidAtOpenThoughTheNewestServes() throws Exception {
        ServerState before = writeWithTwoCheckpoints();
        Path older = dir.resolve(Checkpoints.fileName(2));
        assertThat(dir.resolve(Checkpoints.fileName(3))).as("the newest, written at the close").exists();
        flip(older, Files.size(older) / 2);

        try (FileJournal journal = open()) {
            assertThat(journal.state()).isEqualTo(before);
            assertThat(journal.recoveryReport().checkpointSequence()).isEqualTo(3);
            assertThat(journal.recoveryReport().notes()).singleElement().asString()
                    .startsWith("older checkpoint " + older + " is damaged (")
                    .contains("checkpoint checksum mismatch")
                    .contains("could not stand in should the newest be damaged");
        }
        // A sound older checkpoint, or one cut short, each as it is.
        try (FileJournal journal = open()) {
            journal.append(updateFlag("prod", "billing-v2", false));
        } // the close writes checkpoint 4 and removes the damaged 2
        try (FileJournal journal = open()) {
            assertThat(journal.recoveryReport().notes()).as("checkpoints 3 and 4 are sound").isEmpty();
        }
        Path three = dir.resolve(Checkpoints.fileName(3));
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(three, java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(Files.size(three) - 3);
        }
        try (FileJournal journal = open()) {
            assertThat(journal.recoveryReport().notes()).singleElement().asString()
                    .startsWith("older checkpoint " + three + " is damaged (").contains("no end marker");
        }
    }

    @Test
    void aDamagedCheckpointNamedPastTheJournalsEndNeitherPushesOutTheNewOneNorLetsRetentionRemoveTheState() throws Exception {
        try (FileJournal journal = open()) {
            journal.append(createEnvironment("staging"));
            journal.append(createFlag("staging", "f"));
        }
        Path stray = dir.resolve(Checkpoints.fileName(5000));
        Files.write(stray, "garbage, not a checkpoint".getBytes());
        long written;
        try (FileJournal journal = Fixtures.builder(dir, clock).segmentSize(4096).checkpointsToKeep(1)
                .checkpointInterval(1_000_000).retention(Duration.ofDays(30)).open()) {
            for (int i = 0; i < 80; i++) {
                journal.append(updateFlag("staging", "f", i % 2 == 0));
            }
            clock.advance(Duration.ofDays(31));
            journal.append(updateFlag("staging", "f", true));
            written = journal.checkpoint();

            assertThat(Fixtures.checkpoints(dir)).as("the one just written is kept; the stray is left as it is")
                    .containsExactlyInAnyOrder(dir.resolve(Checkpoints.fileName(written)), stray);
        }
        try (FileJournal journal = Fixtures.builder(dir, clock).retention(Duration.ofDays(30)).open()) {
            assertThat(journal.state().environment("staging").orElseThrow().version()).isEqualTo(83);
            assertThat(journal.recoveryReport().checkpointSequence()).isEqualTo(written);
        }
    }

    @Test
    void aDamagedCheckpointAmongTheKeptOnesDoesNotCountSoRetentionKeepsWhatTheOlderSoundOneNeeds() throws Exception {
        long oldest;
        Path middle;
        try (FileJournal journal = Fixtures.builder(dir, clock).segmentSize(4096).checkpointInterval(1_000_000)
                .open()) { // keeps 2 checkpoints
            journal.append(createEnvironment("staging"));
            journal.append(createFlag("staging", "f"));
            for (int i = 0; i < 40; i++) {
                journal.append(updateFlag("staging", "f", i % 2 == 0));
            }
            oldest = journal.checkpoint();
            for (int i = 0; i < 40; i++) {
                journal.append(updateFlag("staging", "f", i % 2 == 0));
            }
            middle = dir.resolve(Checkpoints.fileName(journal.lastSequence())); // written by the close
        }
        flip(middle, Files.size(middle) / 2); // damaged on disk while the server was down: the open skips it
        try (FileJournal journal = Fixtures.builder(dir, clock).segmentSize(4096).checkpointInterval(1_000_000)
                .retention(Duration.ofDays(30)).open()) {
            assertThat(journal.recoveryReport().checkpointSequence()).isEqualTo(oldest);
            for (int i = 0; i < 40; i++) {
                journal.append(updateFlag("staging", "f", i % 2 == 0));
            }
            clock.advance(Duration.ofDays(31));
            journal.append(updateFlag("staging", "f", true));
            long newest = journal.checkpoint();

            assertThat(Fixtures.checkpoints(dir)).as("the sound older one is one of the two kept")
                    .contains(dir.resolve(Checkpoints.fileName(oldest)));
            assertThat(journal.oldestRetainedSequence()).as("retention kept the entries after it")
                    .isLessThanOrEqualTo(oldest + 1);
            Path newestFile = dir.resolve(Checkpoints.fileName(newest));
            flip(newestFile, Files.size(newestFile) / 2);
        }
        try (FileJournal journal = Fixtures.builder(dir, clock).retention(Duration.ofDays(30)).open()) {
            assertThat(journal.recoveryReport().checkpointSequence()).as("the newest two are damaged: the older sound one"
                    + " stands in").isEqualTo(oldest);
            assertThat(journal.state().environment("staging").orElseThrow().version()).isEqualTo(123);
        }
    }

    @Test
    void missingSegmentInTheMiddleIsAGap() throws Exception {
        write(100);
        Fixtures.deleteCheckpoints(dir);
        List<Path> segments = Fixtures.segments(dir);
        assertThat(segments).hasSizeGreaterThan(2);
        Files.delete(segments.get(1));

        assertThatThrownBy(this::open)
                .isInstanceOfSatisfying(JournalCorruptedException.class,
                        e -> assertThat(e.file()).isEqualTo(segments.get(1)))
                .hasMessageContaining("no segment holds sequences " + Segments.firstSequenceOf(segments.get(1)) + "..");
    }

    @Test
    void missingFirstSegmentWithoutCheckpointIsRefused() throws Exception {
        write(100);
        Fixtures.deleteCheckpoints(dir);
        List<Path> segments = Fixtures.segments(dir);
        Files.delete(segments.get(0));

        assertThatThrownBy(this::open)
                .isInstanceOf(JournalCorruptedException.class)
                .hasMessageContaining("there is no checkpoint: sequences 1..");
    }

    @Test
    void leftoverTemporaryFilesAreRemoved() throws Exception {
        write(3);
        Files.write(dir.resolve(Segments.fileName(99) + Segments.TEMP_SUFFIX), new byte[10]);

        try (FileJournal journal = open()) {
            assertThat(journal.recoveryReport().notes()).singleElement().asString()
                    .contains("left by a write that did not complete (a crash, or a checkpoint that failed");
            assertThat(Fixtures.segments(dir)).hasSize(1);
        }
    }

    /**
     * Only the journal's own temporary files are removed (QA81 F5): the open deleted every {@code *.tmp} in the
     * directory, an operator's notes too, and refused to start on a {@code *.tmp} directory.
     */
    @Test
    void onlyTheJournalsOwnTemporaryFilesAreRemovedAndAnyOtherTmpIsLeftAloneWithANote() throws Exception {
        ServerState before = write(3);
        List<Path> ours = List.of(dir.resolve(Segments.fileName(99) + Segments.TEMP_SUFFIX),
                dir.resolve(Checkpoints.fileName(3) + Segments.TEMP_SUFFIX));
        for (Path temp : ours) {
            Files.write(temp, new byte[10]);
        }
        Path writeCheck = dir.resolve("write-check.tmp"); // the open's write check takes it over and removes it
        Files.write(writeCheck, new byte[10]);
        Path notes = dir.resolve("mynotes.tmp");
        Files.writeString(notes, "x");
        Path directory = dir.resolve("old.tmp");
        Files.createDirectories(directory);
        Files.writeString(directory.resolve("x"), "hi");
        Path namedLikeOurs = dir.resolve(Checkpoints.fileName(2) + Segments.TEMP_SUFFIX);
        Files.createDirectories(namedLikeOurs);

        try (FileJournal journal = open()) {
            assertThat(journal.state()).isEqualTo(before);
            assertThat(writeCheck).doesNotExist();
            assertThat(journal.recoveryReport().notes()).hasSize(5);
            for (Path temp : ours) {
                assertThat(temp).doesNotExist();
                assertThat(journal.recoveryReport().notes()).anySatisfy(n -> assertThat(n)
                        .startsWith("removed " + temp + ", left by a write that did not complete"));
            }
            assertThat(notes).hasContent("x");
            assertThat(directory.resolve("x")).hasContent("hi");
            assertThat(namedLikeOurs).isDirectory();
            assertThat(journal.recoveryReport().notes()).contains(
                    "left " + notes + " alone: it ends in .tmp but is not a temporary file the journal writes; move it"
                            + " out of " + dir,
                    "left " + directory + " alone: it ends in .tmp but is not a temporary file the journal writes (it is"
                            + " a directory); move it out of " + dir,
                    "left " + namedLikeOurs + " alone: it ends in .tmp but is not a temporary file the journal writes"
                            + " (it is a directory); move it out of " + dir);
        }
    }

    /**
     * The newest checkpoint (written at a clean close, sequence 57) and the last record (57) both damaged (QA81 F3):
     * the checkpoint's name proves 57 was acknowledged, so the record is damage, not a torn tail that the open cuts
     * while verify says "nothing is lost".
     */
    @Test
    void aDamagedLastRecordThatADamagedNewestCheckpointCoversIsDamageNotATornTail() throws Exception {
        FormatTest.copyGolden(dir);
        Path checkpoint = dir.resolve(Checkpoints.fileName(57));
        flip(checkpoint, Files.size(checkpoint) / 2); // its body: the name still says 57
        Path last = dir.resolve(Segments.fileName(34));
        flip(last, Files.size(last) - 5); // the payload of the last record, sequence 57
        long size = Files.size(last);

        StringWriter out = new StringWriter();
        int rc = JournalTool.run(new PrintWriter(out, true), new PrintWriter(new StringWriter(), true), "verify",
                dir.toString());
        assertThat(rc).isEqualTo(1);
        assertThat(out.toString()).doesNotContain("nothing is lost").doesNotContain("torn tail")
                .contains("sequence 57 was acknowledged (checkpoint-00000000000000000057.ckpt was written after sequence"
                        + " 57, damaged or not), so this is damage, not a write that a crash cut short");

        assertThatThrownBy(this::open).isInstanceOf(JournalCorruptedException.class)
                .hasMessageStartingWith("journal damaged in " + last + " at byte offset ");
        assertThat(Files.size(last)).as("nothing cut").isEqualTo(size);
    }

    @Test
    void aFileNamedLikeASegmentPastTheLargestSequenceNumberIsIgnoredWithANoteNotANumberFormatException() throws Exception {
        ServerState before = write(3);
        Path stray = dir.resolve("99999999999999999999.seg");
        Files.write(stray, new byte[0]);

        try (FileJournal journal = open()) {
            assertThat(journal.state()).isEqualTo(before);
            assertThat(journal.recoveryReport().notes()).singleElement().asString()
                    .isEqualTo("ignored " + stray + ": it is named like a journal file, but its number is past the largest"
                            + " sequence number (9223372036854775807), so no journal wrote it; move it out of " + dir);
            assertThat(Fixtures.segments(dir)).doesNotContain(stray);
        }
        assertThat(stray).as("left as it was").exists();
    }

    @Test
    void aFileNamedLikeACheckpointPastTheLargestSequenceNumberIsIgnoredWithANoteNotANumberFormatException()
            throws Exception {
        ServerState before = write(3);
        Path stray = dir.resolve("checkpoint-99999999999999999999.ckpt");
        Files.write(stray, new byte[0]);

        try (FileJournal journal = open()) {
            assertThat(journal.state()).isEqualTo(before);
            assertThat(journal.recoveryReport().notes()).singleElement().asString()
                    .startsWith("ignored " + stray + ": it is named like a journal file");
            journal.append(updateFlag("prod", "billing-v2", false));
            journal.checkpoint(); // lists the checkpoints too
            assertThat(journal.stateAt(2).sequence()).isEqualTo(2); // and so does time travel
        }
        assertThat(stray).as("left as it was").exists();
    }

    // --- helpers

    private Path damagedDirectory() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith("damaged-")).findFirst()
                    .orElseThrow();
        }
    }

    /** Byte offsets of every record frame in a segment. */
    static List<Long> recordOffsets(Path segment) throws IOException {
        List<Long> offsets = new ArrayList<>();
        try (FileChannel ch = FileChannel.open(segment, StandardOpenOption.READ)) {
            long first = Segments.readHeader(ch, segment);
            SegmentScanner scanner = new SegmentScanner(segment, ch, first, ch.size());
            while (scanner.next()) {
                offsets.add(scanner.recordOffset());
            }
            assertThat(scanner.problem()).isNull();
        }
        return offsets;
    }

    static void flip(Path file, long offset) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, offset);
            b.put(0, (byte) (b.get(0) ^ 0x5A)).rewind();
            ch.write(b, offset);
        }
    }

    static void truncate(Path file, long size) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(size);
        }
    }

    static void append(Path file, byte[] bytes) throws IOException {
        Files.write(file, bytes, StandardOpenOption.APPEND);
    }
}
