package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A token over its request budget: the command waits for the server's Retry-After and tries again. */
class RetryAfterTest {

    private static final String REFUSED =
            "{\"status\": 429, \"title\": \"too many requests\", \"detail\": \"this token made more than 600 changes in a minute\"}";
    private static final String SWITCHED_OFF = "{\"key\": \"billing-v2\", \"enabled\": false, \"version\": 7}";
    @RegisterExtension
    final ScriptedHttpServer server = new ScriptedHttpServer();

    private FlagsCommandTest.Run off() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = FlagsCommand.run(new String[] {"off", server.serverOption(), "--token=t0ken", "billing-v2"},
                new PrintWriter(out, true), new PrintWriter(err, true));
        return new FlagsCommandTest.Run(exit, out.toString(), err.toString());
    }

    @Test
    void aRefusedKillSwitchWaitsForRetryAfterAndIsSentAgain() throws Exception {
        server.answer(429, "1", REFUSED);
        server.answer(200, null, SWITCHED_OFF);
        FlagsCommandTest.Run run = off();
        assertThat(run.exit()).as(run.err()).isZero();
        assertThat(run.err()).startsWith("flags: the server limits this token's requests; trying again in 1 s\n"
                + "flags: billing-v2 in environment \"production\" is off (version ");
        assertThat(run.json().get("enabled").asBoolean()).isFalse();
        assertThat(server.requests()).containsExactly("PATCH /api/v1/environments/production/flags/billing-v2",
                "PATCH /api/v1/environments/production/flags/billing-v2");
    }

    @Test
    void aKillSwitchRefusedByABusyServerWaitsForRetryAfterToo() throws Exception {
        server.answer(503, "1", "{\"status\": 503, \"title\": \"busy\", \"detail\": \"the server is reading as many"
                + " request bodies as it reads at once; retry in a second\"}");
        server.answer(200, null, SWITCHED_OFF);
        FlagsCommandTest.Run run = off();
        assertThat(run.exit()).as(run.err()).isZero();
        assertThat(run.err()).startsWith("flags: the server is busy (the server is reading as many request bodies as it"
                + " reads at once; retry in a second); trying again in 1 s\n");
        assertThat(server.requests()).hasSize(2);
    }

    @Test
    void aRetryAfterBeyondAMinuteOrMissingFailsAtOnceWithTheServersMessage() {
        server.answer(429, "3600", REFUSED);
        FlagsCommandTest.Run far = off();
        assertThat(far.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(far.err()).isEqualTo("flags: this token made more than 600 changes in a minute\n");

        server.answer(429, null, REFUSED);
        assertThat(off().exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(server.requests()).hasSize(2);
    }

    @Test
    void itGivesUpAfterAFewRetries() {
        for (int i = 0; i < 4; i++) {
            server.answer(429, "0", REFUSED);
        }
        server.answer(200, null, SWITCHED_OFF);
        FlagsCommandTest.Run run = off();
        assertThat(run.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(server.requests()).hasSize(1 + Api.MAX_RETRIES);
        assertThat(run.err()).contains("this token made more than 600 changes in a minute");
    }
}
