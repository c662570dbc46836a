package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
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

/** {@code flags roles} against a real server: roles, who holds them, until when; a tester sees its own grants. */
class RolesCommandTest {

    private static final String ADMIN = "cli-test-admin-token-0123456789";

    @TempDir
    Path dir;
    private FlagServer server;

    record Run(int exit, String out, String err) {
    }

    private Run roles(String token) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = FlagsCommand.run(new String[] {"roles", "--server=http://127.0.0.1:" + server.httpPort(), "--token=" + token,
                "--env=production"}, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(exit, out.toString(), err.toString());
    }

    private JsonNode send(String method, String path, String body) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                        + server.httpPort() + "/api/v1" + path)).header("Authorization", "Bearer " + ADMIN)
                .header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isBetween(200, 201);
        return Api.JSON.readTree(r.body());
    }

    @BeforeEach
    void start() throws Exception {
        server = FlagServer.start(ServerConfig.defaults().withDataDir(dir.resolve("data")).withPorts(0, 0)
                .withBindAddress("127.0.0.1").withAdminToken(ADMIN));
        send("POST", "/environments", "{\"key\": \"production\"}");
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @Test
    void eachRoleWithWhetherTestersMayTakeItAndWhoHoldsItUntilWhen() throws Exception {
        Run none = roles(ADMIN);
        assertThat(none.exit()).isZero();
        assertThat(none.out()).isEmpty();
        assertThat(none.err()).isEqualTo("flags: no self-service roles and no role grants in environment \"production\"\n");

        send("PUT", "/environments/production/roles/beta-tester", "{\"selfService\": true, \"maxGrantDuration\": \"P7D\"}");
        send("PUT", "/environments/production/roles/early-access", "{\"selfService\": true}");
        String until = send("PUT", "/environments/production/roles/beta-tester/members/tess", "{\"expiresIn\": \"P1D\"}")
                .get("expiresAt").asText();
        send("PUT", "/environments/production/roles/staff/members/erik", "{}");
        String tester = send("POST", "/tokens", "{\"name\": \"tess\", \"scope\": \"tester\", \"environments\": [\"production\"],"
                + " \"userId\": \"tess\"}").get("token").asText();

        Run all = roles(ADMIN);
        assertThat(all.exit()).as(all.err()).isZero();
        assertThat(all.out().lines()).containsExactly(
                "ROLE          SELF-SERVICE   MEMBERS",
                "beta-tester   yes, up to 7d  tess (until " + until + ")",
                "early-access  yes            (none)",
                "staff         no             erik");
        assertThat(Roles.readable("PT36H")).isEqualTo("36h");
        assertThat(Roles.readable("PT90M")).isEqualTo("90m");
        assertThat(Roles.readable("PT1.5S")).isEqualTo("PT1.5S");
        assertThat(Roles.readable("PT30S")).isEqualTo("30s");
        assertThat(Roles.user("tess")).isEqualTo("tess");
        assertThat(Roles.user("mallory (until 2026-12-05T00:00:00Z), ceo"))
                .isEqualTo("\"mallory (until 2026-12-05T00:00:00Z), ceo\"");

        Run own = roles(tester);
        assertThat(own.out()).as("a tester sees its own user's grants").contains("tess (until " + until + ")")
                .doesNotContain("erik");
        assertThat(own.err()).isEqualTo("flags: this tester token sees the grants of its own user only (tess)\n");
        assertThat(all.err()).as("an admin sees everyone's").isEmpty();
    }

    private FlagsCommandTest.Run flags(String... args) {
        return FlagsCommandTest.against(server, ADMIN, args);
    }

    @Test
    void aRoleOfManyShowsItsFirstTenAndACountAndMembersListsEveryOneALine() throws Exception {
        String until = send("PUT", "/environments/production/roles/staff/members/user-00", "{\"expiresIn\": \"P1D\"}")
                .get("expiresAt").asText();
        for (int i = 1; i < 12; i++) {
            send("PUT", "/environments/production/roles/staff/members/user-" + (i < 10 ? "0" : "") + i, "{}");
        }

        Run table = roles(ADMIN);
        assertThat(table.out().lines()).containsExactly(
                "ROLE   SELF-SERVICE  MEMBERS",
                "staff  no            user-00 (until " + until + "), user-01, user-02, user-03, user-04, user-05, user-06,"
                        + " user-07, user-08, user-09, and 2 more (12 in all: flags roles members staff -e production)");

        var members = flags("roles", "members", "staff");
        assertThat(members.exit()).as(members.err()).isZero();
        assertThat(members.out().lines()).hasSize(12).startsWith("user-00\tuntil " + until, "user-01").endsWith("user-11");
        send("PUT", "/environments/production/flags/audit-log", "{\"enabled\": true, \"rules\": [{\"name\": \"auditors\","
                + " \"conditions\": [{\"roles\": [\"auditors\"]}]}]}");
        var nobody = flags("roles", "members", "auditors");
        assertThat(nobody.exit()).isZero();
        assertThat(nobody.out()).isEmpty();
        assertThat(nobody.err()).isEqualTo("flags: role \"auditors\" has no members in environment \"production\"\n");
        var typo = flags("roles", "members", "staf");
        assertThat(typo.exit()).as("a count of 0 would be wrong").isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(typo.err()).isEqualTo("flags: no role \"staf\" in environment \"production\": nobody holds it, no rule names"
                + " it, and it is not self-service; did you mean \"staff\"?\n");
    }

    @Test
    void anAdminMakesARoleSelfServiceForAtMostSoLongOrNoLongerWithTheCli() throws Exception {
        var on = flags("roles", "self-service", "beta-tester", "on", "--max-grant", "7d", "-m", "beta opens");
        assertThat(on.exit()).as(on.err()).isZero();
        assertThat(on.err()).isEqualTo("flags: role \"beta-tester\" in environment \"production\" is self-service, up to 7d\n");
        assertThat(roles(ADMIN).out().lines()).contains("beta-tester  yes, up to 7d  (none)");

        var off = flags("roles", "self-service", "beta-tester", "off");
        assertThat(off.exit()).as(off.err()).isZero();
        assertThat(off.err()).isEqualTo("flags: role \"beta-tester\" in environment \"production\" is not self-service\n");
        var weeks = flags("roles", "self-service", "beta-tester", "on", "--max-grant", "2w");
        assertThat(weeks.exit()).as(weeks.err()).isZero();
        assertThat(weeks.err()).endsWith("is self-service, up to 14d\n");
        var year = flags("roles", "self-service", "beta-tester", "on", "--max-grant", "1y");
        assertThat(year.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(year.err()).contains("--max-grant must be a fixed length: hours, days or weeks");
        var none = flags("roles", "self-service", "beta-tester", "on", "--max-grant", "0h");
        assertThat(none.exit()).as("no server takes it: bad usage (QA47a F7)").isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(none.err()).contains("--max-grant must be a positive duration");

        assertThat(flags("roles", "self-service", "beta-tester", "yes").exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        var offWithMax = flags("roles", "self-service", "beta-tester", "off", "--max-grant", "7d");
        assertThat(offWithMax.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(offWithMax.err()).contains("--max-grant goes with on only");
    }
}
