package dev.flags.server.sync;

import static dev.flags.server.sync.SyncFixture.ENV;
import static dev.flags.server.sync.SyncFixture.createEnvironment;
import static dev.flags.server.sync.SyncFixture.createFlag;
import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.protocol.v1.Heartbeat;
import dev.flags.protocol.v1.SyncMessage;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

/** Idle streams hear a Heartbeat every interval; busy ones do not need to. */
class HeartbeatTest extends SyncFixtureTest {

  private static final Duration INTERVAL = Duration.ofMillis(100);
  private static final Instant NOW = Instant.parse("2026-11-23T10:00:00Z");

  @Test
  void idleStreamGetsHeartbeatsThatCarryTheVersionAndTheInterval() throws Exception {
    // The gaps are read from the server's time in each heartbeat, taken as it is sent: timed where this
    // thread received them, a heartbeat delivered late made the next one look early. The clock runs on
    // from NOW at the pace of System.nanoTime, which the idle check uses too.
    long origin = System.nanoTime();
    Clock fromNow = new Clock() {
      @Override
      public ZoneOffset getZone() {
        return ZoneOffset.UTC;
      }

      @Override
      public Clock withZone(java.time.ZoneId zone) {
        return this;
      }

      @Override
      public Instant instant() {
        return NOW.plusNanos(System.nanoTime() - origin);
      }
    };
    f = SyncFixture.start(dir, b -> b.heartbeatInterval(INTERVAL).clock(fromNow));
    f.write(createEnvironment(ENV));
    f.write(createFlag(ENV, "a"));

    Recorder r = f.subscribe(0);
    SyncMessage first = r.next();
    assertThat(first.getSnapshot().getHeartbeatIntervalMillis()).isEqualTo(100);
    long previous = -1;
    for (int i = 0; i < 4; i++) {
      Heartbeat h = r.next().getHeartbeat();
      assertThat(h.getVersion()).isEqualTo(2);
      assertThat(h.getHeartbeatIntervalMillis()).isEqualTo(100);
      assertThat(h.getServerTimeMillis()).as("the server's time").isBetween(NOW.toEpochMilli(), fromNow.millis());
      if (previous >= 0) {
        // Sent after 100 ms of silence.
        assertThat(h.getServerTimeMillis() - previous).as("ms since the previous heartbeat was sent")
            .isGreaterThanOrEqualTo(INTERVAL.toMillis());
      }
      previous = h.getServerTimeMillis();
    }

    f.write(createFlag(ENV, "b"));
    SyncMessage next = r.next();
    while (next.hasHeartbeat()) { // one may have been on its way
      next = r.next();
    }
    assertThat(next.getDelta().getVersion()).isEqualTo(3);
    assertThat(r.next().getHeartbeat().getVersion()).isEqualTo(3);
    assertThat(f.broadcaster.heartbeatsSent()).isGreaterThanOrEqualTo(4);
  }

  @Test
  void heartbeatsGoOnAfterAnErrorInTheTick() throws Exception {
    java.util.concurrent.atomic.AtomicBoolean armed = new java.util.concurrent.atomic.AtomicBoolean();
    java.util.concurrent.CountDownLatch thrown = new java.util.concurrent.CountDownLatch(1);
    com.github.benmanes.caffeine.cache.Ticker ticker = () -> {
      if (armed.get() && StackWalker.getInstance().walk(frames -> frames.skip(1).findFirst())
          .map(frame -> frame.getMethodName().equals("heartbeatTick")).orElse(false) && armed.compareAndSet(true, false)) {
        thrown.countDown();
        throw new OutOfMemoryError("test: unable to create native thread, once, in the heartbeat tick");
      }
      return System.nanoTime();
    };
    f = SyncFixture.start(dir, b -> b.heartbeatInterval(Duration.ofMillis(100)).ticker(ticker));
    f.write(createEnvironment(ENV));
    f.write(createFlag(ENV, "a"));
    Recorder r = f.subscribe(0);
    assertThat(r.next().hasSnapshot()).isTrue();
    assertThat(r.next().hasHeartbeat()).as("heartbeats before the error").isTrue();

    armed.set(true);
    assertThat(thrown.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    // The tick, a periodic task, ended for good at its first throw (QA65 F2): at most one heartbeat was on its way then.
    for (int i = 0; i < 3; i++) {
      assertThat(r.next().hasHeartbeat()).as("heartbeat " + (i + 1) + " after the failed tick").isTrue();
    }
  }
}
