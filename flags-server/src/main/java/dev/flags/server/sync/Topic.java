package dev.flags.server.sync;

import dev.flags.protocol.v1.SyncMessage;
import dev.flags.server.journal.EnvironmentState;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Thread-safe. One environment's fan-out: its newest published state (the {@link Target} every
 * subscriber converges to) and its subscribers.
 *
 * <p>Publishing only replaces the target (never with an older version) and schedules one pass that
 * signals every subscriber; each subscriber's writer then takes it from its last sent state to the
 * target. Nothing is queued per change, so any number of changes between two writes of a subscriber
 * become one Delta.
 */
final class Topic {

  /**
   * Immutable (its messages are built once, lazily). A state to converge to, with the messages that
   * lead there: the Snapshot, and one Delta per version subscribers come from, shared by all
   * subscribers at that version.
   */
  static final class Target {
    final EnvironmentState state;
    final long committedAtMillis;
    private final long heartbeatMillis;
    private final SharedEncoding encoding;
    private volatile SyncMessage snapshot;
    private final ConcurrentHashMap<Long, SyncMessage> deltas = new ConcurrentHashMap<>();
    /** The same for SDKs that accept member changes (see {@link Messages#delta}). */
    private final ConcurrentHashMap<Long, SyncMessage> memberChangeDeltas = new ConcurrentHashMap<>();
    /** The encoded bytes of the Deltas in the two maps: at most {@link #MAX_CACHED_DELTA_BYTES}. */
    private final AtomicLong cachedDeltaBytes = new AtomicLong();

    Target(EnvironmentState state, long committedAtMillis, long heartbeatMillis, SharedEncoding encoding) {
      this.state = state;
      this.committedAtMillis = committedAtMillis;
      this.heartbeatMillis = heartbeatMillis;
      this.encoding = encoding;
    }

    long version() {
      return state.version();
    }

    SyncMessage snapshot() {
      SyncMessage s = snapshot;
      if (s == null) {
        // Two threads may build it at once; both results are equal, one wins.
        s = encoding.encodeOnce(Messages.message(Messages.snapshot(state, heartbeatMillis)));
        snapshot = s;
      }
      return s;
    }

    /**
     * The Delta from a state to this target. All subscribers at one version hold equal states (they
     * come from one journal), so the Delta is computed once per version and shared: a fan-out builds
     * one, for the thousands of subscribers at the version before. The cache keeps at most {@link
     * #MAX_CACHED_DELTA_BYTES} until the target is replaced; past that a Delta is built for its
     * subscriber alone. Unbounded, it kept one Delta per version anyone resumed from, each near the
     * whole environment from an old version, whether or not its stream was still open: an sdk token
     * resuming from one old version after another filled the heap (QA77 F1: 221 MB for a 1 MB
     * environment), and an environment that does not change again never let them go.
     *
     * @param memberChanges whether the subscriber accepts roles' member changes instead of complete lists
     */
    SyncMessage deltaFrom(EnvironmentState from, boolean memberChanges) {
      ConcurrentHashMap<Long, SyncMessage> cache = memberChanges ? memberChangeDeltas : deltas;
      SyncMessage cached = cache.get(from.version());
      if (cached != null) {
        return cached;
      }
      SyncMessage built = encoding.encodeOnce(Messages.message(Messages.delta(from, state, committedAtMillis, memberChanges)));
      long bytes = built.getSerializedSize();
      if (cachedDeltaBytes.addAndGet(bytes) > MAX_CACHED_DELTA_BYTES) {
        cachedDeltaBytes.addAndGet(-bytes);
        return built;
      }
      SyncMessage first = cache.putIfAbsent(from.version(), built);
      if (first != null) { // built at the same moment by another subscriber's writer: one is kept
        cachedDeltaBytes.addAndGet(-bytes);
        return first;
      }
      return built;
    }

    /** @return the encoded bytes of the Deltas this target keeps for the subscribers to come */
    long cachedDeltaBytes() {
      return cachedDeltaBytes.get();
    }
  }

  /**
   * The most bytes of Deltas one target keeps. A fan-out's Delta (one flag changed) takes a few hundred
   * bytes; this keeps thousands, for subscribers a burst of changes left at different versions, and costs
   * at most a mebibyte per environment.
   */
  static final long MAX_CACHED_DELTA_BYTES = 1L << 20;

