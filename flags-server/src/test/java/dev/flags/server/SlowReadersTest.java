package dev.flags.server;

import static dev.flags.server.ServerFixture.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Clients that ask for a large answer and do not read it (QA83): a worker thread writes an answer, and must not wait for
 * such a client without end, or enough of them stop the API and the health checks.
 */
class SlowReadersTest {

    @TempDir
    Path dir;

    @Test
    void clientsThatDoNotReadTheirLargeAnswersDoNotStopTheApiForLong() throws Exception {
        try (FlagServer server = ServerFixture.start(dir.resolve("data"))) {
            putBigFlags(server);
            List<Socket> stalled = new ArrayList<>();
            try {
                for (int i = 0; i < 24; i++) { // more than the HTTP worker threads (8 per core)
                    stalled.add(askForAllFlags(server, ADMIN, "")); // never read
                }
                HttpClient http = HttpClient.newHttpClient();
                HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                        + server.httpPort() + "/healthz")).timeout(FlagServer.WRITE_TIMEOUT.plusSeconds(15)).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(health.statusCode()).isEqualTo(200);
            } finally {
                for (Socket s : stalled) {
                    s.close();
                }
            }
        }
    }

    @Test
    void clientsThatReadTheirLargeAnswersSlowlyHoldUpNeitherTheKillSwitchNorTheHealthChecks() throws Exception {
        try (FlagServer server = ServerFixture.start(dir.resolve("data"))) {
            putBigFlags(server);
            int threads = dev.flags.server.http.LargeAnswersApart.workerThreads(); // as many as Undertow's workers
            // A quarter of the threads at most for one token's reads: four tokens take them all.
            List<String> viewers = viewerTokens(server, 4);
            List<Socket> slow = new ArrayList<>();
            try {
                for (int i = 0; i < threads + 4; i++) {
                    Socket s = askForAllFlags(server, viewers.get(i / (threads / 4) % 4), "");
                    if (i < threads) {
                        // Its answer has begun: a thread writes it, and waits, for the client reads nothing more (the slow
                        // reader reads a little every 29 s, within the write timeout; this test is over well before).
                        assertThat(new String(s.getInputStream().readNBytes(12), StandardCharsets.US_ASCII))
                                .isEqualTo("HTTP/1.1 200");
                    }
                    slow.add(s);
                }
                HttpClient http = HttpClient.newHttpClient();
                killSwitchAndHealthAnswerPromptly(http, server);
                // The last four reads wait for a thread (once the port has read them: scraped until it has).
                long until = System.nanoTime() + PROMPT.toNanos();
                String scraped;
                do {
                    scraped = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort()
                            + "/metrics")).timeout(PROMPT).build(), HttpResponse.BodyHandlers.ofString()).body();
                } while (!scraped.contains("flags_http_reads_waiting 4\n") && System.nanoTime() < until);
                assertThat(scraped).contains("flags_http_reads_answering " + threads + "\n", "flags_http_reads_waiting 4\n");
            } finally {
                for (Socket s : slow) {
                    s.close();
                }
            }
        }
    }

    /**
     * The playground is a read any viewer or tester token may make, and its answer (every flag, step by step) is as large
     * as a page of flags: four viewer tokens (each may have four requests with small bodies at once) held every worker
     * with it, and the kill switch waited (QA92 F1).
     */
    @Test
    void clientsThatReadTheirLargeEvaluationsSlowlyHoldUpNeitherTheKillSwitchNorTheHealthChecks() throws Exception {
        try (FlagServer server = ServerFixture.start(dir.resolve("data"))) {
            ApiClient api = new ApiClient(server.httpPort());
            assertThat(api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}").status()).isEqualTo(201);
            // 30 flags of 1,000 rules with long names: an explained evaluation of about 10 MB
            String rules = IntStream.range(0, 1000).mapToObj(i -> "{\"name\": \"r" + i + "-" + "x".repeat(180)
                    + "\", \"conditions\": [{\"regions\": [\"nowhere\"]}]}").collect(Collectors.joining(", "));
            for (int f = 0; f < 30; f++) {
                assertThat(api.put("/api/v1/environments/production/flags/big-" + f, ADMIN,
                        "{\"enabled\": true, \"rules\": [" + rules + "]}").status()).isEqualTo(201);
            }
            int threads = dev.flags.server.http.LargeAnswersApart.workerThreads();
            List<String> viewers = viewerTokens(server, threads / 4);
            String body = "{\"user\": {\"id\": \"u\"}, \"explain\": true}";
            List<Socket> slow = new ArrayList<>();
            try {
                for (int i = 0; i < threads; i++) {
                    Socket s = new Socket();
                    s.setReceiveBufferSize(4096);
                    s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), server.httpPort()));
                    s.setSoTimeout(60_000);
                    slow.add(s);
                    s.getOutputStream().write(("POST /api/v1/environments/production/evaluate HTTP/1.1\r\nHost: x\r\n"
                            + "Authorization: Bearer " + viewers.get(i / 4) + "\r\nContent-Type: application/json\r\n"
                            + "Content-Length: " + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.US_ASCII));
                    // Its answer has begun: a thread writes it, and waits for the client, which reads nothing more.
                    assertThat(new String(s.getInputStream().readNBytes(12), StandardCharsets.US_ASCII))
                            .isEqualTo("HTTP/1.1 200");
                }
                killSwitchAndHealthAnswerPromptly(HttpClient.newHttpClient(), server);
            } finally {
                for (Socket s : slow) {
                    s.close();
                }
            }
        }
    }

    /**
     * One token's clients (one leaked viewer token) that read slowly hold up their own reads and a quarter of the reads'
     * threads, not the other tokens' reads: before, they took every thread, and every client's reads waited.
     */
    @Test
    void oneTokensSlowReadersHoldUpOnlyItsOwnReads() throws Exception {
        try (FlagServer server = ServerFixture.start(dir.resolve("data"))) {
            putBigFlags(server);
            int threads = dev.flags.server.http.LargeAnswersApart.workerThreads();
            String leaked = viewerTokens(server, 1).get(0);
            List<Socket> slow = new ArrayList<>();
            try {
                for (int i = 0; i < threads + 4; i++) {
                    Socket s = askForAllFlags(server, leaked, "");
                    if (i < threads / 4) { // its share: these answers begin, the rest wait
                        assertThat(new String(s.getInputStream().readNBytes(12), StandardCharsets.US_ASCII))
                                .isEqualTo("HTTP/1.1 200");
                    }
                    slow.add(s);
                }
                HttpClient http = HttpClient.newHttpClient();
                HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort()
                        + "/api/v1/environments/production/flags")).timeout(PROMPT).header("Authorization", "Bearer " + ADMIN)
                        .build(), HttpResponse.BodyHandlers.ofString());
                assertThat(page.statusCode()).isEqualTo(200);
                assertThat(page.body()).contains("big-15").endsWith("}");
                String scraped = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort()
                        + "/metrics")).timeout(PROMPT).build(), HttpResponse.BodyHandlers.ofString()).body();
                assertThat(scraped).contains("flags_http_reads_answering " + threads / 4 + "\n");
            } finally {
                for (Socket s : slow) {
                    s.close();
                }
            }
        }
    }

    @Test
    void aClientThatReadsItsLargeAnswerLateStillGetsAllOfIt() throws Exception {
        try (FlagServer server = ServerFixture.start(dir.resolve("data"))) {
            putBigFlags(server);
            try (Socket s = askForAllFlags(server, ADMIN, "Connection: close\r\n")) {
                Thread.sleep(PAUSE.toMillis()); // the client that reads late: the pause is what is tested
                String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertThat(answer).startsWith("HTTP/1.1 200").contains("big-0").endsWith("}");
            }
        }
    }

    /** Puts about 10 MiB of flags into production: a page of 8 MiB, more than the sockets' buffers hold. */
    private static void putBigFlags(FlagServer server) throws Exception {
        ApiClient api = new ApiClient(server.httpPort());
        assertThat(api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}").status()).isEqualTo(201);
        for (int f = 0; f < 16; f++) {
            assertThat(api.put("/api/v1/environments/production/flags/big-" + f, ADMIN, flagOf(600)).status())
                    .isEqualTo(201);
        }
    }

    /** @return {@code n} new viewer tokens of production */
    private static List<String> viewerTokens(FlagServer server, int n) throws Exception {
        ApiClient api = new ApiClient(server.httpPort());
        List<String> tokens = new ArrayList<>();
        for (int t = 0; t < n; t++) {
            tokens.add(api.post("/api/v1/tokens", ADMIN, "{\"name\": \"dashboard-" + t + "\", \"scope\": \"viewer\","
                    + " \"environments\": [\"production\"]}").json().get("token").asText());
        }
        return tokens;
    }

    /**
     * @param token the token the request presents
     * @param headers more header lines, each ending with CRLF
     * @return a connection that has asked for the page of every flag in production, with a small receive buffer: its
     *     answer fills it, and the server's thread waits to write the rest until the client reads
     */
    private static Socket askForAllFlags(FlagServer server, String token, String headers) throws Exception {
        Socket s = new Socket();
        s.setReceiveBufferSize(4096);
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), server.httpPort()));
        s.setSoTimeout(60_000);
        s.getOutputStream().write(("GET /api/v1/environments/production/flags HTTP/1.1\r\nHost: x\r\n"
                + "Authorization: Bearer " + token + "\r\n" + headers + "\r\n").getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        return s;
    }

    /** Before the write timeout frees any thread. */
    private static final Duration PROMPT = FlagServer.WRITE_TIMEOUT.dividedBy(3);

    /** The kill switch (of flag big-0 in production) and {@code /healthz} are answered, both within {@link #PROMPT}. */
    private static void killSwitchAndHealthAnswerPromptly(HttpClient http, FlagServer server) throws Exception {
        HttpResponse<String> off = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort()
                + "/api/v1/environments/production/flags/big-0")).timeout(PROMPT)
                .header("Authorization", "Bearer " + ADMIN).header("Content-Type", "application/json")
                .method("PATCH", HttpRequest.BodyPublishers.ofString("{\"enabled\": false}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(off.statusCode()).isEqualTo(200);
        HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + server.httpPort() + "/healthz")).timeout(PROMPT).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(health.statusCode()).isEqualTo(200);
    }

    /** A pause well within the write timeout. */
    private static final Duration PAUSE = Duration.ofSeconds(5);

    /** A flag of about {@code kib} KiB: one target of users with long ids. */
    private static String flagOf(int kib) {
        String users = IntStream.range(0, kib * 1024 / 64).mapToObj(i -> "\"user-" + "x".repeat(50) + String.format("%05d", i)
                + "\"").collect(Collectors.joining(", "));
        return "{\"enabled\": true, \"targets\": [{\"userIds\": [" + users + "]}]}";
    }
}
