package dev.flags.server.journal;

import static dev.flags.server.journal.Fixtures.createEnvironment;
import static dev.flags.server.journal.Fixtures.createFlag;
import static dev.flags.server.journal.Fixtures.updateFlag;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** History of a flag, the audit log in a time range, and time travel, all from the journal. */
class ReadsTest {

    @TempDir
    Path dir;

    final MutableClock clock = new MutableClock(Fixtures.T0);

    /** 1 env, 2 flags in 2 envs, one entry per minute; small segments so reads cross files. */
    private FileJournal journalWithHistory() {
        FileJournal journal = Fixtures.builder(dir, clock).segmentSize(4096).checkpointInterval(25)
                .open();
        journal.append(createEnvironment("staging"));
        journal.append(createEnvironment("production"));
        journal.append(createFlag("staging", "billing-v2"));
        journal.append(createFlag("production", "billing-v2"));
        journal.append(createFlag("staging", "other"));
        for (int i = 0; i < 40; i++) {
            clock.advance(Duration.ofMinutes(1));
            journal.append(updateFlag(i % 2 == 0 ? "staging" : "production", "billing-v2", i % 4 < 2)
                    .withComment("step " + i));
            journal.append(updateFlag("staging", "other", i % 3 == 0));
        }
        return journal;
    }

    @Test
    void historyListsEveryVersionOfOneFlagInOneEnvironment() throws Exception {
        try (FileJournal journal = journalWithHistory()) {
            assertThat(Fixtures.segments(dir)).hasSizeGreaterThan(2);
            List<JournalEntry> history = journal.history("staging", "billing-v2");

            assertThat(history).hasSize(21);
            assertThat(history.get(0).type()).isEqualTo(EntryType.FLAG_CREATED);
            assertThat(history).allSatisfy(e -> {
                assertThat(e.environment()).isEqualTo("staging");
                assertThat(e.subject()).isEqualTo("billing-v2");
                assertThat(e.actor()).isEqualTo("alice");
            });
            assertThat(history.subList(1, 21).stream().map(JournalEntry::comment)
                    .collect(Collectors.toList())).startsWith("step 0", "step 2", "step 4");
            assertThat(history).isSortedAccordingTo((a, b) -> Long.compare(a.version(), b.version()));
            assertThat(journal.history("staging", "missing")).isEmpty();
        }
    }

    @Test
    void auditReturnsTheEntriesOfATimeRange() {
        try (FileJournal journal = journalWithHistory()) {
            Instant from = Fixtures.T0.plus(Duration.ofMinutes(10));
            Instant to = Fixtures.T0.plus(Duration.ofMinutes(13));
            List<JournalEntry> audit = journal.audit(from, to, 100);

            assertThat(audit).hasSize(6);
            assertThat(audit).allSatisfy(e -> assertThat(e.timestamp()).isBetween(from,
                    to.minusNanos(1)));
            assertThat(audit).extracting(JournalEntry::sequence)
                    .containsExactly(24L, 25L, 26L, 27L, 28L, 29L);
            assertThat(journal.audit(from, to, 2)).extracting(JournalEntry::sequence)
                    .containsExactly(24L, 25L);
            assertThat(journal.audit(to, from, 10)).isEmpty();
            assertThat(journal.audit(Fixtures.T0, Fixtures.T0.plusSeconds(1), 100)).hasSize(5);
        }
    }

