package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code --wait} against lists of SDKs the test chooses, one poll after another: what a real server shows only in a race
 * (an SDK that leaves between two polls, a restart during the wait).
 */
class SdkWaitScriptedTest {

    private static final String FLAG = "{\"key\": \"billing-v2\", \"enabled\": false, \"version\": 4}";
    private static final String BILLING = "{\"instance\": \"0123456789abcdef\", \"application\": \"billing\", \"sdk\": \"\","
            + " \"token\": \"tok-5c1e9a0b2d3f\", \"connectedAt\": \"2026-12-06T09:00:03Z\", \"sentVersion\": 4,"
            + " \"appliedVersion\": 3, \"appliedAt\": \"2026-12-06T09:00:04Z\", \"standing\": \"pending\"}";

    @RegisterExtension
    final ScriptedHttpServer server = new ScriptedHttpServer();

    private static String list(String startedAt, int streams, int pending, String... sdks) {
        return "{\"environment\": \"production\", \"version\": 4, \"target\": 4, \"at\": \"2026-12-06T15:00:00Z\","
                + " \"serverStartedAt\": \"" + startedAt + "\", \"streams\": " + streams + ", \"applied\": " + (streams - pending)
                + ", \"pending\": " + pending + ", \"unconfirmed\": 0, \"sdks\": [" + String.join(", ", sdks) + "], \"more\": 0}";
    }

