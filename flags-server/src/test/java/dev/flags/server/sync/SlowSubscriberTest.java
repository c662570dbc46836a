package dev.flags.server.sync;

import static dev.flags.server.sync.SyncFixture.ENV;
import static dev.flags.server.sync.SyncFixture.bigUpdate;
import static dev.flags.server.sync.SyncFixture.createEnvironment;
import static dev.flags.server.sync.SyncFixture.createFlag;
import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.protocol.v1.SyncMessage;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A subscriber that stops reading holds up no one, and what it missed reaches it as one Delta.
 */
class SlowSubscriberTest extends SyncFixtureTest {

  private static final int WRITES = 150;
  private static final int DOCUMENT_BYTES = 4096;

  private ManagedChannel slowChannel;

  @AfterEach
  void closeSlowChannel() {
    if (slowChannel != null) {
      slowChannel.shutdownNow();
    }
  }

  @Test
  void stuckSubscriberDoesNotHoldUpOthersAndFinallyGetsOneCoalescedDelta() throws Exception {
    f = SyncFixture.start(dir);
    f.write(createEnvironment(ENV));
    for (int i = 0; i < 10; i++) {
      f.write(createFlag(ENV, "f-" + i));
    }
    long start = f.version();
    List<Recorder> fast = new ArrayList<>();
    List<Replica> fastReplicas = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      Recorder r = f.subscribe(start);
      fast.add(r);
      fastReplicas.add(Replica.of(f.env()));
      assertThat(r.next().hasHeartbeat()).as("greeting").isTrue();
    }
    // Its own connection with a small flow-control window, so that the transport stops taking its
    // messages soon; it reads the greeting and then nothing.
    slowChannel = f.channel(b -> b.flowControlWindow(32 * 1024));
    Recorder slow = Recorder.manual(1);
    SyncFixture.stub(slowChannel, SyncFixture.SDK).subscribe(SyncFixture.request(ENV, start), slow);
    assertThat(slow.next().hasHeartbeat()).isTrue();

    long slowest = 0;
    for (int i = 0; i < WRITES; i++) {
      f.write(bigUpdate(ENV, "f-" + (i % 10), i % 101, DOCUMENT_BYTES));
      long version = f.version();
      long acknowledged = System.nanoTime();
      for (int s = 0; s < fast.size(); s++) {
        fast.get(s).applyUntil(fastReplicas.get(s), version);
      }
      slowest = Math.max(slowest, System.nanoTime() - acknowledged);
    }
    assertThat(Duration.ofNanos(slowest))
        .as("slowest delivery to the fast subscribers")
        .isLessThan(Duration.ofSeconds(2));
    long end = f.version();
    for (int s = 0; s < fast.size(); s++) {
      assertThat(fastReplicas.get(s).deltas).isEqualTo(WRITES);
    }

    slow.request(Integer.MAX_VALUE);
    Replica replica = slow.applyUntil(Replica.of(f.journal.stateAt(sequenceOf(start))
        .environment(ENV).orElseThrow()), end);

    assertThat(replica.deltas).as("deltas the slow subscriber got").isLessThan(WRITES / 2);
    assertThat(replica.lastDelta.getVersion() - replica.lastDelta.getFromVersion())
        .as("versions coalesced into the last delta").isGreaterThan(WRITES / 2);
    assertThat(replica.lastDelta.getUpsertedCount()).isEqualTo(10);
    assertThat(replica.flags()).isEqualTo(Replica.flagsOf(f.env()));
    SyncMessage extra = slow.poll();
    assertThat(extra).isNull();
  }

  private long sequenceOf(long version) {
    return f.journal.read(1, 10_000).stream()
        .filter(e -> ENV.equals(e.environment()) && e.version() == version)
        .findFirst().orElseThrow().sequence();
  }
}
