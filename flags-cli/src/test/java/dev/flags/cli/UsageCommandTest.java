package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.protocol.v1.FlagSyncGrpc;
import dev.flags.protocol.v1.FlagUsage;
import dev.flags.protocol.v1.UsageReport;
import dev.flags.server.FlagServer;
import dev.flags.server.ServerConfig;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code flags usage} against a real server, with usage reported over its real gRPC port as an SDK reports it. */
class UsageCommandTest {

    private static final String ADMIN = "cli-test-admin-token-0123456789";
    private static final String TIME = "20\\d\\d-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ";

    @TempDir
    Path dir;
    private FlagServer server;
    private ManagedChannel channel;

    record Run(int exit, String out, String err) {
    }

    private Run flags(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        String[] all = new String[args.length + 3];
        all[0] = args[0];
        all[1] = "--server=http://127.0.0.1:" + server.httpPort();
        all[2] = "--token=" + ADMIN;
        all[3] = "--env=production";
        System.arraycopy(args, 1, all, 4, args.length - 1);
        int exit = FlagsCommand.run(all, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(exit, out.toString(), err.toString());
    }

    private void send(String method, String path, String body) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                        + server.httpPort() + "/api/v1" + path)).header("Authorization", "Bearer " + ADMIN)
                .header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isBetween(200, 201);
    }

    @BeforeEach
    void start() throws Exception {
        server = FlagServer.start(ServerConfig.defaults().withDataDir(dir.resolve("data")).withPorts(0, 0)
                .withBindAddress("127.0.0.1").withAdminToken(ADMIN));
        send("POST", "/environments", "{\"key\": \"production\"}");
        for (String flag : List.of("billing-v2", "old-checkout-flow", "promo")) {
            send("PUT", "/environments/production/flags/" + flag, "{\"enabled\": true}");
        }
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build();
    }

    @AfterEach
    void stop() throws Exception {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.close();
    }

    @Test
    void aTokenWithOpenSyncStreamsIsRevokedOnlyWithForceAndTheCommandSaysWhatItCut() throws Exception {
        Run made = run("tokens", "create", "billing-service", "--scope", "sdk", "-e", "production");
        assertThat(made.exit()).as(made.err()).isZero();
        assertThat(made.err()).contains("\"token\" above is the secret, shown this once: store it now");
        String id = com.fasterxml.jackson.databind.json.JsonMapper.builder().build().readTree(made.out()).get("id").asText();
        String secret = com.fasterxml.jackson.databind.json.JsonMapper.builder().build().readTree(made.out()).get("token").asText();
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + secret);
        var stream = FlagSyncGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
                .subscribe(dev.flags.protocol.v1.SubscribeRequest.newBuilder().setEnvironment("production").build());
        assertThat(stream.next().hasSnapshot()).as("an SDK syncing with it").isTrue();

        Run refused = run("tokens", "revoke", id);
        assertThat(refused.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(refused.err()).isEqualTo("flags: token " + id + " (billing-service, sdk) has 1 sync stream open: revoking it"
                + " cuts those SDKs off, and they serve stale flags until given another token; nothing was revoked. Add --force"
                + " to revoke it anyway\n");
        Run revoked = run("tokens", "revoke", id, "--force");
        assertThat(revoked.exit()).as(revoked.err()).isZero();
        assertThat(revoked.err()).isEqualTo("flags: token " + id + " (billing-service, sdk) is revoked: its next request is"
                + " refused, and its 1 sync stream was closed; this cannot be undone (make a new token)\n");
    }

    /** The command with the server and the admin token given after it, as a subcommand's options go. */
    private Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        String[] all = java.util.stream.Stream.concat(java.util.Arrays.stream(args), java.util.stream.Stream.of(
                "--server=http://127.0.0.1:" + server.httpPort(), "--token=" + ADMIN)).toArray(String[]::new);
        int exit = FlagsCommand.run(all, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(exit, out.toString(), err.toString());
    }

    private void report(String application, FlagUsage... flags) {
        sendReport(UsageReport.newBuilder().setApplication(application).addAllFlags(List.of(flags)));
    }

    private void reportAsking(String application, String... unknownFlags) {
        sendReport(UsageReport.newBuilder().setApplication(application).addAllUnknownFlags(List.of(unknownFlags)));
    }

    /** Sends a report over the server's real gRPC port, as an SDK of environment production does. */
    private void sendReport(UsageReport.Builder report) {
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + ADMIN);
        FlagSyncGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
                .withDeadlineAfter(30, TimeUnit.SECONDS)
                .reportUsage(report.setEnvironment("production").setSdk("flags-java/0.1.0").build());
    }

    private static FlagUsage mark(String key, boolean servedTrue, boolean servedFalse) {
        return FlagUsage.newBuilder().setKey(key).setServedTrue(servedTrue).setServedFalse(servedFalse).build();
    }

    @Test
    void applyPruneSparesAFlagCodeEvaluatedLatelyUnlessForced() throws Exception {
        report("checkout", mark("promo", true, false));
        Path file = java.nio.file.Files.writeString(dir.resolve("flags.json"), """
                {"formatVersion": 1, "flags": [{"key": "billing-v2", "enabled": true}, {"key": "old-checkout-flow", "enabled": true}]}
                """);
        Run dry = flags("apply", file.toString(), "--prune", "--dry-run");
        assertThat(dry.exit()).as(dry.err()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(dry.out()).containsPattern("archive promo v\\d+ \\(on\\): not written, code evaluated it at " + TIME
                + " \\(by checkout\\)");
        Run applied = flags("apply", file.toString(), "--prune");
        assertThat(applied.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(flags("list").out()).as("still served").contains("promo");
        Run forced = flags("apply", file.toString(), "--prune", "--force");
        assertThat(forced.exit()).as(forced.err()).isZero();
        assertThat(flags("list").out()).doesNotContain("promo");
    }

    @Test
    void usageIsATableOfEveryFlagWithNeverForWhatWasNotSeenAndALineSayingSinceWhen() {
        Run none = flags("usage");
        assertThat(none.exit()).as(none.err()).isZero();
        assertThat(none.out().lines()).hasSize(4).allMatch(l -> l.equals(l.stripTrailing()));
        assertThat(none.out().lines().skip(1)).allMatch(l -> l.matches("\\S+ +never +never +never"));
        assertThat(none.err()).isEqualTo("flags: no usage recorded in environment \"production\" yet: no SDK has reported (SDKs"
                + " report every PT1M)\n");

        report("checkout", mark("billing-v2", true, false), mark("promo", false, true));
        report("", mark("billing-v2", true, true));
        report("billing-worker", mark("billing-v2", true, false));
        Run seen = flags("usage");
        assertThat(seen.exit()).as(seen.err()).isZero();
        List<String> lines = seen.out().lines().toList();
        assertThat(lines.get(0)).isEqualTo("FLAG               LAST EVALUATED        SERVED TRUE           SERVED FALSE          APPLICATIONS");
        assertThat(lines.get(1)).as("the applications most recent first").matches("billing-v2         " + TIME + "  " + TIME
                + "  " + TIME + "  billing-worker, \\(unnamed\\), checkout");
        assertThat(lines.get(2)).isEqualTo("old-checkout-flow  never                 never                 never");
        assertThat(lines.get(3)).matches("promo              " + TIME + "  never                 " + TIME + "  checkout");
        assertThat(seen.err()).matches("flags: usage recorded since " + TIME + " \\(SDKs report every PT1M\\); \"never\": not since"
                + " then\n");

        Run one = flags("usage", "promo");
        assertThat(one.out().lines().toList()).hasSize(2).element(1).asString().startsWith("promo  ");
        Run empty = flags("usage", "");
        assertThat(empty.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(empty.err()).contains("FLAG must not be empty");
        Run missing = flags("usage", "nope");
        assertThat(missing.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(missing.err()).contains("there is no flag \"nope\" in environment \"production\"");
    }

    @Test
    void anArchivedEnvironmentSaysWhyNothingIsRecorded() throws Exception {
        send("DELETE", "/environments/production", "");
        Run archived = flags("usage");
        assertThat(archived.exit()).as(archived.err()).isZero();
        assertThat(archived.err()).contains("flags: environment \"production\" is archived: no usage is recorded while it is")
                .doesNotContain("no SDK has reported");
    }

    @Test
    void aRowShowsFiveApplicationsAndHowManyMore() throws Exception {
        for (int i = 1; i <= 7; i++) {
            report("app-" + i, mark("promo", true, false));
        }
        String row = flags("usage", "promo").out().lines().toList().get(1);
        assertThat(row).endsWith("  app-7, app-6, app-5, app-4, app-3, +2 more");
    }

    private boolean flagExists(String key) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort()
                        + "/api/v1/environments/production/flags/" + key)).header("Authorization", "Bearer " + ADMIN).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode() == 200;
    }

    @Test
    void archiveIsRefusedWhileCodeStillEvaluatesTheFlagUnlessForced() throws Exception {
        Run unknown = flags("archive", "old-checkout-flow", "-m", "gone");
        assertThat(unknown.exit()).as("no SDK has reported: nothing to go by, said, and archived").as(unknown.err()).isZero();
        assertThat(unknown.err()).contains("flags: no usage recorded in environment \"production\": no SDK has reported, so"
                + " whether code still asks for the flag is not known");
        assertThat(flagExists("old-checkout-flow")).isFalse();

        report("checkout", mark("billing-v2", true, false));
        Run refused = flags("archive", "billing-v2", "-m", "v1 removed");
        assertThat(refused.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(refused.err()).matches("flags: flag \"billing-v2\" was evaluated at " + TIME + " \\(by checkout\\): code still"
                + " asks for it, and archived it would get its default there. Archive it once `flags usage billing-v2` shows no"
                + " evaluation for 7d, or now with --force\n");
        assertThat(flagExists("billing-v2")).as("not archived").isTrue();
        assertThat(flags("archive", "billing-v2", "--unused-for", "2w").err()).contains("no evaluation for 2w, or now with --force");

        Run quiet = flags("archive", "promo");
        assertThat(quiet.exit()).as(quiet.err()).isZero();
        assertThat(quiet.err()).as("never evaluated, but usage is young").matches("flags: usage is recorded only since " + TIME
                + ", less than 7d ago: an application that evaluates the flag rarely may not have reported it yet\n"
                + "flags: promo in environment \"production\" is archived( \\(version \\d+\\))?\n"
                + "flags: to bring it back, flags revert promo VERSION \\(flags history promo lists its versions\\)\n");

        Run forced = flags("archive", "billing-v2", "--force", "-m", "v1 removed");
        assertThat(forced.exit()).as(forced.err()).isZero();
        assertThat(flagExists("billing-v2")).isFalse();
    }

    @Test
    void archiveTakesOnlyAPositiveQuietTime() {
        for (String bad : List.of("0s", "-P1D", "soon", "1M")) {
            Run r = flags("archive", "promo", "--unused-for", bad);
            assertThat(r.exit()).as(bad).isEqualTo(FlagsCommand.EXIT_USAGE);
            assertThat(r.err()).as(bad).contains("--unused-for");
        }
        assertThat(flags("archive", "nope").err()).as("a missing flag: the archive's own answer")
                .contains("there is no flag \"nope\" in environment \"production\"");
    }

    @Test
    void keysAskedForThatAreNotFlagsFollowTheTableAndUsageOfOneSaysWhoAskedForIt() throws Exception {
        report("checkout", mark("promo", true, false));
        Run without = flags("usage");
        assertThat(without.out().lines()).as("no unknown keys: the table alone").hasSize(4);

        reportAsking("checkout", "biling-v2", "old-checkout-flow-v0");
        reportAsking("billing-worker", "biling-v2");
        Run seen = flags("usage");
        assertThat(seen.exit()).as(seen.err()).isZero();
        List<String> lines = seen.out().lines().toList();
        assertThat(lines).hasSize(8);
        assertThat(lines.get(3)).startsWith("promo  ");
        assertThat(lines.get(4)).isEmpty();
        assertThat(lines.get(5)).isEqualTo("asked for, but not flags of environment \"production\" (a typo in the code, or archived"
                + " while code still asks for it: it gets its default):");
        assertThat(lines.get(6)).as("by key, most recent application first").matches("  biling-v2             " + TIME
                + "  billing-worker, checkout");
        assertThat(lines.get(7)).matches("  old-checkout-flow-v0  " + TIME + "  checkout");
        assertThat(seen.err()).as("the since line stays on stderr").startsWith("flags: usage recorded since ");

        Run one = flags("usage", "biling-v2");
        assertThat(one.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(one.out()).isEmpty();
        assertThat(one.err()).matches("flags: there is no flag \"biling-v2\" in environment \"production\"; did you mean"
                + " \"billing-v2\"\\?\n"
                + "flags: code last asked for \"biling-v2\" at " + TIME + " \\(by billing-worker, checkout\\), and got its default\n");
        Run neverAsked = flags("usage", "nope");
        assertThat(neverAsked.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(neverAsked.err()).isEqualTo("flags: there is no flag \"nope\" in environment \"production\"\n");

        send("PUT", "/environments/production/flags/biling-v2", "{\"enabled\": true}");
        assertThat(flags("usage").out().lines().toList()).as("a flag now: in the table, no longer asked for as unknown")
                .hasSize(8).anyMatch(l -> l.startsWith("biling-v2  ")).noneMatch(l -> l.startsWith("  biling-v2"));
    }
}
