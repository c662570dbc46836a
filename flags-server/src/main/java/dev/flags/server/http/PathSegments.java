package dev.flags.server.http;

import dev.flags.server.ApiException;
import jakarta.servlet.http.HttpServletRequest;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Immutable (stateless). The segments of a request's path below the servlet's mapping, each
 * percent-decoded on its own, from the raw request URI.
 *
 * <p>Not from {@code getPathInfo()}: the container decodes the path as a whole and, to guard
 * path-based routing, leaves {@code %2F} and {@code %5C} encoded and cuts {@code ;...} off a segment as
 * a path parameter. Keys never contain those characters, but user ids may (an id such as
 * {@code org/42} is valid), and a role granted to {@code "org%2F42"} or to the part of an id before a
 * {@code ;} would be a grant to someone else. Splitting first and decoding each segment afterwards
 * keeps an encoded {@code /} inside its segment, where it belongs.
 */
final class PathSegments {

    private PathSegments() {
    }

    /**
     * @param req the request
     * @return the decoded segments after the servlet's path, empty ones (from {@code //} or a trailing
     *         {@code /}) left out
     * @throws ApiException 400 if a segment's percent-encoding is malformed or not UTF-8
     */
    static List<String> of(HttpServletRequest req) {
        String raw = req.getRequestURI();
        String prefix = req.getContextPath() + req.getServletPath();
        // The container matched the mapping on the decoded path; a raw path that spells the prefix
        // with escapes has no segments we route on.
        String rest = raw.startsWith(prefix) ? raw.substring(prefix.length()) : "";
        List<String> segments = new ArrayList<>();
        for (String segment : rest.split("/")) {
            if (!segment.isEmpty()) {
                segments.add(decode(segment));
            }
        }
        return List.copyOf(segments);
    }

    /** Percent-decodes one segment as UTF-8; '+' is a plus in a path, not a space. */
    static String decode(String segment) {
        if (segment.indexOf('%') < 0) {
            return segment;
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(segment.length());
        for (int i = 0; i < segment.length(); i++) {
            if (segment.charAt(i) != '%') {
                int end = segment.indexOf('%', i);
                end = end < 0 ? segment.length() : end;
                byte[] plain = segment.substring(i, end).getBytes(StandardCharsets.UTF_8);
                bytes.write(plain, 0, plain.length);
                i = end - 1;
                continue;
            }
            int high = i + 2 < segment.length() ? Character.digit(segment.charAt(i + 1), 16) : -1;
            int low = high < 0 ? -1 : Character.digit(segment.charAt(i + 2), 16);
            if (low < 0) {
                throw new ApiException(400, "bad request", "the path segment \"" + segment + "\" has a malformed percent-escape at "
                        + "character " + (i + 1) + "; write % as %25");
            }
            bytes.write((high << 4) | low);
            i += 2;
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes.toByteArray())).toString();
        } catch (CharacterCodingException e) {
            throw new ApiException(400, "bad request", "the path segment \"" + segment + "\" does not decode as UTF-8");
        }
    }
}
