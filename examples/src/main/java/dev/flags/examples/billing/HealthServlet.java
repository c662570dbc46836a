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

    /** How many times the health is read at most, while changes keep landing between the reads (twice is rare). */
    private static final int TRIES = 10;

    private final transient Flags flags;

    HealthServlet(Flags flags) {
        this.flags = flags;
    }

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        // The health and the version come from two calls (Health has no version of its own, Freshness no status), and a
        // change that landed between them made the version one newer than the status line said (QA90 O3). The SDK
        // makes the health from its freshness: so the version is read before and after the health, and the same both
        // times means the health is of that version; a change in between has them read again.
        long version = flags.freshness().version();
        for (int tries = 1; ; tries++) {
            Health health = flags.health();
            long after = flags.freshness().version();
            if (after == version) {
                answer(resp, health, " (flags version " + version + ")");
                return;
            }
            if (tries == TRIES) {
                answer(resp, health, ""); // changes all the while: the status line says its own version, alone
                return;
            }
            version = after;
        }
    }

    private static void answer(HttpServletResponse resp, Health health, String version) throws IOException {
        // A flag server outage must not take the service out of its load balancer: only DOWN
        // (no flags at all: every answer is a default) makes it unready.
        resp.setStatus(health.status() == Health.Status.DOWN ? 503 : 200);
        resp.setContentType("text/plain");
        resp.setCharacterEncoding("UTF-8"); // the detail may quote a server's message or a path, not only ASCII
        String body = health.status() + ": " + health.detail() + version + "\n";
        resp.getOutputStream().write(body.getBytes(StandardCharsets.UTF_8));
    }
}
