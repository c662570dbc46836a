package dev.flags.server.journal;

import static dev.flags.server.journal.Fixtures.createEnvironment;
import static dev.flags.server.journal.Fixtures.createFlag;
import static dev.flags.server.journal.Fixtures.updateFlag;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Collectors;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Concurrent appenders share forces: what queues up during one force goes out in the next. */
class GroupCommitTest {

    @TempDir
    Path dir;

    final ExecutorService pool = Executors.newFixedThreadPool(16, r -> {
        Thread t = new Thread(r, "test-appender");
        t.setDaemon(true);
        return t;
    });

    @AfterEach
    void stopPool() throws InterruptedException {
        pool.shutdownNow();
        assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void appendsQueuedDuringAForceShareTheNextOne() throws Exception {
        CountDownLatch firstForceStarted = new CountDownLatch(1);
        CountDownLatch releaseFirstForce = new CountDownLatch(1);
        CountDownLatch othersQueued = new CountDownLatch(15);
        FileJournal.Hooks hooks = new FileJournal.Hooks() {
            @Override
            public void enqueued(JournalEntry entry) {
                if (entry.sequence() > 1) {
                    othersQueued.countDown();
                }
            }

            @Override
            public void beforeForce() {
                if (firstForceStarted.getCount() == 1) {
                    firstForceStarted.countDown();
                    await(releaseFirstForce);
                }
            }
        };
        try (FileJournal journal = FileJournal.builder(dir).hooks(hooks).open()) {
            CompletableFuture<JournalEntry> first =
                    CompletableFuture.supplyAsync(() -> journal.append(createEnvironment("env-0")), pool);
            assertThat(firstForceStarted.await(30, TimeUnit.SECONDS)).isTrue();

            // While the first force is stuck, fifteen more appends queue up.
            List<CompletableFuture<JournalEntry>> others = new ArrayList<>();
            for (int i = 1; i <= 15; i++) {
                String env = "env-" + i;
                others.add(CompletableFuture.supplyAsync(() -> journal.append(createEnvironment(env)),
                        pool));
            }
            assertThat(othersQueued.await(30, TimeUnit.SECONDS)).isTrue();
            assertThat(first).isNotDone();
            assertThat(others).noneMatch(CompletableFuture::isDone);
            assertThat(journal.lastSequence()).isZero(); // nothing is acknowledged before its force

            releaseFirstForce.countDown();
            assertThat(first.get(30, TimeUnit.SECONDS).sequence()).isEqualTo(1);
            List<Long> sequences = new ArrayList<>();
            for (CompletableFuture<JournalEntry> f : others) {
                sequences.add(f.get(30, TimeUnit.SECONDS).sequence());
            }

            assertThat(sequences).containsExactlyInAnyOrderElementsOf(
                    LongStream.rangeClosed(2, 16).boxed().collect(Collectors.toList()));
            assertThat(journal.forceCount()).isEqualTo(2);
            assertThat(journal.state().environments()).hasSize(16);
        }
    }

    @Test
    void sixteenWritersNeedFarFewerForcesThanAppends() throws Exception {
        int writers = 16;
        int each = 100;
        // Every force takes at least 0.2 ms, as on a fast SSD, so that the test means the same on
        // a tmpfs (where a force costs nothing and batches could stay small).
        FileJournal.Hooks ssdLike = new FileJournal.Hooks() {
            @Override
            public void beforeForce() {
                LockSupport.parkNanos(200_000);
            }
        };
        try (FileJournal journal = FileJournal.builder(dir).segmentSize(64 * 1024).hooks(ssdLike)
                .open()) {
            journal.append(createEnvironment("prod"));
            for (int w = 0; w < writers; w++) {
                journal.append(createFlag("prod", "flag-" + w));
            }
            long forcesBefore = journal.forceCount();
            CountDownLatch start = new CountDownLatch(1);
            List<CompletableFuture<List<Long>>> results = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                String key = "flag-" + w;
                results.add(CompletableFuture.supplyAsync(() -> {
                    await(start);
                    List<Long> mine = new ArrayList<>();
                    for (int i = 0; i < each; i++) {
                        mine.add(journal.append(updateFlag("prod", key, i % 2 == 0)).sequence());
                    }
                    return mine;
                }, pool));
            }
            start.countDown();
            List<Long> all = new ArrayList<>();
            for (CompletableFuture<List<Long>> r : results) {
                List<Long> mine = r.get(60, TimeUnit.SECONDS);
                assertThat(mine).isSorted();
                all.addAll(mine);
            }
            long forces = journal.forceCount() - forcesBefore;
            int appends = writers * each;

            assertThat(all).doesNotHaveDuplicates().hasSize(appends);
            assertThat(forces).as("forces for %d appends", appends).isLessThan(appends / 2);
            assertThat(journal.read(1, 10_000)).hasSize(1 + writers + appends);
            assertThat(journal.state().environment("prod").orElseThrow().version())
                    .isEqualTo(1 + writers + appends);
        }
    }

