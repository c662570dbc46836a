package dev.flags.server;

import static dev.flags.server.ServerFixture.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.flags.server.journal.MutableClock;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The HTTP API outside the flag write path, where it kept less than api.md says (QA72 F3, F5, F6, F7): tokens,
 * whoami, the audit log's actors, schedules; over a real socket, on a clock that is not on a whole second.
 */
class ApiEdgesTest {

    /** Half a second past a whole second: a server's clock almost never reads a whole second. */
    private static final Instant START = Instant.parse("2026-12-01T09:00:00.500Z");

    @TempDir
    Path dataDir;
    private final MutableClock clock = new MutableClock(START);
    private FlagServer server;
    private ApiClient api;

    @BeforeEach
    void start() throws Exception {
        server = FlagServer.start(ServerFixture.config(dataDir), clock);
        api = new ApiClient(server.httpPort());
        assertThat(api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}").status()).isEqualTo(201);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    /** api.md: expiresIn ... "It must be in the future and at most 10 years ahead ("P10Y")". */
    @Test
    void aTokenMayLastTenYearsAsApiMdSays() {
        ApiClient.Response r = api.post("/api/v1/tokens", ADMIN, "{\"name\": \"decade\", \"scope\": \"editor\","
                + " \"environments\": [\"production\"], \"expiresIn\": \"P10Y\"}");
        assertThat(r.status()).as("P10Y, the longest api.md allows: %s", r.body()).isEqualTo(201);
    }

    /** The same limit for a role grant is honoured: the two differ. */
    @Test
    void aGrantMayLastTenYears() {
        ApiClient.Response r = api.put("/api/v1/environments/production/roles/beta/members/u1", ADMIN,
                "{\"expiresIn\": \"P10Y\"}");
        assertThat(r.status()).as(r.body()).isEqualTo(200);
    }

    /**
     * api.md: actor "tok-1a2b3c4d5e6f (that token's, whatever its name)". A token could be named with another token's id,
     * and its changes then came back as the other token's.
     */
    @Test
    void aTokenMayNotBeNamedAsATokenIdAndAnIdFindsThatTokensChangesOnly() {
        String edId = api.post("/api/v1/tokens", ADMIN, "{\"name\": \"ed\", \"scope\": \"editor\", \"environments\":"
                + " [\"production\"]}").json().get("id").asText();
        ApiClient.Response named = api.post("/api/v1/tokens", ADMIN, "{\"name\": \"" + edId.toUpperCase(java.util.Locale.ROOT)
                .replace("TOK-", "tok-") + "\", \"scope\": \"editor\", \"environments\": [\"production\"]}");
        assertThat(named.status()).as(named.body()).isEqualTo(400);
        assertThat(named.json().get("detail").asText()).contains("name must not be a token id");
        // One named so by an earlier release: ?actor=<id> is that id's token's changes only.
        assertThat(HistoryService.actorMatches(edId, edId + " (tok-0123456789ab)")).isFalse();
        assertThat(HistoryService.actorMatches(edId, "ed (" + edId + ")")).isTrue();
        assertThat(HistoryService.actorMatches("ed", "ed (" + edId + ")")).as("a name still finds its tokens").isTrue();
    }

    /**
     * api.md: whoami's archivedEnvironments are "those of its environments that are archived (they take no change, kill
     * switches included, whatever may says ...)", and an admin's environments are every environment.
     */
    @Test
    void whoamiOfAnAdminNamesTheArchivedEnvironments() {
        assertThat(api.post("/api/v1/environments", ADMIN, "{\"key\": \"pr-7\"}").status()).isEqualTo(201);
        assertThat(api.delete("/api/v1/environments/pr-7", ADMIN).status()).isEqualTo(200);
        JsonNode me = api.get("/api/v1/whoami", ADMIN).json();
        assertThat(me.get("may").toString()).contains("switchOff");
        assertThat(me.get("archivedEnvironments").toString()).as("whoami of the admin token: %s", me).contains("pr-7");
    }

    /**
     * ApiServlet.schedule's contract: "every field always present (null when it does not apply), one shape to read";
     * api.md lists willFail among the fields a schedule shows.
     */
    @Test
    void anEndedScheduleHasTheSameFieldsAsAPendingOne() {
        assertThat(api.put("/api/v1/environments/production/flags/f", ADMIN, "{\"enabled\": false}").status()).isEqualTo(201);
        JsonNode s = api.post("/api/v1/environments/production/flags/f/schedules", ADMIN,
                "{\"at\": \"2026-12-02T09:00:00Z\", \"patch\": {\"enabled\": true}}").json();
        List<String> pending = names(s);
        JsonNode cancelled = api.delete("/api/v1/environments/production/schedules/" + s.get("id").asText(), ADMIN).json();
        assertThat(names(cancelled)).as("fields of a cancelled schedule").containsExactlyInAnyOrderElementsOf(pending);
    }

    private static List<String> names(JsonNode n) {
        List<String> out = new ArrayList<>();
        n.fieldNames().forEachRemaining(out::add);
        return out;
    }
}
