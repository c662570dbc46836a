package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flags.core.FlagFormat;
import dev.flags.server.FlagServer;
import dev.flags.server.ServerConfig;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The flags command against a real server over HTTP, and offline on flag files. */
class FlagsCommandTest {

    private static final String ADMIN = "cli-test-admin-token-0123456789";

    @TempDir
    Path dir;
    private FlagServer server;

    /** What one run printed, and how it ended. */
    record Run(int exit, String out, String err) {
        JsonNode json() throws Exception {
            return Api.JSON.readTree(out);
        }
    }

    /** Runs {@code flags} against a server with a token, given after the command's own arguments and options. */
    static Run against(FlagServer server, String token, String... args) {
        String[] all = java.util.stream.Stream.concat(java.util.Arrays.stream(args), java.util.stream.Stream.of(
                "--server=http://127.0.0.1:" + server.httpPort(), "--token=" + token)).toArray(String[]::new);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = FlagsCommand.run(all, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(exit, out.toString(), err.toString());
    }

    private Run flags(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = FlagsCommand.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        Run run = new Run(exit, out.toString(), err.toString());
        java.util.regex.Matcher kept = KEPT_EDIT.matcher(run.err());
        while (kept.find()) {
            keptEdits.add(Path.of(kept.group()));
        }
        return run;
    }

    /** A file an edit keeps in the system's temporary directory, as its message names it. */
    private static final java.util.regex.Pattern KEPT_EDIT = java.util.regex.Pattern.compile("\\S*flags-edit-\\d+/[^\\s:]+\\.json");

    /** The files edits kept (refused, or the editor failed): the user's to keep, the test's to remove. */
    private final List<Path> keptEdits = new java.util.ArrayList<>();

    private Run remote(String... args) {
        String[] all = new String[args.length + 3];
        all[0] = args[0];
        all[1] = "--server=http://127.0.0.1:" + server.httpPort();
        all[2] = "--token=" + ADMIN;
        all[3] = "--env=production";
        System.arraycopy(args, 1, all, 4, args.length - 1);
        return flags(all);
    }

    @BeforeEach
    void start() throws Exception {
        server = FlagServer.start(ServerConfig.defaults().withDataDir(dir.resolve("data")).withPorts(0, 0)
                .withBindAddress("127.0.0.1").withAdminToken(ADMIN));
        var http = java.net.http.HttpClient.newHttpClient();
        var base = "http://127.0.0.1:" + server.httpPort() + "/api/v1/environments";
        http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(base)).header("Authorization", "Bearer " + ADMIN)
                .header("Content-Type", "application/json").POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"key\": \"production\"}")).build(),
                java.net.http.HttpResponse.BodyHandlers.discarding());
        http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(base + "/production/flags/billing-v2"))
                .header("Authorization", "Bearer " + ADMIN).header("Content-Type", "application/json")
                .PUT(java.net.http.HttpRequest.BodyPublishers.ofString("""
                        {"enabled": false, "rules": [{"name": "beta testers", "conditions": [{"roles": ["beta-tester"]}]},
                         {"name": "eu canary", "conditions": [{"regions": ["eu-west"]}, {"percentage": 10}]}]}""")).build(),
                java.net.http.HttpResponse.BodyHandlers.discarding());
        http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(base + "/production/roles/beta-tester"))
                .header("Authorization", "Bearer " + ADMIN).header("Content-Type", "application/json")
                .PUT(java.net.http.HttpRequest.BodyPublishers.ofString("{\"selfService\": true}")).build(),
                java.net.http.HttpResponse.BodyHandlers.discarding());
    }

    @AfterEach
    void stop() throws Exception {
        server.close();
        for (Path file : keptEdits) {
            Files.deleteIfExists(file);
            Files.deleteIfExists(file.getParent());
        }
    }

    @Test
    void createTakesADescriptionAndARolloutSaysThePercentAsTyped() throws Exception {
        Run created = remote("create", "checkout-v2", "--description", "The new checkout");
        assertThat(created.exit()).as(created.err()).isZero();
        assertThat(created.json().get("description").asText()).isEqualTo("The new checkout");
        assertThat(created.json().get("enabled").asBoolean()).isFalse();
        Run typo = remote("rollout", "checkout-v2", "10%%", "--rule", "0");
        assertThat(typo.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(typo.err()).isEqualTo("flags: PERCENT must be a number, such as 10, 2.5 or 50%, was '10%%'\n"
                + "Try 'flags rollout --help'.\n");
        Run noRules = remote("add-role", "checkout-v2", "beta-tester", "--rule", "beta testers");
        assertThat(noRules.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(noRules.err()).contains("it has no rules (rules are added by writing the flag's whole document: a PUT, or"
                + " flags edit checkout-v2)");
    }

    @Test
    void applyMakesTheEnvironmentAsTheFileSaysWritingOnlyWhatDiffersAndNamingWhatItMayNotWrite() throws Exception {
        assertThat(remote("create", "checkout-v2").exit()).isZero();
        assertThat(remote("on", "checkout-v2").exit()).isZero();
        assertThat(remote("create", "search-v3").exit()).isZero(); // off: its kill switch, say
        assertThat(remote("create", "old-banner").exit()).isZero();
        Path file = Files.writeString(dir.resolve("production.json"), """
                {"formatVersion": 1, "flags": [
                  {"key": "checkout-v2", "enabled": true, "description": "from git"},
                  {"key": "search-v3", "enabled": true},
                  {"key": "dark-launch", "enabled": false},
                  {"key": "big-bang", "enabled": true},
                  {"key": "old-banner", "enabled": false}
                ], "roleGrants": {"beta-tester": ["tess"]}}
                """);

        Run dry = remote("apply", file.toString(), "--dry-run", "--prune");
        assertThat(dry.exit()).as(dry.err()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(dry.out()).containsPattern("change checkout-v2 v\\d+\n  description: added \"from git\"\n")
                .containsPattern("change search-v3 v\\d+: not written, the file switches it on, and here it is off \\(its kill"
                        + " switch\\?\\): needs --switch-on search-v3, or \"enabled\": false in the file\n  enabled: false -> true\n")
                .contains("create dark-launch (off)\n")
                .contains("create big-bang (on): not written, the file creates it switched on").contains("1 flag unchanged");
        assertThat(dry.err()).contains("the file's role grants (1 role) are not applied")
                .contains("dry run: nothing written; 2 of 5 would not be written");
        assertThat(dry.out()).as("--prune: the flag the file has not").containsPattern("archive billing-v2 v\\d+ \\(off\\)\n");
        assertThat(remote("show", "checkout-v2").json().has("description")).as("nothing written").isFalse();

        Run applied = remote("apply", file.toString(), "-m", "release train 12");
        assertThat(applied.exit()).as("two not written").isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(applied.err()).contains("applied to \"production\": 2 written, 1 unchanged, 2 not written:")
                .contains("  search-v3: the file switches it on, and here it is off (its kill switch?): needs --switch-on")
                .contains("  big-bang: the file creates it switched on");
        assertThat(remote("show", "checkout-v2").json().get("description").asText()).isEqualTo("from git");
        assertThat(remote("show", "dark-launch").json().get("enabled").asBoolean()).isFalse();
        assertThat(remote("show", "search-v3").json().get("enabled").asBoolean()).as("the kill switch holds").isFalse();
        assertThat(remote("history", "checkout-v2").out()).contains("release train 12");

        assertThat(remote("apply", file.toString(), "--switch-on", "search-v3", "--switch-on", "big-bang").exit()).isZero();
        assertThat(remote("show", "search-v3").json().get("enabled").asBoolean()).isTrue();
        assertThat(remote("show", "big-bang").json().get("enabled").asBoolean()).isTrue();
        Run again = remote("apply", file.toString());
        assertThat(again.exit()).as(again.err()).isZero();
        assertThat(again.out()).isEqualTo("1 flag served here is not in the file (kept; --prune archives them): billing-v2\n"
                + "5 flags unchanged\n");
        assertThat(remote("show", "checkout-v2").json().get("version").asLong()).as("no new version").isEqualTo(
                remote("history", "checkout-v2", "--last", "1").out().lines().findFirst().map(l -> Long.parseLong(l.substring(1,
                        l.indexOf(' ')))).orElseThrow());

        Files.writeString(file, "{\"formatVersion\": 1, \"flags\": [{\"key\": \"checkout-v2\", \"enabled\": true,"
                + " \"description\": \"from git\"}]}");
        Run most = remote("apply", file.toString(), "--prune");
        assertThat(most.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(most.err()).isEqualTo("flags: --prune would archive 5 of the 6 flags served in \"production\", which " + file
                + " does not have: a truncated file, or one of another environment? Nothing was written; add --force if it is"
                + " meant\n");
        Run pruned = remote("apply", file.toString(), "--prune", "--force");
        assertThat(pruned.exit()).as(pruned.err()).isZero();
        assertThat(pruned.out()).contains("archive big-bang v").contains("archive old-banner v").contains("archive billing-v2 v");
        assertThat(remote("list").out()).contains("checkout-v2").doesNotContain("old-banner").doesNotContain("dark-launch");

        Run asCode = remote("export", "--as-code");
        assertThat(asCode.exit()).as(asCode.err()).isZero();
        assertThat(asCode.json().has("roleGrants")).isFalse();
        assertThat(asCode.json().get("flags")).hasSize(1).allSatisfy(f -> assertThat(f.has("version")).isFalse());
        Path exported = Files.writeString(dir.resolve("exported.json"), asCode.out());
        assertThat(remote("apply", exported.toString()).out()).as("an export applies as it is").isEqualTo("1 flag unchanged\n");

        Run put = remote("put", "checkout-v2", file.toString());
        assertThat(put.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(put.err()).isEqualTo("flags: " + file + " is a flag file (as flags export writes them), not one flag's"
                + " document: nothing was written; flags apply " + file + " writes every flag in it that differs (--dry-run"
                + " shows which)\n");
        Path one = Files.writeString(dir.resolve("one.json"), "{\"key\": \"checkout-v2\", \"enabled\": false}");
        Run notAFile = remote("apply", one.toString());
        assertThat(notAFile.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(notAFile.err()).contains("is not a flag file this can apply, nothing was written")
                .contains("(one flag's document is written with flags put FLAG FILE)");
        assertThat(remote("show", "checkout-v2").json().get("enabled").asBoolean()).isTrue();
    }

    @Test
    void applyListsOnlyWhatChangesThoughTheServerWritesANumberAnotherWay() throws Exception {
        Path ramp = Files.writeString(dir.resolve("ramp.json"), """
                {"key": "ramp", "enabled": false, "rules": [
                  {"name": "eu canary", "conditions": [{"regions": ["eu-west"]}, {"percentage": 0}]},
                  {"name": "everyone", "conditions": [{"percentage": 0}]}]}
                """);
        assertThat(remote("put", "ramp", ramp.toString()).exit()).isZero();
        Run export = remote("export", "--as-code");
        assertThat(export.exit()).as(export.err()).isZero();
        com.fasterxml.jackson.databind.JsonNode asCode = Api.JSON.readTree(export.out());
        for (com.fasterxml.jackson.databind.JsonNode flag : asCode.get("flags")) {
            if (flag.get("key").asText().equals("ramp")) {
                ((com.fasterxml.jackson.databind.node.ObjectNode) flag.at("/rules/1/conditions/0")).put("percentage", 50);
            }
        }
        Path file = Files.writeString(dir.resolve("as-code.json"), Api.JSON.writeValueAsString(asCode));
        Run dry = remote("apply", file.toString(), "--dry-run");
        assertThat(dry.exit()).as(dry.err() + dry.out()).isZero();
        assertThat(dry.out()).as("QA56 F1: no \"0 -> 0\" for the percentage that stays")
                .containsPattern("change ramp v\\d+\n  rules\\[\"everyone\"\\]\\.conditions\\[0\\]\\.percentage: 0 -> 50\n")
                .doesNotContain("0 -> 0");
    }

    @Test
    void applyRefusesWhatTheServerWouldAndTellsARestoreAStaleFileAndAReleaseFromAKillSwitch() throws Exception {
        assertThat(remote("create", "checkout-v2").exit()).isZero();
        assertThat(remote("on", "checkout-v2").exit()).isZero();
        assertThat(remote("create", "promo").exit()).isZero();
        Run export = remote("export"); // a plain export: with versions
        Path old = Files.writeString(dir.resolve("old.json"), export.out());
        assertThat(remote("archive", "promo", "--force").exit()).isZero();
        assertThat(remote("off", "checkout-v2", "-m", "incident 99").exit()).isZero(); // since the export

        Run stale = remote("apply", old.toString(), "--dry-run");
        assertThat(stale.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(stale.out()).containsPattern("change checkout-v2 v\\d+: not written, the file has it at v\\d+, and here it"
                + " is v\\d+: changed since the file was written")
                .containsPattern("restore promo \\(archived at v\\d+\\) \\(off\\): not written, the file has it at v\\d+, and"
                        + " here it is archived");

        // releasing one flag does not undo another's kill switch
        Path release = Files.writeString(dir.resolve("release.json"), """
                {"formatVersion": 1, "flags": [{"key": "checkout-v2", "enabled": true}, {"key": "billing-v2", "enabled": false,
                  "rules": [{"name": "beta testers", "conditions": [{"roles": ["beta-tester"]}]},
                   {"name": "eu canary", "conditions": [{"regions": ["eu-west"]}, {"percentage": 10}]}]},
                 {"key": "new-search", "enabled": true}]}
                """);
        Run released = remote("apply", release.toString(), "--switch-on", "new-search");
        assertThat(released.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(released.err()).contains("  checkout-v2: the file switches it on, and here it is off (its kill switch?)");
        assertThat(remote("show", "new-search").json().get("enabled").asBoolean()).isTrue();
        assertThat(remote("show", "checkout-v2").json().get("enabled").asBoolean()).as("the kill switch holds").isFalse();
        assertThat(remote("apply", release.toString(), "--switch-on", "nope").exit()).isEqualTo(FlagsCommand.EXIT_USAGE);

        // a versioned entry of a key that is not served (archived since) is not brought back (QA47a F1)
        Run archivedSince = remote("apply", old.toString(), "--switch-on", "checkout-v2");
        assertThat(archivedSince.err()).contains("  promo: the file has it at v").contains("and here it is archived: changed"
                + " since the file was written");
        assertThat(remote("list", "--archived").out()).contains("promo");
        assertThat(remote("apply", old.toString(), "--force").exit()).as("--force goes with --prune")
                .isEqualTo(FlagsCommand.EXIT_USAGE);

        // what the server would refuse is said by the dry run, not found out by the apply
        Path bad = Files.writeString(dir.resolve("bad.json"), """
                {"formatVersion": 1, "flags": [{"key": "Promo-2", "enabled": false}, {"key": "promo-2", "enabled": false},
                  {"key": "digits", "enabled": false, "rules": [{"name": "123", "conditions": [{"regions": ["eu"]}]}]},
                  {"key": "twin-a", "enabled": false}, {"key": "TWIN-A", "enabled": false}]}
                """);
        remote("create", "promo-2");
        Run refused = remote("apply", bad.toString(), "--dry-run");
        assertThat(refused.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(refused.out()).contains("create Promo-2 (off): not written, differs only in case from \"promo-2\"")
                .contains("create digits (off): not written, the server refuses it: ")
                .contains("create twin-a (off)\n").contains("create TWIN-A (off): not written, differs only in case from"
                        + " \"twin-a\", earlier in the file");

        // a token that may not write is told once, not once a flag
        String at = "--server=http://127.0.0.1:" + server.httpPort();
        String viewer = flags("tokens", "create", "dash", at, "--token=" + ADMIN, "--scope", "viewer", "-e", "production")
                .json().get("token").asText();
        Path two = Files.writeString(dir.resolve("two.json"), "{\"formatVersion\": 1, \"flags\": [{\"key\": \"a-1\"},"
                + " {\"key\": \"a-2\"}]}");
        Run denied = flags("apply", two.toString(), at, "--token=" + viewer, "--env=production");
        assertThat(denied.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(denied.err()).isEqualTo("flags: this token (scope viewer) may not change flags in environment \"production\";"
                + " 0 written before this, the rest not tried\n");
    }

    @Test
    void applyArchivesBeforeItCreatesAndSaysWhatWouldPassTheEnvironmentsCap() throws Exception {
        server.close(); // an environment of at most 3 flags; billing-v2 is served
        server = FlagServer.start(ServerConfig.defaults().withDataDir(dir.resolve("data")).withPorts(0, 0)
                .withBindAddress("127.0.0.1").withAdminToken(ADMIN).withEnvironmentLimits(new dev.flags.server.EnvironmentLimits(3, 16)));
        assertThat(remote("create", "old-a").exit()).isZero();
        assertThat(remote("create", "old-b").exit()).isZero();
        Path renamed = Files.writeString(dir.resolve("renamed.json"), """
                {"formatVersion": 1, "flags": [{"key": "new-a"}, {"key": "new-b"}, {"key": "new-c"}]}
                """);
        Run dry = remote("apply", renamed.toString(), "--dry-run"); // kept: three served, three more
        assertThat(dry.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(dry.out()).contains("create new-a (off): not written, the environment may serve at most 3 flags")
                .contains("create new-c (off): not written, the environment may serve at most 3 flags");
        Run full = remote("apply", renamed.toString(), "--prune", "--force");
        assertThat(full.exit()).as("the archives make room first: " + full.err()).isZero();
        assertThat(remote("list").out()).contains("new-a").contains("new-b").doesNotContain("old-a");
    }

    @Test
    void anOnCallOperatorTokenThrowsTheKillSwitchAndCannotSwitchAFlagBackOn() throws Exception {
        assertThat(remote("create", "checkout-v2").exit()).isZero();
        assertThat(remote("on", "checkout-v2").exit()).isZero();
        String at = "--server=http://127.0.0.1:" + server.httpPort();
        Run made = flags("tokens", "create", "on-call", at, "--token=" + ADMIN, "--scope", "operator", "-e", "production");
        assertThat(made.exit()).as(made.err()).isZero();
        String operator = "--token=" + made.json().get("token").asText();

        Run off = flags("off", "checkout-v2", at, operator, "--env=production", "-m", "checkout errors");
        assertThat(off.exit()).as(off.err()).isZero();
        assertThat(off.json().get("enabled").asBoolean()).isFalse();
        Run on = flags("on", "checkout-v2", at, operator, "--env=production");
        assertThat(on.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(on.err()).contains("this token (scope operator) may only switch flags off in environment \"production\"");
        assertThat(flags("show", "checkout-v2", at, operator, "--env=production").json().get("enabled").asBoolean()).isFalse();
        assertThat(flags("history", "checkout-v2", at, operator, "--env=production").out()).contains("checkout errors");

        // Checked before the incident: what the token may do, in words, never its secret.
        Run whoami = flags("whoami", at, operator);
        assertThat(whoami.exit()).as(whoami.err()).isZero();
        assertThat(whoami.out()).matches("tok-[0-9a-f]+ \"on-call\": operator of environment production\n"
                + "may: read flags, read history and audit, switch flags off \\(the kill switch\\)\n"
                + "expires: never\n");
        assertThat(Api.JSON.readTree(flags("whoami", at, operator, "--json").out()).get("scope").asText()).isEqualTo("operator");
        assertThat(flags("whoami", at, "--token=" + ADMIN).out()).contains(": admin of every environment\nmay: everything (admin: tokens, environments, every flag)\nexpires: ");
        assertThat(flags("environments", "create", "retired", at, "--token=" + ADMIN).exit()).isZero();
        Run retiredToken = flags("tokens", "create", "old-on-call", at, "--token=" + ADMIN, "--scope", "operator", "-e", "retired");
        assertThat(flags("environments", "archive", "retired", at, "--token=" + ADMIN).exit()).isZero();
        assertThat(flags("whoami", at, "--token=" + retiredToken.json().get("token").asText()).out())
                .endsWith("note: environment retired is archived: it takes no change there, kill switches included, until an"
                        + " admin restores it\n");

        // A dry run fails where the apply would: this token may not write flags.
        Path file = Files.writeString(dir.resolve("as-code.json"), "{\"formatVersion\": 1, \"flags\": [{\"key\":"
                + " \"checkout-v2\", \"enabled\": false, \"description\": \"from git\"}]}");
        Run dry = flags("apply", file.toString(), "--dry-run", at, operator, "--env=production");
        assertThat(dry.exit()).as(dry.err()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(dry.err()).containsPattern("flags: dry run: nothing written; and the apply would be refused: this token"
                + " \\(tok-[0-9a-f]+, scope operator\\) may not change flags in environment \"production\"\n");
        Run dryAsAdmin = remote("apply", file.toString(), "--dry-run");
        assertThat(dryAsAdmin.exit()).as(dryAsAdmin.err()).isZero();
        assertThat(dryAsAdmin.err()).endsWith("flags: dry run: nothing written\n");
    }

    @Test
    void aRevertOrAVersionlessPutThatWouldUndoAKillSwitchIsRefusedUnlessTheCommandSaysWhatToDoWithTheSwitch() throws Exception {
        assertThat(remote("create", "checkout-v2").exit()).isZero();
        long on = remote("on", "checkout-v2").json().get("version").asLong();
        assertThat(remote("off", "checkout-v2", "-m", "incident 43").exit()).isZero();

        Run refused = remote("revert", "checkout-v2", "v" + on);
        assertThat(refused.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(refused.out()).isEmpty();
        assertThat(refused.err()).isEqualTo("flags: not reverted: version " + on + " of \"checkout-v2\" is switched on, and in"
                + " environment \"production\" the flag is off now (its kill switch?); nothing was written. Add --switch-on to"
                + " switch it on with the revert, or --keep-off to bring back the rest and keep it off\n");
        Run both = remote("revert", "checkout-v2", "v" + on, "--switch-on", "--keep-off");
        assertThat(both.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        Run keptOff = remote("revert", "checkout-v2", "v" + on, "--keep-off");
        assertThat(keptOff.exit()).as(keptOff.err()).isZero();
        assertThat(keptOff.json().get("enabled").asBoolean()).isFalse();
        Run switchedOn = remote("revert", "checkout-v2", "v" + on, "--switch-on");
        assertThat(switchedOn.exit()).as(switchedOn.err()).isZero();
        assertThat(switchedOn.json().get("enabled").asBoolean()).isTrue();

        // A copy kept elsewhere (git), without its version, written over the kill switch.
        Path fromGit = Files.writeString(dir.resolve("from-git.json"), "{\"enabled\": true, \"description\": \"as in git\"}");
        assertThat(remote("off", "checkout-v2").exit()).isZero();
        Run put = remote("put", "checkout-v2", fromGit.toString());
        assertThat(put.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(put.err()).isEqualTo("flags: not written: " + fromGit + " would switch \"checkout-v2\" on in environment"
                + " \"production\", where it is off now (its kill switch?), and it has no \"version\" to say it was read since."
                + " Add --switch-on to switch it on with this document, or set \"enabled\": false in it to keep it off\n");
        assertThat(remote("show", "checkout-v2").json().get("enabled").asBoolean()).as("nothing written").isFalse();
        Run asked = remote("put", "checkout-v2", fromGit.toString(), "--switch-on");
        assertThat(asked.exit()).as(asked.err()).isZero();
        assertThat(asked.json().get("enabled").asBoolean()).isTrue();

        Run keepOffWhileOn = remote("revert", "checkout-v2", "v" + on, "--keep-off");
        assertThat(keepOffWhileOn.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(keepOffWhileOn.err()).isEqualTo("flags: not reverted: --keep-off keeps off a flag that is off, and"
                + " \"checkout-v2\" is on in environment \"production\" (version " + on + " is on too); nothing was written."
                + " Revert without it, or flags off checkout-v2 first\n");

        // Killed, then archived: a sync from git must not restore it switched on unasked.
        assertThat(remote("off", "checkout-v2").exit()).isZero();
        assertThat(remote("archive", "checkout-v2", "--force").exit()).isZero();
        Run restore = remote("put", "checkout-v2", fromGit.toString());
        assertThat(restore.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(restore.err()).contains("where it is archived (restoring it so would release it at once)");
    }

    @Test
    void tokensAreMadeWithAnExpiryAndListedWithWhenTheyWereMadeWhenTheyExpireAndWhenTheyWereLastUsed() throws Exception {
        String at = "--server=http://127.0.0.1:" + server.httpPort();
        String admin = "--token=" + ADMIN;
        Instant before = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        Run made = flags("tokens", "create", "alice", at, admin, "--scope", "editor", "-e", "production", "--expires-in", "P90D",
                "-m", "for the migration");
        assertThat(made.exit()).as(made.err()).isZero();
        JsonNode token = made.json();
        String id = token.get("id").asText();
        String secret = token.get("token").asText();
        Instant expiresAt = Instant.parse(token.get("expiresAt").asText());
        assertThat(expiresAt).isBetween(before.plus(Duration.ofDays(90)), Instant.now().plus(Duration.ofDays(90)).plusSeconds(1)); // rounded up
        assertThat(token.get("expired").asBoolean()).isFalse();
        assertThat(token.get("createdBy").asText()).isEqualTo("admin (admin)");
        Run forever = flags("tokens", "create", "ci", at, admin, "--scope", "admin");
        assertThat(forever.exit()).as(forever.err()).isZero();
        assertThat(forever.err()).as("made by a token that never expires: no note of an expiry").doesNotContain("expires")
                .contains("shown this once");
        Run monthly = flags("tokens", "create", "monthly", at, admin, "--scope", "admin", "--expires-in", "30d");
        Run child = flags("tokens", "create", "child", at, "--token=" + monthly.json().get("token").asText(), "--scope", "admin");
        assertThat(child.exit()).as(child.err()).isZero();
        assertThat(child.err()).as("no expiry asked, the maker's given: said").startsWith("flags: the token expires at "
                + monthly.json().get("expiresAt").asText() + ", as the token that made it does: a token lives no longer than its"
                + " maker (make it with a token that does not expire to give it no expiry)\n");
        assertThat(child.json().get("expiresAt").asText()).isEqualTo(monthly.json().get("expiresAt").asText());

        assertThat(flags("list", at, "--token=" + secret, "--env=production").exit()).as("alice uses her token").isZero();
        Run list = flags("tokens", "list", at, admin);
        assertThat(list.exit()).as(list.err()).isZero();
        String alice = list.out().lines().filter(l -> l.startsWith(id)).findFirst().orElseThrow();
        assertThat(alice).contains(" alice ").contains(" editor ").contains("[production]").contains(" by admin (admin) ")
                .contains("expires " + expiresAt + "  ").doesNotContain("EXPIRED").doesNotContain(secret)
                .containsPattern("last used 20\\d\\d-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$");
        String ci = forever.json().get("id").asText();
        assertThat(list.out().lines().filter(l -> l.startsWith(ci)).findFirst().orElseThrow())
                .contains("expires never").endsWith("last used not since the server started");
        assertThat(flags("tokens", "show", id, at, admin).json().get("lastUsedAt").asText()).startsWith("20");

        Run both = flags("tokens", "create", "bob", at, admin, "--scope", "admin", "--expires-in", "P1D", "--expires-at",
                "2030-01-01T00:00:00Z");
        assertThat(both.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(both.err()).isEqualTo("flags: give --expires-in or --expires-at, not both\nTry 'flags tokens create --help'.\n");
        Run bad = flags("tokens", "create", "bob", at, admin, "--scope", "admin", "--expires-in", "90 days");
        assertThat(bad.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(bad.err()).startsWith("flags: --expires-in must be a duration such as 90m, 8h, 30d, 2w or 1y");
        Run negative = flags("tokens", "create", "bob", at, admin, "--scope", "admin", "--expires-in", "-P1D");
        assertThat(negative.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(negative.err()).startsWith("flags: --expires-in must be a positive duration");
        Run past = flags("tokens", "create", "bob", at, admin, "--scope", "admin", "--expires-at", "2020-01-01T00:00:00Z");
        assertThat(past.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(past.err()).startsWith("flags: --expires-at must be in the future");

        Run noUser = flags("tokens", "create", "tess", at, admin, "--scope", "tester", "-e", "production");
        assertThat(noUser.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(noUser.err()).startsWith("flags: a tester token is for one user, the one whose roles it may grant and revoke:"
                + " give --user-id\n");
        Run emptyUser = flags("tokens", "create", "tess", at, admin, "--scope", "tester", "-e", "production", "--user-id", " ");
        assertThat(emptyUser.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(emptyUser.err()).startsWith("flags: --user-id must not be empty or blank\n");
        // What no server takes is bad usage, exit 2, not the server's refusal (QA47a F7)
        Run editorForOne = flags("tokens", "create", "bob", at, admin, "--scope", "editor", "-e", "production", "--user-id", "bob");
        assertThat(editorForOne.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(editorForOne.err()).startsWith("flags: only a tester token is for one user: a token of scope editor takes no"
                + " --user-id\n");
        for (String tooLong : List.of("11y", "P10Y1D", "3660d", "PT90000H", "999999999y")) {
            Run longer = flags("tokens", "create", "bob", at, admin, "--scope", "admin", "--expires-in", tooLong);
            assertThat(longer.exit()).as(tooLong + ": " + longer.err()).isEqualTo(FlagsCommand.EXIT_USAGE);
            assertThat(longer.err()).startsWith("flags: --expires-in must be at most 10 years (such as 1y, 90d or P10Y); was '"
                    + tooLong + "'");
        }
        Run noEnv = flags("tokens", "create", "app", at, admin, "--scope", "sdk");
        assertThat(noEnv.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(noEnv.err()).startsWith("flags: an sdk token is for exactly one environment: give it with -e, once (was given"
                + " 0)\n");

        Run revoked = flags("tokens", "revoke", id, at, admin, "-m", "migration done");
        assertThat(revoked.exit()).as(revoked.err()).isZero();
        assertThat(revoked.json().get("revoked").asBoolean()).isTrue();
        assertThat(revoked.err()).isEqualTo("flags: token " + id + " (alice, editor) is revoked: its next request is refused;"
                + " this cannot be undone (make a new token)\n");
        assertThat(flags("tokens", "list", at, admin).out()).doesNotContain(id);
        assertThat(flags("tokens").exit()).as("no subcommand").isEqualTo(FlagsCommand.EXIT_USAGE);
    }

    @Test
    void productOwnerCommandsChangeTheFlagOnTheServer() throws Exception {
        Run list = remote("list");
        assertThat(list.out()).contains("billing-v2").contains("off");
        assertThat(list.err()).isEmpty();
        Run on = remote("on", "billing-v2", "-m", "dark launch done");
        assertThat(on.exit()).as(on.err()).isZero();
        assertThat(on.json().get("enabled").asBoolean()).isTrue();
        assertThat(remote("rollout", "billing-v2", "50", "--rule", "eu canary").json().at("/rules/1/conditions/1/percentage").asDouble())
                .isEqualTo(50);
        assertThat(remote("rollout", "billing-v2", "12.5%", "--rule", "eu canary").json().at("/rules/1/conditions/1/percentage").asDouble())
                .as("a percent sign is allowed").isEqualTo(12.5);
        Run tiny = remote("rollout", "billing-v2", "0.0001", "--rule", "eu canary");
        assertThat(tiny.err()).as("sent as typed, in plain digits, and refused for its decimals")
                .endsWith("must have at most three decimals (0.001% steps), was 0.0001\n");
        Run notANumber = remote("rollout", "billing-v2", "half", "--rule", "eu canary");
        assertThat(notANumber.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(notANumber.err()).isEqualTo("flags: PERCENT must be a number, such as 10, 2.5 or 50%, was 'half'\n"
                + "Try 'flags rollout --help'.\n");
        Run exponent = remote("rollout", "billing-v2", "1e1", "--rule", "eu canary");
        assertThat(exponent.exit()).as("not taken as 10").isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(exponent.err()).isEqualTo("flags: PERCENT must be a plain number, such as 10, 2.5 or 50% (no exponent),"
                + " was '1e1'\nTry 'flags rollout --help'.\n");

        Run noReason = remote("off", "billing-v2", "-m", "");
        assertThat(noReason.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(noReason.err()).isEqualTo("flags: the comment (-m) is empty: say why, or leave -m out\n"
                + "Try 'flags off --help'.\n");
        // Asking for what already is: said on stderr, no new version.
        Run again = remote("on", "billing-v2", "-m", "once more");
        assertThat(again.exit()).isZero();
        assertThat(again.err()).startsWith("flags: nothing changed (billing-v2 already was so): no new version, and the comment was"
                + " not recorded\nflags: billing-v2 in environment \"production\" is on (version ").endsWith(")\n");
        assertThat(again.json().get("enabled").asBoolean()).isTrue();
        assertThat(remote("add-role", "billing-v2", "staff", "--rule", "0").json().at("/rules/0/conditions/0/roles/1").asText())
                .isEqualTo("staff");
        assertThat(remote("add-region", "billing-v2", "eu-north", "--rule", "1").json().at("/rules/1/conditions/0/regions/1").asText())
                .isEqualTo("eu-north");
        // ... and out again: a misspelt role or region is undone without editing the document
        assertThat(remote("remove-role", "billing-v2", "staff", "--rule", "beta testers").json().at("/rules/0/conditions/0/roles")
                .toString()).isEqualTo("[\"beta-tester\"]");
        assertThat(remote("remove-region", "billing-v2", "eu-north", "--rule", "1").json().at("/rules/1/conditions/0/regions")
                .toString()).isEqualTo("[\"eu-west\"]");
        Run last = remote("remove-role", "billing-v2", "beta-tester", "--rule", "0");
        assertThat(last.exit()).as("its last role: the rule would match everyone").isEqualTo(FlagsCommand.EXIT_FAILED);
        // One user at a time, without editing the document: in, moved to another answer, out.
        assertThat(remote("target", "billing-v2", "u-ceo").json().get("targets").toString())
                .isEqualTo("[{\"userIds\":[\"u-ceo\"],\"serve\":true}]");
        assertThat(remote("target", "billing-v2", "u-ceo", "--serve", "false").json().get("targets").toString())
                .isEqualTo("[{\"userIds\":[\"u-ceo\"],\"serve\":false}]");
        assertThat(remote("untarget", "billing-v2", "u-ceo").json().get("targets")).isNull();
        Run notTargeted = remote("untarget", "billing-v2", "u-ceo");
        assertThat(notTargeted.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(notTargeted.err()).contains("does not target user \"u-ceo\"; it targets nobody");
        Run badServe = remote("target", "billing-v2", "u-ceo", "--serve", "yes");
        assertThat(badServe.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(badServe.err()).isEqualTo("flags: --serve must be true or false, was 'yes'\nTry 'flags target --help'.\n");
        Run variantServedFalse = remote("target", "billing-v2", "u-ceo", "--serve", "false", "--variant", "green");
        assertThat(variantServedFalse.exit()).as("a mistake in the command line").isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(variantServedFalse.err()).isEqualTo("flags: --variant is what a user served true gets; with --serve false the"
                + " user gets false and no variant: leave one of them out\nTry 'flags target --help'.\n");
        Run noSuchVariant = remote("target", "billing-v2", "u-ceo", "--variant", "green");
        assertThat(noSuchVariant.exit()).as("billing-v2 has no variants").isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(remote("default", "billing-v2", "true").json().get("default").asBoolean()).isTrue();
        assertThat(remote("default", "billing-v2", "false").json().get("default").asBoolean()).isFalse();
        Run notABoolean = remote("default", "billing-v2", "yes");
        assertThat(notABoolean.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(notABoolean.err()).isEqualTo("flags: the default must be true or false, was 'yes'\n"
                + "Try 'flags default --help'.\n");
        assertThat(remote("off", "billing-v2", "-m", "incident 42").json().get("enabled").asBoolean()).isFalse();
        Run history = remote("history", "billing-v2");
        assertThat(history.out()).contains("dark launch done").contains("incident 42").contains("flag_updated");
        assertThat(history.out().lines().filter(l -> l.contains("(on)") || l.contains("(off)")))
                .as("a thrown switch shows on its line, comment or not").hasSize(2)
                .satisfiesExactly(switchedOn -> assertThat(switchedOn).contains(" flag_updated (on) ").endsWith("dark launch done"),
                        switchedOff -> assertThat(switchedOff).contains(" flag_updated (off) ").endsWith("incident 42"));
        assertThat(history.out().lines()).as("times to the second, as every other command shows them")
                .allMatch(l -> l.matches("v\\d+ +\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ  .*"));
        long first = Long.parseLong(history.out().lines().findFirst().orElseThrow().substring(1, 7).trim());
        assertThat(remote("revert", "billing-v2", "v" + first).json().get("enabled").asBoolean())
                .as("the version as history prints it").isFalse();
        assertThat(remote("revert", "billing-v2", "v" + first).err()).as("the flag named, as for on and off (QA63 F6)")
                .startsWith("flags: nothing changed (billing-v2 already was so): no new version");
        Run badVersion = remote("revert", "billing-v2", "latest");
        assertThat(badVersion.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(badVersion.err()).contains("VERSION must be a version number from the flag's history, such as 4 or v4");
        assertThat(remote("show", "billing-v2").json().get("key").asText()).isEqualTo("billing-v2");
        assertThat(remote("list", "--archived").err()).isEqualTo("flags: environment \"production\" has no archived flags\n");
        assertThat(remote("archive", "billing-v2", "-m", "clean-up").json().get("archived").asBoolean()).isTrue();
        Run archived = remote("list", "--archived");
        assertThat(archived.out()).as("where a revert finds it").startsWith("billing-v2  archived, was off  v");
        assertThat(remote("show", "billing-v2").err()).contains("archived");
        assertThat(remote("on", "billing-v2").err()).contains("is archived").contains("a revert to a version in its history restores it");
        Run restored = remote("revert", "billing-v2");
        assertThat(restored.exit()).as("an archived flag is restored by name: its last version").isZero();
        assertThat(restored.json().get("key").asText()).isEqualTo("billing-v2");
        assertThat(restored.err()).as("where it went").startsWith("flags: billing-v2 in environment \"production\" is ");
        assertThat(remote("archive", "billing-v2").exit()).isZero();
        Run noFlag = remote("revert", "never-was");
        assertThat(noFlag.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(noFlag.err()).isEqualTo("flags: no flag \"never-was\" in environment \"production\", archived or not (flags"
                + " list shows its flags)\n");
        assertThat(remote("create", "served").exit()).isZero();
        Run noVersion = remote("revert", "served");
        assertThat(noVersion.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(noVersion.err()).isEqualTo("flags: VERSION is needed: flag \"served\" is not archived in environment"
                + " \"production\" (flags history served lists its versions)\nTry 'flags revert --help'.\n");
        assertThat(remote("archive", "served").exit()).isZero();
        Run empty = remote("list");
        assertThat(empty.exit()).isZero();
        assertThat(empty.out()).as("nothing for a script to read").isEmpty();
        assertThat(empty.err()).isEqualTo("flags: environment \"production\" has no flags\n");
        Run anew = remote("create", "billing-v2");
        assertThat(anew.exit()).as(anew.err()).isZero();
        assertThat(anew.err()).as("the key was an archived flag's").isEqualTo("flags: flag \"billing-v2\" was archived: this write"
                + " brought its key back with the document sent, and its history goes on from there (a revert to one of its"
                + " versions brings back an old document instead)\nflags: billing-v2 in environment \"production\" is off (version "
                + anew.json().get("version").asLong() + ")\n");
        assertThat(remote("create", "checkout-v9").err()).as("a key never used: where it went only")
                .startsWith("flags: checkout-v9 in environment \"production\" is off (version ");

        Run stillServed = remote("delete", "checkout-v9");
        assertThat(stillServed.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(stillServed.err()).contains("is not archived: it is served; archive it first (flags archive), then delete it");
        Run deleted = remote("delete", "served", "-m", "make room");
        assertThat(deleted.exit()).as(deleted.err()).isZero();
        assertThat(deleted.json().get("deleted").asBoolean()).isTrue();
        assertThat(deleted.err()).isEqualTo("flags: served in environment \"production\" is deleted; flags history served"
                + " lists its versions, which flags revert brings back\n");
        assertThat(remote("list", "--archived").err()).as("its last document is gone").contains("has no archived flags");
        Run revertDeleted = remote("revert", "served");
        assertThat(revertDeleted.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(revertDeleted.err()).isEqualTo("flags: flag \"served\" in environment \"production\" was deleted: flags"
                + " history served lists its versions, and flags revert served VERSION brings one back\n");
        assertThat(remote("show", "served").err()).as("the server says so too").contains("was deleted; its history remains");
    }

    @Test
    void aUserIsTargetedOrUntargetedOnScheduleAsFlagsTargetWouldDoIt() throws Exception {
        String at = Instant.now().plus(Duration.ofDays(1)).truncatedTo(ChronoUnit.SECONDS).toString();
        Run target = remote("schedule", "billing-v2", "target", "u-ceo", "--serve", "true", "--at", at, "-m", "launch preview");
        assertThat(target.exit()).as(target.err()).isZero();
        assertThat(target.json().get("patch").toString()).as("the body 'flags target' sends")
                .isEqualTo("{\"addTarget\":{\"serve\":true,\"user\":\"u-ceo\"}}");
        assertThat(remote("target", "billing-v2", "u-qa").exit()).isZero();
        Run untarget = remote("schedule", "billing-v2", "untarget", "u-qa", "--at", at);
        assertThat(untarget.exit()).as(untarget.err()).isZero();
        assertThat(untarget.json().get("patch").toString()).isEqualTo("{\"removeTarget\":{\"user\":\"u-qa\"}}");
        Run notTargeted = remote("schedule", "billing-v2", "untarget", "u-nobody", "--at", at);
        assertThat(notTargeted.exit()).as("a change that could not apply now is refused when it is made")
                .isEqualTo(FlagsCommand.EXIT_FAILED);

        Run noUser = remote("schedule", "billing-v2", "target", "--at", at);
        assertThat(noUser.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(noUser.err()).startsWith("flags: target takes a USER-ID and no --rule, as 'flags target' does");
        assertThat(remote("schedule", "billing-v2", "target", "u-1", "--rule", "0", "--at", at).exit())
                .isEqualTo(FlagsCommand.EXIT_USAGE);
        Run serveOn = remote("schedule", "billing-v2", "on", "--serve", "false", "--at", at);
        assertThat(serveOn.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(serveOn.err()).startsWith("flags: --serve and --variant are for target only");
        Run variantServedFalse = remote("schedule", "billing-v2", "target", "u-1", "--serve", "false", "--variant", "x", "--at", at);
        assertThat(variantServedFalse.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(variantServedFalse.err()).startsWith("flags: --variant is what a user served true gets")
                .endsWith("\nTry 'flags schedule --help'.\n");
        Run unknown = remote("schedule", "billing-v2", "retarget", "u-1", "--at", at);
        assertThat(unknown.err()).startsWith("flags: CHANGE must be on, off, rollout, add-role, add-region, target or untarget,"
                + " was 'retarget'");
        assertThat(remote("schedules", "billing-v2").out().lines()).hasSize(2);
    }

    @Test
    void aChangeIsScheduledAsItsOwnCommandWouldMakeItListedAndCancelled() throws Exception {
        String at = Instant.now().plus(Duration.ofDays(1)).truncatedTo(ChronoUnit.SECONDS).toString();
        String later = Instant.now().plus(Duration.ofDays(2)).truncatedTo(ChronoUnit.SECONDS).toString();
        Run ramp = remote("schedule", "billing-v2", "rollout", "50%", "--rule", "eu canary", "--at", at, "-m", "ramp tomorrow");
        assertThat(ramp.exit()).as(ramp.err()).isZero();
        JsonNode made = ramp.json();
        assertThat(made.get("status").asText()).isEqualTo("pending");
        assertThat(made.get("at").asText()).isEqualTo(at);
        assertThat(made.get("comment").asText()).isEqualTo("ramp tomorrow");
        assertThat(made.get("patch").toString()).as("the body 'flags rollout' sends")
                .isEqualTo("{\"percentage\":{\"rule\":\"eu canary\",\"value\":50}}"); // a whole number as one, not 50.0
        Run off = remote("schedule", "billing-v2", "off", "--at", later);
        assertThat(off.json().get("patch").toString()).isEqualTo("{\"enabled\":false}");
        assertThat(remote("schedule", "billing-v2", "add-role", "staff", "--rule", "0", "--at", later).json().get("patch").toString())
                .as("rule 0 kept by its name, so a reorder cannot point it at another rule")
                .isEqualTo("{\"addRole\":{\"role\":\"staff\",\"rule\":\"beta testers\"}}"); // canonical JSON, keys sorted
        assertThat(remote("show", "billing-v2").json().at("/rules/1/conditions/1/percentage").asInt())
                .as("nothing changes before its time").isEqualTo(10);

        Run list = remote("schedules", "billing-v2");
        assertThat(list.exit()).isZero();
        List<String> lines = list.out().lines().toList();
        assertThat(lines).hasSize(3);
        assertThat(lines.get(0)).startsWith(made.get("id").asText()).contains(at).contains("billing-v2")
                .contains("{\"percentage\":{\"rule\":\"eu canary\",\"value\":50}}").contains("by admin (admin)")
                .endsWith("ramp tomorrow");
        assertThat(remote("create", "other").exit()).isZero();
        assertThat(remote("schedules", "other").err()).isEqualTo("flags: no scheduled changes of flag \"other\" in environment"
                + " \"production\"\n");
        Run misspelt = remote("schedules", "billing-2");
        assertThat(misspelt.exit()).as("not an all-clear").isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(misspelt.err()).isEqualTo("flags: no flag \"billing-2\" in environment \"production\", archived or not;"
                + " did you mean \"billing-v2\"?\n");
        assertThat(remote("schedules", "nothing-like-it").err()).isEqualTo("flags: no flag \"nothing-like-it\" in environment"
                + " \"production\", archived or not (flags list shows its flags)\n");

        Run cancelled = remote("unschedule", made.get("id").asText(), "-m", "not yet");
        assertThat(cancelled.exit()).as(cancelled.err()).isZero();
        assertThat(cancelled.json().get("status").asText()).isEqualTo("cancelled");
        assertThat(remote("schedules").out().lines()).hasSize(2);
        Run ended = remote("schedules", "--status", "ended");
        assertThat(ended.out().lines()).singleElement().asString().startsWith(made.get("id").asText())
                .matches(".*ramp tomorrow  -> cancelled at 20\\d\\d-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ by admin \\(admin\\): not yet");
        Run empty = remote("schedules", "");
        assertThat(empty.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(empty.err()).startsWith("flags: FLAG must not be empty");
        assertThat(remote("schedules", "--status", "all").out().lines()).hasSize(3);
        assertThat(remote("schedules", "other", "--status", "failed").err()).isEqualTo("flags: no scheduled changes (failed)"
                + " of flag \"other\" in environment \"production\" among the 100 that ended last, which the server keeps (flags"
                + " audit has every one)\n");
        Run bogus = remote("schedules", "--status", "done");
        assertThat(bogus.exit()).as("bad usage, caught before a request").isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(bogus.err()).isEqualTo("flags: --status must be pending, applied, failed, cancelled, ended, all, was 'done'\n"
                + "Try 'flags schedules --help'.\n");
        Run again = remote("unschedule", made.get("id").asText());
        assertThat(again.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(again.err()).startsWith("flags: ").contains("already ended: it was cancelled");

        // Bad usage is exit 2 before anything is sent; a change the flag cannot take is the server's no (exit 1), now.
        Run noRule = remote("schedule", "billing-v2", "rollout", "50", "--at", at);
        assertThat(noRule.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(noRule.err()).isEqualTo("flags: rollout takes a value and --rule, as 'flags rollout' does\n"
                + "Try 'flags schedule --help'.\n");
        Run unknown = remote("schedule", "billing-v2", "toggle", "--at", at);
        assertThat(unknown.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(unknown.err()).startsWith("flags: CHANGE must be on, off, rollout, add-role, add-region, target or untarget, was 'toggle'");
        assertThat(remote("schedule", "billing-v2", "on", "--rule", "0", "--at", at).exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(remote("schedule", "billing-v2", "on").err()).contains("Missing required option: '--at=INSTANT'");
        for (String notAnInstant : new String[] {"tomorrow", "2026-12-07T09:00:00"}) {
            Run bad = remote("schedule", "billing-v2", "on", "--at", notAnInstant);
            assertThat(bad.exit()).as(notAnInstant).isEqualTo(FlagsCommand.EXIT_USAGE);
            assertThat(bad.err()).isEqualTo("flags: --at must be an ISO-8601 instant with its offset, such as 2027-01-31T09:00:00Z or"
                    + " 2027-01-31T09:00:00+01:00, was '" + notAnInstant + "'\nTry 'flags schedule --help'.\n");
        }
        Run noSuchRule = remote("schedule", "billing-v2", "rollout", "50", "--rule", "us canary", "--at", at);
        assertThat(noSuchRule.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(noSuchRule.err()).contains("has no rule named \"us canary\"; its rules, by index: 0 ");

        // A write that leaves a pending schedule unable to apply (the add-role one names "beta testers") says so at once.
        Path renamed = dir.resolve("renamed.json");
        Files.writeString(renamed, remote("show", "billing-v2").out().replace("\"beta testers\"", "\"testers\""));
        Run put = remote("put", "billing-v2", renamed.toString());
        assertThat(put.exit()).as(put.err()).isZero();
        assertThat(put.err()).matches("flags: pending schedules no longer apply to the flag as it will be at their time, and will"
                + " fail then: sch-[0-9a-f]{12} \\(flags schedules shows them; flags unschedule ID, then schedule the change again\\)\n"
                + "flags: billing-v2 in environment \"production\" is (on|off) \\(version \\d+\\)\n");
        // A schedule whose maker's token was revoked is listed as one that will fail, before its time.
        String leaver = flags("tokens", "create", "leaver", "--scope", "editor", "-e", "production",
                "--server=http://127.0.0.1:" + server.httpPort(), "--token=" + ADMIN).json().get("token").asText();
        Run leaversSchedule = flags("schedule", "billing-v2", "off", "--at", later, "--server=http://127.0.0.1:" + server.httpPort(),
                "--token=" + leaver, "--env=production");
        String doomed = leaversSchedule.json().get("id").asText();
        Run revokedLeaver = flags("tokens", "revoke", leaversSchedule.json().get("createdBy").asText()
                .replaceAll(".*\\((tok-[0-9a-f]+)\\)$", "$1"), "--server=http://127.0.0.1:" + server.httpPort(), "--token=" + ADMIN);
        assertThat(revokedLeaver.err()).startsWith("flags: pending schedules made with this token will fail at their time")
                .contains("production/" + doomed + " (flag billing-v2 at " + later + ")");
        assertThat(remote("schedules", "billing-v2").out().lines().filter(l -> l.startsWith(doomed)))
                .singleElement().asString().endsWith("(will fail: the token that made it (" + revokedLeaver.json().get("id").asText()
                        + ") was revoked: a scheduled change runs only while its maker's token may act)");
        assertThat(remote("unschedule", doomed).exit()).isZero();
        // The kill switch does not cancel what is planned: it names the schedules that would switch the flag on again.
        String relaunch = remote("schedule", "billing-v2", "on", "--at", later, "-m", "relaunch").json().get("id").asText();
        assertThat(remote("on", "billing-v2").exit()).isZero();
        Run kill = remote("off", "billing-v2", "-m", "incident");
        assertThat(kill.exit()).as(kill.err()).isZero();
        String switchOn = "flags: the flag is off, but pending schedules will switch it on again at their time: " + relaunch
                + " at " + later + " (flags unschedule ID keeps it off; flags schedules shows them)\n";
        assertThat(kill.err()).as("only the one that switches it on, not the scheduled switch-off; then where it went")
                .startsWith(switchOn + "flags: billing-v2 in environment \"production\" is off (version ");
        assertThat(remote("off", "billing-v2").err()).as("already off: a second responder is told too")
                .startsWith("flags: nothing changed (billing-v2 already was so): no new version\n" + switchOn);
        assertThat(remote("unschedule", relaunch).exit()).isZero();
        assertThat(remote("on", "billing-v2").exit()).isZero();
        assertThat(remote("off", "billing-v2").err()).as("nothing left to undo it")
                .startsWith("flags: billing-v2 in environment \"production\" is off (version ").doesNotContain("pending");
        Run hugeIndex = remote("rollout", "billing-v2", "20", "--rule", "4294967296");
        assertThat(hugeIndex.exit()).as("the server's answer, not a crash of the command").isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(hugeIndex.err()).contains("has no rule 4294967296; its rules, by index: 0 ").doesNotContain("Exception");
        Run past = remote("schedule", "billing-v2", "on", "--at", "2020-01-01T00:00:00Z");
        assertThat(past.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(past.err()).as("in the option's name").startsWith("flags: --at must be in the future");
        assertThat(flags("schedule", "--help").out()).contains("-m, --comment").contains("--at=INSTANT");
        assertThat(flags("schedules", "--help").out()).doesNotContain("--comment");
    }

    @Test
    void aProductOwnerCreatesAFlagAndWritesItsDocumentFromAFile() throws Exception {
        Run created = remote("create", "checkout-v3", "-m", "ship dark");
        assertThat(created.exit()).as(created.err()).isZero();
        assertThat(created.json().get("enabled").asBoolean()).isFalse();
        Run twice = remote("create", "checkout-v3");
        assertThat(twice.exit()).as("create never overwrites").isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(twice.err()).isEqualTo("flags: flag \"checkout-v3\" already exists in environment \"production\"; flags put"
                + " replaces a flag's document\n");

        // Show, edit, put back: the version in the file guards against a change made meanwhile.
        Path file = dir.resolve("checkout-v3.json");
        Files.writeString(file, remote("show", "checkout-v3").out().replace("\"enabled\" : false", "\"enabled\" : true"));
        assertThat(Files.readString(file)).contains("\"enabled\" : true").contains("\"version\"");
        Path stale = dir.resolve("stale.json");
        Files.copy(file, stale);
        Run put = remote("put", "checkout-v3", file.toString(), "-m", "on");
        assertThat(put.exit()).as(put.err()).isZero();
        assertThat(put.json().get("enabled").asBoolean()).isTrue();
        Run lost = remote("put", "checkout-v3", stale.toString());
        assertThat(lost.exit()).as("the copy was of an older version").isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(lost.err()).contains("someone else changed it; read it again").contains("as the file's \"version\" says")
                .doesNotContain("If-Match").endsWith("(or take \"version\" out of " + stale + " to replace the flag whatever it is now)\n");
        Path copy = Files.writeString(dir.resolve("copy.json"), Files.readString(stale).replace("checkout-v3", "checkout-v4"));
        Run notThere = remote("put", "checkout-v4", copy.toString());
        assertThat(notThere.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(notThere.err()).startsWith("flags: flag \"checkout-v4\" is not in environment \"production\" (or is archived),"
                + " but " + copy + " has \"version\": ").endsWith(", as a copy of a flag that is: nothing was written; take"
                + " \"version\" out of " + copy + " to create the flag (or restore it)\n");
        Run otherKey = remote("put", "checkout-v5", stale.toString());
        assertThat(otherKey.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(otherKey.err()).isEqualTo("flags: " + stale + " is the document of flag \"checkout-v3\", not \"checkout-v5\":"
                + " nothing was written; to make \"checkout-v5\" from a copy of it, change its \"key\" to \"checkout-v5\" (or take"
                + " \"key\" out) and take \"version\" out\n");
        Path keyless = Files.writeString(dir.resolve("keyless.json"), "{\"enabled\": true, \"description\": \"a copy\"}");
        Run copied = remote("put", "checkout-v5", keyless.toString());
        assertThat(copied.exit()).as(copied.err()).isZero();
        assertThat(copied.json().get("key").asText()).isEqualTo("checkout-v5");
        // Read no further than a flag's document may go: /dev/zero never ends, a named pipe would block.
        Path device = Files.createSymbolicLink(dir.resolve("zero-doc.json"), Path.of("/dev/zero"));
        Run notAFile = remote("put", "checkout-v3", device.toString());
        assertThat(notAFile.exit()).as("bad usage, as a directory is").isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(notAFile.err()).startsWith("flags: " + device + " is not a regular file (a character device); give a"
                + " flag's JSON document\n");
        Path huge = Files.write(dir.resolve("huge.json"), new byte[FlagFormat.MAX_FILE_BYTES + 1]);
        assertThat(remote("put", "checkout-v3", huge.toString()).err()).isEqualTo("flags: cannot read " + huge
                + ": is too large: " + (FlagFormat.MAX_FILE_BYTES + 1) + " bytes, the limit is " + FlagFormat.MAX_FILE_BYTES + "\n");
        java.io.InputStream stdin = System.in;
        try {
            System.setIn(new java.io.ByteArrayInputStream(new byte[FlagFormat.MAX_FILE_BYTES + 1]));
            assertThat(remote("put", "checkout-v3", "-").err()).as("standard input is bounded too")
                    .isEqualTo("flags: standard input is too large: more than " + FlagFormat.MAX_FILE_BYTES + " bytes\n");
            System.setIn(new java.io.ByteArrayInputStream(new byte[] {(byte) 0xC3, (byte) 0x28}));
            assertThat(remote("put", "checkout-v3", "-").err()).isEqualTo("flags: standard input is not UTF-8 text\n");
        } finally {
            System.setIn(stdin);
        }
        // Indented as `flags show` prints it, a document may pass 1 MiB and still fit once sent compact.
        com.fasterxml.jackson.databind.node.ObjectNode unversioned =
                (com.fasterxml.jackson.databind.node.ObjectNode) new com.fasterxml.jackson.databind.ObjectMapper().readTree(file.toFile());
        unversioned.remove("version");
        String indented = unversioned.toPrettyString().replace("\n", "\n" + " ".repeat(400_000));
        assertThat(indented.length()).isGreaterThan(FlagFormat.MAX_FLAG_BYTES);
        Path wide = Files.writeString(dir.resolve("wide.json"), indented);
        Run fits = remote("put", "checkout-v3", wide.toString());
        assertThat(fits.exit()).as(fits.err()).isZero();

        Path invalid = Files.writeString(dir.resolve("invalid.json"), "{\"key\": \"checkout-v3\", \"enabled\": \"yes\"}");
        Run refused = remote("put", "checkout-v3", invalid.toString());
        assertThat(refused.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(refused.err()).contains("enabled");
        Path twoDocuments = Files.writeString(dir.resolve("merged.json"), "{\"key\": \"checkout-v3\", \"enabled\": false} {}");
        Run merged = remote("put", "checkout-v3", twoDocuments.toString());
        assertThat(merged.exit()).as("a second document is refused, not dropped").isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(merged.err()).contains("is not valid JSON");
        // A kill added above the old value: the last one must not win (the server and flags validate refuse it too).
        Path duplicate = Files.writeString(dir.resolve("duplicate.json"),
                "{\"key\": \"checkout-v3\",\n  \"enabled\": false,\n  \"enabled\": true}");
        Run dup = remote("put", "checkout-v3", duplicate.toString());
        assertThat(dup.exit()).as("a field given twice is refused, not the last one taken").isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(dup.err()).isEqualTo("flags: " + duplicate + " is not valid JSON (line 3, column 14): Duplicate field"
                + " 'enabled'\n");
        Path withBom = Files.writeString(dir.resolve("bom.json"), "\uFEFF{\"key\": \"checkout-v3\", \"enabled\": true, \"description\": \"bom\"}");
        assertThat(remote("put", "checkout-v3", withBom.toString()).json().get("description").asText())
                .as("a byte-order mark some editors write").isEqualTo("bom");
        // Nested deeper than a server takes: said here, located, at the server's depth (QA62 F6: 1000, and no place).
        Path deep = Files.writeString(dir.resolve("deep.json"), "{\"key\": \"checkout-v3\",\n \"x\": " + "[".repeat(40)
                + "]".repeat(40) + "}");
        assertThat(remote("put", "checkout-v3", deep.toString()).err()).isEqualTo("flags: " + deep + " is not valid JSON (line 2,"
                + " column 38): Document nesting depth (33) exceeds the maximum allowed (32)\n");
        Path notJson = Files.writeString(dir.resolve("notes.json"), "enabled: yes");
        assertThat(remote("put", "checkout-v3", notJson.toString()).err()).startsWith("flags: " + notJson + " is not valid JSON");
        assertThat(remote("put", "checkout-v3", dir.resolve("missing.json").toString()).exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(remote("show", "checkout-v3").json().get("enabled").asBoolean()).as("nothing of the refused writes").isTrue();
    }

    /** The file an edit the server refused was kept in, as the message names it. */
    private static Path keptIn(Run r) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("your edit is kept(?: in (\\S+): flags edit billing-v2 again"
                + "|: flags put billing-v2 (\\S+) writes it once it is mended\n)").matcher(r.err());
        assertThat(m.find()).as(r.err()).isTrue();
        return Path.of(m.group(1) != null ? m.group(1) : m.group(2));
    }

    @Test
    void aFlagIsEditedInAnEditorAndWrittenOnlyIfNobodyChangedItMeanwhile() throws Exception {
        // The editor is a real process, run through the shell as a user's is: sed stands in for the person at it.
        Run edited = remote("edit", "billing-v2", "--editor", "sed -i -e 's/\"enabled\" *: *false/\"enabled\" : true/'",
                "-m", "on, from the editor");
        assertThat(edited.exit()).as(edited.err()).isZero();
        assertThat(edited.json().get("enabled").asBoolean()).isTrue();
        assertThat(edited.err()).matches("flags: billing-v2 in environment \"production\" is on \\(version \\d+\\)\n");
        assertThat(remote("history", "billing-v2").out()).contains("on, from the editor");
        long version = remote("show", "billing-v2").json().get("version").asLong();

        Run unchanged = remote("edit", "billing-v2", "--editor", "true");
        assertThat(unchanged.exit()).as(unchanged.err()).isZero();
        assertThat(unchanged.err()).isEqualTo("flags: the document is as it was: nothing was written\n");
        Run quit = remote("edit", "billing-v2", "--editor", "sed -i -e 's/true/false/' \"$1\"; exit 3;");
        assertThat(quit.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(quit.err()).startsWith("flags: the editor (sed -i -e 's/true/false/' \"$1\"; exit 3;) exited with 3: nothing"
                + " was written; the document is in ");
        assertThat(remote("show", "billing-v2").json().get("version").asLong()).as("nothing written").isEqualTo(version);

        // Not JSON any more: refused, and kept, so that the work is not lost; mended, flags put writes it.
        Run broken = remote("edit", "billing-v2", "--editor", "sed -i -e 's/\"eu canary\"/\"eu canary/'");
        assertThat(broken.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(broken.err()).contains(" is not valid JSON (line 11, column ");
        Path kept = keptIn(broken);
        Files.writeString(kept, Files.readString(kept).replace("\"eu canary", "\"eu pilot\"").replace("\"eu pilot\"\"", "\"eu pilot\""));
        Run mended = remote("put", "billing-v2", kept.toString());
        assertThat(mended.exit()).as(mended.err()).isZero();
        assertThat(mended.json().at("/rules/1/name").asText()).isEqualTo("eu pilot");

        // Someone changes the flag while the editor is open: the edit is refused, not written over their change. The
        // editor waits on a named pipe, which the test opens only once the editor is running, after the flag was read.
        Path go = dir.resolve("go");
        assertThat(new ProcessBuilder("mkfifo", go.toString()).start().waitFor()).isZero();
        // The editor also takes the "version" line out: the guard is the version the edit opened, not a line of the file.
        java.util.concurrent.CompletableFuture<Run> editing = java.util.concurrent.CompletableFuture.supplyAsync(() -> remote(
                "edit", "billing-v2", "--editor", "read line < '" + go + "'; sed -i -e 's/\"enabled\" *: *true/\"enabled\" : false/'"
                        + " -e 's/\"version\" *: *[0-9]*/\"salt\" : \"no-version-here\"/'"));
        try (var pipe = Files.newOutputStream(go)) { // returns once the editor has the pipe open
            assertThat(remote("rollout", "billing-v2", "20", "--rule", "eu pilot").exit()).isZero();
            pipe.write("changed\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
        Run overtaken = editing.get(60, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(overtaken.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(overtaken.err()).startsWith("flags: flag \"billing-v2\" changed while the editor was open (it was at version ")
                .contains("nothing was written; your edit is kept in ");
        assertThat(Files.readString(keptIn(overtaken))).as("the edit, kept").contains("\"enabled\" : false");
        JsonNode now = remote("show", "billing-v2").json();
        assertThat(now.get("enabled").asBoolean()).as("their change stands, the edit not written over it").isTrue();
        assertThat(now.at("/rules/1/conditions/1/percentage").asInt()).isEqualTo(20);
        if (keptIn(overtaken).getFileSystem().supportedFileAttributeViews().contains("posix")) {
            assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(keptIn(overtaken))))
                    .as("the kept edit is its owner's alone").isEqualTo("rw-------");
        }

        Run renamed = remote("edit", "billing-v2", "--editor", "sed -i -e 's/\"key\" *: *\"billing-v2\"/\"key\" : \"billing-v3\"/'");
        assertThat(renamed.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(renamed.err()).startsWith("flags: the document's \"key\" was changed to \"billing-v3\": an edit changes the"
                + " flag it opened, \"billing-v2\"; nothing was written; your edit is kept in ").doesNotContain("version");
        Run emptied = remote("edit", "billing-v2", "--editor", "truncate -s 0");
        assertThat(emptied.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(emptied.err()).isEqualTo("flags: the document was emptied, which abandons the edit: nothing was written\n");
        Run removed = remote("edit", "billing-v2", "--editor", "rm");
        assertThat(removed.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(removed.err()).isEqualTo("flags: the editor removed the document it was given: nothing was written\n");
        assertThat(remote("show", "billing-v2").json().get("version").asLong()).as("nothing written").isEqualTo(
                now.get("version").asLong());
    }

    @Test
    void aRefusedEditOpensAgainWithTheReasonOnTopUntilItIsMendedOrGivenUp() throws Exception {
        long version = remote("show", "billing-v2").json().get("version").asLong();
        // sed stands in for the person at the editor: the first round breaks the JSON; the second, given the edit back
        // with the reason on top, keeps a copy of what it was given and mends it. (The path the CLI appends is a comment.)
        Path seen = dir.resolve("seen.json");
        String mendsOnSecondRound = "if grep -q '^// flags edit: not written' \"$1\"; then cp \"$1\" '" + seen + "';"
                + " sed -i -e 's/\"eu canary,/\"eu pilot\",/' \"$1\"; else sed -i -e 's/\"eu canary\"/\"eu canary/' \"$1\"; fi #";
        Run mended = remote("edit", "billing-v2", "--reopen", "--editor", mendsOnSecondRound, "-m", "renamed, second try");
        assertThat(mended.exit()).as(mended.err()).isZero();
        assertThat(mended.json().at("/rules/1/name").asText()).isEqualTo("eu pilot");
        assertThat(remote("history", "billing-v2").out()).contains("renamed, second try");
        String given = Files.readString(seen);
        String notes = given.lines().filter(l -> l.startsWith("// ")).map(l -> l.substring(3))
                .collect(java.util.stream.Collectors.joining(" "));
        assertThat(given).startsWith("// flags edit: not written: ");
        assertThat(notes).contains("Mend the document below and save it to try again.");
        java.util.regex.Matcher line = java.util.regex.Pattern.compile(" is not valid JSON \\(line (\\d+), column ").matcher(notes);
        assertThat(line.find()).as(notes).isTrue();
        assertThat(given.lines().toList().get(Integer.parseInt(line.group(1)) - 1)).as("the line as the editor shows the file")
                .contains("\"eu canary,");
        assertThat(Edit.withoutNotes(given)).as("the edit as it was refused, under the notes").startsWith("{")
                .contains("\"eu canary,");
        assertThat(given.lines().filter(l -> l.startsWith("//"))).allSatisfy(l -> assertThat(l.length()).isLessThanOrEqualTo(100));

        // The server refuses the second edit (a field it does not know); saved again as it was refused, the edit is given
        // up, and kept without the notes, for flags put.
        Path refusedCopy = dir.resolve("refused.json");
        String givesUp = "if grep -q '^// flags edit: not written' \"$1\"; then cp \"$1\" '" + refusedCopy + "';"
                + " else sed -i -e 's/\"enabled\"/\"enabeld\"/' \"$1\"; fi #";
        long now = remote("show", "billing-v2").json().get("version").asLong();
        assertThat(now).isGreaterThan(version);
        Run givenUp = remote("edit", "billing-v2", "--reopen", "--editor", givesUp);
        assertThat(givenUp.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(givenUp.err()).contains("enabeld").contains("; the edit was saved as it was, not mended: nothing was"
                + " written; your edit is kept: flags put billing-v2 ");
        assertThat(Files.readString(refusedCopy)).startsWith("// flags edit: not written: ").contains("enabeld")
                .as("a problem a line, not an escaped line break").doesNotContain("\\n");
        Path kept = keptIn(givenUp);
        assertThat(Files.readString(kept)).startsWith("{").contains("\"enabeld\"").doesNotContain("//");
        assertThat(remote("show", "billing-v2").json().get("version").asLong()).as("nothing written").isEqualTo(now);

        // The editor fails at the second round (vim's :cq): the edit is kept without the notes, for flags put.
        Run failed = remote("edit", "billing-v2", "--reopen", "--editor", "if grep -q '^// flags edit' \"$1\"; then exit 3;"
                + " else sed -i -e 's/\"enabled\"/\"enabeld\"/' \"$1\"; fi #");
        assertThat(failed.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(failed.err()).contains("exited with 3: nothing was written; your edit is kept: flags put billing-v2 ");
        assertThat(Files.readString(keptIn(failed))).startsWith("{").doesNotContain("//").contains("\"enabeld\"");

        // Emptied at the second round: abandoned, as at the first.
        Run emptied = remote("edit", "billing-v2", "--reopen", "--editor", "if grep -q '^// flags edit' \"$1\"; then"
                + " : > \"$1\"; else sed -i -e 's/\"enabled\"/\"enabeld\"/' \"$1\"; fi #");
        assertThat(emptied.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(emptied.err()).isEqualTo("flags: the document was emptied, which abandons the edit: nothing was written\n");
        // A refusal that is not the document's (the flag changed meanwhile, a token that may not write) is not reopened:
        // the existing test of a flag changed while the editor was open runs without a terminal, as --no-reopen does.
        Run noReopen = remote("edit", "billing-v2", "--no-reopen", "--editor", "sed -i -e 's/\"enabled\"/\"enabeld\"/'");
        assertThat(noReopen.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(noReopen.err()).contains("enabeld").contains("; your edit is kept: flags put billing-v2 ");
        assertThat(Files.readString(keptIn(noReopen))).doesNotContain("//");
    }

    @Test
    void theAuditLogSaysWhoLetATesterInUntilWhenAndWhy() throws Exception {
        assertThat(remote("grant", "beta-tester", "tess", "--for", "8h", "-m", "testing billing v2").exit()).isZero();
        assertThat(remote("on", "billing-v2", "-m", "launch").exit()).isZero();
        assertThat(remote("revoke", "beta-tester", "tess", "-m", "done").exit()).isZero();

        Run audit = remote("audit");
        assertThat(audit.exit()).as(audit.err()).isZero();
        List<String> lines = audit.out().lines().toList();
        assertThat(lines).as("oldest first: the set-up, then these three").hasSizeGreaterThanOrEqualTo(3);
        assertThat(lines.get(lines.size() - 3)).matches("20\\d\\d-\\d\\d-\\d\\dT[0-9:.]+Z  role_granted +admin \\(admin\\)"
                + "  beta-tester to tess until 20\\d\\d-[0-9T:.-]+Z  testing billing v2");
        assertThat(lines.get(lines.size() - 2)).contains("flag_updated").contains("billing-v2 (v").endsWith("  launch");
        assertThat(lines.get(lines.size() - 1)).contains("role_revoked").endsWith("beta-tester from tess  done");

        assertThat(remote("audit", "--since", "1h", "--actor", "admin").out().lines()).hasSize(lines.size());
        assertThat(remote("audit", "--actor", "alice").err()).isEqualTo("flags: no changes by alice in environment"
                + " \"production\"\n");
        Run later = remote("audit", "--since", "2099-01-01T00:00:00Z");
        assertThat(later.out()).isEmpty();
        assertThat(later.err()).isEqualTo("flags: no changes in environment \"production\" in that time\n");
        List<String> everywhere = remote("audit", "--all-environments").out().lines().toList();
        assertThat(everywhere).as("with the environment's column").anySatisfy(l -> assertThat(l).contains("  production  role_granted "));
        assertThat(everywhere.stream().map(l -> l.indexOf(" admin (admin)")).filter(i -> i > 0).distinct())
                .as("the columns line up, tokens' changes (environment -) and long kinds of change included").hasSize(1);
        Run bad = remote("audit", "--since", "yesterday");
        assertThat(bad.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(bad.err()).as("an instant is taken too, and the message says so")
                .contains("or an instant with its offset such as 2026-12-05T10:40:00Z; was 'yesterday'");

        // A schedule names its flag, time and change; a revert, the version it went back to.
        String at = java.time.Instant.now().plus(java.time.Duration.ofDays(1)).truncatedTo(java.time.temporal.ChronoUnit.SECONDS)
                .toString();
        String id = remote("schedule", "billing-v2", "off", "--at", at, "-m", "night stop").json().get("id").asText();
        long first = Long.parseLong(remote("history", "billing-v2").out().lines().findFirst().orElseThrow().substring(1, 7).trim());
        assertThat(remote("revert", "billing-v2", "v" + first).exit()).isZero();
        List<String> after = remote("audit").out().lines().toList();
        assertThat(after.get(after.size() - 2)).contains("schedule_created")
                .contains(id + " (flag billing-v2 at " + at + ": {\"enabled\":false})  night stop");
        assertThat(after.get(after.size() - 1)).contains("flag_reverted").contains("billing-v2 (v")
                .contains(", back to v" + first + ")");
    }

    @Test
    void historyWithChangesSaysWhatEachVersionChanged() {
        remote("on", "billing-v2", "-m", "dark launch done");
        remote("rollout", "billing-v2", "50", "--rule", "eu canary", "-m", "half of the canary");
        remote("add-role", "billing-v2", "staff", "--rule", "beta testers");

        Run all = remote("history", "billing-v2", "--changes");
        assertThat(all.exit()).as(all.err()).isZero();
        List<String> lines = all.out().lines().toList();
        assertThat(lines).hasSize(7);
        assertThat(lines.get(0)).contains("flag_created");
        assertThat(lines.get(1)).contains("flag_updated").endsWith("dark launch done");
        assertThat(lines.get(2)).isEqualTo("         enabled: false -> true");
        assertThat(lines.get(3)).endsWith("half of the canary");
        assertThat(lines.get(4)).isEqualTo("         rules[\"eu canary\"].conditions[1].percentage: 10 -> 50");
        assertThat(lines.get(6)).isEqualTo("         rules[\"beta testers\"].conditions[0].roles: [\"beta-tester\"] -> [\"beta-tester\",\"staff\"]");

        Run newest = remote("history", "billing-v2", "--changes", "--last", "1");
        assertThat(newest.out().lines().toList()).as("the oldest version shown is compared with the one before it")
                .containsExactly(lines.get(5), lines.get(6));
        assertThat(remote("history", "billing-v2").out().lines()).as("without --changes: one line per version").hasSize(4);
        assertThat(remote("history", "billing-v2", "--last", "3").out().lines().findFirst().orElseThrow())
                .as("the oldest version shown is compared with the one before it for its marker too").contains("flag_updated (on)");

        // An archive has no document: a revert after it is compared with the last one before it.
        remote("archive", "billing-v2");
        String lastVersion = lines.get(5).substring(1, 7).trim();
        remote("revert", "billing-v2", "v2");
        List<String> revert = remote("history", "billing-v2", "--changes", "--last", "1").out().lines().toList();
        assertThat(revert.get(0)).contains("flag_reverted to v2").endsWith("revert to version 2");
        assertThat(revert.subList(1, revert.size())).as("what the revert undid, against v" + lastVersion)
                .contains("         enabled: true -> false", "         rules[\"eu canary\"].conditions[1].percentage: 50 -> 10");
    }

    @Test
    void grantTakesAnExpiryForAWhileOrUntilAnInstant() throws Exception {
        java.time.Instant before = java.time.Instant.now();
        Run forAWhile = remote("grant", "beta-tester", "tess", "--for", "8h");
        assertThat(forAWhile.exit()).as(forAWhile.err()).isZero();
        assertThat(java.time.Instant.parse(forAWhile.json().get("expiresAt").asText()))
                .isBetween(before.plusSeconds(8 * 3600).minusSeconds(1), java.time.Instant.now().plusSeconds(8 * 3600 + 1));
        Run until = remote("grant", "beta-tester", "tess", "--until", "2030-01-31T18:00:00Z");
        assertThat(until.json().get("expiresAt").asText()).isEqualTo("2030-01-31T18:00:00Z");
        assertThat(until.json().get("changed").asBoolean()).as("a new expiry is a change").isTrue();
        assertThat(until.err()).isEqualTo("flags: role \"beta-tester\" granted to \"tess\" in environment \"production\" until"
                + " 2030-01-31T18:00:00Z\n");
        assertThat(remote("grant", "beta-tester", "q\"x\\y").err()).as("where the id ends stays clear")
                .startsWith("flags: role \"beta-tester\" granted to \"q\\\"x\\\\y\" in environment");
        Run iso = remote("grant", "beta-tester", "tess", "--for", "P30D");
        assertThat(iso.exit()).as(iso.err()).isZero();
        assertThat(remote("grant", "beta-tester", "tess").json().get("expiresAt").isNull()).as("granted for good").isTrue();

        Run both = remote("grant", "beta-tester", "tess", "--for", "8h", "--until", "2030-01-31T18:00:00Z");
        assertThat(both.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(both.err()).isEqualTo("flags: give --for or --until, not both\nTry 'flags grant --help'.\n");
        Run noOffset = remote("grant", "beta-tester", "tess", "--until", "2030-01-31T18:00:00");
        assertThat(noOffset.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(noOffset.err()).startsWith("flags: --until must be an ISO-8601 instant with its offset");
        Run bad = remote("grant", "beta-tester", "tess", "--for", "1.5h");
        assertThat(bad.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(bad.err()).isEqualTo("flags: --for must be a duration such as 90m, 8h, 30d, 2w or 1y, or ISO-8601 such as"
                + " PT8H; was '1.5h'\nTry 'flags grant --help'.\n");
        Run negative = remote("grant", "beta-tester", "tess", "--for", "-PT1H");
        assertThat(negative.exit()).as("bad usage, as a value that is no duration").isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(negative.err()).startsWith("flags: --for must be a positive duration");
        Run zero = remote("grant", "beta-tester", "tess", "--for", "0s");
        assertThat(zero.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(zero.err()).as("what was typed").startsWith("flags: --for must be a positive duration, such as 90m, 8h, 30d,"
                + " 2w or 1y; was '0s'\n");
        Run tooLong = remote("grant", "beta-tester", "tess", "--for", "P20Y");
        assertThat(tooLong.exit()).as("the server's bound: its refusal").isEqualTo(FlagsCommand.EXIT_FAILED);
        Run past = remote("grant", "beta-tester", "tess", "--until", "2020-01-01T00:00:00Z");
        assertThat(past.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(past.err()).startsWith("flags: --until must be in the future, was 2020-01-01T00:00:00Z");
        assertThat(FlagsCommand.isoDuration("90m")).isEqualTo("PT90M");
        assertThat(FlagsCommand.isoDuration("8H")).isEqualTo("PT8H");
        assertThat(FlagsCommand.isoDuration("30d")).isEqualTo("P30D");
        assertThat(FlagsCommand.isoDuration("15s")).isEqualTo("PT15S");
        assertThat(FlagsCommand.isoDuration("2w")).isEqualTo("P2W");
        assertThat(FlagsCommand.isoDuration("1y")).isEqualTo("P1Y");
        assertThat(FlagsCommand.isoDuration("PT8H")).isEqualTo("PT8H");
        assertThat(FlagsCommand.isoDuration("eight hours")).isNull();
        assertThat(FlagsCommand.isoDuration("1M")).as("a minute or a month?").isNull();
        Run month = remote("grant", "beta-tester", "tess", "--for", "1M");
        assertThat(month.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(month.err()).startsWith("flags: --for '1M' could be minutes or months: write 1m for minutes, or P1M for months\n");
    }

    @Test
    void aDecimalWithMoreDigitsThanADoubleSurvivesPutExportAndApply() throws Exception {
        Path precise = Files.writeString(dir.resolve("precise.json"), """
                {"key": "precise", "enabled": true, "default": false, "rules": [{"conditions": [
                  {"attribute": "score", "operator": "numLt", "values": [1.00000000000000001]}], "serve": true}]}
                """);
        assertThat(remote("put", "precise", precise.toString()).exit()).isZero();
        Run export = remote("export", "--as-code");
        assertThat(export.exit()).as(export.err()).isZero();
        assertThat(export.out()).as("not rounded to 1 on the way").contains("1.00000000000000001");
        Path file = Files.writeString(dir.resolve("exported.json"), export.out());
        assertThat(remote("apply", file.toString()).out()).isEqualTo("2 flags unchanged\n");
        String user = "{\"id\": \"u-1\", \"attributes\": {\"score\": 1}}";
        assertThat(flags("eval", file.toString(), "precise", user).json().get("value").asBoolean()).isTrue();
        assertThat(remote("evaluate", user, "precise").json().at("/results/0/value").asBoolean()).isTrue();
    }

    @Test
    void anExportedEnvironmentAnswersOfflineAsTheServerDoes() throws Exception {
        remote("on", "billing-v2");
        remote("grant", "beta-tester", "tess");
        Run export = remote("export");
        assertThat(export.exit()).as(export.err()).isZero();
        assertThat(export.err()).isEmpty();
        Path file = dir.resolve("production.json");
        Files.writeString(file, export.out());
        for (String user : List.of("{\"id\": \"tess\"}", "{\"id\": \"bob\", \"region\": \"eu-west\"}", "{\"id\": \"bob\"}")) {
            JsonNode server = remote("evaluate", user, "billing-v2").json().at("/results/0");
            JsonNode offline = flags("eval", file.toString(), "billing-v2", user).json();
            assertThat(offline.get("value")).as(user).isEqualTo(server.get("value"));
            assertThat(offline.at("/reason/kind")).as(user).isEqualTo(server.at("/reason/kind"));
            assertThat(offline.get("flagVersion")).as("the server's flag version, kept").isEqualTo(server.get("flagVersion"));
        }
        assertThat(flags("eval", file.toString(), "billing-v2", "{\"id\": \"tess\"}").json().at("/reason/ruleName").asText())
                .as("the role grant came along").isEqualTo("beta testers");

        String tester = flags("tokens", "create", "tess", "--server=http://127.0.0.1:" + server.httpPort(), "--token=" + ADMIN,
                "--scope", "tester", "--user-id", "tess", "-e", "production").json().get("token").asText();
        Run asTester = flags("export", "--server=http://127.0.0.1:" + server.httpPort(), "--token=" + tester, "--env=production");
        assertThat(asTester.exit()).as(asTester.err()).isZero();
        assertThat(asTester.err()).isEqualTo("flags: this token sees only the role grants of \"tess\": the file holds those"
                + " only, and answers other users as if they had no grant on the server\n");

        assertThat(remote("grant", "beta-tester", "tom", "--for", "2h").exit()).isZero();
        Run ending = remote("export");
        assertThat(ending.exit()).as(ending.err()).isZero();
        assertThat(ending.json().at("/roleGrants/beta-tester")).extracting(JsonNode::asText).contains("tom");
        assertThat(ending.err()).isEqualTo("flags: 1 role grant ends at a time the file cannot hold (flags roles shows"
                + " when): an SDK reading the file grants it for good; export again, or edit the file, when one ends\n");

        // As it was: on, tess granted; then off, and tess's grant gone. The past is what answers.
        String then = Instant.now().toString();
        Instant clockAfter = Instant.now().plusMillis(5);
        while (Instant.now().isBefore(clockAfter)) {
            Thread.onSpinWait(); // the next change gets a later timestamp than "then" (the journal's are to the millisecond)
        }
        assertThat(remote("off", "billing-v2").exit()).isZero();
        assertThat(remote("revoke", "beta-tester", "tess").exit()).isZero();
        Run past = remote("export", "--at", then);
        assertThat(past.exit()).as(past.err()).isZero();
        assertThat(past.err()).startsWith("flags: environment \"production\" as it was at " + then + " (its version ")
                .endsWith(")\nflags: 1 role grant had an end then, which the file cannot hold: an SDK reading the file grants it"
                        + " for good\n");
        Path before = dir.resolve("before.json");
        Files.writeString(before, past.out());
        JsonNode tessThen = flags("eval", before.toString(), "billing-v2", "{\"id\": \"tess\"}").json();
        assertThat(tessThen.get("value").asBoolean()).as("on, and tess granted, then").isTrue();
        assertThat(tessThen.at("/reason/ruleName").asText()).isEqualTo("beta testers");
        assertThat(remote("export").json().at("/flags/0/enabled").asBoolean()).as("off now").isFalse();
        Run badAt = remote("export", "--at", "last friday");
        assertThat(badAt.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        Run future = remote("export", "--at", Instant.now().plusSeconds(3600).toString());
        assertThat(future.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(future.err()).contains("at must not be in the future");
    }

    @Test
    void anExportAtATimeToTheSecondTakesTheWholeSecondSoThatATimeFromHistoryIncludesItsVersion() {
        assertThat(FlagsCommand.throughItsSecond("2026-12-06T09:42:21Z")).isEqualTo("2026-12-06T09:42:21.999999999Z");
        assertThat(FlagsCommand.throughItsSecond("2026-12-06T10:42:21+01:00")).isEqualTo("2026-12-06T10:42:21.999999999+01:00");
        assertThat(FlagsCommand.throughItsSecond("2026-12-06T09:42:21.5Z")).as("a fraction is meant").isEqualTo(
                "2026-12-06T09:42:21.5Z");
        assertThat(FlagsCommand.throughItsSecond("2026-12-06T09:42:21.000Z")).as("zeros written are meant too")
                .isEqualTo("2026-12-06T09:42:21.000Z");
        String justNow = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString();
        assertThat(FlagsCommand.throughItsSecond(justNow)).as("its end could be in the server's future").isEqualTo(justNow);
    }

    @Test
    void testerCommandsGrantRolesAndThePlaygroundShowsTheEffect() throws Exception {
        remote("on", "billing-v2");
        assertThat(remote("evaluate", "{\"id\": \"tess\"}", "billing-v2").json().at("/results/0/value").asBoolean()).isFalse();
        assertThat(remote("grant", "beta-tester", "tess").json().get("changed").asBoolean()).isTrue();
        JsonNode result = remote("evaluate", "{\"id\": \"tess\"}", "billing-v2").json().at("/results/0");
        assertThat(result.get("value").asBoolean()).isTrue();
        assertThat(result.at("/reason/ruleName").asText()).isEqualTo("beta testers");
        Run why = remote("evaluate", "{\"id\": \"tess\", \"region\": \"us-east\"}", "billing-v2", "--explain");
        assertThat(why.exit()).as(why.err()).isZero();
        assertThat(why.out().lines()).containsExactly(
                "billing-v2 = true (RULE_MATCH, flag version " + result.get("flagVersion").asLong() + ")",
                "  - switch: the flag is on",
                "  - rule 0 \"beta testers\": decided: every condition holds: conditions[0]: roles [\"beta-tester\"]: the"
                        + " application gave the user [] and the role grants give it [\"beta-tester\"]; it serves true");
        Run whyNot = remote("evaluate", "{\"id\": \"bob\", \"region\": \"us-east\"}", "billing-v2", "--explain");
        assertThat(whyNot.out().lines()).containsExactly(
                "billing-v2 = false (DEFAULT, flag version " + result.get("flagVersion").asLong() + ")",
                "  - switch: the flag is on",
                "  - rule 0 \"beta testers\": not matched: conditions[0]: roles [\"beta-tester\"]: the application gave the"
                        + " user [] and the role grants give it []",
                "  - rule 1 \"eu canary\": not matched: conditions[0]: regions [\"eu-west\"]: the user's region is \"us-east\"",
                "  - default: decided: no target or rule matched: the flag's default, false");
        remote("grant", "beta-tester", "bob");
        String tester = flags("tokens", "create", "tess", "--server=http://127.0.0.1:" + server.httpPort(), "--token=" + ADMIN,
                "--scope", "tester", "--user-id", "tess", "-e", "production").json().get("token").asText();
        Run asTester = flags("evaluate", "{\"id\": \"bob\", \"region\": \"us-east\"}", "billing-v2", "--explain",
                "--server=http://127.0.0.1:" + server.httpPort(), "--token=" + tester, "--env=production");
        assertThat(asTester.out().lines().limit(3)).as("another user's grants are hidden: the answer is not stated as certain")
                .containsExactly("note: a tester token evaluates users other than its own (\"tess\") without their role grants"
                        + " on the server",
                        "billing-v2 = false (DEFAULT, flag version " + result.get("flagVersion").asLong() + ")",
                        "  ! may differ: rule 0 names roles, and this token does not see the user's role grants on the server,"
                        + " which could match it");
        remote("revoke", "beta-tester", "bob");
        Run misspelt = remote("grant", "beta-testr", "erik");
        assertThat(misspelt.exit()).as("done, as asked").isZero();
        assertThat(misspelt.err()).isEqualTo("flags: no flag in environment \"production\" names role \"beta-testr\", it is not"
                + " self-service, and nobody else holds it: the grant lets the user into nothing yet (a misspelt role?)\n"
                + "flags: role \"beta-testr\" granted to \"erik\" in environment \"production\"\n");
        assertThat(remote("grant", "staff", "erik", "-m", "x").err()).as("staff is named by no rule either").contains("names role \"staff\"");
        assertThat(remote("grant", "staff", "tess").err()).as("someone else holds it now: a role in use")
                .isEqualTo("flags: role \"staff\" granted to \"tess\" in environment \"production\"\n");
        Run again = remote("grant", "beta-tester", "tess");
        assertThat(again.json().get("changed").asBoolean()).isFalse();
        assertThat(again.err()).as("as for flags").isEqualTo("flags: nothing changed (it already was so): no new version\n");
        assertThat(remote("revoke", "beta-tester", "tess").json().get("member").asBoolean()).isFalse();
        assertThat(remote("revoke", "beta-tester", "tess").err()).startsWith("flags: nothing changed");

        Run noUser = remote("grant", "beta-tester", "");
        assertThat(noUser.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(noUser.err()).isEqualTo("flags: USER-ID must not be empty\nTry 'flags grant --help'.\n");
        Run emptyId = remote("evaluate", "{\"id\": \"\"}", "billing-v2");
        assertThat(emptyId.exit()).as("as flags eval says of the same user").isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(emptyId.err()).isEqualTo("flags: USER-JSON: id must not be empty\nTry 'flags evaluate --help'.\n");
        Run twoIds = remote("evaluate", "{\"id\": \"bob\", \"id\": \"tess\"}", "billing-v2");
        assertThat(twoIds.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(twoIds.err()).isEqualTo("flags: USER-JSON is not valid JSON (line 1, column 21): Duplicate field 'id'\n"
                + "Try 'flags evaluate --help'.\n");
        java.io.InputStream stdin = System.in;
        try {
            System.setIn(new java.io.ByteArrayInputStream("{\"id\": \"tess\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            assertThat(remote("evaluate", "-", "billing-v2").json().at("/results/0/value").asBoolean())
                    .as("the user from standard input").isFalse();
        } finally {
            System.setIn(stdin);
        }
        Run typo = remote("evaluate", "{\"id\": \"tess\"}", "biling-v2");
        assertThat(typo.exit()).as("a mistyped flag is not \"false for this user\"").isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(typo.err()).isEqualTo("flags: there is no flag \"biling-v2\" in environment \"production\"; did you mean"
                + " \"billing-v2\"?\n");
        Run kill = remote("off", "biling-v2");
        assertThat(kill.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(kill.err()).as("not 'create it first', in an incident").isEqualTo("flags: there is no flag \"biling-v2\" in"
                + " environment \"production\"; did you mean \"billing-v2\"?\n");
        assertThat(typo.out()).isEmpty();
    }

    @Test
    void errorsHaveExitCodesAndMessagesAScriptCanRelyOn() throws Exception {
        Run missing = remote("show", "nope");
        assertThat(missing.exit()).isEqualTo(1);
        assertThat(missing.err()).startsWith("flags: there is no flag \"nope\"");
        Run invalid = remote("rollout", "billing-v2", "10.0001", "--rule", "0");
        assertThat(invalid.exit()).isEqualTo(1);
        assertThat(invalid.err()).contains("must have at most three decimals (0.001% steps), was 10.0001");
        // The server's detail states a single problem; the command does not print it a second time from the list.
        assertThat(invalid.err().split("must have at most three decimals", -1)).hasSize(2);

        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        Run unreachable = flags("list", "--server=http://127.0.0.1:" + closedPort, "--token=x");
        assertThat(unreachable.exit()).isEqualTo(3);
        assertThat(unreachable.err()).contains("cannot reach the flag server at http://127.0.0.1:" + closedPort + ": ")
                .containsIgnoringCase("connection refused").doesNotContain("null");
        assertThat(flags("list", "--server=http://127.0.0.1:" + server.httpPort(), "--token=").exit()).isEqualTo(2);
        assertThat(flags("rollout", "billing-v2").exit()).isEqualTo(2);
        assertThat(flags("no-such-command").exit()).isEqualTo(2);
        Run help = flags("--help");
        assertThat(help.exit()).isZero();
        assertThat(help.out()).contains("validate").contains("Exit codes")
                .as("where the server, the token and the environment come from").contains("FLAGS_SERVER").contains("FLAGS_TOKEN")
                .contains("FLAGS_ENV     the environment, changes too: production if unset").contains("Examples:");
        assertThat(flags("rollout", "--help").out()).contains("--rule")
                .contains("Examples:\n  flags rollout billing-v2 10 --rule \"eu canary\" -m \"canary at 10%\"\n");
        assertThat(flags("off", "--help").out()).contains("  flags off billing-v2 -m \"incident 4711: double charges\"");
    }

    @Test
    void aServerAddressThatIsNotAnHttpUrlIsBadUsage() {
        for (String bad : new String[] {"notaurl", "localhost:8080", "ftp://127.0.0.1:" + server.httpPort(), "http://"}) {
            Run run = flags("list", "--server=" + bad, "--token=" + ADMIN);
            assertThat(run.exit()).as(bad).isEqualTo(FlagsCommand.EXIT_USAGE);
            assertThat(run.err()).as(bad).isEqualTo("flags: the server address \"" + bad + "\" is not an http or https URL;"
                    + " expected http://host:port or https://host[:port] (set --server or FLAGS_SERVER)\nTry 'flags list --help'.\n");
        }
        // An http URL with a query: said as such, not as no URL (QA61 F11).
        Run query = flags("list", "--server=http://127.0.0.1:" + server.httpPort() + "/?x=1", "--token=" + ADMIN);
        assertThat(query.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(query.err()).startsWith("flags: the server address \"http://127.0.0.1:" + server.httpPort() + "/?x=1\" has a"
                + " query, which a server address does not take: the flags command adds the API's paths to it; give http://127.0.0.1:"
                + server.httpPort() + "/ (set --server or FLAGS_SERVER)\n");
        assertThat(flags("list", "--server=http://127.0.0.1:" + server.httpPort() + "#top", "--token=" + ADMIN).err())
                .contains("has a fragment, which").contains("give http://127.0.0.1:" + server.httpPort() + " (");
        assertThat(flags("list", "--server=http://127.0.0.1:" + server.httpPort() + "/api/v1?x", "--token=" + ADMIN).err())
                .as("the address to give, in one step").contains("give http://127.0.0.1:" + server.httpPort() + " (");
        Run userInfo = flags("list", "--server=http://bob:hunter2@127.0.0.1:" + server.httpPort(), "--token=" + ADMIN);
        assertThat(userInfo.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(userInfo.err()).doesNotContain("hunter2").startsWith("flags: the server address has a user and password in it"
                + " (\"http://...@127.0.0.1:" + server.httpPort() + "\"), which the flags command never sends: the token is its"
                + " credential; give http://127.0.0.1:" + server.httpPort() + " (set --server or FLAGS_SERVER)\n");
        Run upperCase = flags("list", "--server=HTTP://127.0.0.1:" + server.httpPort() + "/", "--token=" + ADMIN);
        assertThat(upperCase.exit()).as(upperCase.err()).isZero();
        Run apiPath = flags("list", "--server=http://127.0.0.1:" + server.httpPort() + "/api/v1", "--token=" + ADMIN);
        assertThat(apiPath.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(apiPath.err()).startsWith("flags: the server address \"http://127.0.0.1:" + server.httpPort() + "/api/v1\""
                + " ends with /api/v1, which the flags command adds to every request itself; give http://127.0.0.1:"
                + server.httpPort() + " (set --server or FLAGS_SERVER)\n");
    }

    @Test
    void aValueNoServerTakesIsBadUsageExit2LikeAValueThatIsNoNumber() {
        String at = "--server=http://127.0.0.1:" + server.httpPort();
        String admin = "--token=" + ADMIN;
        for (String[] bad : new String[][] {
                {"rollout", "billing-v2", "150", "--rule", "0"},
                {"rollout", "billing-v2", "-5", "--rule", "0"},
                {"grant", "beta-tester", "bob", "--for", "0s"},
                {"tokens", "create", "x", "--scope", "owner", "-e", "production"},
                {"tokens", "create", "x", "--scope", "editor"},
                {"tokens", "create", "x", "--scope", "admin", "-e", "production"},
                {"tokens", "create", "x", "--scope", "admin", "--expires-in", "0d"}}) {
            String[] args = java.util.stream.Stream.concat(java.util.Arrays.stream(bad), java.util.stream.Stream.of(at, admin))
                    .toArray(String[]::new);
            Run run = flags(args);
            assertThat(run.exit()).as(String.join(" ", bad) + ": " + run.err()).isEqualTo(FlagsCommand.EXIT_USAGE);
        }
        assertThat(flags("rollout", "billing-v2", "150", "--rule", "0", at, admin).err())
                .startsWith("flags: PERCENT must be from 0 to 100, was '150'\n");
        assertThat(flags("tokens", "create", "x", "--scope", "owner", at, admin).err())
                .startsWith("flags: --scope must be one of admin, editor, operator, tester, viewer, sdk, was 'owner'\n");
        assertThat(flags("grant", "beta-tester", "bob", "--for", "0s", at, admin).err())
                .startsWith("flags: --for must be a positive duration, such as 90m, 8h, 30d, 2w or 1y; was '0s'\n");
        assertThat(flags("tokens", "list", at, admin).out()).as("nothing made").doesNotContain(" x ");
    }

    @Test
    void readCommandsPrintTheServersAnswerAsJsonWithJson() throws Exception {
        assertThat(remote("on", "billing-v2", "-m", "go").exit()).isZero();
        Run list = remote("list", "--json");
        assertThat(list.exit()).as(list.err()).isZero();
        assertThat(list.json().get("flags")).extracting(f -> f.get("key").asText()).containsExactly("billing-v2");
        Run history = remote("history", "billing-v2", "--last", "1", "--json");
        assertThat(history.json().get("versions")).singleElement().satisfies(v -> assertThat(v.get("comment").asText())
                .isEqualTo("go"));
        assertThat(remote("audit", "--json").json().get("entries").toString()).contains("\"comment\":\"go\"");
        assertThat(remote("schedules", "--json").json().get("schedules")).isEmpty();
        assertThat(remote("usage", "--json").json().has("flags")).isTrue();
        assertThat(remote("roles", "--json").json().get("selfService")).extracting(JsonNode::asText).contains("beta-tester");
        String at = "--server=http://127.0.0.1:" + server.httpPort();
        assertThat(flags("environments", at, "--token=" + ADMIN, "--json").json().get("environments"))
                .extracting(e -> e.get("key").asText()).containsExactly("production");
        assertThat(flags("tokens", "list", at, "--token=" + ADMIN, "--json").json().has("tokens")).isTrue();
        Run lines = remote("audit");
        assertThat(lines.out()).as("times to the second, as history shows them")
                .containsPattern("(?m)^20\\d\\d-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ  ");
    }

    @Test
    void offSwitchesSeveralFlagsOffAndOneThatFailsStopsNoOther() throws Exception {
        assertThat(remote("create", "invoice-pdf-v2").exit()).isZero();
        assertThat(remote("on", "invoice-pdf-v2").exit()).isZero();
        assertThat(remote("on", "billing-v2").exit()).isZero();
        Run off = remote("off", "billing-v2", "biling-v3", "invoice-pdf-v2", "-m", "incident 4711");
        assertThat(off.exit()).as("one was not there").isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(off.json()).extracting(f -> f.get("key").asText()).containsExactly("billing-v2", "invoice-pdf-v2");
        assertThat(off.err()).contains("flags: billing-v2 in environment \"production\" is off")
                .contains("flags: invoice-pdf-v2 in environment \"production\" is off")
                .contains("flags: not switched off:\n  biling-v3: there is no flag \"biling-v3\"");
        assertThat(remote("show", "invoice-pdf-v2").json().get("enabled").asBoolean()).isFalse();
        assertThat(remote("history", "billing-v2", "--last", "1").out()).contains("incident 4711");
    }

    @Test
    void aRefusedTokenSaysWhichTokenAnEmptyServerIsSaidAndHelpIsACommand() {
        String at = "--server=http://127.0.0.1:" + server.httpPort();
        Run unknown = flags("list", at, "--token=flg_not-a-real-token-at-all");
        assertThat(unknown.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(unknown.err()).isEqualTo("flags: the token is unknown or was revoked (the token of --token; an admin's flags"
                + " tokens list shows the live ones)\n");
        Run empty = flags("list", "--server=", "--token=" + ADMIN);
        assertThat(empty.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(empty.err()).startsWith("flags: the server address is empty: give --server http://host:port\n");
        assertThat(flags("--version").out()).isEqualTo("flags " + dev.flags.core.Build.RELEASE + " (commit "
                + dev.flags.core.Build.commit() + ")\n");
        Run help = flags("help", "off");
        assertThat(help.exit()).isZero();
        assertThat(help.out()).contains("Switch a flag off for everyone").contains("flags off billing-v2 invoice-pdf-v2");
    }

    @Test
    void anAddressWhereNoFlagServerAnswersIsSaidSo() throws Exception {
        com.sun.net.httpserver.HttpServer other = com.sun.net.httpserver.HttpServer.create(
                new java.net.InetSocketAddress("127.0.0.1", 0), 0);
        other.createContext("/", exchange -> { // an application's own port, say
            byte[] page = "<html>Not Found</html>".getBytes(java.nio.charset.StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(404, page.length);
            exchange.getResponseBody().write(page);
            exchange.close();
        });
        other.start();
        try {
            Run run = flags("list", "--server=http://127.0.0.1:" + other.getAddress().getPort(), "--token=" + ADMIN);
            assertThat(run.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
            assertThat(run.err()).isEqualTo("flags: the server answered 404 with something that is not JSON: is http://127.0.0.1:"
                    + other.getAddress().getPort() + " a flag server's HTTP API? (check --server or FLAGS_SERVER)\n");
        } finally {
            other.stop(0);
        }
        // An application's port that answers JSON to anything (QA46a F7): no kill switch is taken as thrown there.
        com.sun.net.httpserver.HttpServer json = com.sun.net.httpserver.HttpServer.create(
                new java.net.InetSocketAddress("127.0.0.1", 0), 0);
        java.util.concurrent.atomic.AtomicInteger status = new java.util.concurrent.atomic.AtomicInteger(200);
        json.createContext("/", exchange -> {
            byte[] body = (status.get() == 200 ? "{\"status\": \"ok\"}" : "{\"error\": \"Not Found\", \"status\": 404}")
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(status.get(), body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        json.start();
        try {
            String at = "--server=http://127.0.0.1:" + json.getAddress().getPort();
            Run off = flags("off", "billing-v2", at, "--token=" + ADMIN);
            assertThat(off.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
            assertThat(off.err()).isEqualTo("flags: the answer is not flag \"billing-v2\"'s document, as a flag server's is: is"
                    + " http://127.0.0.1:" + json.getAddress().getPort() + " a flag server's HTTP API? (check --server or"
                    + " FLAGS_SERVER); nothing is known to be done\n");
            assertThat(flags("list", at, "--token=" + ADMIN).err()).startsWith("flags: the answer is not a list of flags");
            for (String[] command : new String[][] {{"archive", "billing-v2", "--force"}, {"grant", "beta-tester", "u-1"},
                    {"revert", "billing-v2", "v1"}, {"tokens", "revoke", "tok-123456789abc", "--force"}}) {
                Run refused = flags(java.util.stream.Stream.concat(java.util.Arrays.stream(command),
                        java.util.stream.Stream.of(at, "--token=" + ADMIN)).toArray(String[]::new));
                assertThat(refused.exit()).as(String.join(" ", command) + ": " + refused.err()).isEqualTo(FlagsCommand.EXIT_FAILED);
                assertThat(refused.err()).as(String.join(" ", command)).contains("a flag server's HTTP API?");
            }
            status.set(404);
            assertThat(flags("off", "billing-v2", at, "--token=" + ADMIN).err()).isEqualTo("flags: the server answered 404 with"
                    + " JSON that is not the API's (no problem title): is http://127.0.0.1:" + json.getAddress().getPort()
                    + " a flag server's HTTP API? (check --server or FLAGS_SERVER)\n");
        } finally {
            json.stop(0);
        }
    }

    @Test
    void anEmptyEnvironmentIsBadUsageInEveryCommandNotARequestForAnotherPath() throws Exception {
        for (String[] command : new String[][] {{"list"}, {"show", "billing-v2"}, {"roles"}, {"schedules"}, {"usage"},
                {"audit"}, {"grant", "beta", "u1"}, {"diff", "--from", "staging"}, {"promote", "billing-v2", "--from", "staging"}}) {
            Run run = flags(java.util.stream.Stream.concat(java.util.Arrays.stream(command), java.util.stream.Stream.of("-e", "",
                    "--server=http://127.0.0.1:" + server.httpPort(), "--token=" + ADMIN)).toArray(String[]::new));
            assertThat(run.exit()).as(String.join(" ", command)).isEqualTo(FlagsCommand.EXIT_USAGE);
            assertThat(run.err()).as(String.join(" ", command)).isEqualTo("flags: -e must not be empty\nTry 'flags " + command[0] + " --help'.\n");
            assertThat(run.out()).as(String.join(" ", command)).isEmpty();
        }

        // FLAGS_ENV set but empty (a script's unset variable): said so, not blamed on an -e that was never typed.
        ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), FlagsCommand.class.getName(), "list",
                "--server=http://127.0.0.1:" + server.httpPort(), "--token=" + ADMIN).redirectErrorStream(true);
        builder.environment().put("FLAGS_ENV", "");
        Process cli = builder.start();
        String printed = new String(cli.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(cli.waitFor()).as(printed).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(printed).isEqualTo("flags: -e must not be empty (FLAGS_ENV is set, but empty: unset it or give it an"
                + " environment)\nTry 'flags list --help'.\n");
    }

    @Test
    void usageErrorsSayWhatIsWrongOnOneLineAndPointToTheHelp() throws Exception {
        Run unknownOption = flags("list", "--bogus");
        assertThat(unknownOption.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(unknownOption.err()).isEqualTo("flags: Unknown option: '--bogus'\nTry 'flags list --help'.\n");
        assertThat(unknownOption.out()).isEmpty();

        Run missing = flags("show");
        assertThat(missing.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(missing.err()).isEqualTo("flags: Missing required parameter: 'FLAG'\nTry 'flags show --help'.\n");

        Run unknownCommand = flags("no-such-command");
        assertThat(unknownCommand.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(unknownCommand.err()).startsWith("flags: ").endsWith("\nTry 'flags --help'.\n").contains("no-such-command");
        assertThat(unknownCommand.err().lines()).hasSize(2);

        Run optionsFirst = flags("-e", "production", "list");
        assertThat(optionsFirst.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(optionsFirst.err()).isEqualTo("flags: Unknown options: '-e', 'production'\n"
                + "Options go after the command's name: flags list -e production\nTry 'flags --help'.\n");
        assertThat(flags("--server", "http://my host", "show", "billing-v2").err())
                .contains("Options go after the command's name: flags show --server 'http://my host' billing-v2\n");
        assertThat(flags("-e", "staging", "tokens", "list").err()).as("after the whole command path")
                .contains("Options go after the command's name: flags tokens list -e staging\n");
        assertThat(flags("tokens", "-e", "staging", "list").err())
                .contains("Options go after the command's name: flags tokens list -e staging\n");
        Run secret = flags("--token", "a-secret-token-value-0123", "list");
        assertThat(secret.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(secret.err()).as("a token is never echoed").doesNotContain("a-secret-token-value-0123")
                .isEqualTo("flags: Unknown options: '--token', '***'\nOptions go after the command's name: flags list --token"
                        + " '***'\nTry 'flags --help'.\n");
        assertThat(flags("--token=a-secret-token-value-0123", "list").err()).doesNotContain("a-secret-token-value-0123")
                .contains("name: flags list '--token=***'\n");
        Run misspelt = flags("list", "--tok", "flg_a-secret-after-a-typo-0123");
        assertThat(misspelt.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(misspelt.err()).as("a token after a mistyped option").doesNotContain("a-secret-after-a-typo").contains("***");
        // An "@file" is a word like any other, never a file's content spliced into the command line (unmasked)
        java.nio.file.Path args = java.nio.file.Files.writeString(dir.resolve("args.txt"), "--token\na-secret-from-a-file-0123\n");
        Run atFile = flags("--token", "flg_X", "@" + args, "lst");
        assertThat(atFile.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(atFile.err()).doesNotContain("a-secret-from-a-file-0123").doesNotContain("flg_X");
        // A token pasted where a server address or a value goes, quoted back by the message about it (QA42c F4).
        Run asServer = flags("list", "--server", "flg_pasted-into-the-wrong-place-0123");
        assertThat(asServer.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(asServer.err()).doesNotContain("pasted-into-the-wrong-place").contains("the server address \"***\"");
        assertThat(flags("list", "--server", "http://127.0.0.1:1/?t=flg_in-a-query-0123").err()).doesNotContain("in-a-query");
        Run asValue = remote("rollout", "billing-v2", "flg_pasted-as-a-percentage-0123", "--rule", "eu canary");
        assertThat(asValue.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(asValue.err()).doesNotContain("pasted-as-a-percentage").contains("***");
        Run asEnvironment = FlagsCommandTest.against(server, ADMIN, "list", "-e", "flg_pasted-as-an-environment-0123");
        assertThat(asEnvironment.err()).as("the server's answer quotes it").doesNotContain("pasted-as-an-environment");
        // Shaped as a server token (its prefix and 43 characters) wherever it came from: FLAGS_SERVER's value, say; a flag
        // key that merely starts so is left alone.
        String token = "flg_" + "A1b2-C3d4_".repeat(4) + "xyz";
        assertThat(FlagsCommand.masked("the server address \"http://h/?t=" + token + "\" is not ...", List.of()))
                .isEqualTo("the server address \"http://h/?t=***\" is not ...");
        assertThat(FlagsCommand.masked("flag \"flg_billing\" not found", List.of())).isEqualTo("flag \"flg_billing\" not found");
        // The secret without its prefix, given as a flag key (QA48a F8): masked too, the whole token still one ***
        String[] pasted = {"show", token.substring(4), "--token=" + token};
        assertThat(FlagsCommand.masked("there is no flag \"" + token.substring(4) + "\"; token " + token,
                FlagsCommand.secrets(pasted))).isEqualTo("there is no flag \"***\"; token ***");

        Run typo = flags("lsit");
        assertThat(typo.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(typo.err()).isEqualTo("flags: unknown command 'lsit' of 'flags'\nDid you mean: list, edit?\nTry 'flags --help'.\n");
        assertThat(flags("tokens", "bogus").err()).startsWith("flags: unknown command 'bogus' of 'flags tokens'\n");
        assertThat(flags("validate", "a.json", "b.json").err()).as("too many parameters is not an unknown command")
                .doesNotContain("unknown command");

        Run noCommand = flags();
        assertThat(noCommand.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(noCommand.err()).startsWith("Usage: flags").contains("Commands:");
        assertThat(noCommand.out()).isEmpty();
        assertThat(flags("--help").out()).startsWith("Usage: flags");
    }

    @Test
    void onlyCommandsThatChangeSomethingTakeAComment() {
        for (String[] read : new String[][] {{"show", "billing-v2"}, {"list"}, {"history", "billing-v2"}, {"evaluate", "{}"}}) {
            String[] args = new String[read.length + 2];
            System.arraycopy(read, 0, args, 0, read.length);
            args[read.length] = "-m";
            args[read.length + 1] = "why";
            Run run = remote(args);
            assertThat(run.exit()).as(read[0]).isEqualTo(FlagsCommand.EXIT_USAGE);
            assertThat(run.err()).as(read[0]).startsWith("flags: Unknown option").contains("'-m'");
            assertThat(flags(read[0], "--help").out()).as(read[0]).doesNotContain("--comment");
        }
        for (String change : new String[] {"on", "off", "rollout", "add-role", "add-region", "grant", "revoke", "archive", "revert"}) {
            assertThat(flags(change, "--help").out()).as(change).contains("-m, --comment");
        }
        Run grant = remote("grant", "beta-tester", "tess", "-m", "joins the beta");
        assertThat(grant.exit()).as(grant.err()).isZero();
        assertThat(remote("on", "billing-v2", "--comment", "dark launch done").exit()).isZero();
        String first = remote("history", "billing-v2").out().lines().findFirst().orElseThrow().substring(1, 7).trim();
        Run revert = remote("revert", "billing-v2", first, "--comment", "back to the start");
        assertThat(revert.exit()).as(revert.err()).isZero();
        assertThat(remote("history", "billing-v2").out().lines().reduce((a, b) -> b).orElseThrow()).endsWith("back to the start");
    }

    @Test
    void jsonItPrintsCannotDriveTheTerminal() throws Exception {
        // An editor's values: the 8-bit CSI (U+009B), a right-to-left override, a line separator, DEL.
        Path file = Files.writeString(dir.resolve("sly.json"), "{\"enabled\": true, \"rules\": [{\"conditions\": [{\"attribute\":"
                + " \"plan\", \"operator\": \"in\", \"values\": [\"\\u009b2J\\u202egnp\\u2028\\u007f\", \"pro\"]}]}]}");
        Run put = remote("put", "sly", file.toString());
        assertThat(put.exit()).as(put.err()).isZero();

        for (Run shown : List.of(put, remote("show", "sly"))) {
            assertThat(shown.out()).contains("\"\\u009B2J\\u202Egnp\\u2028\\u007F\"")
                    .doesNotContain("\u009b").doesNotContain("\u202e").doesNotContain("\u2028").doesNotContain("\u007f");
            assertThat(shown.json().at("/rules/0/conditions/0/values/0").asText()).as("the same JSON").isEqualTo("\u009b2J\u202egnp\u2028\u007f");
        }
    }

    @Test
    void validateRefusesADocumentOverTheSizeLimitAsTheServerCountsItAndKeysThatDifferOnlyInCase() throws Exception {
        // QA57 F1: 1,050 values of 1,000 characters: a file of 1.05 MB that the SDKs read, and a server refuses.
        String value = "\"" + "v".repeat(1_000) + "\"";
        String values = String.join(",", java.util.Collections.nCopies(1_050, value));
        Path large = Files.writeString(dir.resolve("large.json"), "{\"key\": \"large\", \"rules\": [{\"conditions\":"
                + " [{\"attribute\": \"plan\", \"operator\": \"in\", \"values\": [" + values + "]}]}]}");
        Run tooLarge = flags("validate", large.toString());
        assertThat(tooLarge.exit()).as(tooLarge.err()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(tooLarge.err()).contains(": its fields are valid, but a flag server refuses to take it: 1 problem\n")
                .containsPattern("flag \"large\": document is 105\\d{4} bytes as the server stores it \\(compact JSON, its"
                        + " version aside\\); a flag document may be at most 1048576 bytes");
        Path fits = Files.writeString(dir.resolve("fits.json"), Files.readString(large).replace(value + ",", "").replace(
                "\"values\": [", "\"values\": [" + String.join(",", java.util.Collections.nCopies(1_000, value)) + ","));
        assertThat(flags("validate", fits.toString()).exit()).as("1,001 values: under the limit").isZero();

        // QA59 F2: a document without a key is counted with the shortest key, not the stand-in "FLAG".
        Path keyless = Files.writeString(dir.resolve("keyless.json"), Files.readString(large).replace("\"key\": \"large\", ", ""));
        assertThat(flags("validate", keyless.toString()).err()).contains("document is 105");

        // QA57 F2
        Path twins = Files.writeString(dir.resolve("twins.json"), "{\"formatVersion\": 1, \"flags\": [{\"key\": \"Flag\"},"
                + " {\"key\": \"flag\"}, {\"key\": \"other\"}]}");
        Run twinsRun = flags("validate", twins.toString());
        assertThat(twinsRun.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(twinsRun.err()).isEqualTo(twins + ": the SDKs can read it, but a flag server refuses to take it: 1 problem\n"
                + "  flag \"flag\": flags[1].key differs from \"Flag\", also in the file, only in case, which code and people would"
                + " confuse: a flag server takes only one of them\n");

        // QA57 F4: the heading counts every problem, and the last line counts those not listed.
        StringBuilder bad = new StringBuilder("{\"formatVersion\": 1, \"flags\": [");
        for (int i = 0; i < 150; i++) {
            bad.append(i == 0 ? "" : ",").append("{\"key\": \"bad key ").append(i).append("\"}");
        }
        Path many = Files.writeString(dir.resolve("many.json"), bad.append("]}").toString());
        Run manyRun = flags("validate", many.toString());
        assertThat(manyRun.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(manyRun.err().lines().findFirst().orElseThrow()).isEqualTo(many + ": 150 problems");
        assertThat(manyRun.err().lines().toList()).hasSize(102).last().asString().isEqualTo("  and 50 more problems after these"
                + " 100, not listed: mend these and validate again");

        // QA59 F7: the server's rules' problems are listed as many, and counted past 100, too.
        StringBuilder cases = new StringBuilder("{\"formatVersion\": 1, \"flags\": [");
        for (int i = 0; i < 150; i++) {
            cases.append(i == 0 ? "" : ",").append("{\"key\": \"k").append(i).append("\"}, {\"key\": \"K").append(i).append("\"}");
        }
        Path clashes = Files.writeString(dir.resolve("clashes.json"), cases.append("]}").toString());
        Run clashesRun = flags("validate", clashes.toString());
        assertThat(clashesRun.err().lines().findFirst().orElseThrow()).endsWith("a flag server refuses to take it: 150 problems");
        assertThat(clashesRun.err().lines().toList()).hasSize(102).last().asString().isEqualTo("  and 50 more problems after"
                + " these 100, not listed: mend these and validate again");
    }

    @Test
    void aDocumentAtTheSizeLimitThatValidatePassesGoesBackWithPutAsFlagsShowPrintsIt() throws Exception {
        // QA59 F1: put sent the document with its version (and whatever empty lists it had): 413 at the limit.
        String value = "\"" + "v".repeat(1_000) + "\"";
        String rule = "{\"conditions\": [{\"attribute\": \"plan\", \"operator\": \"in\", \"values\": ["
                + String.join(",", java.util.Collections.nCopies(1_045, value)) + "]}]}";
        String document = "{\"key\": \"edge\", \"description\": \"%s\", \"rules\": [" + rule + "]}";
        long bytes = dev.flags.core.WriteRules.storedBytes(dev.flags.core.FlagFormat.readFlag(document.formatted("d")));
        int pad = (int) (dev.flags.core.FlagFormat.MAX_FLAG_BYTES - bytes);
        assertThat(pad).isBetween(0, 2_000);
        Path atLimit = Files.writeString(dir.resolve("edge.json"), document.formatted("d".repeat(1 + pad)));
        assertThat(dev.flags.core.WriteRules.storedBytes(dev.flags.core.FlagFormat.readFlag(Files.readString(atLimit))))
                .isEqualTo(dev.flags.core.FlagFormat.MAX_FLAG_BYTES);
        assertThat(flags("validate", atLimit.toString()).exit()).isZero();
        // QA59 F2: one byte over with its 4-character key; without a key, counted with the shortest (1), it is within.
        String over = document.formatted("d".repeat(2 + pad));
        Path overFile = Files.writeString(dir.resolve("over.json"), over);
        assertThat(flags("validate", overFile.toString()).err()).contains("document is 1048577 bytes as the server stores it");
        Path keylessFile = Files.writeString(dir.resolve("keyless-edge.json"), over.replace("\"key\": \"edge\", ", ""));
        Run keyless = flags("validate", keylessFile.toString());
        assertThat(keyless.exit()).as("not the stand-in key FLAG's 4 characters: " + keyless.err()).isZero();
        Run created = remote("put", "edge", atLimit.toString());
        assertThat(created.exit()).as(created.err()).isZero();

        Run shown = remote("show", "edge");
        ObjectNode edited = (ObjectNode) Api.JSON.readTree(shown.out());
        edited.put("description", "e" + edited.get("description").asText().substring(1)); // same size
        edited.putArray("targets"); // an empty list the stored form leaves out: the file is larger than what is stored
        Path file = Files.writeString(dir.resolve("edited.json"), Api.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(edited));
        assertThat(flags("validate", file.toString()).exit()).isZero();
        Run put = remote("put", "edge", file.toString());
        assertThat(put.exit()).as(put.err()).isZero();
        assertThat(remote("show", "edge").json().get("description").asText()).startsWith("e");
    }

    @Test
    void validateSaysWhatAFlagServerRefusesAsTheServerItselfSaysIt() throws Exception {
        Path document = Files.writeString(dir.resolve("refused.json"), """
                {"key": "refused", "enabled": true, "description": "ring \\u0007 the bell",
                 "targets": [{"userIds": ["\\u200balice"], "serve": true}],
                 "rules": [{"name": "1", "conditions": [{"regions": ["eu-west"]}]},
                           {"name": "eu", "conditions": [{"regions": ["eu-west"]}]},
                           {"name": "eu", "conditions": [{"percentage": 10}]}]}""");

        Run validated = flags("validate", document.toString());

        assertThat(validated.exit()).isEqualTo(1);
        List<String> problems = validated.err().lines().skip(1).map(String::strip).toList();
        assertThat(validated.err().lines().findFirst().orElseThrow()).isEqualTo(document + ": its fields are valid, but a flag"
                + " server refuses to take it: 4 problems");
        assertThat(problems).hasSize(4);
        // What the server answers to flags put, word for word, is among them (it checks the text first, then the names).
        List<String> said = problems.stream().map(p -> p.substring(p.indexOf(": ") + 2)).toList();
        Run put = remote("put", "refused", document.toString());
        assertThat(put.exit()).as(put.err()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(put.err().lines().skip(1).map(String::strip).toList()).hasSize(2).allSatisfy(l -> assertThat(said).contains(l));
        Files.writeString(document, Files.readString(document).replace("\\u0007", "").replace("\\u200b", ""));
        Run names = remote("put", "refused", document.toString());
        assertThat(names.exit()).as(names.err()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(names.err().lines().skip(1).map(String::strip).toList()).hasSize(2).allSatisfy(l -> assertThat(said).contains(l));
        // A flag file: every flag of it, each by its own key, located from the file's root as the format's problems are
        // (QA57 F10).
        Path file = Files.writeString(dir.resolve("file.json"), "{\"formatVersion\": 1, \"flags\": [{\"key\": \"ok\"},"
                + " {\"key\": \"two\", \"rules\": [{\"name\": \"42\", \"conditions\": [{\"percentage\": 1}]}]}]}");
        Run fileRun = flags("validate", file.toString());
        assertThat(fileRun.exit()).isEqualTo(1);
        assertThat(fileRun.err()).endsWith(": 1 problem\n  flag \"two\": flags[1].rules[0].name must not be digits only: a number names a"
                + " rule by its index (flags ... --rule 1, PATCH \"rule\": 1), so \"42\" would be ambiguous\n");
        // A weight a hair off a 0.001 step: the SDKs read it, a server refuses it (QA61 F4).
        Path hair = Files.writeString(dir.resolve("hair.json"), "{\"formatVersion\": 1, \"flags\": [{\"key\": \"ab\","
                + " \"variants\": [{\"key\": \"a\", \"weight\": 1e-300}, {\"key\": \"b\", \"weight\": 100}]}]}");
        Run hairRun = flags("validate", hair.toString());
        assertThat(hairRun.exit()).as(hairRun.err()).isEqualTo(1);
        assertThat(hairRun.err()).endsWith(": the SDKs can read it, but a flag server refuses to take it: 1 problem\n  flag \"ab\":"
                + " flags[0].variants[0].weight must have at most three decimals (0.001% steps), was 1E-300\n");
        // A role grant's user id shaped as a token, which a server refuses (QA62 F7): not quoted back.
        String tokenShaped = "flg_" + "D".repeat(43);
        Path tokenGrant = Files.writeString(dir.resolve("token-grant.json"), "{\"formatVersion\": 1, \"flags\": [{\"key\":"
                + " \"ok\"}], \"roleGrants\": {\"beta\": [\"" + tokenShaped + "\"]}}");
        Run tokenGrantRun = flags("validate", tokenGrant.toString());
        assertThat(tokenGrantRun.exit()).as(tokenGrantRun.err()).isEqualTo(1);
        assertThat(tokenGrantRun.err()).contains("roleGrants.beta holds a user id that looks like a flag server token (flg_ and 43 characters)")
                .doesNotContain(tokenShaped);
        // A role grant's user id as the server holds one (QA48a F9): an escape in it passed as valid
        Path grants = Files.writeString(dir.resolve("grants.json"), "{\"formatVersion\": 1, \"flags\": [{\"key\": \"ok\"}],"
                + " \"roleGrants\": {\"beta-tester\": [\"tess\", \"t\\u001b[2Jx\"]}}");
        Run grantRun = flags("validate", grants.toString());
        assertThat(grantRun.exit()).as(grantRun.err()).isEqualTo(1);
        assertThat(grantRun.err()).contains("a flag server refuses to take it: 1 problem", "roleGrants.beta-tester holds a user id that must"
                + " not hold control characters", "was \"t\\u001b[2Jx\", character 2 is U+001B").doesNotContain("\u001b");
    }

    @Test
    void validateAndEvalWorkOnAFlagFileWithoutAServer() throws Exception {
        Path good = dir.resolve("flags.json");
        Files.writeString(good, """
                {"formatVersion": 1, "flags": [{"key": "billing-v2", "enabled": true,
                  "rules": [{"name": "eu", "conditions": [{"regions": ["eu-west"]}]}]}]}""");
        Run valid = flags("validate", good.toString());
        assertThat(valid.exit()).isZero();
        assertThat(valid.out()).contains("valid, 1 flag");
        Run typo = flags("eval", good.toString(), "biling-v2", "{\"id\": \"u-1\"}");
        assertThat(typo.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(typo.err()).isEqualTo("flags: there is no flag \"biling-v2\" in " + good + "; did you mean \"billing-v2\"?\n");
        // eval takes the flag first, evaluate the user first: a swap is said as such, with the command in order
        Run swapped = flags("eval", good.toString(), "{\"id\": \"u-1\"}", "billing-v2");
        assertThat(swapped.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(swapped.err()).startsWith("flags: USER-JSON is not valid JSON, and FLAG looks like JSON: swapped? flags eval "
                + good + " billing-v2 '{\"id\": \"u-1\"}'\n");
        Run swappedRemote = remote("evaluate", "billing-v2", "{\"id\": \"u-1\"}");
        assertThat(swappedRemote.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(swappedRemote.err()).startsWith("flags: USER-JSON is not valid JSON, and FLAG looks like JSON: swapped? flags"
                + " evaluate '{\"id\": \"u-1\"}' billing-v2\n");

        Path bad = dir.resolve("bad.json");
        Files.writeString(bad, """
                {"formatVersion": 1, "flags": [{"key": "billing-v2", "rules": [{"conditions": [{"percentage": 150}]}]},
                  {"key": "x", "enabled": "yes"}]}""");
        Run invalid = flags("validate", bad.toString());
        assertThat(invalid.exit()).isEqualTo(1);
        assertThat(invalid.err()).contains("2 problems")
                .contains("flag \"billing-v2\": flags[0].rules[0].conditions[0].percentage must be between 0 and 100, was 150")
                .contains("flag \"x\": flags[1].enabled must be true or false");
        // One flag's document, as `flags show` prints it, before a `flags put`: checked as that, not as a flag file.
        Path document = dir.resolve("billing-v2.json");
        Files.writeString(document, """
                {
                  "key" : "billing-v2",
                  "enabled" : true,
                  "version" : 7,
                  "rules" : [ { "name" : "eu", "conditions" : [ { "percentage" : 150 } ] } ]
                }""");
        Run oneFlag = flags("validate", document.toString());
        assertThat(oneFlag.exit()).isEqualTo(1);
        assertThat(oneFlag.err()).isEqualTo(document + ": 1 problem\n  flag \"billing-v2\": rules[0].conditions[0].percentage must be"
                + " between 0 and 100, was 150\n");
        Files.writeString(document, Files.readString(document).replace("150", "15"));
        assertThat(flags("validate", document.toString()).out()).isEqualTo(document + ": a valid flag document, of flag \"billing-v2\"\n");
        Path copy = Files.writeString(dir.resolve("copy.json"), "{\"enabled\": false, \"description\": \"a copy\"}");
        assertThat(flags("validate", copy.toString()).out()).isEqualTo(copy + ": a valid flag document, without a key (flags put"
                + " FLAG gives it FLAG's)\n");
        Files.writeString(copy, "{\"enabled\": \"yes\"}");
        assertThat(flags("validate", copy.toString()).err()).isEqualTo(copy + ": 1 problem\n  enabled must be true"
                + " or false, was \"yes\"\n");
        // A value the file holds cannot drive the terminal that shows the problem (ESC [2J clears the screen).
        Files.writeString(copy, "{\"enabled\": \"\\u001b[2J\"}");
        assertThat(flags("validate", copy.toString()).err()).isEqualTo(copy + ": 1 problem\n  enabled must be true"
                + " or false, was \"\\u001b[2J\"\n");
        Path twice = Files.writeString(dir.resolve("twice.json"), "{\"key\": \"a\", \"enabled\": true, \"enabled\": false}");
        assertThat(flags("validate", twice.toString()).exit()).as("a field twice is no flag document: read as a flag file, refused")
                .isEqualTo(1);
        Path device = Files.createSymbolicLink(dir.resolve("zero.json"), Path.of("/dev/zero"));
        Run endless = flags("validate", device.toString());
        assertThat(endless.exit()).as("not read: it never ends; bad usage, as a directory is").isEqualTo(2);
        assertThat(endless.err()).isEqualTo("flags: " + device + " is not a regular file (a character device); give a flag"
                + " file\nTry 'flags validate --help'.\n");

        JsonNode eu = flags("eval", good.toString(), "billing-v2", "{\"id\": \"u1\", \"region\": \"eu-west\"}").json();
        assertThat(eu.get("value").asBoolean()).isTrue();
        assertThat(eu.at("/reason/kind").asText()).isEqualTo("RULE_MATCH");
        JsonNode us = flags("eval", good.toString(), "billing-v2", "{\"id\": \"u1\", \"region\": \"us-east\"}").json();
        assertThat(us.at("/reason/kind").asText()).isEqualTo("DEFAULT");
        assertThat(flags("eval", good.toString(), "billing-v2", "{\"id\": \"u1\"}", "--explain").out().lines()).containsExactly(
                "billing-v2 = false (DEFAULT, flag version 0)",
                "  - switch: the flag is on",
                "  - rule 0 \"eu\": not matched: conditions[0]: regions [\"eu-west\"]: the user has no region",
                "  - default: decided: no target or rule matched: the flag's default, false");
        // What an editor typed cannot drive a tester's terminal (ESC [2J clears the screen).
        Path evil = dir.resolve("evil.json");
        Files.writeString(evil, """
                {"formatVersion": 1, "flags": [{"key": "f", "enabled": true,
                  "rules": [{"name": "x\\u001b[2J\\u202e", "conditions": [{"attribute": "p", "operator": "matches", "values": ["^a\\\\d$"]}]}]}]}""");
        String shown = flags("eval", evil.toString(), "f", "{\"id\": \"u1\", \"attributes\": {\"p\": \"b\"}}", "--explain").out();
        assertThat(shown).doesNotContain("\u001b").doesNotContain("\u202e")
                .contains("  - rule 0 \"x\\u001b[2J\\u202e\": not matched: conditions[0]: \"p\" matches [\"^a\\d$\"]: the user's value \"b\" does not hold");
        assertThat(flags("eval", good.toString(), "billing-v2", "not json").exit()).isEqualTo(2);
        assertThat(flags("eval", bad.toString(), "billing-v2", "{}").exit()).isEqualTo(1);

        // A flag the file does not have is a "no", not an answer of false with flagVersion -1.
        Run unknown = flags("eval", good.toString(), "nosuch-flag", "{\"id\": \"u1\"}");
        assertThat(unknown.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(unknown.err()).isEqualTo("flags: there is no flag \"nosuch-flag\" in " + good + "\n");
        assertThat(unknown.out()).isEmpty();
        assertThat(flags("validate", dir.resolve("missing.json").toString()).exit()).isEqualTo(2);
        Run directory = flags("validate", dir.toString());
        assertThat(directory.exit()).isEqualTo(2);
        assertThat(directory.err()).isEqualTo("flags: " + dir + " is a directory; give a flag file\n"
                + "Try 'flags validate --help'.\n");
        assertThat(flags("eval", dir.toString(), "billing-v2", "{}").exit()).isEqualTo(2);
    }

    // apply --prune: what it archives first, and when it needs --force (QA71 F4, F9)

    @Test
    void aKeyRenamedInItsCaseOnlyIsArchivedThenCreatedAnew() throws Exception {
        for (String key : new String[] {"alpha", "beta", "gamma", "delta"}) {
            assertThat(against(server, ADMIN, "create", key, "-e", "production").exit()).isZero();
        }
        Path file = Files.writeString(dir.resolve("flags.json"), """
                {"formatVersion": 1, "flags": [{"key": "Alpha", "enabled": false}, {"key": "beta", "enabled": false},
                 {"key": "gamma", "enabled": false}, {"key": "delta", "enabled": false}]}""");
        Run applied = against(server, ADMIN, "apply", file.toString(), "--prune", "-e", "production");
        assertThat(applied.exit()).as(applied.err() + applied.out()).isZero();
        assertThat(applied.out()).contains("archive alpha", "create Alpha").doesNotContain("differs only in case");
        Run list = against(server, ADMIN, "list", "-e", "production");
        assertThat(list.out()).contains("Alpha").doesNotContainPattern("(?m)^alpha ");
    }

    @Test
    void pruningTheOnlyFlagOfAnEnvironmentNeedsForceAsHalfOfItDoes() throws Exception {
        assertThat(against(server, ADMIN, "environments", "create", "lone").exit()).isZero(); // its one flag: solo
        assertThat(against(server, ADMIN, "create", "solo", "-e", "lone").exit()).isZero();
        Path file = Files.writeString(dir.resolve("other.json"), """
                {"formatVersion": 1, "flags": [{"key": "other", "enabled": false}]}""");
        Run refused = against(server, ADMIN, "apply", file.toString(), "--prune", "-e", "lone");
        assertThat(refused.exit()).as(refused.err()).isEqualTo(1);
        assertThat(refused.err()).contains("--prune would archive 1 of the 1 flags served in \"lone\"",
                "Nothing was written; add --force if it is meant");
        assertThat(against(server, ADMIN, "list", "-e", "lone").out()).contains("solo").doesNotContain("other");
        Run forced = against(server, ADMIN, "apply", file.toString(), "--prune", "--force", "-e", "lone");
        assertThat(forced.exit()).as(forced.err()).isZero();
        assertThat(against(server, ADMIN, "list", "-e", "lone").out()).contains("other").doesNotContain("solo");
    }
}
