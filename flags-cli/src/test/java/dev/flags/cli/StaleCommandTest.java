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
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code flags stale} against a real server whose clock the test sets: usage reported over the real gRPC
 * port 60 days ago, 40 days ago and yesterday, judged from now as the command sees it.
 */
class StaleCommandTest {

    private static final String ADMIN = "cli-test-admin-token-0123456789";
    private static final Instant NOW = Instant.now().truncatedTo(ChronoUnit.SECONDS);

    @TempDir
    Path dir;
    private final SetClock clock = new SetClock(NOW.minus(Duration.ofDays(60)));
    private FlagServer server;
    private ManagedChannel channel;

    /** A clock the test sets: the server's "now" when a report comes. */
    private static final class SetClock extends Clock {
        private volatile Instant now;

        SetClock(Instant now) {
            this.now = now;
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    record Run(int exit, String out, String err) {
    }

    private Run flags(String... args) {
        return flagsWith(ADMIN, args);
    }

    private Run flagsWith(String token, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        String[] all = new String[args.length + 4];
        all[0] = "stale";
        all[1] = "--server=http://127.0.0.1:" + server.httpPort();
        all[2] = "--token=" + token;
        all[3] = "--env=production";
        System.arraycopy(args, 0, all, 4, args.length);
        int exit = FlagsCommand.run(all, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(exit, out.toString(), err.toString());
    }

    private void start() throws Exception {
        server = FlagServer.start(ServerConfig.defaults().withDataDir(dir.resolve("data")).withPorts(0, 0)
                .withBindAddress("127.0.0.1").withAdminToken(ADMIN), clock);
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build();
        send("/environments", "{\"key\": \"production\"}");
        for (String flag : List.of("billing-v2", "dark-mode", "old-checkout", "promo", "search-v3", "never-asked")) {
            send("/environments/production/flags/" + flag, "{\"enabled\": true}");
        }
        send("/environments/production/flags/experiment", "{\"enabled\": true, \"variants\": [{\"key\": \"a\", \"weight\": 50},"
                + " {\"key\": \"b\", \"weight\": 50}]}");
    }

    private void send(String path, String body) throws Exception {
        boolean create = path.equals("/environments");
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                        + server.httpPort() + "/api/v1" + path)).header("Authorization", "Bearer " + ADMIN)
                .header("Content-Type", "application/json").method(create ? "POST" : "PUT", HttpRequest.BodyPublishers.ofString(body))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isBetween(200, 201);
    }

    @AfterEach
    void stop() throws Exception {
        if (channel != null) {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        if (server != null) {
            server.close();
        }
    }

    private void report(Instant at, FlagUsage... flags) {
        clock.now = at;
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + ADMIN);
        FlagSyncGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
                .withDeadlineAfter(30, TimeUnit.SECONDS).reportUsage(UsageReport.newBuilder().setEnvironment("production")
                        .setSdk("flags-java/0.1.0").setApplication("checkout").addAllFlags(List.of(flags)).build());
    }

    private static FlagUsage mark(String key, boolean servedTrue, boolean servedFalse) {
        return FlagUsage.newBuilder().setKey(key).setServedTrue(servedTrue).setServedFalse(servedFalse).build();
    }

    @Test
    void aFlagOffNowIsNeverToldToKeepItsNewPath() throws Exception {
        start();
        report(NOW.minus(Duration.ofDays(60)), mark("billing-v2", true, true));
        Instant yesterday = NOW.minus(Duration.ofDays(1));
        // Only true as reported (the last reports before its kill switch, or a report of whoever holds an sdk token)
        report(yesterday, mark("billing-v2", true, false));
        clock.now = NOW;
        send("/environments/production/flags/billing-v2", "{\"enabled\": false}");

        Run run = flags();

        assertThat(run.exit()).as(run.err()).isZero();
        assertThat(run.out()).contains("billing-v2    " + yesterday + "  only true for 30d as reported, but off now: keep the"
                + " check; flags history billing-v2 says when it went off").doesNotContain("released to everyone");
    }

