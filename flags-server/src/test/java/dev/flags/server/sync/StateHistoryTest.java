package dev.flags.server.sync;

import static dev.flags.server.sync.SyncFixture.createEnvironment;
import static dev.flags.server.sync.SyncFixture.createFlag;
import static dev.flags.server.sync.SyncFixture.updateFlag;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.FileJournal;
import dev.flags.server.journal.Journal;
import dev.flags.server.journal.JournalException;
import dev.flags.server.journal.JournalEntry;
import dev.flags.server.journal.ServerState;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Finding the state of an earlier version in the journal, as after a restart. */
class StateHistoryTest {

  @TempDir
  Path dir;

  @Test
  void findsTheEntryOfEveryVersionAmongOtherEnvironmentsEntries() {
    try (FileJournal journal = FileJournal.builder(dir).segmentSize(64 * 1024).open()) {
      String[] envs = {"a", "b", "c"};
      for (String env : envs) {
        journal.append(createEnvironment(env));
        journal.append(createFlag(env, "f"));
      }
      Random random = new Random(7);
      for (int i = 0; i < 3000; i++) {
        String env = envs[random.nextInt(10) < 7 ? 0 : 1 + random.nextInt(2)];
        journal.append(updateFlag(env, "f", random.nextBoolean(), random.nextInt(101)));
      }
      StateHistory history = new StateHistory(journal, 1000, Duration.ofMinutes(1), 1_000_000,
          Ticker.systemTicker(), Runnable::run);
      ServerState now = journal.state();
      Map<String, Long> expected = new HashMap<>();
      List<JournalEntry> all = journal.read(1, 10_000);
      for (String env : envs) {
        long current = now.environment(env).orElseThrow().version();
        for (JournalEntry e : all) {
          if (env.equals(e.environment())) {
            assertThat(history.findSequence(env, e.version(), now.sequence(), current))
                .as("%s v%d", env, e.version()).isEqualTo(e.sequence());
          }
        }
        expected.put(env, current);
      }
      assertThat(expected.get("a")).isGreaterThan(1500);
    }
  }

  @Test
  void statesOfLargeFlagsAreKeptByTheirBytesNotByHowManyFlagsTheyHave() {
    try (FileJournal journal = FileJournal.builder(dir).open()) {
      journal.append(createEnvironment("production"));
      for (int i = 0; i < 3; i++) {
        journal.append(createFlag("production", "f" + i));
      }
      for (int i = 0; i < 40; i++) {
        journal.append(SyncFixture.bigUpdate("production", "f" + (i % 3), i, 100_000));
      }
      long current = journal.state().environment("production").orElseThrow().version();
      // At most 1 MiB of states: three or so of these (300 KB each), where a weight of one per flag took all 40.
      StateHistory history = new StateHistory(journal, 1024, Duration.ofMinutes(1), 1_000_000, Ticker.systemTicker(),
          Runnable::run);
      for (long v = current - 40; v < current; v++) {
        assertThat(history.stateAt("production", v).join()).as("v%d", v).isPresent();
      }
      assertThat(history.keptDocumentBytes()).isPositive().isLessThanOrEqualTo(1024 * 1024);
    }
  }

  @Test
  void aJournalReadThatFailedIsNotRememberedAsAVersionTheJournalDoesNotHave() {
    try (FileJournal real = FileJournal.builder(dir).open()) {
      real.append(createEnvironment("production"));
      real.append(createFlag("production", "f"));
      real.append(updateFlag("production", "f", true, 50));
      java.util.concurrent.atomic.AtomicBoolean failNext = new java.util.concurrent.atomic.AtomicBoolean(true);
      Journal failingOnce = (Journal) java.lang.reflect.Proxy.newProxyInstance(Journal.class.getClassLoader(),
          new Class<?>[] {Journal.class}, (proxy, method, args) -> {
            if (method.getName().equals("stateAt") && failNext.getAndSet(false)) {
              throw new JournalException("an i/o error, this once");
            }
            try {
              return method.invoke(real, args);
            } catch (java.lang.reflect.InvocationTargetException e) {
              throw e.getCause();
            }
          });
      StateHistory history = new StateHistory(failingOnce, 1000, Duration.ofMinutes(10), 1_000_000,
          Ticker.systemTicker(), Runnable::run);
      assertThat(history.stateAt("production", 2)).isCompletedExceptionally(); // that subscriber gets a snapshot
      assertThat(history.stateAt("production", 2).join()).as("read again, not the failure kept for ten minutes")
          .hasValueSatisfying(s -> assertThat(s.version()).isEqualTo(2));
    }
  }

