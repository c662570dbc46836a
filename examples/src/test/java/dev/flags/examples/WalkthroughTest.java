package dev.flags.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flags.core.Bucketing;
import dev.flags.examples.demo.Demo;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The walkthrough of examples/README.md, driven against the real flag server and the real billing
 * service over HTTP, checking at every step what each kind of user gets.
 */
class WalkthroughTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();

    @TempDir
    Path dir;

    private Demo.Running demo;

    private JsonNode call(String method, String url, String token, String body) throws Exception {
        return AdminCalls.call(method, url, token, body);
    }

    private String api(String path) {
        return "http://127.0.0.1:" + demo.server().httpPort() + "/api/v1/environments/production" + path;
    }

    /** A change by the product owner, then wait until the billing service's SDK holds it. */
    private void change(String token, String method, String path, String body) throws Exception {
        call(method, api(path), token, body);
        awaitSynced();
    }

    /** Waits (on the SDK's own version, not on time) until the service has the server's latest version. */
    private void awaitSynced() throws Exception {
        long serverVersion = call("GET", api(""), demo.tokens().admin(), null).get("version").asLong();
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (demo.app().flags().freshness().version() < serverVersion) {
            assertThat(System.nanoTime()).as("the billing service never caught up with version " + serverVersion).isLessThan(deadline);
            Thread.onSpinWait();
        }
    }

    private JsonNode checkout(String user, String region, String roles) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + demo.app().port() + "/checkout"))
                .header("X-User-Id", user).header("X-User-Region", region).POST(HttpRequest.BodyPublishers.noBody());
        if (roles != null) {
            b.header("X-User-Roles", roles);
        }
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    private List<String> usersOnV2(String region) throws Exception {
        List<String> on = new ArrayList<>();
        for (int i = 1; i <= 1000; i++) {
            if (checkout("user-" + i, region, null).get("billing").asText().equals("v2")) {
                on.add("user-" + i);
            }
        }
        return on;
    }

    private static List<String> insideRollout(double percent) {
        List<String> inside = new ArrayList<>();
        for (int i = 1; i <= 1000; i++) {
            if (Bucketing.rolloutBucket("billing-v2", "user-" + i) < Bucketing.threshold(percent)) {
                inside.add("user-" + i);
            }
        }
        return inside;
    }

    @Test
    void theReleasePathFromDarkLaunchToCleanUp() throws Exception {
        try (Demo.Running running = Demo.start(dir.resolve("data"), 0, 0, 0)) {
            demo = running;
            assertThat(demo.app().flags().awaitReady(Duration.ofSeconds(20))).isTrue();
            String editor = demo.tokens().editor();
            String tester = demo.tokens().tester();

            // a checkout needs a user to charge
            HttpResponse<String> nobody = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + demo.app().port()
                    + "/checkout")).POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(nobody.statusCode()).isEqualTo(400);
            assertThat(nobody.body()).contains("X-User-Id");
            HttpResponse<String> got = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + demo.app().port()
                    + "/checkout")).header("X-User-Id", "tess").build(), HttpResponse.BodyHandlers.ofString());
            assertThat(got.statusCode()).as("a checkout charges: not on a GET").isEqualTo(405);
            assertThat(got.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("application/problem+json"));
            assertThat(got.body()).as("JSON as the other errors, not a container's HTML page").contains("use POST");

            // 0. shipped dark: off for everyone
            JsonNode tess = checkout("tess", "us-east", null);
            assertThat(tess.get("billing").asText()).isEqualTo("v1");
            assertThat(tess.at("/billing-v2/reason").asText()).isEqualTo("FLAG_OFF");
            assertThat(tess.at("/billing-v2/source").asText()).isEqualTo("LIVE");

            // 1. dark launch: on, but no rule gives it to anybody yet
            change(editor, "PATCH", "/flags/billing-v2?comment=dark%20launch", "{\"enabled\": true}");
            assertThat(checkout("tess", "us-east", null).at("/billing-v2/reason").asText()).isEqualTo("DEFAULT");
            assertThat(usersOnV2("eu-west")).isEmpty();

            // 2. a tester grants themselves beta-tester, for the week the role allows: only they get the new path
            change(tester, "PUT", "/roles/beta-tester/members/tess", null);
            Instant tessUntil = Instant.parse(call("GET", api("/roles"), tester, null).at("/expiresAt/beta-tester/tess").asText());
            assertThat(tessUntil).isBetween(Instant.now().plus(Duration.ofDays(7)).minusSeconds(60), Instant.now().plus(Duration.ofDays(7)).plusSeconds(1)); // rounded up to the second
            JsonNode tessNow = checkout("tess", "us-east", null);
            assertThat(tessNow.get("billing").asText()).isEqualTo("v2");
            assertThat(tessNow.at("/billing-v2/rule").asText()).isEqualTo("beta testers");
            assertThat(checkout("erik", "eu-west", null).get("billing").asText()).isEqualTo("v1");
            assertThat(checkout("otto", "us-east", "beta-tester").get("billing").asText())
                    .as("a role the application gives works too").isEqualTo("v2");

            // 3. a 10% canary in eu-west: exactly the users the documented bucketing puts inside
            change(editor, "PATCH", "/flags/billing-v2", "{\"percentage\": {\"rule\": \"eu canary\", \"value\": 10}}");
            List<String> canary = usersOnV2("eu-west");
            assertThat(canary).isEqualTo(insideRollout(10));
            assertThat(canary.size()).isBetween(60, 140);
            assertThat(usersOnV2("us-east")).isEmpty();

            // 4. ramp to 50%, then 100%: only ever adds users
            change(editor, "PATCH", "/flags/billing-v2", "{\"percentage\": {\"rule\": \"everyone\", \"value\": 50}}");
            List<String> half = usersOnV2("us-east");
            assertThat(half).isEqualTo(insideRollout(50));
            assertThat(half).containsAll(canary);
            change(editor, "PATCH", "/flags/billing-v2", "{\"percentage\": {\"rule\": \"everyone\", \"value\": 100}}");
            assertThat(usersOnV2("us-east")).hasSize(1000);

            // 5. incident: the kill switch turns it off for everyone at once, testers included
            change(editor, "PATCH", "/flags/billing-v2?comment=incident%204711", "{\"enabled\": false}");
            assertThat(usersOnV2("us-east")).isEmpty();
            assertThat(usersOnV2("eu-west")).isEmpty();
            assertThat(checkout("tess", "us-east", null).at("/billing-v2/reason").asText()).isEqualTo("FLAG_OFF");

            // 6. the history says who did what and why
            JsonNode versions = call("GET", api("/flags/billing-v2/history"), editor, null).get("versions");
            List<String> comments = new ArrayList<>();
            versions.forEach(v -> comments.add(v.get("comment").asText()));
            assertThat(comments).contains("ship dark", "dark launch", "incident 4711");
            assertThat(versions.get(versions.size() - 1).get("actor").asText()).startsWith("pat (product owner)");

            // 7. clean-up: on again, then archived once the code no longer asks
            change(editor, "PATCH", "/flags/billing-v2", "{\"enabled\": true}");
            assertThat(checkout("erik", "eu-west", null).get("billing").asText()).isEqualTo("v2");
            change(editor, "DELETE", "/flags/billing-v2", null);
            JsonNode gone = checkout("erik", "eu-west", null);
            assertThat(gone.get("billing").asText()).isEqualTo("v1");
            assertThat(gone.at("/billing-v2/reason").asText()).isEqualTo("FLAG_NOT_FOUND");
        }
    }
}
