package dev.flags.server.sync;

import static dev.flags.server.sync.SyncFixture.ENV;
import static dev.flags.server.sync.SyncFixture.bigUpdate;
import static dev.flags.server.sync.SyncFixture.createEnvironment;
import static dev.flags.server.sync.SyncFixture.createFlag;
import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.protocol.v1.FlagSyncGrpc;
import dev.flags.protocol.v1.Snapshot;
import dev.flags.protocol.v1.SnapshotRequest;
import dev.flags.protocol.v1.SyncMessage;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.stub.MetadataUtils;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Snapshots written to SDKs that do not read them are bounded: a token's streams hold at most their share of the
 * send buffer, the rest wait their turn, other tokens are still served, and a stream that goes away frees its part.
 * Over real sockets, with clients that stop reading as a stuck or hostile one does.
 */
class SendBufferTest extends SyncFixtureTest {

  private static final long BUFFER = 4L << 20; // a token's share: 2 MiB
  private static final int FLAGS = 40;
  private static final int DESCRIPTION_BYTES = 30_000; // a snapshot of about 1.2 MB
  private static final String STAGING = "staging";
  private static final Duration WAIT = Duration.ofSeconds(20);

  private final List<ManagedChannel> channels = new ArrayList<>();

  @AfterEach
  void closeChannels() {
    channels.forEach(ManagedChannel::shutdownNow);
  }

  @Test
  void streamsThatDoNotReadHoldAtMostTheirTokensShareWhileOtherTokensAreServed() throws Exception {
    f = SyncFixture.start(dir, b -> b.sendBufferBytes(BUFFER));
    fill(ENV);
    fill(STAGING);
    SendBudget budget = f.broadcaster.budget();
    int snapshotBytes = streamSnapshotBytes(ENV);
    assertThat(SendBudget.large(snapshotBytes)).isTrue();
    assertThat(2L * snapshotBytes).as("two are over a token's share, one is not").isGreaterThan(budget.perToken())
        .isLessThan(budget.total());

    Recorder stuck = Recorder.manual(0);
    SyncFixture.stub(stuckChannel(), SyncFixture.SDK).subscribe(SyncFixture.request(ENV, 0), stuck);
    assertThat(budget.await(b -> b.heldBy("tok-sdk") == snapshotBytes, WAIT))
        .as("the stuck stream's snapshot is held: %s bytes held", budget.heldBy("tok-sdk")).isTrue();

    Recorder next = f.subscribe(0); // the same token: two snapshots are over its share
    assertThat(budget.await(b -> b.waiting() == 1, WAIT)).as("the second stream of the token waits").isTrue();
    Recorder otherToken = f.subscribe(SyncFixture.SDK_STAGING, STAGING, 0);
    assertThat(otherToken.next().hasSnapshot()).as("another token's stream is not held back").isTrue();
    assertThat(next.poll()).as("nothing written to the waiting stream").isNull();
    assertThat(budget.heldBy("tok-sdk")).isEqualTo(snapshotBytes);

    stuck.cancel(); // the stuck client goes away: its part is given back, and the waiting stream is served

    assertThat(next.next().getSnapshot().getFlagsCount()).isEqualTo(FLAGS);
    assertThat(budget.await(b -> b.held() == 0 && b.waiting() == 0, WAIT))
        .as("every snapshot taken: nothing held, %s bytes still held", budget.held()).isTrue();
    assertThat(f.broadcaster.sendBufferBytes()).isZero();
  }