    @Test
    void closeCommitsWhatWasAlreadyAccepted() throws Exception {
        CountDownLatch forceStarted = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        FileJournal.Hooks hooks = new FileJournal.Hooks() {
            @Override
            public void beforeForce() {
                forceStarted.countDown();
                await(release);
            }
        };
        FileJournal journal = FileJournal.builder(dir).hooks(hooks).open();
        CompletableFuture<JournalEntry> first =
                CompletableFuture.supplyAsync(() -> journal.append(createEnvironment("a")), pool);
        assertThat(forceStarted.await(30, TimeUnit.SECONDS)).isTrue();
        CompletableFuture<JournalEntry> second =
                CompletableFuture.supplyAsync(() -> journal.append(createEnvironment("b")), pool);
        CompletableFuture<Void> closing = CompletableFuture.runAsync(journal::close, pool);
        release.countDown();
        closing.get(30, TimeUnit.SECONDS);

        assertThat(first.get(30, TimeUnit.SECONDS).sequence()).isEqualTo(1);
        // The second append was either accepted before close (then it is committed) or refused.
        boolean accepted = !second.isCompletedExceptionally();
        try (FileJournal reopened = FileJournal.builder(dir).open()) {
            assertThat(reopened.lastSequence()).isEqualTo(accepted ? 2 : 1);
        }
    }

    @Test
    void anIoFailureStopsTheJournalAndNothingMoreIsAcknowledged() throws Exception {
        AtomicInteger forces = new AtomicInteger();
        FileJournal.Hooks failSecondForce = new FileJournal.Hooks() {
            @Override
            public void beforeForce() {
                if (forces.incrementAndGet() == 2) {
                    throw new UncheckedIOException(new IOException("simulated eio"));
                }
            }
        };
        try (FileJournal journal = FileJournal.builder(dir).hooks(failSecondForce).open()) {
            journal.append(createEnvironment("prod"));
            assertThatThrownBy(
                    () -> journal.append(createFlag("prod", "a")))
                    .isInstanceOf(JournalException.class)
                    .hasMessageContaining("journal stopped after an i/o failure")
                    .hasMessageContaining("simulated eio")
                    .hasMessageContaining("nothing after sequence 1 is acknowledged");
            assertThatThrownBy(
                    () -> journal.append(createFlag("prod", "b")))
                    .isInstanceOf(JournalException.class)
                    .hasMessageContaining("journal stopped after an i/o failure");
            assertThat(journal.lastSequence()).isEqualTo(1);
            assertThat(journal.state().environment("prod").orElseThrow().flags()).isEmpty();
        }
        // The failed entry was written but never acknowledged: cut at the failure, so the reopen finds nothing to set
        // aside (no torn tail taken for a crash) and not the entry its appender was told failed.
        try (FileJournal reopened = FileJournal.builder(dir).open()) {
            assertThat(reopened.lastSequence()).isEqualTo(1);
            assertThat(reopened.recoveryReport().discardedBytes()).isZero();
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            if (!latch.await(60, TimeUnit.SECONDS)) {
                throw new AssertionError("latch not released");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
