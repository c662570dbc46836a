package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Behaviour docs/cli.md promises at its edges, against a scripted server (QA71 F9). */
class DocumentedEdgesTest {

    @RegisterExtension
    final ScriptedHttpServer server = new ScriptedHttpServer();

    private FlagsCommandTest.Run flags(String... args) {
        String[] all = java.util.stream.Stream.concat(java.util.Arrays.stream(args),
                java.util.stream.Stream.of(server.serverOption(), "--token=t0ken")).toArray(String[]::new);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = FlagsCommand.run(all, new PrintWriter(out, true), new PrintWriter(err, true));
        return new FlagsCommandTest.Run(exit, out.toString(), err.toString());
    }

    @Test
    void anEmptyCommentIsBadUsageOnceForSeveralFlagsAsForOne() {
        for (String[] args : new String[][] {{"off", "a", "-m", ""}, {"off", "a", "b", "-m", ""}}) {
            FlagsCommandTest.Run r = flags(args);
            assertThat(r.exit()).as(String.join(" ", args) + ": " + r.err()).isEqualTo(FlagsCommand.EXIT_USAGE);
            assertThat(r.err()).startsWith("flags: the comment (-m) is empty: say why, or leave -m out\n")
                    .containsOnlyOnce("the comment (-m) is empty");
        }
        assertThat(server.requests()).as("nothing switched off").isEmpty();
    }

    @Test
    void noEndedScheduleSaysTheServerKeepsOnlyTheLast100() {
        server.answer(200, null, "{\"environment\": \"production\", \"schedules\": []}");
        FlagsCommandTest.Run r = flags("schedules", "--status", "ended");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.err()).isEqualTo("flags: no scheduled changes (ended) in environment \"production\" among the 100 that"
                + " ended last, which the server keeps (flags audit has every one)\n");
    }
}