  @Test
  void aStreamThatWaitsGetsAWaitingEachHeartbeatIntervalNotAHeartbeatThatWouldSayItIsUpToDate() throws Exception {
    Duration heartbeat = Duration.ofMillis(500);
    f = SyncFixture.start(dir, b -> b.sendBufferBytes(BUFFER).heartbeatInterval(heartbeat));
    fill(ENV);
    SendBudget budget = f.broadcaster.budget();
    Recorder stuck = Recorder.manual(0);
    SyncFixture.stub(stuckChannel(), SyncFixture.SDK).subscribe(SyncFixture.request(ENV, 0), stuck);
    assertThat(budget.await(b -> b.heldBy("tok-sdk") > 0, WAIT)).as("the stuck stream's snapshot is held").isTrue();
    long subscribed = System.nanoTime();
    Recorder waiting = f.subscribe(0);
    assertThat(budget.await(b -> b.waiting() == 1, WAIT)).as("the second stream of the token waits").isTrue();

    SyncMessage m = waiting.next();
    assertThat(m.getKindCase()).as("the first message to the waiting stream").isEqualTo(SyncMessage.KindCase.WAITING);
    assertThat(Duration.ofNanos(System.nanoTime() - subscribed)).as("after a heartbeat interval").isGreaterThanOrEqualTo(heartbeat);
    assertThat(m.getWaiting().getHeartbeatIntervalMillis()).isEqualTo(heartbeat.toMillis());
    assertThat(m.getWaiting().getServerTimeMillis()).isPositive();
    assertThat(budget.waiting()).as("still waiting, in its place").isEqualTo(1);

    // The stuck stream is cut two intervals after its snapshot was written: one more Waiting at most, not a burst.
    int waitings = 1;
    SyncMessage served;
    while ((served = waiting.next()).hasWaiting()) {
      waitings++;
    }
    assertThat(waitings).isLessThanOrEqualTo(2);
    assertThat(served.getSnapshot().getFlagsCount()).as("then its snapshot").isEqualTo(FLAGS);
  }

  @Test
  void aStreamThatHoldsItsSnapshotUntakenForTwoHeartbeatIntervalsWhileAnotherWaitsIsCutOffAndTheOtherServed()
      throws Exception {
    Duration heartbeat = Duration.ofMillis(300);
    f = SyncFixture.start(dir, b -> b.sendBufferBytes(BUFFER).heartbeatInterval(heartbeat));
    fill(ENV);
    f.write(createEnvironment(STAGING));
    SendBudget budget = f.broadcaster.budget();
    Recorder stuck = Recorder.manual(0);
    SyncFixture.stub(stuckChannel(), SyncFixture.SDK).subscribe(SyncFixture.request(ENV, 0), stuck);
    assertThat(budget.await(b -> b.heldBy("tok-sdk") > 0, WAIT)).as("the stuck stream's snapshot is held").isTrue();
    // Alone, it holds back nobody and is left alone while three heartbeats of another stream pass (0.9 s).
    Recorder idle = f.subscribe(SyncFixture.SDK_STAGING, STAGING, 0);
    for (int i = 0; i < 4; i++) {
      assertThat(idle.next().getKindCase()).isIn(SyncMessage.KindCase.SNAPSHOT, SyncMessage.KindCase.HEARTBEAT);
    }
    assertThat(f.broadcaster.callsCut()).as("nobody waited: nobody cut").isZero();
    assertThat(budget.heldBy("tok-sdk")).isPositive();

    Recorder waiting = f.subscribe(0); // the same token: two snapshots are over its share
    String log = dev.flags.server.StandardErrorCapture.during(() -> {
      SyncMessage m;
      do {
        m = waiting.next();
      } while (m.hasWaiting());
      assertThat(m.getSnapshot().getFlagsCount()).as("served once the stuck stream is cut").isEqualTo(FLAGS);
      assertThat(f.broadcaster.callsCut()).isEqualTo(1);
    });
    assertThat(log).contains("sync: cut 1 call whose clients had not taken a message of 4 KiB or more in PT0.6S"
        + " (2 heartbeat intervals) while 1 other waited for room in the send buffer (--max-sync-buffer-mib); by token:"
        + " {tok-sdk=1}");
    assertThat(budget.await(b -> b.held() == 0 && b.waiting() == 0, WAIT))
        .as("the served snapshot taken, and the cut one's given back: %s bytes held", budget.held()).isTrue();
    assertThat(f.broadcaster.connectedStreams()).as("the cut stream is gone; the waiting and the idle remain").isEqualTo(2);
    stuck.request(1_000);
    Status status = stuck.awaitClose();
    assertThat(status.getCode()).as("the stuck client sees its connection closed: %s", status).isEqualTo(Status.Code.UNAVAILABLE);
  }

