package dev.flags.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flags.core.FlagFormat;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.ConnectException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLEncoder;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.StandardCharsets;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLHandshakeException;

/**
 * Not thread-safe (one per command run). Calls the server's admin API and turns failures into {@link CliException}s.
 * A {@code 429} (the token's request budget is used up), or a {@code 503} with a {@code Retry-After} (the server busy
 * reading other request bodies, or restarting), is retried after the server's {@code Retry-After}, if that is at most
 * a minute away, a few times, with a line on stderr each time: a kill switch thrown from a busy script's token should
 * wait a few seconds, not fail.
 */
final class Api {

    /**
     * Reads what people wrote (a flag's document, a user) as strictly as the server does: a field given twice is an
     * error, not the last one winning (a {@code "enabled": false} added above an old {@code "enabled": true} would be
     * dropped without a word). The server's answers never repeat a field. Decimals are read as written.
     */
    static final ObjectMapper JSON = new ObjectMapper()
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
            // Decimals as written, as the server keeps them: read as doubles, an export or an edit rounded a rule's
            // 1.00000000000000001 to 1, and wrote that back.
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);
    /**
     * What reads JSON a person gives the command (a flag's document, a user): strict as the server is (a field twice, a
     * second document after the first), and nested no deeper than a flag server takes (32), each refusal located by line
     * and column through {@link FlagFormat#readTree} (QA62 F6).
     */
    static final ObjectMapper INPUT = new ObjectMapper(com.fasterxml.jackson.core.JsonFactory.builder()
            .streamReadConstraints(com.fasterxml.jackson.core.StreamReadConstraints.builder().maxNestingDepth(32).build()).build())
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);
    /** How many times a refused (429, or 503 with Retry-After) request is sent again. */
    static final int MAX_RETRIES = 3;
    /** The longest Retry-After the command waits for; a longer one fails at once with the server's message. */
    static final long MAX_WAIT_SECONDS = 60;

    /** How long a request may wait for its answer once its connection is made. */
    static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    /** How long an answer may send nothing once its status and headers came: see {@link StallWatch}. */
    private final Duration answerStall;
    private final String server;
    private final String token;
    private final PrintWriter notices;
    /** When a refused call is no longer tried again ({@link System#nanoTime()}), or null for no such time. */
    private Long retryDeadline;
    /** What the last call said of the version it made: see {@link #lastEnvironmentVersion()}. */
    private long lastEnvironmentVersion = -1;

    Api(String server, String token, PrintWriter notices) {
        this(server, token, notices, REQUEST_TIMEOUT);
    }

    /** @param answerStall how long an answer may send nothing once its headers came (tests: less than 30 s) */
    Api(String server, String token, PrintWriter notices, Duration answerStall) {
        checkServer(server);
        this.answerStall = answerStall;
        if (token == null || token.isBlank()) {
            throw new CliException(FlagsCommand.EXIT_USAGE, "no token: pass --token or set FLAGS_TOKEN");
        }
        this.server = server.endsWith("/") ? server.substring(0, server.length() - 1) : server;
        this.token = checkedToken(token);
        this.notices = notices;
        if (inTheClear(server)) {
            // The server warns of the same at its start; this is the side that holds an admin's token.
            notices.println("flags: warning: the token goes to " + this.server + " in the clear (http, not a loopback address):"
                    + " anyone on the way can read it; use https://");
        }
    }

    /**
     * Whether the address is plain http to another machine, judged without a lookup: loopback is {@code localhost}
     * itself and an address literal that is one; any other name is not ({@code 127.evil.example} is a name), nor is a
     * name under {@code localhost} (RFC 6761 reserves them, but a system's resolver may send {@code x.localhost} to DNS,
     * and the token with it: QA71 F9).
     */
    static boolean inTheClear(String server) {
        URI uri = URI.create(server);
        String host = uri.getHost().toLowerCase(Locale.ROOT);
        boolean underLocalhost = host.replaceFirst("\\.$", "").endsWith(".localhost");
        return uri.getScheme().equalsIgnoreCase("http") && (underLocalhost || !dev.flags.core.Loopback.isThisMachine(host));
    }

    /**
     * Fails with a usage error unless the address is an absolute http or https URL with a host: anything else would
     * otherwise surface as an IllegalArgumentException of the HTTP client, deep inside the first request.
     */
    private static void checkServer(String server) {
        if (server == null || server.isBlank()) {
            String variable = System.getenv("FLAGS_SERVER");
            throw new CliException(FlagsCommand.EXIT_USAGE, "the server address is empty" + (variable != null && variable.isBlank()
                    ? " (FLAGS_SERVER is set, but empty: unset it for http://localhost:8080, or give it the server's address)"
                    : ": give --server http://host:port"));
        }
        URI uri = null;
        try {
            uri = server == null ? null : new URI(server);
        } catch (URISyntaxException e) {
            // reported below, with the expected form
        }
        String scheme = uri == null || uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        // The API's paths are appended to the address, so a query or fragment would end up in the wrong place.
        // Each message quotes the address without a user and password in it: they come before their own check (QA88 F2).
        String shown = FlagsCommand.withoutUserInfo(server);
        if (!(scheme.equals("http") || scheme.equals("https")) || uri.getHost() == null) {
            throw new CliException(FlagsCommand.EXIT_USAGE, "the server address \"" + shown
                    + "\" is not an http or https URL; expected http://host:port or https://host[:port] (set --server or FLAGS_SERVER)");
        }
        if (uri.getRawQuery() != null || uri.getRawFragment() != null) { // an http URL, but not one to add paths to (QA61 F11)
            int cut = server.indexOf(uri.getRawQuery() != null ? '?' : '#');
            throw new CliException(FlagsCommand.EXIT_USAGE, "the server address \"" + shown + "\" has a "
                    + (uri.getRawQuery() != null ? "query" : "fragment") + ", which a server address does not take: the flags"
                    + " command adds the API's paths to it; give " + withoutUserInfoAtAll(server.substring(0, cut))
                            .replaceFirst("/api(/v1)?/?$", "")
                    + " (set --server or FLAGS_SERVER)"); // nor its own /api/v1, which the next check would refuse (QA62 F10)
        }
        String path = uri.getRawPath() == null ? "" : uri.getRawPath();
        if (path.matches(".*/api(/v1)?/?")) { // a path of the server's own, which every request would then have twice
            throw new CliException(FlagsCommand.EXIT_USAGE, "the server address \"" + shown + "\" ends with "
                    + path.substring(path.lastIndexOf("/api")) + ", which the flags command adds to every request itself; give "
                    + withoutUserInfoAtAll(server.substring(0, server.length() - path.length() + path.lastIndexOf("/api")))
                    + " (set --server or FLAGS_SERVER)");
        }
        if (uri.getRawUserInfo() != null) {
            // Never sent (the token is the credential), yet shown in every message that names the server: a password.
            throw new CliException(FlagsCommand.EXIT_USAGE, "the server address has a user and password in it (\""
                    + server.replace(uri.getRawUserInfo() + "@", "...@") + "\"), which the flags command never sends: the token"
                    + " is its credential; give " + scheme + "://" + uri.getHost() + (uri.getPort() >= 0 ? ":" + uri.getPort() : "")
                    + " (set --server or FLAGS_SERVER)");
        }
    }

    /** The address to give instead: without a user and password, which the command never sends. */
    private static String withoutUserInfoAtAll(String address) {
        return FlagsCommand.withoutUserInfo(address, "");
    }

    /**
     * The token without the white space around it (a token file saved with CRLF line ends, {@code $(cat file; echo)}),
     * as the server takes its own; one with any other character that no token has is refused without showing it:
     * the HTTP client's own error would quote the whole header, token and all, into a terminal or a CI log.
     */
    /** As {@link #checkedToken}, or null for a value that is no token. */
    private static String checkedTokenOrNull(String token) {
        try {
            return token == null ? null : checkedToken(token);
        } catch (CliException e) {
            return null;
        }
    }

    static String checkedToken(String token) {
        String stripped = token.strip();
        for (int i = 0; i < stripped.length(); i++) {
            char c = stripped.charAt(i);
            if (c < 0x21 || c > 0x7e) {
                throw new CliException(FlagsCommand.EXIT_USAGE, "the token (--token or FLAGS_TOKEN) has a character no token has,"
                        + " at position " + (i + 1) + " of " + stripped.length() + " (" + (c < 0x20 || c == 0x7f ? "a control character"
                        : c == ' ' ? "a space" : "a non-ASCII character") + "): tokens are visible ASCII; check how it was copied");
            }
        }
        return stripped;
    }

    /**
     * A path segment, %-encoded.
     *
     * @throws CliException (usage) for an empty one: it would vanish from the URL and name another resource
     *     (".../tokens/" is the list of tokens, not a token)
     */
    static String path(String segment) {
        if (segment.isEmpty()) {
            throw new CliException(FlagsCommand.EXIT_USAGE, "a name or id given is empty (\"\"): give one");
        }
        return URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /**
     * @return the flag's key if the path is a flag's or under it ({@code /environments/E/flags/KEY}, {@code .../KEY/revert},
     *     query aside), else null
     */
    static String flagOf(String path) {
        String[] parts = path.split("\\?", 2)[0].split("/");
        if (parts.length < 5 || !parts[1].equals("environments") || !parts[3].equals("flags")) {
            return null;
        }
        return java.net.URLDecoder.decode(parts[4], StandardCharsets.UTF_8);
    }

    /**
     * @param comment a {@code -m} given, or null
     * @throws CliException (usage) for an empty one, which says nothing: as bad usage as a missing argument
     */
    static void checkComment(String comment) {
        if (comment != null && comment.isEmpty()) {
            throw new CliException(FlagsCommand.EXIT_USAGE, "the comment (-m) is empty: say why, or leave -m out");
        }
    }

    JsonNode call(String method, String path, JsonNode body, String comment) {
        return call(method, path, body, comment, Map.of());
    }

    /** A call with extra request headers, such as {@code If-Match}. */
    JsonNode call(String method, String path, JsonNode body, String comment, Map<String, String> headers) {
        String uri = server + "/api/v1" + path;
        if (comment != null) {
            checkComment(comment);
            uri += (path.contains("?") ? "&" : "?") + "comment=" + path(comment);
        }
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(uri)).timeout(REQUEST_TIMEOUT)
                .header("Authorization", "Bearer " + token)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body.toString()));
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        headers.forEach(b::header);
        HttpRequest request = b.build();
        HttpResponse<String> r = send(request);
        for (int retry = 1; retry <= MAX_RETRIES && retried(r); retry++) {
            long wait = retryAfterSeconds(r);
            if (wait < 0 || wait > MAX_WAIT_SECONDS
                    || (retryDeadline != null && System.nanoTime() + TimeUnit.SECONDS.toNanos(wait) - retryDeadline > 0)) {
                break; // the refusal is the answer: waiting would pass the command's own deadline (QA49a F8)
            }
            notices.println(r.statusCode() == 429 ? "flags: the server limits this token's requests; trying again in " + wait
                    + " s" : "flags: the server is busy (" + FlagsCommand.oneLine(detail(r)) + "); trying again in " + wait + " s");
            pause(wait);
            r = send(request);
        }
        JsonNode answer;
        try {
            answer = answer(r);
        } catch (CliException e) {
            if (e.httpStatus() == 401) { // which token: one from a variable set long ago is easily forgotten
                boolean fromVariable = token.equals(checkedTokenOrNull(System.getenv("FLAGS_TOKEN")));
                throw new CliException(e.exitCode(), e.getMessage() + " (the token of " + (fromVariable ? "FLAGS_TOKEN"
                        : "--token") + "; an admin's flags tokens list shows the live ones)", e.httpStatus(), e.title());
            }
            throw e;
        }
        Expected expected = expected(method, path);
        if (expected != null && !answer.has(expected.field())) {
            // Not the API's answer (a proxy's {}, another application's JSON): taken for one, it would read as done.
            // Named as flag() names it: "flag "billing-v2"'s document".
            throw notTheApi(expected.what().replace("%s", "flag \"" + FlagsCommand.oneLine(String.valueOf(flagOf(path))) + "\""));
        }
        lastEnvironmentVersion = r.headers().firstValue("X-Flags-Environment-Version").map(Api::versionOrNone).orElse(-1L);
        if ("false".equals(r.headers().firstValue("X-Flags-Changed").orElse(null))) {
            // A 200 either way; without this line "flags on" of a flag that is on looks like a change that was made.
            // Named: "flags off A B C" says it of each flag that already was off, among the others' lines.
            String flag = flagOf(path);
            notices.println("flags: nothing changed (" + (flag == null ? "it" : FlagsCommand.oneLine(flag))
                    + " already was so): no new version" + (comment != null ? ", and the comment was not recorded" : ""));
        }
        r.headers().firstValue("X-Flags-Schedules-No-Longer-Apply").ifPresent(ids -> notices.println(noLongerApply(ids)));
        r.headers().firstValue("X-Flags-Schedules-Will-Fail").ifPresent(ids -> notices.println("flags: pending schedules"
                + " made with this token will fail at their time (a schedule runs only while its maker's token may act): "
                + FlagsCommand.oneLine(ids) + " (make them again with a token that stays, then flags unschedule these)"));
        r.headers().firstValue("X-Flags-Warning").ifPresent(w -> notices.println("flags: " + FlagsCommand.oneLine(w)));
        r.headers().firstValue("X-Flags-Schedules-Switch-On").ifPresent(ids -> notices.println("flags: the flag is off, but"
                + " pending schedules will switch it on again at their time: " + FlagsCommand.oneLine(ids)
                + " (flags unschedule ID keeps it off; flags schedules shows them)"));
        return answer;
    }

    /**
     * Immutable. A field that every answer of the API to a request has, whatever the answer's content.
     *
     * @param method the request's method
     * @param path the request's path under {@code /api/v1}, without its query, as a regular expression
     * @param field the field
     * @param what what the answer is, as a refusal of another names it ({@code %s}: the flag of the path)
     */
    private record Expected(String method, java.util.regex.Pattern path, String field, String what) {
        Expected(String method, String path, String field, String what) {
            this(method, java.util.regex.Pattern.compile(path), field, what);
        }
    }

    /**
     * What each of the API's answers has, by request (api.md): every call is checked here, so that no command takes an
     * answer without it ({@code {}} from a proxy, another application's JSON) for the server's, and says "created" or
     * "no changes" of a request the server never saw (QA71 F2). A request not listed is checked by its command.
     */
    private static final List<Expected> EXPECTED = List.of(
            new Expected("GET", "/environments", "environments", "a list of environments"),
            new Expected("POST", "/environments", "key", "an environment"),
            new Expected("GET|DELETE", "/environments/[^/]+", "key", "an environment"),
            new Expected("POST", "/environments/[^/]+/restore", "key", "an environment"),
            new Expected("GET", "/environments/[^/]+/flags", "flags", "a list of flags"),
            new Expected("GET|PUT|PATCH", "/environments/[^/]+/flags/[^/]+", "key", "%s's document"),
            new Expected("DELETE", "/environments/[^/]+/flags/[^/]+", "key", "an archived or deleted flag"),
            new Expected("GET", "/environments/[^/]+/flags/[^/]+/history", "versions", "a flag's history"),
            new Expected("POST", "/environments/[^/]+/flags/[^/]+/revert", "key", "%s's document"),
            new Expected("POST", "/environments/[^/]+/flags/[^/]+/schedules", "id", "a schedule"),
            new Expected("GET", "/environments/[^/]+/schedules", "schedules", "a list of schedules"),
            new Expected("GET|DELETE", "/environments/[^/]+/schedules/[^/]+", "id", "a schedule"),
            new Expected("GET", "/environments/[^/]+/roles", "members", "the roles"),
            new Expected("PUT", "/environments/[^/]+/roles/[^/]+", "role", "a role"),
            new Expected("PUT|DELETE", "/environments/[^/]+/roles/[^/]+/members/[^/]+", "member", "a role grant"),
            new Expected("GET", "/environments/[^/]+/usage", "flags", "the flags' usage"),
            new Expected("GET", "/environments/[^/]+/sdks", "pending", "a list of SDKs"),
            new Expected("GET", "/environments/[^/]+/state", "flags", "an environment's state"),
            new Expected("GET", "/audit", "entries", "the audit log"),
            new Expected("GET", "/tokens", "tokens", "a list of tokens"),
            new Expected("POST", "/tokens", "token", "a new token"),
            new Expected("GET|DELETE", "/tokens/[^/]+", "id", "a token"),
            new Expected("GET", "/whoami", "id", "a token"));

    /** @return what the API's answer to the request has, or null for a request not in {@link #EXPECTED} */
    private static Expected expected(String method, String path) {
        String bare = path.split("\\?", 2)[0];
        for (Expected e : EXPECTED) {
            if (method.matches(e.method()) && e.path().matcher(bare).matches()) {
                return e;
            }
        }
        return null;
    }

    /**
     * Calls from now on are not tried again after a {@code Retry-After} that would end past this time: a command with
     * a time of its own ({@code --wait 20s}) keeps to it.
     *
     * @param deadline a {@link System#nanoTime()}
     */
    void retryUntil(long deadline) {
        this.retryDeadline = deadline;
    }

    /**
     * @return the environment's version the last call's write made ({@code X-Flags-Environment-Version}), or -1 if it
     *     said none (it changed nothing, or the server is older than the header)
     */
    long lastEnvironmentVersion() {
        return lastEnvironmentVersion;
    }

    private static long versionOrNone(String header) {
        try {
            return Long.parseLong(header.trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /**
     * The line for {@code X-Flags-Schedules-No-Longer-Apply}: the server's "and N more (GET .../schedules?flag=KEY)" is
     * the API's pointer, left out for this command's own, flags schedules.
     */
    static String noLongerApply(String ids) {
        return "flags: pending schedules no longer apply to the flag as it will be at their time, and will fail then: "
                + FlagsCommand.oneLine(ids.replaceFirst(" \\(GET [^()]*\\)$", "")) + " (flags schedules shows them; flags"
                + " unschedule ID, then schedule the change again)";
    }

    /**
     * Every served, or every archived, flag of an environment, by key. The server answers a list in pages of at most
     * 8 MiB of documents, each saying where the next starts ({@code after}); this reads them all.
     */
    List<JsonNode> flags(String environment, boolean archived) {
        List<JsonNode> all = new ArrayList<>();
        String after = null;
        do {
            JsonNode page = call("GET", "/environments/" + path(environment) + "/flags" + (archived ? "?archived=true" : "")
                    + (after == null ? "" : (archived ? "&" : "?") + "after=" + path(after)), null, null);
            if (!page.path("flags").isArray()) {
                throw notTheApi("a list of flags");
            }
            page.path("flags").forEach(all::add);
            String next = page.hasNonNull("after") ? page.get("after").asText() : null;
            // Keys sort, and each page starts after the last: one that does not (a proxy answering the same page) would
            // be read for ever, memory growing (QA71 F6).
            if (next != null && after != null && next.compareTo(after) <= 0) {
                throw new CliException(FlagsCommand.EXIT_FAILED, "the server's pages of flags do not go on (after "
                        + FlagsCommand.quoted(after) + ", then " + FlagsCommand.quoted(next) + "): is " + server + " a flag"
                        + " server's HTTP API? (check --server or FLAGS_SERVER)");
            }
            after = next;
        } while (after != null);
        return all;
    }

    /**
     * A flag's document as the server answers it, checked to be one: an address where something else answers JSON (an
     * application's own port, say) must not pass for a flag server that switched a flag off.
     *
     * @param key the flag asked for
     * @throws CliException unless the answer is that flag's document, with its version
     */
    JsonNode flag(JsonNode answer, String key) {
        if (!answer.path("key").asText("").equals(key) || !answer.path("version").canConvertToLong()
                || !answer.path("enabled").isBoolean()) {
            throw notTheApi("flag \"" + FlagsCommand.oneLine(key) + "\"'s document");
        }
        return answer;
    }

    /**
     * @param field a field every such answer of the server has
     * @param what what the answer is, as the refusal names it
     * @return the answer, if it has the field
     * @throws CliException as {@link #flag} does, if not
     */
    JsonNode expect(JsonNode answer, String field, String what) {
        if (!answer.has(field)) {
            throw notTheApi(what);
        }
        return answer;
    }

    /** @param what what the command asked for, as the refusal names it */
    CliException notTheApi(String what) {
        return new CliException(FlagsCommand.EXIT_FAILED, "the answer is not " + what + ", as a flag server's is: is " + server
                + " a flag server's HTTP API? (check --server or FLAGS_SERVER); nothing is known to be done");
    }

    /** @return an archived flag's last document (what restoring it brings back), or null if it is not archived there */
    JsonNode archivedFlag(String environment, String key) {
        try {
            return call("GET", "/environments/" + path(environment) + "/flags/" + path(key) + "?archived=true", null, null);
        } catch (CliException e) {
            if (e.httpStatus() == 404 && e.title().equals("flag not found")) {
                return null; // served, or no flag of that key: the environment itself was found
            }
            throw e;
        }
    }

    /** A 429 (the token's budget), or a 503 that says when to come back (busy reading bodies, or restarting). */
    private static boolean retried(HttpResponse<String> r) {
        return r.statusCode() == 429 || r.statusCode() == 503 && r.headers().firstValue("Retry-After").isPresent();
    }

    private static String detail(HttpResponse<String> r) {
        try {
            return JSON.readTree(r.body()).path("detail").asText("503");
        } catch (IOException e) {
            return "503";
        }
    }

    private HttpResponse<String> send(HttpRequest request) {
        StallWatch watch = new StallWatch(answerStall);
        try {
            return http.send(request, watch.watching(HttpResponse.BodyHandlers.ofString()));
        } catch (ConnectException | HttpTimeoutException e) {
            throw new CliException(FlagsCommand.EXIT_UNREACHABLE, watch.stalled() ? stalled(watch) : unreachable(server, e));
        } catch (IOException e) {
            if (watch.stalled()) {
                throw new CliException(FlagsCommand.EXIT_UNREACHABLE, stalled(watch));
            }
            if (outOfMemory(e)) {
                // The HTTP client wraps it: not the server's or the network's fault, and no reason to check --server.
                throw new CliException(FlagsCommand.EXIT_FAILED, "the server's answer did not fit in this command's memory ("
                        + describe(e) + "): give Java more, such as JAVA_TOOL_OPTIONS=-Xmx1g");
            }
            String dates = certificateDates(e);
            if (dates != null) {
                // Trusted or not, a certificate out of its dates is the server's to renew (or a clock to set): advice to
                // trust its CA would send the reader down the wrong path.
                throw new CliException(FlagsCommand.EXIT_UNREACHABLE, "the flag server at " + server + " presented a"
                        + " certificate " + dates);
            }
            String noPassword = trustStoreWithoutPassword(System.getProperty("javax.net.ssl.trustStore"),
                    System.getProperty("javax.net.ssl.trustStorePassword"));
            if (noPassword != null && isTls(e)) {
                // The handshake then fails in words that blame the server ("Remote host terminated the handshake").
                throw new CliException(FlagsCommand.EXIT_UNREACHABLE, "talking to " + server + " failed: " + describe(e) + "; "
                        + noPassword);
            }
            if (untrustedCertificate(e)) {
                // Java's own words ("PKIX path building failed: ...") do not say what to do.
                throw new CliException(FlagsCommand.EXIT_UNREACHABLE, "the flag server at " + server + " presented a"
                        + " certificate this machine does not trust. If it is signed by your own CA, trust that CA: make a"
                        + " trust store of it and run with JAVA_TOOL_OPTIONS=\"-Djavax.net.ssl.trustStore=ca.p12"
                        + " -Djavax.net.ssl.trustStorePassword=changeit\" (docs/cli.md, \"A server with its own CA\")");
            }
            String otherName = certificateForAnotherName(e);
            if (otherName != null) {
                throw new CliException(FlagsCommand.EXIT_UNREACHABLE, "the flag server at " + server + " presented a"
                        + " certificate that is not for this name or address (" + otherName + "): give --server (or"
                        + " FLAGS_SERVER) a name or address that the certificate lists");
            }
            throw new CliException(FlagsCommand.EXIT_UNREACHABLE, "talking to " + server + " failed: " + describe(e));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException(FlagsCommand.EXIT_UNREACHABLE, "interrupted");
        }
    }

    /** What to say of an answer that stopped after its headers: a write it answered may have been made, or not. */
    private String stalled(StallWatch watch) {
        long seconds = answerStall.toSeconds();
        return "the flag server at " + server + " answered " + watch.status() + ", then sent nothing more of its answer for "
                + (seconds > 0 ? seconds + " s" : answerStall.toMillis() + " ms") + " (a connection lost on the way, or a"
                + " proxy or server stuck): what it did is not known; check it (flags show, flags history) before trying again";
    }

    /**
     * Thread-safe. Ends an answer that sends nothing for a while once its status and headers came. The request's own
     * timeout ({@link #REQUEST_TIMEOUT}) ends at the headers: a body that stops half-way (a proxy or server stuck
     * mid-answer, a connection lost without a reset) held the command, a kill switch included, for as long as the
     * connection stayed open (QA90 F2). Its time restarts with every part of the body, so a large answer over a slow
     * link is read whole however long it takes.
     */
    static final class StallWatch {

        private static final java.util.concurrent.ScheduledExecutorService CLOCK =
                java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                    Thread t = new Thread(r, "flags-answer-watch");
                    t.setDaemon(true); // never what keeps the command from ending
                    return t;
                });

        private final long limitNanos;
        private volatile boolean stalled;
        private volatile int status;

        StallWatch(Duration limit) {
            this.limitNanos = limit.toNanos();
        }

        /** @return whether an answer was ended for sending nothing */
        boolean stalled() {
            return stalled;
        }

        /** @return the status of the answer watched, or 0 before its headers */
        int status() {
            return status;
        }

        /** @return the handler, its bodies watched */
        <T> HttpResponse.BodyHandler<T> watching(HttpResponse.BodyHandler<T> handler) {
            return info -> {
                status = info.statusCode();
                return new Watched<>(handler.apply(info));
            };
        }

        /** One body: its signals passed on one at a time, none after it ended (the HTTP client's, or the watch's). */
        private final class Watched<T> implements HttpResponse.BodySubscriber<T> {
            private final HttpResponse.BodySubscriber<T> body;
            private long lastPart = System.nanoTime();
            private boolean ended;
            private java.util.concurrent.Flow.Subscription subscription;
            private java.util.concurrent.ScheduledFuture<?> check;

            Watched(HttpResponse.BodySubscriber<T> body) {
                this.body = body;
            }

            @Override
            public java.util.concurrent.CompletionStage<T> getBody() {
                return body.getBody();
            }

            @Override
            public synchronized void onSubscribe(java.util.concurrent.Flow.Subscription subscription) {
                this.subscription = subscription;
                lastPart = System.nanoTime();
                long every = Math.max(TimeUnit.MILLISECONDS.toNanos(50), limitNanos / 10);
                check = CLOCK.scheduleWithFixedDelay(this::check, every, every, TimeUnit.NANOSECONDS);
                body.onSubscribe(subscription);
            }

            @Override
            public synchronized void onNext(List<java.nio.ByteBuffer> parts) {
                if (!ended) {
                    lastPart = System.nanoTime();
                    body.onNext(parts);
                }
            }

            @Override
            public synchronized void onError(Throwable failure) {
                if (end()) {
                    body.onError(failure);
                }
            }

            @Override
            public synchronized void onComplete() {
                if (end()) {
                    body.onComplete();
                }
            }

            private synchronized void check() {
                if (!ended && System.nanoTime() - lastPart > limitNanos) {
                    end();
                    stalled = true;
                    subscription.cancel(); // closes the connection: nothing more is read from it
                    body.onError(new HttpTimeoutException("the answer sent nothing for " + limitNanos / 1_000_000 + " ms"));
                }
            }

            /** @return true if this ended the body, false if it had ended */
            private boolean end() {
                if (ended) {
                    return false;
                }
                ended = true;
                if (check != null) {
                    check.cancel(false);
                }
                return true;
            }
        }
    }

    /**
     * Why the server could not be talked to. A request that timed out after its connection was made was not lost on
     * the way to a wrong address: the server took the connection and did not answer, which a busy server, or one at its
     * cap of open connections (whose system queues new ones unanswered), does.
     */
    static String unreachable(String server, IOException failure) {
        if (failure instanceof HttpTimeoutException && !(failure instanceof java.net.http.HttpConnectTimeoutException)) {
            return "the flag server at " + server + " took the connection but did not answer within "
                    + REQUEST_TIMEOUT.toSeconds() + " s: it may be overloaded, or at its cap of open connections"
                    + " (--http-max-connections; its flags_http_connections metric says how many are open); try again later";
        }
        if (failure instanceof java.net.http.HttpConnectTimeoutException && server.startsWith("https:")) {
            // Java's connect timeout takes in the TLS handshake, which a server at its cap leaves queued unanswered.
            return "cannot reach the flag server at " + server + ": " + describe(failure) + " (over https that includes the"
                    + " TLS handshake, which a server at its cap of open connections, or an overloaded one, leaves unanswered"
                    + " too; else check --server or FLAGS_SERVER)";
        }
        return "cannot reach the flag server at " + server + ": " + describe(failure) + " (set --server or FLAGS_SERVER)";
    }

    /** Whether the failure is the JVM's memory running out while the answer was read (QA71 F5). */
    static boolean outOfMemory(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof OutOfMemoryError) {
                return true;
            }
        }
        return false;
    }

    /** Whether the TLS handshake failed because no trusted CA vouches for the server's certificate. */
    /**
     * @return what is wrong with the dates of the certificate a handshake refused, with what to do (expired: the server
     *     needs a renewed one; not valid yet: a clock), or null if its dates were not what failed
     */
    static String certificateDates(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof java.security.cert.CertificateExpiredException) {
                return "that has expired, or one of its chain has (" + FlagsCommand.oneLine(String.valueOf(t.getMessage()))
                        + "): the server needs a renewed one (it reads its certificate at start)";
            }
            if (t instanceof java.security.cert.CertificateNotYetValidException) {
                return "that is not valid yet (" + FlagsCommand.oneLine(String.valueOf(t.getMessage())) + "): is this"
                        + " machine's clock right?";
            }
        }
        return null;
    }

    /**
     * @return what the JDK said of a certificate that is not for the name or address asked for ("No subject alternative
     *     DNS name matching vm found."), or null if that was not what failed
     */
    static String certificateForAnotherName(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            String message = t.getMessage();
            if (t instanceof java.security.cert.CertificateException && message != null
                    && (message.startsWith("No subject alternative") || message.startsWith("No name matching"))) {
                return FlagsCommand.oneLine(message);
            }
        }
        return null;
    }

    /**
     * @param trustStore the {@code javax.net.ssl.trustStore} property, or null
     * @param password the {@code javax.net.ssl.trustStorePassword} property, or null
     * @return a word on a trust store given without its password, which Java then reads no certificate from (a PKCS12
     *     store's certificates are encrypted with it), so that it trusts nothing; null if that is not the case
     */
    static String trustStoreWithoutPassword(String trustStore, String password) {
        if (trustStore == null || trustStore.isBlank() || password != null) {
            return null;
        }
        return "-Djavax.net.ssl.trustStore is set (" + FlagsCommand.oneLine(trustStore) + ") without"
                + " -Djavax.net.ssl.trustStorePassword: Java then reads no certificate from a PKCS12 trust store, and trusts"
                + " no server; give its password too (docs/cli.md, \"A server with its own CA\")";
    }

    private static boolean isTls(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof javax.net.ssl.SSLException) {
                return true;
            }
        }
        return false;
    }

    static boolean untrustedCertificate(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof CertPathBuilderException || t instanceof CertPathValidatorException
                    || (t instanceof SSLHandshakeException && t.getMessage() != null && t.getMessage().startsWith("PKIX path"))) {
                return true;
            }
        }
        return false;
    }

    /**
     * What went wrong, in words: the HTTP client often throws exceptions without a message (a refused connection
     * is a ConnectException with none, caused by another without one), which would print as "null".
     */
    static String describe(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof UnresolvedAddressException || t instanceof UnknownHostException) {
                return "unknown host"; // the exceptions say nothing more than the host name, which the caller prints
            }
        }
        for (Throwable t = failure; t != null; t = t.getCause()) {
            String message = t.getMessage();
            // A wrapper made from its cause alone has the cause's class name as its message: not words.
            boolean wrapperDefault = t.getCause() != null && t.getCause().toString().equals(message);
            if (message != null && (message.contains("parsing HTTP/1.1 status line") || message.startsWith("Invalid status line"))) {
                // Its bytes (a gRPC or TLS port's answer) are quoted in the message: not for a terminal.
                return "the answer is not HTTP: is this the flag server's HTTP port (not its gRPC port), and http or"
                        + " https as the server serves it?";
            }
            if (message != null && message.startsWith("Unrecognized SSL message")) {
                // Java's words for a TLS handshake answered in plain HTTP.
                return "the server does not speak TLS on this port: is it served over http (no TLS), or is this not its"
                        + " HTTP port?";
            }
            if (message != null && !message.isBlank() && !wrapperDefault) {
                return FlagsCommand.oneLine(message);
            }
        }
        if (failure instanceof ConnectException) {
            return "connection refused";
        }
        Throwable root = failure;
        while (root.getCause() != null) {
            root = root.getCause();
        }
        return inWords(root.getClass().getSimpleName());
    }

    /** A class name in plain words: ClosedChannelException is "closed channel", EOFException is "EOF". */
    static String inWords(String className) {
        String name = className.endsWith("Exception") && !className.equals("Exception")
                ? className.substring(0, className.length() - "Exception".length()) : className;
        StringBuilder words = new StringBuilder();
        for (String word : name.split("(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")) {
            if (!words.isEmpty()) {
                words.append(' ');
            }
            words.append(word.equals(word.toUpperCase(Locale.ROOT)) ? word : word.toLowerCase(Locale.ROOT)); // acronyms stay
        }
        return words.toString();
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

    private JsonNode answer(HttpResponse<String> r) {
        URI asked = r.request().uri();
        if (r.statusCode() >= 300 && r.statusCode() < 400) {
            throw new CliException(FlagsCommand.EXIT_FAILED, redirected(r), r.statusCode(), "");
        }
        if (r.statusCode() < 400 && r.body().isBlank()) {
            // The API answers every request it takes with JSON: a 204, or a 200 with nothing, is someone else's.
            throw new CliException(FlagsCommand.EXIT_FAILED, "the server answered " + r.statusCode() + " with no body, where"
                    + " a flag server's API answers JSON: is " + server + " a flag server's HTTP API? (check --server or"
                    + " FLAGS_SERVER); nothing is known to be done", r.statusCode(), "");
        }
        JsonNode json;
        try {
            json = r.body().isEmpty() ? JSON.createObjectNode() : JSON.readTree(r.body());
        } catch (IOException e) {
            throw new CliException(FlagsCommand.EXIT_FAILED, "the server answered " + r.statusCode() + " with something that is"
                    + " not JSON: is " + asked.getScheme() + "://" + asked.getRawAuthority() + " a flag server's HTTP API? (check"
                    + " --server or FLAGS_SERVER)");
        }
        if (r.statusCode() < 400 && !json.isObject()) { // every answer of the API is an object
            throw new CliException(FlagsCommand.EXIT_FAILED, "the server answered " + r.statusCode() + " with JSON that is not"
                    + " the API's (not an object): is " + server + " a flag server's HTTP API? (check --server or FLAGS_SERVER);"
                    + " nothing is known to be done", r.statusCode(), "");
        }
        if (r.statusCode() >= 400 && !json.has("title")) { // every refusal of the API is a problem with a title
            throw new CliException(FlagsCommand.EXIT_FAILED, "the server answered " + r.statusCode() + " with JSON that is not"
                    + " the API's (no problem title): is " + asked.getScheme() + "://" + asked.getRawAuthority() + " a flag"
                    + " server's HTTP API? (check --server or FLAGS_SERVER)", r.statusCode(), "");
        }
        if (r.statusCode() >= 400) {
            // The detail and problems quote what people typed (names, ids, comments, values): escaped, so that none can
            // drive the terminal that shows the error.
            String detail = FlagsCommand.shown(json.path("detail").asText("the server answered " + r.statusCode()));
            StringBuilder message = new StringBuilder(detail);
            for (JsonNode p : json.path("problems")) {
                String problem = FlagsCommand.shown(p.path("path").asText() + " " + p.path("message").asText());
                // The server's detail spells out a single problem itself; listing it again would say it twice.
                if (!detail.contains(problem)) {
                    message.append("\n  ").append(problem);
                }
            }
            if (olderServer(r.statusCode(), detail)) {
                message.append("\n  (this command sent what the server does not know: is it an older release than this CLI?"
                        + " upgrade the server, or use the CLI of its release; server.md, Upgrading)");
            }
            throw new CliException(FlagsCommand.EXIT_FAILED, message.toString(), r.statusCode(), json.path("title").asText(""));
        }
        return json;
    }

    /**
     * What to say of a redirect, which the HTTP client does not follow (its default): a write sent again elsewhere may
     * change its method or lose its body, and the token would go with it to wherever the answer points. Followed or not,
     * the request was not the flag server's to answer, so nothing was done; the address it points to is what to give as
     * {@code --server}, if it is the flag server's (an http address that a proxy sends to https, say).
     */
    private String redirected(HttpResponse<String> r) {
        String location = r.headers().firstValue("Location").orElse(null);
        String said = "the server answered " + r.statusCode() + ", a redirect";
        if (location == null || location.isBlank()) {
            return said + " that says nowhere (no Location): is " + server + " a flag server's HTTP API? (check --server or"
                    + " FLAGS_SERVER); nothing was done";
        }
        String to;
        try {
            to = r.request().uri().resolve(location.strip()).toString();
        } catch (IllegalArgumentException e) {
            to = location.strip();
        }
        // The request's own path after the address: what is left before it is the address the redirect means.
        String asked = r.request().uri().toString();
        String apiPath = asked.substring(server.length()).split("\\?", 2)[0];
        String toPath = to.split("[?#]", 2)[0];
        String base = toPath.endsWith(apiPath) ? toPath.substring(0, toPath.length() - apiPath.length()) : null;
        return said + " to " + FlagsCommand.shown(to) + ": the flags command does not follow redirects (the request and its"
                + " token would go elsewhere unasked), so nothing was done; " + (base != null && !base.isEmpty()
                ? "if that is the flag server, use " + FlagsCommand.shown(base) + " as --server (or FLAGS_SERVER)"
                : "if it points to the flag server, give its address as --server (or FLAGS_SERVER)");
    }

    /**
     * Whether a refusal names what this CLI sent rather than what its user typed: a query parameter or a patch operation
     * the CLI builds itself, or an endpoint. The likely cause is a server older than the CLI.
     */
    static boolean olderServer(int status, String detail) {
        return (status == 400 && (detail.startsWith("unknown query parameter") || detail.contains("is not a patch operation")))
                || (status == 404 && detail.startsWith("there is no endpoint"));
    }
}
