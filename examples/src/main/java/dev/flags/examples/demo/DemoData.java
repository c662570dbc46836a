package dev.flags.examples.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
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
 *
 * <p>That file is written last, in one step, and is how a start knows the seeding is done. Seeding again over a
 * server whose seeding was cut short (the demo killed in its first start's two seconds) completes it: what is there
 * already counts as made, and the tokens made then, whose secrets nobody kept, are revoked and made anew. A kept file
 * whose tokens the server does not take (its journal started anew, the file left behind) is seeded over the same way.
 */
public final class DemoData {

    static final String FILE = "demo-tokens.properties";
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The demo's tokens: the scope of each (also its key in the file) and its name. */
    private static final Map<String, String> NAMES = namesInOrder();

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
        Properties kept = new Properties();
        if (Files.exists(file)) {
            try (var in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                kept.load(in);
            }
        }
        if (!kept.isEmpty() && !knows(kept.getProperty("editor"))) {
            // The journal was started anew (journal/ and journal-created deleted to start empty) and the file stayed:
            // its tokens would be refused everywhere, the demo's SDK included. Seeded again (what exists counts as
            // made), the file replaced.
            System.err.println("flags-demo: the server does not take the tokens kept in " + file + " (its journal was"
                    + " started anew, or the editor's token revoked): seeding the demo again, with new tokens");
            kept.clear();
        }
        if (!kept.isEmpty()) {
            if (kept.getProperty("operator") == null) { // seeded by a demo from before operator tokens: made now, kept
                kept.setProperty("operator", token(NAMES.get("operator"), "operator"));
                write(kept, dataDir);
            }
            return new Tokens(admin, kept.getProperty("editor"), kept.getProperty("operator"), kept.getProperty("tester"),
                    kept.getProperty("sdk"));
        }
        for (String env : new String[] {"production", "staging"}) {
            // 409: it exists, made by a seeding that was cut short (a server without the tokens file is the demo's).
            call("POST", "/environments", null, 409,
                    "{\"key\": \"" + env + "\", \"name\": \"" + Character.toUpperCase(env.charAt(0)) + env.substring(1) + "\"}");
            // Created only: 412 if that seeding made it, which must not be overwritten into a second version.
            call("PUT", "/environments/" + env + "/flags/billing-v2?comment=ship%20dark", "*", 412, """
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
        revokeUnkeptTokens();
        Map<String, String> tokens = new LinkedHashMap<>();
        for (Map.Entry<String, String> name : NAMES.entrySet()) {
            tokens.put(name.getKey(), token(name.getValue(), name.getKey()));
        }
        Properties p = new Properties();
        p.putAll(tokens);
        write(p, dataDir);
        return new Tokens(admin, tokens.get("editor"), tokens.get("operator"), tokens.get("tester"), tokens.get("sdk"));
    }

    /**
     * Written aside, then renamed: a stop while it is written must not leave a file the next start takes as done, nor
     * cut short a file that held the other tokens' secrets.
     */
    private static void write(Properties tokens, Path dataDir) throws IOException {
        Path written = dataDir.resolve(FILE + ".new");
        Files.deleteIfExists(written);
        Files.createFile(written, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try (var out = Files.newBufferedWriter(written, StandardCharsets.UTF_8)) {
            tokens.store(out, "the demo's tokens: keep them private");
        }
        Files.move(written, dataDir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE);
    }

    private static Map<String, String> namesInOrder() {
        Map<String, String> names = new LinkedHashMap<>();
        names.put("editor", "pat (product owner)");
        names.put("operator", "olga (on call)");
        names.put("tester", "tess (tester)");
        names.put("sdk", "billing-service");
        return java.util.Collections.unmodifiableMap(names);
    }

    private String token(String name, String scope) throws IOException, InterruptedException {
        String user = scope.equals("tester") ? ", \"userId\": \"tess\"" : ""; // a tester token is for one user
        return call("POST", "/tokens", "{\"name\": \"" + name + "\", \"scope\": \"" + scope + "\", \"environments\": [\"production\"]"
                + user + "}").get("token").asText();
    }

    /**
     * Revokes the live tokens with the names of the demo's: made by a seeding that was cut short before it wrote them
     * down, so nobody holds their secrets, and a list with each name twice would only confuse.
     */
    /**
     * @param token a kept token, or null
     * @return whether the server takes it ({@code GET /whoami}): false for a token it does not know (401), or none
     * @throws IOException if the server answers anything else, or cannot be reached
     */
    private boolean knows(String token) throws IOException, InterruptedException {
        if (token == null || token.isBlank()) {
            return false;
        }
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/whoami"))
                .header("Authorization", "Bearer " + token).GET().build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 401) {
            return false;
        }
        if (r.statusCode() != 200) {
            throw new IOException("checking the demo's kept tokens failed: GET /whoami answered " + r.statusCode() + ": " + r.body());
        }
        return true;
    }

    private void revokeUnkeptTokens() throws IOException, InterruptedException {
        for (JsonNode token : call("GET", "/tokens", null).path("tokens")) {
            if (NAMES.containsValue(token.path("name").asText())) {
                call("DELETE", "/tokens/" + token.path("id").asText() + "?comment=" + URLEncoder.encode(
                        "made by a demo seeding that was cut short: its secret was never kept", StandardCharsets.UTF_8), null);
            }
        }
    }

    private JsonNode call(String method, String path, String body) throws IOException, InterruptedException {
        return call(method, path, null, 0, body);
    }

    /**
     * @param ifNoneMatch an {@code If-None-Match} header, or null
     * @param done a status that means the change was made already (by a seeding cut short), or 0
     * @return the answer's JSON; null for {@code done} or an empty answer
     */
    private JsonNode call(String method, String path, String ifNoneMatch, int done, String body) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path)).header("Authorization", "Bearer " + admin)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            request.header("Content-Type", "application/json");
        }
        if (ifNoneMatch != null) {
            request.header("If-None-Match", ifNoneMatch);
        }
        HttpResponse<String> r = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == done) {
            return null;
        }
        if (r.statusCode() >= 300) {
            throw new IOException("seeding the demo failed: " + method + " " + path + " answered " + r.statusCode() + ": " + r.body());
        }
        return r.body().isEmpty() ? null : JSON.readTree(r.body());
    }
}