  @Test
  void findsAVersionJustPastTheOldestRetainedEntryAndSaysNoForOneBeforeIt() throws Exception {
    // After retention (or a repair from a checkpoint) the journal starts past sequence 1: a window reaching below its
    // first entry must start there, not fail, or every SDK resuming near it gets a snapshot instead of a delta.
    dev.flags.server.journal.MutableClock clock =
        new dev.flags.server.journal.MutableClock(java.time.Instant.parse("2026-12-06T09:00:00Z"));
    try (FileJournal journal = FileJournal.builder(dir).clock(clock).segmentSize(4096).checkpointInterval(1_000_000)
        .retention(Duration.ofDays(30)).open()) {
      journal.append(createEnvironment("production"));
      journal.append(createFlag("production", "f"));
      for (int i = 0; i < 60; i++) {
        journal.append(updateFlag("production", "f", i % 2 == 0, 100));
      }
      journal.checkpoint();
      clock.advance(Duration.ofDays(31));
      journal.append(updateFlag("production", "f", true, 100));
      journal.checkpoint();
      journal.checkpoint();
      long oldest = journal.oldestRetainedSequence();
      assertThat(oldest).as("retention removed the first segments").isGreaterThan(2);

      StateHistory history = new StateHistory(journal, 1000, Duration.ofMinutes(1), 1_000_000,
          Ticker.systemTicker(), Runnable::run);
      ServerState now = journal.state();
      long current = now.environment("production").orElseThrow().version();
      List<JournalEntry> retained = journal.read(oldest, 10_000);
      for (JournalEntry e : retained) {
        assertThat(history.findSequence("production", e.version(), now.sequence(), current))
            .as("v%d at sequence %d", e.version(), e.sequence()).isEqualTo(e.sequence());
      }
      long removed = retained.get(0).version() - 1;
      assertThat(history.findSequence("production", removed, now.sequence(), current)).as("removed by retention")
          .isEqualTo(-1);
      // Rebuilt from the checkpoint before it (the first retained entries have none before them: the state cannot be).
      assertThat(history.stateAt("production", current - 1).get(5, TimeUnit.SECONDS)).isPresent();
    }
  }

  @Test
  void forgettingADeletedEnvironmentLetsGoOfItsStatesAndKeepsTheOthers() throws Exception {
    try (FileJournal journal = FileJournal.builder(dir).open()) {
      journal.append(createEnvironment("pr-7"));
      journal.append(createEnvironment("staging"));
      StateHistory history = new StateHistory(journal, 1000, Duration.ofMinutes(1), 1_000_000,
          Ticker.systemTicker(), Runnable::run);
      history.remember(journal.state().environment("pr-7").orElseThrow());
      history.remember(journal.state().environment("staging").orElseThrow());
      journal.append(dev.flags.server.journal.Change.of(dev.flags.server.journal.EntryType.ENVIRONMENT_ARCHIVED, "pr-7", "admin",
          SyncFixture.MAPPER.createObjectNode()));
      journal.append(dev.flags.server.journal.Change.of(dev.flags.server.journal.EntryType.ENVIRONMENT_DELETED, "pr-7", "admin",
          SyncFixture.MAPPER.createObjectNode()));

      history.forget("pr-7");
      assertThat(history.stateAt("pr-7", 1).get(5, TimeUnit.SECONDS)).as("gone: not served from memory").isEmpty();
      assertThat(history.stateAt("staging", 1).get(5, TimeUnit.SECONDS)).isPresent();
      assertThat(history.loads()).as("only the deleted one was looked up again").isEqualTo(1);
    }
  }