    private FlagsCommandTest.Run off() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = FlagsCommand.run(new String[] {"off", server.serverOption(), "--token=t0ken", "billing-v2", "--wait", "10s"},
                new PrintWriter(out, true), new PrintWriter(err, true));
        return new FlagsCommandTest.Run(exit, out.toString(), err.toString());
    }

    @Test
    void anSdkThatLeavesBeforeSayingItAppliedTheChangeIsNamedNotCountedAsDone() {
        server.answer(200, null, FLAG);
        server.answer(200, null, list("2026-12-01T00:00:00Z", 1, 1, BILLING));
        server.answer(200, null, list("2026-12-01T00:00:00Z", 0, 0)); // it went: no stream is pending any more
        FlagsCommandTest.Run r = off();
        assertThat(r.exit()).as(r.err()).isEqualTo(1);
        assertThat(r.err()).contains("flags: the change is made, but 1 SDK connected to environment \"production\" left before"
                + " saying it applied version 4", "  billing: an SDK without a name, instance 0123456789abcdef, token"
                + " tok-5c1e9a0b2d3f").doesNotContain("none to wait for");
    }

    /** A list of a fleet of {@code streams} SDKs, as the server cuts it to {@code limit}: {@code sdks} of them shown. */
    private static String fleet(int streams, int pending, List<String> sdks) {
        return list("2026-12-01T00:00:00Z", streams, pending, sdks.toArray(String[]::new))
                .replace("\"more\": 0}", "\"more\": " + (streams - sdks.size()) + "}");
    }

    /** {@code count} applied instances, {@code inst0001} on. */
    private static List<String> applied(int count) {
        List<String> sdks = new ArrayList<>();
        for (int i = 1; i <= count; i++) {
            sdks.add(BILLING.replace("0123456789abcdef", String.format("inst%04d", i)).replace("\"pending\"", "\"applied\"")
                    .replace("\"appliedVersion\": 3", "\"appliedVersion\": 4"));
        }
        return sdks;
    }

    private static List<String> with(String first, List<String> rest) {
        List<String> sdks = new ArrayList<>(List.of(first));
        sdks.addAll(rest);
        return sdks;
    }

    @Test
    void anSdkThatLeavesAFleetOfOver100BeforeSayingItAppliedTheChangeIsNamed() {
        // QA71 F1: 150 streams, listed 100 a poll; the one pending leaves without closing.
        server.answer(200, null, FLAG);
        server.answer(200, null, fleet(150, 1, with(BILLING, applied(99))));
        server.answer(200, null, fleet(149, 0, applied(100))); // not in a list cut short: beyond it, or gone?
        server.answer(200, null, fleet(149, 0, applied(149))); // the whole list: gone
        FlagsCommandTest.Run r = off();
        assertThat(r.exit()).as(r.err()).isEqualTo(1);
        assertThat(r.err()).contains("flags: the change is made, but 1 SDK connected to environment \"production\" left before"
                + " saying it applied version 4", "  billing: an SDK without a name, instance 0123456789abcdef")
                .doesNotContain("have applied version 4");
        assertThat(server.requests().get(3)).as("asked for the whole list").contains("/sdks?limit=1000&version=4&");
    }

    @Test
    void anSdkOfAFleetOfOver100ThatAppliedTheChangeBeyondTheListIsFoundThere() {
        server.answer(200, null, FLAG);
        server.answer(200, null, fleet(150, 1, with(BILLING, applied(99))));
        server.answer(200, null, fleet(150, 0, applied(100)));
        List<String> all = applied(149);
        all.add(BILLING.replace("\"pending\"", "\"applied\"").replace("\"appliedVersion\": 3", "\"appliedVersion\": 4"));
        server.answer(200, null, fleet(150, 0, all));
        FlagsCommandTest.Run r = off();
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.err()).contains("all 150 SDKs connected to environment \"production\" have applied version 4")
                .doesNotContain("left before");
        assertThat(server.requests()).hasSize(4);
    }

    @Test
    void anSdkSeenPendingThatNotEvenTheLongestListShowsIsNoAllClear() {
        // Over 1,000 streams: one missing even from a list at its longest may have applied or left; no way to tell.
        server.answer(200, null, FLAG);
        server.answer(200, null, fleet(1500, 1, with(BILLING, applied(99))));
        server.answer(200, null, fleet(1500, 0, applied(100)));
        server.answer(200, null, fleet(1500, 0, applied(1000)));
        FlagsCommandTest.Run r = off();
        assertThat(r.exit()).as(r.err()).isEqualTo(1);
        assertThat(r.err()).contains("flags: the change is made, but 1 SDK connected to environment \"production\" seen"
                + " pending is not among the 1,000 SDKs the server lists at most, of its 1,500: whether it applied version 4 or"
                + " left cannot be told", "  billing: an SDK without a name, instance 0123456789abcdef")
                .doesNotContain("have applied version 4");
    }

    @Test
    void anSdkClosedByItsApplicationDuringTheWaitServesNothingAndIsNoFailure() {
        server.answer(200, null, FLAG);
        server.answer(200, null, list("2026-12-01T00:00:00Z", 1, 1, BILLING));
        // It said goodbye before its stream ended (QA50a F3: a fleet that scales in is not an incident left open).
        server.answer(200, null, list("2026-12-01T00:00:00Z", 0, 0).replace("\"more\": 0}", "\"more\": 0, \"closed\": ["
                + "{\"instance\": \"0123456789abcdef\", \"application\": \"billing\", \"sdk\": \"\", \"token\":"
                + " \"tok-5c1e9a0b2d3f\", \"appliedVersion\": 3}]}"));
        FlagsCommandTest.Run r = off();
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.err()).contains("flags: 1 SDK connected to environment \"production\" closed during the wait (its"
                + " application closed it: it serves no flags any more)").doesNotContain("left before");
        assertThat(server.requests().get(2)).as("asked from the first answer's time on")
                .endsWith("/sdks?limit=100&version=4&closedAfter=2026-12-06T15%3A00%3A00Z");
    }

    @Test
    void aServerWithoutTheListOfClosedInstancesIsAskedAgainWithoutIt() {
        server.answer(200, null, FLAG);
        server.answer(200, null, list("2026-12-01T00:00:00Z", 1, 1, BILLING));
        server.answer(400, null, "{\"status\": 400, \"title\": \"bad request\", \"detail\": \"unknown query parameter"
                + " \\\"closedAfter\\\": this GET takes version, limit\"}"); // a release from before it
        server.answer(200, null, list("2026-12-01T00:00:00Z", 1, 0, BILLING.replace("\"pending\"", "\"applied\"")
                .replace("\"appliedVersion\": 3", "\"appliedVersion\": 4")));
        FlagsCommandTest.Run r = off();
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.err()).contains("the SDK connected to environment \"production\" has applied version 4");
        assertThat(server.requests().get(3)).as("asked again as before the list").endsWith("/sdks?limit=100&version=4");
    }

    @Test
    void whoamiOfAServerFromBeforeItSaysItCannotTell() {
        String noEndpoint = "{\"status\": 404, \"title\": \"not found\", \"detail\": \"there is no endpoint GET"
                + " /api/v1/whoami; see docs/api.md\"}";
        server.answer(404, null, noEndpoint);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = FlagsCommand.run(new String[] {"whoami", server.serverOption(), "--token=t0ken"}, new PrintWriter(out, true),
                new PrintWriter(err, true));
        assertThat(exit).isEqualTo(1);
        assertThat(err.toString()).contains("the server does not say who a token is (a release from before whoami)");
    }

    @Test
    void aDryRunApplyAgainstAServerFromBeforeWhoamiLeavesTheTokensRightsToTheApply() throws Exception {
        java.nio.file.Path file = java.nio.file.Files.createTempFile("flags-apply-", ".json");
        try {
            java.nio.file.Files.writeString(file, "{\"formatVersion\": 1, \"flags\": [{\"key\": \"billing-v2\", \"enabled\":"
                    + " false}]}");
            server.answer(200, null, "{\"key\": \"production\", \"archived\": false, \"limits\": {\"flags\": 10000}}");
            server.answer(200, null, "{\"flags\": []}"); // served
            server.answer(200, null, "{\"flags\": []}"); // archived
            server.answer(404, null, "{\"status\": 404, \"title\": \"not found\", \"detail\": \"there is no endpoint GET"
                    + " /api/v1/whoami; see docs/api.md\"}");
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            int exit = FlagsCommand.run(new String[] {"apply", server.serverOption(), "--token=t0ken", "--env=production",
                    file.toString(), "--dry-run"}, new PrintWriter(out, true), new PrintWriter(err, true));
            assertThat(exit).as(err.toString()).isZero();
            assertThat(out.toString()).contains("billing-v2");
            assertThat(err.toString()).isEqualTo("flags: dry run: nothing written; whether this token may write here is the"
                    + " server's to say at the apply\n");
            assertThat(server.requests()).last().asString().endsWith("/api/v1/whoami");
        } finally {
            java.nio.file.Files.deleteIfExists(file);
        }
    }

    @Test
    void flagsSdksListsTheInstancesClosedSinceAnInstantAsClosed() {
        server.answer(200, null, list("2026-12-01T00:00:00Z", 1, 1, BILLING).replace("\"more\": 0}", "\"more\": 0, \"closed\": ["
                + "{\"instance\": \"fedcba9876543210\", \"application\": \"checkout\", \"sdk\": \"flags-java/0.1.0\", \"token\":"
                + " \"tok-5c1e9a0b2d3f\", \"appliedVersion\": 4}]}"));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = FlagsCommand.run(new String[] {"sdks", server.serverOption(), "--token=t0ken", "--closed-after",
                "2026-12-06T15:00:00Z"}, new PrintWriter(out, true), new PrintWriter(err, true));
        assertThat(exit).as(err.toString()).isZero();
        assertThat(server.requests().get(0)).endsWith("/sdks?limit=100&closedAfter=2026-12-06T15%3A00%3A00Z");
        assertThat(out.toString().lines().toList()).hasSize(3).last().asString()
                .matches("checkout +flags-java/0\\.1\\.0 +fedcba9876543210 +closed +v4 +- +-");
        assertThat(err.toString()).endsWith("; 1 closed by their application since 2026-12-06T15:00:00Z\n");
        StringWriter bad = new StringWriter();
        assertThat(FlagsCommand.run(new String[] {"sdks", server.serverOption(), "--token=t0ken", "--closed-after", "1h"},
                new PrintWriter(new StringWriter(), true), new PrintWriter(bad, true))).isEqualTo(2);
        assertThat(bad.toString()).contains("--closed-after must be an instant such as 2026-12-06T15:00:00Z; was '1h'");
    }

    @Test
    void aRestartDuringTheWaitIsNotAnAllClear() {
        server.answer(200, null, FLAG);
        server.answer(200, null, list("2026-12-01T00:00:00Z", 1, 1, BILLING));
        server.answer(200, null, list("2026-12-06T14:59:58Z", 0, 0)); // back up, its SDKs not yet
        FlagsCommandTest.Run r = off();
        assertThat(r.exit()).as(r.err()).isEqualTo(1);
        assertThat(r.err()).contains("the server restarted during the wait").doesNotContain("none to wait for");
    }

    @Test
    void aServerStartedLatelyIsSaid() {
        server.answer(200, null, FLAG);
        server.answer(200, null, list("2026-12-06T14:59:50Z", 0, 0));
        FlagsCommandTest.Run r = off();
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.err()).contains("no SDK is connected", "note: the server started 10 s ago: SDKs that were connected"
                + " before it reconnect within 30 s");
    }

    @Test
    void aWaitKeepsToItsTimeWhenTheTokensReadsAreSpent() {
        server.answer(200, null, FLAG);
        server.answer(429, "30", "{\"status\": 429, \"title\": \"too many requests\", \"detail\": \"this token made more"
                + " than 4 reads in a minute; the next one is accepted in 30 s\"}");
        long start = System.nanoTime();
        FlagsCommandTest.Run r = off(); // --wait 10s
        assertThat(java.time.Duration.ofNanos(System.nanoTime() - start)).as("not the 30 s the server asked (QA49a F8)")
                .isLessThan(java.time.Duration.ofSeconds(10));
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("the change is made, but cannot wait for the SDKs: this token made more than 4 reads")
                .doesNotContain("trying again in 30 s");
    }

    @Test
    void aStoppingServerIsNoAllClear() {
        server.answer(200, null, FLAG);
        server.answer(503, null, "{\"status\": 503, \"title\": \"service unavailable\", \"detail\": \"the server is"
                + " stopping: its SDKs' streams are closed and they reconnect\"}");
        FlagsCommandTest.Run r = off();
        assertThat(r.exit()).as(r.err()).isEqualTo(1);
        assertThat(r.err()).contains("the change is made, but cannot wait for the SDKs: the server is stopping");
    }
}
