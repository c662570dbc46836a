package dev.flags.server.journal;

import static dev.flags.server.journal.Fixtures.createEnvironment;
import static dev.flags.server.journal.Fixtures.createFlag;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flags.server.StandardErrorCapture;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A journal stopped by an i/o failure says why, so that the server's health checks can say it too. */
class FailureTest {

    @TempDir
    Path dir;

    @Test
    void failureIsEmptyWhileTheJournalWorksAndSaysWhyOnceAnIoFailureStoppedIt() {
        AtomicBoolean failForces = new AtomicBoolean();
        FileJournal.Hooks hooks = new FileJournal.Hooks() {
            @Override
            public void beforeForce() {
                if (failForces.get()) {
                    throw new UncheckedIOException(new IOException("simulated no space left on device"));
                }
            }
        };
        FileJournal journal = FileJournal.builder(dir).hooks(hooks).open();
        try (journal) {
            journal.append(createEnvironment("prod"));
            assertThat(journal.failure()).isEmpty();

            failForces.set(true);
            assertThatThrownBy(() -> journal.append(createFlag("prod", "a"))).isInstanceOf(JournalException.class);
            assertThat(journal.failure()).hasValueSatisfying(reason -> assertThat(reason)
                    .contains("simulated no space left on device")
                    .contains("nothing after sequence 1 is acknowledged"));
        }
        assertThat(journal.failure()).as("still answered after close").isPresent();
    }

