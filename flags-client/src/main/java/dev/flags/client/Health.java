package dev.flags.client;

import java.util.Objects;

/**
 * Immutable. A health check of the SDK, for an application's own readiness probe or status page.
 *
 * <ul>
 *   <li>{@link Status#UP}: the flags are live (or come from an offline file or a test).</li>
 *   <li>{@link Status#DEGRADED}: flags are served, but from a stale copy or the cache file, because
 *       the flag server cannot be reached or refused the token; or they are live, but the SDK cannot
 *       write its cache file, so a restart while the server is unreachable would start without flags
 *       ({@link Freshness#cacheFileProblem()}); or a watched offline file is invalid or gone, and its last good
 *       flags are served; {@link #detail()} says which.</li>
 *   <li>{@link Status#DOWN}: no flags at all (every answer is the caller's default), or closed (the last flags
 *       keep answering, as {@link Source#STALE} or from the offline file, but nothing updates them).</li>
 * </ul>
 *
 * <p>A flag server outage should not take an application out of its load balancer: an application
 * that gates readiness on flags usually wants {@code health.status() != DOWN}, and alerts on
 * {@code DEGRADED}.
 * <pre>{@code
 * Health health = flags.health();
 * boolean ready = health.status() != Health.Status.DOWN;
 * }</pre>
 *
 * @param status up, degraded or down
 * @param detail a sentence for people, such as {@code "live: version 42, stream up"}
 */
public record Health(Status status, String detail) {

    /** The three levels of health. */
    public enum Status {
        /** Flags are current. */
        UP,
        /** Flags are served, but may be out of date, or the cache file cannot be written, or the offline file is not usable. */
        DEGRADED,
        /**
         * No flags are served (every answer is the caller's default), or the SDK is closed (its last flags keep
         * answering, as {@link Source#STALE} or from the offline file, but nothing updates them any more).
         */
        DOWN
    }

    /** Checks the status and detail. */
    public Health {
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(detail, "detail");
    }

    /** @return true if the status is {@link Status#UP} */
    public boolean isUp() {
        return status == Status.UP;
    }
}
