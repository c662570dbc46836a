package dev.flags.server.sync;

import static dev.flags.server.sync.SyncFixture.ENV;
import static dev.flags.server.sync.SyncFixture.createEnvironment;
import static dev.flags.server.sync.SyncFixture.createFlag;
import static dev.flags.server.sync.SyncFixture.updateFlag;
import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * A message gRPC fails to take with an Error (out of direct memory) ends its stream for good on the server too:
 * the stream no longer counts as connected nor against its token, and the token's SDKs subscribe again.
 */
class FailedSendTest extends SyncFixtureTest {

  /**
   * An interceptor whose calls' next message, once {@code failNext} is set, fails with an OutOfMemoryError, after closing
   * the call first if {@code closeFirst} (as gRPC does for an Error of its transport).
   */
  private static ServerInterceptor failingNextMessage(AtomicBoolean failNext, boolean closeFirst, String error) {
    return new ServerInterceptor() {
      @Override
      public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
        return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
          @Override
          public void sendMessage(A message) {
            if (failNext.compareAndSet(true, false)) {
              if (closeFirst) {
                delegate().close(Status.CANCELLED.withDescription("Server sendMessage() failed with Error"), new Metadata());
              }
              throw new OutOfMemoryError(error);
            }
            super.sendMessage(message);
          }
        }, headers);
      }
    };
  }

  @Test
  void aStreamWhoseMessageFailedWithAnErrorIsUnsubscribed() throws Exception {
    AtomicBoolean failNext = new AtomicBoolean();
    // What gRPC's own call does when the transport throws an Error: close the call, then rethrow.
    f = SyncFixture.start(dir, failingNextMessage(failNext, true, "test: cannot reserve direct memory"));
    f.write(createEnvironment(ENV));
    f.write(createFlag(ENV, "billing-v2"));
    Recorder first = f.subscribe(0);
    assertThat(first.next().hasSnapshot()).isTrue();

    failNext.set(true);
    f.write(updateFlag(ENV, "billing-v2", true, 50));

    assertThat(first.awaitClose().getCode()).isEqualTo(Status.Code.CANCELLED);
    assertThat(f.broadcaster.awaitConnectedStreams(0, Duration.ofSeconds(20))).as("no longer counted as connected").isTrue();
    assertThat(f.broadcaster.streamsOf("tok-sdk")).as("nor against its token").isZero();
    Recorder again = f.subscribe(0);
    assertThat(again.next().getSnapshot().getVersion()).isEqualTo(f.version());
  }

  @Test
  void aStreamWhoseMessageFailedWithAnErrorBeforeGrpcTookItIsEndedSoThatItsSdkSubscribesAgain() throws Exception {
    AtomicBoolean failNext = new AtomicBoolean();
    // As the heap running out while the server builds a large snapshot: the Error comes before gRPC has the message,
    // and gRPC closes nothing (QA41b F8: the SDK's stream was left open and silent for good).
    f = SyncFixture.start(dir, failingNextMessage(failNext, false, "test: Java heap space"));
    f.write(createEnvironment(ENV));
    f.write(createFlag(ENV, "billing-v2"));
    failNext.set(true);

    Recorder first = f.subscribe(0);

    Status closed = first.awaitClose();
    assertThat(closed.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(closed.getDescription()).isEqualTo("the flag server could not send its message to this stream"
        + " (OutOfMemoryError); subscribe again later");
    assertThat(f.broadcaster.outOfMemoryErrors()).isEqualTo(1);
    assertThat(f.broadcaster.awaitConnectedStreams(0, Duration.ofSeconds(20))).isTrue();
    Recorder again = f.subscribe(0);
    assertThat(again.next().getSnapshot().getVersion()).isEqualTo(f.version());
  }

  @Test
  void aGetSnapshotAnswerThatFailedWithAnErrorBeforeGrpcTookItEndsWithResourceExhausted() {
    AtomicBoolean failNext = new AtomicBoolean();
    f = SyncFixture.start(dir, failingNextMessage(failNext, false, "test: Java heap space"));
    f.write(createEnvironment(ENV));
    f.write(createFlag(ENV, "billing-v2"));
    failNext.set(true);

    io.grpc.StatusRuntimeException refused = org.junit.jupiter.api.Assertions.assertThrows(io.grpc.StatusRuntimeException.class,
        () -> SyncFixture.blocking(f.channel, SyncFixture.SDK).withDeadlineAfter(20, java.util.concurrent.TimeUnit.SECONDS)
            .getSnapshot(dev.flags.protocol.v1.SnapshotRequest.newBuilder().setEnvironment(ENV).build()));

    assertThat(refused.getStatus().getCode()).as("ended, not left waiting to its deadline: %s", refused.getStatus())
        .isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(refused.getStatus().getDescription()).startsWith("the flag server could not send the snapshot (OutOfMemoryError)");
    assertThat(SyncFixture.blocking(f.channel, SyncFixture.SDK)
        .getSnapshot(dev.flags.protocol.v1.SnapshotRequest.newBuilder().setEnvironment(ENV).build()).getFlagsCount())
        .as("the next answer is whole").isEqualTo(1);
  }
}
