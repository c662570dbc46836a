package dev.flags.examples.billing;

import dev.flags.client.Flags;
import dev.flags.client.Health;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/** Thread-safe. {@code GET /health}: the SDK's health, wired into the service's own readiness. */
final class HealthServlet extends HttpServlet {

    private final transient Flags flags;

    HealthServlet(Flags flags) {
        this.flags = flags;
    }

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        Health health = flags.health();
        // A flag server outage must not take the service out of its load balancer: only DOWN
        // (no flags at all: every answer is a default) makes it unready.
        resp.setStatus(health.status() == Health.Status.DOWN ? 503 : 200);
        resp.setContentType("text/plain");
        String body = health.status() + ": " + health.detail() + " (flags version " + flags.freshness().version() + ")\n";
        resp.getOutputStream().write(body.getBytes(StandardCharsets.UTF_8));
    }
}