    @Test
    void readPagesThroughTheJournal() {
        try (FileJournal journal = journalWithHistory()) {
            assertThat(journal.read(1, 10)).extracting(JournalEntry::sequence)
                    .containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L);
            assertThat(journal.read(80, 100)).extracting(JournalEntry::sequence)
                    .containsExactly(80L, 81L, 82L, 83L, 84L, 85L);
            assertThat(journal.read(86, 10)).isEmpty();
            assertThatThrownBy(() -> journal.read(0, 1))
                    .hasMessage("from sequence must be at least 1, was 0");
        }
    }

    @Test
    void stateAtASequenceNumber() {
        try (FileJournal journal = journalWithHistory()) {
            assertThat(journal.stateAt(0)).isEqualTo(ServerState.EMPTY);
            ServerState early = journal.stateAt(3);
            assertThat(early.sequence()).isEqualTo(3);
            assertThat(early.environments()).containsOnlyKeys("staging", "production");
            assertThat(early.environment("staging").orElseThrow().flags()).containsOnlyKeys(
                    "billing-v2");
            assertThat(early.environment("production").orElseThrow().flags()).isEmpty();

            // Every point in history equals the state the entries up to it give.
            for (long seq = 1; seq <= journal.lastSequence(); seq += 7) {
                assertThat(journal.stateAt(seq)).isEqualTo(replayed(journal, seq));
            }
            assertThat(journal.stateAt(journal.lastSequence())).isSameAs(journal.state());
            assertThatThrownBy(() -> journal.stateAt(journal.lastSequence() + 1))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("sequence must be between 0 and the last committed sequence 85, was 86");
        }
    }

    @Test
    void stateAtATime() {
        try (FileJournal journal = journalWithHistory()) {
            ServerState before = journal.stateAt(Fixtures.T0.minusSeconds(1));
            assertThat(before).isEqualTo(ServerState.EMPTY);

            ServerState atTen = journal.stateAt(Fixtures.T0.plus(Duration.ofMinutes(10)));
            assertThat(atTen.sequence()).isEqualTo(25);
            assertThat(atTen).isEqualTo(journal.stateAt(25));

            ServerState between = journal.stateAt(Fixtures.T0.plus(Duration.ofMinutes(10))
                    .plusSeconds(30));
            assertThat(between).isEqualTo(atTen);
            assertThat(journal.stateAt(Instant.MAX)).isSameAs(journal.state());
        }
    }

    @Test
    void pastStatesAreRebuiltOneAtATimeAndTheCurrentOneIsNotHeldUp() throws Exception {
        try (FileJournal journal = journalWithHistory()) {
            ServerState expected = journal.stateAt(25);
            java.util.concurrent.CompletableFuture<ServerState> waiting;
            journal.replays.lock(); // as a rebuild in progress holds it
            try {
                waiting = java.util.concurrent.CompletableFuture.supplyAsync(() -> journal.stateAt(25));
                long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
                while (!journal.replays.hasQueuedThreads() && !waiting.isDone() && System.nanoTime() < deadline) {
                    Thread.onSpinWait(); // until the second rebuild is waiting for its turn
                }
                assertThat(waiting).isNotDone();
                assertThat(journal.stateAt(journal.lastSequence())).as("not rebuilt: no wait").isSameAs(journal.state());
            } finally {
                journal.replays.unlock();
            }
            assertThat(waiting.get(10, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo(expected);
        }
    }

    @Test
    void timeTravelWorksAfterAReopen() {
        ServerState atForty;
        try (FileJournal journal = journalWithHistory()) {
            atForty = journal.stateAt(40);
        }
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            assertThat(journal.stateAt(40)).isEqualTo(atForty);
        }
    }

    @Test
    void retentionRemovesOldSegmentsCoveredByCheckpoints() throws Exception {
        try (FileJournal journal = Fixtures.builder(dir, clock).segmentSize(4096)
                .checkpointInterval(1_000_000).retention(Duration.ofDays(30)).open()) {
            journal.append(createEnvironment("staging"));
            journal.append(createFlag("staging", "billing-v2"));
            for (int i = 0; i < 60; i++) {
                journal.append(updateFlag("staging", "billing-v2", i % 2 == 0));
            }
            int before = Fixtures.segments(dir).size();
            assertThat(before).isGreaterThan(2);

            journal.checkpoint();
            assertThat(Fixtures.segments(dir)).hasSize(before); // nothing is old yet

            clock.advance(Duration.ofDays(31));
            journal.append(updateFlag("staging", "billing-v2", true));
            journal.checkpoint();
            journal.checkpoint();

            List<Path> after = Fixtures.segments(dir);
            assertThat(after.size()).isLessThan(before);
            long oldest = Segments.firstSequenceOf(after.get(0));
            assertThat(oldest).isGreaterThan(1);
            assertThatThrownBy(() -> journal.read(1, 10))
                    .hasMessage("sequence 1 was removed by retention; the oldest retained entry is "
                            + oldest);
            assertThat(journal.history("staging", "billing-v2").get(0).sequence()).isEqualTo(oldest);
            assertThat(journal.history("staging", "billing-v2")).isEqualTo(journal.historyByScan("staging", "billing-v2"));
            assertThat(journal.completeHistoryIndex().changes()).as("retention drops the deleted changes from the history index")
                    .isEqualTo(journal.lastSequence() - oldest + 1);
            assertThatThrownBy(() -> journal.stateAt(1)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("is not available");
            assertThat(journal.stateAt(journal.lastSequence() - 1).sequence())
                    .isEqualTo(journal.lastSequence() - 1);
        }
        try (FileJournal journal = Fixtures.builder(dir, clock).retention(Duration.ofDays(30)).open()) {
            assertThat(journal.recoveryReport().notes()).as("with retention set, a later start is expected").isEmpty();
        }
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            assertThat(journal.state().environment("staging").orElseThrow().version()).isEqualTo(63);
            // without it, nothing explains the missing first entries: said, not silently accepted
            assertThat(journal.recoveryReport().notes()).singleElement().asString()
                    .startsWith("the journal starts at sequence ").contains("although no retention is set")
                    .contains("restore the segments from a backup");
        }
    }

    @Test
    void withARetentionAQuietJournalStartsNewSegmentsAsTheyAgeSoThatItsOldEntriesGo() throws Exception {
        assertThat(FileJournal.rollAge(null)).isNull();
        assertThat(FileJournal.rollAge(Duration.ofDays(1))).isEqualTo(Duration.ofMinutes(144));
        assertThat(FileJournal.rollAge(Duration.ofHours(5))).isEqualTo(Duration.ofHours(1));
        assertThat(FileJournal.rollAge(Duration.ofDays(365))).isEqualTo(Duration.ofDays(1));
        java.util.concurrent.BlockingQueue<String> checkpoints = new java.util.concurrent.LinkedBlockingQueue<>();
        FileJournal.Hooks hooks = new FileJournal.Hooks() {
            @Override
            public void beforeCheckpoint() {
                checkpoints.add("checkpoint");
            }
        };
        // The server's segment size and checkpoint interval (64 MiB, 10,000 entries): a change a day fills neither, and
        // without rolls by age the first segment, and every entry in it, would stay for years (QA54 F1).
        try (FileJournal journal = Fixtures.builder(dir, clock).retention(Duration.ofDays(30)).hooks(hooks).open()) {
            journal.append(createEnvironment("staging"));
            journal.append(createFlag("staging", "billing-v2"));
            for (int day = 1; day <= 60; day++) {
                clock.advance(Duration.ofDays(1));
                journal.append(updateFlag("staging", "billing-v2", day % 2 == 0));
            }
            assertThat(checkpoints.poll(10, java.util.concurrent.TimeUnit.SECONDS)).as("asked for at a roll by age")
                    .isEqualTo("checkpoint");
            assertThat(Fixtures.segments(dir).size()).as("a segment about every 3 days (a tenth of the retention)")
                    .isBetween(8, 25);
            journal.checkpoint(); // the background ones may still run: this one applies the retention now, whatever they did
            Instant cutoff = clock.instant().minus(Duration.ofDays(30));
            long oldest = Segments.firstSequenceOf(Fixtures.segments(dir).get(0));
            Instant oldestKept = journal.read(oldest, 1).get(0).timestamp();
            assertThat(oldestKept).as("the entries older than the retention are gone, but for about two roll ages")
                    .isAfter(cutoff.minus(Duration.ofDays(7))).isBeforeOrEqualTo(cutoff);
            assertThat(journal.state().environment("staging").orElseThrow().version()).isEqualTo(62);
        }
        try (FileJournal journal = Fixtures.builder(dir, clock).retention(Duration.ofDays(30)).open()) {
            assertThat(journal.state().environment("staging").orElseThrow().version()).as("reopened from a checkpoint")
                    .isEqualTo(62);
        }
    }

    @Test
    void historyFromTheIndexIsExactlyWhatAScanOfTheWholeJournalFindsThroughRollsCheckpointsAndReopens()
            throws Exception {
        List<String> envs = List.of("staging", "production");
        List<String> keys = List.of("billing-v2", "checkout", "search", "billing-v3");
        java.util.Random random = new java.util.Random(20261203);
        java.util.Set<String> live = new java.util.HashSet<>();
        long flagChanges = 0;
        List<String> clones = new ArrayList<>();
        for (int round = 0; round < 4; round++) {
            // Each open indexes what the journal held when history is first read: before this round's
            // writes in even rounds, after them (so in front of what the writer indexed) in odd ones.
            try (FileJournal journal = Fixtures.builder(dir, clock).segmentSize(4096).checkpointInterval(25)
                    .open()) {
                if (round % 2 == 0) {
                    assertThat(journal.completeHistoryIndex().changes()).isEqualTo(flagChanges);
                }
                if (round == 0) {
                    envs.forEach(env -> journal.append(createEnvironment(env)));
                }
                for (int i = 0; i < 150; i++) {
                    String env = envs.get(random.nextInt(envs.size()));
                    String key = keys.get(random.nextInt(keys.size()));
                    int pick = random.nextInt(10);
                    if (pick == 0) {
                        journal.append(Fixtures.role(EntryType.ROLE_GRANTED, env, "u-" + round + "-" + i, "beta"));
                        continue;
                    }
                    Change change;
                    if (!live.contains(env + "/" + key)) {
                        change = createFlag(env, key);
                        live.add(env + "/" + key);
                    } else if (pick == 1) {
                        change = Change.of(EntryType.FLAG_ARCHIVED, env, "alice",
                                Fixtures.json("{\"key\":\"" + key + "\"}"));
                        live.remove(env + "/" + key);
                    } else {
                        change = updateFlag(env, key, random.nextBoolean()).withComment("round " + round + " step " + i);
                    }
                    journal.append(change);
                    flagChanges++;
                }
                // A clone is the first entry of every flag it copies (served and archived).
                String clone = "clone-" + round;
                JournalEntry cloned = journal.append(Change.of(EntryType.ENVIRONMENT_CLONED, clone, "admin",
                        Fixtures.json("{\"source\":\"" + envs.get(round % envs.size()) + "\"}")));
                flagChanges += FlagHistoryIndex.copiedFlags(cloned).size();
                clones.add(clone);
                List<String> all = new ArrayList<>(envs);
                all.addAll(clones);
                for (String env : all) {
                    for (String key : keys) {
                        assertThat(journal.history(env, key)).as(env + "/" + key)
                                .isEqualTo(journal.historyByScan(env, key));
                    }
                }
                assertThat(journal.history(clone, keys.get(0))).as("the clone, if it copied the flag")
                        .allSatisfy(e -> assertThat(e.type()).isEqualTo(EntryType.ENVIRONMENT_CLONED));
                assertThat(journal.completeHistoryIndex().changes()).isEqualTo(flagChanges);
            }
        }
        assertThat(Fixtures.segments(dir)).hasSizeGreaterThan(10);
        assertThat(Fixtures.checkpoints(dir)).isNotEmpty();
    }

    @Test
    void historyReadWhileChangesAreWrittenIsAlwaysEveryVersionSoFarWithNoGapOrRepeat() throws Exception {
        try (FileJournal journal = Fixtures.builder(dir, clock).segmentSize(4096).open()) {
            journal.append(createEnvironment("staging"));
            journal.append(createFlag("staging", "billing-v2"));
            for (int i = 0; i < 50; i++) {
                journal.append(updateFlag("staging", "billing-v2", i % 2 == 0));
            }
        }
        try (FileJournal journal = Fixtures.builder(dir, clock).segmentSize(4096).open()) {
            java.util.concurrent.atomic.AtomicBoolean writing = new java.util.concurrent.atomic.AtomicBoolean(true);
            java.util.concurrent.CompletableFuture<Void> writer = java.util.concurrent.CompletableFuture.runAsync(() -> {
                for (int i = 0; i < 300; i++) {
                    journal.append(updateFlag("staging", "billing-v2", i % 2 == 0));
                }
                writing.set(false);
            });
            int reads = 0;
            while (writing.get() || reads == 0) {
                List<JournalEntry> history = journal.history("staging", "billing-v2");
                for (int v = 0; v < history.size(); v++) {
                    assertThat(history.get(v).version()).as("read %d", reads).isEqualTo(v + 2);
                }
                reads++;
            }
            writer.get();
            assertThat(journal.history("staging", "billing-v2")).hasSize(351)
                    .isEqualTo(journal.historyByScan("staging", "billing-v2"));
        }
    }

    @Test
    void aPageOfHistoryIsTheNewestVersionsBelowBeforeOldestFirst() throws Exception {
        try (FileJournal journal = journalWithHistory()) {
            List<JournalEntry> all = journal.historyByScan("staging", "billing-v2");
            assertThat(all).hasSize(21);
            java.util.Set<Long> befores = new java.util.TreeSet<>(List.of(1L, 2L, Long.MAX_VALUE, journal.lastSequence() + 5));
            all.forEach(e -> {
                befores.add(e.version());
                befores.add(e.version() + 1); // a version of the environment that is not this flag's
            });
            for (long before : befores) {
                for (int limit : new int[] {0, 1, 3, 20, 21, 1000}) {
                    List<JournalEntry> below = all.stream().filter(e -> e.version() < before).collect(Collectors.toList());
                    List<JournalEntry> expected = below.subList(Math.max(0, below.size() - limit), below.size());
                    assertThat(journal.history("staging", "billing-v2", before, limit)).as("before %d, limit %d", before, limit)
                            .isEqualTo(expected);
                }
            }
            assertThat(journal.history("staging", "missing", Long.MAX_VALUE, 10)).isEmpty();
            assertThatThrownBy(() -> journal.history("staging", "billing-v2", 0, 10))
                    .hasMessage("before version must be at least 1, was 0");
            assertThatThrownBy(() -> journal.history("staging", "billing-v2", 5, -1))
                    .hasMessage("max entries must be at least 0, was -1");
        }
    }

    @Test
    void anIndexedPositionThatIsAnotherFlagsChangeIsReportedAsDamageNeverAnsweredAsThisFlagsHistory() throws Exception {
        try (FileJournal journal = journalWithHistory()) {
            FlagHistoryIndex index = journal.completeHistoryIndex();
            long[] other = index.positions("staging", "other");
            // a bug in the index would look like this: a position of "other" filed under "billing-v2"
            index.add("staging", "billing-v2", other[other.length - 2], other[other.length - 1]);

            assertThatThrownBy(() -> journal.history("staging", "billing-v2"))
                    .isInstanceOf(JournalCorruptedException.class)
                    .hasMessageContaining("the history index points at sequence " + other[other.length - 2])
                    .hasMessageContaining("\"billing-v2\" in \"staging\"")
                    .hasMessageContaining("of \"other\"");
            assertThat(journal.history("staging", "other")).isEqualTo(journal.historyByScan("staging", "other"));
        }
    }

    /** Holds the first scan about to open a segment file of a given name until the test lets it go on. */
    private static final class ScanPause implements FileJournal.Hooks {
        final AtomicReference<String> at = new AtomicReference<>();
        final CountDownLatch reached = new CountDownLatch(1);
        final CountDownLatch resume = new CountDownLatch(1);

        @Override
        public void beforeScanOpens(Path segment) {
            String wanted = at.get();
            if (segment.getFileName().toString().equals(wanted) && at.compareAndSet(wanted, null)) {
                reached.countDown();
                try {
                    resume.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /**
     * A journal of small segments, all written at T0, with a retention of 30 days and the clock 31 days on: the next
     * checkpoint removes every segment but the last. Flag "g" is created in one of the removed ones, after the second
     * segment starts.
     */
    private FileJournal journalAboutToLoseItsOldSegments(ScanPause pause) throws Exception {
        FileJournal journal = Fixtures.builder(dir, clock).segmentSize(4096).checkpointInterval(1_000_000)
                .retention(Duration.ofDays(30)).hooks(pause).open();
        journal.append(createEnvironment("staging"));
        journal.append(createFlag("staging", "billing-v2"));
        for (int i = 0; i < 30; i++) {
            journal.append(updateFlag("staging", "billing-v2", i % 2 == 0));
        }
        long g = journal.append(createFlag("staging", "g")).sequence();
        for (int i = 0; i < 40; i++) {
            journal.append(updateFlag("staging", "billing-v2", i % 2 == 0));
        }
        List<Path> segments = Fixtures.segments(dir);
        assertThat(Segments.firstSequenceOf(segments.get(1))).as("g is after the second segment's start").isLessThan(g);
        assertThat(Segments.firstSequenceOf(segments.get(segments.size() - 1))).as("g is in a segment retention removes")
                .isGreaterThan(g + 2);
        clock.advance(Duration.ofDays(31));
        return journal;
    }

    /**
     * Runs a read, holds it just before it opens the journal's second segment, lets a checkpoint apply the retention
     * (which removes that segment and the ones after it but the last), and lets the read go on.
     */
    private <T> CompletableFuture<T> overtakenByRetention(FileJournal journal, ScanPause pause, Supplier<T> read)
            throws Exception {
        List<Path> before = Fixtures.segments(dir);
        pause.at.set(before.get(1).getFileName().toString());
        CompletableFuture<T> reading = CompletableFuture.supplyAsync(read);
        assertThat(pause.reached.await(10, TimeUnit.SECONDS)).as("the read reached the second segment").isTrue();
        try {
            journal.checkpoint();
            assertThat(Fixtures.segments(dir)).as("retention removed every segment but the last")
                    .containsExactly(before.get(before.size() - 1));
        } finally {
            pause.resume.countDown();
        }
        return reading;
    }

    @Test
    void aReadThatRetentionOvertakesFailsAsRemovedByRetentionNeverReturnsEntriesWithAGap() throws Exception {
        ScanPause pause = new ScanPause();
        try (FileJournal journal = journalAboutToLoseItsOldSegments(pause)) {
            long second = Segments.firstSequenceOf(Fixtures.segments(dir).get(1));
            CompletableFuture<List<JournalEntry>> reading =
                    overtakenByRetention(journal, pause, () -> journal.read(1, Integer.MAX_VALUE));

            assertThat(reading).failsWithin(10, TimeUnit.SECONDS).withThrowableOfType(ExecutionException.class)
                    .havingCause().isInstanceOf(IllegalArgumentException.class)
                    .withMessage("sequence " + second + " was removed by retention while it was read; the oldest retained"
                            + " entry is " + journal.oldestRetainedSequence());
        }
    }

    @Test
    void aPastStateThatRetentionOvertakesIsRefusedNeverRebuiltWithoutTheRemovedChanges() throws Exception {
        ScanPause pause = new ScanPause();
        try (FileJournal journal = journalAboutToLoseItsOldSegments(pause)) {
            // (No append now: one would start a segment for the clock's jump, and its background checkpoint would apply
            // the retention before the test holds the rebuild.)
            long target = journal.lastSequence() - 1;
            List<Path> segments = Fixtures.segments(dir);
            assertThat(Segments.firstSequenceOf(segments.get(segments.size() - 1))).as("the target is in the segment kept")
                    .isLessThanOrEqualTo(target);
            assertThat(journal.stateAt(target).environment("staging").orElseThrow().flags()).containsKey("g");

            // No checkpoint is at or before the target, so the rebuild replays from sequence 1: across the removed ones.
            CompletableFuture<ServerState> rebuilding = overtakenByRetention(journal, pause, () -> journal.stateAt(target));

            assertThat(rebuilding).failsWithin(10, TimeUnit.SECONDS).withThrowableOfType(ExecutionException.class)
                    .havingCause().isInstanceOf(IllegalArgumentException.class)
                    .withMessageContaining("was removed by retention while it was read");
        }
    }

    @Test
    void anAuditThatRetentionOvertakesAnswersFromTheOldestRetainedEntryWithNoGap() throws Exception {
        ScanPause pause = new ScanPause();
        try (FileJournal journal = journalAboutToLoseItsOldSegments(pause)) {
            CompletableFuture<List<JournalEntry>> auditing = overtakenByRetention(journal, pause,
                    () -> journal.audit(Fixtures.T0, clock.instant(), Integer.MAX_VALUE));

            List<JournalEntry> audit = auditing.get(10, TimeUnit.SECONDS);
            assertThat(audit).extracting(JournalEntry::sequence).as("what a new audit finds, the retained entries")
                    .containsExactlyElementsOf(LongStream.rangeClosed(journal.oldestRetainedSequence(),
                            journal.lastSequence()).boxed().collect(Collectors.toList()));
        }
    }

    /** The reference: apply entries 1..seq to a fresh state. */
    private static ServerState replayed(Journal journal, long seq) {
        MutableState state = new MutableState();
        journal.read(1, (int) seq).forEach(state::apply);
        return state.freeze();
    }
}
