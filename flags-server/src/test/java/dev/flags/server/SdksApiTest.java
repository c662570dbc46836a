package dev.flags.server;

import static dev.flags.server.ServerFixture.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.flags.protocol.v1.Acknowledgement;
import dev.flags.protocol.v1.FlagSyncGrpc;
import dev.flags.protocol.v1.SubscribeRequest;
import dev.flags.protocol.v1.SyncMessage;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code GET .../sdks}: the SDKs connected to an environment, and which of them have applied a version. */
class SdksApiTest {

    private static final String SDKS = "/api/v1/environments/production/sdks";

    @TempDir
    Path dir;

    private FlagServer server;
    private ApiClient api;
    private String sdk;
    private final List<ManagedChannel> channels = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        server = ServerFixture.start(dir.resolve("data"));
        api = new ApiClient(server.httpPort());
        sdk = ServerFixture.productionWithSdkToken(api);
    }

    @AfterEach
    void stop() throws Exception {
        for (ManagedChannel c : channels) {
            c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        server.close();
    }

    private String token(String scope) {
        ApiClient.Response made = api.post("/api/v1/tokens", ADMIN, "{\"name\": \"" + scope + "\", \"scope\": \"" + scope
                + "\", \"environments\": [\"production\"]" + (scope.equals("tester") ? ", \"userId\": \"tess\"" : "") + "}");
        assertThat(made.status()).as(made.body()).isEqualTo(201);
        return made.json().get("token").asText();
    }

    private FlagSyncGrpc.FlagSyncBlockingStub stub() {
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build();
        channels.add(channel);
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + sdk);
        return FlagSyncGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
    }

    /** Subscribes as an SDK and reads until the stream has the version. */
    private static Iterator<SyncMessage> connect(FlagSyncGrpc.FlagSyncBlockingStub stub, String instance, String application,
            long version) {
        Iterator<SyncMessage> stream = stub.subscribe(SubscribeRequest.newBuilder().setEnvironment("production")
                .setSdk("flags-java/test").setInstanceId(instance).setApplication(application).build());
        awaitVersion(stream, version);
        return stream;
    }

    private static void awaitVersion(Iterator<SyncMessage> stream, long version) {
        long has = 0;
        while (has < version) {
            SyncMessage m = stream.next();
            if (m.hasSnapshot()) {
                has = m.getSnapshot().getVersion();
            } else if (m.hasDelta()) {
                has = m.getDelta().getVersion();
            }
        }
    }

    private static void acknowledge(FlagSyncGrpc.FlagSyncBlockingStub stub, String instance, long version) {
        stub.acknowledge(Acknowledgement.newBuilder().setEnvironment("production").setInstanceId(instance)
                .setVersion(version).build());
    }

    @Test
    void listsEveryStreamWithWhetherItsSdkHasAppliedTheVersion() {
        FlagSyncGrpc.FlagSyncBlockingStub checkout = stub();
        FlagSyncGrpc.FlagSyncBlockingStub billing = stub();
        Iterator<SyncMessage> a = connect(checkout, "inst-checkout", "checkout", 1);
        Iterator<SyncMessage> b = connect(billing, "inst-billing", "billing", 1);
        Iterator<SyncMessage> old = connect(stub(), "", "", 1); // an SDK from before acknowledgements
        acknowledge(billing, "inst-billing", 1);

        assertThat(api.put("/api/v1/environments/production/flags/billing-v2", ADMIN, "{\"enabled\": false}").status())
                .isEqualTo(201);
        awaitVersion(a, 2);
        awaitVersion(b, 2);
        awaitVersion(old, 2);
        acknowledge(checkout, "inst-checkout", 2);

        ApiClient.Response r = api.get(SDKS, token("operator"));
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        JsonNode n = r.json();
        assertThat(n.get("environment").asText()).isEqualTo("production");
        assertThat(n.get("version").asLong()).isEqualTo(2);
        assertThat(n.get("target").asLong()).isEqualTo(2);
        assertThat(n.get("serverStartedAt").asText()).matches("20\\d\\d-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ");
        assertThat(n.get("streams").asInt()).isEqualTo(3);
        assertThat(n.get("applied").asInt()).isEqualTo(1);
        assertThat(n.get("pending").asInt()).isEqualTo(1);
        assertThat(n.get("unconfirmed").asInt()).isEqualTo(1);
        assertThat(n.get("more").asInt()).isZero();
        JsonNode list = n.get("sdks");
        assertThat(list).hasSize(3);
        // The furthest behind first: billing applied 1 only; then the SDK that cannot say; then the one that has it.
        assertThat(list.get(0).get("application").asText()).isEqualTo("billing");
        assertThat(list.get(0).get("standing").asText()).isEqualTo("pending");
        assertThat(list.get(0).get("sentVersion").asLong()).isEqualTo(2);
        assertThat(list.get(0).get("appliedVersion").asLong()).isEqualTo(1);
        assertThat(list.get(0).get("instance").asText()).isEqualTo("inst-billing");
        assertThat(list.get(0).get("sdk").asText()).isEqualTo("flags-java/test");
        assertThat(list.get(0).get("token").asText()).startsWith("tok-");
        assertThat(list.get(0).get("connectedAt").asText()).endsWith("Z");
        assertThat(list.get(1).get("standing").asText()).isEqualTo("unconfirmed");
        assertThat(list.get(1).get("instance").isNull()).isTrue();
        assertThat(list.get(1).get("application").isNull()).isTrue();
        assertThat(list.get(1).get("appliedVersion").isNull()).isTrue();
        assertThat(list.get(1).get("appliedAt").isNull()).isTrue();
        assertThat(list.get(2).get("application").asText()).isEqualTo("checkout");
        assertThat(list.get(2).get("standing").asText()).isEqualTo("applied");
        assertThat(list.get(2).get("appliedAt").asText()).endsWith("Z");

        JsonNode atOne = api.get(SDKS + "?version=1", ADMIN).json();
        assertThat(atOne.get("target").asLong()).isEqualTo(1);
        assertThat(atOne.get("applied").asInt()).as("both acknowledging SDKs have version 1 or later").isEqualTo(2);
        assertThat(atOne.get("pending").asInt()).isZero();

        JsonNode countsOnly = api.get(SDKS + "?limit=0", token("viewer")).json();
        assertThat(countsOnly.get("sdks")).isEmpty();
        assertThat(countsOnly.get("more").asInt()).isEqualTo(3);
        assertThat(api.get(SDKS + "?limit=1", token("editor")).json().get("sdks")).hasSize(1);
        assertThat(api.get("/metrics", null).body()).contains("\nflags_sdk_acknowledgements_total 2\n");
    }

    @Test
    void aTokenInAnSdksOrApplicationsNameIsNotShownToTheReadersOfTheList() {
        // QA85 F1: a token pasted as the application's name was listed whole to every reader of the environment's SDKs.
        String admin = api.post("/api/v1/tokens", ADMIN, "{\"name\": \"ops\", \"scope\": \"admin\"}").json().get("token").asText();
        Iterator<SyncMessage> stream = stub().subscribe(SubscribeRequest.newBuilder().setEnvironment("production")
                .setSdk("flags-go/" + admin).setInstanceId("inst-1").setApplication("checkout " + admin).build());
        awaitVersion(stream, 1);
        ApiClient.Response r = api.get(SDKS, token("viewer"));
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        assertThat(r.body()).doesNotContain(admin).doesNotContain(admin.substring(4));
        JsonNode listed = r.json().get("sdks").get(0);
        assertThat(listed.get("instance").asText()).as("still listed").isEqualTo("inst-1");
        assertThat(listed.get("application").asText()).isEqualTo(listed.get("sdk").asText()).contains("token");
        // An instance id has a token's characters: one that is a token is refused, not listed, and not quoted.
        Iterator<SyncMessage> refused = stub().subscribe(SubscribeRequest.newBuilder().setEnvironment("production")
                .setInstanceId(admin).build());
        io.grpc.StatusRuntimeException e = org.assertj.core.api.Assertions.catchThrowableOfType(
                io.grpc.StatusRuntimeException.class, refused::hasNext);
        assertThat(e.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.INVALID_ARGUMENT);
        assertThat(e.getStatus().getDescription()).startsWith("instance_id holds what looks like a flag server token")
                .doesNotContain(admin.substring(4));
    }

    @Test
    void anEnvironmentWithSdksConnectedIsArchivedOnlyWhenAskedForEvenSo() throws Exception {
        connect(stub(), "inst-1", "checkout", 1);
        connect(stub(), "inst-2", "checkout", 1);
        connect(stub(), "", "", 1);
        String env = "/api/v1/environments/production";
        ApiClient.Response refused = api.call("DELETE", env, ADMIN, null, java.util.Map.of());
        assertThat(refused.status()).as(refused.body()).isEqualTo(409);
        assertThat(refused.json().get("detail").asText()).isEqualTo("3 SDKs are connected to environment \"production\""
                + " (applications checkout: 2, without a name: 1): archived, its flags would stay in those SDKs as they are,"
                + " and none of them could be switched off, kill switches included, until an admin restores it. Point those"
                + " applications at another environment first (GET .../sdks lists them: flags sdks), or archive it even so"
                + " with ?withSdks=true (flags environments archive --with-sdks)");
        assertThat(api.get(env, ADMIN).json().get("archived").asBoolean()).as("not archived").isFalse();
        assertThat(api.call("DELETE", env + "?withSdks=false", ADMIN, null, java.util.Map.of()).status()).isEqualTo(409);
        assertThat(api.call("DELETE", env + "?withSdks=yes", ADMIN, null, java.util.Map.of()).status()).isEqualTo(400);

        ApiClient.Response archived = api.call("DELETE", env + "?withSdks=true", ADMIN, null, java.util.Map.of());
        assertThat(archived.status()).as(archived.body()).isEqualTo(200);
        assertThat(archived.json().get("archived").asBoolean()).isTrue();

        // Without SDKs, as before: no question asked.
        assertThat(api.call("POST", env + "/restore", ADMIN, null, java.util.Map.of()).status()).isEqualTo(200);
        for (ManagedChannel c : channels) {
            c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (api.get(SDKS, ADMIN).json().get("streams").asInt() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20); // polled, as flags off --wait polls: the server sees each channel's close as it comes
        }
        assertThat(api.call("DELETE", env, ADMIN, null, java.util.Map.of()).status()).isEqualTo(200);
    }

    @Test
    void anInstanceThatSaysItClosesIsListedAmongTheClosedOnceItsStreamEnds() throws Exception {
        FlagSyncGrpc.FlagSyncBlockingStub closing = stub();
        ManagedChannel closingChannel = channels.get(channels.size() - 1);
        FlagSyncGrpc.FlagSyncBlockingStub lost = stub();
        ManagedChannel lostChannel = channels.get(channels.size() - 1);
        connect(closing, "inst-closing", "checkout", 1);
        connect(lost, "inst-lost", "billing", 1);
        JsonNode before = api.get(SDKS + "?closedAfter=2026-01-01T00:00:00Z", ADMIN).json();
        assertThat(before.get("closed")).isEmpty();
        assertThat(api.get(SDKS, ADMIN).json().has("closed")).as("only when asked for").isFalse();

        closing.acknowledge(Acknowledgement.newBuilder().setEnvironment("production").setInstanceId("inst-closing")
                .setVersion(1).setClosing(true).build());
        closingChannel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        lostChannel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS); // no goodbye: lost, as far as the server knows
        JsonNode after = api.get(SDKS + "?closedAfter=2026-01-01T00:00:00Z", ADMIN).json();
        for (int i = 0; i < 500 && after.get("streams").asInt() > 0; i++) {
            Thread.sleep(20); // polled, as flags off --wait polls: the server sees each channel's close as it comes
            after = api.get(SDKS + "?closedAfter=2026-01-01T00:00:00Z", ADMIN).json();
        }
        assertThat(after.get("streams").asInt()).isZero();
        assertThat(after.get("closed")).hasSize(1);
        JsonNode gone = after.get("closed").get(0);
        assertThat(gone.get("instance").asText()).isEqualTo("inst-closing");
        assertThat(gone.get("application").asText()).isEqualTo("checkout");
        assertThat(gone.get("appliedVersion").asLong()).isEqualTo(1);
        assertThat(gone.get("token").asText()).startsWith("tok-");
        assertThat(api.get(SDKS + "?closedAfter=2999-01-01T00:00:00Z", ADMIN).json().get("closed")).as("since a later time")
                .isEmpty();
        assertThat(api.get(SDKS + "?closedAfter=yesterday", ADMIN).status()).isEqualTo(400);
        // Instants past what milliseconds since 1970 hold: the latest and the earliest there are, not a 500 (QA61 F1).
        assertThat(api.get(SDKS + "?closedAfter=%2B999999999-12-31T23:59:59Z", ADMIN).json().get("closed")).isEmpty();
        assertThat(api.get(SDKS + "?closedAfter=-999999999-01-01T00:00:00Z", ADMIN).json().get("closed")).hasSize(1);
    }

    @Test
    void badQueriesAndTokensThatMayNotAreRefused() {
        assertThat(api.get(SDKS, ADMIN).json().get("streams").asInt()).isZero();
        assertThat(api.get(SDKS + "?version=0", ADMIN).json().get("detail").asText())
                .contains("version must be from 1 to the environment's version now, 1");
        assertThat(api.get(SDKS + "?version=2", ADMIN).status()).isEqualTo(400);
        assertThat(api.get(SDKS + "?version=x", ADMIN).status()).isEqualTo(400);
        assertThat(api.get(SDKS + "?limit=1001", ADMIN).json().get("detail").asText()).contains("limit must be from 0 to 1000");
        assertThat(api.get(SDKS + "?limit=-1", ADMIN).status()).isEqualTo(400);
        assertThat(api.get(SDKS + "?versions=1", ADMIN).status()).isEqualTo(400);
        assertThat(api.post(SDKS, ADMIN, "{}").status()).isEqualTo(405);
        ApiClient.Response tester = api.get(SDKS, token("tester"));
        assertThat(tester.status()).isEqualTo(403);
        assertThat(tester.json().get("detail").asText()).contains("editor, operator or viewer token");
        assertThat(api.get(SDKS, sdk).status()).isEqualTo(403);
        assertThat(api.get("/api/v1/environments/prodution/sdks", ADMIN).json().get("detail").asText())
                .contains("did you mean \"production\"");
    }
}
