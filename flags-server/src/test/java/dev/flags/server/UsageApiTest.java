package dev.flags.server;

import static dev.flags.server.ServerFixture.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.flags.protocol.v1.FlagSyncGrpc;
import dev.flags.protocol.v1.FlagUsage;
import dev.flags.protocol.v1.UsageReceipt;
import dev.flags.protocol.v1.UsageReport;
import dev.flags.server.journal.MutableClock;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Flag usage end to end: SDK reports over a real gRPC port, read back over the real HTTP API, on a
 * server whose clock the test moves.
 */
class UsageApiTest {

    private static final Instant T0 = Instant.parse("2026-12-01T10:00:00Z");

    @TempDir
    Path dataDir;
    private final MutableClock clock = new MutableClock(T0.plusMillis(400)); // reports are kept to the second
    private FlagServer server;
    private ApiClient api;
    private final List<ManagedChannel> channels = new ArrayList<>();

    private void start(ServerConfig config) throws Exception {
        server = FlagServer.start(config, clock);
        api = new ApiClient(server.httpPort());
    }

    /** A server with environments production (flags billing-v2, old-checkout, promo) and staging. */
    private void startWithFlags(ServerConfig config) throws Exception {
        start(config);
        assertThat(api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}").status()).isEqualTo(201);
        assertThat(api.post("/api/v1/environments", ADMIN, "{\"key\": \"staging\"}").status()).isEqualTo(201);
        for (String flag : List.of("promo", "billing-v2", "old-checkout")) {
            assertThat(api.put("/api/v1/environments/production/flags/" + flag, ADMIN, "{\"enabled\": true}").status())
                    .isEqualTo(201);
        }
    }

