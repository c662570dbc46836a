package dev.flags.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;

/** A small HTTP client for tests: real requests over a real socket. */
final class ApiClient {

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();
    private final String base;

    /** A response with its JSON body parsed (or null if it was not JSON). */
    record Response(int status, JsonNode json, String body, HttpResponse<String> raw) {
        String header(String name) {
            return raw.headers().firstValue(name).orElse(null);
        }
    }

    ApiClient(int port) {
        this.base = "http://127.0.0.1:" + port;
    }

    Response call(String method, String path, String token, String body, Map<String, String> headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        if (body != null && !headers.containsKey("Content-Type")) {
            b.header("Content-Type", "application/json");
        }
        headers.forEach(b::header);
        try {
            HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            JsonNode json = null;
            String type = r.headers().firstValue("Content-Type").orElse("");
            if (type.contains("json") && !r.body().isEmpty()) {
                json = MAPPER.readTree(r.body());
            }
            return new Response(r.statusCode(), json, r.body(), r);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A response read off a raw socket. */
    record RawResponse(int status, JsonNode json) {
    }

    /**
     * Sends a request byte for byte, for what java.net.http will not send: a path with a malformed
     * escape, or a header value with bytes that are not ASCII.
     *
     * @param extraHeader a header line's name and value bytes, or null
     */
    RawResponse raw(String method, String rawPath, String token, String body, String headerName, byte[] headerValue) {
        URI uri = URI.create(base);
        try (java.net.Socket socket = new java.net.Socket(uri.getHost(), uri.getPort())) {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            byte[] content = body == null ? new byte[0] : body.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            String head = method + " " + rawPath + " HTTP/1.1\r\nHost: " + uri.getHost() + "\r\nConnection: close\r\n"
                    + "Authorization: Bearer " + token + "\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + content.length + "\r\n";
            out.write(head.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            if (headerName != null) {
                out.write((headerName + ": ").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                out.write(headerValue);
                out.write("\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            }
            out.write("\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            out.write(content);
            socket.getOutputStream().write(out.toByteArray());
            String answer = new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            int status = Integer.parseInt(answer.substring(9, 12));
            int bodyStart = answer.indexOf("\r\n\r\n") + 4;
            String text = answer.substring(bodyStart);
            return new RawResponse(status, text.startsWith("{") ? MAPPER.readTree(text) : null);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    Response get(String path, String token) {
        return call("GET", path, token, null, Map.of());
    }

    Response put(String path, String token, String body) {
        return call("PUT", path, token, body, Map.of());
    }

    Response post(String path, String token, String body) {
        return call("POST", path, token, body, Map.of());
    }

    Response patch(String path, String token, String body) {
        return call("PATCH", path, token, body, Map.of());
    }

    Response delete(String path, String token) {
        return call("DELETE", path, token, null, Map.of());
    }
}
