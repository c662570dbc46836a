package dev.flags.server;

import static dev.flags.server.ServerFixture.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every endpoint refuses a query parameter it does not take, over a real socket: a misspelt one must
 * not be ignored, least of all where it guards a write.
 */
class QueryParametersTest {

    @TempDir
    Path dataDir;
    private FlagServer server;
    private ApiClient api;

    @BeforeEach
    void start() throws Exception {
        server = ServerFixture.start(dataDir);
        api = new ApiClient(server.httpPort());
        assertThat(api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}").status()).isEqualTo(201);
        assertThat(api.put("/api/v1/environments/production/flags/billing-v2", ADMIN, "{\"enabled\": true}").status())
                .isEqualTo(201);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    /** An endpoint: method, path, a body where it takes one, and the parameters it does take. */
    private record Endpoint(String method, String path, String body, String takes) {
    }

    private static final String E = "/api/v1/environments/production";

    private static final List<Endpoint> ENDPOINTS = List.of(
            new Endpoint("GET", "/api/v1/environments", null, null),
            new Endpoint("POST", "/api/v1/environments", "{\"key\": \"staging\"}", "comment"),
            new Endpoint("GET", E, null, null),
            new Endpoint("DELETE", E, null, "comment, archived, withSdks"),
            new Endpoint("POST", E + "/restore", null, "comment"),
            new Endpoint("GET", E + "/flags", null, "archived, after, limit"),
            new Endpoint("GET", E + "/flags/billing-v2", null, "archived"),
            new Endpoint("PUT", E + "/flags/billing-v2", "{\"enabled\": false}", "comment, switchOn"),
            new Endpoint("PATCH", E + "/flags/billing-v2", "{\"enabled\": false}", "comment"),
            new Endpoint("DELETE", E + "/flags/billing-v2", null, "unusedFor, comment, archived"),
            new Endpoint("GET", E + "/flags/billing-v2/history", null, "before, limit"),
            new Endpoint("POST", E + "/flags/billing-v2/revert", "{\"version\": 1}", "comment"),
            new Endpoint("POST", E + "/flags/billing-v2/schedules", "{\"at\": \"2030-01-01T00:00:00Z\", \"patch\": {}}", "comment"),
            new Endpoint("GET", E + "/schedules", null, "flag, status"),
            new Endpoint("GET", E + "/schedules/s-1", null, null),
            new Endpoint("DELETE", E + "/schedules/s-1", null, "comment"),
            new Endpoint("GET", E + "/usage", null, "flag"),
            new Endpoint("GET", E + "/state", null, "at"),
            new Endpoint("POST", E + "/evaluate", "{\"user\": {\"id\": \"u-1\"}}", null),
            new Endpoint("GET", E + "/roles", null, null),
            new Endpoint("PUT", E + "/roles/beta", "{\"selfService\": true}", "comment"),
            new Endpoint("PUT", E + "/roles/beta/members/ann", null, "comment"),
            new Endpoint("DELETE", E + "/roles/beta/members/ann", null, "comment"),
            new Endpoint("GET", "/api/v1/audit", null, "from, to, limit, after, environment, actor"),
            new Endpoint("GET", "/api/v1/tokens", null, null),
            new Endpoint("POST", "/api/v1/tokens", "{\"name\": \"ci\", \"scope\": \"editor\"}", "comment"),
            new Endpoint("GET", "/api/v1/tokens/t-1", null, null),
            new Endpoint("DELETE", "/api/v1/tokens/t-1", null, "comment"),
            new Endpoint("GET", "/api/v1/whoami", null, null));

    @Test
    void everyEndpointRefusesAParameterItDoesNotTakeAndNamesTheOnesItDoes() {
        long before = version();
        for (Endpoint e : ENDPOINTS) {
            ApiClient.Response r = api.call(e.method(), e.path() + "?colour=blue", ADMIN, e.body(), Map.of());
            String expected = e.takes() == null ? "unknown query parameter \"colour\": this " + e.method() + " takes no query parameters"
                    : "unknown query parameter \"colour\": this " + e.method() + " takes " + e.takes();
            assertThat(r.status()).as(e.method() + " " + e.path() + ": " + r.body()).isEqualTo(400);
            assertThat(r.json().get("detail").asText()).as(e.method() + " " + e.path()).isEqualTo(expected);
        }
        assertThat(version()).as("nothing was written").isEqualTo(before);
    }

    @Test
    void aMisspeltArchiveGuardIsRefusedAndTheFlagStays() {
        ApiClient.Response r = api.call("DELETE", E + "/flags/billing-v2?unusedfor=P7D", ADMIN, null, Map.of());

        assertThat(r.status()).isEqualTo(400);
        assertThat(r.json().get("detail").asText()).isEqualTo("unknown query parameter \"unusedfor\" (did you mean"
                + " \"unusedFor\"?): this DELETE takes unusedFor, comment, archived");
        ApiClient.Response flag = api.get(E + "/flags/billing-v2", ADMIN);
        assertThat(flag.status()).isEqualTo(200);
        assertThat(api.get(E + "/flags?archived=true", ADMIN).json().get("flags")).isEmpty();
    }

    @Test
    void theParametersAnEndpointTakesStillWorkWithEmptyPairsAndEscapedNamesAndNoneMayBeGivenTwice() {
        ApiClient.Response r = api.get(E + "/flags?&archived=false&&", ADMIN);

        assertThat(r.status()).as(r.body()).isEqualTo(200);
        assertThat(r.json().get("flags")).hasSize(1);
        ApiClient.Response twice = api.get(E + "/flags?archived=false&%61rchived=true", ADMIN);
        assertThat(twice.status()).isEqualTo(400);
        assertThat(twice.json().get("detail").asText()).isEqualTo("\"archived\" is given 2 times: give it once");
        ApiClient.Response escaped = api.get(E + "/flags?%63olour=blue", ADMIN);
        assertThat(escaped.json().get("detail").asText()).startsWith("unknown query parameter \"colour\"");
    }

    @Test
    void aClientChosenNameIsShownShortAndEscaped() {
        String longName = "x".repeat(200);
        ApiClient.Response r = api.get(E + "/flags?" + longName + "=1", ADMIN);
        assertThat(r.json().get("detail").asText()).startsWith("unknown query parameter \"" + "x".repeat(77) + "...\":");

        ApiClient.Response control = api.get(E + "/flags?a%0Ab=1", ADMIN);
        assertThat(control.json().get("detail").asText()).startsWith("unknown query parameter \"a\\u000ab\":");
    }

    @Test
    void aFormBodyIsRefusedNotReadAsParameters() {
        Map<String, String> form = Map.of("Content-Type", "application/x-www-form-urlencoded");
        ApiClient.Response delete = api.call("DELETE", E + "/flags/billing-v2", ADMIN, "unusedfor=P7D", form);
        assertThat(delete.status()).isEqualTo(415);
        assertThat(delete.json().get("detail").asText()).isEqualTo("a form body (application/x-www-form-urlencoded) is not read:"
                + " a body is JSON, sent with Content-Type: application/json (curl -d sends a form without -H 'Content-Type:"
                + " application/json'); parameters go in the query string");
        assertThat(api.get(E + "/flags/billing-v2", ADMIN).status()).as("not archived").isEqualTo(200);

        ApiClient.Response list = api.call("GET", E + "/flags", ADMIN, "archived=true", form);
        assertThat(list.status()).isEqualTo(415);
        ApiClient.Response multipart = api.call("DELETE", E + "/flags/billing-v2", ADMIN, "--x--",
                Map.of("Content-Type", "multipart/form-data; boundary=x"));
        assertThat(multipart.status()).isEqualTo(415);
        assertThat(api.get(E + "/flags?archived=true", ADMIN).json().get("flags")).isEmpty();
    }

    @Test
    void aDeleteWithABodyIsRefusedNotIgnored() {
        ApiClient.Response guarded = api.call("DELETE", E + "/flags/billing-v2", ADMIN, "{\"unusedFor\": \"P7D\"}", Map.of());
        assertThat(guarded.status()).isEqualTo(400);
        assertThat(guarded.json().get("detail").asText()).isEqualTo("this DELETE takes no body: give its parameters in the query"
                + " string (?comment=...&unusedFor=P7D) and the comment as ?comment= or X-Flags-Comment");
        assertThat(api.get(E + "/flags/billing-v2", ADMIN).status()).as("not archived").isEqualTo(200);
        for (String path : List.of(E, "/api/v1/tokens/tok-000000000000", E + "/schedules/sch-000000000000")) {
            ApiClient.Response refused = api.call("DELETE", path, ADMIN, "{\"comment\": \"leaked\"}", Map.of());
            assertThat(refused.status()).as(path).isEqualTo(400);
            assertThat(refused.json().get("detail").asText()).as("no parameter it does not take").isEqualTo("this DELETE takes no"
                    + " body: give the comment as ?comment= or X-Flags-Comment");
        }
        assertThat(api.get(E, ADMIN).json().get("archived").asBoolean()).isFalse();
    }

    @Test
    void aValueThatIsNotUtf8IsRefusedRatherThanStoredAsReplacementCharacters() {
        long before = version();
        ApiClient.Response r = api.call("PATCH", E + "/flags/billing-v2?comment=bad%ff%fe", ADMIN, "{\"enabled\": false}", Map.of());

        assertThat(r.status()).isEqualTo(400);
        assertThat(r.json().get("detail").asText()).isEqualTo("the value of query parameter \"comment\" (\"bad%ff%fe\") is not"
                + " UTF-8 once %-decoded; send text as UTF-8, %-encoded");
        assertThat(version()).isEqualTo(before);
        ApiClient.Response utf8 = api.call("PATCH", E + "/flags/billing-v2?comment=caf%C3%A9+au+lait", ADMIN,
                "{\"enabled\": false}", Map.of());
        assertThat(utf8.status()).as(utf8.body()).isEqualTo(200);
        JsonNode versions = api.get(E + "/flags/billing-v2/history", ADMIN).json().get("versions");
        assertThat(versions.get(versions.size() - 1).get("comment").asText()).isEqualTo("café au lait");
    }

    @Test
    void aCommentMayHoldLineBreaksAndTabsButNoOtherControlCharacters() {
        long before = version();
        for (String escaped : List.of("a%00b", "a%1B%5B2Jb", "a%C2%9Bb", "a%0Db", "a%E2%80%AEb", "a%E2%80%A8b")) {
            ApiClient.Response r = api.call("PATCH", E + "/flags/billing-v2?comment=" + escaped, ADMIN, "{\"enabled\": false}", Map.of());
            assertThat(r.status()).as(escaped).isEqualTo(400);
            assertThat(r.json().get("detail").asText()).as(escaped).startsWith("the comment may hold line breaks and tabs but no"
                    + " other control characters, line separators, bidirectional controls or half characters (lone UTF-16 surrogates);"
                    + " character 2 is U+");
        }
        ApiClient.Response body = api.call("POST", "/api/v1/tokens", ADMIN, "{\"name\": \"ci\", \"scope\": \"admin\","
                + " \"comment\": \"a\\u0007b\"}", Map.of());
        assertThat(body.status()).as("in a body too").isEqualTo(400);
        assertThat(version()).isEqualTo(before);
        ApiClient.Response lines = api.call("PATCH", E + "/flags/billing-v2?comment=first%0Asecond%09third", ADMIN,
                "{\"enabled\": false}", Map.of());
        assertThat(lines.status()).as(lines.body()).isEqualTo(200);
    }

    private long version() {
        return api.get(E, ADMIN).json().get("version").asLong();
    }
}