    @Test
    void aJournalWhoseFilesAreDeletedWhileItRunsStopsInsteadOfAcknowledgingWritesNoRestartCouldRead() throws Exception {
        Path journalDir = dir.resolve("journal");
        FileJournal journal = FileJournal.builder(journalDir).open();
        try (journal) {
            journal.append(createEnvironment("prod"));
            try (java.util.stream.Stream<Path> files = java.nio.file.Files.walk(journalDir)) {
                for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    java.nio.file.Files.delete(f); // rm -rf journal/ under the running journal
                }
            }
            String logged = StandardErrorCapture.during(() -> assertThatThrownBy(() -> journal.append(createFlag("prod", "a")))
                    .isInstanceOf(JournalException.class)
                    .hasMessageContaining("is gone: deleted or moved while the server ran")
                    // One story with the rescue line, not "lost" and then "kept" (QA42b F7).
                    .hasMessageContaining("nothing acknowledged is lost: this server holds it all, but the history since the"
                            + " last checkpoint is in that file only")
                    .hasMessageContaining("to keep that history, copy the segment back as the line before says, then restart"
                            + " the server; else stop the server: its stop keeps every acknowledged entry in a checkpoint")
                    .hasMessageNotContaining("lost with it")
                    .hasMessageNotContaining("/proc/")); // API answers carry the failure: the rescue is the log's
            assertThat(journal.failure()).hasValueSatisfying(reason -> assertThat(reason)
                    .contains("nothing after sequence 1 is acknowledged"));
            Path segment = journalDir.resolve("00000000000000000001.seg").toAbsolutePath();
            java.util.regex.Matcher rescue = java.util.regex.Pattern.compile("cp (/proc/\\d+/fd/\\d+) " + java.util.regex.Pattern
                    .quote(segment.toString())).matcher(logged);
            assertThat(rescue.find()).as("the log says how to copy the deleted segment back").isTrue();
            java.nio.file.Files.createDirectories(journalDir);
            java.nio.file.Files.copy(Path.of(rescue.group(1)), segment); // as the line says, while the journal is open
            assertThat(java.nio.file.Files.size(segment)).as("every acknowledged byte is back").isGreaterThan(Segments.HEADER_SIZE);
            String stop = StandardErrorCapture.during(journal::close);
            // QA81 F4: the stop told the operator who did the right thing to run a repair that sets history aside.
            assertThat(stop).contains("the segment is back with every acknowledged byte")
                    .contains("the next start recovers every entry").doesNotContain("the next start refuses");
        }
        try (FileJournal reopened = FileJournal.builder(journalDir).open()) {
            assertThat(reopened.state().environments()).containsKey("prod");
        }
    }

    @Test
    void aSegmentReplacedUnderTheRunningJournalStopsItAndItsCloseKeepsTheAcknowledgedStateInACheckpoint() throws Exception {
        Path journalDir = dir.resolve("journal");
        FileJournal journal = FileJournal.builder(journalDir).open();
        Path segment;
        try (journal) {
            journal.append(createEnvironment("prod"));
            segment = onlySegment(journalDir);
            Path copy = dir.resolve("copy");
            java.nio.file.Files.copy(segment, copy); // a backup taken at sequence 1
            journal.append(createFlag("prod", "a")); // acknowledged at sequence 2
            // A restore into the live directory: under the same name, another file.
            java.nio.file.Files.move(copy, segment, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            assertThatThrownBy(() -> journal.append(createFlag("prod", "b"))).isInstanceOf(JournalException.class)
                    .hasMessageContaining("was replaced by another file while the server ran");
            assertThat(journal.failure()).hasValueSatisfying(reason -> assertThat(reason)
                    .contains("nothing after sequence 2 is acknowledged"));
        }
        assertThat(Checkpoints.list(journalDir)).extracting(Checkpoints.Ref::sequence).as("what was acknowledged, kept")
                .containsExactly(2L);
        assertThatThrownBy(() -> FileJournal.builder(journalDir).open()).as("not silently back at sequence 1")
                .hasMessageContaining("--from-checkpoint");
    }

    @Test
    void aSegmentCutShortUnderTheRunningJournalStopsItInsteadOfWritingAfterAHole() throws Exception {
        Path journalDir = dir.resolve("journal");
        FileJournal journal = FileJournal.builder(journalDir).open();
        try (journal) {
            journal.append(createEnvironment("prod"));
            journal.append(createFlag("prod", "a"));
            Path segment = onlySegment(journalDir);
            long size = java.nio.file.Files.size(segment);
            try (java.nio.channels.FileChannel c = java.nio.channels.FileChannel.open(segment,
                    java.nio.file.StandardOpenOption.WRITE)) {
                c.truncate(size - 10); // truncate -s under the running server
            }
            assertThatThrownBy(() -> journal.append(createFlag("prod", "b"))).isInstanceOf(JournalException.class)
                    .hasMessageContaining("was cut short while the server ran: " + (size - 10) + " bytes, where this server"
                            + " had written " + size);
            assertThat(journal.failure()).hasValueSatisfying(reason -> assertThat(reason)
                    .contains("nothing after sequence 2 is acknowledged"));
        }
    }

    private static Path onlySegment(Path journalDir) throws IOException {
        try (java.util.stream.Stream<Path> files = java.nio.file.Files.list(journalDir)) {
            return files.filter(f -> f.getFileName().toString().endsWith(".seg")).reduce((a, b) -> {
                throw new AssertionError("more than one segment: " + a + ", " + b);
            }).orElseThrow();
        }
    }

    @Test
    void aFailedCheckpointIsTriedAgainOnlyAfterAnotherIntervalOfAppends() throws Exception {
        Path journalDir = dir.resolve("journal");
        int interval = 20;
        FileJournal journal = FileJournal.builder(journalDir).checkpointInterval(interval).open();
        try (journal) {
            journal.append(createEnvironment("prod"));
            // Something in the way of the checkpoint at sequence 20 (on a full disk, its write fails instead).
            Path blocker = journalDir.resolve(Checkpoints.fileName(interval) + Segments.TEMP_SUFFIX);
            java.nio.file.Files.createDirectories(blocker.resolve("in-the-way"));
            for (int i = 2; i <= interval; i++) {
                journal.append(createFlag("prod", "f" + i));
            }
            awaitTrue("the checkpoint at 20 failed", () -> journal.checkpointFailures() == 1);
            for (int i = interval + 1; i < 2 * interval; i++) {
                journal.append(createFlag("prod", "f" + i)); // each would have asked for a checkpoint again, and had one
            }
            journal.append(createFlag("prod", "f" + 2 * interval)); // an interval past the failure: tried again
            awaitTrue("a checkpoint written", () -> !Checkpoints.list(journalDir).isEmpty());
            assertThat(Checkpoints.list(journalDir)).extracting(Checkpoints.Ref::sequence).as("none between")
                    .containsExactly((long) 2 * interval);
            assertThat(journal.checkpointFailures()).isEqualTo(1);
            assertThat(journal.failure()).isEmpty();
        }
    }

    @Test
    void batchesWhileABackgroundCheckpointIsWrittenDoNotAskForAnotherOneRightAfterIt() throws Exception {
        int interval = 10;
        java.util.concurrent.BlockingQueue<String> events = new java.util.concurrent.LinkedBlockingQueue<>();
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.atomic.AtomicInteger written = new java.util.concurrent.atomic.AtomicInteger();
        FileJournal.Hooks hooks = new FileJournal.Hooks() {
            @Override
            public void beforeCheckpoint() {
                events.add("checkpoint");
                if (written.incrementAndGet() == 1) {
                    try {
                        release.await(); // a slow checkpoint: a big state, a slow disk
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            }

            @Override
            public void checkpointWaiting() {
                events.add("waiting");
            }
        };
        Path journalDir = dir.resolve("journal");
        try (FileJournal journal = FileJournal.builder(journalDir).checkpointInterval(interval).hooks(hooks).open()) {
            assertThat(events.poll(10, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo("waiting");
            journal.append(createEnvironment("prod"));
            for (int i = 2; i <= interval; i++) {
                journal.append(createFlag("prod", "f" + i));
            }
            assertThat(events.poll(10, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo("checkpoint");
            for (int i = interval + 1; i <= 2 * interval; i++) {
                journal.append(createFlag("prod", "f" + i)); // each batch an interval past the last checkpoint
            }
            release.countDown();
            assertThat(events.poll(10, java.util.concurrent.TimeUnit.SECONDS)).as("after the checkpoint: no second one")
                    .isEqualTo("waiting");
            assertThat(Checkpoints.list(journalDir)).extracting(Checkpoints.Ref::sequence).containsExactly(2L * interval);
        }
    }

    @Test
    void aChangeThatFailsHalfwayIntoTheStateInMemoryStopsTheJournalAndARestartRecoversWhatWasAcknowledged() throws Exception {
        Path journalDir = dir.resolve("journal");
        FileJournal.Hooks outOfMemoryAtThird = new FileJournal.Hooks() {
            @Override
            public void beforeApply(JournalEntry entry) {
                if (entry.sequence() == 3) {
                    throw new OutOfMemoryError("Java heap space (simulated)");
                }
            }
        };
        FileJournal journal = FileJournal.builder(journalDir).hooks(outOfMemoryAtThird).open();
        try (journal) {
            journal.append(createEnvironment("prod"));
            journal.append(createFlag("prod", "a"));
            assertThatThrownBy(() -> journal.append(createFlag("prod", "b"))).isInstanceOf(JournalException.class)
                    .hasMessageStartingWith("journal stopped: the change that was to be sequence 3 failed while it was"
                            + " applied to the state in memory (java.lang.OutOfMemoryError: Java heap space (simulated))")
                    .hasMessageContaining("restart the server with a larger heap (-Xmx");
            assertThat(journal.failure()).as("health checks tell").isPresent();
            assertThatThrownBy(() -> journal.append(createFlag("prod", "c"))).as("nothing built on a half-changed state")
                    .isInstanceOf(JournalException.class).hasMessageContaining("sequence 3 failed");
        }
        try (FileJournal reopened = FileJournal.builder(journalDir).open()) {
            assertThat(reopened.lastSequence()).isEqualTo(2);
            assertThat(reopened.state().environment("prod").orElseThrow().flags()).containsOnlyKeys("a");
        }
    }

    private interface Check {
        boolean holds() throws IOException;
    }

    private static void awaitTrue(String what, Check check) throws Exception {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
        while (!check.holds()) {
            assertThat(System.nanoTime()).as(what).isLessThan(deadline);
            Thread.sleep(5);
        }
    }

    @Test
    void aLockFileDeletedUnderTheRunningJournalStopsItBeforeASecondProcessCouldWriteBesideIt() throws Exception {
        Path journalDir = dir.resolve("journal");
        FileJournal journal = FileJournal.builder(journalDir).open();
        try (journal) {
            journal.append(createEnvironment("prod"));
            java.nio.file.Files.delete(journalDir.resolve(DirectoryLock.FILE_NAME));
            assertThatThrownBy(() -> journal.append(createFlag("prod", "a"))).isInstanceOf(JournalException.class)
                    .hasMessageStartingWith("journal stopped: the journal's lock file "
                            + journalDir.resolve(DirectoryLock.FILE_NAME) + " was deleted or replaced while the server ran")
                    .hasMessageContaining("never delete journal.lock")
                    .hasMessageEndingWith("stop every process using " + journalDir + ", then start one server")
                    .as("a lock problem, not an i/o failure in the segment, and no 'restart' that a second server refuses")
                    .hasMessageNotContaining("i/o failure").hasMessageNotContaining("restart");
            assertThat(journal.failure()).hasValueSatisfying(reason -> assertThat(reason)
                    .contains("nothing after sequence 1 is acknowledged"));
        }
    }

    @Test
    void anIdleJournalNoticesItsLockFileDeletedWithoutWaitingForAWrite() throws Exception {
        Path journalDir = dir.resolve("journal");
        FileJournal journal = FileJournal.builder(journalDir).fileCheckInterval(java.time.Duration.ofMillis(20)).open();
        try (journal) {
            journal.append(createEnvironment("prod"));
            java.nio.file.Files.delete(journalDir.resolve(DirectoryLock.FILE_NAME));
            awaitTrue("stopped with no write", () -> journal.failure().isPresent());
            assertThat(journal.failure().orElseThrow()).contains("lock file").contains("nothing after sequence 1 is acknowledged");
        }
    }

    @Test
    void aSegmentReplacedWhileTheJournalIsIdleIsFoundAtItsCloseWhichKeepsTheAcknowledgedStateInACheckpoint()
            throws Exception {
        Path journalDir = dir.resolve("journal");
        // No idle check before the close: only the close's own look can find it.
        FileJournal journal = FileJournal.builder(journalDir).fileCheckInterval(java.time.Duration.ofHours(1)).open();
        String logged = StandardErrorCapture.during(() -> {
            try (journal) {
                journal.append(createEnvironment("prod"));
                Path segment = onlySegment(journalDir);
                Path copy = dir.resolve("copy");
                java.nio.file.Files.copy(segment, copy);
                journal.append(createFlag("prod", "a"));
                java.nio.file.Files.move(copy, segment, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        });
        assertThat(journal.failure()).hasValueSatisfying(reason -> assertThat(reason).contains("was replaced by another file"));
        assertThat(logged).contains("journal closed after its segment").doesNotContain("INFO dev.flags.server.journal"
                + ".FileJournal - journal closed:");
        assertThat(Checkpoints.list(journalDir)).extracting(Checkpoints.Ref::sequence).as("what was acknowledged, kept")
                .containsExactly(2L);
    }

    @Test
    void aJournalDirectoryInWhichNoFileCanBeCreatedIsRefusedAtTheOpenNotAtTheFirstCheckpoint() throws Exception {
        Path journalDir = dir.resolve("journal");
        try (FileJournal journal = FileJournal.builder(journalDir).open()) {
            journal.append(createEnvironment("prod"));
        }
        // A test run as root cannot be refused by a mode: the probe's file name taken by a directory refuses it too.
        java.nio.file.Files.createDirectories(journalDir.resolve("write-check.tmp").resolve("taken"));
        assertThatThrownBy(() -> FileJournal.builder(journalDir).open()).isInstanceOf(JournalException.class)
                .hasMessageContaining("the journal cannot create files in " + journalDir + " (checkpoints, new segments)");
    }

    @Test
    void aClockBehindTheJournalIsSaidWhenAnEntryIsStampedWithTheLastTimeAndAgainAtTheNextOpen() throws Exception {
        Path journalDir = dir.resolve("journal");
        MutableClock clock = new MutableClock(java.time.Instant.parse("2026-12-31T10:00:00Z")); // ahead of real time
        String stepped = StandardErrorCapture.during(() -> {
            try (FileJournal journal = Fixtures.builder(journalDir, clock).open()) {
                journal.append(createEnvironment("prod"));
                clock.set(java.time.Instant.parse("2026-12-01T10:00:00Z")); // set right, 30 days back
                JournalEntry stamped = journal.append(createFlag("prod", "a"));
                assertThat(stamped.timestamp()).as("kept in order").isEqualTo(java.time.Instant.parse("2026-12-31T10:00:00Z"));
                journal.append(createFlag("prod", "b"));
            }
        });
        assertThat(stepped.lines().filter(l -> l.contains("behind"))).as("once, not per entry").singleElement().asString()
                .contains("WARN").contains("this machine's clock (2026-12-01T10:00:00Z) is PT720H behind the journal's last"
                        + " entry (2026-12-31T10:00:00Z)");
        String reopened = StandardErrorCapture.during(() -> {
            try (FileJournal journal = Fixtures.builder(journalDir, clock).open()) {
                assertThat(journal.state().sequence()).isEqualTo(3);
            }
        });
        assertThat(reopened).as("said at the next open too").contains("is PT720H behind the journal's last entry");
    }

    @Test
    void aSegmentCutBetweenTheChecksAndABatchsWriteIsFoundThoughTheWriteMadeItLongAgain() throws Exception {
        Path journalDir = dir.resolve("journal");
        AtomicBoolean cut = new AtomicBoolean();
        FileJournal.Hooks hooks = new FileJournal.Hooks() {
            @Override
            public void beforeWrite() {
                if (cut.getAndSet(false)) {
                    try (java.nio.channels.FileChannel c = java.nio.channels.FileChannel.open(onlySegment(journalDir),
                            java.nio.file.StandardOpenOption.WRITE)) {
                        c.truncate(Segments.HEADER_SIZE + 1); // truncate -s, in the instant after the checks
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }
            }
        };
        FileJournal journal = FileJournal.builder(journalDir).hooks(hooks).open();
        try (journal) {
            journal.append(createEnvironment("prod"));
            journal.append(createFlag("prod", "a"));
            cut.set(true);
            assertThatThrownBy(() -> journal.append(createFlag("prod", "b"))).isInstanceOf(JournalException.class)
                    .hasMessageContaining("was cut short while the server ran, below byte offset")
                    .hasMessageContaining("this batch's write made it long again over a hole");
            assertThat(journal.failure()).hasValueSatisfying(reason -> assertThat(reason)
                    .contains("nothing after sequence 2 is acknowledged"));
        }
    }
}
