package dev.flags.server.sync;

import com.github.benmanes.caffeine.cache.AsyncLoadingCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.flags.server.journal.CanonicalJson;
import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.Journal;
import dev.flags.server.journal.JournalEntry;
import dev.flags.server.journal.JournalException;
import dev.flags.server.journal.ServerState;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe. The states an environment had at earlier versions, for subscribers that resume from
 * the version they have: a bounded, expiring cache in front of the journal.
 *
 * <p>Every state the fan-out publishes is remembered, so a subscriber that reconnects after a short
 * break usually finds its version here. After a server restart the cache is empty: the state at
 * (environment, version) is then rebuilt with {@link Journal#stateAt(long)} at the sequence number
 * of the entry that produced that version, which is searched for backwards from the journal's end
 * (see {@link #findSequence}). Many SDKs resume at the same version after a restart; the cache loads
 * each version once and every concurrent request for it waits for that one load.
 */
final class StateHistory {

  private static final Logger LOG = LoggerFactory.getLogger(StateHistory.class);
  private static final int FIRST_WINDOW = 1024;
  private static final int MAX_WINDOW = 65_536;

  /** One version of one environment. */
  record Key(String environment, long version) {}

  private final Journal journal;
  private final long searchLimit;
  private final AsyncLoadingCache<Key, Optional<EnvironmentState>> cache;
  private final LongAdder loads = new LongAdder();
  private final Executor loader;

  StateHistory(Journal journal, long maximumWeight, Duration expiry, long searchLimit,
      Ticker ticker, Executor loader) {
    this.journal = journal;
    this.searchLimit = searchLimit;
    this.loader = loader;
    this.cache = Caffeine.newBuilder()
        .maximumWeight(maximumWeight)
        .weigher((Key key, Optional<EnvironmentState> state) -> weight(state))
        .expireAfterAccess(expiry)
        .ticker(ticker)
        .executor(loader)
        .buildAsync(this::load);
  }

  /** What a flag or a user's grants hold in a state beside a document's bytes: its map entry, its key, a set. */
  private static final int ENTRY_BYTES = 128;

  /**
   * A state's weight: about the KiB a copy rebuilt from the journal holds (its flags' and archived flags' documents, and
   * an entry per user with grants), at least 1. Not a count of flags: a flag may hold a mebibyte, and a weight of one
   * per flag let an sdk token resuming from one old version after another keep thousands of copies of an environment
   * of large flags on the heap (beside QA77 F1: 16 flags of 1 MiB weighed 17 of the 200,000 the cache held).
   */
  static int weight(Optional<EnvironmentState> state) {
    if (state.isEmpty()) {
      return 1;
    }
    EnvironmentState s = state.get();
    long bytes = 0;
    for (CanonicalJson doc : s.flags().values()) {
      bytes += doc.size() + ENTRY_BYTES;
    }
    for (CanonicalJson doc : s.archivedFlags().values()) {
      bytes += doc.size() + ENTRY_BYTES;
    }
    bytes += (long) s.roleGrants().size() * ENTRY_BYTES;
    return (int) Math.min(Integer.MAX_VALUE, 1 + bytes / 1024);
  }

  /** @return the bytes of the flag documents in the states kept now (after pending evictions), for tests */
  long keptDocumentBytes() {
    cache.synchronous().cleanUp();
    long bytes = 0;
    for (Optional<EnvironmentState> state : cache.synchronous().asMap().values()) {
      if (state.isPresent()) {
        for (CanonicalJson doc : state.get().flags().values()) {
          bytes += doc.size();
        }
      }
    }
    return bytes;
  }

  /**
   * Returns the state an environment had at a version, loading it from the journal if needed.
   *
   * @return a future of the state, or of empty if the journal cannot give it (the version is too old
   *     for the search limit or retention, or does not exist); failed if the journal could not be read
   *     this time
   */
  CompletableFuture<Optional<EnvironmentState>> stateAt(String environment, long version) {
    return cache.get(new Key(environment, version));
  }

  /**
   * As {@link #stateAt}, but a load not kept or under way yet is started only if {@code mayStart} agrees, asked at most
   * once and atomically with the look for one: requests for one version that come together all share the load the first
   * of them started, and only that one is asked (a token's limit on rebuilds counts loads, not the SDKs that share one).
   *
   * @param mayStart asked, only when no load of the version is kept or under way, whether one may start now
   * @return the future {@link #stateAt} would return, or null if none was kept or under way and {@code mayStart} said no
   * @throws java.util.concurrent.RejectedExecutionException if the loader takes no more loads (shutting down); {@code
   *     mayStart} was asked and agreed then
   */
  CompletableFuture<Optional<EnvironmentState>> stateAtIf(String environment, long version,
      java.util.function.BooleanSupplier mayStart) {
    return cache.asMap().computeIfAbsent(new Key(environment, version),
        key -> mayStart.getAsBoolean() ? CompletableFuture.supplyAsync(() -> load(key), loader) : null);
  }

  /** Remembers a state that is known anyway (one the fan-out publishes). */
  void remember(EnvironmentState state) {
    cache.put(new Key(state.key(), state.version()),
        CompletableFuture.completedFuture(Optional.of(state)));
  }

  /** Drops the states of an environment deleted for good. */
  void forget(String environment) {
    cache.synchronous().asMap().keySet().removeIf(k -> k.environment().equals(environment));
  }

  /** How many times a state was loaded from the journal (not found in the cache). */
  long loads() {
    return loads.sum();
  }

  private Optional<EnvironmentState> load(Key key) {
    loads.increment();
    long started = System.nanoTime();
    try {
      ServerState now = journal.state();
      EnvironmentState current = now.environments().get(key.environment());
      if (current == null || key.version() < 1 || key.version() > current.version()) {
        return Optional.empty();
      }
      if (key.version() == current.version()) {
        return Optional.of(current);
      }
      long sequence = findSequence(key.environment(), key.version(), now.sequence(),
          current.version());
      if (sequence < 0) {
        LOG.debug("sync: version {} of environment {} not found within {} journal entries",
            key.version(), key.environment(), searchLimit);
        return Optional.empty();
      }
      EnvironmentState then = journal.stateAt(sequence).environments().get(key.environment());
      if (then == null || then.version() != key.version()) {
        return Optional.empty();
      }
      LOG.debug("sync: rebuilt version {} of environment {} from sequence {} in {} ms",
          key.version(), key.environment(), sequence,
          Duration.ofNanos(System.nanoTime() - started).toMillis());
      return Optional.of(then);
    } catch (IllegalArgumentException e) {
      // Removed by retention, for good: the subscriber gets a snapshot instead, and so does the next one.
      LOG.debug("sync: cannot rebuild version {} of environment {}: {}", key.version(),
          key.environment(), e.getMessage());
      return Optional.empty();
    } catch (JournalException e) {
      // A read that failed this time (the journal closing, an i/o error): the subscriber gets a snapshot, and the
      // failure is not kept, as an empty answer would be for ten minutes of resumes from that version.
      LOG.debug("sync: cannot rebuild version {} of environment {} now: {}", key.version(),
          key.environment(), e.getMessage());
      throw e;
    }
  }

  /**
   * Finds the sequence number of the entry that took an environment to a version, or -1.
   *
   * <p>Per environment, versions count its entries, and sequence numbers grow with them. So when the
   * journal ends at sequence {@code last} with the environment at {@code current}, the entry for
   * {@code version} lies at or before {@code last - (current - version)} (the later versions' entries
   * follow it) and at or after {@code version} (the earlier ones precede it). Windows are read
   * backwards from that upper bound, growing, and each entry of the environment seen in a window
   * tightens the bound the same way, so a recent version costs one small read. At most the search
   * limit of entries is read, and none before the oldest the journal retains.
   */
  long findSequence(String environment, long version, long last, long current) {
    long high = last - (current - version);
    // Nor before the journal's first entry: after retention or a repair from a checkpoint it is past sequence 1, and a
    // window reaching below it would fail whole, though the entry may be in its retained part.
    long low = Math.max(version, journal.oldestRetainedSequence());
    long window = FIRST_WINDOW;
    long scanned = 0;
    while (high >= low && scanned < searchLimit) {
      long from = Math.max(low, high - Math.min(window, searchLimit - scanned) + 1);
      List<JournalEntry> entries = journal.read(from, (int) (high - from + 1));
      scanned += entries.size();
      long lowestVersion = Long.MAX_VALUE;
      long lowestSequence = -1;
      for (JournalEntry e : entries) {
        if (environment.equals(e.environment())) {
          if (e.version() == version) {
            return e.sequence();
          }
          if (e.version() < lowestVersion) {
            lowestVersion = e.version();
            lowestSequence = e.sequence();
          }
        }
      }
      if (lowestVersion < version || entries.isEmpty()) {
        return -1; // passed it without seeing it: the journal does not have it
      }
      high = from - 1;
      if (lowestSequence > 0) {
        high = Math.min(high, lowestSequence - (lowestVersion - version));
      }
      window = Math.min(window * 4, MAX_WINDOW);
    }
    return -1;
  }
}
