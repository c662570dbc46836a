package dev.flags.server.http;

import dev.flags.server.ApiException;
import dev.flags.server.LogText;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The query parameters of an API request: read from the query string alone, and only those the
 * endpoint takes. A misspelt parameter must not be ignored: {@code DELETE ...?unusedfor=P7D} would
 * archive a flag that code still asks for, and {@code GET .../flags?archive=true} would answer
 * another question than the one asked.
 *
 * <p>The servlet's own parameters also hold the fields of a form body, for any method: a {@code DELETE}
 * with {@code unusedfor=P7D} in a form body would pass every check made on the query string. So the API
 * reads its parameters through {@link #queryOnly(HttpServletRequest)}, which has none but the query
 * string's. Names and values are %-decoded as UTF-8 ({@code +} is a space); bytes that are not UTF-8 are
 * refused rather than stored as replacement characters. Stateless; safe from any thread.
 */
final class QueryParameters {

    private QueryParameters() {
    }

    /**
     * @return the request with {@code getParameter} and its kin answering from the query string alone
     * @throws ApiException 400 for a query string that is not %-encoded UTF-8
     */
    static HttpServletRequest queryOnly(HttpServletRequest req) {
        Map<String, List<String>> parsed = parse(req.getQueryString());
        Map<String, String[]> values = new LinkedHashMap<>();
        parsed.forEach((name, list) -> values.put(name, list.toArray(String[]::new)));
        Map<String, String[]> readOnly = Collections.unmodifiableMap(values);
        return new HttpServletRequestWrapper(req) {
            @Override
            public String getParameter(String name) {
                String[] v = readOnly.get(name);
                return v == null ? null : v[0];
            }

            @Override
            public String[] getParameterValues(String name) {
                String[] v = readOnly.get(name);
                return v == null ? null : v.clone();
            }

            @Override
            public Map<String, String[]> getParameterMap() {
                return readOnly;
            }

            @Override
            public Enumeration<String> getParameterNames() {
                return Collections.enumeration(readOnly.keySet());
            }
        };
    }

    /**
     * Refuses a form body ({@code curl -d 'unusedFor=P7D'} sends one): the API reads parameters from the
     * query string and bodies as JSON, so a form's fields would be ignored, a guard among them.
     *
     * @throws ApiException 415 for a form body
     */
    static void refuseFormBody(HttpServletRequest req) {
        String type = req.getContentType();
        if (type == null) {
            return;
        }
        String media = type.split(";", 2)[0].trim().toLowerCase(java.util.Locale.ROOT);
        if (media.equals("application/x-www-form-urlencoded") || media.equals("multipart/form-data")) {
            // Most often curl -d without a Content-Type (curl then sends a form): the fix for that comes first.
            throw new ApiException(415, "unsupported media type", "a form body (" + media + ") is not read: a body is JSON,"
                    + " sent with Content-Type: application/json (curl -d sends a form without -H 'Content-Type:"
                    + " application/json'); parameters go in the query string");
        }
    }

    /**
     * Refuses a request whose query string names a parameter not in {@code allowed}, or one of them twice.
     *
     * @throws ApiException 400, naming the parameter, what the endpoint takes, and a near spelling
     */
    static void requireOnly(HttpServletRequest req, String... allowed) {
        List<String> known = Arrays.asList(allowed);
        for (Map.Entry<String, List<String>> given : parse(req.getQueryString()).entrySet()) {
            String name = given.getKey();
            if (!known.contains(name)) {
                throw new ApiException(400, "bad request", unknown(name, req.getMethod(), known));
            }
            // No parameter is a list: acting on the first of two would quietly drop the other.
            if (given.getValue().size() > 1) {
                throw new ApiException(400, "bad request", "\"" + name + "\" is given " + given.getValue().size()
                        + " times: give it once");
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

    /** Each name's values in the order given; "a=1&&b=2", a trailing "&" and a bare "a" are all fine. */
    private static Map<String, List<String>> parse(String query) {
        Map<String, List<String>> parsed = new LinkedHashMap<>();
        if (query == null || query.isEmpty()) {
            return parsed;
        }
        for (String pair : query.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int equals = pair.indexOf('=');
            String name = decode(equals < 0 ? pair : pair.substring(0, equals), null);
            String value = equals < 0 ? "" : decode(pair.substring(equals + 1), name);
            parsed.computeIfAbsent(name, k -> new ArrayList<>(1)).add(value);
        }
        return parsed;
    }

    /**
     * %-decodes as UTF-8, strictly.
     *
     * @param of the parameter whose value this is, or null for a name (for the message)
     */
    private static String decode(String raw, String of) {
        if (raw.indexOf('%') < 0 && raw.indexOf('+') < 0 && raw.chars().allMatch(c -> c < 0x80)) {
            return raw; // nothing to decode
        }
        byte[] bytes = new byte[raw.length()];
        int n = 0;
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '+') {
                bytes[n++] = ' ';
            } else if (c == '%') {
                int high = i + 2 < raw.length() ? Character.digit(raw.charAt(i + 1), 16) : -1;
                int low = high < 0 ? -1 : Character.digit(raw.charAt(i + 2), 16);
                if (low < 0) {
                    throw bad(raw, of, "has a malformed %-escape");
                }
                bytes[n++] = (byte) (high << 4 | low);
                i += 2;
            } else if (c < 0x80) {
                bytes[n++] = (byte) c;
            } else {
                throw bad(raw, of, "is not %-encoded"); // the container refuses raw non-ASCII in the URL first
            }
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes, 0, n)).toString();
        } catch (CharacterCodingException e) {
            throw bad(raw, of, "is not UTF-8 once %-decoded");
        }
    }

    private static ApiException bad(String raw, String of, String problem) {
        String what = of == null ? "the query parameter name " + LogText.quoted(raw, 80)
                : "the value of query parameter " + LogText.quoted(of, 80) + " (" + LogText.quoted(raw, 80) + ")";
        return new ApiException(400, "bad request", what + " " + problem + "; send text as UTF-8, %-encoded");
    }
}
