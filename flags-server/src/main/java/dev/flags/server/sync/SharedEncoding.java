package dev.flags.server.sync;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.flags.protocol.v1.FlagSyncGrpc;
import dev.flags.protocol.v1.SyncMessage;
import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.protobuf.ProtoUtils;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Thread-safe. Encodes a message sent to many subscribers once, not once per subscriber.
 *
 * <p>A change goes to every subscriber of an environment as the same {@link SyncMessage} object
 * ({@link Topic.Target} builds each Delta and Snapshot once). gRPC's protobuf marshaller would still
 * encode it again for each stream, UTF-8 encoding every flag document each time: a third of what the
 * server allocated while fanning a change out to 1,000 streams (docs/BENCHMARKS-client.md). Messages
 * handed to {@link #encodeOnce} are encoded there; the Subscribe method's marshaller then copies
 * those bytes for each stream. Any other message (a Heartbeat, built per subscriber) is encoded as
 * usual.
 *
 * <p>Why Caffeine: the encoded bytes must live exactly as long as their message is in use and no
 * longer, and be found by identity; a cache with weak keys (compared by identity) and a size bound
 * is that. A message it has dropped is simply encoded per stream again.
 */
final class SharedEncoding implements MethodDescriptor.Marshaller<SyncMessage> {

  private static final MethodDescriptor.Marshaller<SyncMessage> PROTO =
      ProtoUtils.marshaller(SyncMessage.getDefaultInstance());
  /** Enough for every message in flight: a few per environment. */
  private static final int MAX_MESSAGES = 4_096;

  private final Cache<SyncMessage, byte[]> encoded =
      Caffeine.newBuilder().weakKeys().maximumSize(MAX_MESSAGES).build();
  /**
   * The message encoded last, with its bytes: a change is fanned out to every stream right after it is
   * encoded, so nearly every lookup is for it, and this answers it with one read instead of a cache
   * lookup (which makes a lookup key and records the read) per stream. Keeps that one message alive
   * until the next is encoded.
   */
  private volatile Encoded last = new Encoded(null, null);

  private record Encoded(SyncMessage message, byte[] bytes) {
  }

  /**
   * Encodes a message that will be sent to several streams, so that it is not encoded again for each.
   *
   * @param message the message, as it will be passed to the streams (the same object)
   * @return the message
   */
  SyncMessage encodeOnce(SyncMessage message) {
    last = new Encoded(message, encoded.get(message, SyncMessage::toByteArray));
    return message;
  }

  @Override
  public InputStream stream(SyncMessage message) {
    Encoded recent = last;
    byte[] bytes = recent.message() == message ? recent.bytes() : encoded.getIfPresent(message);
    return bytes == null ? PROTO.stream(message) : new EncodedStream(bytes);
  }

  @Override
  public SyncMessage parse(InputStream stream) {
    return PROTO.parse(stream);
  }

  /**
   * @param service the {@code FlagSync} service as its generated base class binds it
   * @return the same service whose Subscribe responses are encoded by this marshaller
   */
  ServerServiceDefinition bind(ServerServiceDefinition service) {
    String subscribe = FlagSyncGrpc.getSubscribeMethod().getFullMethodName();
    ServiceDescriptor original = service.getServiceDescriptor();
    ServiceDescriptor.Builder descriptor = ServiceDescriptor.newBuilder(original.getName())
        .setSchemaDescriptor(original.getSchemaDescriptor());
    List<ServerMethodDefinition<?, ?>> methods = new ArrayList<>();
    for (ServerMethodDefinition<?, ?> method : service.getMethods()) {
      ServerMethodDefinition<?, ?> bound = method.getMethodDescriptor().getFullMethodName().equals(subscribe)
          ? withThisMarshaller(method) : method;
      descriptor.addMethod(bound.getMethodDescriptor());
      methods.add(bound);
    }
    ServerServiceDefinition.Builder definition = ServerServiceDefinition.builder(descriptor.build());
    methods.forEach(definition::addMethod);
    return definition.build();
  }

  @SuppressWarnings("unchecked") // Subscribe's response type is SyncMessage: the generated code says so
  private <Q> ServerMethodDefinition<Q, SyncMessage> withThisMarshaller(ServerMethodDefinition<?, ?> method) {
    ServerMethodDefinition<Q, SyncMessage> m = (ServerMethodDefinition<Q, SyncMessage>) method;
    MethodDescriptor<Q, SyncMessage> descriptor = m.getMethodDescriptor().toBuilder()
        .setResponseMarshaller(this).build();
    return ServerMethodDefinition.create(descriptor, m.getServerCallHandler());
  }

  /**
   * Not thread-safe (one per write). The encoded bytes, shared and never written to, as a stream that
   * gRPC can size ({@link KnownLength}) and copy in one go ({@link Drainable}).
   */
  static final class EncodedStream extends ByteArrayInputStream implements KnownLength, Drainable {

    EncodedStream(byte[] bytes) {
      super(bytes);
    }

    @Override
    public int drainTo(OutputStream target) throws IOException {
      int n = count - pos;
      target.write(buf, pos, n);
      pos = count;
      return n;
    }
  }
}
