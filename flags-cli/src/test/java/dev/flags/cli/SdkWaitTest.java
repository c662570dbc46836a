package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.cli.FlagsCommandTest.Run;
import dev.flags.protocol.v1.Acknowledgement;
import dev.flags.protocol.v1.FlagSyncGrpc;
import dev.flags.protocol.v1.SubscribeRequest;
import dev.flags.protocol.v1.SyncMessage;
import dev.flags.server.FlagServer;
import dev.flags.server.ServerConfig;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --wait} of a change against a real server, with SDK streams on its real gRPC port that acknowledge what they
 * apply as an SDK does, or do not.
 */
class SdkWaitTest {

    private static final String ADMIN = "cli-test-admin-token-0123456789";

    @TempDir
    Path dir;
    private FlagServer server;
    private String sdkToken;
    private final List<ManagedChannel> channels = new ArrayList<>();
    private final ExecutorService sdks = Executors.newCachedThreadPool();

    /** {@code flags} as an admin, in environment production. */
    private Run flags(String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.add("--env=production");
        return FlagsCommandTest.against(server, ADMIN, all.toArray(String[]::new));
    }

    private String send(String method, String path, String body) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                        + server.httpPort() + "/api/v1" + path)).header("Authorization", "Bearer " + ADMIN)
                .header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isBetween(200, 201);
        return r.body();
    }

    @BeforeEach
    void start() throws Exception {
        server = FlagServer.start(ServerConfig.defaults().withDataDir(dir.resolve("data")).withPorts(0, 0)
                .withBindAddress("127.0.0.1").withAdminToken(ADMIN));
        send("POST", "/environments", "{\"key\": \"production\"}");
        send("PUT", "/environments/production/flags/billing-v2", "{\"enabled\": true}"); // version 2
        send("PUT", "/environments/production/flags/invoice-pdf", "{\"enabled\": true}"); // version 3
        sdkToken = new com.fasterxml.jackson.databind.ObjectMapper().readTree(send("POST", "/tokens",
                "{\"name\": \"svc\", \"scope\": \"sdk\", \"environments\": [\"production\"]}")).get("token").asText();
    }

    @AfterEach
    void stop() throws Exception {
        sdks.shutdownNow();
        for (ManagedChannel c : channels) {
            c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        server.close();
    }

    private FlagSyncGrpc.FlagSyncBlockingStub stub() {
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build();
        channels.add(channel);
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + sdkToken);
        return FlagSyncGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
    }

    /**
     * An SDK instance's stream, connected and at version 3 when this returns. If {@code acknowledges}, it says so of
     * every version it receives, at once, as long as it runs; else it only reads.
     *
     * @param instance its id; empty for an SDK from before acknowledgements
     */
    private Future<?> sdk(String instance, String application, boolean acknowledges) throws Exception {
        return sdk(instance, application, acknowledges ? Long.MAX_VALUE : -1);
    }

    /** As {@link #sdk(String, String, boolean)}, acknowledging the versions up to {@code acknowledgesUpTo} only. */
    private Future<?> sdk(String instance, String application, long acknowledgesUpTo) throws Exception {
        boolean acknowledges = acknowledgesUpTo >= 0;
        FlagSyncGrpc.FlagSyncBlockingStub stub = stub();
        Iterator<SyncMessage> stream = stub.subscribe(SubscribeRequest.newBuilder().setEnvironment("production")
                .setSdk("flags-java/test").setInstanceId(instance).setApplication(application).build());
        long first = version(stream.next());
        if (acknowledges) {
            acknowledge(stub, instance, first);
        }
        return sdks.submit(() -> {
            while (stream.hasNext()) {
                long v = version(stream.next());
                if (v > 0 && v <= acknowledgesUpTo) {
                    acknowledge(stub, instance, v);
                }
            }
            return null;
        });
    }

    private static long version(SyncMessage m) {
        return m.hasSnapshot() ? m.getSnapshot().getVersion() : m.hasDelta() ? m.getDelta().getVersion() : -1;
    }

    private static void acknowledge(FlagSyncGrpc.FlagSyncBlockingStub stub, String instance, long version) {
        stub.acknowledge(Acknowledgement.newBuilder().setEnvironment("production").setInstanceId(instance)
                .setVersion(version).build());
    }

    @Test
    void waitsUntilEverySdkHasAppliedTheKillSwitch() throws Exception {
        sdk("a1b2c3d4e5f60718", "checkout", true);
        sdk("0123456789abcdef", "billing", true);

        Run r = flags("off", "billing-v2", "--wait", "-m", "incident 4711");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.err()).contains("billing-v2 in environment \"production\" is off (version 4)",
                "all 2 SDKs connected to environment \"production\" have applied version 4 (");
    }

    @Test
    void namesTheSdksThatHaveNotAppliedItWhenTheTimeIsUp() throws Exception {
        sdk("a1b2c3d4e5f60718", "checkout", true);
        sdk("0123456789abcdef", "billing", false); // receives, never says so: stuck, or an SDK that cannot
        sdk("", "", false); // from before acknowledgements

        Run r = flags("off", "billing-v2", "invoice-pdf", "--wait", "1s");
        assertThat(r.exit()).as(r.err()).isEqualTo(1);
        assertThat(r.out()).as("both switched off all the same").contains("\"key\" : \"billing-v2\"", "\"key\" : \"invoice-pdf\"");
        assertThat(r.err()).contains("flags: the change is made, but after 1.",
                ", 1 of 3 SDKs connected to environment \"production\" has not applied version 5:",
                "  billing: flags-java/test, instance 0123456789abcdef, token tok-",
                "; has acknowledged none (the server has sent it version 5), connected 20",
                "1 more SDK cannot say (from before acknowledgements: flags-java/test)");
        assertThat(r.err()).doesNotContain("checkout:");
    }

    @Test
    void withNoSdkConnectedOrOnlyOldOnesThereIsNothingToWaitFor() throws Exception {
        Run none = flags("off", "billing-v2", "--wait");
        assertThat(none.exit()).as(none.err()).isZero();
        assertThat(none.err()).contains("no SDK is connected to environment \"production\": none to wait for");

        sdk("", "", false);
        Run old = flags("on", "billing-v2", "--wait", "5s");
        assertThat(old.exit()).as(old.err()).isZero();
        assertThat(old.err()).contains("none of the 1 SDK connected to environment \"production\" can say whether it has"
                + " version 5 (SDKs from before acknowledgements: flags-java/test)");
    }

    @Test
    void aFlagAlreadyOffWaitsForTheVersionNow() throws Exception {
        sdk("a1b2c3d4e5f60718", "checkout", true);
        send("PATCH", "/environments/production/flags/billing-v2", "{\"enabled\": false}"); // version 4
        Run r = flags("off", "billing-v2", "--wait");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.err()).contains("nothing changed", "the SDK connected to environment \"production\" has applied version 4");
    }

    @Test
    void aFlagAlreadyOffWaitsForItsOwnVersionNotForOthersWritesAfterIt() throws Exception {
        sdk("a1b2c3d4e5f60718", "checkout", 4); // has billing-v2 off (version 4), then stops saying what it applies
        send("PATCH", "/environments/production/flags/billing-v2", "{\"enabled\": false}"); // version 4
        send("PATCH", "/environments/production/flags/invoice-pdf", "{\"enabled\": false}"); // version 5: someone else's
        Run r = flags("off", "billing-v2", "--wait", "10s");
        assertThat(r.exit()).as("QA50a F1: it waited for version 5, which this flag does not need: " + r.err()).isZero();
        assertThat(r.err()).contains("nothing changed (billing-v2 already was so)",
                "the SDK connected to environment \"production\" has applied version 4 (");
    }

    @Test
    void flagsSdksListsTheStreamsFurthestBehindFirst() throws Exception {
        sdk("a1b2c3d4e5f60718", "checkout", true);
        sdk("0123456789abcdef", "billing\u001b[2J", false);
        sdk("", "", false);
        send("PATCH", "/environments/production/flags/billing-v2", "{\"enabled\": false}"); // version 4
        Run r = flags("sdks");
        for (int i = 0; i < 200 && !r.err().contains("1 applied version 4"); i++) { // until checkout has acknowledged it
            Thread.sleep(25); // the list is the server's; this polls it, as flags off --wait does
            r = flags("sdks");
        }
        assertThat(r.exit()).as(r.err()).isZero();
        List<String> lines = r.out().lines().toList();
        assertThat(lines.get(0)).startsWith("APPLICATION").contains("STANDING", "APPLIED", "SENT", "CONNECTED");
        assertThat(lines.get(1)).as("the server replaced the escape").startsWith("billing?[2J").contains("0123456789abcdef", "pending", " -  ", "v4");
        assertThat(lines.get(2)).startsWith("(unnamed)").contains(" - ", "unconfirmed");
        assertThat(lines.get(3)).startsWith("checkout").contains("applied", "v4");
        assertThat(r.out()).doesNotContain("\u001b");
        assertThat(r.err()).isEqualTo("flags: 3 SDKs connected to environment \"production\": 1 applied version 4, 1 pending,"
                + " 1 cannot say (SDKs from before acknowledgements)\n");
        Run atThree = flags("sdks", "--version", "3", "--json");
        assertThat(Api.JSON.readTree(atThree.out()).get("target").asLong()).isEqualTo(3);
        assertThat(flags("sdks", "--limit", "5000").exit()).isEqualTo(2);
        assertThat(flags("sdks", "--version", "0").exit()).isEqualTo(2);
    }

    @Test
    void aBadWaitIsBadUsageAndNothingIsWritten() throws Exception {
        for (String bad : List.of("0s", "2h", "1d", "soon", "-5s")) {
            Run r = flags("on", "billing-v2", "--wait", bad);
            assertThat(r.exit()).as(bad + ": " + r.err()).isEqualTo(2);
            assertThat(r.err()).contains("--wait must be a positive duration of at most 1h");
        }
        assertThat(send("GET", "/environments/production/flags/billing-v2", "")).contains("\"enabled\" : true", "\"version\" : 2");
    }

    @Test
    void revertAndPutWaitToo() throws Exception {
        sdk("a1b2c3d4e5f60718", "checkout", true);
        send("PATCH", "/environments/production/flags/billing-v2", "{\"enabled\": false}"); // version 4
        Run revert = flags("revert", "billing-v2", "2", "--switch-on", "--wait", "20s");
        assertThat(revert.exit()).as(revert.err()).isZero();
        assertThat(revert.err()).contains("the SDK connected to environment \"production\" has applied version 5");
        java.nio.file.Path doc = java.nio.file.Files.writeString(dir.resolve("billing.json"),
                "{\"key\": \"billing-v2\", \"enabled\": false}");
        Run put = flags("put", "billing-v2", doc.toString(), "--wait");
        assertThat(put.exit()).as(put.err()).isZero();
        assertThat(put.err()).contains("the SDK connected to environment \"production\" has applied version 6");
    }

    @Test
    void promoteEditAndApplyWaitToo() throws Exception {
        sdk("a1b2c3d4e5f60718", "checkout", true);
        send("POST", "/environments", "{\"key\": \"staging\"}");
        send("PUT", "/environments/staging/flags/billing-v2", "{\"enabled\": true, \"default\": true}");
        Run promote = flags("promote", "billing-v2", "--from", "staging", "--wait", "20s");
        assertThat(promote.exit()).as(promote.err()).isZero();
        assertThat(promote.err()).contains("promoted: \"billing-v2\" in \"production\" is now v4",
                "the SDK connected to environment \"production\" has applied version 4 (");
        Run again = flags("promote", "billing-v2", "--from", "staging", "--wait", "20s");
        assertThat(again.exit()).as(again.err()).isZero();
        assertThat(again.err()).contains("nothing to promote", "has applied version 4 (");
        Run dryRun = flags("promote", "billing-v2", "--from", "staging", "--dry-run", "--wait");
        assertThat(dryRun.exit()).isEqualTo(2);
        assertThat(dryRun.err()).contains("--wait waits for the SDKs to apply a change, and --dry-run makes none");

        Run edit = flags("edit", "billing-v2", "--editor", "sed -i -e 's/\"enabled\" *: *true/\"enabled\" : false/'",
                "--wait", "20s");
        assertThat(edit.exit()).as(edit.err()).isZero();
        assertThat(edit.err()).contains("billing-v2 in environment \"production\" is off (version 5)",
                "the SDK connected to environment \"production\" has applied version 5 (");
        java.nio.file.Path file = java.nio.file.Files.writeString(dir.resolve("production.json"), "{\"formatVersion\": 1,"
                + " \"flags\": [{\"key\": \"billing-v2\", \"enabled\": false}, {\"key\": \"invoice-pdf\", \"enabled\": false}]}");
        Run apply = flags("apply", file.toString(), "--wait", "20s");
        assertThat(apply.exit()).as(apply.err()).isZero();
        assertThat(apply.err()).contains("applied to \"production\": 2 written, 0 unchanged",
                "the SDK connected to environment \"production\" has applied version 7 (");
        assertThat(flags("apply", file.toString(), "--dry-run", "--wait").exit()).isEqualTo(2);

        Run badWait = flags("edit", "billing-v2", "--editor", "false", "--wait", "2h");
        assertThat(badWait.exit()).as("said before the editor runs").isEqualTo(2);
        assertThat(badWait.err()).contains("--wait must be a positive duration").doesNotContain("the editor");
    }

    @Test
    void anEnvironmentWithSdksConnectedIsArchivedOnlyWithWithSdks() throws Exception {
        sdk("a1b2c3d4e5f60718", "checkout", true);
        Run refused = FlagsCommandTest.against(server, ADMIN, "environments", "archive", "production");
        assertThat(refused.exit()).isEqualTo(1);
        assertThat(refused.err()).contains("1 SDK is connected to environment \"production\" (applications checkout: 1)",
                "(flags environments archive --with-sdks)");
        Run archived = FlagsCommandTest.against(server, ADMIN, "environments", "archive", "production", "--with-sdks", "-m", "moved to eu");
        assertThat(archived.exit()).as(archived.err()).isZero();
        assertThat(archived.err()).contains("environment \"production\" archived");
    }

    @Test
    void aKillSwitchIsThrownWhateverWaitSays() throws Exception {
        // "--wait invoice-pdf": the second flag taken for the time switched nothing off (QA49a F4)
        Run flagForTime = flags("off", "billing-v2", "--wait", "invoice-pdf");
        assertThat(flagForTime.exit()).as(flagForTime.err()).isZero();
        assertThat(flagForTime.err()).contains("'invoice-pdf' is no time: switched off as a flag too, and waiting 30 s",
                "billing-v2 in environment \"production\" is off", "invoice-pdf in environment \"production\" is off");
        send("PATCH", "/environments/production/flags/billing-v2", "{\"enabled\": true}");
        Run tooLong = flags("off", "billing-v2", "--wait", "2h");
        assertThat(tooLong.exit()).isEqualTo(2);
        assertThat(tooLong.err()).contains("billing-v2 in environment \"production\" is off",
                "--wait must be a positive duration of at most 1h, such as 10s, 30s or 5m; was '2h': switched off, not waited for");
        assertThat(send("GET", "/environments/production/flags/billing-v2", "")).contains("\"enabled\" : false");
    }
}