    @Test
    void flagsNotEvaluatedOrGivingOneAnswerForThePeriodAreListedWithWhatToDo() throws Exception {
        start();
        Instant longAgo = NOW.minus(Duration.ofDays(60));
        report(longAgo, mark("old-checkout", true, true), mark("billing-v2", true, true), mark("dark-mode", true, true));
        report(NOW.minus(Duration.ofDays(20)), mark("search-v3", false, true)); // with yesterday's: both answers within 30 days
        Instant yesterday = NOW.minus(Duration.ofDays(1));
        report(yesterday, mark("billing-v2", true, false), mark("dark-mode", false, true), mark("promo", true, true),
                mark("search-v3", true, false), mark("experiment", true, false));
        clock.now = NOW.minus(Duration.ofDays(2));
        send("/environments/production/flags/just-made", "{\"enabled\": true}"); // code that asks for it ships next week
        clock.now = NOW;

        Run run = flags();

        assertThat(run.exit()).as(run.err()).isZero();
        assertThat(run.out().lines()).containsExactly(
                "FLAG          LAST EVALUATED        TO DO",
                "never-asked   never                 not evaluated for 30d: archive it (flags archive never-asked)",
                "old-checkout  " + longAgo + "  not evaluated for 30d: archive it (flags archive old-checkout)",
                "billing-v2    " + yesterday + "  only true for 30d: released to everyone; take the check out of the code,"
                        + " keeping its new path, then archive it",
                "dark-mode     " + yesterday + "  only false for 30d: nobody gets it; take the check and its new path out of"
                        + " the code, or release it, then archive it");
        assertThat(run.out()).as("an experiment gives everyone in it true: not judged by its answers").doesNotContain("experiment");
        assertThat(run.err()).isEqualTo("flags: usage recorded since " + longAgo + "; the flags' last answers as the SDKs report"
                + " them (flags usage FLAG shows one flag's); 1 flag created or restored within 30d not judged\n");

        HttpResponse<String> made = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + server.httpPort() + "/api/v1/tokens")).header("Authorization", "Bearer " + ADMIN).header("Content-Type",
                "application/json").POST(HttpRequest.BodyPublishers.ofString("{\"name\": \"tess\", \"scope\": \"tester\","
                + " \"environments\": [\"production\"], \"userId\": \"tess\"}")).build(), HttpResponse.BodyHandlers.ofString());
        String tester = Api.JSON.readTree(made.body()).get("token").asText();
        Run asTester = flagsWith(tester);
        assertThat(asTester.exit()).as(asTester.err()).isZero();
        assertThat(asTester.out()).as("history unread: the young flag is listed too").contains("just-made").contains("old-checkout");
        assertThat(asTester.err()).startsWith("flags: this token may not read flags' history, so a flag created or restored"
                + " within 30d is listed too");

        Run week = flags("--for", "2w");
        assertThat(week.out().lines()).as("search-v3 gave only true in the last two weeks")
                .anyMatch(l -> l.startsWith("search-v3 ") && l.contains("only true for 2w"));
        Run year = flags("--for", "P90D");
        assertThat(year.out()).isEmpty();
        assertThat(year.err()).isEqualTo("flags: usage in environment \"production\" is recorded only since " + longAgo
                + ": too short to tell what is stale for P90D (a flag code evaluates once a month looks unused after a week)\n");
        Run bad = flags("--for", "soon");
        assertThat(bad.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(bad.err()).startsWith("flags: --for must be a duration such as 90m, 8h, 30d, 2w or 1y");
        Run huge = flags("--for", "P1100000000Y");
        assertThat(huge.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(huge.err()).startsWith("flags: --for 'P1100000000Y' reaches back before any time there is");
        Run brief = flags("--for", "2m");
        assertThat(brief.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(brief.err()).startsWith("flags: --for 2m is shorter than 3 report periods (SDKs report every PT1M): every"
                + " flag would look unused\n").contains("Try 'flags stale --help'.");
    }

    @Test
    void aFlagThatARevertRestoredWithinThePeriodIsNotJudged() throws Exception {
        start();
        report(NOW.minus(Duration.ofDays(60)), mark("old-checkout", true, true));
        long version = Api.JSON.readTree(call("GET", "/environments/production/flags/old-checkout", null).body()).get("version")
                .asLong();
        clock.now = NOW.minus(Duration.ofDays(40));
        assertThat(call("DELETE", "/environments/production/flags/old-checkout", null).statusCode()).isEqualTo(200);
        clock.now = NOW.minus(Duration.ofDays(2)); // needed after all: its code runs again from today
        HttpResponse<String> restored = call("POST", "/environments/production/flags/old-checkout/revert",
                "{\"version\": " + version + ", \"switchOn\": true}");
        assertThat(restored.statusCode()).as(restored.body()).isEqualTo(201);
        clock.now = NOW;

        Run run = flags();

        assertThat(run.exit()).as(run.err()).isZero();
        assertThat(run.out()).as("restored two days ago: not judged on the 30 days before").doesNotContain("old-checkout")
                .contains("never-asked");
        assertThat(run.err()).endsWith("; 1 flag created or restored within 30d not judged\n");
    }

    private HttpResponse<String> call(String method, String path, String body) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort()
                        + "/api/v1" + path)).header("Authorization", "Bearer " + ADMIN).header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
                .build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void withoutUsageRecordedNothingIsCalledStale() throws Exception {
        start();

        Run run = flags();

        assertThat(run.exit()).isZero();
        assertThat(run.out()).isEmpty();
        assertThat(run.err()).isEqualTo("flags: no usage is recorded in environment \"production\" yet: no flag can be called"
                + " stale (SDKs report every PT1M)\n");

        HttpResponse<String> archived = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + server.httpPort() + "/api/v1/environments/production")).header("Authorization", "Bearer " + ADMIN).DELETE()
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(archived.statusCode()).isEqualTo(200);
        assertThat(flags().err()).isEqualTo("flags: environment \"production\" is archived: no usage is recorded while it is,"
                + " and no flag can be called stale\n");
    }
}