  @Test
  void onceATokensStreamWasCutItsWaitingStreamsAreServedAfterEveryOtherTokensSoAReaderWaitsForOneRoundOfCutsAtMost()
      throws Exception {
    // A budget of two snapshots and a half: a token's share (one and a quarter) holds one at a time.
    f = SyncFixture.start(dir, b -> b.sendBufferBytes(3L << 20).heartbeatInterval(Duration.ofMillis(300)));
    fill(ENV);
    fill(STAGING);
    SendBudget budget = f.broadcaster.budget();
    // Two tokens whose streams never read: each holds a snapshot, and has one more stream waiting behind it.
    for (String token : List.of(SyncFixture.SDK, SyncFixture.SDK_STAGING)) {
      String env = token.equals(SyncFixture.SDK) ? ENV : STAGING;
      for (int i = 0; i < 2; i++) {
        SyncFixture.stub(stuckChannel(), token).subscribe(SyncFixture.request(env, 0), Recorder.manual(0));
      }
    }
    assertThat(budget.await(b -> b.waiting() == 2 && b.heldBy("tok-sdk") > 0 && b.heldBy("tok-sdk-staging") > 0, WAIT))
        .as("two held, two waiting").isTrue();
    assertThat(f.broadcaster.callsCut()).isZero();

    // A reader of a third token, queued behind the stuck ones' waiting streams: two snapshots held leave no room for it.
    Recorder reader = f.subscribe(SyncFixture.SDK_OTHER, ENV, 0);
    SyncMessage m;
    do {
      m = reader.next();
    } while (m.hasWaiting());

    assertThat(m.getSnapshot().getFlagsCount()).isEqualTo(FLAGS);
    assertThat(f.broadcaster.callsCut()).as("served after the first round of cuts, ahead of the cut tokens' other"
        + " streams, which were queued before it").isBetween(1L, 2L);
  }

  @Test
  void aStopCutsAStreamThatHasNotTakenItsMessageForTwoHeartbeatIntervalsInsteadOfWaitingOnItsClose() throws Exception {
    // Nobody waits, so it is not cut while the server runs; but its close would queue behind the message it never reads,
    // and the stop would wait its whole grace for it (QA42b F6: every rolling restart 10 s longer).
    f = SyncFixture.start(dir, b -> b.sendBufferBytes(BUFFER).heartbeatInterval(Duration.ofMillis(200)));
    fill(ENV);
    SendBudget budget = f.broadcaster.budget();
    SyncFixture.stub(stuckChannel(), SyncFixture.SDK).subscribe(SyncFixture.request(ENV, 0), Recorder.manual(0));
    assertThat(budget.await(b -> b.heldBy("tok-sdk") > 0, WAIT)).isTrue();
    Recorder reader = f.subscribe(SyncFixture.SDK_OTHER, ENV, 0);
    assertThat(reader.next().hasSnapshot()).as("another token's: the budget has room for both").isTrue();
    for (int i = 0; i < 3; i++) {
      assertThat(reader.next().hasHeartbeat()).as("heartbeats pass: the stuck stream's message is older than two").isTrue();
    }

    f.broadcaster.shutdown(Duration.ofSeconds(10));
    f.server.shutdown();

    assertThat(f.server.awaitTermination(5, TimeUnit.SECONDS)).as("every call ended: the stuck one was cut").isTrue();
    assertThat(reader.awaitClose().getCode()).as("the reader is told to reconnect").isEqualTo(Status.Code.UNAVAILABLE);
  }

