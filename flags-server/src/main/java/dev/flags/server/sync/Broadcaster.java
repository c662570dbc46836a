package dev.flags.server.sync;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.flags.protocol.v1.Snapshot;
import dev.flags.protocol.v1.SyncMessage;
import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.Journal;
import dev.flags.server.journal.JournalException;
import dev.flags.server.journal.ServerState;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe. The fan-out of committed changes to every subscribed sync stream.
 *
 * <p>The server's write path calls {@link #environmentChanged(String)} after every journal append
 * that touched an environment; the call only publishes the environment's new state and returns (it
 * never writes to a stream). Every subscriber of that environment then gets, from its own writer, the
 * changes it is missing, in order, without gaps or duplicates, as a Delta from the last state it was
 * sent to the newest one. A subscriber that is slow or stuck (its stream is not {@linkplain
 * ServerCallStreamObserver#isReady() ready}) holds up no one and costs one remembered state: its
 * pending changes are coalesced into one Delta when it is ready again. Writers run on a small pool of
 * daemon threads named {@code flags-sync-N}; idle streams get a Heartbeat every {@linkplain
 * Builder#heartbeatInterval heartbeat interval}.
 *
 * <p>A subscriber resuming from version {@code v} gets nothing but heartbeats if {@code v} is the
 * current version (the first right away, so it knows it is up to date), one Delta from {@code v} if
 * the state at {@code v} can be had (from memory, or rebuilt from the journal after a restart, see
 * {@link Builder#historySearchLimit}), and otherwise (0, too old, or ahead of the server after a data
 * loss) a Snapshot.
 *
 * <pre>{@code
 * Broadcaster broadcaster = Broadcaster.builder(journal)
 *     .heartbeatInterval(Duration.ofSeconds(15))
 *     .build();
 * ChangeWriter writer = new ChangeWriter(journal, metrics, broadcaster::environmentChanged);
 * Server grpc = NettyServerBuilder.forPort(9090)
 *     .addService(SyncService.definition(broadcaster, tokens))
 *     .build().start();
 * metrics.register("flags_grpc_streams_connected", "Connected sync streams.", "gauge",
 *     broadcaster::connectedStreams);
 * // on SIGTERM, after the writes in flight are done:
 * broadcaster.shutdown();  // every stream ends with UNAVAILABLE: reconnect and resume
 * grpc.shutdown().awaitTermination(5, TimeUnit.SECONDS);
 * }</pre>
 */
public final class Broadcaster implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(Broadcaster.class);

  /**
   * How many heartbeat intervals a call may hold its large message, untaken, while others wait for the send buffer
   * before it is cut (30 s at the default interval). An SDK of this project gives up on a stream after three
   * intervals without a message (unless a large one is still arriving).
   */
  static final int OVERDUE_HEARTBEATS = 2;

  /** The status every stream is closed with on {@link #shutdown()}. */
  static final Status REVOKED = Status.UNAUTHENTICATED.withDescription(
      "the token was revoked: give the application (or whoever uses it) a new one");

  /** The status a token's streams are closed with when it expires. */
  static final Status EXPIRED = Status.UNAUTHENTICATED.withDescription(
      "the token expired: give the application (or whoever uses it) a new one");

  static final Status SHUTTING_DOWN = Status.UNAVAILABLE.withDescription(
      "the flag server is shutting down: reconnect (to another instance if there is one) and"
          + " resume from the version you have");

  private final Journal journal;
  private final Clock clock;
  private final Ticker ticker;
  private final long heartbeatNanos;
  private final long heartbeatMillis;
  private final Duration shutdownTimeout;
  private final ScheduledThreadPoolExecutor executor;
  private final ScheduledThreadPoolExecutor loader;
  private final StateHistory history;
  private final ConcurrentHashMap<String, Topic> topics = new ConcurrentHashMap<>();
  private final SharedEncoding encoding = new SharedEncoding();
  private final AtomicBoolean shutdown = new AtomicBoolean();
  private final AtomicInteger connected = new AtomicInteger();
  private final int maxStreamsPerToken;
  private final SendBudget budget;
  /** Open streams by token id; a token with none has no entry. */
  private final ConcurrentHashMap<String, Integer> streamsByToken = new ConcurrentHashMap<>();
  /**
   * Per token refused for its stream cap: when its last WARN was written and how many were refused since. One WARN a
   * minute at most per token, not one per "episode": a token whose streams hover at the cap (one ends, two come) began
   * a new episode with every stream that ended, and whoever holds it wrote a WARN per three calls (QA95 F1).
   */
  private final ConcurrentHashMap<String, CapRefusals> capRefusals = new ConcurrentHashMap<>();
  /** Rebuilds of earlier states queued or running, by the token whose resume asked for them; none: no entry. */
  private final ConcurrentHashMap<String, Integer> rebuildsByToken = new ConcurrentHashMap<>();
  /** Tokens revoked while this server ran: checked again after a subscription registers (see subscribe). */
  private final Set<String> revokedTokens = ConcurrentHashMap.newKeySet();
  /** Tokens that expired while this server ran: checked as revoked ones are. */
  private final Set<String> expiredTokens = ConcurrentHashMap.newKeySet();
  private final LongAdder deltas = new LongAdder();
  private final LongAdder snapshots = new LongAdder();
  private final LongAdder heartbeats = new LongAdder();
  private final LongAdder outOfMemoryErrors = new LongAdder();
  private final LongAdder cut = new LongAdder();
  private final RefusedCalls refusedCalls = new RefusedCalls();

  private Broadcaster(Builder b) {
    this.journal = b.journal;
    this.clock = b.clock;
    this.ticker = b.ticker;
    this.heartbeatNanos = b.heartbeatInterval.toNanos();
    this.heartbeatMillis = Math.max(1, b.heartbeatInterval.toMillis());
    this.shutdownTimeout = b.shutdownTimeout;
    this.maxStreamsPerToken = b.maxStreamsPerToken;
    this.budget = new SendBudget(b.sendBufferBytes, ticker::read);
    this.executor = new ScheduledThreadPoolExecutor(b.threads, daemonThreads("flags-sync-"));
    this.executor.setRemoveOnCancelPolicy(true);
    this.loader = new ScheduledThreadPoolExecutor(1, daemonThreads("flags-sync-history-"));
    this.history = new StateHistory(journal, b.historyCacheWeight, b.historyCacheExpiry,
        b.historySearchLimit, ticker, loader);
    // Look for idle streams a few times per interval, so a heartbeat is at most a quarter late.
    long tick = Math.max(TimeUnit.MILLISECONDS.toNanos(1), heartbeatNanos / 4);
    executor.scheduleAtFixedRate(this::heartbeatTick, tick, tick, TimeUnit.NANOSECONDS);
  }

  private static ThreadFactory daemonThreads(String prefix) {
    AtomicInteger count = new AtomicInteger();
    return task -> {
      Thread t = new Thread(task, prefix + count.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  /**
   * Starts building a broadcaster over a journal.
   *
   * @param journal where the states come from; the broadcaster never writes to it
   * @return a new builder with the defaults
   * @throws NullPointerException if journal is null
   */
  public static Builder builder(Journal journal) {
    return new Builder(journal);
  }

  /** The fan-out of an environment, or null if nobody subscribed to it yet. */
  Topic topic(String environment) {
    return topics.get(environment);
  }

  /**
   * Tells the subscribers of an environment that it changed. Call it after every journal append that
   * touched the environment, once {@link Journal#state()} includes the change; calls may come from
   * any thread, in any order, and may be coalesced: each subscriber converges to the newest state.
   * Never blocks on a stream: it publishes the state and schedules the writers.
   *
   * @param environment the environment's key
   * @throws NullPointerException if environment is null
   */
  public void environmentChanged(String environment) {
    Objects.requireNonNull(environment, "environment");
    Topic topic = topics.get(environment);
    if (topic == null || shutdown.get()) {
      return; // nobody subscribed yet: the first subscriber reads the state itself
    }
    refresh(topic);
  }

  /**
   * Closes every stream of a revoked token with {@code UNAUTHENTICATED}: a revocation takes effect at
   * once, not at the stream's next reconnect (which might be days away). Call it after the revocation
   * is in the journal, so that the token's reconnects are refused too.
   *
   * @param tokenId the revoked token's id
   * @return how many streams were closed
   */
  public int tokenRevoked(String tokenId) {
    return tokenEnded(tokenId, revokedTokens, REVOKED, "was revoked");
  }

  /**
   * Closes every stream of an expired token with {@code UNAUTHENTICATED} ("the sdk token expired"):
   * the expiry takes effect on the streams opened before it, not at their next reconnect. Call it once
   * the token's expiry has passed, so that its reconnects are refused too (see {@code TokenExpiry}).
   *
   * @param tokenId the expired token's id
   * @return how many streams were closed
   */
  public int tokenExpired(String tokenId) {
    return tokenEnded(tokenId, expiredTokens, EXPIRED, "expired");
  }

  /** Remembers a token that may no longer sync (its late registrations are closed too) and closes its streams. */
  private int tokenEnded(String tokenId, Set<String> ended, Status status, String how) {
    Objects.requireNonNull(tokenId, "tokenId");
    ended.add(tokenId);
    int closed = closeStreamsOf(tokenId, status);
    if (closed > 0) {
      LOG.info("sync: token {} {}; streams closed: {}", tokenId, how, closed);
    }
    return closed;
  }

  private int closeStreamsOf(String tokenId, Status status) {
    int closed = 0;
    for (Topic topic : topics.values()) {
      for (Subscription s : topic.subscribers()) {
        if (s.tokenId().equals(tokenId)) {
          s.end(status);
          closed++;
        }
      }
    }
    return closed;
  }

  /** Publishes the journal's current state of the topic's environment; schedules a pass if new. */
  private void refresh(Topic topic) {
    ServerState state;
    try {
      state = journal.state();
    } catch (JournalException e) {
      LOG.debug("sync: journal unavailable, not publishing {}: {}", quotedEnvironment(topic.environment),
          e.getMessage());
      return;
    }
    EnvironmentState env = state.environments().get(topic.environment);
    if (env == null && state.wasDeleted(topic.environment)) {
      deleted(topic);
      return;
    }
    if (env != null && topic.publish(env, state.timestamp().toEpochMilli(), heartbeatMillis)) {
      history.remember(env);
      if (topic.claimPass()) {
        try {
          executor.execute(topic::pass);
        } catch (RejectedExecutionException e) {
          // shutting down
        }
      }
    }
  }

  /**
   * Ends the streams of an environment deleted for good with {@code NOT_FOUND}: their SDKs keep serving what they
   * have. The key is never used again, so the topic ends for good too; dropping it and its states frees their heap.
   */
  private void deleted(Topic topic) {
    topic.end();
    topics.remove(topic.environment, topic);
    history.forget(topic.environment);
    int closed = 0;
    for (Subscription s : topic.subscribers()) {
      s.end(deletedStatus(topic.environment));
      closed++;
    }
    if (closed > 0) {
      LOG.info("sync: environment {} was deleted; streams closed: {}", quotedEnvironment(topic.environment), closed);
    }
  }

  /**
   * An environment as a status sent to an SDK, or a log line, quotes it: in double quotes, cut to 80 characters, control characters
   * escaped; or {@link StreamIdentity#HIDDEN_TOKEN} for a key that looks like a token (the SDK's token given as its
   * environment too, QA85 F2, or an environment created before such keys were refused), which the SDK would log.
   */
  static String quotedEnvironment(String environment) {
    return dev.flags.core.ReadableText.holdsAToken(environment) ? StreamIdentity.HIDDEN_TOKEN
        : "\"" + dev.flags.server.LogText.escape(environment.length() > 80 ? environment.substring(0, 77) + "..." : environment)
            + "\"";
  }

  /** Why a stream of an environment that went as it started is closed: deleted for good, or not there at all. */
  static Status notThereStatus(String environment, boolean deleted) {
    return deleted ? deletedStatus(environment)
        : Status.NOT_FOUND.withDescription("environment " + quotedEnvironment(environment) + " does not exist");
  }

  /** Why a stream of an environment deleted for good ends, or is refused. */
  static Status deletedStatus(String environment) {
    // Quoted as every refusal quotes an environment: an environment created before its key was checked for a token
    // (QA67 F3) may have a token-shaped key, and this status goes to its SDKs, which log it (QA88 F3).
    return Status.NOT_FOUND.withDescription("environment " + quotedEnvironment(environment) + " was deleted for good: point the SDK"
        + " at another environment (until then it serves what it has: its last flags, its cache file, or the defaults)");
  }

  /** The marshaller of the Subscribe method's responses: see {@link SharedEncoding}. */
  SharedEncoding encoding() {
    return encoding;
  }

  /**
   * Subscribes a stream to an environment from the version its SDK has. The caller has checked the
   * request and the principal; the environment exists.
   *
   * @param memberChanges whether the SDK set {@code accepts_member_changes} (see {@link Messages#delta})
   */
  void subscribe(String environment, long fromVersion, long fromStateTag,
      ServerCallStreamObserver<SyncMessage> observer, String tokenId, StreamIdentity identity, boolean memberChanges) {
    if (shutdown.get()) {
      observer.onError(SHUTTING_DOWN.asRuntimeException());
      return;
    }
    // An instance that subscribes again replaces its old stream (below), which most likely went half-open and would
    // count against the cap for minutes: at the cap, a fleet whose connections all broke at once could not come back
    // (QA65 F3). Its count falls back as the old stream ends.
    Topic existing = topics.get(environment);
    boolean replacesItsOwn = !identity.instanceId().isEmpty() && existing != null
        && existing.ofInstance(tokenId, identity.instanceId()) != null;
    if (streamsByToken.merge(tokenId, 1, Integer::sum) > maxStreamsPerToken && !replacesItsOwn) {
      release(tokenId);
      long unsaid = capRefused(tokenId);
      if (unsaid >= 0) {
        LOG.warn("sync: token {} has {} streams open, the most one token may have; its new streams get"
            + " RESOURCE_EXHAUSTED (is an application creating a Flags per request?){}", tokenId,
            maxStreamsPerToken, unsaid == 0 ? "" : "; " + unsaid + " more refused since the last such line");
      }
      observer.onError(Status.RESOURCE_EXHAUSTED.withDescription("this token has " + maxStreamsPerToken
          + " sync streams open, the most one token may have: an application creates one Flags and"
          + " shares it (each Flags holds one stream)").asRuntimeException());
      return;
    }
    Topic topic = topics.computeIfAbsent(environment, e -> new Topic(e, encoding));
    Subscription subscription = new Subscription(this, topic, observer, CallCut.current(), tokenId, identity,
        memberChanges);
    observer.setOnReadyHandler(subscription::signal);
    observer.setOnCancelHandler(subscription::cancelled);
    connected.incrementAndGet();
    Subscription replaced = topic.add(subscription);
    if (replaced != null) {
      // Its SDK has subscribed again, so it no longer reads the old stream (gone half-open, most likely): listed, it
      // would stay pending for good and count the instance twice (QA49a F3).
      replaced.end(Status.UNAVAILABLE.withDescription("a newer stream of this SDK instance replaced this one"));
    }
    if (revokedTokens.contains(tokenId) || expiredTokens.contains(tokenId)) {
      // Authenticated just before a revocation (or expiry) that did not see this subscription yet:
      // the revocation adds the token before it looks, this looks after adding, so one of them closes it.
      subscription.close(revokedTokens.contains(tokenId) ? REVOKED : EXPIRED);
      subscription.start(null, false);
      return;
    }
    // Registered first, then read: a change committed meanwhile is either in this read or signals
    // the subscription; the writer always diffs against the newest target, so neither is missed.
    refresh(topic);
    Topic.Target target = topic.target();
    if (target == null) {
      // Deleted in between: its topic ended before or after this one registered, and either way it is closed.
      subscription.close(notThereStatus(environment, topic.ended()));
      subscription.start(null, false);
      return;
    }
    long current = target.version();
    if (fromVersion == current) {
      boolean same = sameState(target.state, fromStateTag);
      subscription.start(same ? target.state : null, same);
    } else if (fromVersion == 0 || fromVersion > current) {
      subscription.start(null, false);
    } else {
      resume(subscription, environment, fromVersion, fromStateTag, tokenId);
    }
    if (shutdown.get()) {
      subscription.close(SHUTTING_DOWN);
    }
  }

  /**
   * Starts a subscription from the state at its version once that is rebuilt (or a heartbeat interval has passed); with
   * a snapshot at once if the state is neither kept nor being rebuilt and its token has as many rebuilds under way as it
   * may: one more would only wait behind them, and whoever holds an sdk token could queue a rebuild (a checkpoint read
   * and a journal scan) for every version the environment ever had, keeping the loader busy for hours while other
   * tokens' resumes waited (QA95 F2). A fleet resuming from one version shares one rebuild and takes one of its token's,
   * however many of its SDKs come at once (counted per SDK, the fifth of them to come together got a snapshot).
   */
  private void resume(Subscription subscription, String environment, long fromVersion, long fromStateTag,
      String tokenId) {
    boolean[] started = {false};
    CompletableFuture<Optional<EnvironmentState>> rebuilt;
    try {
      try {
        rebuilt = history.stateAtIf(environment, fromVersion, () -> started[0] = takeRebuild(tokenId));
      } catch (RejectedExecutionException e) {
        if (started[0]) {
          giveBackRebuild(tokenId); // the load was not queued (shutting down)
        }
        throw e;
      }
      if (rebuilt == null) {
        subscription.start(null, false); // its token's rebuilds are all under way: a snapshot now
        return;
      }
      if (started[0]) {
        // Given back when the load ends, not when this stream stops waiting for it: the load goes on either way.
        rebuilt.whenComplete((loaded, error) -> giveBackRebuild(tokenId));
      }
      // Waited for at most a heartbeat interval: rebuilds run one at a time, and one queued behind others (many SDKs
      // resuming from different versions after a restart) left its stream silent until the SDK gave it up as dead,
      // logged a lost stream, and came back later to wait again (QA65 F5). A snapshot now beats a delta later.
      // On a copy: the shared load goes on, for the SDKs that wait for it and for the cache.
      rebuilt.copy()
          .completeOnTimeout(Optional.empty(), heartbeatMillis, TimeUnit.MILLISECONDS)
          .whenComplete((state, error) -> {
            if (error != null) {
              LOG.debug("sync: cannot resume {} from version {}: {}", quotedEnvironment(environment), fromVersion,
                  error.toString());
            }
            EnvironmentState from = error == null ? state.orElse(null) : null;
            subscription.start(from != null && sameState(from, fromStateTag) ? from : null, false);
          });
    } catch (RejectedExecutionException e) {
      subscription.start(null, false); // shutting down: closed by subscribe
    }
  }

  /**
   * Whether the SDK's state at a version is this server's state at that version: its tag matches,
   * or it has none (an SDK or cache file from before tags, trusted as before).
   */
  private static boolean sameState(EnvironmentState ours, long theirTag) {
    if (theirTag == 0 || StateTag.of(ours) == theirTag) {
      return true;
    }
    LOG.debug("sync: an SDK's version {} of environment {} is not this server's (another server's, or"
        + " from before a restore of the journal): sending a snapshot", ours.version(), quotedEnvironment(ours.key()));
    return false;
  }

  /**
   * Returns the environment's current state as a Snapshot, or empty if there is no such environment.
   */
  Optional<Snapshot> snapshot(String environment) {
    Topic topic = topics.get(environment);
    if (topic == null && currentState(environment).isPresent()) {
      // An environment no SDK streams from yet: its topic made now, so that every GetSnapshot answer shares one snapshot
      // of each version. Built per call, each waiting call kept a private copy of up to --max-environment-mib on the
      // heap, with no bound on the calls (QA65 F4). Only for an environment that exists: names are the caller's.
      topic = topics.computeIfAbsent(environment, e -> new Topic(e, encoding));
    }
    if (topic != null) {
      refresh(topic);
      Topic.Target target = topic.target();
      if (target != null) {
        return Optional.of(target.snapshot().getSnapshot());
      }
    }
    return currentState(environment).map(env -> Messages.snapshot(env, heartbeatMillis));
  }

  /** Whether the environment was deleted for good. */
  boolean wasDeleted(String environment) {
    return journal.state().wasDeleted(environment);
  }

  /** The environment's state in the journal now, or empty if there is none. */
  Optional<EnvironmentState> currentState(String environment) {
    return journal.state().environment(environment);
  }

  /**
   * Closes every stream with {@link Status#UNAVAILABLE} and a description telling the SDK to
   * reconnect and resume, refuses new subscriptions the same way, and stops the writer threads.
   * Waits up to the {@linkplain Builder#shutdownTimeout shutdown timeout} for the streams to be
   * closed. Idempotent. Call it before shutting the gRPC server down, so that SDKs hear why.
   */
  public void shutdown() {
    shutdown(shutdownTimeout);
  }

  /**
   * Same as {@link #shutdown()}, waiting at most {@code timeout} instead of the builder's shutdown timeout:
   * for a server whose stop has one deadline for all its steps.
   *
   * @param timeout how long to wait for the streams to be closed, zero or positive
   */
  public void shutdown(Duration timeout) {
    if (!shutdown.compareAndSet(false, true)) {
      return;
    }
    int streams = connected.get();
    // A call whose client has not taken its message for two heartbeat intervals would hold the stop for its whole grace:
    // its close waits behind that message. It is cut now instead, as it would be if others waited for its room.
    for (SendBudget.Borrower stuck : budget.heldLongerThan(OVERDUE_HEARTBEATS * heartbeatNanos)) {
      try {
        stuck.cut("the server is stopping, and its client had not taken its last message");
      } catch (RuntimeException e) {
        LOG.debug("sync: could not cut a call at the stop: {}", e.toString());
      }
    }
    List<Subscription> all = new ArrayList<>();
    topics.values().forEach(t -> t.subscribers().forEach(all::add));
    all.forEach(s -> s.close(SHUTTING_DOWN));
    executor.shutdown();
    loader.shutdown();
    boolean done;
    try {
      done = executor.awaitTermination(timeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      done = false;
    }
    if (!done) {
      executor.shutdownNow();
      int left = connected.get();
      if (left > 0) {
        LOG.warn("sync: {} stream{} not closed within {}; the gRPC server's shutdown cancels them", left,
            left == 1 ? "" : "s", timeout);
      } else {
        done = true; // every stream was closed; the writer threads had only not ended yet (a grace of zero)
      }
    }
    loader.shutdownNow();
    if (done && streams > 0) { // nothing to say for a server no SDK was connected to (or one whose start failed)
      LOG.info("sync: closed {} stream{}, told {} to reconnect", streams, streams == 1 ? "" : "s", streams == 1 ? "it" : "them");
    }
  }

  /** Same as {@link #shutdown()}. */
  @Override
  public void close() {
    shutdown();
  }

  /**
   * Returns how many sync streams are subscribed now.
   *
   * @return the number of connected streams (a gauge)
   */
  public int connectedStreams() {
    return connected.get();
  }

  /**
   * Returns the bytes of large messages (snapshots, mostly) written to streams whose SDKs have not yet
   * taken them: what the {@linkplain Builder#sendBufferBytes send buffer} holds now.
   *
   * @return bytes (a gauge)
   */
  public long sendBufferBytes() {
    return budget.held();
  }

  /**
   * Returns how many streams (and one-off snapshots) wait for room in the {@linkplain
   * Builder#sendBufferBytes send buffer} to be sent a large message.
   *
   * @return a gauge
   */
  public int waitingToSend() {
    return budget.waiting();
  }

  /** @return the counter of calls the gRPC port refused, which the sync service's definition puts first */
  public RefusedCalls refusedCalls() {
    return refusedCalls;
  }

  /**
   * Returns how many calls (streams, and GetSnapshot answers) were cut since start because their clients had not
   * taken a large message for {@value #OVERDUE_HEARTBEATS} heartbeat intervals while others waited for the send
   * buffer.
   *
   * @return a counter
   */
  public long callsCut() {
    return cut.sum();
  }

  /**
   * Returns how many Deltas were written to streams since start.
   *
   * @return a counter
   */
  public long deltasSent() {
    return deltas.sum();
  }

  /**
   * Returns how many Snapshots were written to streams since start (GetSnapshot answers excluded).
   *
   * @return a counter
   */
  public long snapshotsSent() {
    return snapshots.sum();
  }

  /**
   * Returns how many Heartbeats were written to streams since start.
   *
   * @return a counter
   */
  public long heartbeatsSent() {
    return heartbeats.sum();
  }

  /**
   * Returns the interval at which idle streams get a Heartbeat.
   *
   * @return the interval
   */
  public Duration heartbeatInterval() {
    return Duration.ofNanos(heartbeatNanos);
  }

  /** @return whether {@link #shutdown()} has begun: every stream is closed or closing, and new ones are refused */
  public boolean isShutdown() {
    return shutdown.get();
  }

  // -- for the subscriptions and tests ---------------------------------------------------------

  Executor executor() {
    return executor;
  }

  SendBudget budget() {
    return budget;
  }

  long nanoTime() {
    return ticker.read();
  }

  /** The one thread that rebuilds earlier states from the journal, for tests that hold it up. */
  Executor historyLoader() {
    return loader;
  }

  long heartbeatNanos() {
    return heartbeatNanos;
  }

  SyncMessage heartbeat(long version) {
    return Messages.message(Messages.heartbeat(version, clock.millis(), heartbeatMillis));
  }

  /** The heartbeat of a stream whose next message waits for the send budget: see {@code Waiting}. */
  SyncMessage waiting() {
    return Messages.waiting(clock.millis(), heartbeatMillis);
  }

  void deltaSent() {
    deltas.increment();
  }

  void snapshotSent() {
    snapshots.increment();
  }

  void heartbeatSent() {
    heartbeats.increment();
  }

  void unsubscribe(Subscription subscription, Topic topic) {
    if (topic.remove(subscription)) {
      if (subscription.isClosing()) {
        topic.closedByItsApplication(subscription, clock.millis());
      }
      release(subscription.tokenId());
      connected.decrementAndGet();
      synchronized (connected) {
        connected.notifyAll();
      }
    }
  }

  /**
   * Records that an SDK instance has applied a version, on its open stream of the environment.
   *
   * @return false if the token has no open stream of the environment with that instance id
   */
  boolean acknowledge(String environment, String tokenId, String instanceId, long version) {
    return acknowledge(environment, tokenId, instanceId, version, false);
  }

  /**
   * As {@link #acknowledge(String, String, String, long)}, from an SDK instance that may be closing.
   *
   * @param closing whether its application is closing it: once its stream ends, it is listed among those closed by
   *     their application ({@link #closedSince}) for a while, not as one that may still serve what it had
   */
  boolean acknowledge(String environment, String tokenId, String instanceId, long version, boolean closing) {
    Topic topic = topics.get(environment);
    Subscription s = topic == null ? null : topic.ofInstance(tokenId, instanceId); // another token's is none of its business
    if (s == null) {
      return false;
    }
    s.acknowledged(version, clock.millis());
    if (closing) {
      s.closing();
    }
    return true;
  }

  private static final Instant EARLIEST_MILLI = Instant.ofEpochMilli(Long.MIN_VALUE);
  private static final Instant LATEST_MILLI = Instant.ofEpochMilli(Long.MAX_VALUE);

  /**
   * @param environment an environment's key
   * @param after a time
   * @return the SDK instances of the environment whose streams ended at or after that time, after their SDK said it was
   *     closing (their application closed them: they serve nothing any more), newest first; remembered for 65 minutes
   */
  public List<SdkStream> closedSince(String environment, Instant after) {
    Topic topic = topics.get(environment);
    if (topic == null) {
      return List.of();
    }
    // An instant past what a long of milliseconds holds is the earliest or the latest there is (QA61 F1: it overflowed).
    long afterMillis = after.isBefore(EARLIEST_MILLI) ? Long.MIN_VALUE : after.isAfter(LATEST_MILLI) ? Long.MAX_VALUE
        : after.toEpochMilli();
    return topic.closedSince(afterMillis, clock.millis());
  }

  /**
   * @param environment an environment's key
   * @return its open sync streams now, in no order; empty for an environment without any
   */
  public List<SdkStream> streams(String environment) {
    Topic topic = topics.get(environment);
    if (topic == null) {
      return List.of();
    }
    List<SdkStream> out = new ArrayList<>(topic.size());
    for (Subscription s : topic.subscribers()) {
      out.add(s.describe());
    }
    return out;
  }

  long millis() {
    return clock.millis();
  }

  /** One stream of the token has ended (or was refused). */
  private void release(String tokenId) {
    streamsByToken.computeIfPresent(tokenId, (k, n) -> n == 1 ? null : n - 1);
  }

  /**
   * Rebuilds of earlier states (see {@link StateHistory}) one token may have queued or running at once. A fleet that
   * resumes after a restart asks for a few versions, each loaded once for all its SDKs; past this, a resume from a
   * version not loaded yet gets a snapshot at once, as it would after waiting a heartbeat interval behind the queue.
   */
  static final int MAX_REBUILDS_PER_TOKEN = 4;

  /** Takes one of the token's rebuilds; false if it has {@link #MAX_REBUILDS_PER_TOKEN} already. */
  private boolean takeRebuild(String tokenId) {
    boolean[] taken = {false};
    rebuildsByToken.compute(tokenId, (k, n) -> {
      int now = n == null ? 0 : n;
      if (now >= MAX_REBUILDS_PER_TOKEN) {
        return n;
      }
      taken[0] = true;
      return now + 1;
    });
    return taken[0];
  }

  private void giveBackRebuild(String tokenId) {
    rebuildsByToken.computeIfPresent(tokenId, (k, n) -> n == 1 ? null : n - 1);
  }

  /** How often at most a token's refusals for its stream cap are a WARN. */
  static final long CAP_WARNING_NANOS = TimeUnit.MINUTES.toNanos(1);

  /** Guarded by the map entry that holds it. A token's refusals for its stream cap since its last WARN. */
  private static final class CapRefusals {
    long warnedAtNanos;
    long since;

    CapRefusals(long warnedAtNanos) {
      this.warnedAtNanos = warnedAtNanos;
    }
  }

  /**
   * Counts a stream of a token refused for its cap.
   *
   * @return the refusals not yet said if this one is to be a WARN (the first, or the first a minute after the last),
   *     else -1
   */
  private long capRefused(String tokenId) {
    long now = ticker.read();
    long[] unsaid = {-1};
    // One entry per token ever refused: tokens are made by admins, so the map is bounded by them.
    capRefusals.compute(tokenId, (k, r) -> {
      if (r == null) {
        unsaid[0] = 0;
        return new CapRefusals(now);
      }
      if (now - r.warnedAtNanos >= CAP_WARNING_NANOS) {
        unsaid[0] = r.since;
        r.warnedAtNanos = now;
        r.since = 0;
      } else {
        r.since++;
      }
      return r;
    });
    return unsaid[0];
  }

  /**
   * @param tokenId a token's id
   * @return how many sync streams the token has open
   */
  public int streamsOf(String tokenId) {
    return streamsByToken.getOrDefault(tokenId, 0);
  }

  /** For tests: waits until the number of connected streams is the expected one. */
  boolean awaitConnectedStreams(int expected, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (connected) {
      while (connected.get() != expected) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        TimeUnit.NANOSECONDS.timedWait(connected, left);
      }
      return true;
    }
  }

  void failed(Subscription subscription, RuntimeException e) {
    LOG.debug("sync: a stream of {} failed and was unsubscribed: {}", quotedEnvironment(subscription.environment()),
        e.toString());
  }

  void failedWithError(Subscription subscription, Error e) {
    if (e instanceof OutOfMemoryError) {
      outOfMemoryErrors.increment();
    }
    LOG.error("sync: a message to a stream of environment {} (token {}) failed with {}; the stream was closed and its"
        + " SDK reconnects", quotedEnvironment(subscription.environment()), subscription.tokenId(), e.toString());
  }

  /** @return how many messages to streams failed for the JVM out of memory (inside or outside the heap) */
  public long outOfMemoryErrors() {
    return outOfMemoryErrors.sum();
  }

  long historyLoads() {
    return history.loads();
  }

  /**
   * A periodic task: one throw would end it for good, silently (so the JDK's scheduler has it), and with it every
   * heartbeat, every {@code Waiting} and every overdue cut until a restart (QA65 F2). So nothing leaves it: a failure is
   * logged, the other streams still get theirs, and the next tick tries again.
   */
  private void heartbeatTick() {
    try {
      long now = ticker.read();
      for (Topic topic : topics.values()) {
        for (Subscription s : topic.subscribers()) {
          if (s.idleNanos(now) >= heartbeatNanos) {
            signalFromTick(s);
          }
        }
      }
      cutOverdue();
    } catch (Throwable t) { // an OutOfMemoryError too: the next tick may find memory again
      tickFailed(t);
    }
  }

  private void signalFromTick(Subscription s) {
    try {
      s.signal();
    } catch (Throwable t) { // one stream's failure must not skip the others' heartbeats
      tickFailed(t);
    }
  }

  private void tickFailed(Throwable t) {
    try {
      LOG.error("sync: the heartbeat tick failed (streams may miss a heartbeat; tried again at the next tick)", t);
    } catch (Throwable ignored) {
      // no memory even to log: the next tick tries again
    }
  }

  /**
   * Cuts the streams (and GetSnapshot answers) whose clients have not taken their large message within {@link
   * #OVERDUE_HEARTBEATS} heartbeat intervals while others wait for the send budget. Without it, two or three tokens
   * whose streams never read could hold the whole budget, and everyone else's snapshots and large deltas (with every
   * change behind them, a kill switch included) would wait until those streams ended, which may be never. A
   * reader on a slow link is cut only while the budget is short; its SDK reconnects and resumes.
   */
  private void cutOverdue() {
    int waiting = budget.waiting(); // before the cut lets them through: for the log
    List<SendBudget.Borrower> overdue = budget.overdue(OVERDUE_HEARTBEATS * heartbeatNanos);
    if (overdue.isEmpty()) {
      return;
    }
    String why = "its client had not taken a message of " + SendBudget.LARGE / 1024 + " KiB or more in "
        + OVERDUE_HEARTBEATS + " heartbeat intervals while others waited for room in the send buffer";
    Map<String, Integer> byToken = new TreeMap<>();
    for (SendBudget.Borrower b : overdue) {
      byToken.merge(b.tokenId(), 1, Integer::sum);
      try {
        b.cut(why);
      } catch (RuntimeException e) { // one call that cannot be cut must not keep the others
        LOG.warn("sync: could not cut a call of token {}: {}", b.tokenId(), e.toString());
      }
    }
    cut.add(overdue.size());
    LOG.warn("sync: cut {} whose clients had not taken a message of {} KiB or more in {} (" + OVERDUE_HEARTBEATS
        + " heartbeat intervals) while {} waited for room in the send buffer (--max-sync-buffer-mib); by token: {}."
        + " Their SDKs reconnect, and are cut again if they still do not read: revoke a token whose clients never"
        + " read, or find out why its SDKs stopped reading", overdue.size() == 1 ? "1 call" : overdue.size() + " calls",
        SendBudget.LARGE / 1024, heartbeatInterval().multipliedBy(OVERDUE_HEARTBEATS), waiting == 1 ? "1 other"
        : waiting + " others", byToken);
  }

  /**
   * Not thread-safe. Settings for a {@link Broadcaster}; each setter checks its value at once.
   *
   * <table>
   *   <caption>settings</caption>
   *   <tr><th>setting</th><th>default</th></tr>
   *   <tr><td>{@link #heartbeatInterval}</td><td>15 s</td></tr>
   *   <tr><td>{@link #threads}</td><td>2</td></tr>
   *   <tr><td>{@link #historyCacheWeight}</td><td>65,536 (about 64 MiB of states)</td></tr>
   *   <tr><td>{@link #historyCacheExpiry}</td><td>10 minutes</td></tr>
   *   <tr><td>{@link #historySearchLimit}</td><td>100,000 entries</td></tr>
   *   <tr><td>{@link #shutdownTimeout}</td><td>5 s</td></tr>
   *   <tr><td>{@link #sendBufferBytes}</td><td>{@link #defaultSendBufferBytes()}</td></tr>
   *   <tr><td>{@link #clock}</td><td>{@link Clock#systemUTC()}</td></tr>
   *   <tr><td>{@link #ticker}</td><td>{@link Ticker#systemTicker()}</td></tr>
   * </table>
   */
  public static final class Builder {
    private final Journal journal;
    private Duration heartbeatInterval = Duration.ofSeconds(15);
    private int threads = 2;
    private long historyCacheWeight = 65_536;
    private Duration historyCacheExpiry = Duration.ofMinutes(10);
    private long historySearchLimit = 100_000;
    private Duration shutdownTimeout = Duration.ofSeconds(5);
    private int maxStreamsPerToken = 10_000;
    private long sendBufferBytes = defaultSendBufferBytes();
    private Clock clock = Clock.systemUTC();
    private Ticker ticker = Ticker.systemTicker();

    private Builder(Journal journal) {
      this.journal = Objects.requireNonNull(journal, "journal");
    }

    /**
     * Sets how long a stream may be idle before it gets a Heartbeat; SDKs learn it from every
     * Snapshot and Heartbeat.
     *
     * @param interval at least 1 ms
     * @return this builder
     * @throws NullPointerException if interval is null
     * @throws IllegalArgumentException if interval is shorter than 1 ms
     */
    public Builder heartbeatInterval(Duration interval) {
      Objects.requireNonNull(interval, "interval");
      if (interval.compareTo(Duration.ofMillis(1)) < 0) {
        throw new IllegalArgumentException("heartbeat interval must be at least 1 ms, was "
            + interval);
      }
      this.heartbeatInterval = interval;
      return this;
    }

    /**
     * Sets how many threads write to streams ({@code flags-sync-1}, ...). One change of an
     * environment is written to all its subscribers by one of them; the others serve other
     * environments, streams that became ready again, and heartbeats. Writes never block, so a few
     * threads serve many thousands of streams.
     *
     * @param count between 1 and 64
     * @return this builder
     * @throws IllegalArgumentException if count is out of range
     */
    public Builder threads(int count) {
      if (count < 1 || count > 64) {
        throw new IllegalArgumentException("threads must be between 1 and 64, was " + count);
      }
      this.threads = count;
      return this;
    }

    /**
     * Sets how many earlier states are kept for resuming subscribers, by weight: about the KiB each
     * holds (its flag documents, and a little per flag and per user with grants), at least one.
     *
     * @param weight at least 1
     * @return this builder
     * @throws IllegalArgumentException if weight is below 1
     */
    public Builder historyCacheWeight(long weight) {
      if (weight < 1) {
        throw new IllegalArgumentException("history cache weight must be at least 1, was "
            + weight);
      }
      this.historyCacheWeight = weight;
      return this;
    }

    /**
     * Sets how long an earlier state is kept after it was last used.
     *
     * @param expiry a positive duration
     * @return this builder
     * @throws NullPointerException if expiry is null
     * @throws IllegalArgumentException if expiry is zero or negative
     */
    public Builder historyCacheExpiry(Duration expiry) {
      Objects.requireNonNull(expiry, "expiry");
      if (expiry.isZero() || expiry.isNegative()) {
        throw new IllegalArgumentException("history cache expiry must be positive, was " + expiry);
      }
      this.historyCacheExpiry = expiry;
      return this;
    }

    /**
     * Sets how many journal entries, counted back from the end, are searched for the version a
     * subscriber resumes from when it is not in memory. A version further back gets a Snapshot.
     *
     * @param entries at least 0 (0: only versions in memory give a Delta)
     * @return this builder
     * @throws IllegalArgumentException if entries is negative
     */
    public Builder historySearchLimit(long entries) {
      if (entries < 0) {
        throw new IllegalArgumentException("history search limit must be at least 0, was "
            + entries);
      }
      this.historySearchLimit = entries;
      return this;
    }

    /**
     * Sets how long {@link Broadcaster#shutdown()} waits for the streams to be closed.
     *
     * @param timeout zero or positive
     * @return this builder
     * @throws NullPointerException if timeout is null
     * @throws IllegalArgumentException if timeout is negative
     */
    public Builder shutdownTimeout(Duration timeout) {
      Objects.requireNonNull(timeout, "timeout");
      if (timeout.isNegative()) {
        throw new IllegalArgumentException("shutdown timeout must not be negative, was " + timeout);
      }
      this.shutdownTimeout = timeout;
      return this;
    }

    /**
     * Sets how many sync streams one token may have open at once; more get {@code
     * RESOURCE_EXHAUSTED}. Each stream holds a connection's worth of server memory, and an
     * application that creates a {@code Flags} per request instead of one would otherwise open
     * streams until the server runs out.
     *
     * @param streams between 1 and 1,000,000
     * @return this builder
     * @throws IllegalArgumentException if streams is out of range
     */
    public Builder maxStreamsPerToken(int streams) {
      if (streams < 1 || streams > 1_000_000) {
        throw new IllegalArgumentException("max streams per token must be between 1 and 1000000, was " + streams);
      }
      this.maxStreamsPerToken = streams;
      return this;
    }

    /**
     * Sets how many bytes of large messages (snapshots, mostly) the server may hold for SDKs that have
     * not yet taken them, in all; the streams of one token may hold half of it. A stream whose large
     * message does not fit waits, in turn, until others have been taken (see {@link SendBudget}).
     *
     * @param bytes positive
     * @return this builder
     * @throws IllegalArgumentException if bytes is not positive
     */
    public Builder sendBufferBytes(long bytes) {
      if (bytes <= 0) {
        throw new IllegalArgumentException("send buffer must be positive, was " + bytes);
      }
      this.sendBufferBytes = bytes;
      return this;
    }

    /**
     * The default {@linkplain #sendBufferBytes send buffer}: a quarter of the JVM's largest heap, at least
     * 64 MiB and at most 1 GiB. gRPC's buffers are off the heap, and the JVM allows as much memory there
     * as its largest heap unless told otherwise.
     *
     * @return bytes
     */
    public static long defaultSendBufferBytes() {
      long quarter = Runtime.getRuntime().maxMemory() / 4;
      return Math.max(64L << 20, Math.min(1L << 30, quarter));
    }

    /**
     * Sets the clock of the server time in heartbeats.
     *
     * @param clock the clock
     * @return this builder
     * @throws NullPointerException if clock is null
     */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Sets the time source of idle times and of the history cache's expiry.
     *
     * @param ticker nanoseconds
     * @return this builder
     * @throws NullPointerException if ticker is null
     */
    public Builder ticker(Ticker ticker) {
      this.ticker = Objects.requireNonNull(ticker, "ticker");
      return this;
    }

    /**
     * Builds the broadcaster and starts its threads.
     *
     * @return a running broadcaster
     */
    public Broadcaster build() {
      return new Broadcaster(this);
    }
  }
}
