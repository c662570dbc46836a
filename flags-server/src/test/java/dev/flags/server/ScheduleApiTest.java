package dev.flags.server;

import static dev.flags.server.ServerFixture.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.flags.protocol.v1.SyncMessage;
import dev.flags.server.journal.MutableClock;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Scheduled flag changes over HTTP, on a real server: made, listed, cancelled, applied at their time. */
class ScheduleApiTest {

    private static final Instant T0 = Instant.parse("2026-12-04T09:00:00Z");
    private static final String FLAG = "/api/v1/environments/production/flags/billing-v2";
    private static final String SCHEDULES = "/api/v1/environments/production/schedules";
    /** The server's own changes (the test's clock is ahead of the real time: the audit's default end is none). */
    private static final String SERVER_AUDIT = "/api/v1/audit?environment=production&actor=flags-server";

    @TempDir
    Path dir;

    private static String token(ApiClient api, String name, String scope) {
        return api.post("/api/v1/tokens", ADMIN, "{\"name\": \"" + name + "\", \"scope\": \"" + scope + "\","
                + " \"environments\": [\"production\"]" + (scope.equals("tester") ? ", \"userId\": \"tess\"" : "") + "}")
                .json().get("token").asText();
    }

    /** Starts a server, sets it up, schedules a switch-off with the bootstrap admin token, and stops it: its id. */
    private static String plantASwitchOff(ServerConfig config, java.time.Clock clock) throws java.io.IOException {
        try (FlagServer server = FlagServer.start(config, clock)) {
            ApiClient api = new ApiClient(server.httpPort());
            setUp(api);
            return api.post(FLAG + "/schedules", ADMIN, schedule("2026-12-04T12:00:00Z", "{\"enabled\": false}")).json()
                    .get("id").asText();
        }
    }

