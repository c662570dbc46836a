package dev.flags.server;

import java.time.Duration;
import java.util.Objects;

/**
 * Immutable. How the server takes the SDKs' flag usage reports ({@code ReportUsage}, docs/server.md,
 * "Flag usage").
 *
 * @param reportInterval how often each SDK is asked to report (the receipt tells it), and how often at
 *                       most the server writes {@code usage.json}: {@link #MIN_REPORT_INTERVAL} to
 *                       {@link #MAX_REPORT_INTERVAL}
 * @param reportsPerSecond how many reports the whole server takes per second, any number of them at once
 *                         while a second's worth is saved up; more get {@code RESOURCE_EXHAUSTED} (the SDK
 *                         reports again next period). 1 to {@link #MAX_REPORTS_PER_SECOND}
 */
public record UsageSettings(Duration reportInterval, int reportsPerSecond) {

    /**
     * The shortest report interval: usage is "is it still evaluated, this week", and each report of every
     * SDK instance costs the server a call.
     */
    public static final Duration MIN_REPORT_INTERVAL = Duration.ofSeconds(5);
    /** The longest report interval: a crash loses up to one interval of usage, and an hour is plenty. */
    public static final Duration MAX_REPORT_INTERVAL = Duration.ofHours(1);
    /** The largest rate limit accepted, per second. */
    public static final int MAX_REPORTS_PER_SECOND = 1_000_000;

    /** Checks both settings. */
    public UsageSettings {
        Objects.requireNonNull(reportInterval, "reportInterval");
        if (reportInterval.compareTo(MIN_REPORT_INTERVAL) < 0 || reportInterval.compareTo(MAX_REPORT_INTERVAL) > 0) {
            throw new BadSettingException("usageReportInterval", "usage report interval must be between " + MIN_REPORT_INTERVAL
                    + " and " + MAX_REPORT_INTERVAL + ", was " + reportInterval);
        }
        if (reportsPerSecond < 1 || reportsPerSecond > MAX_REPORTS_PER_SECOND) {
            throw new BadSettingException("usageReportsPerSecond", "usage reports per second must be between 1 and "
                    + MAX_REPORTS_PER_SECOND + ", was " + reportsPerSecond);
        }
    }

    /** @return the defaults: a report a minute from each SDK, at most 1,000 reports a second for the whole server */
    public static UsageSettings defaults() {
        return new UsageSettings(Duration.ofMinutes(1), 1_000);
    }
}
