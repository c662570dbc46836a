package dev.flags.server.sync;

import static dev.flags.server.sync.SyncFixture.SDK_STAGING;
import static dev.flags.server.sync.SyncFixture.ENV;
import static dev.flags.server.sync.SyncFixture.createEnvironment;
import static dev.flags.server.sync.SyncFixture.createFlag;
import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.protocol.v1.SnapshotRequest;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.Test;

/**
 * An environment deleted for good: its SDKs' streams end with NOT_FOUND that says so (they keep what they have), and
 * so do new streams and snapshots; another environment's streams go on.
 */
class DeletedEnvironmentTest extends SyncFixtureTest {

  private static final String DELETED = "environment \"production\" was deleted for good: point the SDK at another"
      + " environment (until then it serves what it has: its last flags, its cache file, or the defaults)";

  @Test
  void itsStreamsEndWithNotFoundAndNewOnesAreRefusedWhileAnotherEnvironmentsStreamGoesOn() throws Exception {
    f = SyncFixture.start(dir);
    f.write(createEnvironment(ENV));
    f.write(createFlag(ENV, "a"));
    f.write(createEnvironment("staging"));
    f.write(createFlag("staging", "b"));
    Recorder served = f.subscribe(0);
    Recorder resumed = f.subscribe(f.version());
    Recorder other = f.subscribe(SDK_STAGING, "staging", 0);
    assertThat(served.next().getSnapshot().getVersion()).isEqualTo(2);
    assertThat(resumed.next().hasHeartbeat()).as("up to date").isTrue();
    assertThat(other.next().getSnapshot().getVersion()).isEqualTo(2);

    f.write(Change.of(EntryType.ENVIRONMENT_ARCHIVED, ENV, "admin", SyncFixture.MAPPER.createObjectNode()));
    assertThat(served.next().hasDelta()).as("an archived environment is still served").isTrue();
    assertThat(served.isClosed()).isFalse();

    f.write(Change.of(EntryType.ENVIRONMENT_DELETED, ENV, "admin", SyncFixture.MAPPER.createObjectNode()));
    for (Recorder r : new Recorder[] {served, resumed}) {
      Status closed = r.awaitClose();
      assertThat(closed.getCode()).isEqualTo(Status.Code.NOT_FOUND);
      assertThat(closed.getDescription()).isEqualTo(DELETED);
    }
    for (long from : new long[] {0, 3}) {
      Status refused = f.subscribe(from).awaitClose();
      assertThat(refused.getCode()).isEqualTo(Status.Code.NOT_FOUND);
      assertThat(refused.getDescription()).isEqualTo(DELETED);
    }
    StatusRuntimeException snapshot = org.assertj.core.api.Assertions.catchThrowableOfType(
        () -> SyncFixture.blocking(f.channel, SyncFixture.SDK).getSnapshot(
            SnapshotRequest.newBuilder().setEnvironment(ENV).build()), StatusRuntimeException.class);
    assertThat(snapshot.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(snapshot.getStatus().getDescription()).isEqualTo(DELETED);

    f.write(createFlag("staging", "c"));
    assertThat(other.next().getDelta().getVersion()).as("another environment's stream goes on").isEqualTo(3);
    assertThat(other.isClosed()).isFalse();
  }

  @Test
  void theStatusOfADeletedEnvironmentWhoseKeyLooksLikeATokenDoesNotQuoteIt() throws Exception {
    // Created before the admin API refused such keys (QA67 F3): its key would go to every SDK of it, which logs the status.
    String legacy = "flg_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v";
    String said = "environment " + StreamIdentity.HIDDEN_TOKEN + " was deleted for good: point the SDK at another"
        + " environment (until then it serves what it has: its last flags, its cache file, or the defaults)";
    f = SyncFixture.start(dir);
    f.write(createEnvironment(legacy));
    f.write(createFlag(legacy, "a"));
    Recorder served = f.subscribe(SyncFixture.ADMIN, legacy, 0);
    assertThat(served.next().getSnapshot().getVersion()).isEqualTo(2);

    f.write(Change.of(EntryType.ENVIRONMENT_ARCHIVED, legacy, "admin", SyncFixture.MAPPER.createObjectNode()));
    assertThat(served.next().hasDelta()).isTrue();
    String logged = dev.flags.server.StandardErrorCapture.during(() -> {
      f.write(Change.of(EntryType.ENVIRONMENT_DELETED, legacy, "admin", SyncFixture.MAPPER.createObjectNode()));
      Status closed = served.awaitClose();
      assertThat(closed.getCode()).isEqualTo(Status.Code.NOT_FOUND);
      assertThat(closed.getDescription()).as("the stream it ended").isEqualTo(said);
      Status refused = f.subscribe(SyncFixture.ADMIN, legacy, 0).awaitClose(); // after the server's log line, in practice
      assertThat(refused.getDescription()).as("a stream asked for after").isEqualTo(said);
    });
    assertThat(logged).as("the server's log").contains("sync: environment " + StreamIdentity.HIDDEN_TOKEN
        + " was deleted; streams closed: 1").doesNotContain(legacy.substring(4));
    StatusRuntimeException snapshot = org.assertj.core.api.Assertions.catchThrowableOfType(
        () -> SyncFixture.blocking(f.channel, SyncFixture.ADMIN).getSnapshot(
            SnapshotRequest.newBuilder().setEnvironment(legacy).build()), StatusRuntimeException.class);
    assertThat(snapshot.getStatus().getDescription()).as("a snapshot asked for after").isEqualTo(said);
    assertThat(Broadcaster.notThereStatus(legacy, false).getDescription())
        .as("the status of a stream whose environment went as it started").doesNotContain(legacy.substring(4))
        .isEqualTo("environment " + StreamIdentity.HIDDEN_TOKEN + " does not exist");
  }
}
