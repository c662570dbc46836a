package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flags.server.EnvironmentLimits;
import dev.flags.server.FlagServer;
import dev.flags.server.ServerConfig;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code flags promote} against a real server: staging's flag becomes production's, with what it changed. */
class PromoteCommandTest {

    private static final String ADMIN = "cli-test-admin-token-0123456789";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CANARY = "{\"enabled\": true, \"rules\": [{\"name\": \"eu canary\", \"conditions\":"
            + " [{\"regions\": [\"eu-west\"]}, {\"percentage\": %d}]}]}";

    @TempDir
    Path dir;
    private FlagServer server;

    record Run(int exit, String out, String err) {
    }

    /** {@code flags promote ARGS} into environment {@code env}. */
    private Run promote(String env, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        String[] all = new String[args.length + 4];
        all[0] = "promote";
        all[1] = "--server=http://127.0.0.1:" + server.httpPort();
        all[2] = "--token=" + ADMIN;
        all[3] = "--env=" + env;
        System.arraycopy(args, 0, all, 4, args.length);
        int exit = FlagsCommand.run(all, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(exit, out.toString(), err.toString());
    }

    private JsonNode send(String method, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort() + "/api/v1" + path))
                .header("Authorization", "Bearer " + ADMIN);
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        HttpResponse<String> r = HttpClient.newHttpClient().send(b.method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isBetween(200, 201);
        return JSON.readTree(r.body());
    }

    private JsonNode flag(String env) throws Exception {
        return send("GET", "/environments/" + env + "/flags/billing-v2", null);
    }

    private static ServerConfig config(Path data) {
        return ServerConfig.defaults().withDataDir(data).withPorts(0, 0).withBindAddress("127.0.0.1").withAdminToken(ADMIN);
    }

    /** The same data, under other limits. */
    private void restartWith(EnvironmentLimits limits) throws java.io.IOException {
        server.close();
        server = FlagServer.start(config(dir.resolve("data")).withEnvironmentLimits(limits));
    }

