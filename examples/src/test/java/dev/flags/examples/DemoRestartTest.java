package dev.flags.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.flags.examples.demo.Demo;
import dev.flags.server.FlagServer;
import dev.flags.server.ServerConfig;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A demo stopped during its first start, the seeding's two seconds: the next start goes on from there. */
class DemoRestartTest {

    @TempDir
    Path dir;

    @Test
    void aSeedingCutShortIsCompletedByTheNextStart() throws Exception {
        Path data = dir.resolve("demo-data");
        long flagVersion;
        // What a first start stopped mid-seeding leaves: the environments, the flag, the role and one token in the
        // journal, and no tokens file.
        try (FlagServer server = FlagServer.start(ServerConfig.defaults().withDataDir(data).withPorts(0, 0)
                .withBindAddress("127.0.0.1"))) {
            String admin = Files.readString(data.resolve("admin-token"), StandardCharsets.UTF_8).trim();
            AdminCalls.call(server, admin, "POST", "/environments", "{\"key\": \"production\"}");
            flagVersion = AdminCalls.call(server, admin, "PUT", "/environments/production/flags/billing-v2", "{\"enabled\": false}")
                    .get("version").asLong();
            AdminCalls.call(server, admin, "POST", "/tokens", "{\"name\": \"pat (product owner)\", \"scope\": \"editor\","
                    + " \"environments\": [\"production\"]}");
        }
        assertThat(data.resolve("demo-tokens.properties")).doesNotExist();

        try (Demo.Running demo = Demo.start(data, 0, 0, 0)) {
            assertThat(data.resolve("demo-tokens.properties")).exists();
            assertThat(demo.app().flags().awaitReady(Duration.ofSeconds(20))).as("the new sdk token works").isTrue();
            String api = "http://127.0.0.1:" + demo.server().httpPort() + "/api/v1";
            JsonNode flag = AdminCalls.call("GET", api + "/environments/production/flags/billing-v2", demo.tokens().editor(), null);
            assertThat(flag.get("version").asLong()).as("the flag the cut-short seeding made is kept, not put again")
                    .isEqualTo(flagVersion);
            assertThat(AdminCalls.call("GET", api + "/environments/staging", demo.tokens().admin(), null).get("flags").asInt())
                    .as("what it had not made yet is made").isEqualTo(1);
            List<String> names = new ArrayList<>();
            AdminCalls.call("GET", api + "/tokens", demo.tokens().admin(), null).get("tokens").forEach(t -> names.add(t.get("name").asText()));
            assertThat(names).as("the token whose secret nobody kept is revoked").containsOnlyOnce("pat (product owner)");
            HttpResponse<String> checkout = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                    + demo.app().port() + "/checkout")).header("X-User-Id", "tess").POST(HttpRequest.BodyPublishers.noBody()).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(checkout.statusCode()).as(checkout.body()).isEqualTo(200);
        }
    }

    @Test
    void aTokensFileFromBeforeOperatorTokensGetsOneAndKeepsTheOthersPrivate() throws Exception {
        Path data = dir.resolve("demo-data");
        Path file = data.resolve("demo-tokens.properties");
        String editor;
        try (Demo.Running first = Demo.start(data, 0, 0, 0)) {
            editor = first.tokens().editor();
        }
        Properties old = new Properties();
        try (var in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            old.load(in);
        }
        old.remove("operator"); // as a demo from before operator tokens wrote it
        try (var out = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            old.store(out, null);
        }
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--")); // as an older demo may have left it

        try (Demo.Running again = Demo.start(data, 0, 0, 0)) {
            assertThat(again.tokens().operator()).isNotBlank();
            assertThat(again.tokens().editor()).isEqualTo(editor);
            Properties now = new Properties();
            try (var in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                now.load(in);
            }
            assertThat(now.getProperty("operator")).isEqualTo(again.tokens().operator());
            assertThat(now.getProperty("editor")).isEqualTo(editor);
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
            assertThat(data.resolve("demo-tokens.properties.new")).doesNotExist();
        }
    }

    @Test
    void aJournalStartedAnewUnderAKeptTokensFileIsSeededAgain() throws Exception {
        Path data = dir.resolve("demo-data");
        String oldEditor;
        try (Demo.Running first = Demo.start(data, 0, 0, 0)) {
            oldEditor = first.tokens().editor();
        }
        // An operator starting an empty server on purpose (server.md): the journal and its marker deleted, the rest kept.
        try (var files = Files.walk(data.resolve("journal"))) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
        Files.delete(data.resolve("journal-created"));
        assertThat(data.resolve("demo-tokens.properties")).exists();

        try (Demo.Running again = Demo.start(data, 0, 0, 0)) {
            assertThat(again.tokens().editor()).as("new tokens, the old ones being unknown").isNotEqualTo(oldEditor);
            assertThat(again.app().flags().awaitReady(Duration.ofSeconds(20))).as("the new sdk token works").isTrue();
            String api = "http://127.0.0.1:" + again.server().httpPort() + "/api/v1";
            assertThat(AdminCalls.call("GET", api + "/environments/production/flags/billing-v2", again.tokens().editor(), null)
                    .get("enabled").asBoolean()).isFalse();
            Properties now = new Properties();
            try (var in = Files.newBufferedReader(data.resolve("demo-tokens.properties"), StandardCharsets.UTF_8)) {
                now.load(in);
            }
            assertThat(now.getProperty("editor")).as("the file holds the tokens that work").isEqualTo(again.tokens().editor());
        }
    }

    @Test
    void aStopWhileTheFirstStartSeedsClosesTheJournalAndKeepsTheSeeding() throws Exception {
        Path data = dir.resolve("demo-data");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Demo.class.getName(), "--data-dir",
                data.toString(), "--http-port", "0", "--grpc-port", "0", "--app-port", "0").redirectErrorStream(true).start();
        StringBuilder said = new StringBuilder();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null) {
                said.append(line).append('\n');
                if (line.contains("flag server ready")) {
                    // The server is up and the seeding begins: stopped now, as a user's Ctrl-C at the first start.
                    p.toHandle().destroy(); // SIGTERM; Process.destroy would close the output being read too
                }
            }
        }
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        // A closed journal empties its lock file; a killed one leaves its holder there, for the next start's WARN.
        assertThat(Files.readString(data.resolve("journal").resolve("journal.lock"))).as(said.toString()).isEmpty();
        assertThat(said).contains("asked to stop while it starts").doesNotContain("\tat ")
                .as("a demo stopped during its start does not say it is running").doesNotContain("The demo is running");
        assertThat(data.resolve("demo-tokens.properties")).as("the seeding ended before the stop").exists();
        try (Demo.Running again = Demo.start(data, 0, 0, 0)) {
            assertThat(again.app().flags().awaitReady(Duration.ofSeconds(20))).isTrue();
        }
    }
}
