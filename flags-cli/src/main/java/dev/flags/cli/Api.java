package dev.flags.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/** Not thread-safe (one per command run). Calls the server's admin API and turns failures into {@link CliException}s. */
final class Api {

    static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final String server;
    private final String token;

    Api(String server, String token) {
        if (token == null || token.isBlank()) {
            throw new CliException(FlagsCommand.EXIT_USAGE, "no token: pass --token or set FLAGS_TOKEN");
        }
        this.server = server.endsWith("/") ? server.substring(0, server.length() - 1) : server;
        this.token = token;
    }

    static String path(String segment) {
        return URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20");
    }

    JsonNode call(String method, String path, JsonNode body, String comment) {
        String uri = server + "/api/v1" + path;
        if (comment != null) {
            uri += (path.contains("?") ? "&" : "?") + "comment=" + path(comment);
        }
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(uri)).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + token)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body.toString()));
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        HttpResponse<String> r;
        try {
            r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        } catch (ConnectException | HttpTimeoutException e) {
            throw new CliException(FlagsCommand.EXIT_UNREACHABLE, "cannot reach the flag server at " + server + ": " + e.getMessage()
                    + " (set --server or FLAGS_SERVER)");
        } catch (IOException e) {
            throw new CliException(FlagsCommand.EXIT_UNREACHABLE, "talking to " + server + " failed: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException(FlagsCommand.EXIT_UNREACHABLE, "interrupted");
        }
        JsonNode json;
        try {
            json = r.body().isEmpty() ? JSON.createObjectNode() : JSON.readTree(r.body());
        } catch (IOException e) {
            throw new CliException(FlagsCommand.EXIT_FAILED, "the server answered " + r.statusCode() + " with something that is not JSON");
        }
        if (r.statusCode() >= 400) {
            StringBuilder message = new StringBuilder(json.path("detail").asText("the server answered " + r.statusCode()));
            json.path("problems").forEach(p -> message.append("\n  ").append(p.path("path").asText()).append(' ').append(p.path("message").asText()));
            throw new CliException(FlagsCommand.EXIT_FAILED, message.toString());
        }
        return json;
    }
}
