package dev.flags.server;

import static dev.flags.server.ServerFixture.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.OutputStream;
import java.net.InetAddress;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Clients that start a request and never finish it, over real sockets: they must not take the admin
 * API (and the health checks an orchestrator relies on) down with them.
 */
class SlowClientsTest {

    @TempDir
    Path dir;

    @Test
    void connectionsThatNeverFinishTheirBodyDoNotStopTheApi() throws Exception {
        try (FlagServer server = ServerFixture.start(dir.resolve("data"))) {
            List<Socket> stalled = new ArrayList<>();
            try {
                // More than the HTTP worker threads (8 per core): each used to hold one, waiting for its body.
                for (int i = 0; i < 64; i++) {
                    Socket s = new Socket(InetAddress.getLoopbackAddress(), server.httpPort());
                    OutputStream out = s.getOutputStream();
                    String token = i % 2 == 0 ? "Authorization: Bearer " + ADMIN + "\r\n" : "";
                    out.write(("PUT /api/v1/environments/production/flags/f" + i + " HTTP/1.1\r\nHost: x\r\n" + token
                            + "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{").getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    stalled.add(s);
                }
                // A bounded wait, so that a stopped API fails this test instead of hanging it.
                HttpClient http = HttpClient.newHttpClient();
                HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort()
                        + "/healthz")).timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(health.statusCode()).isEqualTo(200);
                HttpResponse<String> created = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort()
                                + "/api/v1/environments")).timeout(Duration.ofSeconds(20))
                        .header("Authorization", "Bearer " + ADMIN).header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"key\": \"production\"}")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
            } finally {
                for (Socket s : stalled) {
                    s.close();
                }
            }
        }
    }

    @Test
    void aBodyWithoutAKnownTokenIsRefusedBeforeItIsReadSoItTakesNoBuffers() throws Exception {
        try (FlagServer server = ServerFixture.start(dir.resolve("data"));
             Socket s = new Socket(InetAddress.getLoopbackAddress(), server.httpPort())) {
            s.setSoTimeout(20_000);
            s.getOutputStream().write(("PUT /api/v1/environments/production/flags/f HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer"
                    + " flg_guessed-0123456789\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{")
                    .getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            // Answered with almost all of the body unsent, and the connection ends: the body is never read.
            String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(answer).startsWith("HTTP/1.1 401").contains("application/problem+json")
                    .contains("the token is unknown or was revoked");
        }
    }

    @Test
    void anSdkTokensBodyIsNotReadEither() throws Exception {
        try (FlagServer server = ServerFixture.start(dir.resolve("data"))) {
            ApiClient api = new ApiClient(server.httpPort());
            api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}");
            String sdk = api.post("/api/v1/tokens", ADMIN, "{\"name\": \"app\", \"scope\": \"sdk\", \"environments\":"
                    + " [\"production\"]}").json().get("token").asText();
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), server.httpPort())) {
                s.setSoTimeout(20_000);
                s.getOutputStream().write(("PUT /api/v1/environments/production/flags/f HTTP/1.1\r\nHost: x\r\nAuthorization:"
                        + " Bearer " + sdk + "\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{")
                        .getBytes(StandardCharsets.US_ASCII));
                s.getOutputStream().flush();
                String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertThat(answer).as("an sdk token may do nothing over HTTP: its body is not worth a buffer")
                        .startsWith("HTTP/1.1 403").contains("an sdk token may only subscribe");
            }
        }
    }

    @Test
    void aBodyDeclaredFarOverTheLimitIsRefusedAtOnceWithAProblem() throws Exception {
        try (FlagServer server = ServerFixture.start(dir.resolve("data"));
             Socket s = new Socket(InetAddress.getLoopbackAddress(), server.httpPort())) {
            s.setSoTimeout(20_000);
            s.getOutputStream().write(("PUT /api/v1/environments/production/flags/f HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                    + ADMIN + "\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{")
                    .getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            String answer = new String(s.getInputStream().readNBytes(4096), StandardCharsets.UTF_8);
            assertThat(answer).startsWith("HTTP/1.1 413").contains("application/problem+json").contains("at most 1048576 bytes");
        }
    }

    @Test
    void aRequestWithoutATokenTheServerTakesHasItsConnectionClosedBodyOrNot() throws Exception {
        // QA61 F2: without a body, a 401 kept its connection: clients without a token held every connection with a
        // request now and then, and an admin's kill switch waited.
        try (FlagServer server = ServerFixture.start(dir.resolve("data"))) {
            String sdk = ServerFixture.productionWithSdkToken(new ApiClient(server.httpPort()));
            for (String authorization : List.of("", "Authorization: Bearer flg_not-a-token-of-this-server\r\n",
                    "Authorization: Basic YTpi\r\n", "Authorization: Bearer " + sdk + "\r\n")) {
                try (Socket s = new Socket(InetAddress.getLoopbackAddress(), server.httpPort())) {
                    s.setSoTimeout(20_000);
                    s.getOutputStream().write(("GET /api/v1/environments HTTP/1.1\r\nHost: x\r\n" + authorization + "\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
                    s.getOutputStream().flush();
                    String answer = readAnswer(s);
                    assertThat(answer).as(authorization).startsWith(authorization.contains(sdk) ? "HTTP/1.1 403" : "HTTP/1.1 401")
                            .containsIgnoringCase("Connection: close");
                    assertThat(s.getInputStream().read()).as("closed by the server after its answer").isEqualTo(-1);
                }
            }
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), server.httpPort())) {
                s.setSoTimeout(20_000);
                String request = "GET /api/v1/environments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + ADMIN + "\r\n\r\n";
                s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
                s.getOutputStream().flush();
                assertThat(readAnswer(s)).startsWith("HTTP/1.1 200");
                s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
                s.getOutputStream().flush();
                assertThat(readAnswer(s)).as("a known token's connection is kept").startsWith("HTTP/1.1 200");
            }
        }
    }

    @Test
    void aConnectionThatSendsNothingIsClosedAtTheHeaderDeadlineWhileAKeptAliveOneStaysOpenLonger() throws Exception {
        try (FlagServer server = ServerFixture.start(dir.resolve("data"))) {
            silentOneClosedAtTheHeaderDeadlineKeptOneNot(server.httpPort(), javax.net.SocketFactory.getDefault());
        }
    }

    @Test
    void anHttp11RequestWithoutHostIsABadRequestAsRfc9112SaysAndAnHttp10OneIsAnswered() throws Exception {
        // Undertow's own rule (its option for it is gone, and only logged a WARN per connection: GrpcLoggingProcessTest).
        try (FlagServer server = ServerFixture.start(dir.resolve("data"))) {
            for (String request : List.of("GET /healthz HTTP/1.1\r\n\r\n", "GET /healthz HTTP/1.0\r\n\r\n",
                    "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) {
                try (Socket s = new Socket(InetAddress.getLoopbackAddress(), server.httpPort())) {
                    s.setSoTimeout(20_000);
                    s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
                    s.getOutputStream().flush();
                    assertThat(readAnswer(s)).as(request).startsWith(request.contains("HTTP/1.0") ? "HTTP/1.0 200"
                            : request.contains("Host") ? "HTTP/1.1 200" : "HTTP/1.1 400");
                }
            }
        }
    }

    /**
     * Opens a connection with {@code keptFactory} and has it answered once, then a silent TCP connection: the silent
     * one must be closed at the header deadline, and the kept one still answer, idle for longer than that by then.
     */
    static void silentOneClosedAtTheHeaderDeadlineKeptOneNot(int port, javax.net.SocketFactory keptFactory) throws Exception {
        try (Socket kept = keptFactory.createSocket(InetAddress.getLoopbackAddress(), port)) {
            kept.setSoTimeout(20_000);
            String healthz = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
            kept.getOutputStream().write(healthz.getBytes(StandardCharsets.US_ASCII));
            kept.getOutputStream().flush();
            assertThat(readAnswer(kept)).startsWith("HTTP/1.1 200");
            // A gap between the kept connection's last read and the silent one's accept: had the kept one the short
            // timeout too, it would be closed before the silent one, and its next request below would fail.
            Thread.sleep(1_000);
            try (Socket silent = new Socket(InetAddress.getLoopbackAddress(), port)) {
                silent.setSoTimeout(25_000); // a guard: the server closes it at the header deadline
                long start = System.nanoTime();
                assertThat(silent.getInputStream().read()).as("closed by the server, with no answer").isEqualTo(-1);
                Duration held = Duration.ofNanos(System.nanoTime() - start);
                assertThat(held).as("the header deadline (10 s), not the keep-alive timeout (30 s)")
                        .isBetween(FlagServer.HEADERS_TIMEOUT.minusSeconds(1), FlagServer.HEADERS_TIMEOUT.plusSeconds(5));
            }
            // Idle for longer than the header deadline by now: a kept-alive connection waits up to 30 s.
            kept.getOutputStream().write(healthz.getBytes(StandardCharsets.US_ASCII));
            kept.getOutputStream().flush();
            assertThat(readAnswer(kept)).as("the kept-alive connection is still open").startsWith("HTTP/1.1 200");
        }
    }

    /** @return the status line and headers of one answer, and its body if it has a Content-Length */
    private static String readAnswer(Socket socket) throws java.io.IOException {
        java.io.InputStream in = socket.getInputStream();
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                return head.toString();
            }
            head.append((char) b);
        }
        java.util.regex.Matcher length = java.util.regex.Pattern.compile("(?i)content-length: *(\\d+)").matcher(head);
        if (length.find()) {
            head.append(new String(in.readNBytes(Integer.parseInt(length.group(1))), StandardCharsets.UTF_8));
        }
        return head.toString();
    }
}