  final String environment;
  private final SharedEncoding encoding;
  private final AtomicReference<Target> target = new AtomicReference<>();
  private final Set<Subscription> subscribers = ConcurrentHashMap.newKeySet();
  /** The subscribers that gave an instance id, by their token and it, for their acknowledgements. */
  private final ConcurrentHashMap<String, Subscription> byInstance = new ConcurrentHashMap<>();
  private final AtomicBoolean passScheduled = new AtomicBoolean();
  private volatile boolean ended;
  /** The instances whose streams ended after their SDK said it was closing: see {@link ClosedInstances}. */
  private final ClosedInstances closed = new ClosedInstances(ClosedInstances.MAX_CLOSED, ClosedInstances.KEPT_MILLIS);

  Topic(String environment, SharedEncoding encoding) {
    this.environment = environment;
    this.encoding = encoding;
  }

  /** The newest published target; null before the first publish and after {@link #end()}. */
  Target target() {
    return target.get();
  }

  /** Ends the topic of an environment deleted for good: no target again, and its state is let go. */
  void end() {
    ended = true;
    target.set(null);
  }

  /** Whether {@link #end()} was called. */
  boolean ended() {
    return ended;
  }

  /**
   * Makes a state the target unless the target is already at that version or later.
   *
   * @return true if the target changed (the caller then schedules a pass)
   */
  boolean publish(EnvironmentState state, long committedAtMillis, long heartbeatMillis) {
    Target fresh = null;
    for (;;) {
      if (ended) {
        return false;
      }
      Target current = target.get();
      if (current != null && current.version() >= state.version()) {
        return false;
      }
      if (fresh == null) {
        fresh = new Target(state, committedAtMillis, heartbeatMillis, encoding);
      }
      if (target.compareAndSet(current, fresh)) {
        return true;
      }
    }
  }

  /**
   * Adds a subscriber.
   *
   * @return the stream of the same SDK instance (same token, same instance id) it replaces, which its SDK has left (an
   *     SDK instance holds one stream; a connection that went half-open can leave the old one open here), or null
   */
  Subscription add(Subscription subscription) {
    subscribers.add(subscription);
    if (subscription.instanceId().isEmpty()) {
      return null;
    }
    // By token and id: an instance id is shown to whoever lists the SDKs, and another token's stream with it must not
    // take this one's place (QA49a F2).
    return byInstance.put(instanceKey(subscription.tokenId(), subscription.instanceId()), subscription);
  }

  boolean remove(Subscription subscription) {
    byInstance.remove(instanceKey(subscription.tokenId(), subscription.instanceId()), subscription);
    return subscribers.remove(subscription);
  }

  /** Remembers a stream that ended after its SDK said it was closing. */
  void closedByItsApplication(Subscription subscription, long atMillis) {
    closed.add(instanceKey(subscription.tokenId(), subscription.instanceId()), subscription.describe(), atMillis);
  }

  /**
   * @param afterMillis a time
   * @param nowMillis the time now, to forget what is too old
   * @return the instances closed by their application at or after the time, newest first
   */
  List<SdkStream> closedSince(long afterMillis, long nowMillis) {
    return closed.since(afterMillis, nowMillis);
  }

  /** The newest open stream of a token's SDK instance, or null. */
  Subscription ofInstance(String tokenId, String instanceId) {
    return byInstance.get(instanceKey(tokenId, instanceId));
  }

  private static String instanceKey(String tokenId, String instanceId) {
    return tokenId + '\n' + instanceId; // neither holds a line break
  }

  Iterable<Subscription> subscribers() {
    return subscribers;
  }

  int size() {
    return subscribers.size();
  }

  /** Claims the one pending pass; false if one is already scheduled and has not started. */
  boolean claimPass() {
    return passScheduled.compareAndSet(false, true);
  }

  /**
   * Brings every subscriber to the target, on the calling thread (a writer that is already active
   * for a subscriber is signalled instead and does it). Writes never block (a stream that is not
   * ready is skipped and picked up by its on-ready handler), so one pass over thousands of
   * subscribers takes milliseconds. A publish during the pass schedules another one.
   */
  void pass() {
    passScheduled.set(false);
    for (Subscription s : subscribers) {
      s.signalHere();
    }
  }
}
