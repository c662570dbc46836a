package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Answers that are not the API's, though no refusal either (a redirect, a 204, a body without what the API's answer
 * has), are said to be so, exit 1, by every command: none is taken as done, or as an empty list (QA71 F2).
 */
class NotTheApisAnswerTest {

    /** Commands whose requests are each answered alike, as the report found them taken for done. */
    private static final String[] COMMANDS = {"environments create zz", "delete f1",
        "schedule f1 off --at 2027-01-01T00:00:00Z", "unschedule sch-4f2a9c01d3e7", "roles self-service beta on", "show f1",
        "promote f1 --from staging --keep-off", "audit", "environments", "tokens list", "history f1", "list", "off f1",
        "grant beta-tester u1", "whoami", "tokens create ci --scope viewer -e production", "sdks", "usage", "schedules"};

    static Stream<String> commands() {
        return Stream.of(COMMANDS);
    }

    @RegisterExtension
    final ScriptedHttpServer server = new ScriptedHttpServer();

    private FlagsCommandTest.Run flags(String command) {
        String[] args = Stream.concat(Stream.of(command.split(" ")), Stream.of(server.serverOption(), "--token=t0ken"))
                .toArray(String[]::new);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = FlagsCommand.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new FlagsCommandTest.Run(exit, out.toString(), err.toString());
    }

    private void answerEvery(int status, Map<String, String> headers, String body) {
        for (int i = 0; i < 10; i++) {
            server.answerWith(status, headers, body);
        }
    }

    @ParameterizedTest
    @MethodSource("commands")
    void aRedirectIsNotFollowedNorTakenForDone(String command) {
        answerEvery(308, Map.of("Location", "https://flags.example.com/"), "");
        FlagsCommandTest.Run r = flags(command);
        assertThat(r.exit()).as(r.err()).isEqualTo(1);
        assertThat(r.err()).contains("the server answered 308, a redirect to https://flags.example.com/: the flags command"
                + " does not follow redirects", "nothing was done");
        assertThat(r.out()).as("nothing printed as if done").isEmpty();
    }

    @ParameterizedTest
    @MethodSource("commands")
    void anAnswerWithoutWhatTheApisHasIsNotTakenForDone(String command) {
        answerEvery(200, Map.of(), "{}");
        FlagsCommandTest.Run r = flags(command);
        assertThat(r.exit()).as(r.err()).isEqualTo(1);
        assertThat(r.err()).contains("a flag server's HTTP API?");
        assertThat(r.out()).as("nothing printed as if done").isEmpty();
    }

    @Test
    void aRedirectToTheSameApiElsewhereGivesTheAddressToUse() {
        server.answerWith(308, Map.of("Location", "https://flags.example.com/api/v1/environments/production/flags/f1"), "");
        FlagsCommandTest.Run r = flags("show f1");
        assertThat(r.exit()).as(r.err()).isEqualTo(1);
        assertThat(r.err()).contains("a redirect to https://flags.example.com/api/v1/environments/production/flags/f1",
                "if that is the flag server, use https://flags.example.com as --server (or FLAGS_SERVER)");
    }

    @Test
    void aNoContentAnswerToAWriteIsNotTakenForDone() {
        server.answerWith(204, Map.of(), "");
        FlagsCommandTest.Run r = flags("off f1");
        assertThat(r.exit()).as(r.err()).isEqualTo(1);
        assertThat(r.err()).contains("the server answered 204 with no body, where a flag server's API answers JSON");
        assertThat(r.out()).isEmpty();
    }
}
