package dev.flags.server;

import java.time.Clock;
import java.time.Duration;
import java.util.function.Consumer;

/**
 * Not thread-safe: used by the webhook's one sender thread. What the log says of the webhook's failed and working
 * deliveries: one WARN when deliveries start failing and one INFO when they work again, not a line per retry.
 *
 * <p>An endpoint that fails now and then (one bad backend of several behind a load balancer) would make that a pair of
 * lines per change, up to a thousand a minute. So an outage that starts within {@link #QUIET} of the last WARN is
 * counted, not logged, and so is its end; the next WARN says how many there were. One of those that goes on for {@link
 * #QUIET} is logged then, and its end too: a lasting outage is never left unsaid.
 */
final class WebhookOutages {

    /** How long after a WARN the next outages are only counted. */
    static final Duration QUIET = Duration.ofMinutes(1);

    private final String endpoint;
    private final Duration maxBackoff;
    private final Clock clock;
    private final Consumer<String> warn;
    private final Consumer<String> info;

    private int failedInARow;
    private long outageStart;
    /** Whether the current outage was logged (its end is then logged too). */
    private boolean logged;
    private long lastWarn = Long.MIN_VALUE;
    /** Outages that started and ended unlogged since the last WARN. */
    private int unlogged;

    /**
     * @param endpoint the endpoint as the log shows it (without its user info)
     * @param maxBackoff the longest wait between attempts, as the WARN tells it
     * @param clock when things happen
     * @param warn where a WARN goes
     * @param info where an INFO goes
     */
    WebhookOutages(String endpoint, Duration maxBackoff, Clock clock, Consumer<String> warn, Consumer<String> info) {
        this.endpoint = endpoint;
        this.maxBackoff = maxBackoff;
        this.clock = clock;
        this.warn = warn;
        this.info = info;
    }

    /** @param failure why an attempt failed, in a few words */
    void failed(String failure) {
        long now = clock.millis();
        if (failedInARow++ == 0) {
            outageStart = now;
            logged = false;
        }
        if (logged) {
            return;
        }
        boolean quiet = lastWarn != Long.MIN_VALUE && now - lastWarn < QUIET.toMillis();
        if (quiet && now - outageStart < QUIET.toMillis()) {
            return; // counted when it ends, unless it lasts
        }
        lastWarn = now;
        logged = true;
        String what = failedInARow == 1 ? "a delivery to " + endpoint + " failed (" + failure + ")"
                : "deliveries to " + endpoint + " have failed for " + Duration.ofMillis(now - outageStart).toSeconds() + " s, "
                        + failedInARow + " attempts (the last: " + failure + ")";
        warn.accept("webhook: " + what + "; the changes wait in the journal and are sent again, in order, with backoff up to "
                + maxBackoff + " (the log says when it works again)" + flapping());
    }

    /** An attempt worked. */
    void delivered() {
        if (failedInARow == 0) {
            return;
        }
        if (logged) {
            info.accept("webhook: " + endpoint + " takes the changes again, after " + failedInARow + " failed attempt"
                    + (failedInARow == 1 ? "" : "s"));
        } else {
            unlogged++;
        }
        failedInARow = 0;
        logged = false;
    }

    private String flapping() {
        if (unlogged == 0) {
            return "";
        }
        String said = "; since the last such line, deliveries failed and worked again " + (unlogged == 1 ? "once more"
                : unlogged + " more times") + ", each time within a minute of it (flapping: is one of several backends"
                + " behind the endpoint failing?)";
        unlogged = 0;
        return said;
    }
}