    private static void setUp(ApiClient api) {
        api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}");
        assertThat(api.put(FLAG, ADMIN, "{\"enabled\": true, \"rules\": [{\"name\": \"eu canary\", \"conditions\":"
                + " [{\"regions\": [\"eu-west\"]}, {\"percentage\": 10}]}]}").status()).isEqualTo(201);
    }

    private static java.util.List<String> ids(ApiClient api, String query) {
        ApiClient.Response r = api.get(SCHEDULES + query, ADMIN);
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        return r.json().get("schedules").findValuesAsText("id");
    }

    private static String schedule(String at, String patch) {
        return "{\"at\": \"" + at + "\", \"patch\": " + patch + "}";
    }

    private static void assertProblem(ApiClient.Response r, int status, String detail) {
        assertThat(r.status()).as(r.body()).isEqualTo(status);
        assertThat(r.header("Content-Type")).startsWith("application/problem+json");
        assertThat(r.json().get("detail").asText()).isEqualTo(detail);
    }

    @Test
    void aRuleNamedByIndexIsKeptByNameTheSameInstantGoesInTheOrderMadeAndAnArchivedEnvironmentsScheduleCanBeCancelled()
            throws Exception {
        MutableClock clock = new MutableClock(T0);
        try (FlagServer server = FlagServer.start(ServerFixture.config(dir.resolve("data")), clock)) {
            ApiClient api = new ApiClient(server.httpPort());
            setUp(api);
            // rule 0 is "eu canary" now: the schedule keeps the name, so a reorder cannot point it at another rule
            JsonNode byIndex = api.post(FLAG + "/schedules", ADMIN,
                    schedule("2026-12-04T10:00:00.750Z", "{\"addRole\": {\"rule\": 0, \"role\": \"staff\"}}")).json();
            assertThat(byIndex.get("patch").toString()).isEqualTo("{\"addRole\":{\"role\":\"staff\",\"rule\":\"eu canary\"}}");
            assertThat(byIndex.get("at").asText()).as("kept to the second").isEqualTo("2026-12-04T10:00:00Z");
            api.post(FLAG + "/schedules", ADMIN, schedule("2026-12-04T11:00:00Z", "{\"percentage\": {\"rule\": \"eu canary\", \"value\": 70}}"));
            clock.advance(Duration.ofMillis(1));
            api.post(FLAG + "/schedules", ADMIN, schedule("2026-12-04T11:00:00Z", "{\"percentage\": {\"rule\": \"eu canary\", \"value\": 30}}"));
            JsonNode pending = api.get(SCHEDULES, ADMIN).json().get("schedules");
            assertThat(pending.get(1).at("/patch/percentage/value").asInt()).as("made first, applied first").isEqualTo(70);
            assertThat(pending.get(2).at("/patch/percentage/value").asInt()).as("made last, the last word").isEqualTo(30);
            assertProblem(api.get(SCHEDULES + "?flag=", ADMIN), 400, "\"flag\" must name a flag; leave it out for every flag's schedules");
            assertProblem(api.post(FLAG + "/schedules", ADMIN, schedule("2026-12-05T09:00:00Z", "{\"enabled\": \"yes\"}")), 400,
                    "in \"patch\": enabled must be true or false, was \"yes\"");

            // archived: its schedules wait, and can be cancelled before a restore would apply them
            String id = byIndex.get("id").asText();
            assertThat(api.call("DELETE", "/api/v1/environments/production", ADMIN, null, Map.of()).status()).isEqualTo(200);
            assertThat(api.delete(SCHEDULES + "/" + id + "?comment=stale", ADMIN).json().get("status").asText()).isEqualTo("cancelled");
        }
    }

    @Test
    void aWriteThatLeavesAPendingScheduleUnableToApplySaysWhichAtOnce() throws Exception {
        MutableClock clock = new MutableClock(T0);
        try (FlagServer server = FlagServer.start(ServerFixture.config(dir.resolve("data")), clock)) {
            ApiClient api = new ApiClient(server.httpPort());
            setUp(api);
            String ramp = api.post(FLAG + "/schedules", ADMIN, schedule("2026-12-04T11:00:00Z",
                    "{\"percentage\": {\"rule\": \"eu canary\", \"value\": 50}}")).json().get("id").asText();
            String off = api.post(FLAG + "/schedules", ADMIN, schedule("2026-12-04T10:00:00Z", "{\"enabled\": false}")).json()
                    .get("id").asText();

            ApiClient.Response untouched = api.patch(FLAG, ADMIN, "{\"description\": \"the new billing\"}");
            assertThat(untouched.header("X-Flags-Schedules-No-Longer-Apply")).as("both still apply").isNull();

            ApiClient.Response renamed = api.put(FLAG, ADMIN, "{\"enabled\": true, \"rules\": [{\"name\": \"eu pilot\","
                    + " \"conditions\": [{\"regions\": [\"eu-west\"]}, {\"percentage\": 10}]}]}");
            assertThat(renamed.status()).isEqualTo(200);
            assertThat(renamed.header("X-Flags-Schedules-No-Longer-Apply")).as("the ramp names the old rule; the switch-off"
                    + " still applies").isEqualTo(ramp);
            assertThat(api.patch(FLAG, ADMIN, "{\"description\": \"again\"}").header("X-Flags-Schedules-No-Longer-Apply"))
                    .as("broken by the write before, not by this one: not named again").isNull();

            ApiClient.Response back = api.post(FLAG + "/revert", ADMIN, "{\"version\": 2}");
            assertThat(back.status()).as(back.body()).isEqualTo(200);
            assertThat(back.header("X-Flags-Schedules-No-Longer-Apply")).as("the rule is back").isNull();
            assertThat(ids(api, "")).containsExactly(off, ramp);

            // Many: the first 20, soonest first, and a count.
            for (int hour = 12; hour < 12 + 21; hour++) {
                api.post(FLAG + "/schedules", ADMIN, schedule("2026-12-0" + (4 + hour / 24) + "T" + String.format("%02d", hour % 24)
                        + ":00:00Z", "{\"percentage\": {\"rule\": \"eu canary\", \"value\": 60}}"));
            }
            String many = api.put(FLAG, ADMIN, "{\"enabled\": true, \"rules\": [{\"name\": \"eu pilot\", \"conditions\":"
                    + " [{\"regions\": [\"eu-west\"]}, {\"percentage\": 10}]}]}").header("X-Flags-Schedules-No-Longer-Apply");
            assertThat(many).startsWith(ramp + ", ").endsWith(", and 2 more (GET .../schedules?flag=billing-v2)");
            assertThat(many.split(", ")).hasSize(21);
        }
    }

    @Test
    void aScheduleIsCheckedAgainstTheFlagAsItWillBeAtItsTimeSoTargetAtNineUntargetAtFiveIsAPlan() throws Exception {
        Path data = dir.resolve("data");
        String target;
        String untarget;
        try (FlagServer server = FlagServer.start(ServerFixture.config(data), new MutableClock(T0))) {
            ApiClient api = new ApiClient(server.httpPort());
            setUp(api);
            ApiClient.Response early = api.post(FLAG + "/schedules", ADMIN, schedule("2026-12-04T09:30:00Z",
                    "{\"removeTarget\": {\"user\": \"u-1\"}}"));
            assertProblem(early, 409, "flag \"billing-v2\" does not target user \"u-1\"; it targets nobody");

            target = api.post(FLAG + "/schedules", ADMIN, schedule("2026-12-04T10:00:00Z",
                    "{\"addTarget\": {\"user\": \"u-1\"}}")).json().get("id").asText();
            ApiClient.Response later = api.post(FLAG + "/schedules", ADMIN, schedule("2026-12-04T17:00:00Z",
                    "{\"removeTarget\": {\"user\": \"u-1\"}}"));
            assertThat(later.status()).as("u-1 is targeted by then: " + later.body()).isEqualTo(201);
            untarget = later.json().get("id").asText();
            assertProblem(api.post(FLAG + "/schedules", ADMIN, schedule("2026-12-04T18:00:00Z",
                    "{\"removeTarget\": {\"user\": \"u-1\"}}")), 409, "flag \"billing-v2\" does not target user \"u-1\";"
                    + " it targets nobody; that is the flag as it will be at 2026-12-04T18:00:00Z, after the 2 pending schedules"
                    + " of it due by then (flags schedules billing-v2)");
            assertThat(api.patch(FLAG, ADMIN, "{\"description\": \"the new billing\"}").header("X-Flags-Schedules-No-Longer-Apply"))
                    .as("the untarget is judged after the target before it").isNull();

            ApiClient.Response overtaken = api.put(FLAG, ADMIN, "{\"enabled\": true, \"targets\": [{\"userIds\": [\"u-2\"]}]}");
            assertThat(overtaken.status()).as(overtaken.body()).isEqualTo(200);
            assertThat(overtaken.header("X-Flags-Schedules-No-Longer-Apply")).as("the target still applies, then the untarget")
                    .isNull();
            // A schedule whose maker's token was revoked will fail: the ones after it are judged without it.
            ApiClient.Response made = api.post("/api/v1/tokens", ADMIN,
                    "{\"name\": \"leaver\", \"scope\": \"editor\", \"environments\": [\"production\"]}");
            String leavers = api.post(FLAG + "/schedules", made.json().get("token").asText(), schedule("2026-12-04T10:30:00Z",
                    "{\"addTarget\": {\"user\": \"u-3\"}}")).json().get("id").asText();
            ApiClient.Response revoked = api.delete("/api/v1/tokens/" + made.json().get("id").asText(), ADMIN);
            assertThat(revoked.header("X-Flags-Schedules-Will-Fail")).contains(leavers);
            assertProblem(api.post(FLAG + "/schedules", ADMIN, schedule("2026-12-04T16:00:00Z",
                    "{\"removeTarget\": {\"user\": \"u-3\"}}")), 409, "flag \"billing-v2\" does not target user \"u-3\"; see its"
                    + " \"targets\" (flags show billing-v2); that is the flag as it will be at 2026-12-04T16:00:00Z, after the"
                    + " pending schedule of it due by then (flags schedules billing-v2)");
            assertThat(api.delete(SCHEDULES + "/" + leavers, ADMIN).status()).isEqualTo(200);

            // A new schedule that leaves a later one unable to apply says so, and the later one's willFail says why.
            ApiClient.Response noon = api.post(FLAG + "/schedules", ADMIN, schedule("2026-12-04T12:00:00Z",
                    "{\"removeTarget\": {\"user\": \"u-1\"}}"));
            assertThat(noon.status()).as(noon.body()).isEqualTo(201);
            assertThat(noon.header("X-Flags-Schedules-No-Longer-Apply")).isEqualTo(untarget);
            assertThat(api.get(SCHEDULES + "/" + untarget, ADMIN).json().get("willFail").asText()).isEqualTo("it no longer"
                    + " applies to the flag as it will be then, after the pending schedules before it: flag \"billing-v2\" does"
                    + " not target user \"u-1\"; see its \"targets\" (flags show billing-v2)");
            List<String> listed = new java.util.ArrayList<>();
            api.get(SCHEDULES, ADMIN).json().get("schedules").forEach(s -> {
                if (!s.get("willFail").isNull()) {
                    listed.add(s.get("id").asText() + ": " + s.get("willFail").asText());
                }
            });
            assertThat(listed).as("listed so too").containsExactly(untarget + ": "
                    + api.get(SCHEDULES + "/" + untarget, ADMIN).json().get("willFail").asText());
            assertThat(api.delete(SCHEDULES + "/" + noon.json().get("id").asText(), ADMIN).header(
                    "X-Flags-Schedules-No-Longer-Apply")).isNull();
            assertThat(api.get(SCHEDULES + "/" + untarget, ADMIN).json().get("willFail").isNull()).as("applies again").isTrue();

            ApiClient.Response dropU2 = api.post(FLAG + "/schedules", ADMIN, schedule("2026-12-04T11:00:00Z",
                    "{\"removeTarget\": {\"user\": \"u-2\"}}"));
            assertThat(dropU2.status()).as(dropU2.body()).isEqualTo(201);
            assertProblem(api.post(FLAG + "/schedules", ADMIN, schedule("2026-12-04T12:00:00Z",
                    "{\"removeTarget\": {\"user\": \"u-2\"}}")), 409, "flag \"billing-v2\" does not target user \"u-2\"; see"
                    + " its \"targets\" (flags show billing-v2); that is the flag as it will be at 2026-12-04T12:00:00Z, after the"
                    + " 2 pending schedules of it due by then (flags schedules billing-v2)");
            ApiClient.Response reliedOnByNone = api.delete(SCHEDULES + "/" + dropU2.json().get("id").asText(), ADMIN);
            assertThat(reliedOnByNone.status()).as(reliedOnByNone.body()).isEqualTo(200);
            assertThat(reliedOnByNone.header("X-Flags-Schedules-No-Longer-Apply")).isNull();
            ApiClient.Response cancelled = api.delete(SCHEDULES + "/" + target, ADMIN);
            assertThat(cancelled.status()).as(cancelled.body()).isEqualTo(200);
            assertThat(cancelled.header("X-Flags-Schedules-No-Longer-Apply")).as("the untarget counted on the target")
                    .isEqualTo(untarget);
            assertThat(api.patch(FLAG, ADMIN, "{\"description\": \"again\"}").header("X-Flags-Schedules-No-Longer-Apply"))
                    .as("broken by the cancel, which said so: not named again").isNull();
            target = api.post(FLAG + "/schedules", ADMIN, schedule("2026-12-04T10:00:00Z",
                    "{\"addTarget\": {\"user\": \"u-1\", \"variant\": null}}")).json().get("id").asText();
        }
        // Past five: both apply at start, in their order, and u-1 is targeted no more.
        try (FlagServer server = FlagServer.start(ServerFixture.config(data), new MutableClock(T0.plus(Duration.ofHours(9))))) {
            ApiClient api = new ApiClient(server.httpPort());
            assertThat(api.get(SCHEDULES + "/" + target, ADMIN).json().get("status").asText()).isEqualTo("applied");
            JsonNode applied = api.get(SCHEDULES + "/" + untarget, ADMIN).json();
            assertThat(applied.get("status").asText()).as(applied.toString()).isEqualTo("applied");
            assertThat(applied.get("flagVersion").isNull()).as("it changed the flag").isFalse();
            assertThat(api.get(FLAG, ADMIN).json().get("targets").toString()).isEqualTo("[{\"userIds\":[\"u-2\"],\"serve\":true}]");
        }
    }

    @Test
    void aSwitchOffNamesTheSchedulesThatWouldSwitchItOnAgainAndAnArchiveTheOnesThatWillFail() throws Exception {
        MutableClock clock = new MutableClock(T0);
        try (FlagServer server = FlagServer.start(ServerFixture.config(dir.resolve("data")), clock)) {
            ApiClient api = new ApiClient(server.httpPort());
            setUp(api);
            String relaunch = api.post(FLAG + "/schedules", ADMIN, schedule("2026-12-04T12:00:00Z", "{\"enabled\": true}")).json()
                    .get("id").asText();
            String ramp = api.post(FLAG + "/schedules", ADMIN, schedule("2026-12-04T11:00:00Z",
                    "{\"percentage\": {\"rule\": \"eu canary\", \"value\": 50}}")).json().get("id").asText();
            String on = api.post(FLAG + "/schedules", ADMIN, schedule("2026-12-04T10:00:00Z", "{\"enabled\": true, \"default\": true}"))
                    .json().get("id").asText();
            assertThat(api.patch(FLAG, ADMIN, "{\"enabled\": true}").header("X-Flags-Schedules-Switch-On")).as("not a switch-off").isNull();

            ApiClient.Response kill = api.patch(FLAG, ADMIN, "{\"enabled\": false}");
            assertThat(kill.status()).isEqualTo(200);
            assertThat(kill.header("X-Flags-Schedules-Switch-On")).as("soonest first; a ramp alone does not switch it on")
                    .isEqualTo(on + " at 2026-12-04T10:00:00Z, " + relaunch + " at 2026-12-04T12:00:00Z");
            ApiClient.Response again = api.patch(FLAG, ADMIN, "{\"enabled\": false}");
            assertThat(again.header("X-Flags-Changed")).isEqualTo("false");
            assertThat(again.header("X-Flags-Schedules-Switch-On")).as("a kill switch thrown twice is told too")
                    .isEqualTo(on + " at 2026-12-04T10:00:00Z, " + relaunch + " at 2026-12-04T12:00:00Z");
            assertThat(api.patch(FLAG, ADMIN, "{\"description\": \"off\"}").header("X-Flags-Schedules-Switch-On"))
                    .as("an edit of a flag that is off is no switch-off").isNull();
            ApiClient.Response put = api.put(FLAG + "?switchOn=true", ADMIN, "{\"enabled\": true}");
            assertThat(put.header("X-Flags-Schedules-No-Longer-Apply")).as("the ramp's rule is gone").isEqualTo(ramp);
            assertThat(api.put(FLAG, ADMIN, "{\"enabled\": false}").header("X-Flags-Schedules-Switch-On"))
                    .as("a PUT that switches it off too").isEqualTo(on + " at 2026-12-04T10:00:00Z, " + relaunch + " at 2026-12-04T12:00:00Z");

            // A token revoked takes its pending schedules with it: its revocation names them.
            ApiClient.Response made = api.post("/api/v1/tokens", ADMIN,
                    "{\"name\": \"leaver\", \"scope\": \"editor\", \"environments\": [\"production\"]}");
            String leaver = made.json().get("token").asText();
            String theirs = api.post(FLAG + "/schedules", leaver, schedule("2026-12-04T13:00:00Z", "{\"enabled\": false}")).json()
                    .get("id").asText();
            String theirsOn = api.post(FLAG + "/schedules", leaver, schedule("2026-12-04T14:00:00Z", "{\"enabled\": true}")).json()
                    .get("id").asText();
            ApiClient.Response revoked = api.delete("/api/v1/tokens/" + made.json().get("id").asText(), ADMIN);
            assertThat(revoked.status()).isEqualTo(200);
            assertThat(revoked.header("X-Flags-Schedules-Will-Fail")).as("only the schedules it made")
                    .isEqualTo("production/" + theirs + " (flag billing-v2 at 2026-12-04T13:00:00Z), production/" + theirsOn
                            + " (flag billing-v2 at 2026-12-04T14:00:00Z)");
            assertThat(api.patch(FLAG, ADMIN, "{\"enabled\": false}").header("X-Flags-Schedules-Switch-On"))
                    .as("a switch-on that will fail (its maker's token revoked) will not undo the kill switch")
                    .isEqualTo(on + " at 2026-12-04T10:00:00Z, " + relaunch + " at 2026-12-04T12:00:00Z");
            JsonNode listed = api.get(SCHEDULES + "/" + theirs, ADMIN).json();
            assertThat(listed.get("status").asText()).isEqualTo("pending");
            assertThat(listed.get("willFail").asText()).as("known before its time").startsWith("the token that made it (tok-")
                    .endsWith(") was revoked: a scheduled change runs only while its maker's token may act");
            assertThat(api.get(SCHEDULES + "/" + on, ADMIN).json().get("willFail").isNull()).isTrue();

            ApiClient.Response archived = api.delete(FLAG + "?comment=gone", ADMIN);
            assertThat(archived.status()).isEqualTo(200);
            assertThat(archived.header("X-Flags-Schedules-No-Longer-Apply")).as("an archived flag takes no change")
                    .isEqualTo(on + ", " + ramp + ", " + relaunch + ", " + theirs + ", " + theirsOn);
        }
    }

    @Test
    void aFlagDeletedForGoodEndsItsPendingSchedulesSoThatANewFlagOfItsKeyIsNotChangedByThem() throws Exception {
        // QA79 F1: they stayed pending, and at their time changed a new flag that took the key (here, switched it on).
        MutableClock clock = new MutableClock(T0);
        ServerConfig config = ServerFixture.config(dir.resolve("data"));
        try (FlagServer server = FlagServer.start(config, clock)) {
            ApiClient api = new ApiClient(server.httpPort());
            setUp(api);
            String later = api.post(FLAG + "/schedules", ADMIN, schedule("2026-12-04T11:00:00Z", "{\"enabled\": true}")).json()
                    .get("id").asText();
            String sooner = api.post(FLAG + "/schedules", ADMIN, schedule("2026-12-04T10:00:00Z",
                    "{\"description\": \"old plan\"}")).json().get("id").asText();
            assertThat(api.delete(FLAG, ADMIN).status()).isEqualTo(200); // archived: they stay pending (a restore keeps them)
            assertThat(ids(api, "?flag=billing-v2")).containsExactly(sooner, later);

            ApiClient.Response deleted = api.delete(FLAG + "?archived=true&comment=make%20room", ADMIN);
            assertThat(deleted.status()).as(deleted.body()).isEqualTo(200);
            assertThat(deleted.json().get("endedSchedules")).extracting(JsonNode::asText).as("soonest first")
                    .containsExactly(sooner, later);
            assertThat(ids(api, "?flag=billing-v2")).as("none pending").isEmpty();
            JsonNode ended = api.get(SCHEDULES + "/" + later, ADMIN).json();
            assertThat(ended.get("status").asText()).isEqualTo("failed");
            assertThat(ended.get("reason").asText()).isEqualTo("the flag was deleted for good: a scheduled change is for the flag it"
                    + " was made for, not for a new flag that may take its key");
            JsonNode audit = api.get("/api/v1/audit?environment=production&to=2100-01-01T00:00:00Z", ADMIN).json().get("entries");
            assertThat(audit.findValuesAsText("change")).as("each end is in the journal, before the delete")
                    .endsWith("flag_archived", "schedule_ended", "schedule_ended", "flag_deleted");

            // A new flag of the key, created dark.
            assertThat(api.put(FLAG, ADMIN, "{\"enabled\": false}").status()).isEqualTo(201);
        }
        clock.set(Instant.parse("2026-12-04T12:00:00Z")); // past both times: a start applies what is due, before its ports open
        try (FlagServer server = FlagServer.start(config, clock)) {
            JsonNode flag = new ApiClient(server.httpPort()).get(FLAG, ADMIN).json();
            assertThat(flag.get("enabled").asBoolean()).as("the old flag's plan did not switch the new one on").isFalse();
            assertThat(flag.path("description").asText()).isEmpty();
        }
    }

    @Test
    void aBootstrapAdminTokenReplacedBecauseItLeakedTakesItsPendingSchedulesWithIt() throws Exception {
        MutableClock clock = new MutableClock(T0);
        ServerConfig leaked = ServerFixture.config(dir.resolve("data"));
        String planted = plantASwitchOff(leaked, clock);
        clock.set(Instant.parse("2026-12-04T10:00:00Z"));
        try (FlagServer server = FlagServer.start(leaked, clock)) { // the same token again: nothing changes
            assertThat(new ApiClient(server.httpPort()).get(SCHEDULES + "/" + planted, ADMIN).json().get("willFail").isNull())
                    .isTrue();
        }
        String fresh = "replaced-admin-token-9876543210";
        ServerConfig replaced = leaked.withAdminToken(fresh);
        clock.set(Instant.parse("2026-12-04T11:00:00Z"));
        String mine;
        try (FlagServer server = FlagServer.start(replaced, clock)) {
            ApiClient api = new ApiClient(server.httpPort());
            assertThat(api.get(SCHEDULES, ADMIN).status()).as("the old token is gone").isEqualTo(401);
            assertThat(api.get(SCHEDULES + "/" + planted, fresh).json().get("willFail").asText()).isEqualTo("the token that"
                    + " made it (admin) is a bootstrap admin token replaced since (at 2026-12-04T11:00:00Z): a scheduled change"
                    + " runs only while its maker's token may act");
            mine = api.post(FLAG + "/schedules", fresh, schedule("2026-12-04T12:30:00Z", "{\"description\": \"mine\"}")).json()
                    .get("id").asText();
            assertThat(api.get(SCHEDULES + "/" + mine, fresh).json().get("willFail").isNull()).as("the new token's own").isTrue();
        }
        clock.set(Instant.parse("2026-12-04T13:00:00Z"));
        try (FlagServer server = FlagServer.start(replaced, clock)) {
            ApiClient api = new ApiClient(server.httpPort());
            JsonNode failed = api.get(SCHEDULES + "/" + planted, fresh).json();
            assertThat(failed.get("status").asText()).isEqualTo("failed");
            assertThat(failed.get("reason").asText()).contains("is a bootstrap admin token replaced since");
            assertThat(api.get(SCHEDULES + "/" + mine, fresh).json().get("status").asText()).isEqualTo("applied");
            assertThat(api.get(FLAG, fresh).json().get("enabled").asBoolean()).as("the planted switch-off never ran").isTrue();
        }
        assertThat(java.nio.file.Files.readString(dir.resolve("data").resolve(AdminToken.SINCE_FILE)))
                .as("a fingerprint, never the token").doesNotContain(fresh).endsWith(" 2026-12-04T11:00:00Z\n");
    }

    @Test
    void aDamagedRecordOfTheBootstrapTokenIsNotTakenForAReplacedTokenThatWouldFailItsSchedules() throws Exception {
        MutableClock clock = new MutableClock(T0);
        ServerConfig config = ServerFixture.config(dir.resolve("data"));
        String planted = plantASwitchOff(config, clock);
        java.nio.file.Path since = dir.resolve("data").resolve(AdminToken.SINCE_FILE);
        java.nio.file.Files.writeString(since, ""); // what a power loss can leave of a file renamed before it was on disk
        String logged = StandardErrorCapture.during(() -> {
            try (FlagServer server = FlagServer.start(config, clock)) {
                ApiClient api = new ApiClient(server.httpPort());
                assertThat(api.get(SCHEDULES + "/" + planted, ADMIN).json().get("willFail").isNull()).as("still to run")
                        .isTrue();
            }
        });
        assertThat(logged).contains("WARN", "admin token: "
                + since.toAbsolutePath() + " is damaged (empty); the server cannot tell whether the bootstrap admin token was"
                + " replaced, and takes it as unchanged").doesNotContain("differs from the one this server last ran with");
        assertThat(java.nio.file.Files.readString(since)).as("recorded again, as without the file")
                .matches("pbkdf2-sha256:20000:[0-9a-f]{32}:[0-9a-f]{64} 1970-01-01T00:00:00Z\n");
    }

    @Test
    void aScheduleIsMadeListedReadAndCancelledByEditorsWithClearErrors() throws Exception {
        MutableClock clock = new MutableClock(T0);
        try (FlagServer server = FlagServer.start(ServerFixture.config(dir.resolve("data")), clock)) {
            ApiClient api = new ApiClient(server.httpPort());
            setUp(api);
            String editor = token(api, "alice", "editor");
            String tester = token(api, "tess", "tester");

            ApiClient.Response made = api.call("POST", FLAG + "/schedules", editor,
                    schedule("2026-12-07T09:00:00+01:00", "{\"percentage\": {\"rule\": \"eu canary\", \"value\": 50}}"),
                    Map.of("X-Flags-Comment", "ramp on Monday"));
            assertThat(made.status()).as(made.body()).isEqualTo(201);
            JsonNode s = made.json();
            String id = s.get("id").asText();
            assertThat(id).matches("sch-[0-9a-f]{12}");
            assertThat(made.header("Location")).isEqualTo(SCHEDULES + "/" + id);
            assertThat(s.get("environment").asText()).isEqualTo("production");
            assertThat(s.get("flag").asText()).isEqualTo("billing-v2");
            assertThat(s.get("at").asText()).as("converted to UTC").isEqualTo("2026-12-07T08:00:00Z");
            assertThat(s.get("patch").toString()).isEqualTo("{\"percentage\":{\"rule\":\"eu canary\",\"value\":50}}");
            assertThat(s.get("createdBy").asText()).startsWith("alice (tok-");
            assertThat(s.get("createdAt").asText()).isEqualTo(T0.toString());
            assertThat(s.get("comment").asText()).isEqualTo("ramp on Monday");
            assertThat(s.get("status").asText()).isEqualTo("pending");
            assertThat(s.get("reason").isNull()).isTrue();
            assertThat(api.get(FLAG, editor).json().at("/rules/0/conditions/1/percentage").asInt())
                    .as("nothing changes before its time").isEqualTo(10);

            String off = api.post(FLAG + "/schedules?comment=promo%20ends", ADMIN, schedule("2026-12-05T00:00:00Z",
                    "{\"enabled\": false}")).json().get("id").asText();
            assertThat(api.put("/api/v1/environments/production/flags/other", ADMIN, "{\"enabled\": true}").status()).isEqualTo(201);
            api.post("/api/v1/environments/production/flags/other/schedules", editor, schedule("2026-12-06T00:00:00Z",
                    "{\"enabled\": false}"));

            JsonNode list = api.get(SCHEDULES, editor).json().get("schedules");
            assertThat(list).extracting(n -> n.get("at").asText())
                    .as("soonest first").containsExactly("2026-12-05T00:00:00Z", "2026-12-06T00:00:00Z", "2026-12-07T08:00:00Z");
            assertThat(api.get(SCHEDULES + "?flag=billing-v2", editor).json().get("schedules"))
                    .extracting(n -> n.get("id").asText()).containsExactly(off, id);
            assertThat(api.get(SCHEDULES + "/" + id, editor).json()).isEqualTo(s);

            // Cancelled, with a comment; then it is no longer pending, and a second cancel is a 409.
            JsonNode cancelled = api.call("DELETE", SCHEDULES + "/" + off, editor, null, Map.of("X-Flags-Comment", "keep it on"))
                    .json();
            assertThat(cancelled.get("status").asText()).isEqualTo("cancelled");
            assertThat(cancelled.get("reason").asText()).isEqualTo("keep it on");
            assertThat(cancelled.get("endedBy").asText()).startsWith("alice (tok-");
            assertThat(api.get(SCHEDULES + "?flag=billing-v2", editor).json().get("schedules")).hasSize(1);
            assertThat(api.get(SCHEDULES + "/" + off, editor).json().get("status").asText()).isEqualTo("cancelled");
            assertThat(api.delete(SCHEDULES + "/" + off, editor).status()).isEqualTo(409);
            assertProblem(api.get(SCHEDULES + "/sch-000000000000", editor), 404, "there is no schedule \"sch-000000000000\" in"
                    + " environment \"production\" (ended schedules are kept for a while only; the audit log keeps every one)");
            assertThat(api.delete(SCHEDULES + "/sch-000000000000", editor).status()).isEqualTo(404);
            JsonNode audit = api.get("/api/v1/audit?environment=production&to=2100-01-01T00:00:00Z", ADMIN).json().get("entries");
            assertThat(audit.get(audit.size() - 1).get("change").asText()).isEqualTo("schedule_cancelled");

            long version = api.get("/api/v1/environments/production", ADMIN).json().get("version").asLong();
            // Testers may list and read schedules, not make or cancel them; the patch is checked now, as a PATCH would be.
            assertProblem(api.post(FLAG + "/schedules", tester, schedule("2026-12-07T08:00:00Z", "{\"enabled\": false}")), 403,
                    "this token (scope tester) may not schedule changes of flags in environment \"production\"");
            ApiClient.Response read = api.get(SCHEDULES, tester);
            assertThat(read.status()).as("a tester may read what is planned, not plan it").isEqualTo(200);
            assertThat(read.json().get("schedules").findValuesAsText("id")).contains(id);
            assertThat(api.get(SCHEDULES + "/" + id, tester).status()).isEqualTo(200);
            assertProblem(api.delete(SCHEDULES + "/" + id, tester), 403,
                    "this token (scope tester) may not cancel scheduled changes in environment \"production\"");
            assertProblem(api.post(FLAG + "/schedules", editor, schedule("2026-12-07T08:00:00Z", "{\"enabled\": \"yes\"}")),
                    400, "in \"patch\": enabled must be true or false, was \"yes\"");
            assertProblem(api.post(FLAG + "/schedules", editor, schedule("2026-12-07T08:00:00Z", "{\"turnOn\": true}")), 400,
                    "in \"patch\": \"turnOn\" is not a patch operation; the operations are [addRegion, addRole, addTarget, default, description, enabled,"
                            + " percentage, removeRegion, removeRole, removeTarget]");
            assertProblem(api.post(FLAG + "/schedules", editor, schedule("2026-12-07T08:00:00Z",
                    "{\"percentage\": {\"rule\": \"us canary\", \"value\": 50}}")), 409,
                    "flag \"billing-v2\" has no rule named \"us canary\"; its rules, by index: 0 \"eu canary\"; that is the flag as"
                            + " it will be at 2026-12-07T08:00:00Z, after the pending schedule of it due by then (flags schedules"
                            + " billing-v2)");
            assertProblem(api.post(FLAG + "/schedules", editor, schedule("2026-12-07T08:00:00Z",
                    "{\"percentage\": {\"rule\": 4294967296, \"value\": 50}}")), 409,
                    "flag \"billing-v2\" has no rule 4294967296; its rules, by index: 0 \"eu canary\"; that is the flag as it will"
                            + " be at 2026-12-07T08:00:00Z, after the pending schedule of it due by then (flags schedules"
                            + " billing-v2)");
            ApiClient.Response invalid = api.post(FLAG + "/schedules", editor, schedule("2026-12-07T08:00:00Z",
                    "{\"percentage\": {\"rule\": 0, \"value\": 150}}"));
            assertThat(invalid.status()).as(invalid.body()).isEqualTo(422);
            assertThat(invalid.json().get("problems").get(0).get("path").asText()).isEqualTo("rules[0].conditions[1].percentage");
            assertProblem(api.post("/api/v1/environments/production/flags/nope/schedules", editor,
                    schedule("2026-12-07T08:00:00Z", "{\"enabled\": false}")), 404, "there is no flag \"nope\" in environment"
                    + " \"production\"; create it first with a PUT of its document (flags create or flags put)");
            assertProblem(api.post(FLAG + "/schedules", editor, schedule("2026-12-04T08:59:59Z", "{\"enabled\": false}")), 400,
                    "\"at\" must be in the future, was 2026-12-04T08:59:59Z (the server's time is 2026-12-04T09:00:00Z)");
            assertProblem(api.post(FLAG + "/schedules", editor, schedule("2026-12-04T09:00:00.400Z", "{\"enabled\": false}")),
                    400, "\"at\" must be in the future, was 2026-12-04T09:00:00.400Z, kept to the second as 2026-12-04T09:00:00Z"
                            + " (the server's time is 2026-12-04T09:00:00Z)");
            assertProblem(api.post(FLAG + "/schedules", editor, schedule("2027-12-04T09:00:01Z", "{\"enabled\": false}")), 400,
                    "\"at\" must be at most a year ahead (2027-12-04T09:00:00Z), was 2027-12-04T09:00:01Z");
            assertProblem(api.post(FLAG + "/schedules", editor, schedule("2026-12-07T09:00:00", "{\"enabled\": false}")), 400,
                    "\"at\" must be an ISO-8601 instant with its offset, such as \"2027-01-31T09:00:00Z\" or"
                            + " \"2027-01-31T09:00:00+01:00\", was \"2026-12-07T09:00:00\"");
            assertProblem(api.post(FLAG + "/schedules", editor, "{\"patch\": {\"enabled\": false}}"), 400,
                    "\"at\" is required: when to apply the change, an ISO-8601 instant with its offset, such as"
                            + " \"2027-01-31T09:00:00+01:00\"");
            assertProblem(api.post(FLAG + "/schedules", editor, "{\"at\": \"2026-12-07T08:00:00Z\"}"), 400,
                    "\"patch\" is required: the change, as PATCH .../flags/billing-v2 takes it, such as {\"enabled\": false}");
            assertProblem(api.post(FLAG + "/schedules", editor, "{\"at\": \"2026-12-07T08:00:00Z\", \"patch\": {\"enabled\": false},"
                    + " \"when\": 1}"), 400, "\"when\" is not a known field here; the fields are [at, comment, patch]");
            assertThat(api.get("/api/v1/environments/production", ADMIN).json().get("version").asLong())
                    .as("nothing written by a refused request").isEqualTo(version);
            assertThat(api.put(SCHEDULES + "/" + id, editor, "{}").status()).isEqualTo(405);
        }
    }

    @Test
    void dueSchedulesAreAppliedAtStartBeforeThePortsOpenAndOnesThatNoLongerFitEndAsFailed() throws Exception {
        MutableClock clock = new MutableClock(T0);
        ServerConfig config = ServerFixture.config(dir.resolve("data"));
        String ramp;
        String promo;
        try (FlagServer server = FlagServer.start(config, clock)) {
            ApiClient api = new ApiClient(server.httpPort());
            setUp(api);
            api.put("/api/v1/environments/production/flags/promo", ADMIN, "{\"enabled\": true}");
            String editor = token(api, "alice", "editor");
            ramp = api.call("POST", FLAG + "/schedules", editor,
                    schedule("2026-12-04T10:00:00Z", "{\"percentage\": {\"rule\": \"eu canary\", \"value\": 50}}"),
                    Map.of("X-Flags-Comment", "ramp at ten")).json().get("id").asText();
            promo = api.post("/api/v1/environments/production/flags/promo/schedules", editor,
                    schedule("2026-12-04T10:30:00Z", "{\"enabled\": false}")).json().get("id").asText();
            api.post("/api/v1/environments/production/flags/promo/schedules", editor, schedule("2026-12-05T00:00:00Z",
                    "{\"enabled\": false}"));
            api.delete("/api/v1/environments/production/flags/promo", editor); // archived before its time
        }
        clock.set(Instant.parse("2026-12-04T11:00:00Z"));
        try (FlagServer server = FlagServer.start(config, clock)) {
            // No waiting: what the first request sees once start() returns.
            ApiClient api = new ApiClient(server.httpPort());
            JsonNode flag = api.get(FLAG, ADMIN).json();
            assertThat(flag.at("/rules/0/conditions/1/percentage").asInt()).isEqualTo(50);
            JsonNode applied = api.get(SCHEDULES + "/" + ramp, ADMIN).json();
            assertThat(applied.get("status").asText()).isEqualTo("applied");
            assertThat(applied.get("flagVersion").asLong()).isEqualTo(flag.get("version").asLong());
            String actor = "flags-server (schedule " + ramp + " by " + applied.get("createdBy").asText() + ")";
            assertThat(applied.get("endedBy").asText()).isEqualTo(actor);
            JsonNode last = api.get(FLAG + "/history", ADMIN).json().get("versions");
            last = last.get(last.size() - 1);
            assertThat(last.get("change").asText()).isEqualTo("schedule_applied");
            assertThat(last.get("actor").asText()).isEqualTo(actor);
            assertThat(last.get("comment").asText()).isEqualTo("ramp at ten");
            assertThat(last.at("/flag/rules/0/conditions/1/percentage").asInt()).isEqualTo(50);

            JsonNode failed = api.get(SCHEDULES + "/" + promo, ADMIN).json();
            assertThat(failed.get("status").asText()).isEqualTo("failed");
            assertThat(failed.get("reason").asText()).isEqualTo("flag \"promo\" in environment \"production\" is archived; its"
                    + " history remains, and a PUT of its document or a revert to a version in its history restores it; restore it"
                    + " before changing it");
            JsonNode audit = api.get(SERVER_AUDIT, ADMIN).json().get("entries");
            assertThat(audit).extracting(e -> e.get("change").asText()).containsExactly("schedule_applied", "schedule_ended");
            assertThat(api.get(SCHEDULES, ADMIN).json().get("schedules")).extracting(n -> n.get("at").asText())
                    .as("the one not due yet waits").containsExactly("2026-12-05T00:00:00Z");
            String waiting = api.get(SCHEDULES, ADMIN).json().at("/schedules/0/id").asText();
            assertThat(ids(api, "?status=ended")).as("latest end first; ended together: the reverse of the order applied")
                    .containsExactly(promo, ramp);
            assertThat(ids(api, "?status=failed")).containsExactly(promo);
            assertProblem(api.delete(SCHEDULES + "/" + promo, ADMIN), 409, "schedule \"" + promo
                    + "\" in environment \"production\" already ended: it failed at 2026-12-04T11:00:00Z");
            assertProblem(api.delete(SCHEDULES + "/" + ramp, ADMIN), 409, "schedule \"" + ramp
                    + "\" in environment \"production\" already ended: it was applied at 2026-12-04T11:00:00Z");
            assertThat(ids(api, "?status=applied&flag=billing-v2")).containsExactly(ramp);
            assertThat(ids(api, "?status=cancelled")).isEmpty();
            assertThat(ids(api, "?status=all")).as("what is next, then what just happened").containsExactly(waiting, promo, ramp);
            assertThat(ids(api, "?status=pending")).containsExactly(waiting);
            assertProblem(api.get(SCHEDULES + "?status=done", ADMIN), 400,
                    "status must be pending, applied, failed, cancelled, ended or all, was \"done\"");
            assertThat(api.get("/metrics", null).body()).contains("flags_schedules_applied_total 1")
                    .contains("flags_schedules_failed_total 1");
        }
        clock.set(Instant.parse("2026-12-05T01:00:00Z"));
        try (FlagServer server = FlagServer.start(config, clock)) {
            ApiClient api = new ApiClient(server.httpPort());
            assertThat(api.get(SCHEDULES, ADMIN).json().get("schedules")).isEmpty();
            assertThat(api.get(SERVER_AUDIT, ADMIN).json().get("entries"))
                    .as("a failed schedule is never tried again: one entry each").hasSize(3);
        }
    }

    @Test
    @Timeout(60)
    void aChangeTheServerAppliesAtItsTimeReachesAnSdksStream() throws Exception {
        // The server's clock stands still until the test moves it past the schedule's time: on the wall clock, an
        // "at" two seconds ahead was in the past by the time a slow POST arrived (a 400 instead of the 201). The
        // timer still sleeps for real, and applies the change once it wakes to find the clock past its time.
        MutableClock clock = new MutableClock(T0);
        try (FlagServer server = FlagServer.start(ServerFixture.config(dir.resolve("data")), clock)) {
            ApiClient api = new ApiClient(server.httpPort());
            setUp(api);
            String sdk = token(api, "svc", "sdk");
            try (TestStream sync = TestStream.open(server.grpcPort(), sdk, "production")) {
                Iterator<SyncMessage> stream = sync.messages;
                assertThat(stream.next().hasSnapshot()).isTrue();

                Instant at = T0.plusSeconds(2);
                ApiClient.Response made = api.post(FLAG + "/schedules", ADMIN, schedule(at.toString(), "{\"enabled\": false}"));
                assertThat(made.status()).as(made.body()).isEqualTo(201);
                assertThat(api.get(FLAG, ADMIN).json().get("enabled").asBoolean()).as("not before its time").isTrue();
                clock.set(at);
                // No request: the server applies it at its time, and the SDK hears of it as of any change.
                SyncMessage delta;
                do {
                    delta = stream.next();
                } while (!delta.hasDelta() || delta.getDelta().getUpsertedCount() == 0);
                assertThat(delta.getDelta().getUpserted(0).getKey()).isEqualTo("billing-v2");
                assertThat(delta.getDelta().getUpserted(0).getJson()).contains("\"enabled\":false");
                assertThat(api.get(FLAG, ADMIN).json().get("enabled").asBoolean()).isFalse();
            }
        }
    }
}
