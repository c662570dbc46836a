package dev.flags.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.undertow.Undertow;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Over real sockets: which thread answers which request. Reads on their pool, the operator's (probes and scrapes, in
 * whatever spelling of their paths) and every change where Undertow calls the handler.
 */
class LargeAnswersApartTest {

    private Undertow server;
    private LargeAnswersApart apart;

    @AfterEach
    void stop() {
        if (server != null) {
            server.stop();
        }
        if (apart != null) {
            apart.close(Duration.ofSeconds(5));
        }
    }

    /** Starts a server whose handler answers with the name of the thread it runs on. */
    private int start() {
        apart = new LargeAnswersApart(exchange -> exchange.getResponseSender().send(Thread.currentThread().getName()), 2);
        server = Undertow.builder().addHttpListener(0, "127.0.0.1").setHandler(apart).build();
        server.start();
        return ((InetSocketAddress) server.getListenerInfo().get(0).getAddress()).getPort();
    }

    /** @return the thread that answered the request, from the body of its answer */
    private static String threadOf(int port, String method, String path) throws IOException {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setSoTimeout(20_000);
            s.getOutputStream().write((method + " " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close"
                    + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            assertThat(answer).startsWith("HTTP/1.1 200");
            return answer.substring(answer.indexOf("\r\n\r\n") + 4);
        }
    }

    @Test
    void readsRunOnTheirOwnThreadsWhateverTheyAskFor() throws IOException {
        int port = start();
        assertThat(threadOf(port, "GET", "/api/v1/environments/production/flags")).startsWith("flags-http-read-");
        assertThat(threadOf(port, "GET", "/api/v1/environments/production/flags?archived=true")).startsWith("flags-http-read-");
        assertThat(threadOf(port, "GET", "/elsewhere")).startsWith("flags-http-read-");
        assertThat(threadOf(port, "GET", "/x/../api/v1/environments")).startsWith("flags-http-read-");
        // The playground is a read too, with an answer as large (QA92 F1)
        assertThat(threadOf(port, "POST", "/api/v1/environments/production/evaluate")).startsWith("flags-http-read-");
        assertThat(threadOf(port, "POST", "/api/v1/environments/production/evaluate/")).startsWith("flags-http-read-");
        assertThat(threadOf(port, "POST", "/api/v1/environments/production/%65valuate")).startsWith("flags-http-read-");
    }

    @Test
    void changesProbesAndScrapesStayWhereUndertowCallsTheHandler() throws IOException {
        int port = start();
        for (String[] request : new String[][] {{"PATCH", "/api/v1/environments/production/flags/f"},
                {"POST", "/api/v1/environments"}, {"DELETE", "/api/v1/tokens/t"}, {"PUT", "/metrics"},
                {"POST", "/api/v1/environments/production/restore"}, {"POST", "/api/v1/environments/production/flags/evaluate"},
                {"PUT", "/api/v1/environments/production/evaluate"},
                {"GET", "/healthz"}, {"GET", "/readyz"}, {"GET", "/metrics"},
                {"GET", "/api/v1/../../healthz"}, {"GET", "/x/../metrics"}}) {
            assertThat(threadOf(port, request[0], request[1])).as(request[0] + " " + request[1])
                    .doesNotStartWith("flags-http-");
        }
    }
}
