package dev.flags.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flags.client.testing.TestFlags;
import dev.flags.examples.billing.BillingApp;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The billing service's {@code /checkout} over real HTTP, with test flags instead of a server. */
class CheckoutServletTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();
    private BillingApp app;

    @BeforeEach
    void start() throws Exception {
        app = BillingApp.start(0, TestFlags.create().enable("billing-v2"));
    }

    @AfterEach
    void stop() {
        app.close();
    }

    private HttpResponse<String> send(String method, String user, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + app.port() + "/checkout"))
                .method(method, HttpRequest.BodyPublishers.noBody());
        if (user != null) {
            b.header("X-User-Id", user);
        }
        if (headers.length > 0) {
            b.headers(headers);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void aCheckoutIsAPostAndCharges() throws Exception {
        HttpResponse<String> r = send("POST", "tess");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode body = JSON.readTree(r.body());
        assertThat(body.get("receipt").asText()).isEqualTo("v2:tess:1999");
    }

    @Test
    void getAndHeadAreRefusedAndChargeNothing() throws Exception {
        for (String method : new String[] {"GET", "HEAD"}) {
            HttpResponse<String> r = send(method, "tess");
            // A 405 is answered before the charge: the safe methods that prefetchers, link checkers and monitors send
            // (and that a HEAD turns into a doGet) must not charge.
            assertThat(r.statusCode()).as(method).isEqualTo(405);
            assertThat(r.headers().firstValue("Allow")).as(method).hasValue("POST");
            assertThat(r.headers().firstValue("Content-Type")).as(method)
                    .hasValueSatisfying(t -> assertThat(t).startsWith("application/problem+json"));
            if (method.equals("GET")) {
                assertThat(r.body()).contains("GET is not allowed on /checkout; use POST").doesNotContain("receipt");
            }
        }
    }

    @Test
    void aHeaderTooLongForAUserIsA400ProblemNamingIt() throws Exception {
        String tooLong = "a".repeat(1025);
        String[][] cases = {
            {tooLong, "X-User-Region", "eu-west", "X-User-Id must be at most 1024 characters, was 1025"},
            {"tess", "X-User-Region", tooLong, "X-User-Region must be at most 1024 characters, was 1025"},
            {"tess", "X-User-Roles", "beta-tester," + tooLong, "a role in X-User-Roles must be at most 1024 characters, was 1025"},
        };
        for (String[] c : cases) {
            HttpResponse<String> r = send("POST", c[0], c[1], c[2]);
            // As a missing X-User-Id: the client's error, in JSON; not a 500 with the container's HTML page.
            assertThat(r.statusCode()).as(c[3]).isEqualTo(400);
            assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("application/problem+json"));
            assertThat(JSON.readTree(r.body()).get("detail").asText()).isEqualTo(c[3]);
        }
        String manyRoles = ("r".repeat(1000) + ",").repeat(3);
        assertThat(send("POST", "tess", "X-User-Roles", manyRoles).statusCode()).as("each role fits: a long header is fine")
                .isEqualTo(200);
    }

    @Test
    void manyRolesInOneHeaderCostWhatTheirLengthDoes() throws Exception {
        // A header of 60,000 distinct roles (about 400 KB, under the container's header limit): added to the user one at
        // a time, each a copy of the set so far, it held a worker thread for over a minute (QA90 F1; 40,000 took 30 s).
        StringBuilder roles = new StringBuilder();
        for (int i = 0; i < 60_000; i++) {
            roles.append("role-").append(i).append(',');
        }
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + app.port() + "/checkout"))
                .timeout(java.time.Duration.ofSeconds(10)).header("X-User-Id", "tess").header("X-User-Roles", roles.toString())
                .POST(HttpRequest.BodyPublishers.noBody()).build();
        HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    }

    @Test
    void aHeaderGivenTwiceIsNeitherDroppedNorChosenFrom() throws Exception {
        app.close();
        app = BillingApp.start(0, TestFlags.create().setJson("{\"key\": \"billing-v2\", \"enabled\": true, \"rules\": [{\"name\":"
                + " \"beta testers\", \"conditions\": [{\"roles\": [\"beta-tester\"]}]}]}"));
        // Two user ids: a gateway that adds its own X-User-Id after the client's must not leave the client to choose whom
        // to charge (the first line was taken, and charged: QA90 F3).
        HttpResponse<String> twoIds = send("POST", "mallory", "X-User-Id", "alice");
        assertThat(twoIds.statusCode()).as(twoIds.body()).isEqualTo(400);
        assertThat(JSON.readTree(twoIds.body()).get("detail").asText()).isEqualTo("X-User-Id is given 2 times: a checkout"
                + " charges one user (a gateway must replace a client's X-User-Id, not add its own)");
        HttpResponse<String> twoRegions = send("POST", "tess", "X-User-Region", "eu-west", "X-User-Region", "us-east");
        assertThat(twoRegions.statusCode()).as(twoRegions.body()).isEqualTo(400);
        assertThat(JSON.readTree(twoRegions.body()).get("detail").asText()).isEqualTo("X-User-Region is given 2 times: a user"
                + " is in one region");
        // Roles are a list, which HTTP lets a sender split over lines: the second line's roles count (they were dropped).
        HttpResponse<String> twoRoleLines = send("POST", "tess", "X-User-Roles", "staff", "X-User-Roles", "beta-tester");
        assertThat(twoRoleLines.statusCode()).as(twoRoleLines.body()).isEqualTo(200);
        assertThat(JSON.readTree(twoRoleLines.body()).get("billing").asText()).isEqualTo("v2");
    }
}
