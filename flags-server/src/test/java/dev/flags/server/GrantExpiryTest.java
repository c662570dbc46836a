package dev.flags.server;

import static dev.flags.server.ServerFixture.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.flags.protocol.v1.RoleGrant;
import dev.flags.protocol.v1.SyncMessage;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.FileJournal;
import dev.flags.server.journal.Grant;
import dev.flags.server.journal.MutableClock;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Role grants that expire: how they are asked for over HTTP, and how the server revokes them. */
class GrantExpiryTest {

    private static final String MEMBERS = "/api/v1/environments/production/roles/beta-tester/members/";

    @TempDir
    Path dir;

    private static void assertBadRequest(ApiClient.Response r, String detail) {
        assertThat(r.status()).as(r.body()).isEqualTo(400);
        assertThat(r.json().get("detail").asText()).isEqualTo(detail);
    }

    @Test
    void aGrantTakesAnExpiryAsAnInstantOrADurationAndTheRolesListShowsIt() throws Exception {
        try (FlagServer server = ServerFixture.start(dir.resolve("data"))) {
            ApiClient api = new ApiClient(server.httpPort());
            api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}");
            api.put("/api/v1/environments/production/roles/beta-tester", ADMIN, "{\"selfService\": true}");
            String tester = api.post("/api/v1/tokens", ADMIN, "{\"name\": \"tess\", \"scope\": \"tester\","
                    + " \"environments\": [\"production\"], \"userId\": \"tess\"}").json().get("token").asText();

            Instant before = Instant.now();
            JsonNode granted = api.put(MEMBERS + "tess", tester, "{\"expiresIn\": \"PT8H\"}").json();
            Instant until = Instant.parse(granted.get("expiresAt").asText());
            assertThat(until).isBetween(before.plus(Duration.ofHours(8)).minusSeconds(1), Instant.now().plus(Duration.ofHours(8)).plusSeconds(1));
            assertThat(granted.get("changed").asBoolean()).isTrue();
            JsonNode roles = api.get("/api/v1/environments/production/roles", tester).json();
            assertThat(roles.at("/members/beta-tester/0").asText()).isEqualTo("tess");
            assertThat(roles.at("/expiresAt/beta-tester/tess").asText()).isEqualTo(until.toString());

            // The same expiry again changes nothing; another one (or none) is a change.
            String sameInstant = "{\"expiresAt\": \"" + until + "\"}";
            assertThat(api.put(MEMBERS + "tess", tester, sameInstant).json().get("changed").asBoolean()).isFalse();
            // Far ahead: this test runs on the wall clock (an instant in the past is refused)
            JsonNode renewed = api.put(MEMBERS + "tess", tester, "{\"expiresAt\": \"2030-01-31T18:00:00+01:00\"}").json();
            assertThat(renewed.get("changed").asBoolean()).isTrue();
            assertThat(renewed.get("expiresAt").asText()).isEqualTo("2030-01-31T17:00:00Z");
            JsonNode forGood = api.put(MEMBERS + "tess", tester, null).json();
            assertThat(forGood.get("changed").asBoolean()).isTrue();
            assertThat(forGood.get("expiresAt").isNull()).isTrue();
            assertThat(api.get("/api/v1/environments/production/roles", tester).json().get("expiresAt").isEmpty()).isTrue();

            // Editors see everyone's expiries; a tester only its own user's.
            api.put(MEMBERS + "ann", ADMIN, "{\"expiresIn\": \"P30D\"}");
            assertThat(api.get("/api/v1/environments/production/roles", ADMIN).json().at("/expiresAt/beta-tester").has("ann")).isTrue();
            assertThat(api.get("/api/v1/environments/production/roles", tester).json().get("expiresAt").isEmpty()).isTrue();

            long version = api.get("/api/v1/environments/production", ADMIN).json().get("version").asLong();
            // The same rules as a token's expiry (TokenExpiryApiTest holds them all), on this path too:
            assertBadRequest(api.put(MEMBERS + "tess", tester, "{\"expiresIn\": \"8 hours\"}"), "\"expiresIn\" must be an ISO-8601"
                    + " duration, such as \"PT8H\", \"P90D\" or \"P1Y\", was \"8 hours\"");
            assertBadRequest(api.put(MEMBERS + "tess", tester, "{\"expiresAt\": \"next friday\"}"), "\"expiresAt\" must be an"
                    + " ISO-8601 instant with its offset, such as \"2027-01-31T00:00:00Z\" or \"2027-01-31T09:00:00+01:00\", was"
                    + " \"next friday\"");
            assertThat(api.put(MEMBERS + "tess", tester, "{\"expiresAt\": \"2020-01-01T00:00:00Z\"}").json().get("detail").asText())
                    .startsWith("expiresAt must be in the future, was 2020-01-01T00:00:00Z (the server's time is ");
            assertBadRequest(api.put(MEMBERS + "tess", tester, "{\"expiresIn\": \"-PT1H\"}"),
                    "expiresIn must be a positive duration, such as PT8H, P90D or P1Y, was -PT1H");
            assertBadRequest(api.put(MEMBERS + "tess", tester, "{\"expiresIn\": \"P10Y1D\"}"),
                    "expiresIn must be at most P10Y (10 years), was P10Y1D");
            assertBadRequest(api.put(MEMBERS + "tess", tester, "{\"expiresIn\": \"PT1H\", \"expiresAt\": \"2027-01-01T00:00:00Z\"}"),
                    "give \"expiresAt\" or \"expiresIn\", not both");
            assertBadRequest(api.put(MEMBERS + "tess", tester, "{\"until\": \"2027-01-01T00:00:00Z\"}"),
                    "\"until\" is not a known field here; the fields are [expiresAt, expiresIn]");
            assertBadRequest(api.put(MEMBERS + "tess", tester, "[]"), "the body must be a JSON object");
            assertBadRequest(api.call("DELETE", MEMBERS + "tess", tester, "{\"expiresIn\": \"PT1H\"}", Map.of()),
                    "a revocation takes no body: it revokes at once (to revoke later, grant again with {\"expiresIn\": ...})");
            assertThat(api.put(MEMBERS + "tom", tester, "{\"expiresIn\": \"eventually\"}").status())
                    .as("another user's grant is forbidden whatever the body says").isEqualTo(403);
            assertThat(api.call("PUT", MEMBERS + "tess", tester, "{\"expiresIn\": \"PT1H\"}", Map.of("Content-Type", "text/plain"))
                    .status()).isEqualTo(415);
            assertThat(api.get("/api/v1/environments/production", ADMIN).json().get("version").asLong())
                    .as("nothing written by a bad request").isEqualTo(version);
        }
    }

    @Test
    void aSelfServiceRoleCanLimitHowLongAnyoneButAnAdminGrantsIt() throws Exception {
        MutableClock clock = new MutableClock(T0);
        try (FlagServer server = FlagServer.start(ServerFixture.config(dir.resolve("data")), clock)) {
            ApiClient api = new ApiClient(server.httpPort());
            api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}");
            String role = "/api/v1/environments/production/roles/beta-tester";
            JsonNode marked = api.put(role, ADMIN, "{\"selfService\": true, \"maxGrantDuration\": \"P7D\"}").json();
            assertThat(marked.get("maxGrantDuration").asText()).isEqualTo("PT168H");
            assertThat(marked.get("changed").asBoolean()).isTrue();
            assertThat(api.put(role, ADMIN, "{\"selfService\": true, \"maxGrantDuration\": \"PT168H\"}").json().get("changed")
                    .asBoolean()).as("the same limit").isFalse();
            assertThat(api.get("/api/v1/environments/production/roles", ADMIN).json().at("/maxGrantDuration/beta-tester").asText())
                    .isEqualTo("PT168H");
            String tester = api.post("/api/v1/tokens", ADMIN, "{\"name\": \"tess\", \"scope\": \"tester\","
                    + " \"environments\": [\"production\"], \"userId\": \"tess\"}").json().get("token").asText();

            // A tester's grant without an expiry lasts the longest the role allows; granting again renews it.
            JsonNode granted = api.put(MEMBERS + "tess", tester, null).json();
            assertThat(granted.get("expiresAt").asText()).isEqualTo("2026-12-11T09:00:00Z");
            assertThat(api.put(MEMBERS + "tess", tester, "{\"expiresIn\": \"PT8H\"}").json().get("changed").asBoolean()).isTrue();
            ApiClient.Response tooLong = api.put(MEMBERS + "tess", tester, "{\"expiresIn\": \"P8D\"}");
            assertThat(tooLong.status()).isEqualTo(403);
            assertThat(tooLong.json().get("detail").asText()).isEqualTo("role \"beta-tester\" in environment \"production\" may be"
                    + " granted for at most 7d (PT168H) by this token (scope tester), until 2026-12-11T09:00:00Z; asked until"
                    + " 2026-12-12T09:00:00Z: ask for less (or no expiry, which is the longest), or ask an admin");
            assertThat(api.put(MEMBERS + "tess", tester, "{\"expiresIn\": \"P7D\"}").status()).as("the longest, exactly").isEqualTo(200);
            clock.advance(Duration.ofHours(1));
            JsonNode renewed = api.put(MEMBERS + "tess", tester, null).json();
            assertThat(renewed.get("changed").asBoolean()).isTrue();
            assertThat(renewed.get("expiresAt").asText()).as("renewed from now").isEqualTo("2026-12-11T10:00:00Z");

            // An admin is not limited: for good, or for longer.
            assertThat(api.put(MEMBERS + "ann", ADMIN, null).json().get("expiresAt").isNull()).isTrue();
            assertThat(api.put(MEMBERS + "bob", ADMIN, "{\"expiresIn\": \"P30D\"}").status()).isEqualTo(200);

            // Marking it again without a limit lifts it; a role that is not self-service has none.
            assertThat(api.put(role, ADMIN, "{\"selfService\": true}").json().get("changed").asBoolean()).isTrue();
            assertThat(api.put(MEMBERS + "tess", tester, "{\"expiresIn\": \"P30D\"}").status()).isEqualTo(200);
            assertThat(api.get("/api/v1/environments/production/roles", ADMIN).json().get("maxGrantDuration").isEmpty()).isTrue();
            assertBadRequest(api.put(role, ADMIN, "{\"selfService\": false, \"maxGrantDuration\": \"P7D\"}"),
                    "\"maxGrantDuration\" limits the grants of a self-service role; a role that is not self-service has none (only"
                            + " admins grant it)");
            for (String bad : List.of("\"PT0S\"", "\"-P1D\"", "\"P1M\"", "\"P4000D\"", "7", "\"PT0.5S\"")) {
                assertThat(api.put(role, ADMIN, "{\"selfService\": true, \"maxGrantDuration\": " + bad + "}").json().get("detail")
                        .asText()).as(bad).startsWith("\"maxGrantDuration\" must be a positive ISO-8601 duration in whole seconds, of"
                                + " at most 3653 days");
            }
        }
    }

    @Test
    void aTesterAskingAgainForARoleAnAdminGaveForLongerKeepsTheAdminsGrant() throws Exception {
        MutableClock clock = new MutableClock(T0);
        try (FlagServer server = FlagServer.start(ServerFixture.config(dir.resolve("data")), clock)) {
            ApiClient api = new ApiClient(server.httpPort());
            api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}");
            api.put("/api/v1/environments/production/roles/beta-tester", ADMIN, "{\"selfService\": true, \"maxGrantDuration\": \"P7D\"}");
            String tess = testerToken(api, "tess");
            String tom = testerToken(api, "tom");
            api.put(MEMBERS + "tess", ADMIN, null); // for good
            api.put(MEMBERS + "tom", ADMIN, "{\"expiresIn\": \"P30D\"}");
            JsonNode before = api.get("/api/v1/environments/production/roles", ADMIN).json();

            // Without an end asked for: the grant stays as the admin made it, and nothing is written.
            JsonNode forGood = api.put(MEMBERS + "tess", tess, null).json();
            assertThat(forGood.get("changed").asBoolean()).isFalse();
            assertThat(forGood.get("expiresAt").isNull()).as("still for good").isTrue();
            JsonNode thirtyDays = api.put(MEMBERS + "tom", tom, null).json();
            assertThat(thirtyDays.get("changed").asBoolean()).isFalse();
            assertThat(thirtyDays.get("expiresAt").asText()).isEqualTo("2027-01-03T09:00:00Z");
            assertThat(api.get("/api/v1/environments/production/roles", ADMIN).json()).isEqualTo(before);

            // An end asked for is the tester's own choice: it is made, within the role's longest grant.
            JsonNode eightHours = api.put(MEMBERS + "tess", tess, "{\"expiresIn\": \"PT8H\"}").json();
            assertThat(eightHours.get("changed").asBoolean()).isTrue();
            assertThat(eightHours.get("expiresAt").asText()).isEqualTo("2026-12-04T17:00:00Z");
            // Held now for less than the longest: asking again without an end renews it to the longest, as before.
            assertThat(api.put(MEMBERS + "tess", tess, null).json().get("expiresAt").asText()).isEqualTo("2026-12-11T09:00:00Z");
        }
    }

    private static String testerToken(ApiClient api, String userId) throws Exception {
        return api.post("/api/v1/tokens", ADMIN, "{\"name\": \"" + userId + "\", \"scope\": \"tester\","
                + " \"environments\": [\"production\"], \"userId\": \"" + userId + "\"}").json().get("token").asText();
    }

    @Test
    @Timeout(60)
    void theServerRevokesAGrantWhenItExpiresTheStreamCarriesItAndTheAuditSaysWhy() throws Exception {
        // The server's clock stands still until the test has seen the grant: on the wall clock, a stream writer
        // held up for the grant's second sent the grant and its revocation as one delta, without "tess". The
        // timer still sleeps for real, and revokes once it wakes to find the clock past the expiry.
        MutableClock clock = new MutableClock(T0);
        try (FlagServer server = FlagServer.start(ServerFixture.config(dir.resolve("data")), clock)) {
            ApiClient api = new ApiClient(server.httpPort());
            api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}");
            String sdk = api.post("/api/v1/tokens", ADMIN, "{\"name\": \"svc\", \"scope\": \"sdk\", \"environments\": [\"production\"]}")
                    .json().get("token").asText();
            try (TestStream sync = TestStream.open(server.grpcPort(), sdk, "production")) {
                Iterator<SyncMessage> stream = sync.messages;
                assertThat(stream.next().hasSnapshot()).isTrue();

                api.put(MEMBERS + "keep", ADMIN, null);
                assertThat(nextGrants(stream)).containsExactly(RoleGrant.newBuilder().setRole("beta-tester").addUserIds("keep").build());
                api.put(MEMBERS + "tess", ADMIN, "{\"expiresIn\": \"PT1S\"}");
                assertThat(nextGrants(stream).get(0).getUserIdsList()).containsExactlyInAnyOrder("keep", "tess");
                clock.advance(Duration.ofSeconds(1));

                // No request: the server itself revokes the grant once its second has passed, and every SDK hears of it.
                assertThat(nextGrants(stream)).containsExactly(RoleGrant.newBuilder().setRole("beta-tester").addUserIds("keep").build());
                JsonNode roles = api.get("/api/v1/environments/production/roles", ADMIN).json();
                assertThat(roles.at("/members/beta-tester").toString()).isEqualTo("[\"keep\"]");
                assertThat(roles.get("expiresAt").isEmpty()).isTrue();
                JsonNode audit = api.get("/api/v1/audit?environment=production", ADMIN).json().get("entries");
                JsonNode last = audit.get(audit.size() - 1);
                assertThat(last.get("change").asText()).isEqualTo("role_revoked");
                assertThat(last.get("subject").asText()).isEqualTo("tess");
                assertThat(last.get("actor").asText()).isEqualTo("flags-server (grant expiry)");
                assertThat(last.get("comment").asText()).startsWith("the grant expired at ");
                assertThat(api.get("/api/v1/audit?environment=production&actor=flags-server", ADMIN).json().get("entries"))
                        .as("the name alone finds it, as a token's name does").hasSize(1);
                assertThat(api.get("/metrics", null).body()).contains("# TYPE flags_grants_expired_total counter");
            }
        }
    }

    @Test
    void grantsThatExpiredWhileTheServerWasStoppedAreGoneBeforeItsPortsOpen() throws Exception {
        MutableClock clock = new MutableClock(T0);
        ServerConfig config = ServerFixture.config(dir.resolve("data"));
        try (FlagServer server = FlagServer.start(config, clock)) {
            ApiClient api = new ApiClient(server.httpPort());
            api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}");
            for (int i = 0; i < 20; i++) {
                api.put(MEMBERS + "user-" + i, ADMIN, "{\"expiresIn\": \"PT1M\"}");
            }
            api.put(MEMBERS + "keep", ADMIN, null);
        }
        clock.advance(Duration.ofMinutes(2));
        try (FlagServer server = FlagServer.start(config, clock)) {
            // No waiting: what a first SDK or request sees once start() returns.
            JsonNode roles = new ApiClient(server.httpPort()).get("/api/v1/environments/production/roles", ADMIN).json();
            assertThat(roles.at("/members/beta-tester").toString()).isEqualTo("[\"keep\"]");
        }
    }

    /** The role grants of the next delta that changes some, skipping heartbeats. */
    private static List<RoleGrant> nextGrants(Iterator<SyncMessage> stream) {
        while (true) {
            SyncMessage m = stream.next();
            if (m.hasDelta() && m.getDelta().getRoleGrantsCount() > 0) {
                return m.getDelta().getRoleGrantsList();
            }
        }
    }

    // ---------------------------------------------------------------- the timer, on a clock the test moves

    private static final Instant T0 = Instant.parse("2026-12-04T09:00:00Z");

    private static Change change(EntryType type, String env, String json) {
        try {
            return Change.of(type, env, "admin", new com.fasterxml.jackson.databind.ObjectMapper().readTree(json));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static Change grant(String user, Instant until) {
        return change(EntryType.ROLE_GRANTED, "production",
                "{\"user\": \"" + user + "\", \"role\": \"beta\"" + (until == null ? "" : ", \"expiresAt\": \"" + until + "\"") + "}");
    }

    /** A journal, its write path and the timer, wired as the server wires them. */
    private static final class Rig implements AutoCloseable {
        final MutableClock clock = new MutableClock(T0);
        final FileJournal journal;
        final GrantExpiry expiry;
        final ChangeWriter writer;
        /** The environment of every committed change, as the write path tells the timer. */
        final BlockingQueue<String> changed = new LinkedBlockingQueue<>();

        Rig(Path dir) {
            journal = FileJournal.builder(dir).clock(clock).open();
            expiry = new GrantExpiry(journal, clock);
            writer = new ChangeWriter(journal, new Metrics(), env -> {
                changed.add(env);
                expiry.environmentChanged(env);
            });
        }

        Set<String> granted() {
            return journal.state().environment("production").orElseThrow().roleGrants().keySet();
        }

        /** Waits for the timer's next committed change. */
        void awaitChange() throws InterruptedException {
            assertThat(changed.poll(10, TimeUnit.SECONDS)).as("a change by the timer").isEqualTo("production");
        }

        @Override
        public void close() {
            expiry.close();
            journal.close();
        }
    }

    @Test
    void grantsThatExpiredWhileTheServerWasStoppedAreRevokedWhenItStartsAndTheOthersAtTheirTime() throws Exception {
        try (Rig rig = new Rig(dir)) {
            rig.writer.append(change(EntryType.ENVIRONMENT_CREATED, "production", "{}"));
            rig.writer.append(grant("tess", T0.plusSeconds(60)));
            rig.writer.append(grant("ann", T0.plusSeconds(3600)));
            rig.writer.append(grant("bob", null));
            rig.changed.clear();
            rig.clock.set(T0.plusSeconds(120));

            rig.expiry.start(rig.writer);
            rig.awaitChange();
            assertThat(rig.granted()).containsExactlyInAnyOrder("ann", "bob");
            assertThat(rig.journal.state().environment("production").orElseThrow().grantExpiries())
                    .isEqualTo(Map.of(new Grant("ann", "beta"), T0.plusSeconds(3600)));

            rig.clock.set(T0.plusSeconds(3600));
            rig.expiry.expireDue(); // what the timer does at that time
            assertThat(rig.granted()).containsExactly("bob");
            rig.expiry.close(); // joins the timer's thread, whose count is then seen
            assertThat(rig.expiry.revokedCount()).isEqualTo(2);
            assertThat(rig.journal.read(1, 100)).filteredOn(e -> e.type() == EntryType.ROLE_REVOKED)
                    .extracting(e -> e.subject() + " by " + e.actor() + ": " + e.comment())
                    .containsExactly("tess by flags-server (grant expiry): the grant expired at 2026-12-04T09:01:00Z",
                            "ann by flags-server (grant expiry): the grant expired at 2026-12-04T10:00:00Z");
        }
    }

    @Test
    void aGrantInAnArchivedEnvironmentIsRevokedOnceTheEnvironmentIsRestored() throws Exception {
        try (Rig rig = new Rig(dir)) {
            rig.writer.append(change(EntryType.ENVIRONMENT_CREATED, "production", "{}"));
            rig.writer.append(grant("tess", T0.plusSeconds(60)));
            rig.writer.append(change(EntryType.ENVIRONMENT_ARCHIVED, "production", "{}"));
            rig.clock.set(T0.plusSeconds(120));
            rig.expiry.start(rig.writer);
            rig.expiry.expireDue();
            assertThat(rig.granted()).as("an archived environment accepts no changes").containsExactly("tess");
            rig.changed.clear();

            rig.writer.append(change(EntryType.ENVIRONMENT_RESTORED, "production", "{}"));
            assertThat(rig.changed.poll()).isEqualTo("production"); // the restore
            rig.awaitChange(); // and, at once, the revocation
            assertThat(rig.granted()).isEmpty();
        }
    }

    @Test
    void aRoundThatCannotWriteTriesAgainInThirtySecondsNotAtOnce() throws Exception {
        try (Rig rig = new Rig(dir)) {
            rig.writer.append(change(EntryType.ENVIRONMENT_CREATED, "production", "{}"));
            rig.writer.append(grant("tess", T0.plusSeconds(60)));
            rig.writer.append(grant("ann", T0.plusSeconds(3600)));
            rig.clock.set(T0.plusSeconds(120));
            rig.writer.drain(Duration.ZERO); // every write now fails, as when the journal has stopped
            rig.expiry.start(rig.writer); // the round at start, on this thread
            assertThat(rig.granted()).containsExactlyInAnyOrder("tess", "ann");
            assertThat(rig.expiry.nextAt()).as("not the grant that is due: that would fail again at once, in a loop")
                    .isEqualTo(T0.plusSeconds(120).plus(GrantExpiry.RETRY));
            rig.clock.set(T0.plusSeconds(3590));
            rig.expiry.expireDue();
            assertThat(rig.expiry.nextAt()).as("a grant that is not due yet comes before the retry")
                    .isEqualTo(T0.plusSeconds(3600));
        }
    }

    @Test
    void theTimerIsSetForTheEarliestExpiryAsGrantsAreMade() throws Exception {
        try (Rig rig = new Rig(dir)) {
            rig.writer.append(change(EntryType.ENVIRONMENT_CREATED, "production", "{}"));
            rig.expiry.start(rig.writer);
            assertThat(rig.expiry.nextAt()).as("no grant expires").isNull();
            rig.writer.append(grant("tess", T0.plusSeconds(60)));
            assertThat(rig.expiry.nextAt()).isEqualTo(T0.plusSeconds(60));
            rig.writer.append(grant("ann", T0.plusSeconds(30)));
            assertThat(rig.expiry.nextAt()).as("an earlier one moves the timer").isEqualTo(T0.plusSeconds(30));
            rig.writer.append(grant("bob", T0.plusSeconds(90)));
            assertThat(rig.expiry.nextAt()).as("a later one does not").isEqualTo(T0.plusSeconds(30));
        }
    }

    @Test
    void aGrantRenewedBeforeItsTimeIsNotRevokedByItsOldExpiry() throws Exception {
        try (Rig rig = new Rig(dir)) {
            rig.writer.append(change(EntryType.ENVIRONMENT_CREATED, "production", "{}"));
            rig.writer.append(grant("tess", T0.plusSeconds(60)));
            rig.expiry.start(rig.writer);
            rig.writer.append(grant("tess", T0.plusSeconds(7200)));
            rig.clock.set(T0.plusSeconds(120));
            rig.expiry.expireDue();
            assertThat(rig.granted()).containsExactly("tess");
            assertThat(rig.expiry.revokedCount()).isZero();
        }
    }

    @Test
    void aGrantExpiresOnTimeWhileOtherWritesOfItsEnvironmentKeepComing() throws Exception {
        MutableClock time = new MutableClock(T0);
        ChangeWriter[] writer = new ChangeWriter[1];
        BusyEnvironmentClock clock = new BusyEnvironmentClock(time, n -> writer[0].append(grant("busy-" + n, null)));
        FileJournal journal = FileJournal.builder(dir).clock(time).open();
        GrantExpiry expiry = new GrantExpiry(journal, clock);
        writer[0] = new ChangeWriter(journal, new Metrics(), expiry::environmentChanged);
        try {
            writer[0].append(change(EntryType.ENVIRONMENT_CREATED, "production", "{}"));
            writer[0].append(grant("tess", T0.plusSeconds(60)));
            time.set(T0.plusSeconds(120));

            clock.busyWhileThisThreadReads(); // start() runs its first round on this thread
            expiry.start(writer[0]);
            clock.quiet();
            EnvironmentState env = journal.state().environment("production").orElseThrow();
            assertThat(env.roleGrants()).as("every write of the busy environment made it").containsKeys("busy-1");
            assertThat(env.roleGrants()).as("tess's grant expired at " + T0.plusSeconds(60) + "; " + clock.writes()
                    + " other writes came meanwhile").doesNotContainKey("tess");
        } finally {
            expiry.close();
            journal.close();
        }
    }
}
