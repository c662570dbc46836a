package dev.flags.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * Not thread-safe (one per command run). Calls the server's admin API and turns failures into {@link CliException}s.
 * A {@code 429} (the token's request budget is used up) is retried after the server's {@code Retry-After}, if that
 * is at most a minute away, a few times, with a line on stderr each time: a kill switch thrown from a busy script's
 * token should wait a few seconds, not fail.
 */
final class Api {

    static final ObjectMapper JSON = new ObjectMapper();
    /** How many times a refused (429) request is sent again. */
    static final int MAX_RETRIES = 3;
    /** The longest Retry-After the command waits for; a longer one fails at once with the server's message. */
    static final long MAX_WAIT_SECONDS = 60;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final String server;
    private final String token;
    private final PrintWriter notices;

    Api(String server, String token, PrintWriter notices) {
        if (token == null || token.isBlank()) {
            throw new CliException(FlagsCommand.EXIT_USAGE, "no token: pass --token or set FLAGS_TOKEN");
        }
        this.server = server.endsWith("/") ? server.substring(0, server.length() - 1) : server;
        this.token = token;
        this.notices = notices;
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
        HttpRequest request = b.build();
        HttpResponse<String> r = send(request);
        for (int retry = 1; retry <= MAX_RETRIES && r.statusCode() == 429; retry++) {
            long wait = retryAfterSeconds(r);
            if (wait < 0 || wait > MAX_WAIT_SECONDS) {
                break;
            }
            notices.println("flags: the server limits this token's requests; trying again in " + wait + " s");
            pause(wait);
            r = send(request);
        }
        return answer(r);
    }

    private HttpResponse<String> send(HttpRequest request) {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (ConnectException | HttpTimeoutException e) {
            throw new CliException(FlagsCommand.EXIT_UNREACHABLE, "cannot reach the flag server at " + server + ": " + e.getMessage()
                    + " (set --server or FLAGS_SERVER)");
        } catch (IOException e) {
            throw new CliException(FlagsCommand.EXIT_UNREACHABLE, "talking to " + server + " failed: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException(FlagsCommand.EXIT_UNREACHABLE, "interrupted");
        }
    }

    /** The Retry-After header in seconds, or -1 if there is none the command understands. */
    private static long retryAfterSeconds(HttpResponse<String> r) {
        try {
            return r.headers().firstValue("Retry-After").map(String::trim).map(Long::parseLong).orElse(-1L);
        } catch (NumberFormatException e) {
            return -1; // an HTTP date: the flag server never sends one
        }
    }

    private static void pause(long seconds) {
        try {
            Thread.sleep(seconds * 1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException(FlagsCommand.EXIT_UNREACHABLE, "interrupted");
        }
    }

    private static JsonNode answer(HttpResponse<String> r) {
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
