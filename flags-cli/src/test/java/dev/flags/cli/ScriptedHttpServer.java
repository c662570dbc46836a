package dev.flags.cli;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Thread-safe. An HTTP server on a loopback port that answers from a script, for tests that must choose
 * what the flag server says and when (a real one's rate-limit refusals depend on how fast a test runs,
 * and a thousand versions of a flag take seconds to write). Unscripted requests get 500.
 */
final class ScriptedHttpServer implements AfterEachCallback {

    /** One answer: status, its headers (a Retry-After, a Location), and a JSON body ("" for none). */
    record Answer(int status, Map<String, String> headers, String body) {}

    private final HttpServer server;
    private final List<Answer> script = new CopyOnWriteArrayList<>();
    private final List<String> requests = new CopyOnWriteArrayList<>();
    private final List<String> authorizations = new CopyOnWriteArrayList<>();

    /** Starts on a free port; register it with {@code @RegisterExtension} and it stops after each test. */
    ScriptedHttpServer() {
        try {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        server.createContext("/", exchange -> {
            String query = exchange.getRequestURI().getRawQuery();
            authorizations.add(String.valueOf(exchange.getRequestHeaders().getFirst("Authorization")));
            requests.add(exchange.getRequestMethod() + " " + exchange.getRequestURI().getPath() + (query == null ? "" : "?" + query));
            Answer answer = script.isEmpty() ? new Answer(500, Map.of(), "{\"detail\": \"unscripted\"}") : script.remove(0);
            byte[] body = answer.body().getBytes(StandardCharsets.UTF_8);
            answer.headers().forEach(exchange.getResponseHeaders()::set);
            exchange.getResponseHeaders().set("Content-Type", answer.status() >= 400 ? "application/problem+json" : "application/json");
            exchange.sendResponseHeaders(answer.status(), body.length == 0 ? -1 : body.length); // 0 would be chunked
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
    }

    /** Queues the next answer. */
    void answer(int status, String retryAfter, String body) {
        answerWith(status, retryAfter == null ? Map.of() : Map.of("Retry-After", retryAfter), body);
    }

    /** Queues the next answer, with these headers. */
    void answerWith(int status, Map<String, String> headers, String body) {
        script.add(new Answer(status, headers, body));
    }

    /** @return every request so far: method, path and query */
    List<String> requests() {
        return List.copyOf(requests);
    }

    /** @return the Authorization header of every request so far ("null" where there was none) */
    List<String> authorizations() {
        return List.copyOf(authorizations);
    }

    /** @return the {@code --server} option that points the command here */
    String serverOption() {
        return "--server=http://127.0.0.1:" + server.getAddress().getPort();
    }

    @Override
    public void afterEach(ExtensionContext context) {
        server.stop(0);
    }
}
