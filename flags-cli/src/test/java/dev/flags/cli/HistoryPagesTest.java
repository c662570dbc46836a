package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@code flags history} follows the server's pages back to the first version, or stops at --last. */
class HistoryPagesTest {

    @RegisterExtension
    final ScriptedHttpServer server = new ScriptedHttpServer();

    /** A page of versions from..to (inclusive), with where the earlier ones start if there are any. */
    private static String page(int from, int to) {
        String versions = IntStream.rangeClosed(from, to).mapToObj(v -> "{\"version\": " + v
                + ", \"timestamp\": \"2026-12-03T10:00:00Z\", \"change\": \"flag_updated\", \"actor\": \"alice\", \"comment\": \"step "
                + v + "\", \"flag\": {\"key\": \"billing-v2\", \"enabled\": true}}").collect(Collectors.joining(", "));
        return "{\"versions\": [" + versions + "]" + (from > 1 ? ", \"earlier\": " + from : "") + "}";
    }

    private FlagsCommandTest.Run history(String... options) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        String[] args = new String[3 + options.length];
        args[0] = "history";
        args[1] = server.serverOption();
        args[2] = "--token=t0ken";
        System.arraycopy(options, 0, args, 3, options.length);
        int exit = FlagsCommand.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new FlagsCommandTest.Run(exit, out.toString(), err.toString());
    }

    @Test
    void everyPageIsFetchedAndTheVersionsPrintedOldestFirst() {
        server.answer(200, null, page(6, 8));
        server.answer(200, null, page(3, 5));
        server.answer(200, null, page(1, 2));
        FlagsCommandTest.Run run = history("billing-v2");
        assertThat(run.exit()).as(run.err()).isZero();
        assertThat(run.out().lines().map(l -> l.split("\\s+")[0]).collect(Collectors.toList()))
                .containsExactly("v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8");
        assertThat(server.requests()).containsExactly("GET /api/v1/environments/production/flags/billing-v2/history",
                "GET /api/v1/environments/production/flags/billing-v2/history?before=6",
                "GET /api/v1/environments/production/flags/billing-v2/history?before=3");
    }

    @Test
    void theCommentsLineUpWhateverTheActorsLength() {
        String schedule = "flags-server (schedule sch-4f2a9c01d3e7 by pat (tok-1a2b3c4d))";
        server.answer(200, null, "{\"versions\": ["
                + "{\"version\": 1, \"timestamp\": \"2026-12-03T10:00:00Z\", \"change\": \"flag_created\", \"actor\": \"al\", \"comment\": \"dark\"},"
                + "{\"version\": 2, \"timestamp\": \"2026-12-03T10:00:00Z\", \"change\": \"schedule_applied\", \"actor\": \"" + schedule
                + "\", \"comment\": \"ramp\"},"
                + "{\"version\": 3, \"timestamp\": \"2026-12-03T10:00:00Z\", \"change\": \"flag_updated\", \"actor\": \"" + "x".repeat(80)
                + "\", \"comment\": \"long\"}]}");
        FlagsCommandTest.Run run = history("billing-v2");
        assertThat(run.exit()).as(run.err()).isZero();
        List<String> lines = run.out().lines().toList();
        assertThat(lines.get(0).indexOf("dark")).as(run.out()).isEqualTo(lines.get(1).indexOf("ramp"))
                .isGreaterThanOrEqualTo(lines.get(1).indexOf(schedule) + schedule.length() + 2);
        assertThat(lines.get(2)).as("an actor past 64 characters moves only its own comment").contains("x".repeat(80) + "  long");
    }

    @Test
    void theCommentsLineUpOnATerminalWhenAnActorIsWrittenInCjk() {
        server.answer(200, null, "{\"versions\": ["
                + "{\"version\": 1, \"timestamp\": \"2026-12-03T10:00:00Z\", \"change\": \"flag_created\", \"actor\": \"山田 (tok-1)\", \"comment\": \"dark\"},"
                + "{\"version\": 2, \"timestamp\": \"2026-12-03T10:00:00Z\", \"change\": \"flag_updated\", \"actor\": \"bob (tok-2)\", \"comment\": \"ramp\"}]}");
        FlagsCommandTest.Run run = history("billing-v2");
        assertThat(run.exit()).as(run.err()).isZero();
        List<String> lines = run.out().lines().toList();
        // Each ideograph takes two cells: "山田 (tok-1)" is 12 cells wide, as "bob (tok-2)" padded with one space.
        assertThat(Columns.width(lines.get(0).substring(0, lines.get(0).indexOf("dark")))).as(run.out())
                .isEqualTo(lines.get(1).indexOf("ramp"));
        assertThat(lines.get(1)).contains("bob (tok-2)   ramp");
    }

    @Test
    void lastStopsAsSoonAsItHasEnough() {
        server.answer(200, null, page(6, 8));
        server.answer(200, null, page(3, 5));
        FlagsCommandTest.Run run = history("billing-v2", "--last", "4");
        assertThat(run.exit()).as(run.err()).isZero();
        assertThat(run.out().lines().map(l -> l.split("\\s+")[0]).collect(Collectors.toList()))
                .containsExactly("v5", "v6", "v7", "v8");
        assertThat(server.requests()).hasSize(2);

        assertThat(history("billing-v2", "--last", "0").exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
    }

    @Test
    void eachVersionIsOneLineWithWhenWhatWhoAndWhyEvenForACommentOfSeveralLines() {
        server.answer(200, null, """
                {"versions": [
                  {"version": 2, "timestamp": "2026-12-03T10:00:00Z", "change": "flag_created", "actor": "alice", "comment": null},
                  {"version": 3, "timestamp": "2026-12-03T11:00:00Z", "change": "flag_updated", "actor": "bob (editor)",
                   "comment": "incident 42\\nrolled back\\r\\tsee C:\\\\runbook \\u0007\\u2028done"}]}""");
        FlagsCommandTest.Run run = history("billing-v2");
        assertThat(run.exit()).as(run.err()).isZero();
        assertThat(run.out().lines()).containsExactly(
                "v2      2026-12-03T10:00:00Z  flag_created        alice",
                "v3      2026-12-03T11:00:00Z  flag_updated        bob (editor)  incident 42\\nrolled back\\r\\tsee C:\\\\runbook \\u0007\\u2028done");
    }

    @Test
    void historyThatRetentionCutSaysSoOnStderr() {
        String cut = page(40, 41).replace(", \"earlier\": 40}", ", \"retention\": {\"oldestRetainedSequence\": 90,"
                + " \"detail\": \"the journal's entries before sequence 90 were removed by retention\"}}");
        server.answer(200, null, cut);
        FlagsCommandTest.Run run = history("billing-v2");
        assertThat(run.exit()).isZero();
        assertThat(run.out().lines()).hasSize(2);
        assertThat(run.err()).isEqualTo("flags: the journal's entries before sequence 90 were removed by retention\n");

        server.answer(200, null, cut);
        assertThat(history("billing-v2", "--last", "2").err()).as("the newest two are all that was asked for").isEmpty();
    }

    @Test
    void pagesThatDoNotGoBackAreAnErrorNotALoop() {
        server.answer(200, null, page(6, 8));
        server.answer(200, null, page(6, 8));
        FlagsCommandTest.Run run = history("billing-v2");
        assertThat(run.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(run.err()).contains("the server's history pages do not go back (earlier 6 after before 6)");
        assertThat(server.requests()).hasSize(2);
    }
}
