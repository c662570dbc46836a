package dev.flags.server.http;

import dev.flags.server.Metrics;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Thread-safe. The operator endpoints, without authentication (they reveal no flag or token):
 * {@code GET /healthz} (the process is alive), {@code GET /readyz} (the journal is recovered, the
 * ports are open, and the server is not shutting down), {@code GET /metrics} (Prometheus text); and a
 * problem+json 404 for any other path outside the admin API. Once the journal has stopped after an
 * i/o failure, both {@code /healthz} and {@code /readyz} answer 503 and say why.
 */
public final class OpsServlet extends HttpServlet {

    /** The operator endpoints, each answering GET. */
    static final List<String> ENDPOINTS = List.of("/healthz", "/readyz", "/metrics");

    private final transient Metrics metrics;
    private final transient BooleanSupplier ready;
    private final transient Supplier<Optional<String>> journalFailure;

    /**
     * @param metrics the metrics to expose
     * @param ready whether the server is ready to serve
     * @param journalFailure why the journal stopped after an i/o failure, if it did (such as {@code
     *     Journal::failure}); called on every health check, so it must not block
     */
    public OpsServlet(Metrics metrics, BooleanSupplier ready, Supplier<Optional<String>> journalFailure) {
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.ready = Objects.requireNonNull(ready, "ready");
        this.journalFailure = Objects.requireNonNull(journalFailure, "journalFailure");
    }

    /**
     * Answers everything outside {@code /api/v1} too (it is also the default servlet), so that every
     * error of the server is problem+json, never the container's HTML page.
     */
    @Override
    protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException, ServletException {
        // As the API's answers: a probe or a scrape must see the server's state now, never a cached one.
        resp.setHeader("Cache-Control", "no-store");
        resp.setHeader("X-Content-Type-Options", "nosniff");
        String path = req.getServletPath();
        if (!ENDPOINTS.contains(path)) {
            ApiServlet.problem(resp, 404, "not found", "there is no endpoint " + path + "; the admin API is under /api/v1"
                    + " (docs/api.md); the operator endpoints are " + String.join(", ", ENDPOINTS), Map.of());
            return;
        }
        if (!req.getMethod().equals("GET") && !req.getMethod().equals("HEAD")) {
            resp.setHeader("Allow", "GET, HEAD");
            ApiServlet.problem(resp, 405, "method not allowed", req.getMethod() + " is not allowed on " + path
                    + "; use GET", Map.of());
            return;
        }
        super.service(req, resp); // GET, and HEAD as GET without the body
    }

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        if (req.getServletPath().equals("/healthz") || req.getServletPath().equals("/readyz")) {
            // A stopped journal fails every write until the process restarts, so the server is neither ready
            // (take it out of the load balancer) nor alive in any useful sense (let the orchestrator restart it).
            Optional<String> failure = journalFailure.get();
            if (failure.isPresent()) {
                // The probes answer anyone: what failed (a file's path, an exception) is for the log and for an
                // authenticated write's answer; here, only that the server must be restarted, and what is safe.
                String reason = failure.get();
                int safe = reason.lastIndexOf("nothing after sequence ");
                ApiServlet.problem(resp, 503, "journal stopped", "journal stopped after an i/o failure"
                        + (safe >= 0 ? "; " + reason.substring(safe) : "") + "; restart the server (its log says what failed)",
                        Map.of());
                return;
            }
        }
        switch (req.getServletPath()) {
            case "/healthz" -> text(resp, 200, "text/plain", "ok\n");
            case "/readyz" -> {
                if (ready.getAsBoolean()) {
                    text(resp, 200, "text/plain", "ready\n");
                } else {
                    ApiServlet.problem(resp, 503, "not ready", "the server is starting or shutting down", Map.of());
                }
            }
            case "/metrics" -> text(resp, 200, "text/plain; version=0.0.4", metrics.scrape());
            default -> ApiServlet.problem(resp, 404, "not found", "no such endpoint", Map.of());
        }
    }

    private static void text(HttpServletResponse resp, int status, String type, String body) throws IOException {
        resp.setStatus(status);
        resp.setContentType(type);
        resp.setCharacterEncoding("UTF-8");
        resp.getOutputStream().write(body.getBytes(StandardCharsets.UTF_8));
    }
}
