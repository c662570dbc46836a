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
            ApiClient api = new ApiClient(server.httpPort());
            assertThat(api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}").status()).isEqualTo(201);
            for (int f = 0; f < 16; f++) { // about 10 MiB of flags: a page of 8 MiB, more than the sockets' buffers
                assertThat(api.put("/api/v1/environments/production/flags/big-" + f, ADMIN, flagOf(600)).status())
                        .isEqualTo(201);
            }
            List<Socket> stalled = new ArrayList<>();
            try {
                for (int i = 0; i < 24; i++) { // more than the HTTP worker threads (8 per core)
                    Socket s = new Socket();
                    s.setReceiveBufferSize(4096);
                    s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), server.httpPort()));
                    s.getOutputStream().write(("GET /api/v1/environments/production/flags HTTP/1.1\r\nHost: x\r\n"
                            + "Authorization: Bearer " + ADMIN + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                    s.getOutputStream().flush();
                    stalled.add(s); // never read
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
    void aClientThatReadsItsLargeAnswerLateStillGetsAllOfIt() throws Exception {
        try (FlagServer server = ServerFixture.start(dir.resolve("data"))) {
            ApiClient api = new ApiClient(server.httpPort());
            assertThat(api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}").status()).isEqualTo(201);
            for (int f = 0; f < 16; f++) {
                assertThat(api.put("/api/v1/environments/production/flags/big-" + f, ADMIN, flagOf(600)).status())
                        .isEqualTo(201);
            }
            try (Socket s = new Socket()) {
                s.setReceiveBufferSize(4096);
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), server.httpPort()));
                s.setSoTimeout(60_000);
                s.getOutputStream().write(("GET /api/v1/environments/production/flags HTTP/1.1\r\nHost: x\r\n"
                        + "Authorization: Bearer " + ADMIN + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                s.getOutputStream().flush();
                Thread.sleep(PAUSE.toMillis()); // the client that reads late: the pause is what is tested
                String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertThat(answer).startsWith("HTTP/1.1 200").contains("big-0").endsWith("}");
            }
        }
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