  @Test
  void anUnreadGetSnapshotAnswerIsCutOffTooOnceItHoldsBackAnotherForTwoHeartbeatIntervals() throws Exception {
    f = SyncFixture.start(dir, b -> b.sendBufferBytes(BUFFER).heartbeatInterval(Duration.ofMillis(300)));
    fill(ENV);
    SendBudget budget = f.broadcaster.budget();
    CompletableFuture<Status> closed = new CompletableFuture<>();
    ClientCall<SnapshotRequest, Snapshot> unread = ClientInterceptors.intercept(stuckChannel(),
            MetadataUtils.newAttachHeadersInterceptor(SyncFixture.bearer(SyncFixture.SDK)))
        .newCall(FlagSyncGrpc.getGetSnapshotMethod(), CallOptions.DEFAULT);
    unread.start(new ClientCall.Listener<>() {
      @Override
      public void onClose(Status status, Metadata trailers) {
        closed.complete(status);
      }
    }, new Metadata());
    unread.sendMessage(SnapshotRequest.newBuilder().setEnvironment(ENV).build());
    unread.halfClose();
    assertThat(budget.await(b -> b.heldBy("tok-sdk") > 0, WAIT)).as("the unread answer is held").isTrue();

    Snapshot read = SyncFixture.blocking(f.channel, SyncFixture.SDK)
        .getSnapshot(SnapshotRequest.newBuilder().setEnvironment(ENV).build());

    assertThat(read.getFlagsCount()).as("answered once the unread one is cut").isEqualTo(FLAGS);
    assertThat(f.broadcaster.callsCut()).isEqualTo(1);
    unread.request(1);
    assertThat(closed.get(WAIT.toMillis(), TimeUnit.MILLISECONDS).getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(budget.await(b -> b.held() == 0 && b.waiting() == 0, WAIT)).as("all given back").isTrue();
  }

  @Test
  void aGetSnapshotAnswerThatIsNotReadCountsInTheTokensShareUntilItsCallEnds() throws Exception {
    f = SyncFixture.start(dir, b -> b.sendBufferBytes(BUFFER));
    fill(ENV);
    SendBudget budget = f.broadcaster.budget();
    int snapshotBytes = snapshotBytes(ENV);

    // A client that asks for a snapshot and never takes the answer: no message requested, a small window.
    ClientCall<SnapshotRequest, Snapshot> unread = ClientInterceptors.intercept(stuckChannel(),
            MetadataUtils.newAttachHeadersInterceptor(SyncFixture.bearer(SyncFixture.SDK)))
        .newCall(FlagSyncGrpc.getGetSnapshotMethod(), CallOptions.DEFAULT);
    unread.start(new ClientCall.Listener<>() { }, new Metadata());
    unread.sendMessage(SnapshotRequest.newBuilder().setEnvironment(ENV).build());
    unread.halfClose();
    assertThat(budget.await(b -> b.heldBy("tok-sdk") == snapshotBytes, WAIT)).as("the unread answer is held").isTrue();

    Recorder stream = f.subscribe(0);
    assertThat(budget.await(b -> b.waiting() == 1, WAIT)).as("the token's stream waits behind it").isTrue();
    CompletableFuture<Snapshot> read = CompletableFuture.supplyAsync(() ->
        SyncFixture.blocking(f.channel, SyncFixture.SDK).getSnapshot(SnapshotRequest.newBuilder().setEnvironment(ENV).build()));
    assertThat(budget.await(b -> b.waiting() == 2, WAIT)).as("and so does another answer of the token").isTrue();

    unread.cancel("the client gives up", null);

    assertThat(stream.next().hasSnapshot()).isTrue();
    assertThat(read.get(WAIT.toMillis(), TimeUnit.MILLISECONDS).getFlagsCount()).isEqualTo(FLAGS);
    assertThat(budget.await(b -> b.held() == 0 && b.waiting() == 0, WAIT)).as("all given back").isTrue();
  }

  @Test
  void snapshotsOfOrdinarySizeAreCountedTooSoThatManyStreamsThatNeverReadCannotHoldUnboundedMemory() throws Exception {
    f = SyncFixture.start(dir, b -> b.sendBufferBytes(BUFFER));
    f.write(createEnvironment(STAGING));
    for (int i = 0; i < 4; i++) { // an environment of a few flags: a snapshot of about 12 kB, well under 64 KiB
      f.write(createFlag(STAGING, "f-" + i));
      f.write(bigUpdate(STAGING, "f-" + i, 50, 3_000));
    }
    int snapshotBytes = streamSnapshotBytes(STAGING);
    assertThat(snapshotBytes).isBetween(SendBudget.LARGE, 64 * 1024);
    SendBudget budget = f.broadcaster.budget();
    // A stream whose window (4 KiB) takes a third of the snapshot: the rest waits in the server, held, as the
    // snapshots of ten thousand streams that never read would.
    ManagedChannel stuck = f.channel(c -> c.flowControlWindow(4 * 1024));
    channels.add(stuck);
    SyncFixture.stub(stuck, SyncFixture.SDK_STAGING).subscribe(SyncFixture.request(STAGING, 0), Recorder.manual(0));
    assertThat(budget.await(b -> b.heldBy("tok-sdk-staging") == snapshotBytes, WAIT))
        .as("the snapshots its streams have not taken are counted: %s bytes held", budget.heldBy("tok-sdk-staging")).isTrue();
    assertThat(f.broadcaster.sendBufferBytes()).as("and show in flags_sync_buffer_bytes").isPositive();
  }

  @Test
  void aStreamReplacedWhileItsSnapshotIsUnreadHasItsConnectionClosedSoNothingIsHeldUncounted() throws Exception {
    f = SyncFixture.start(dir, b -> b.sendBufferBytes(BUFFER));
    fill(ENV);
    SendBudget budget = f.broadcaster.budget();
    int bytes = streamSnapshotBytes(ENV);
    Recorder old = Recorder.manual(0); // its connection went half-open: it reads nothing
    SyncFixture.stub(stuckChannel(), SyncFixture.SDK).subscribe(SyncFixture.request(ENV, 0).toBuilder()
        .setInstanceId("same-instance").build(), old);
    assertThat(budget.await(b -> b.heldBy("tok-sdk") == bytes, WAIT)).as("its snapshot written, unread").isTrue();

    // The same instance subscribes again, over a new connection, as the SDK does. A close of the old call would wait
    // behind its unread snapshot, which gRPC would hold on, given back to the budget and counted nowhere (QA65 F1).
    Recorder again = new Recorder();
    f.stub(SyncFixture.SDK).subscribe(SyncFixture.request(ENV, 0).toBuilder()
        .setInstanceId("same-instance").build(), again);
    SyncMessage m;
    do {
      m = again.next();
    } while (m.hasWaiting());
    assertThat(m.getSnapshot().getFlagsCount()).isEqualTo(FLAGS);
    old.request(1_000);
    Status closed = old.awaitClose();
    assertThat(closed.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(closed.getDescription()).as("its connection closed, not its close queued behind the snapshot")
        .doesNotContain("replaced");
    assertThat(old.poll()).as("its snapshot freed with the connection, never delivered").isNull();
    assertThat(budget.await(b -> b.held() == 0 && b.waiting() == 0, WAIT)).as("nothing held: %s", budget.held()).isTrue();
    assertThat(f.broadcaster.streamsOf("tok-sdk")).isEqualTo(1);
  }

  @Test
  void getSnapshotAnswersOfAnEnvironmentNoSdkStreamsFromShareOneSnapshotOfEachVersion() throws Exception {
    f = SyncFixture.start(dir);
    f.write(createEnvironment(ENV));
    f.write(createFlag(ENV, "a"));
    // Built per call before, each waiting answer held a private copy of the environment on the heap (QA65 F4).
    dev.flags.protocol.v1.Snapshot first = f.broadcaster.snapshot(ENV).orElseThrow();
    assertThat(f.broadcaster.snapshot(ENV).orElseThrow()).as("one snapshot for every call").isSameAs(first);
    f.write(createFlag(ENV, "b"));
    dev.flags.protocol.v1.Snapshot next = f.broadcaster.snapshot(ENV).orElseThrow();
    assertThat(next.getFlagsCount()).as("the next version's").isEqualTo(2);
    assertThat(f.broadcaster.snapshot(ENV).orElseThrow()).isSameAs(next);
    assertThat(f.broadcaster.snapshot("no-such-environment")).isEmpty();
    assertThat(f.broadcaster.connectedStreams()).isZero();
  }

  /** An environment whose snapshot is about 1.2 MB. */
  private void fill(String env) {
    f.write(createEnvironment(env));
    for (int i = 0; i < FLAGS; i++) {
      f.write(createFlag(env, "f-" + i));
      f.write(bigUpdate(env, "f-" + i, 50, DESCRIPTION_BYTES));
    }
  }

  /** The bytes of the environment's snapshot as a GetSnapshot answer. */
  private int snapshotBytes(String env) {
    return f.broadcaster.snapshot(env).orElseThrow().getSerializedSize();
  }

  /** The bytes of the environment's snapshot as a stream's message. */
  private int streamSnapshotBytes(String env) {
    return Messages.message(f.broadcaster.snapshot(env).orElseThrow()).getSerializedSize();
  }

  /** A channel of its own with a small flow-control window, so that its transport soon stops taking bytes. */
  private ManagedChannel stuckChannel() {
    ManagedChannel channel = f.channel(b -> b.flowControlWindow(32 * 1024));
    channels.add(channel);
    return channel;
  }
}
