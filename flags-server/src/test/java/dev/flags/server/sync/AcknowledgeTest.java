package dev.flags.server.sync;

import static dev.flags.server.sync.SyncFixture.ENV;
import static dev.flags.server.sync.SyncFixture.SDK;
import static dev.flags.server.sync.SyncFixture.SDK_OTHER;
import static dev.flags.server.sync.SyncFixture.createEnvironment;
import static dev.flags.server.sync.SyncFixture.createFlag;
import static dev.flags.server.sync.SyncFixture.updateFlag;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flags.protocol.v1.Acknowledgement;
import dev.flags.protocol.v1.SubscribeRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** SDK instances say which version they applied, on their stream; the server lists what each has. */
class AcknowledgeTest extends SyncFixtureTest {

  private Recorder subscribe(String token, String instanceId, String application) {
    Recorder r = new Recorder();
    f.stub(token).subscribe(SyncFixture.request(ENV, 0).toBuilder().setInstanceId(instanceId)
        .setApplication(application).build(), r);
    return r;
  }

  private void acknowledge(String token, String instanceId, long version) {
    SyncFixture.blocking(f.channel, token).acknowledge(Acknowledgement.newBuilder().setEnvironment(ENV)
        .setInstanceId(instanceId).setVersion(version).build());
  }

  private SdkStream stream(String instanceId) {
    return f.broadcaster.streams(ENV).stream().filter(s -> s.instanceId().equals(instanceId)).findFirst().orElseThrow();
  }

  @Test
  void aStreamShowsWhatWasSentAndWhatItsSdkAcknowledged() throws Exception {
    f = SyncFixture.start(dir);
    f.write(createEnvironment(ENV));
    f.write(createFlag(ENV, "a"));
    Recorder r = subscribe(SDK, "inst-1", "checkout");
    assertThat(r.next().getSnapshot().getVersion()).isEqualTo(2);

    SdkStream before = stream("inst-1");
    assertThat(before.sentVersion()).isEqualTo(2);
    assertThat(before.appliedVersion()).as("nothing acknowledged yet").isEqualTo(-1);
    assertThat(before.appliedAt()).isNull();
    assertThat(before.application()).isEqualTo("checkout");
    assertThat(before.sdk()).isEqualTo("sync-tests/1");
    assertThat(before.tokenId()).isEqualTo("tok-sdk");
    assertThat(before.acknowledges()).isTrue();

    acknowledge(SDK, "inst-1", 2);
    assertThat(stream("inst-1").appliedVersion()).isEqualTo(2);
    assertThat(stream("inst-1").appliedAt()).isNotNull();

    f.write(updateFlag(ENV, "a", false, 0));
    assertThat(r.next().getDelta().getVersion()).isEqualTo(3);
    assertThat(stream("inst-1").sentVersion()).isEqualTo(3);
    assertThat(stream("inst-1").appliedVersion()).as("sent, not yet acknowledged").isEqualTo(2);
    acknowledge(SDK, "inst-1", 3);
    assertThat(stream("inst-1").appliedVersion()).isEqualTo(3);

    acknowledge(SDK, "inst-1", 2); // a late one, overtaken
    assertThat(stream("inst-1").appliedVersion()).as("never goes back").isEqualTo(3);
    acknowledge(SDK, "inst-1", 99);
    assertThat(stream("inst-1").appliedVersion()).as("no more than was sent").isEqualTo(3);
    assertThat(f.broadcaster.streams(ENV)).hasSize(1);
  }

