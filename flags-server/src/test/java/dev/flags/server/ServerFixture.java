package dev.flags.server;

import dev.flags.protocol.v1.FlagSyncGrpc;
import dev.flags.protocol.v1.SubscribeRequest;
import dev.flags.protocol.v1.SyncMessage;
import io.grpc.Channel;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;

/** Starts a real server on free ports in a temporary data directory. */
final class ServerFixture {

    static final String ADMIN = "test-admin-token-0123456789";

    private ServerFixture() {
    }

    static ServerConfig config(Path dataDir) {
        return ServerConfig.defaults().withDataDir(dataDir).withPorts(0, 0).withBindAddress("127.0.0.1")
                .withAdminToken(ADMIN).withHeartbeatInterval(Duration.ofSeconds(1));
    }

    static FlagServer start(Path dataDir) throws IOException {
        return FlagServer.start(config(dataDir));
    }

    /**
     * An environment "production" made over HTTP, and an sdk token of it.
     *
     * @return the token
     */
    static String productionWithSdkToken(ApiClient api) {
        api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}");
        return api.post("/api/v1/tokens", ADMIN, "{\"name\": \"svc\", \"scope\": \"sdk\","
                + " \"environments\": [\"production\"]}").json().get("token").asText();
    }

    /** @return the stream of a subscription to "production" from version 0, as an SDK makes it */
    static Iterator<SyncMessage> subscribe(Channel channel, String sdkToken) {
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + sdkToken);
        return FlagSyncGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
                .subscribe(SubscribeRequest.newBuilder().setEnvironment("production").setFromVersion(0).build());
    }
}
