/**
 * Flag usage: which flags the SDKs still evaluate, and which answers they served, for product owners
 * deciding whether a flag can be archived or its other code path deleted. For the server's wiring:
 * {@link dev.flags.server.usage.UsageStore} keeps it in memory, {@link dev.flags.server.usage.UsageFile}
 * reads and writes {@code <data dir>/usage.json}, {@link dev.flags.server.usage.UsageSaver} writes it
 * once per report interval, and {@link dev.flags.server.usage.ReportRateLimit} bounds the reports the
 * server takes. The values ({@link dev.flags.server.usage.EnvironmentUsage}, {@link
 * dev.flags.server.usage.FlagUse}, {@link dev.flags.server.usage.UnknownFlagUse} for a key asked for that
 * is not a flag, {@link dev.flags.server.usage.ApplicationUse}) are what the admin API shows.
 *
 * <p>Usage is advisory: it is not in the journal, a crash loses at most one report interval of it, and
 * an unreadable file is set aside, not a reason not to start (docs/server.md, "Flag usage").
 */
package dev.flags.server.usage;
