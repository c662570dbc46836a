package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The server answers a list of flags in pages of at most 8 MiB; every command that reads a whole list reads them all. */
class FlagListPagesTest {

    @RegisterExtension
    final ScriptedHttpServer server = new ScriptedHttpServer();

    private static String page(String after, String... keys) {
        // Each document as the server stores and lists it: its fields by name.
        String flags = java.util.Arrays.stream(keys).map(k -> "{\"enabled\": true, \"key\": \"" + k + "\", \"version\": 3}")
                .collect(Collectors.joining(", "));
        return "{\"environment\": \"production\", \"flags\": [" + flags + "]" + (after == null ? "" : ", \"after\": \"" + after + "\"")
                + "}";
    }

    private FlagsCommandTest.Run flags(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        String[] all = new String[args.length + 2];
        System.arraycopy(args, 0, all, 0, args.length);
        all[args.length] = server.serverOption();
        all[args.length + 1] = "--token=t0ken";
        int exit = FlagsCommand.run(all, new PrintWriter(out, true), new PrintWriter(err, true));
        return new FlagsCommandTest.Run(exit, out.toString(), err.toString());
    }

    @Test
    void theArchivedListIsReadPageByPage() {
        server.answer(200, null, page("b-flag", "a-flag", "b-flag"));
        server.answer(200, null, page(null, "c-flag"));
        FlagsCommandTest.Run run = flags("list", "--archived");
        assertThat(run.exit()).as(run.err()).isZero();
        assertThat(run.out().lines().map(l -> l.split("\\s+")[0])).containsExactly("a-flag", "b-flag", "c-flag");
        assertThat(server.requests()).containsExactly("GET /api/v1/environments/production/flags?archived=true",
                "GET /api/v1/environments/production/flags?archived=true&after=b-flag");
    }

    @Test
    void pagesThatDoNotGoOnAreRefusedNotReadForEver() {
        // QA71 F6: a proxy that answers the same page whatever "after" asks.
        for (int i = 0; i < 5; i++) {
            server.answer(200, null, page("a-flag", "a-flag"));
        }
        FlagsCommandTest.Run run = flags("list");
        assertThat(run.exit()).isEqualTo(1);
        assertThat(run.err()).contains("the server's pages of flags do not go on (after \"a-flag\", then \"a-flag\")");
        assertThat(server.requests()).hasSize(2);
    }

    @Test
    void staleRefusesHistoryPagesThatDoNotGoBack() {
        Instant now = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
        server.answer(200, null, "{\"environment\": \"production\", \"at\": \"" + now + "\", \"since\": \""
                + now.minus(java.time.Duration.ofDays(90)) + "\", \"reportInterval\": \"PT1M\", \"flags\": [{\"flag\":"
                + " \"old\", \"lastEvaluatedAt\": null, \"lastServedTrueAt\": null, \"lastServedFalseAt\": null,"
                + " \"applications\": []}], \"unknownFlags\": []}");
        server.answer(200, null, page(null, "old"));
        String history = "{\"environment\": \"production\", \"flag\": \"old\", \"versions\": [{\"version\": 7,"
                + " \"change\": \"flag_updated\", \"timestamp\": \"" + now.minusSeconds(60) + "\", \"flag\": {}}],"
                + " \"earlier\": 5}";
        for (int i = 0; i < 5; i++) {
            server.answer(200, null, history);
        }
        FlagsCommandTest.Run run = flags("stale", "--for", "30d");
        assertThat(run.exit()).as(run.err()).isEqualTo(1);
        assertThat(run.err()).contains("the server's history pages of flag \"old\" do not go back (earlier 5, then 5)");
        assertThat(server.requests()).hasSize(4);
    }

    @Test
    void theColumnsLineUp() {
        server.answer(200, null, "{\"environment\": \"production\", \"flags\": [{\"enabled\": true, \"key\": \"alpha\","
                + " \"version\": 9}, {\"enabled\": false, \"key\": \"big-0000\", \"version\": 3021}]}");
        FlagsCommandTest.Run run = flags("list");
        assertThat(run.out().lines()).as("QA47a F9").containsExactly("alpha     on   v9", "big-0000  off  v3021");
    }

    @Test
    void anExportHoldsEveryPageOfTheServedFlags() throws Exception {
        server.answer(200, null, page("a-flag", "a-flag"));
        server.answer(200, null, page(null, "b-flag"));
        server.answer(200, null, "{\"environment\": \"production\", \"members\": {}}");
        FlagsCommandTest.Run run = flags("export");
        assertThat(run.exit()).as(run.err()).isZero();
        JsonNode file = Api.JSON.readTree(run.out());
        assertThat(file.get("flags")).extracting(f -> f.get("key").asText()).containsExactly("a-flag", "b-flag");
        assertThat(file.get("flags").get(0).fieldNames().next()).as("written as the format writes a flag: its key first")
                .isEqualTo("key");
        assertThat(server.requests()).startsWith("GET /api/v1/environments/production/flags",
                "GET /api/v1/environments/production/flags?after=a-flag");
    }
}
