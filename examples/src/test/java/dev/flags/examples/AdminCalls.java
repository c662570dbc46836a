package dev.flags.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flags.server.FlagServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

/** Thread-safe (stateless but for a shared HTTP client). The admin API calls the examples' tests make, each checked. */
final class AdminCalls {

    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final ObjectMapper JSON = new ObjectMapper();

    private AdminCalls() {
    }

    /**
     * Sends one request and checks that it was answered with a 2xx.
     *
     * @param token the bearer token, or null for none
     * @param body a JSON body, or null for none
     * @return the answer's JSON, or null for an empty answer
     */
    static JsonNode call(String method, String url, String token, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).method(method,
                body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(method + " " + url + ": " + r.body()).isLessThan(300);
        return r.body().isEmpty() ? null : JSON.readTree(r.body());
    }

    /** As {@link #call(String, String, String, String)}, to a path below the server's {@code /api/v1}. */
    static JsonNode call(FlagServer server, String token, String method, String path, String body) throws Exception {
        return call(method, "http://127.0.0.1:" + server.httpPort() + "/api/v1" + path, token, body);
    }
}
