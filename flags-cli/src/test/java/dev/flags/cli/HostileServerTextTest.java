package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What a server (or whatever answers in its place) sends cannot drive the terminal of whoever runs the command: the
 * three places a black-box review found printing it raw (QA48a F7).
 */
class HostileServerTextTest {

    /** Clears the screen, colours, and sets the terminal's title. */
    private static final String ESCAPES = "\\u001b[2J\\u001b[31mPWN\\u001b]0;title\\u0007\\u009b";

    @RegisterExtension
    final ScriptedHttpServer server = new ScriptedHttpServer();

    private FlagsCommandTest.Run flags(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        String[] all = new String[args.length + 2];
        all[0] = args[0];
        all[1] = server.serverOption();
        all[2] = "--token=t0ken";
        System.arraycopy(args, 1, all, 3, args.length - 1);
        int exit = FlagsCommand.run(all, new PrintWriter(out, true), new PrintWriter(err, true));
        return new FlagsCommandTest.Run(exit, out.toString(), err.toString());
    }

    private static void assertNoTerminalControls(FlagsCommandTest.Run r) {
        assertThat(r.out() + r.err()).doesNotContain("\u001b").doesNotContain("\u0007").doesNotContain("\u009b");
    }

    @Test
    void anExplanationsStepOfAnUnknownKind() {
        server.answer(200, null, "{\"environment\": \"production\", \"version\": 1, \"results\": [{\"flag\": \"k\","
                + " \"value\": true, \"reason\": {\"kind\": \"DEFAULT\"}, \"flagVersion\": 1, \"explanation\": [{\"step\": \"rule"
                + ESCAPES + "\", \"matched\": true, \"detail\": \"d\"}]}]}");
        FlagsCommandTest.Run r = flags("evaluate", "{\"id\": \"u\"}", "k", "--explain");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("  - rule\\u001b[2J");
        assertNoTerminalControls(r);
    }

    @Test
    void aUsageAnswerWhoseTimeIsNoTime() {
        server.answer(200, null, "{\"environment\": \"production\", \"at\": \"2026-12-06T14:00:00Z" + ESCAPES + "\","
                + " \"since\": null, \"reportInterval\": \"PT1M\", \"flags\": [], \"unknownFlags\": []}");
        FlagsCommandTest.Run r = flags("stale", "--for", "1d");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("the server's usage answer has \"at\": \"2026-12-06T14:00:00Z\\u001b[2J",
                "which is no time: is it a flag server's HTTP API?").doesNotContain("Exception");
        assertNoTerminalControls(r);
    }

    @Test
    void anExportOfAFlagNoFlagFileTakes() {
        server.answer(200, null, "{\"environment\": \"production\", \"flags\": [{\"key\": \"k" + ESCAPES + "\", \"enabled\":"
                + " true, \"version\": 1}]}");
        server.answer(200, null, "{\"environment\": \"production\", \"version\": 1, \"selfService\": [], \"members\": {},"
                + " \"maxGrantDuration\": {}, \"expiresAt\": {}}"); // as GET .../roles answers
        FlagsCommandTest.Run r = flags("export");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("do not make a flag file this release reads");
        assertNoTerminalControls(r);
    }
}
