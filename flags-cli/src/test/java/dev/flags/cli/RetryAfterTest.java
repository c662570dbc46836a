package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A token over its request budget: the command waits for the server's Retry-After and tries again. A
 * scripted HTTP server on a real socket answers, because the test must choose when the server refuses
 * (a real server's refusals depend on how fast the test runs).
 */
class RetryAfterTest {

    private HttpServer server;
    private final List<String> answers = new CopyOnWriteArrayList<>();
    private final List<String> requests = new CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            requests.add(exchange.getRequestMethod() + " " + exchange.getRequestURI().getPath());
            String answer = answers.isEmpty() ? "500 -" : answers.remove(0);
            int status = Integer.parseInt(answer.substring(0, 3));
            String retryAfter = answer.substring(4);
            byte[] body = (status == 429
                    ? "{\"status\": 429, \"title\": \"too many requests\", \"detail\": \"this token made more than 600 changes in a minute\"}"
                    : "{\"key\": \"billing-v2\", \"enabled\": false, \"version\": 7}").getBytes(StandardCharsets.UTF_8);
            if (!retryAfter.equals("-")) {
                exchange.getResponseHeaders().set("Retry-After", retryAfter);
            }
            exchange.getResponseHeaders().set("Content-Type", status == 429 ? "application/problem+json" : "application/json");
            exchange.sendResponseHeaders(status, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private FlagsCommandTest.Run off() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = FlagsCommand.run(new String[] {"off", "--server=http://127.0.0.1:" + server.getAddress().getPort(),
            "--token=t0ken", "billing-v2"}, new PrintWriter(out, true), new PrintWriter(err, true));
        return new FlagsCommandTest.Run(exit, out.toString(), err.toString());
    }

    @Test
    void aRefusedKillSwitchWaitsForRetryAfterAndIsSentAgain() throws Exception {
        answers.addAll(List.of("429 1", "200 -"));
        FlagsCommandTest.Run run = off();
        assertThat(run.exit()).as(run.err()).isZero();
        assertThat(run.err()).isEqualTo("flags: the server limits this token's requests; trying again in 1 s\n");
        assertThat(run.json().get("enabled").asBoolean()).isFalse();
        assertThat(requests).containsExactly("PATCH /api/v1/environments/production/flags/billing-v2",
                "PATCH /api/v1/environments/production/flags/billing-v2");
    }

    @Test
    void aRetryAfterBeyondAMinuteOrMissingFailsAtOnceWithTheServersMessage() {
        answers.add("429 3600");
        FlagsCommandTest.Run far = off();
        assertThat(far.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(far.err()).isEqualTo("flags: this token made more than 600 changes in a minute\n");

        answers.add("429 -");
        assertThat(off().exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(requests).hasSize(2);
    }

    @Test
    void itGivesUpAfterAFewRetries() {
        answers.addAll(List.of("429 0", "429 0", "429 0", "429 0", "200 -"));
        FlagsCommandTest.Run run = off();
        assertThat(run.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(requests).hasSize(1 + Api.MAX_RETRIES);
        assertThat(run.err()).contains("this token made more than 600 changes in a minute");
    }
}
