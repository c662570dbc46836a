package dev.flags.server.sync;

import static dev.flags.server.sync.SyncFixture.ENV;
import static dev.flags.server.sync.SyncFixture.createEnvironment;
import static dev.flags.server.sync.SyncFixture.createFlag;
import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Shutdown tells every SDK to reconnect; cancelled streams are forgotten. */
class ShutdownTest extends SyncFixtureTest {

  @Test
  void shutdownClosesEveryStreamWithUnavailableAndRefusesNewOnes() throws Exception {
    f = SyncFixture.start(dir);
    f.write(createEnvironment(ENV));
    f.write(createFlag(ENV, "a"));
    List<Recorder> streams = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      Recorder r = f.subscribe(i % 2 == 0 ? 0 : 2);
      r.next();
      streams.add(r);
    }
    assertThat(f.broadcaster.connectedStreams()).isEqualTo(5);

    f.broadcaster.shutdown();

    for (Recorder r : streams) {
      Status status = r.awaitClose();
      assertThat(status.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
      assertThat(status.getDescription()).contains("shutting down").contains("reconnect");
    }
    assertThat(f.broadcaster.connectedStreams()).isZero();
    Status late = f.subscribe(2).awaitClose();
    assertThat(late.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    f.broadcaster.shutdown(); // idempotent
  }

  @Test
  void cancelledStreamIsUnsubscribed() throws Exception {
    f = SyncFixture.start(dir);
    f.write(createEnvironment(ENV));
    Recorder r = f.subscribe(1);
    r.next();
    Recorder other = f.subscribe(1);
    other.next();
    assertThat(f.broadcaster.connectedStreams()).isEqualTo(2);

    r.cancel();

    assertThat(f.broadcaster.awaitConnectedStreams(1, Recorder.WAIT)).isTrue();
    f.write(createFlag(ENV, "a"));
    assertThat(other.next().getDelta().getVersion()).isEqualTo(2);
    assertThat(f.broadcaster.deltasSent()).isEqualTo(1);
  }
}