    @AfterEach
    void stop() throws Exception {
        for (ManagedChannel c : channels) {
            c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        if (server != null) {
            server.close();
        }
    }

    private String token(String scope, String environment) {
        ApiClient.Response made = api.post("/api/v1/tokens", ADMIN, "{\"name\": \"" + scope + "-" + environment + "\", \"scope\": \""
                + scope + "\", \"environments\": [\"" + environment + "\"]" + (scope.equals("tester") ? ", \"userId\": \"tess\"" : "")
                + "}");
        assertThat(made.status()).as(made.body()).isEqualTo(201);
        return made.json().get("token").asText();
    }

    private FlagSyncGrpc.FlagSyncBlockingStub stub(String token) {
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build();
        channels.add(channel);
        FlagSyncGrpc.FlagSyncBlockingStub stub = FlagSyncGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
        if (token == null) {
            return stub;
        }
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
    }

    static FlagUsage mark(String key, boolean servedTrue, boolean servedFalse) {
        return FlagUsage.newBuilder().setKey(key).setServedTrue(servedTrue).setServedFalse(servedFalse).build();
    }

    static UsageReport report(String environment, String application, FlagUsage... flags) {
        return UsageReport.newBuilder().setEnvironment(environment).setSdk("flags-java/0.1.0").setApplication(application)
                .setPeriodStartMillis(T0.toEpochMilli()).setPeriodEndMillis(T0.toEpochMilli() + 60_000)
                .addAllFlags(List.of(flags)).build();
    }

    private JsonNode usage(String query) {
        ApiClient.Response r = api.get("/api/v1/environments/production/usage" + query, ADMIN);
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        return r.json();
    }

    private static JsonNode flag(JsonNode usage, String key) {
        for (JsonNode f : usage.get("flags")) {
            if (f.get("flag").asText().equals(key)) {
                return f;
            }
        }
        throw new AssertionError("flag " + key + " is not listed in " + usage);
    }

    private static Status refusal(Runnable call) {
        try {
            call.run();
        } catch (StatusRuntimeException e) {
            return e.getStatus();
        }
        throw new AssertionError("the call was not refused");
    }

    @Test
    void aReportShowsInTheUsageWithTrueAndFalseKeptApartAndEachApplicationListed() throws Exception {
        startWithFlags(ServerFixture.config(dataDir));
        String sdk = token("sdk", "production");
        JsonNode before = usage("");
        assertThat(before.get("since").isNull()).as("nothing recorded yet").isTrue();
        assertThat(before.get("at").asText()).as("the server's time, to the second").isEqualTo("2026-12-01T10:00:00Z");
        assertThat(before.get("flags")).hasSize(3).allMatch(f -> f.get("lastEvaluatedAt").isNull() && f.get("applications").isEmpty());

        UsageReceipt receipt = stub(sdk).reportUsage(report("production", "checkout", mark("billing-v2", true, false),
                mark("promo", false, true), mark("not-a-flag", true, true)));
        assertThat(receipt.getReportIntervalMillis()).as("the configured interval").isEqualTo(60_000);

        JsonNode first = usage("");
        assertThat(first.get("environment").asText()).isEqualTo("production");
        assertThat(first.get("since").asText()).isEqualTo("2026-12-01T10:00:00Z");
        assertThat(first.get("reportInterval").asText()).isEqualTo("PT1M");
        assertThat(first.get("flags").findValuesAsText("flag")).as("every current flag, by key; an unknown key ignored")
                .containsExactly("billing-v2", "old-checkout", "promo");
        JsonNode billing = flag(first, "billing-v2");
        assertThat(billing.get("lastEvaluatedAt").asText()).isEqualTo("2026-12-01T10:00:00Z");
        assertThat(billing.get("lastServedTrueAt").asText()).isEqualTo("2026-12-01T10:00:00Z");
        assertThat(billing.get("lastServedFalseAt").isNull()).isTrue();
        assertThat(billing.get("applications").toString())
                .isEqualTo("[{\"name\":\"checkout\",\"sdk\":\"flags-java/0.1.0\",\"lastReportAt\":\"2026-12-01T10:00:00Z\"}]");
        JsonNode promo = flag(first, "promo");
        assertThat(promo.get("lastServedTrueAt").isNull()).isTrue();
        assertThat(promo.get("lastServedFalseAt").asText()).isEqualTo("2026-12-01T10:00:00Z");
        JsonNode old = flag(first, "old-checkout");
        assertThat(old.get("lastEvaluatedAt").isNull()).as("never seen").isTrue();
        assertThat(old.get("lastServedTrueAt").isNull()).isTrue();
        assertThat(old.get("lastServedFalseAt").isNull()).isTrue();

        clock.advance(Duration.ofHours(1));
        UsageReport unnamed = report("production", "", mark("billing-v2", false, true)).toBuilder().setSdk("flags-go/1.2.0").build();
        stub(sdk).reportUsage(unnamed);
        JsonNode later = usage("?flag=billing-v2");
        assertThat(later.get("flags")).hasSize(1);
        billing = later.get("flags").get(0);
        assertThat(billing.get("lastEvaluatedAt").asText()).isEqualTo("2026-12-01T11:00:00Z");
        assertThat(billing.get("lastServedTrueAt").asText()).as("true was not served in the second report")
                .isEqualTo("2026-12-01T10:00:00Z");
        assertThat(billing.get("lastServedFalseAt").asText()).isEqualTo("2026-12-01T11:00:00Z");
        assertThat(billing.get("applications").toString()).as("most recent first; an application without a name shown as such")
                .isEqualTo("[{\"name\":\"(unnamed)\",\"sdk\":\"flags-go/1.2.0\",\"lastReportAt\":\"2026-12-01T11:00:00Z\"},"
                        + "{\"name\":\"checkout\",\"sdk\":\"flags-java/0.1.0\",\"lastReportAt\":\"2026-12-01T10:00:00Z\"}]");
        assertThat(later.get("since").asText()).as("since the first report").isEqualTo("2026-12-01T10:00:00Z");

        String metrics = api.get("/metrics", null).body();
        assertThat(metrics).contains("\nflags_usage_reports_total 2\n").contains("\nflags_usage_reports_refused_total 0\n")
                .contains("\nflags_usage_reports_unlisted_total 0\n");
    }

    @Test
    void theUsageIsReadWithEveryScopeThatMayReadTheFlagsAndOneFlagIsFoundAsTheFlagGetFindsIt() throws Exception {
        startWithFlags(ServerFixture.config(dataDir));
        String tester = token("tester", "production");
        String editor = token("editor", "production");
        String stagingEditor = token("editor", "staging");
        String sdk = token("sdk", "production");
        for (String reader : List.of(ADMIN, tester, editor)) {
            assertThat(api.get("/api/v1/environments/production/usage", reader).status()).isEqualTo(200);
        }
        ApiClient.Response other = api.get("/api/v1/environments/production/usage", stagingEditor);
        assertThat(other.status()).isEqualTo(403);
        assertThat(other.json().get("detail").asText()).isEqualTo(api.get("/api/v1/environments/production/flags", stagingEditor)
                .json().get("detail").asText());
        assertThat(api.get("/api/v1/environments/production/usage", sdk).status()).isEqualTo(403);
        assertThat(api.get("/api/v1/environments/nowhere/usage", ADMIN).status()).isEqualTo(404);
        assertThat(api.post("/api/v1/environments/production/usage", ADMIN, "{}").status()).isEqualTo(405);

        ApiClient.Response missing = api.get("/api/v1/environments/production/usage?flag=nope", ADMIN);
        assertThat(missing.status()).isEqualTo(404);
        assertThat(missing.json().get("detail").asText()).isEqualTo("there is no flag \"nope\" in environment \"production\"");
        for (String query : new String[] {"?flag=", "?flag"}) {
            ApiClient.Response empty = api.get("/api/v1/environments/production/usage" + query, ADMIN);
            assertThat(empty.status()).as(query).isEqualTo(400);
            assertThat(empty.json().get("detail").asText()).isEqualTo("\"flag\" must name a flag; leave it out for every flag's usage");
        }
        ApiClient.Response twice = api.get("/api/v1/environments/production/usage?flag=promo&flag=billing-v2", ADMIN);
        assertThat(twice.status()).isEqualTo(400);
        assertThat(twice.json().get("detail").asText()).startsWith("\"flag\" is given 2 times");
        assertThat(api.delete("/api/v1/environments/production/flags/promo", ADMIN).status()).isEqualTo(200);
        ApiClient.Response archived = api.get("/api/v1/environments/production/usage?flag=promo", ADMIN);
        assertThat(archived.status()).isEqualTo(404);
        assertThat(archived.json().get("detail").asText())
                .isEqualTo(api.get("/api/v1/environments/production/flags/promo", ADMIN).json().get("detail").asText());
        assertThat(usage("").get("flags").findValuesAsText("flag")).as("an archived flag is not listed")
                .containsExactly("billing-v2", "old-checkout");
    }

    @Test
    void aReportIsRefusedForTheTokensAndEnvironmentsThatMayNotSubscribe() throws Exception {
        startWithFlags(ServerFixture.config(dataDir));
        String stagingSdk = token("sdk", "staging");
        String editor = token("editor", "production");
        Status wrongEnvironment = refusal(() -> stub(stagingSdk).reportUsage(report("production", "checkout")));
        assertThat(wrongEnvironment.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(wrongEnvironment.getDescription()).isEqualTo("a token of scope sdk for [staging] may not report usage of"
                + " environment \"production\": use an sdk token of that environment, or check the SDK's environment() for a typo");
        Status notSdk = refusal(() -> stub(editor).reportUsage(report("production", "checkout")));
        assertThat(notSdk.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(notSdk.getDescription()).isEqualTo("a token of scope editor for [production] may not report usage of"
                + " environment \"production\": only an sdk token of it (or an admin token) may, so give the SDK an sdk token of that"
                + " environment");
        Status unknown = refusal(() -> stub(ADMIN).reportUsage(report("nowhere", "checkout")));
        assertThat(unknown.getCode()).isEqualTo(Status.Code.NOT_FOUND);
        assertThat(unknown.getDescription()).isEqualTo("environment \"nowhere\" does not exist");
        assertThat(refusal(() -> stub(null).reportUsage(report("production", ""))).getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
        assertThat(refusal(() -> stub(ADMIN).reportUsage(report("", ""))).getDescription()).isEqualTo("environment must not be empty");
        assertThat(stub(ADMIN).reportUsage(report("production", "ops")).getReportIntervalMillis()).as("an admin token may")
                .isEqualTo(60_000);
        assertThat(usage("").get("since").isNull()).as("nothing refused was recorded, the admin's empty report was").isFalse();
        assertThat(api.get("/metrics", null).body()).contains("\nflags_usage_reports_refused_total 4\n")
                .contains("\nflags_usage_reports_total 1\n");
    }

    /** Each report is INVALID_ARGUMENT with its problem as the description, and none of them recorded anything. */
    private void assertRefusedAsInvalid(FlagSyncGrpc.FlagSyncBlockingStub sdk, List<UsageReport> bad, List<String> problems)
            throws Exception {
        for (int i = 0; i < bad.size(); i++) {
            UsageReport r = bad.get(i);
            Status refused = refusal(() -> sdk.reportUsage(r));
            assertThat(refused.getCode()).as(problems.get(i)).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(refused.getDescription()).isEqualTo(problems.get(i));
        }
        assertThat(usage("").get("since").isNull()).as("no bad report recorded anything").isTrue();
    }

    @Test
    void aReportOverTheLimitsIsRefusedWithAMessageThatSaysWhatAndWhich() throws Exception {
        startWithFlags(ServerFixture.config(dataDir));
        FlagSyncGrpc.FlagSyncBlockingStub sdk = stub(token("sdk", "production"));
        List<String> problems = new ArrayList<>();
        List<UsageReport> bad = new ArrayList<>();
        UsageReport.Builder many = report("production", "checkout").toBuilder();
        for (int i = 0; i <= 10_000; i++) {
            many.addFlags(mark("flag-" + i, true, false));
        }
        bad.add(many.build());
        problems.add("a report lists at most 10000 flags, this one 10001: report more often, or fewer flags");
        bad.add(report("production", "checkout").toBuilder().setSdk("s".repeat(101)).build());
        problems.add("sdk is at most 100 characters, was 101: \"" + "s".repeat(57) + "...\"");
        bad.add(report("production", "check\nout"));
        problems.add("application must be printable text (no control, bidirectional or invisible characters), has U+000A at"
                + " index 5: \"check\\u000aout\"");
        bad.add(report("production", "shop\u200bping"));
        problems.add("application must be printable text (no control, bidirectional or invisible characters), has U+200B at"
                + " index 4: \"shop\\u200bping\""); // written as an escape, as a control character is: the message names it
        bad.add(report("production", "   "));
        problems.add("application must not be blank: \"   \"");
        bad.add(report("production", "(unnamed)"));
        problems.add("application must not be \"(unnamed)\", which stands for applications without a name: \"(unnamed)\"");
        bad.add(report("production", "\uD83D\uDE00".repeat(60)));
        problems.add("application is at most 100 characters, was 120 UTF-16 units (60 characters: one beyond the Basic Multilingual"
                + " Plane, such as an emoji, counts as two): \"" + "\uD83D\uDE00".repeat(28) + "...\""); // not cut in a pair
        bad.add(report("production", "a".repeat(5_000)));
        problems.add("application is at most 100 characters, was 5000: \"" + "a".repeat(57) + "...\"");
        bad.add(report("production", "checkout", mark("billing-v2", true, false), mark("Bad Key!", true, false)));
        problems.add("flags[1].key \"Bad Key!\" is not a flag key: a flag key starts with a letter or digit and holds only letters,"
                + " digits, '.', '_' and '-', at most 128");
        bad.add(report("production", "checkout", mark("x".repeat(300), true, false)));
        problems.add("flags[0].key \"" + "x".repeat(57) + "...\" is not a flag key: a flag key starts with a letter or digit and"
                + " holds only letters, digits, '.', '_' and '-', at most 128");
        bad.add(report("production", "checkout", mark("promo", true, false), mark("billing-v2", true, false),
                mark("promo", false, true)));
        problems.add("flags[2].key \"promo\" is listed twice (flags[0] too): list each flag once per report");
        bad.add(report("production", "checkout", mark("promo", false, false)));
        problems.add("flags[0] (\"promo\") has neither served_true nor served_false: set the answers the flag gave");
        assertRefusedAsInvalid(sdk, bad, problems);

        UsageReport largest = report("production", "a".repeat(100)).toBuilder().setSdk("s".repeat(100)).clearFlags()
                .addAllFlags(many.getFlagsList().subList(0, 10_000).stream()
                        .map(f -> f.toBuilder().setKey((f.getKey() + "-" + "k".repeat(128)).substring(0, 128)).build()).toList())
                .addAllUnknownFlags(java.util.stream.IntStream.range(0, 1_000).mapToObj(i -> String.format("%04d", i) + "u".repeat(124))
                        .toList())
                .build();
        assertThat(largest.getFlags(0).getKey()).hasSize(128);
        assertThat(largest.getUnknownFlags(0)).hasSize(128);
        assertThat(largest.getSerializedSize()).as("docs/server.md: about 1.5 MB, under the port's 2 MiB")
                .isBetween(1_450_000, 1_600_000);
        assertThat(sdk.reportUsage(largest).getReportIntervalMillis()).as("the largest report within the limits is taken")
                .isEqualTo(60_000);
    }

    @Test
    void aTokenInAReportsNamesOrUnknownKeysIsNeverKeptNorShownNorEchoed() throws Exception {
        // QA85 F1: a token pasted as an application's name (or asked for as a flag key) went whole into usage.json and
        // to every reader of the environment's usage, as no comment, name or description may.
        startWithFlags(ServerFixture.config(dataDir));
        String sdkToken = token("sdk", "production");
        String admin = api.post("/api/v1/tokens", ADMIN, "{\"name\": \"ops\", \"scope\": \"admin\"}").json().get("token").asText();
        FlagSyncGrpc.FlagSyncBlockingStub sdk = stub(sdkToken);
        for (UsageReport bad : List.of(report("production", "checkout " + admin),
                report("production", "checkout").toBuilder().setSdk("flags-go/" + admin).build())) {
            Status refused = refusal(() -> sdk.reportUsage(bad));
            assertThat(refused.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(refused.getDescription()).contains("holds what looks like a flag server token").doesNotContain(admin);
        }
        // A key refused for its form is not quoted whole either (the description goes into the server's DEBUG log).
        for (UsageReport bad : List.of(report("production", "checkout").toBuilder().addUnknownFlags(admin + "!").build(),
                report("production", "checkout", mark(admin + "!", true, false)))) {
            assertThat(refusal(() -> sdk.reportUsage(bad)).getDescription()).contains("is not a flag key")
                    .doesNotContain(admin.substring(4));
        }
        // An unknown key is not worth an application's whole report (its flags would look unused): dropped alone.
        stub(sdkToken).reportUsage(report("production", "checkout", mark("promo", true, false)).toBuilder()
                .addUnknownFlags(admin).addUnknownFlags("biling-v2").build());
        JsonNode usage = usage("");
        assertThat(usage.get("unknownFlags")).extracting(u -> u.get("flag").asText()).containsExactly("biling-v2");
        assertThat(flag(usage, "promo").get("applications").get(0).get("name").asText()).isEqualTo("checkout");
        assertThat(usage.toString()).doesNotContain(admin);
        server.close();
        server = null;
        assertThat(java.nio.file.Files.readString(dataDir.resolve("usage.json"))).contains("biling-v2").doesNotContain(admin)
                .doesNotContain(admin.substring(4));
    }

    @Test
    void archivingWithUnusedForIsRefusedWhileCodeStillEvaluatesTheFlag() throws Exception {
        startWithFlags(ServerFixture.config(dataDir));
        stub(token("sdk", "production")).reportUsage(report("production", "checkout", mark("billing-v2", true, false)));
        String editor = token("editor", "production");

        ApiClient.Response refused = api.delete("/api/v1/environments/production/flags/billing-v2?unusedFor=P7D", editor);
        assertThat(refused.status()).isEqualTo(409);
        assertThat(refused.json().get("detail").asText()).matches("flag \"billing-v2\" was evaluated at 20\\d\\d-\\d\\d-\\d\\dT"
                + "\\d\\d:\\d\\d:\\d\\dZ \\(by checkout\\): code still asks for it, and archived it would answer the code's"
                + " default there; archive it once it has gone unevaluated for P7D, or without unusedFor");
        assertThat(api.get("/api/v1/environments/production/flags/billing-v2", editor).status()).as("not archived").isEqualTo(200);

        for (String bad : new String[] {"P0D", "-PT1H", "soon", "P11Y", ""}) {
            assertThat(api.delete("/api/v1/environments/production/flags/billing-v2?unusedFor=" + bad, editor).status())
                    .as(bad).isEqualTo(400);
        }
        assertThat(api.delete("/api/v1/environments/production/flags/billing-v2?unusedFor=P7D", token("tester", "production"))
                .status()).as("who may not archive learns nothing more").isEqualTo(403);

        clock.advance(Duration.ofDays(8));
        assertThat(api.delete("/api/v1/environments/production/flags/billing-v2?unusedFor=P1W", editor).status())
                .as("unevaluated for longer than asked").isEqualTo(200);
        assertThat(api.delete("/api/v1/environments/production/flags/old-checkout?unusedFor=PT1H", editor).status())
                .as("never evaluated").isEqualTo(200);
        assertThat(api.delete("/api/v1/environments/production/flags/nope?unusedFor=PT1H", editor).status()).isEqualTo(404);
    }

    @Test
    void reportsOverATokensShareOrTheServersRateAreRefusedUntilTimeRefillsIt() throws Exception {
        startWithFlags(ServerFixture.config(dataDir).withUsage(new UsageSettings(Duration.ofSeconds(30), 20)));
        FlagSyncGrpc.FlagSyncBlockingStub sdk = stub(token("sdk", "production")); // a token's share: 2 a second
        assertThat(sdk.reportUsage(report("production", "a")).getReportIntervalMillis()).isEqualTo(30_000);
        sdk.reportUsage(report("production", "b"));
        Status refused = refusal(() -> sdk.reportUsage(report("production", "c", mark("promo", true, false))));
        assertThat(refused.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(refused.getDescription()).isEqualTo("the server takes at most 20 usage reports a second, and at most 2 of"
                + " one token, and is over it: report again next period");
        assertThat(flag(usage(""), "promo").get("lastEvaluatedAt").isNull()).as("the refused report was not recorded").isTrue();

        // One token over its share crowds out no one: nine more take their two each, the server's twenty in all.
        for (int t = 0; t < 9; t++) {
            FlagSyncGrpc.FlagSyncBlockingStub other = stub(token("sdk", "production"));
            other.reportUsage(report("production", "other"));
            other.reportUsage(report("production", "other"));
        }
        FlagSyncGrpc.FlagSyncBlockingStub eleventh = stub(token("sdk", "production"));
        assertThat(refusal(() -> eleventh.reportUsage(report("production", "late"))).getCode())
                .as("the server's rate, not the token's share").isEqualTo(Status.Code.RESOURCE_EXHAUSTED);

        clock.advance(Duration.ofMillis(500));
        sdk.reportUsage(report("production", "c", mark("promo", true, false)));
        assertThat(refusal(() -> sdk.reportUsage(report("production", "d"))).getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(flag(usage(""), "promo").get("applications").findValuesAsText("name")).containsExactly("c");
        assertThat(api.get("/metrics", null).body()).contains("\nflags_usage_reports_total 21\n")
                .contains("\nflags_usage_reports_refused_total 3\n");
    }

    @Test
    void usageOutlivesARestartAndWhatIsGoneIsDroppedFromTheFile() throws Exception {
        startWithFlags(ServerFixture.config(dataDir));
        String sdk = token("sdk", "production");
        String stagingSdk = token("sdk", "staging");
        api.put("/api/v1/environments/staging/flags/promo", ADMIN, "{\"enabled\": true}");
        stub(sdk).reportUsage(report("production", "checkout", mark("billing-v2", true, true), mark("old-checkout", true, false)));
        stub(stagingSdk).reportUsage(report("staging", "checkout", mark("promo", true, false)));
        JsonNode before = usage("");
        assertThat(api.delete("/api/v1/environments/production/flags/old-checkout", ADMIN).status()).isEqualTo(200);
        assertThat(api.delete("/api/v1/environments/staging", ADMIN).status()).isEqualTo(200);
        server.close();

        Path file = dataDir.resolve("usage.json");
        assertThat(file).exists();
        String written = java.nio.file.Files.readString(file);
        assertThat(written).contains("\"billing-v2\"").as("an archived flag's usage is dropped").doesNotContain("old-checkout")
                .as("an archived environment's too").doesNotContain("staging");

        clock.advance(Duration.ofDays(1));
        start(ServerFixture.config(dataDir));
        assertThat(api.put("/api/v1/environments/production/flags/old-checkout?switchOn=true", ADMIN, "{\"enabled\": true}")
                .status()).as("restored").isEqualTo(201);
        JsonNode after = usage("");
        assertThat(flag(after, "billing-v2")).isEqualTo(flag(before, "billing-v2"));
        assertThat(after.get("since")).isEqualTo(before.get("since"));
        assertThat(flag(after, "old-checkout").get("lastEvaluatedAt").isNull()).as("dropped when it was archived").isTrue();
        assertThat(file).as("nothing changed since the start: nothing written").hasContent(written);
    }

    @Test
    void anUnreadableUsageFileIsMovedAsideAndTheServerStartsWithoutUsage() throws Exception {
        Path file = dataDir.resolve("usage.json");
        java.nio.file.Files.createDirectories(dataDir);
        for (String content : List.of("{\"environments\": ", "{\"hello\": \"world\"}",
                "{\"format\": \"flags-server usage\", \"version\": 99, \"environments\": {}}")) {
            java.nio.file.Files.writeString(file, content);
            start(ServerFixture.config(dataDir));
            ApiClient.Response listed = api.get("/api/v1/environments", ADMIN);
            assertThat(listed.status()).as("the server started").isEqualTo(200);
            assertThat(file).as(content).doesNotExist();
            Path aside = dataDir.resolve("usage.json.unreadable-20261201T100000Z");
            assertThat(aside).as("moved aside, never deleted").hasContent(content);
            java.nio.file.Files.delete(aside);
            server.close();
            server = null;
        }
    }

    /**
     * The move aside is made to fail by the test (no file system refuses a rename to root, which CI runs as):
     * the server keeps usage in memory, and neither its periodic writes nor its write at close replace the
     * file it could not use. The read and the writes are one UsageFile: two would not share that state.
     */
    @Test
    void anUnreadableUsageFileThatCannotBeMovedAsideIsNeverOverwritten() throws Exception {
        Path file = dataDir.resolve("usage.json");
        java.nio.file.Files.createDirectories(dataDir);
        String content = "{\"format\": \"flags-server usage\", \"version\": 99, \"environments\": {}}";
        java.nio.file.Files.writeString(file, content);
        server = FlagServer.start(ServerFixture.config(dataDir), clock, (from, to) -> {
            throw new java.nio.file.AccessDeniedException(from.toString(), to.toString(), "refused by the test");
        });
        api = new ApiClient(server.httpPort());
        assertThat(api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}").status()).isEqualTo(201);
        assertThat(api.put("/api/v1/environments/production/flags/promo", ADMIN, "{\"enabled\": true}").status()).isEqualTo(201);
        stub(token("sdk", "production")).reportUsage(report("production", "checkout", mark("promo", true, false)));
        assertThat(flag(usage(""), "promo").get("lastEvaluatedAt").asText()).as("kept in memory").isEqualTo("2026-12-01T10:00:00Z");

        clock.advance(Duration.ofMinutes(2));
        server.close(); // writes what changed, were it allowed to
        server = null;
        assertThat(file).as("not overwritten").hasContent(content);
        try (java.util.stream.Stream<Path> files = java.nio.file.Files.list(dataDir)) {
            assertThat(files.map(p -> p.getFileName().toString())).as("nor moved aside").noneMatch(n -> n.startsWith("usage.json."));
        }
    }

    static UsageReport asking(UsageReport report, String... unknownFlags) {
        return report.toBuilder().addAllUnknownFlags(List.of(unknownFlags)).build();
    }

    private static List<String> unknownKeys(JsonNode usage) {
        return usage.get("unknownFlags").findValuesAsText("flag");
    }

    @Test
    void keysAskedForThatAreNotFlagsAreListedWithTheirApplicationsAndThoseThatAreFlagsAreIgnored() throws Exception {
        startWithFlags(ServerFixture.config(dataDir));
        String sdk = token("sdk", "production");
        assertThat(usage("").get("unknownFlags").toString()).as("none yet: an empty list").isEqualTo("[]");

        stub(sdk).reportUsage(asking(report("production", "checkout", mark("billing-v2", true, false)), "biling-v2", "promo",
                "not-yet"));
        clock.advance(Duration.ofHours(1));
        stub(sdk).reportUsage(asking(report("production", "").toBuilder().setSdk("flags-go/1.2.0").build(), "biling-v2"));

        JsonNode usage = usage("");
        assertThat(usage.get("unknownFlags").toString()).as("by key; promo is a flag (the SDK was behind): not listed")
                .isEqualTo("[{\"flag\":\"biling-v2\",\"lastAskedAt\":\"2026-12-01T11:00:00Z\",\"applications\":["
                        + "{\"name\":\"(unnamed)\",\"sdk\":\"flags-go/1.2.0\",\"lastReportAt\":\"2026-12-01T11:00:00Z\"},"
                        + "{\"name\":\"checkout\",\"sdk\":\"flags-java/0.1.0\",\"lastReportAt\":\"2026-12-01T10:00:00Z\"}]},"
                        + "{\"flag\":\"not-yet\",\"lastAskedAt\":\"2026-12-01T10:00:00Z\",\"applications\":["
                        + "{\"name\":\"checkout\",\"sdk\":\"flags-java/0.1.0\",\"lastReportAt\":\"2026-12-01T10:00:00Z\"}]}]");
        assertThat(flag(usage, "promo").get("lastEvaluatedAt").isNull()).as("asked for as unknown is not evaluated").isTrue();
        assertThat(flag(usage, "billing-v2").get("applications").findValuesAsText("name")).as("the unnamed report listed no flag")
                .containsExactly("checkout");
        assertThat(usage("?flag=billing-v2").has("unknownFlags")).as("only in the environment's answer").isFalse();
        ApiClient.Response tester = api.get("/api/v1/environments/production/usage", token("tester", "production"));
        assertThat(tester.json().get("unknownFlags")).as("read as the rest of the answer is").isEqualTo(usage.get("unknownFlags"));
        ApiClient.Response typo = api.delete("/api/v1/environments/production/flags/biling-v2?unusedFor=P7D", ADMIN);
        assertThat(typo.status()).as("a key code asks for is no flag to archive: " + typo.body()).isEqualTo(404);
        assertThat(typo.json().get("detail").asText()).as("the key meant").contains("\"billing-v2\"");
        assertThat(api.delete("/api/v1/environments/production/flags/promo", ADMIN).status()).isEqualTo(200);
        assertThat(unknownKeys(usage(""))).as("promo was a flag when it was reported: not recorded, so not listed once archived")
                .containsExactly("biling-v2", "not-yet");
    }

    @Test
    void anArchivedFlagStillAskedForIsListedUntilItIsAFlagAgainAndUnknownKeysOutliveARestartForThirtyDays() throws Exception {
        startWithFlags(ServerFixture.config(dataDir));
        String sdk = token("sdk", "production");
        assertThat(api.delete("/api/v1/environments/production/flags/old-checkout", ADMIN).status()).isEqualTo(200);
        // The SDK evaluated old-checkout early in the period and heard of its archiving later: both lists, no error.
        stub(sdk).reportUsage(asking(report("production", "checkout", mark("old-checkout", true, false)), "old-checkout",
                "biling-v2", "not-yet"));
        assertThat(unknownKeys(usage(""))).containsExactly("biling-v2", "not-yet", "old-checkout");

        assertThat(api.put("/api/v1/environments/production/flags/old-checkout?switchOn=true", ADMIN, "{\"enabled\": true}")
                .status()).as("restored").isEqualTo(201);
        assertThat(api.put("/api/v1/environments/production/flags/not-yet", ADMIN, "{\"enabled\": true}").status())
                .as("created").isEqualTo(201);
        JsonNode before = usage("");
        assertThat(unknownKeys(before)).as("a flag now: hidden at once").containsExactly("biling-v2");
        JsonNode restored = flag(before, "old-checkout");
        assertThat(restored.path("lastEvaluatedAt").isNull()).as("asked for while archived: evaluated all the same, or it"
                + " would look unused").isFalse();
        assertThat(restored.path("applications").get(0).path("name").asText()).isEqualTo("checkout");
        server.close();

        Path file = dataDir.resolve("usage.json");
        JsonNode written = new com.fasterxml.jackson.databind.ObjectMapper().readTree(file.toFile());
        assertThat(written.path("environments").path("production").path("unknownFlags").fieldNames())
                .as("a flag now: dropped when the file is written").toIterable().containsExactly("biling-v2");

        clock.advance(Duration.ofDays(1));
        start(ServerFixture.config(dataDir));
        assertThat(usage("").get("unknownFlags")).as("read back after a restart").isEqualTo(before.get("unknownFlags"));
        assertThat(flag(usage(""), "old-checkout")).as("merged into the flag's record when the file was written")
                .isEqualTo(restored);

        clock.advance(Duration.ofDays(29).minusSeconds(1)); // biling-v2 last asked for 30 days less 0.6 s ago: still shown
        assertThat(unknownKeys(usage(""))).containsExactly("biling-v2");
        clock.advance(Duration.ofSeconds(1));
        assertThat(unknownKeys(usage(""))).as("over 30 days: hidden at once, before the file is written").isEmpty();
        stub(token("sdk", "production")).reportUsage(report("production", "checkout"));
        server.close();
        written = new com.fasterxml.jackson.databind.ObjectMapper().readTree(file.toFile());
        assertThat(written.path("environments").path("production").path("unknownFlags").size())
                .as("not asked for in 30 days: dropped when the file is written").isZero();
        start(ServerFixture.config(dataDir));
        assertThat(usage("").get("unknownFlags")).isEmpty();
    }

    @Test
    void anEnvironmentArchivedAndRestoredStartsItsRecordAgain() throws Exception {
        startWithFlags(ServerFixture.config(dataDir));
        String sdk = token("sdk", "production");
        stub(sdk).reportUsage(report("production", "checkout", mark("promo", true, false)));
        assertThat(usage("").get("since").isNull()).isFalse();

        assertThat(api.call("DELETE", "/api/v1/environments/production", ADMIN, null, java.util.Map.of()).status()).isEqualTo(200);
        clock.advance(Duration.ofHours(1)); // archived an hour: what SDKs evaluated meanwhile was not recorded
        assertThat(api.post("/api/v1/environments/production/restore", ADMIN, null).status()).isEqualTo(200);

        JsonNode restored = usage("");
        assertThat(restored.get("since").isNull()).as("a record spanning the archive would call used flags unused").isTrue();
        assertThat(flag(restored, "promo").get("lastEvaluatedAt").isNull()).isTrue();
        stub(sdk).reportUsage(report("production", "checkout", mark("promo", true, false)));
        assertThat(usage("").get("since").asText()).isEqualTo(clock.instant().truncatedTo(java.time.temporal.ChronoUnit.SECONDS)
                .toString());
    }

    @Test
    void unknownKeysOverTheLimitsAreRefusedWithAMessageThatSaysWhatAndWhich() throws Exception {
        startWithFlags(ServerFixture.config(dataDir));
        FlagSyncGrpc.FlagSyncBlockingStub sdk = stub(token("sdk", "production"));
        String[] many = new String[1_001];
        for (int i = 0; i < many.length; i++) {
            many[i] = "typo-" + i;
        }
        List<UsageReport> bad = List.of(asking(report("production", "checkout"), many),
                asking(report("production", "checkout"), "biling-v2", "Bad Key!"),
                asking(report("production", "checkout"), "y".repeat(129)),
                asking(report("production", "checkout"), "biling-v2", "promo", "biling-v2"));
        List<String> problems = List.of(
                "a report lists at most 1000 unknown_flags, this one 1001: report more often, or fewer unknown keys",
                "unknown_flags[1] \"Bad Key!\" is not a flag key: a flag key starts with a letter or digit and holds only letters,"
                        + " digits, '.', '_' and '-', at most 128",
                "unknown_flags[0] \"" + "y".repeat(57) + "...\" is not a flag key: a flag key starts with a letter or digit and"
                        + " holds only letters, digits, '.', '_' and '-', at most 128",
                "unknown_flags[2] \"biling-v2\" is listed twice (unknown_flags[0] too): list each unknown key once per report");
        assertRefusedAsInvalid(sdk, bad, problems);

        String[] most = java.util.Arrays.copyOf(many, 1_000);
        assertThat(sdk.reportUsage(asking(report("production", "checkout", mark("promo", true, false)), most))
                .getReportIntervalMillis()).as("1,000 unknown keys are taken").isEqualTo(60_000);
        assertThat(usage("").get("unknownFlags")).hasSize(1_000);
    }
}
