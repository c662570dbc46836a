package dev.flags.server.sync;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.protocol.v1.Delta;
import dev.flags.protocol.v1.FlagDocument;
import dev.flags.protocol.v1.FlagSyncGrpc;
import dev.flags.protocol.v1.Heartbeat;
import dev.flags.protocol.v1.SyncMessage;
import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import org.junit.jupiter.api.Test;

/** A message sent to many streams is encoded once, and every stream still gets its exact bytes. */
class SharedEncodingTest {

  private static final SyncMessage DELTA = SyncMessage.newBuilder().setDelta(Delta.newBuilder()
      .setFromVersion(4).setVersion(5).addUpserted(FlagDocument.newBuilder().setKey("billing-v2")
          .setJson("{\"key\": \"billing-v2\", \"enabled\": true, \"description\": \"Zürich ✓\"}")))
      .build();

  @Test
  void aMessageEncodedOnceIsStreamedAsThoseBytesAsOftenAsNeeded() throws IOException {
    SharedEncoding encoding = new SharedEncoding();
    assertThat(encoding.encodeOnce(DELTA)).isSameAs(DELTA);
    for (int stream = 0; stream < 3; stream++) {
      InputStream in = encoding.stream(DELTA);
      assertThat(in).isInstanceOf(SharedEncoding.EncodedStream.class)
          .isInstanceOf(KnownLength.class).isInstanceOf(Drainable.class);
      assertThat(in.available()).isEqualTo(DELTA.getSerializedSize());
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      assertThat(((Drainable) in).drainTo(out)).isEqualTo(DELTA.getSerializedSize());
      assertThat(out.toByteArray()).isEqualTo(DELTA.toByteArray());
      assertThat(in.available()).isZero();
      assertThat(encoding.parse(new java.io.ByteArrayInputStream(out.toByteArray()))).isEqualTo(DELTA);
    }
  }

  @Test
  void aMessageEncodedBeforeTheLastOneIsStillStreamedFromItsBytes() throws IOException {
    SharedEncoding encoding = new SharedEncoding();
    SyncMessage later = SyncMessage.newBuilder()
        .setDelta(Delta.newBuilder().setFromVersion(5).setVersion(6).addRemoved("billing-v2")).build();
    encoding.encodeOnce(DELTA);
    encoding.encodeOnce(later); // a slow stream may still be sent DELTA after this
    for (SyncMessage m : new SyncMessage[] {DELTA, later, DELTA}) {
      InputStream in = encoding.stream(m);
      assertThat(in).isInstanceOf(SharedEncoding.EncodedStream.class);
      assertThat(in.readAllBytes()).isEqualTo(m.toByteArray());
    }
  }

  @Test
  void anyOtherMessageIsEncodedAsUsual() throws IOException {
    SharedEncoding encoding = new SharedEncoding();
    SyncMessage heartbeat = SyncMessage.newBuilder()
        .setHeartbeat(Heartbeat.newBuilder().setVersion(5).setHeartbeatIntervalMillis(15_000)).build();
    // Equal to a message that was encoded once, but another object: found by identity only.
    SyncMessage equalDelta = SyncMessage.newBuilder(DELTA).build();
    encoding.encodeOnce(DELTA);
    for (SyncMessage m : new SyncMessage[] {heartbeat, equalDelta}) {
      InputStream in = encoding.stream(m);
      assertThat(in).isNotInstanceOf(SharedEncoding.EncodedStream.class);
      assertThat(in.readAllBytes()).isEqualTo(m.toByteArray());
    }
  }

  @Test
  void bindingReplacesOnlyTheSubscribeResponseMarshaller() {
    SharedEncoding encoding = new SharedEncoding();
    ServerServiceDefinition original = new FlagSyncGrpc.FlagSyncImplBase() { }.bindService();
    ServerServiceDefinition bound = encoding.bind(original);
    assertThat(bound.getServiceDescriptor().getName()).isEqualTo(FlagSyncGrpc.SERVICE_NAME);
    assertThat(bound.getMethods()).hasSameSizeAs(original.getMethods());
    ServerMethodDefinition<?, ?> subscribe = bound.getMethod(FlagSyncGrpc.getSubscribeMethod().getFullMethodName());
    assertThat(subscribe.getMethodDescriptor().getResponseMarshaller()).isSameAs(encoding);
    assertThat(subscribe.getMethodDescriptor().getType()).isEqualTo(FlagSyncGrpc.getSubscribeMethod().getType());
    ServerMethodDefinition<?, ?> snapshot = bound.getMethod(FlagSyncGrpc.getGetSnapshotMethod().getFullMethodName());
    assertThat(snapshot.getMethodDescriptor()).isSameAs(FlagSyncGrpc.getGetSnapshotMethod());
  }
}
