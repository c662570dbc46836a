package dev.flags.server.sync;

import static dev.flags.server.sync.SyncFixture.ADMIN;
import static dev.flags.server.sync.SyncFixture.ENV;
import static dev.flags.server.sync.SyncFixture.SDK;
import static dev.flags.server.sync.SyncFixture.createEnvironment;
import static dev.flags.server.sync.SyncFixture.createFlag;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A token may hold only so many sync streams: the next one is refused until one of them ends. */
class StreamLimitTest {

  @TempDir
  Path dir;

  @Test
  void aTokenAtItsStreamLimitIsRefusedUntilOneOfItsStreamsEnds() throws Exception {
    try (SyncFixture f = SyncFixture.start(dir, b -> b.maxStreamsPerToken(2))) {
      refusedUntilAStreamEnds(f);
    }
  }

  private static void refusedUntilAStreamEnds(SyncFixture f) throws Exception {
    f.write(createEnvironment(ENV));
    f.write(createFlag(ENV, "a"));

    Recorder first = f.subscribe(0);
    Recorder second = f.subscribe(0);
    assertThat(first.next().hasSnapshot()).isTrue();
    assertThat(second.next().hasSnapshot()).isTrue();

    Recorder third = f.subscribe(0);
    Status refused = third.awaitClose();
    assertThat(refused.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(refused.getDescription()).isEqualTo("this token has 2 sync streams open, the most one token may have:"
        + " an application creates one Flags and shares it (each Flags holds one stream)");
    assertThat(f.broadcaster.streamsOf("tok-sdk")).isEqualTo(2);
    assertThat(f.broadcaster.connectedStreams()).isEqualTo(2);

    Recorder admin = f.subscribe(ADMIN, ENV, 0);
    assertThat(admin.next().hasSnapshot()).as("another token's streams").isTrue();

    first.cancel();
    assertThat(f.broadcaster.awaitConnectedStreams(2, Duration.ofSeconds(20))).isTrue();
    assertThat(f.broadcaster.streamsOf("tok-sdk")).isEqualTo(1);
    Recorder again = f.subscribe(SDK, ENV, 0);
    assertThat(again.next().hasSnapshot()).as("room again after a stream ended").isTrue();
    assertThat(f.broadcaster.streamsOf("tok-sdk")).isEqualTo(2);
  }

  @Test
  void anInstanceThatSubscribesAgainAtItsTokensLimitReplacesItsOldStream() throws Exception {
    try (SyncFixture f = SyncFixture.start(dir, b -> b.maxStreamsPerToken(2))) {
      f.write(createEnvironment(ENV));
      f.write(createFlag(ENV, "a"));
      Recorder other = new Recorder();
      f.stub(SDK).subscribe(SyncFixture.request(ENV, 0).toBuilder().setInstanceId("inst-b").build(), other);
      assertThat(other.next().hasSnapshot()).isTrue();
      Recorder old = new Recorder();
      f.stub(SDK).subscribe(SyncFixture.request(ENV, 0).toBuilder().setInstanceId("inst-a").build(), old);
      assertThat(old.next().hasSnapshot()).isTrue();

      // inst-a's connection went half-open: it subscribes again, from its version, its token at the limit (QA65 F3).
      Recorder again = new Recorder();
      f.stub(SDK).subscribe(SyncFixture.request(ENV, f.version()).toBuilder().setInstanceId("inst-a").build(), again);
      assertThat(old.awaitClose().getDescription()).isEqualTo("a newer stream of this SDK instance replaced this one");
      assertThat(again.next().hasHeartbeat()).as("kept: up to date, so a heartbeat").isTrue();
      assertThat(again.isClosed()).isFalse();
      assertThat(f.broadcaster.awaitConnectedStreams(2, Duration.ofSeconds(20))).isTrue();
      assertThat(f.broadcaster.streamsOf("tok-sdk")).as("the old one's place taken, not one more").isEqualTo(2);

      Recorder third = f.subscribe(0);
      assertThat(third.awaitClose().getCode()).as("a new instance is still refused").isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    }
  }

  @Test
  void aTokenWhoseStreamsHoverAtItsLimitIsAWarnAMinuteNotOnePerRefusal() throws Exception {
    java.util.concurrent.atomic.AtomicLong nanos = new java.util.concurrent.atomic.AtomicLong();
    try (SyncFixture f = SyncFixture.start(dir, b -> b.maxStreamsPerToken(2).ticker(nanos::get))) {
      f.write(createEnvironment(ENV));
      f.write(createFlag(ENV, "a"));
      assertThat(f.subscribe(0).next().hasSnapshot()).isTrue();
      // One stream ends, two come: each refusal began a new "episode", and each was a WARN (QA95 F1). Whoever holds
      // the token (or an application that makes a Flags per request) could write the log full.
      String log = dev.flags.server.StandardErrorCapture.during(() -> {
        for (int i = 0; i < 20; i++) {
          Recorder room = f.subscribe(0);
          assertThat(room.next().hasSnapshot()).isTrue();
          assertThat(f.subscribe(0).awaitClose().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
          room.cancel();
          assertThat(f.broadcaster.awaitConnectedStreams(1, Duration.ofSeconds(20))).isTrue();
        }
        nanos.addAndGet(Broadcaster.CAP_WARNING_NANOS);
        assertThat(f.subscribe(0).next().hasSnapshot()).isTrue();
        assertThat(f.subscribe(0).awaitClose().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      });
      String line = "sync: token tok-sdk has 2 streams open, the most one token may have; its new streams get"
          + " RESOURCE_EXHAUSTED (is an application creating a Flags per request?)";
      assertThat(log.lines().filter(l -> l.contains(" WARN ")).map(l -> l.substring(l.indexOf(" - ") + 3)))
          .containsExactly(line, line + "; 19 more refused since the last such line");
    }
  }

  @Test
  void theLimitIsBetweenOneAndAMillion() {
    try (SyncFixture f = SyncFixture.start(dir)) {
      assertThatThrownBy(() -> Broadcaster.builder(f.journal).maxStreamsPerToken(0))
          .hasMessage("max streams per token must be between 1 and 1000000, was 0");
      assertThatThrownBy(() -> Broadcaster.builder(f.journal).maxStreamsPerToken(1_000_001))
          .hasMessage("max streams per token must be between 1 and 1000000, was 1000001");
    }
  }
}
