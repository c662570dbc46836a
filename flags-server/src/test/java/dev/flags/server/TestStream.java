package dev.flags.server;

import dev.flags.protocol.v1.FlagSyncGrpc;
import dev.flags.protocol.v1.SubscribeRequest;
import dev.flags.protocol.v1.SyncMessage;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;

/** Not thread-safe. An SDK's sync stream at its rawest, on a real server's plaintext gRPC port, for end-to-end tests. */
final class TestStream implements AutoCloseable {

    private final ManagedChannel channel;
    /** The stream's messages, blocking: {@code next()} waits for the next one. */
    final Iterator<SyncMessage> messages;

    private TestStream(ManagedChannel channel, Iterator<SyncMessage> messages) {
        this.channel = channel;
        this.messages = messages;
    }

    /** Subscribes to an environment from version 0 with a token. */
    static TestStream open(int grpcPort, String token, String environment) {
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", grpcPort).usePlaintext().build();
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        Iterator<SyncMessage> messages = FlagSyncGrpc.newBlockingStub(channel)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
                .subscribe(SubscribeRequest.newBuilder().setEnvironment(environment).setFromVersion(0).build());
        return new TestStream(channel, messages);
    }

    @Override
    public void close() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
}
