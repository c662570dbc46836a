package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
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

/** {@code flags environments} against a real server: each environment, and how full it is against the limits. */
class EnvironmentsCommandTest {

    private static final String ADMIN = "cli-test-admin-token-0123456789";

    @TempDir
    Path dir;
    private FlagServer server;

    record Run(int exit, String out, String err) {
    }

    private Run environments(String token) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = FlagsCommand.run(new String[] {"environments", "--server=http://127.0.0.1:" + server.httpPort(),
            "--token=" + token}, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(exit, out.toString(), err.toString());
    }

    private JsonNode send(String method, String path, String body) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                        + server.httpPort() + "/api/v1" + path)).header("Authorization", "Bearer " + ADMIN)
                .header("Content-Type", "application/json").method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isBetween(200, 201);
        return Api.JSON.readTree(r.body());
    }

    @BeforeEach
    void start() throws Exception {
        server = FlagServer.start(ServerConfig.defaults().withDataDir(dir.resolve("data")).withPorts(0, 0)
                .withBindAddress("127.0.0.1").withAdminToken(ADMIN).withEnvironmentLimits(new EnvironmentLimits(4, 1)));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private FlagsCommandTest.Run flags(String... args) {
        return FlagsCommandTest.against(server, ADMIN, args);
    }

    @Test
    void anAdminCreatesClonesArchivesAndRestoresEnvironmentsWithTheCli() throws Exception {
        var created = flags("environments", "create", "staging", "-m", "for the release train");
        assertThat(created.exit()).as(created.err()).isZero();
        assertThat(created.err()).isEqualTo("flags: environment \"staging\" created\n");
        assertThat(Api.JSON.readTree(created.out()).get("key").asText()).isEqualTo("staging");
        send("PUT", "/environments/staging/flags/billing-v2", "{\"enabled\": true}");

        var cloned = flags("environments", "create", "production", "--clone-from", "staging", "--name", "Production");
        assertThat(cloned.exit()).as(cloned.err()).isZero();
        assertThat(cloned.err()).isEqualTo("flags: environment \"production\" created from \"staging\"\n");
        assertThat(send("GET", "/environments/production/flags/billing-v2", null).get("enabled").asBoolean()).isTrue();

        var archived = flags("environments", "archive", "staging", "-m", "train retired");
        assertThat(archived.exit()).as(archived.err()).isZero();
        assertThat(archived.err()).startsWith("flags: environment \"staging\" archived: its flags take no change");
        var refused = flags("off", "billing-v2", "-e", "staging");
        assertThat(refused.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(refused.err()).contains("(flags environments restore staging)");

        var restored = flags("environments", "restore", "staging");
        assertThat(restored.exit()).as(restored.err()).isZero();
        assertThat(restored.err()).isEqualTo("flags: environment \"staging\" restored: it takes changes again\n");
        assertThat(flags("off", "billing-v2", "-e", "staging").exit()).isZero();
        assertThat(flags("environments", "create", "staging").exit()).as("it exists").isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(flags("environments", "create", "").exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
    }

    @Test
    void anAdminDeletesAnArchivedEnvironmentForGoodAndIsToldWhichTokensToRevoke() throws Exception {
        flags("environments", "create", "pr-7");
        send("PUT", "/environments/pr-7/flags/preview", "{\"enabled\": true}");
        send("POST", "/environments/pr-7/flags/preview/schedules", "{\"at\": \"" + java.time.Instant.now().plus(
                java.time.Duration.ofDays(1)).truncatedTo(java.time.temporal.ChronoUnit.SECONDS) + "\", \"patch\": {\"enabled\": false}}");
        String sdk = send("POST", "/tokens", "{\"name\": \"pr-7-app\", \"scope\": \"sdk\", \"environments\": [\"pr-7\"]}")
                .get("id").asText();

        var served = flags("environments", "delete", "pr-7");
        assertThat(served.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(served.err()).contains("environment \"pr-7\" is served: archive it first").contains("flags environments archive pr-7");
        assertThat(flags("environments", "archive", "pr-7").exit()).isZero();

        var deleted = flags("environments", "delete", "pr-7", "-m", "preview merged");
        assertThat(deleted.exit()).as(deleted.err()).isZero();
        assertThat(Api.JSON.readTree(deleted.out()).get("deleted").asBoolean()).isTrue();
        assertThat(deleted.err()).isEqualTo("flags: environment \"pr-7\" deleted for good: flags audit -e pr-7 shows its changes;"
                + " its key is not used again; 1 pending schedule was dropped with it, never to run; revoke the tokens made for"
                + " it, which read nothing now: " + sdk
                + " (flags tokens revoke ID)\n");
        assertThat(environments(ADMIN).err()).isEqualTo("flags: no environments this token may read\n");
        var audit = flags("audit", "-e", "pr-7");
        assertThat(audit.exit()).as(audit.err()).isZero();
        assertThat(audit.out()).contains("preview merged");
        var again = flags("environments", "create", "pr-7");
        assertThat(again.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(again.err()).contains("its key is not used again: choose another key");
    }

    @Test
    void eachEnvironmentWithItsFlagsAndSizeAgainstTheLimits() throws Exception {
        Run none = environments(ADMIN);
        assertThat(none.exit()).isZero();
        assertThat(none.out()).isEmpty();
        assertThat(none.err()).isEqualTo("flags: no environments this token may read\n");

        send("POST", "/environments", "{\"key\": \"production\"}");
        for (String key : new String[] {"a", "b", "c"}) {
            send("PUT", "/environments/production/flags/" + key, "{\"enabled\": true}");
        }
        send("POST", "/environments", "{\"key\": \"staging\"}");
        send("PUT", "/environments/staging/flags/big", "{\"enabled\": true, \"description\": \"" + "x".repeat(1500) + "\"}");
        send("DELETE", "/environments/staging", null);
        long production = send("GET", "/environments/production", null).get("bytes").asLong();
        long staging = send("GET", "/environments/staging", null).get("bytes").asLong();

        Run all = environments(ADMIN);
        assertThat(all.exit()).as(all.err()).isZero();
        assertThat(production).isLessThan(1024);
        assertThat(staging).isBetween(1500L, 1600L);
        assertThat(all.out().lines()).containsExactly(
                "ENVIRONMENT  VERSION  FLAGS   SIZE              FULL  STATE",
                "production   v4       3 of 4  " + String.format("%-16s", production + " B of 1 MiB") + "  75%",
                "staging      v3       1 of 4  1.5 KiB of 1 MiB  25%   archived");

        // A tester token reads its own environments only.
        String tester = send("POST", "/tokens", "{\"name\": \"tess\", \"scope\": \"tester\", \"environments\": [\"staging\"],"
                + " \"userId\": \"tess\"}").get("token").asText();
        assertThat(environments(tester).out().lines()).hasSize(2).last().asString().startsWith("staging ");
    }

    @Test
    void sizesReadAsPeopleReadThem() {
        assertThat(Environments.size(0)).isEqualTo("0 B");
        assertThat(Environments.size(1023)).isEqualTo("1023 B");
        assertThat(Environments.size(1024)).isEqualTo("1 KiB");
        assertThat(Environments.size(1536)).isEqualTo("1.5 KiB");
        assertThat(Environments.size(16 << 20)).isEqualTo("16 MiB");
        assertThat(Environments.size((long) (1.25 * (1 << 20)))).isEqualTo("1.3 MiB");
    }
}
