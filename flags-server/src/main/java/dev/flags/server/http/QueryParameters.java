package dev.flags.server.http;

import dev.flags.server.ApiException;
import dev.flags.server.LogText;
import jakarta.servlet.http.HttpServletRequest;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The query parameters an endpoint takes, and a 400 for any other. A misspelt parameter must not be
 * ignored: {@code DELETE ...?unusedfor=P7D} would archive a flag that code still asks for, and
 * {@code GET .../flags?archive=true} would answer a different question than the one asked.
 *
 * <p>The names are read from the query string itself, not from the servlet's parameter map, which
 * also holds the fields of a form body. Stateless; safe from any thread.
 */
final class QueryParameters {

    private QueryParameters() {
    }

    /**
     * Refuses a request whose query string names a parameter not in {@code allowed}, or one of them twice.
     *
     * @throws ApiException 400, naming the parameter, what the endpoint takes, and a near spelling
     */
    static void requireOnly(HttpServletRequest req, String... allowed) {
        String query = req.getQueryString();
        if (query == null || query.isEmpty()) {
            return;
        }
        List<String> known = Arrays.asList(allowed);
        Map<String, Integer> counts = new HashMap<>();
        for (String pair : query.split("&")) {
            if (pair.isEmpty()) {
                continue; // "a=1&&b=2" or a trailing "&": nothing named
            }
            int equals = pair.indexOf('=');
            String name = decode(equals < 0 ? pair : pair.substring(0, equals));
            if (!known.contains(name)) {
                throw new ApiException(400, "bad request", unknown(name, req.getMethod(), known));
            }
            counts.merge(name, 1, Integer::sum);
        }
        // No parameter is a list: acting on the first of two would quietly drop the other.
        for (String name : known) {
            int count = counts.getOrDefault(name, 0);
            if (count > 1) {
                throw new ApiException(400, "bad request", "\"" + name + "\" is given " + count + " times: give it once");
            }
        }
    }

    private static String unknown(String name, String method, List<String> known) {
        String shown = LogText.quoted(name, 80);
        if (known.isEmpty()) {
            return "unknown query parameter " + shown + ": this " + method + " takes no query parameters";
        }
        String near = known.stream().filter(k -> k.equalsIgnoreCase(name)).findFirst()
                .map(k -> " (did you mean \"" + k + "\"?)").orElse("");
        return "unknown query parameter " + shown + near + ": this " + method + " takes " + String.join(", ", known);
    }

    private static String decode(String raw) {
        try {
            return URLDecoder.decode(raw, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new ApiException(400, "bad request", "a query parameter's name has a malformed %-escape: "
                    + LogText.quoted(raw, 80));
        }
    }
}
