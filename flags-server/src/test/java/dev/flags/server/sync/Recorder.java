package dev.flags.server.sync;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.protocol.v1.SubscribeRequest;
import dev.flags.protocol.v1.SyncMessage;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Thread-safe. A test subscriber: records every message of a stream, and how it ended, for the test
 * thread to take in order. With {@link #manual(int)} it reads only what it is told to (a slow SDK).
 */
final class Recorder implements ClientResponseObserver<SubscribeRequest, SyncMessage> {

  static final Duration WAIT = Duration.ofSeconds(20);

  private final LinkedBlockingQueue<SyncMessage> messages = new LinkedBlockingQueue<>();
  private final CompletableFuture<Status> closed = new CompletableFuture<>();
  private final int initialRequests;
  private volatile ClientCallStreamObserver<SubscribeRequest> call;

  Recorder() {
    this(-1);
  }

  private Recorder(int initialRequests) {
    this.initialRequests = initialRequests;
  }

  /** A subscriber that asks for only this many messages until {@link #request} is called. */
  static Recorder manual(int initialRequests) {
    return new Recorder(initialRequests);
  }

  @Override
  public void beforeStart(ClientCallStreamObserver<SubscribeRequest> requestStream) {
    this.call = requestStream;
    if (initialRequests >= 0) {
      requestStream.disableAutoRequestWithInitial(initialRequests);
    }
  }

  void request(int count) {
    call.request(count);
  }

  void cancel() {
    call.cancel("test is done", null);
  }

  @Override
  public void onNext(SyncMessage value) {
    messages.add(value);
  }

  @Override
  public void onError(Throwable t) {
    closed.complete(Status.fromThrowable(t));
  }

  @Override
  public void onCompleted() {
    closed.complete(Status.OK);
  }

  /** The next message; fails if none comes within the wait. */
  SyncMessage next() throws InterruptedException {
    SyncMessage m = messages.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    if (m == null) {
      throw new AssertionError("no sync message within " + WAIT
          + (closed.isDone() ? "; the stream ended with " + closed.getNow(null) : ""));
    }
    return m;
  }

  /** The next message if one is already here. */
  SyncMessage poll() {
    return messages.poll();
  }

  /** The status the stream ended with; fails if it does not end within the wait. */
  Status awaitClose() throws InterruptedException {
    try {
      return closed.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException e) {
      throw new AssertionError("the stream did not end within " + WAIT, e);
    }
  }

  boolean isClosed() {
    return closed.isDone();
  }

  /** Applies messages to a replica until it holds at least a version; fails on a wrong message. */
  Replica applyUntil(Replica replica, long version) throws InterruptedException {
    while (replica.version < version) {
      replica.apply(next());
    }
    assertThat(replica.version).isEqualTo(version);
    return replica;
  }
}