    @BeforeEach
    void start() throws Exception {
        server = FlagServer.start(config(dir.resolve("data")));
        send("POST", "/environments", "{\"key\": \"staging\"}");
        send("POST", "/environments", "{\"key\": \"production\"}");
        send("PUT", "/environments/staging/flags/billing-v2", CANARY.formatted(10));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @Test
    void aFlagNewToTheEnvironmentIsCopiedWithACommentThatSaysFromWhere() throws Exception {
        long staging = flag("staging").get("version").asLong();

        Run run = promote("production", "billing-v2", "--from", "staging", "--switch-on");

        assertThat(run.exit()).as(run.err()).isZero();
        assertThat(run.out().lines().findFirst()).hasValue("billing-v2: production new -> as staging v" + staging);
        assertThat(run.out()).contains("\n  enabled: added true\n").as("the key is no news").doesNotContain("key: added");
        JsonNode production = flag("production");
        JsonNode copied = production.deepCopy();
        ((ObjectNode) copied).remove("version");
        JsonNode original = flag("staging").deepCopy();
        ((ObjectNode) original).remove("version");
        assertThat(copied).isEqualTo(original);
        assertThat(run.err()).isEqualTo("flags: promoted: \"billing-v2\" in \"production\" is now v"
                + production.get("version").asLong() + ", as v" + staging + " in \"staging\"\n");
        JsonNode history = send("GET", "/environments/production/flags/billing-v2/history", null).get("versions");
        assertThat(history.get(history.size() - 1).get("comment").asText()).isEqualTo("promoted from staging v" + staging);
    }

    @Test
    void aFirstPromoteOfAFlagOnThereDoesNotReleaseItHereUnlessToldTo() throws Exception {
        Run dry = promote("production", "billing-v2", "--from", "staging", "--dry-run");
        assertThat(dry.exit()).as("as the promote would: " + dry.err()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(dry.out()).contains("\n  enabled: added true\n");
        assertThat(dry.err()).isEqualTo("flags: dry run: nothing written; it would create \"billing-v2\" in \"production\""
                + " switched on, as it is in \"staging\" (a release to its users at once): the promote needs --switch-on (or"
                + " --keep-off)\n");

        Run refused = promote("production", "billing-v2", "--from", "staging");
        assertThat(refused.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(refused.out()).isEmpty();
        assertThat(refused.err()).isEqualTo("flags: not promoted: it would create \"billing-v2\" in \"production\" switched on,"
                + " as it is in \"staging\" (a release to its users at once); nothing was written. Add --switch-on to switch it"
                + " on with the promote, or --keep-off to promote the rest and keep it off here\n");
        assertThat(send("GET", "/environments/production/flags", null).toString()).doesNotContain("billing-v2");

        // Shipped dark: the rules as in staging, the switch off.
        long staging = flag("staging").get("version").asLong();
        Run dark = promote("production", "billing-v2", "--from", "staging", "--keep-off");
        assertThat(dark.exit()).as(dark.err()).isZero();
        assertThat(dark.out()).contains("\n  enabled: added false\n").contains("rules");
        assertThat(dark.err()).endsWith("as v" + staging + " in \"staging\" but off\n");
        JsonNode production = flag("production");
        assertThat(production.get("enabled").asBoolean()).isFalse();
        assertThat(production.get("rules")).isEqualTo(flag("staging").get("rules"));
        JsonNode history = send("GET", "/environments/production/flags/billing-v2/history", null).get("versions");
        assertThat(history.get(history.size() - 1).get("comment").asText()).isEqualTo("promoted from staging v" + staging
                + ", kept off");

        Run again = promote("production", "billing-v2", "--from", "staging", "--keep-off");
        assertThat(again.exit()).isZero();
        assertThat(again.err()).isEqualTo("flags: flag \"billing-v2\" in \"production\" is already as in \"staging\" (v"
                + staging + "), but for its switch (off here): nothing to promote\n");

        // Archived here, restored: the same.
        send("DELETE", "/environments/production/flags/billing-v2", null);
        Run restore = promote("production", "billing-v2", "--from", "staging");
        assertThat(restore.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(restore.err()).startsWith("flags: not promoted: it would restore \"billing-v2\" in \"production\" switched on");
        Run restoreOn = promote("production", "billing-v2", "--from", "staging", "--switch-on");
        assertThat(restoreOn.exit()).as("told to: the server's own check is answered too: " + restoreOn.err()).isZero();
        assertThat(flag("production").get("enabled").asBoolean()).isTrue();
        send("DELETE", "/environments/production/flags/billing-v2", null);

        // On here: --keep-off does not switch it off, and asking for both is a mistake.
        send("PUT", "/environments/production/flags/billing-v2?switchOn=true", CANARY.formatted(10));
        Run on = promote("production", "billing-v2", "--from", "staging", "--keep-off");
        assertThat(on.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(on.err()).isEqualTo("flags: not promoted: \"billing-v2\" is on in \"production\"; --keep-off keeps a flag"
                + " that is off here off, it does not switch one off (flags off billing-v2 does); nothing was written\n");
        assertThat(flag("production").get("enabled").asBoolean()).isTrue();
        Run both = promote("production", "billing-v2", "--from", "staging", "--keep-off", "--switch-on");
        assertThat(both.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(both.err()).contains("--switch-on and --keep-off ask for opposite things");
    }

    @Test
    void aDryRunListsTheChangesAndWritesNothingThenThePromoteWritesThemAndASecondFindsNothingToDo() throws Exception {
        send("PUT", "/environments/production/flags/billing-v2", CANARY.formatted(10));
        send("PUT", "/environments/staging/flags/billing-v2", CANARY.formatted(50));
        long before = flag("production").get("version").asLong();

        Run dry = promote("production", "billing-v2", "--from", "staging", "--dry-run");

        assertThat(dry.exit()).as(dry.err()).isZero();
        assertThat(dry.out().lines().skip(1)).containsExactly("  rules[\"eu canary\"].conditions[1].percentage: 10 -> 50");
        assertThat(dry.err()).isEqualTo("flags: dry run: nothing written\n");
        assertThat(flag("production").get("version").asLong()).isEqualTo(before);

        Run run = promote("production", "billing-v2", "--from", "staging", "-m", "canary looked good");
        assertThat(run.exit()).as(run.err()).isZero();
        assertThat(run.out()).isEqualTo(dry.out());
        assertThat(flag("production").at("/rules/0/conditions/1/percentage").asInt()).isEqualTo(50);
        JsonNode history = send("GET", "/environments/production/flags/billing-v2/history", null).get("versions");
        assertThat(history.get(history.size() - 1).get("comment").asText()).isEqualTo("canary looked good");

        Run again = promote("production", "billing-v2", "--from", "staging");
        assertThat(again.exit()).isZero();
        assertThat(again.out()).isEmpty();
        assertThat(again.err()).startsWith("flags: flag \"billing-v2\" in \"production\" is already as in \"staging\"");
    }

    @Test
    void aPromoteDoesNotUndoAKillSwitchThrownHereUnlessToldTo() throws Exception {
        send("PUT", "/environments/production/flags/billing-v2", CANARY.formatted(10));
        send("PATCH", "/environments/production/flags/billing-v2", "{\"enabled\": false}"); // the incident's kill switch
        send("PUT", "/environments/staging/flags/billing-v2", CANARY.formatted(50));
        long before = flag("production").get("version").asLong();

        Run dry = promote("production", "billing-v2", "--from", "staging", "--dry-run");
        assertThat(dry.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(dry.out()).contains("  enabled: false -> true\n");
        assertThat(dry.err()).isEqualTo("flags: dry run: nothing written; it would switch \"billing-v2\" on in \"production\","
                + " where it is off (its kill switch?): the promote needs --switch-on (or --keep-off)\n");

        Run refused = promote("production", "billing-v2", "--from", "staging");
        assertThat(refused.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(refused.out()).isEmpty();
        assertThat(refused.err()).isEqualTo("flags: not promoted: it would switch \"billing-v2\" on in \"production\", where it"
                + " is off (its kill switch?); nothing was written. Add --switch-on to switch it on with the promote, or --keep-off"
                + " to promote the rest and keep it off here\n");
        assertThat(flag("production").get("version").asLong()).isEqualTo(before);

        Run dark = promote("production", "billing-v2", "--from", "staging", "--keep-off");
        assertThat(dark.exit()).as(dark.err()).isZero();
        assertThat(dark.out()).doesNotContain("enabled").contains("percentage: 10 -> 50");
        assertThat(flag("production").get("enabled").asBoolean()).as("the kill switch stays").isFalse();
        assertThat(flag("production").at("/rules/0/conditions/1/percentage").asInt()).isEqualTo(50);

        Run told = promote("production", "billing-v2", "--from", "staging", "--switch-on");
        assertThat(told.exit()).as(told.err()).isZero();
        assertThat(flag("production").get("enabled").asBoolean()).isTrue();
        assertThat(flag("production").at("/rules/0/conditions/1/percentage").asInt()).isEqualTo(50);
    }

    @Test
    void everyChangeIsListedHoweverMany() throws Exception {
        StringBuilder rules = new StringBuilder();
        for (int i = 0; i < 25; i++) {
            rules.append(i == 0 ? "" : ", ").append("{\"name\": \"r").append(i).append("\", \"conditions\": [{\"percentage\": 5}]}");
        }
        send("PUT", "/environments/production/flags/billing-v2", "{\"enabled\": true, \"rules\": [" + rules + "]}");
        send("PUT", "/environments/staging/flags/billing-v2", "{\"enabled\": true, \"salt\": \"s-2\", \"rules\": ["
                + rules.toString().replace("\"percentage\": 5", "\"percentage\": 6") + "]}");

        Run dry = promote("production", "billing-v2", "--from", "staging", "--dry-run");

        assertThat(dry.out().lines().skip(1)).hasSize(26).noneMatch(l -> l.contains("...") || l.contains("…"))
                .contains("  rules[\"r24\"].conditions[0].percentage: 5 -> 6").anyMatch(l -> l.startsWith("  salt: "));
    }

    @Test
    void aLongValueIsShownWholeSoThatAChangeAtItsEndShows() throws Exception {
        String common = "a".repeat(95);
        send("PUT", "/environments/production/flags/billing-v2", "{\"enabled\": true, \"description\": \"" + common + "Y\"}");
        send("PUT", "/environments/staging/flags/billing-v2", "{\"enabled\": true, \"description\": \"" + common + "X\"}");

        Run dry = promote("production", "billing-v2", "--from", "staging", "--dry-run");

        assertThat(dry.out().lines().skip(1)).containsExactly("  description: \"" + common + "Y\" -> \"" + common + "X\"");
    }

    private Run diff(String env, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        String[] all = java.util.stream.Stream.concat(java.util.stream.Stream.of("diff", "--server=http://127.0.0.1:"
                + server.httpPort(), "--token=" + ADMIN, "--env=" + env), java.util.Arrays.stream(args)).toArray(String[]::new);
        int exit = FlagsCommand.run(all, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void diffListsWhatAPromoteOfEachFlagWouldChangeAndTheFlagsOnlyOneSideHas() throws Exception {
        send("PUT", "/environments/production/flags/billing-v2", CANARY.formatted(50));
        send("PUT", "/environments/staging/flags/new-search", "{\"enabled\": true}");
        send("PUT", "/environments/production/flags/old-banner", "{\"enabled\": false}");
        long staging = flag("staging").get("version").asLong();
        long production = flag("production").get("version").asLong();

        Run run = diff("production", "--from", "staging");

        assertThat(run.exit()).as(run.err()).isZero();
        assertThat(run.out().lines()).containsExactly(
                "billing-v2: production v" + production + " -> as staging v" + staging,
                "  rules[\"eu canary\"].conditions[1].percentage: 50 -> 10",
                "only in staging (flags promote FLAG --from staging makes one here, --keep-off to ship it dark):",
                "  new-search",
                "only in production:",
                "  old-banner");
        assertThat(flag("production").at("/rules/0/conditions/1/percentage").asInt()).as("nothing written").isEqualTo(50);
        assertThat(diff("production", "--from", "staging", "--exit-code").exit()).as("a check in CI: they differ")
                .isEqualTo(FlagsCommand.EXIT_DIFFERENT);

        assertThat(promote("production", "billing-v2", "--from", "staging").exit()).isZero();
        assertThat(promote("production", "new-search", "--from", "staging", "--switch-on").exit()).isZero();
        send("DELETE", "/environments/production/flags/old-banner", null);
        Run same = diff("production", "--from", "staging");
        assertThat(same.out()).isEmpty();
        assertThat(same.err()).isEqualTo("flags: the flags of \"production\" and \"staging\" are the same (2 flags)\n");
        assertThat(diff("production", "--from", "staging", "--exit-code").exit()).as("the same").isZero();

        Run self = diff("staging", "--from", "staging");
        assertThat(self.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
    }

    @Test
    void diffSaysWhichFlagsAPromoteWouldRestoreAndWhenTheEnvironmentTakesNoPromote() throws Exception {
        send("PUT", "/environments/staging/flags/new-search", "{\"enabled\": true}");
        send("PUT", "/environments/staging/flags/old-banner", "{\"enabled\": true}");
        send("PUT", "/environments/production/flags/old-banner", "{\"enabled\": false}");
        send("DELETE", "/environments/production/flags/old-banner", null);

        Run run = diff("production", "--from", "staging");

        assertThat(run.exit()).as(run.err()).isZero();
        assertThat(run.out().lines()).containsExactly(
                "only in staging (flags promote FLAG --from staging makes one here, --keep-off to ship it dark):",
                "  billing-v2",
                "  new-search",
                "only in staging, archived in production (flags promote FLAG --from staging restores it here, --keep-off to keep"
                        + " it off):",
                "  old-banner");
        assertThat(run.err()).isEmpty();

        send("DELETE", "/environments/production", null);
        Run archived = diff("production", "--from", "staging");
        assertThat(archived.exit()).isZero();
        assertThat(archived.out()).isEqualTo(run.out());
        assertThat(archived.err()).isEqualTo("flags: environment \"production\" is archived: a promote into it is refused until"
                + " an admin restores it\n");
    }

    @Test
    void anArchivedFlagIsRestoredByThePromote() throws Exception {
        send("PUT", "/environments/production/flags/billing-v2", "{\"enabled\": false}");
        send("DELETE", "/environments/production/flags/billing-v2", null);

        Run dry = promote("production", "billing-v2", "--from", "staging", "--dry-run", "--switch-on");
        assertThat(dry.exit()).as(dry.err()).isZero();
        assertThat(dry.out()).as("compared with the archived document, not with nothing")
                .startsWith("billing-v2: production archived v2 -> as staging v2\n  restored: archived here, served again\n")
                .contains("enabled: false -> true").doesNotContain("key");

        Run run = promote("production", "billing-v2", "--from", "staging", "--switch-on");

        assertThat(run.exit()).as(run.err()).isZero();
        assertThat(run.err()).endsWith("(restored)\n");
        assertThat(flag("production").get("enabled").asBoolean()).isTrue();
    }

    @Test
    void aDryRunCountsTheBytesOfANewFlagExactlyAsTheServerDoes() throws Exception {
        restartWith(new EnvironmentLimits(100, 1));
        send("POST", "/environments", "{\"key\": \"scratch\"}");
        assertThat(promote("scratch", "billing-v2", "--from", "staging", "--switch-on").exit()).isZero();
        long size = send("GET", "/environments/scratch", null).get("bytes").asLong(); // the flag, at a one-digit version

        fillProduction((1 << 20) - size + 1); // one byte too few left
        Run short1 = promote("production", "billing-v2", "--from", "staging", "--dry-run");
        assertThat(short1.exit()).as(short1.err()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(short1.err()).contains("with this flag it would serve about " + ((1 << 20) + 1) + ", more than the 1048576");

        fillProduction((1 << 20) - size); // just enough
        Run fits = promote("production", "billing-v2", "--from", "staging", "--dry-run", "--switch-on");
        assertThat(fits.exit()).as(fits.err()).isZero();
        Run real = promote("production", "billing-v2", "--from", "staging", "--switch-on");
        assertThat(real.exit()).as(real.err()).isZero();
        assertThat(send("GET", "/environments/production", null).get("bytes").asLong()).isEqualTo(1 << 20);

        // Full to the byte, it still takes a flag turned off ("false" is a byte longer than "true"), and the dry run says so.
        send("PATCH", "/environments/staging/flags/billing-v2", "{\"enabled\": false}");
        Run off = promote("production", "billing-v2", "--from", "staging", "--dry-run");
        assertThat(off.exit()).as(off.err()).isZero();
        assertThat(off.out()).contains("enabled: true -> false");
        assertThat(promote("production", "billing-v2", "--from", "staging").exit()).isZero();
        assertThat(flag("production").get("enabled").asBoolean()).isFalse();
    }

    /** Makes production serve exactly {@code bytes}: one flag of 500-character user ids, and one id to make up the rest. */
    private void fillProduction(long bytes) throws Exception {
        int ids = (int) ((bytes - 400) / 503);
        String full = java.util.stream.IntStream.range(0, ids).mapToObj(i -> "\"" + String.format("u%04d", i) + "x".repeat(495) + "\"")
                .collect(java.util.stream.Collectors.joining(","));
        int tail = 300;
        for (int attempt = 0; attempt < 2; attempt++) {
            send("PUT", "/environments/production/flags/filler", "{\"enabled\":true,\"targets\":[{\"userIds\":[" + full + ",\""
                    + "t".repeat(tail) + "\"]}]}");
            tail += (int) (bytes - send("GET", "/environments/production", null).get("bytes").asLong());
        }
        assertThat(send("GET", "/environments/production", null).get("bytes").asLong()).isEqualTo(bytes);
    }

    @Test
    void aDryRunIntoAFullEnvironmentSaysThePromoteWouldBeRefused() throws Exception {
        restartWith(new EnvironmentLimits(1, 16));
        send("PUT", "/environments/production/flags/other", "{\"enabled\": true}");

        Run dry = promote("production", "billing-v2", "--from", "staging", "--dry-run");

        assertThat(dry.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(dry.out()).startsWith("billing-v2: production new -> as staging v2\n");
        assertThat(dry.err()).isEqualTo("flags: dry run: nothing written; the promote would be refused: environment"
                + " \"production\" serves 1 flag; an environment may serve at most 1: archive flags no code uses any more (flags stale"
                + " lists them) first\n");
        Run run = promote("production", "billing-v2", "--from", "staging", "--switch-on");
        assertThat(run.exit()).as("as the server refuses it").isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(run.err()).contains("serves 1 flag; an environment may serve at most 1 (--max-flags-per-environment)");
    }

    @Test
    void aChangeMadeInBetweenIsNeverOverwrittenUnseen() {
        // A server that changes the flag between the read and the write answers the conditional PUT with 412.
        ScriptedHttpServer scripted = new ScriptedHttpServer();
        try {
            scripted.answer(200, null, "{\"key\": \"billing-v2\", \"version\": 7, \"enabled\": true}");
            scripted.answer(200, null, "{\"key\": \"billing-v2\", \"version\": 3, \"enabled\": true, \"default\": true}");
            scripted.answer(412, null, "{\"title\": \"precondition failed\", \"detail\": \"the flag is at version 4\"}");
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            int exit = FlagsCommand.run(new String[] {"promote", scripted.serverOption(), "--token=t0ken", "--env=production",
                    "billing-v2", "--from", "staging"}, new PrintWriter(out, true), new PrintWriter(err, true));

            assertThat(exit).isEqualTo(FlagsCommand.EXIT_FAILED);
            assertThat(out.toString()).as("a refused write prints no changes").isEmpty();
            assertThat(err.toString()).isEqualTo("flags: flag \"billing-v2\" changed in \"production\" while it was being promoted:"
                    + " nothing was written; run the promote again to see the changes anew\n");
            assertThat(scripted.requests()).containsExactly("GET /api/v1/environments/staging/flags/billing-v2",
                    "GET /api/v1/environments/production/flags/billing-v2",
                    "PUT /api/v1/environments/production/flags/billing-v2?comment=promoted%20from%20staging%20v7");
        } finally {
            scripted.afterEach(null);
        }
    }

    @Test
    void badUsesSayWhat() {
        Run same = promote("staging", "billing-v2", "--from", "staging");
        assertThat(same.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(same.err()).contains("--from names the environment it would copy into (\"staging\")");

        Run missing = promote("production", "promo", "--from", "staging");
        assertThat(missing.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(missing.err()).contains("there is no flag \"promo\" in environment \"staging\"");

        Run noTarget = promote("prodution", "billing-v2", "--from", "staging");
        assertThat(noTarget.exit()).as("a missing environment is not a missing flag").isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(noTarget.err()).contains("prodution");
        assertThat(noTarget.out()).isEmpty();

        for (String[] empty : new String[][] {{"production", "", "--from", "staging"}, {"production", "billing-v2", "--from", ""},
                {"", "billing-v2", "--from", "staging"}}) {
            Run run = promote(empty[0], empty[1], empty[2], empty[3]);
            assertThat(run.exit()).as(String.join(" ", empty)).isEqualTo(FlagsCommand.EXIT_USAGE);
            assertThat(run.err()).contains("must not be empty");
            assertThat(run.out()).isEmpty();
        }

        for (String[] command : new String[][] {{"show", ""}, {"history", ""}, {"revert", "", "1"}, {"tokens", "show", ""},
                {"show", "billing-v2", "--env="}}) {
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            String[] args = java.util.stream.Stream.concat(java.util.Arrays.stream(command), java.util.stream.Stream.of(
                    "--server=http://127.0.0.1:" + server.httpPort(), "--token=" + ADMIN)).toArray(String[]::new);
            int exit = FlagsCommand.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
            assertThat(exit).as(String.join(" ", command)).isEqualTo(FlagsCommand.EXIT_USAGE);
            assertThat(err.toString()).as(String.join(" ", command)).containsAnyOf("must not be empty", "is empty");
            assertThat(out.toString()).as("not the list of flags or tokens").isEmpty();
        }

        Run noFrom = promote("production", "billing-v2");
        assertThat(noFrom.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(noFrom.err()).contains("--from");
    }
}
