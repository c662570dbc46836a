package dev.flags.examples.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * Not thread-safe. Seeds a fresh flag server with the demo's data, through the public admin API only:
 * environments production and staging, the flag {@code billing-v2} (off, shipped dark) in both, the
 * self-service role {@code beta-tester}, and tokens for an editor, an on-call operator (who may switch flags off and
 * nothing else), a tester (for user {@code tess}) and the SDK. The tokens
 * are kept in {@code <dataDir>/demo-tokens.properties} (owner-only), so a restarted demo shows them again.
 */
public final class DemoData {

    static final String FILE = "demo-tokens.properties";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The demo's tokens. */
    public record Tokens(String admin, String editor, String operator, String tester, String sdk) {
        @Override
        public String toString() {
            return "Tokens{...}"; // never the secrets
        }
    }

    private final HttpClient http = HttpClient.newHttpClient();
    private final String base;
    private final String admin;

    /**
     * @param httpBase the server's HTTP address, such as {@code http://localhost:8080}
     * @param adminToken an admin token
     */
    public DemoData(String httpBase, String adminToken) {
        this.base = httpBase + "/api/v1";
        this.admin = adminToken;
    }

    /**
     * Seeds the server unless it was seeded before, and returns the demo's tokens.
     *
     * @param dataDir the server's data directory, where the tokens are kept
     * @return the tokens
     * @throws IOException if the server refuses or cannot be reached
     */
    public Tokens seed(Path dataDir) throws IOException, InterruptedException {
        Path file = dataDir.resolve(FILE);
        if (Files.exists(file)) {
            Properties p = new Properties();
            try (var in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                p.load(in);
            }
            if (p.getProperty("operator") == null) { // seeded by a demo from before operator tokens: made now, kept
                p.setProperty("operator", token("olga (on call)", "operator"));
                try (var out = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
                    p.store(out, "the demo's tokens: keep them private");
                }
            }
            return new Tokens(admin, p.getProperty("editor"), p.getProperty("operator"), p.getProperty("tester"),
                    p.getProperty("sdk"));
        }
        for (String env : new String[] {"production", "staging"}) {
            call("POST", "/environments", "{\"key\": \"" + env + "\", \"name\": \"" + Character.toUpperCase(env.charAt(0)) + env.substring(1) + "\"}");
            call("PUT", "/environments/" + env + "/flags/billing-v2?comment=ship%20dark", """
                    {"description": "The new billing path. Shipped dark; released through beta testers, an EU canary, a ramp.",
                     "enabled": false,
                     "rules": [
                       {"name": "beta testers", "conditions": [{"roles": ["beta-tester"]}]},
                       {"name": "eu canary", "conditions": [{"regions": ["eu-west"]}, {"percentage": 0}]},
                       {"name": "everyone", "conditions": [{"percentage": 0}]}
                     ]}""");
            // Testers let themselves in, for a week at a time: access nobody remembers to take back ends by itself.
            call("PUT", "/environments/" + env + "/roles/beta-tester", "{\"selfService\": true, \"maxGrantDuration\": \"P7D\"}");
        }
        Map<String, String> tokens = new LinkedHashMap<>();
        tokens.put("editor", token("pat (product owner)", "editor"));
        tokens.put("operator", token("olga (on call)", "operator"));
        tokens.put("tester", token("tess (tester)", "tester"));
        tokens.put("sdk", token("billing-service", "sdk"));
        Properties p = new Properties();
        p.putAll(tokens);
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try (var out = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            p.store(out, "the demo's tokens: keep them private");
        }
        return new Tokens(admin, tokens.get("editor"), tokens.get("operator"), tokens.get("tester"), tokens.get("sdk"));
    }

    private String token(String name, String scope) throws IOException, InterruptedException {
        String user = scope.equals("tester") ? ", \"userId\": \"tess\"" : ""; // a tester token is for one user
        return call("POST", "/tokens", "{\"name\": \"" + name + "\", \"scope\": \"" + scope + "\", \"environments\": [\"production\"]"
                + user + "}").get("token").asText();
    }

    private JsonNode call(String method, String path, String body) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + path))
                .header("Authorization", "Bearer " + admin).header("Content-Type", "application/json")
                .method(method, HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() >= 300) {
            throw new IOException("seeding the demo failed: " + method + " " + path + " answered " + r.statusCode() + ": " + r.body());
        }
        return JSON.readTree(r.body());
    }
}
