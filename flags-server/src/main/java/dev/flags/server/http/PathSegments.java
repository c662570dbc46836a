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
     * The longest segment: four times a user id's 1,024 characters (keys are at most 128), so that those are refused
     * with their own, more precise words, and no answer echoes a megabyte of path.
     */
    static final int MAX_SEGMENT = 4096;

    /**
     * @param req the request
     * @return the decoded segments after the servlet's path (a trailing {@code /} is no segment)
     * @throws ApiException 400 if a segment is empty ({@code //}), longer than {@value #MAX_SEGMENT} characters,
     *         or its percent-encoding is malformed or not UTF-8
     */
    static List<String> of(HttpServletRequest req) {
        String raw = req.getRequestURI();
        String prefix = req.getContextPath() + req.getServletPath();
        // The container matched the mapping on the decoded path; a raw path that spells the prefix
        // with escapes has no segments we route on.
        return split(raw.startsWith(prefix) ? raw.substring(prefix.length()) : "");
    }

    /**
     * The decoded segments of a raw path below the servlet's mapping, such as {@code /environments/prod/flags/}.
     * An empty segment inside it is refused rather than left out: a client that built the path from a variable left
     * empty ({@code /environments//flags/}) would otherwise reach another resource (the environment named {@code
     * flags}).
     */
    static List<String> split(String rest) {
        String path = rest.startsWith("/") ? rest.substring(1) : rest;
        if (path.endsWith("/")) {
            path = path.substring(0, path.length() - 1);
        }
        List<String> segments = new ArrayList<>();
        if (path.isEmpty()) {
            return List.of();
        }
        for (String segment : path.split("/", -1)) {
            if (segment.isEmpty()) {
                throw new ApiException(400, "bad request", "the path has an empty segment (\"//\", or a name or id left"
                        + " empty where the path needs one): give every segment, or leave the trailing \"/\" alone");
            }
            String decoded = decode(segment);
            if (decoded.length() > MAX_SEGMENT) {
                throw new ApiException(400, "bad request", "a path segment is at most " + MAX_SEGMENT + " characters (a key is at"
                        + " most 128, a user id 1024), this one has " + decoded.length());
            }
            segments.add(decoded);
        }
        return List.copyOf(segments);
    }

    /** A segment as a message may quote it: its first 80 characters. */
    private static String shown(String segment) {
        return segment.length() > 80 ? segment.substring(0, 77) + "..." : segment;
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
                throw new ApiException(400, "bad request", "the path segment \"" + shown(segment) + "\" has a malformed percent-escape at "
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
            throw new ApiException(400, "bad request", "the path segment \"" + shown(segment) + "\" does not decode as UTF-8");
        }
    }
}
