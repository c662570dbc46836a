package dev.flags.server.sync;

import dev.flags.protocol.v1.SyncMessage;
import dev.flags.server.journal.EnvironmentState;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.time.Instant;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Thread-safe. One subscriber's stream and its writer.
 *
 * <p>A {@link ServerCallStreamObserver} is not thread-safe, so every write to it happens in {@link
 * #run()}, and at most one {@code run} is active per subscriber: {@link #signal()} counts requests
 * and submits a run only when it takes the count from zero, and the run loops until it has answered
 * every request it saw (the usual serializing-executor pattern). A run writes only while the stream
 * {@linkplain ServerCallStreamObserver#isReady() is ready}; when it is not, the run returns and the
 * stream's on-ready handler signals again. The subscriber's memory is the last state it was sent:
 * whatever it has not taken is the difference between that and the topic's target, written as one
 * Delta when it is ready again. A large message (a snapshot, mostly) is written only once the
 * broadcaster's {@link SendBudget} holds its bytes, and they are given back once the stream is ready
 * again, which is when gRPC has passed the message on to the network. While it waits, the stream gets a
 * {@code Waiting} each heartbeat interval instead of a Heartbeat.
 */
final class Subscription implements Runnable, SendBudget.Borrower {

  private final Broadcaster owner;
  private final Topic topic;
  private final ServerCallStreamObserver<SyncMessage> observer;
  /** Cuts the call off when its SDK holds its share of the send budget too long: see {@link #cut}. */
  private final CallCut.Handle call;
  private final String tokenId;
  /** Who opened it, for the list of SDKs: see {@link SdkStream}. */
  private final StreamIdentity identity;
  private final long connectedAtMillis;
  /** Whether its SDK set {@code accepts_member_changes}: see {@link Messages#delta}. */
  private final boolean memberChanges;
  private final AtomicInteger requests = new AtomicInteger();
  private final AtomicBoolean finished = new AtomicBoolean();

  /** Set once by {@link #start} before {@code started}; then touched only inside {@link #run}. */
  private EnvironmentState sent;
  private boolean greet;
  /**
   * Whether a message that carries the heartbeat interval (any kind but a Delta) has been written. Until then its SDK
   * judges the stream's silence by the interval an earlier server announced, or its own default.
   */
  private boolean intervalAnnounced;
  /** Whether the last message written is counted in the budget until the stream is ready again. */
  private boolean holding;
  private volatile boolean started;
  private volatile Status closeWith;
  /** Set by {@link #end}: a large message not taken yet is freed with the connection rather than waited for. */
  private volatile boolean freeUnread;
  private volatile long lastWriteNanos;
  /**
   * The version of the last Snapshot or Delta written (set before the write: its SDK may acknowledge it before the
   * write returns), or of the state the SDK came with when that was current; 0 before either.
   */
  private volatile long sentVersion;
  /** Guarded by this: the newest version the SDK acknowledged (-1: none), and when. */
  private long appliedVersion = -1;
  private long appliedAtMillis;
  /** Whether its SDK said it is closing (its application closed it): once the stream ends, it is gone for good. */
  private volatile boolean closing;

  Subscription(Broadcaster owner, Topic topic, ServerCallStreamObserver<SyncMessage> observer, CallCut.Handle call,
      String tokenId, StreamIdentity identity, boolean memberChanges) {
    this.owner = owner;
    this.topic = topic;
    this.observer = observer;
    this.call = call;
    // Not ready while a counted message (LARGE or more) is still queued in gRPC, in part or whole: by default a stream
    // stays ready until 32 KiB are queued, and the budget would be given back for a message that still holds memory.
    observer.setOnReadyThreshold(SendBudget.LARGE);
    this.tokenId = tokenId;
    this.identity = identity;
    this.connectedAtMillis = owner.millis();
    this.memberChanges = memberChanges;
    this.lastWriteNanos = owner.nanoTime();
  }

  /** The SDK instance's id, empty if it sent none. */
  String instanceId() {
    return identity.instanceId();
  }

  /**
   * Its SDK says it has applied a version. More than was sent counts as what was sent (the SDK cannot have more from
   * this stream); an older one than it said before changes nothing.
   */
  void acknowledged(long version, long atMillis) {
    long applied = Math.min(version, sentVersion);
    synchronized (this) {
      if (applied > appliedVersion) {
        appliedVersion = applied;
        appliedAtMillis = atMillis;
      }
    }
  }

  /** Its SDK said it is closing: its stream ends next, and it serves nothing any more. */
  void closing() {
    closing = true;
  }

  /** @return whether its SDK said it is closing */
  boolean isClosing() {
    return closing;
  }

  /** What the list of SDKs shows of it now. */
  SdkStream describe() {
    long applied;
    long appliedAt;
    synchronized (this) {
      applied = appliedVersion;
      appliedAt = appliedAtMillis;
    }
    return new SdkStream(identity.instanceId(), tokenId, identity.sdk(), identity.application(),
        Instant.ofEpochMilli(connectedAtMillis), sentVersion, applied, applied < 0 ? null : Instant.ofEpochMilli(appliedAt));
  }

  /**
   * Sets what the subscriber has and lets the writer start.
   *
   * @param has the state the subscriber holds, or null if it must get a Snapshot
   * @param greet whether to say at once, with a Heartbeat, that it is up to date
   */
  void start(EnvironmentState has, boolean greet) {
    this.sent = has;
    if (has != null) {
      sentVersion = has.version();
    }
    this.greet = greet;
    this.started = true;
    signal();
  }

  /** Asks the writer to look at the stream again: a new target, ready again, a heartbeat due. */
  void signal() {
    if (requests.getAndIncrement() == 0) {
      try {
        owner.executor().execute(this);
      } catch (RejectedExecutionException e) {
        // The pool is shut down: this thread holds the only run now; it closes the stream.
        run();
      }
    }
  }

  /**
   * Like {@link #signal()}, but if no run is active, runs on the calling thread: the fan-out pass
   * writes to its subscribers itself, which saves a task and a thread hand-off per subscriber.
   */
  void signalHere() {
    if (requests.getAndIncrement() == 0) {
      run();
    }
  }

  /**
   * Closes the stream with a status, from the writer (so never during a write). The status goes behind what its SDK has
   * not read yet: at a shutdown, a slow SDK still gets the rest of its message within the grace.
   */
  void close(Status status) {
    closeWith = status;
    signal();
  }

  /**
   * Ends the stream for good: replaced by a newer stream of its SDK instance, its token revoked or expired, its
   * environment deleted. Like {@link #close}, except that a large message its SDK has not taken is not waited for: the
   * connection is closed, which frees it at once. Queued behind it, the status would leave the message in gRPC's memory
   * after its bytes went back to the send budget, counted nowhere (QA65 F1: an sdk token subscribing again and again
   * with one instance id, reading nothing).
   */
  void end(Status status) {
    freeUnread = true;
    close(status);
  }

  /** Called by gRPC when the client went away or the call was cancelled. */
  void cancelled() {
    finish();
  }

  long idleNanos(long now) {
    return now - lastWriteNanos;
  }

  String environment() {
    return topic.environment;
  }

  /** The id of the token the stream was opened with. */
  @Override
  public String tokenId() {
    return tokenId;
  }

  /**
   * Its SDK has not taken its large message for too long while others wait for the send budget: the call's connection
   * is closed, which frees the message in gRPC at once (a close of the call would wait behind it), and the stream is
   * unsubscribed. Its SDK reconnects.
   */
  @Override
  public void cut(String why) {
    if (call.cut()) {
      finish();
    } else {
      close(Status.UNAVAILABLE.withDescription(why)); // no connection to close: ends the call as it can
    }
  }

  /** The budget holds the bytes of the large message this stream waited to write: write it. */
  @Override
  public void granted() {
    signal();
  }

  @Override
  public void run() {
    int missed = 1;
    for (;;) {
      try {
        drain();
      } catch (RuntimeException e) {
        // The call went away under us (cancelled, closed): forget the subscriber.
        owner.failed(this, e);
        finish();
      } catch (Error e) {
        // The message could not be made (out of heap building a large snapshot) or gRPC could not take it (out of
        // direct memory). Nothing else would unsubscribe the stream, and it would count against its token for good.
        // Not rethrown: on the fan-out pass's thread that would stop the pass for every subscriber after this one.
        owner.failedWithError(this, e);
        if (finish()) {
          endAfterError(e);
        }
      }
      missed = requests.addAndGet(-missed);
      if (missed == 0) {
        return;
      }
    }
  }

  private void drain() {
    while (!finished.get()) {
      Status status = closeWith;
      if (status != null) {
        if (freeUnread && holding && !observer.isReady() && call.cut()) {
          finish(); // its large message still in gRPC's buffers, unread: freed with the connection (see end())
          return;
        }
        if (finish()) {
          observer.onError(status.asRuntimeException());
        }
        return;
      }
      if (!started || !observer.isReady()) {
        return;
      }
      if (holding) { // ready again: gRPC has passed the last message on
        holding = false;
        owner.budget().taken(this);
      }
      // Counted before the write: once written, the SDK may see the message before the count would.
      Topic.Target target = topic.target();
      if (target == null) {
        return; // the environment was deleted for good: the close that follows ends the stream
      }
      if (sent == null) {
        SyncMessage snapshot = target.snapshot();
        if (!budgeted(snapshot)) {
          waitingHeartbeat();
          return;
        }
        owner.snapshotSent();
        sentVersion = target.version();
        write(snapshot);
        sent = target.state;
      } else if (sent.version() < target.version()) {
        SyncMessage delta = target.deltaFrom(sent, memberChanges);
        if (!budgeted(delta)) {
          waitingHeartbeat();
          return;
        }
        owner.deltaSent();
        sentVersion = target.version();
        write(delta);
        sent = target.state;
        // A stream resumed with a Delta announces the interval with a Heartbeat right behind it: judged by an earlier
        // server's shorter interval, this server's silence would look like a dead stream (QA76).
        greet = !intervalAnnounced;
      } else if (greet || idleNanos(owner.nanoTime()) >= owner.heartbeatNanos()) {
        owner.heartbeatSent();
        write(owner.heartbeat(sent.version()));
      } else {
        return;
      }
    }
  }

  /**
   * Whether a message may be written now: a small one always; a large one once the budget holds its
   * bytes (if it must wait, {@link #granted()} signals this stream again).
   */
  private boolean budgeted(SyncMessage message) {
    int bytes = message.getSerializedSize(); // computed once per message, which all subscribers share
    if (!SendBudget.large(bytes)) {
      return true;
    }
    if (!owner.budget().take(this, bytes)) {
      return false;
    }
    if (finished.get()) { // ended meanwhile: its finish may have given back before this took
      owner.budget().giveBack(this);
      return false;
    }
    holding = true;
    return true;
  }

  /**
   * While its next message waits for the budget, the stream still gets a message each heartbeat interval, a
   * Waiting (small: not counted), or its SDK would take the silence for a dead stream and subscribe again, at the
   * back of the queue. Not a Heartbeat, which would tell the SDK that the version it has is current.
   */
  private void waitingHeartbeat() {
    if (!finished.get() && idleNanos(owner.nanoTime()) >= owner.heartbeatNanos()) {
      owner.heartbeatSent();
      write(owner.waiting());
    }
  }

  private void write(SyncMessage message) {
    observer.onNext(message);
    greet = false;
    intervalAnnounced |= !message.hasDelta();
    lastWriteNanos = owner.nanoTime();
  }

  /**
   * Ends the call after an Error, so that its SDK reconnects (with its backoff) instead of waiting on a stream that will
   * send nothing more: gRPC closes a call whose message it failed to take, but not one whose message failed before it
   * reached gRPC (the heap too small to build a snapshot), which was left open and silent.
   */
  private void endAfterError(Error e) {
    try {
      observer.onError(Status.RESOURCE_EXHAUSTED.withDescription("the flag server could not send its message to this"
          + " stream (" + e.getClass().getSimpleName() + "); subscribe again later").asRuntimeException());
    } catch (RuntimeException alreadyClosed) {
      // gRPC closed it already (it does when its transport fails a message), or the client cancelled it: it has ended.
    } catch (Error closeFailed) {
      call.cut(); // the close itself failed (out of memory still): the connection then, so that nothing waits on it
    }
  }

  /** Marks the subscriber done and unsubscribes it; true only for the first caller. */
  private boolean finish() {
    if (finished.compareAndSet(false, true)) {
      owner.unsubscribe(this, topic);
      owner.budget().giveBack(this);
      return true;
    }
    return false;
  }
}