  @Test
  void anotherTokensInstanceOrAnEndedStreamIsNotFound() throws Exception {
    f = SyncFixture.start(dir);
    f.write(createEnvironment(ENV));
    Recorder r = subscribe(SDK, "inst-1", "");
    r.next();

    assertThatThrownBy(() -> acknowledge(SDK_OTHER, "inst-1", 1))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
          assertThat(e.getStatus().getDescription()).contains("no open sync stream", "inst-1");
        });
    assertThat(stream("inst-1").appliedVersion()).as("another token cannot speak for it").isEqualTo(-1);
    assertThatThrownBy(() -> acknowledge(SDK, "inst-2", 1))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));

    r.cancel();
    assertThat(f.broadcaster.awaitConnectedStreams(0, java.time.Duration.ofSeconds(10))).isTrue();
    assertThatThrownBy(() -> acknowledge(SDK, "inst-1", 1))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
  }

  @Test
  void badAcknowledgementsAndInstanceIdsAreRefused() throws Exception {
    f = SyncFixture.start(dir);
    f.write(createEnvironment(ENV));
    for (String bad : List.of("", "has space", "x".repeat(65), "é")) {
      assertThatThrownBy(() -> acknowledge(SDK, bad, 1))
          .as("instance id \"%s\"", bad)
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(e.getStatus().getDescription()).contains("instance_id");
          });
    }
    assertThatThrownBy(() -> acknowledge(SDK, "inst-1", -1))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getDescription()).contains("version must be at least 0"));
    assertThatThrownBy(() -> SyncFixture.blocking(f.channel, SyncFixture.SDK_STAGING).acknowledge(
        Acknowledgement.newBuilder().setEnvironment(ENV).setInstanceId("inst-1").setVersion(1).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED));

    Recorder r = new Recorder();
    f.stub(SDK).subscribe(SubscribeRequest.newBuilder().setEnvironment(ENV).setInstanceId("no good").build(), r);
    Status refused = r.awaitClose();
    assertThat(refused.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(refused.getDescription()).contains("instance_id must be 1 to 64");
  }

  @Test
  void anOlderSdkWithoutAnInstanceIdIsListedAsNotAcknowledging() throws Exception {
    f = SyncFixture.start(dir);
    f.write(createEnvironment(ENV));
    Recorder r = new Recorder();
    f.stub(SDK).subscribe(SubscribeRequest.newBuilder().setEnvironment(ENV)
        .setSdk("old\u001b[31m-sdk/1" + "y".repeat(200)).build(), r);
    r.next();
    SdkStream s = f.broadcaster.streams(ENV).get(0);
    assertThat(s.acknowledges()).isFalse();
    assertThat(s.instanceId()).isEmpty();
    assertThat(s.sentVersion()).isEqualTo(1);
    assertThat(s.sdk()).as("no terminal escapes, cut to 100").startsWith("old?[31m-sdk/1").hasSize(100);
    assertThat(StreamIdentity.name("a\u2028b\u00adc\u3164d\u202ee")).as("nor line separators or invisible characters (QA49a F5)")
        .isEqualTo("a?b?c?d?e");
  }

  @Test
  void anotherTokensStreamWithTheSameInstanceIdTakesNothingFromIt() throws Exception {
    f = SyncFixture.start(dir);
    f.write(createEnvironment(ENV));
    Recorder victim = subscribe(SDK, "inst-1", "checkout");
    victim.next();
    Recorder impostor = subscribe(SDK_OTHER, "inst-1", "impostor"); // the id is shown to whoever lists the SDKs
    impostor.next();
    acknowledge(SDK, "inst-1", 1);
    impostor.cancel();
    assertThat(f.broadcaster.awaitConnectedStreams(1, java.time.Duration.ofSeconds(10))).isTrue();
    assertThat(stream("inst-1").application()).isEqualTo("checkout");
    assertThat(stream("inst-1").appliedVersion()).as("QA49a F2: the victim's acknowledgement is its own").isEqualTo(1);
    acknowledge(SDK, "inst-1", 1); // and it still has a stream to acknowledge on
    assertThat(victim.isClosed()).isFalse();
  }

  @Test
  void aResubscribedInstanceAcknowledgesOnItsNewStream() throws Exception {
    f = SyncFixture.start(dir);
    f.write(createEnvironment(ENV));
    Recorder first = subscribe(SDK, "inst-1", "checkout");
    first.next();
    Recorder second = subscribe(SDK, "inst-1", "checkout");
    second.next();
    // Its SDK has left the first (half-open, say): closed, not listed pending for good beside the new one (QA49a F3)
    Status replaced = first.awaitClose();
    assertThat(replaced.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(replaced.getDescription()).contains("a newer stream of this SDK instance replaced this one");
    acknowledge(SDK, "inst-1", 1);
    assertThat(f.broadcaster.awaitConnectedStreams(1, java.time.Duration.ofSeconds(10))).isTrue();
    assertThat(f.broadcaster.streams(ENV)).singleElement()
        .satisfies(s -> assertThat(s.appliedVersion()).as("the newer stream's").isEqualTo(1));
    acknowledge(SDK, "inst-1", 1); // the old stream's end did not take the new one's place away
  }
}