  @Test
  void loadsAStateOnceAndGivesEmptyBeyondTheSearchLimit() throws Exception {
    try (FileJournal journal = FileJournal.builder(dir).open()) {
      journal.append(createEnvironment("a"));
      journal.append(createFlag("a", "f"));
      journal.append(createEnvironment("b"));
      for (int i = 0; i < 200; i++) {
        journal.append(createFlag("b", "f-" + i));
      }
      journal.append(updateFlag("a", "f", true, 50));
      EnvironmentState atTwo = journal.stateAt(2).environment("a").orElseThrow();

      StateHistory wide = new StateHistory(journal, 1000, Duration.ofMinutes(1), 1_000,
          Ticker.systemTicker(), Runnable::run);
      assertThat(wide.stateAt("a", 2).get(10, TimeUnit.SECONDS)).contains(atTwo);
      assertThat(wide.stateAt("a", 2).get(10, TimeUnit.SECONDS)).contains(atTwo);
      assertThat(wide.loads()).isEqualTo(1);

      StateHistory narrow = new StateHistory(journal, 1000, Duration.ofMinutes(1), 50,
          Ticker.systemTicker(), Runnable::run);
      assertThat(narrow.stateAt("a", 2).get(10, TimeUnit.SECONDS)).isEqualTo(Optional.empty());
      assertThat(narrow.stateAt("nowhere", 1).get(10, TimeUnit.SECONDS)).isEmpty();
    }
  }

  @Test
  void requestsForOneVersionThatComeTogetherAskToStartOneLoadAndAllShareIt() throws Exception {
    // A fleet resuming from one version after a restart: its token's limit on rebuilds must count one (QA95's limit
    // counted each request that came before the load was registered, and the fifth of them got a snapshot).
    int callers = 16;
    ExecutorService loaderThread = Executors.newSingleThreadExecutor();
    ExecutorService callerThreads = Executors.newFixedThreadPool(callers);
    CountDownLatch release = new CountDownLatch(1);
    try (FileJournal journal = FileJournal.builder(dir).open()) {
      journal.append(createEnvironment("a"));
      journal.append(createFlag("a", "f"));
      journal.append(updateFlag("a", "f", true, 50));
      long earlier = journal.state().environment("a").orElseThrow().version() - 1;
      // Loads wait until released: every request comes while the one load is under way.
      StateHistory history = new StateHistory(journal, 1000, Duration.ofMinutes(1), 1_000_000, Ticker.systemTicker(),
          task -> loaderThread.execute(() -> {
            try {
              release.await();
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            task.run();
          }));
      AtomicInteger asked = new AtomicInteger();
      CyclicBarrier together = new CyclicBarrier(callers);
      List<Future<CompletableFuture<Optional<EnvironmentState>>>> calls = new java.util.ArrayList<>();
      for (int i = 0; i < callers; i++) {
        calls.add(callerThreads.submit(() -> {
          together.await(10, TimeUnit.SECONDS);
          return history.stateAtIf("a", earlier, () -> asked.incrementAndGet() > 0);
        }));
      }
      java.util.Set<CompletableFuture<Optional<EnvironmentState>>> futures =
          java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
      for (Future<CompletableFuture<Optional<EnvironmentState>>> call : calls) {
        futures.add(call.get(10, TimeUnit.SECONDS));
      }
      assertThat(asked).as("asked once, by the request that started the load").hasValue(1);
      assertThat(futures).as("one load, shared").hasSize(1);
      assertThat(history.stateAtIf("a", earlier + 1, () -> false)).as("none under way, and refused").isNull();

      release.countDown();
      assertThat(futures.iterator().next().get(10, TimeUnit.SECONDS).orElseThrow().version()).isEqualTo(earlier);
      assertThat(history.loads()).isEqualTo(1);
    } finally {
      release.countDown();
      loaderThread.shutdownNow();
      callerThreads.shutdownNow();
    }
  }
}
