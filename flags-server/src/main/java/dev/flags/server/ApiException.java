package dev.flags.server;

import java.util.Map;
import java.util.Objects;

/**
 * Thrown by the server's services for a request that cannot be served; the HTTP layer turns it into
 * an {@code application/problem+json} answer (RFC 9457) with this status, title and detail. The
 * detail is written for a product owner and never contains a token or a secret.
 */
public class ApiException extends RuntimeException {

    private final int status;
    private final String title;
    private final Map<String, Object> extensions;

    /**
     * @param status the HTTP status
     * @param title a short, fixed summary of the kind of problem ("flag not found")
     * @param detail what happened in this case, for people
     * @param extensions extra members of the problem document (such as "problems" or "currentVersion")
     */
    public ApiException(int status, String title, String detail, Map<String, Object> extensions) {
        super(detail);
        this.status = status;
        this.title = Objects.requireNonNull(title, "title");
        this.extensions = Map.copyOf(extensions);
    }

    /**
     * @param status the HTTP status
     * @param title a short summary
     * @param detail what happened
     */
    public ApiException(int status, String title, String detail) {
        this(status, title, detail, Map.of());
    }

    /** @return the HTTP status */
    public int status() {
        return status;
    }

    /** @return the problem's title */
    public String title() {
        return title;
    }

    /** @return extra members of the problem document; immutable */
    public Map<String, Object> extensions() {
        return extensions;
    }

    static ApiException badRequest(String detail) {
        return new ApiException(400, "bad request", detail);
    }

    static ApiException notFound(String what, String detail) {
        return new ApiException(404, what + " not found", detail);
    }

    static ApiException forbidden(String detail) {
        return new ApiException(403, "forbidden", detail);
    }

    static ApiException conflict(String detail) {
        return new ApiException(409, "conflict", detail);
    }
}
