package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.server.http.ApiServlet;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The HTTP port at shutdown, over real sockets: a request the server has begun to read is answered
 * before the port closes, and requests that come once shutdown has begun get a 503 that says why. So a
 * client that gets no answer at all knows its request never reached the server.
 */
class HttpShutdownTest {

    private static final String ADMIN = "http-shutdown-test-admin-token";
    private static final String FLAG = "/api/v1/environments/production/flags/billing-v2";

    @TempDir
    Path dir;

    @Test
    void aRequestBegunBeforeShutdownIsAnsweredAndNewOnesGetA503() throws Exception {
        FlagServer server = FlagServer.start(ServerConfig.defaults().withDataDir(dir).withPorts(0, 0)
                .withBindAddress("127.0.0.1").withAdminToken(ADMIN));
        CompletableFuture<Void> closing = null;
        try (Socket begun = new Socket("127.0.0.1", server.httpPort())) {
            ApiClient api = new ApiClient(server.httpPort());
            assertThat(api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}").status()).isEqualTo(201);
            assertThat(api.put(FLAG, ADMIN, "{\"enabled\": false}").status()).isEqualTo(201);

            // A write whose headers have arrived and whose body has not: the server is reading it.
            byte[] body = "{\"enabled\": true}".getBytes(StandardCharsets.UTF_8);
            OutputStream out = begun.getOutputStream();
            out.write(("PATCH " + FLAG + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + ADMIN
                    + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            awaitInFlight(server, 1);

            closing = CompletableFuture.runAsync(server::close);
            ApiClient.Response refused = awaitRefused(api);
            assertThat(refused.json().get("title").asText()).isEqualTo("shutting down");
            assertThat(refused.raw().headers().firstValue("Connection")).hasValue("close");
            assertThat(closing).as("the port stays open for the request it began").isNotDone();

            out.write(body);
            out.flush();
            String answer = new String(begun.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(answer).as("answered, not cut off").startsWith("HTTP/1.1 503").contains("shutting down");
            closing.get(30, TimeUnit.SECONDS);
        } finally {
            if (closing == null) {
                server.close();
            }
        }
        try (FlagServer again = FlagServer.start(ServerConfig.defaults().withDataDir(dir).withPorts(0, 0)
                .withBindAddress("127.0.0.1").withAdminToken(ADMIN))) {
            assertThat(new ApiClient(again.httpPort()).get(FLAG, ADMIN).json().get("enabled").asBoolean())
                    .as("the refused write was not applied").isFalse();
        }
    }

    @Test
    void overHttpsTheShutdown503sCarryHstsAsEveryOtherAnswerDoes() throws Exception {
        TestCertificates certs = TestCertificates.create(Files.createDirectories(dir.resolve("certs")));
        FlagServer server = FlagServer.start(ServerConfig.defaults().withDataDir(dir.resolve("data")).withPorts(0, 0)
                .withBindAddress("127.0.0.1").withAdminToken(ADMIN).withTls(certs.certificate, certs.key));
        CompletableFuture<Void> closing = null;
        try (Socket begun = certs.clientContext().getSocketFactory().createSocket("127.0.0.1", server.httpPort())) {
            // A request the server has begun to read holds the port open through the shutdown's grace.
            OutputStream out = begun.getOutputStream();
            out.write(("PATCH " + FLAG + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + ADMIN
                    + "\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            awaitInFlight(server, 1);

            closing = CompletableFuture.runAsync(server::close);
            HttpClient https = HttpClient.newBuilder().sslContext(certs.clientContext()).build();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            HttpResponse<String> refused;
            do {
                assertThat(System.nanoTime()).as("shutdown begun").isLessThan(deadline);
                refused = https.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:"
                        + server.httpPort() + "/healthz")).build(), HttpResponse.BodyHandlers.ofString());
            } while (refused.statusCode() == 200);
            assertThat(refused.statusCode()).isEqualTo(503);
            assertThat(refused.body()).contains("shutting down");
            assertThat(refused.headers().firstValue("Strict-Transport-Security")).hasValue("max-age=31536000");
            begun.close(); // hung up: the shutdown need not wait out its grace
            closing.get(30, TimeUnit.SECONDS);
        } finally {
            if (closing == null) {
                server.close();
            }
        }
    }

    @Test
    void aClientThatHangsUpMidRequestHoldsNoRequestOpen() throws Exception {
        try (FlagServer server = FlagServer.start(ServerConfig.defaults().withDataDir(dir).withPorts(0, 0)
                .withBindAddress("127.0.0.1").withAdminToken(ADMIN))) {
            try (Socket gone = new Socket("127.0.0.1", server.httpPort())) {
                // With a token: a request without one is answered 401 before its body is read, and would end at once.
                gone.getOutputStream().write(("PATCH " + FLAG + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                        + "\r\nAuthorization: Bearer " + ADMIN + "\r\nContent-Length: 100\r\n\r\n{")
                        .getBytes(StandardCharsets.US_ASCII));
                gone.getOutputStream().flush();
                awaitInFlight(server, 1);
            }
            // Hung up: the request ends with its connection, so a shutdown does not wait for it.
            awaitInFlight(server, 0);
        }
    }

    @Test
    void aBodyOverTheLimitStillBeingDroppedAfterIts413DoesNotHoldTheStop() throws Exception {
        Duration grace = Duration.ofSeconds(20);
        FlagServer server = FlagServer.start(ServerConfig.defaults().withDataDir(dir).withPorts(0, 0)
                .withBindAddress("127.0.0.1").withAdminToken(ADMIN).withShutdownGrace(grace));
        ScheduledExecutorService trickler = Executors.newSingleThreadScheduledExecutor();
        CompletableFuture<Void> closing = null;
        try (Socket dropped = new Socket("127.0.0.1", server.httpPort())) {
            dropped.setSoTimeout(30_000);
            // A chunked body past the 1 MiB limit: answered 413 once past it, the rest then read and dropped.
            OutputStream out = dropped.getOutputStream();
            int chunk = ApiServlet.MAX_BODY_BYTES + 1;
            out.write(("PUT " + FLAG + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + ADMIN
                    + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + Integer.toHexString(chunk) + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(new byte[chunk]);
            out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String answer = readAnswer(dropped.getInputStream());
            assertThat(answer).startsWith("HTTP/1.1 413").contains("body too large");
            // The client goes on sending its body, a byte now and then, as a slow sender past the limit does.
            trickler.scheduleWithFixedDelay(() -> {
                try {
                    out.write("1\r\nx\r\n".getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                } catch (java.io.IOException e) {
                    throw new UncheckedIOException(e); // closed by the stop: no more to send
                }
            }, 0, 50, TimeUnit.MILLISECONDS);

            long start = System.nanoTime();
            closing = CompletableFuture.runAsync(server::close);
            closing.get(30, TimeUnit.SECONDS);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as("answered already: not waited for")
                    .isLessThan(grace.dividedBy(2));
            assertThat(dropped.getInputStream().read()).as("the connection closed with the port").isEqualTo(-1);
        } finally {
            trickler.shutdownNow();
            if (closing == null) {
                server.close();
            }
        }
    }

    /** Reads one answer whose length its headers give: its status line, headers and body. */
    private static String readAnswer(java.io.InputStream in) throws java.io.IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            assertThat(b).as("an answer's headers, whole").isNotEqualTo(-1);
            head.append((char) b);
        }
        java.util.regex.Matcher length = java.util.regex.Pattern.compile("(?i)content-length: *(\\d+)").matcher(head);
        assertThat(length.find()).as("a length in %s", head).isTrue();
        return head + new String(in.readNBytes(Integer.parseInt(length.group(1))), StandardCharsets.UTF_8);
    }

    private static void awaitInFlight(FlagServer server, long requests) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (server.httpRequestsInFlight() != requests) {
            assertThat(System.nanoTime()).as("a request in flight").isLessThan(deadline);
            Thread.onSpinWait();
        }
    }

    /** Asks on new connections until shutdown has begun: the first answer that is not a 200. */
    private static ApiClient.Response awaitRefused(ApiClient api) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            ApiClient.Response r;
            try {
                r = api.get("/healthz", null);
            } catch (UncheckedIOException e) {
                throw new AssertionError("the port closed before answering the request it had begun", e);
            }
            if (r.status() != 200) {
                assertThat(r.status()).isEqualTo(503);
                return r;
            }
            assertThat(System.nanoTime()).as("shutdown begun").isLessThan(deadline);
        }
    }
}
