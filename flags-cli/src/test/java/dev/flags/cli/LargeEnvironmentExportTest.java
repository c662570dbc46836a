package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.core.FlagFormat;
import dev.flags.core.FlagSet;
import dev.flags.core.User;
import dev.flags.server.EnvironmentLimits;
import dev.flags.server.FlagServer;
import dev.flags.server.ServerConfig;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An environment larger than the default 16 MiB, as a server with a higher {@code --max-environment-mib} serves it, is
 * exported whole, and the file loads offline (it was refused as larger than a flag file could be).
 */
class LargeEnvironmentExportTest {

    private static final String ADMIN = "cli-test-admin-token-0123456789";
    private static final int FLAGS = 20;

    @TempDir
    Path dir;

    @Test
    void anEnvironmentOver16MiBIsExportedAndTheFileLoadsOffline() throws Exception {
        try (FlagServer server = FlagServer.start(ServerConfig.defaults().withDataDir(dir.resolve("data")).withPorts(0, 0)
                .withBindAddress("127.0.0.1").withAdminToken(ADMIN).withEnvironmentLimits(new EnvironmentLimits(10_000, 24)))) {
            HttpClient http = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + server.httpPort() + "/api/v1/environments";
            send(http, HttpRequest.newBuilder(URI.create(base)).POST(HttpRequest.BodyPublishers.ofString("{\"key\": \"big\"}")));
            // Flags of about 0.95 MiB each: 20 variants with payloads of 50,000 characters.
            String payload = "x".repeat(50_000);
            StringBuilder variants = new StringBuilder();
            for (int v = 0; v < 20; v++) {
                variants.append(v == 0 ? "" : ", ").append("{\"key\": \"v").append(v).append("\", \"weight\": 5, \"payload\": \"")
                        .append(payload).append("\"}");
            }
            for (int i = 0; i < FLAGS; i++) {
                send(http, HttpRequest.newBuilder(URI.create(base + "/big/flags/large-" + i)).PUT(HttpRequest.BodyPublishers
                        .ofString("{\"enabled\": true, \"variants\": [" + variants + "], \"rules\": [{\"name\": \"all\","
                                + " \"conditions\": [{\"percentage\": 100}], \"variant\": \"v" + i + "\"}]}")));
            }

            FlagsCommandTest.Run run = FlagsCommandTest.against(server, ADMIN, "export", "-e", "big");

            assertThat(run.exit()).as(run.err()).isZero();
            byte[] file = run.out().getBytes(StandardCharsets.UTF_8);
            assertThat(file.length).as("over the old bound of a flag file").isGreaterThan(16 << 20);
            Path saved = Files.write(dir.resolve("big.json"), file);
            FlagSet offline = FlagSet.read(saved);
            assertThat(offline.flags()).hasSize(FLAGS);
            assertThat(offline.evaluate("large-7", User.withId("u-1")).variant()).isEqualTo("v7");
            assertThat(FlagFormat.readFile(file).flags()).hasSize(FLAGS);
        }
    }

    private static void send(HttpClient http, HttpRequest.Builder request) throws Exception {
        HttpResponse<String> response = http.send(request.header("Authorization", "Bearer " + ADMIN)
                .header("Content-Type", "application/json").build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(response.body()).isBetween(200, 299);
    }
}
