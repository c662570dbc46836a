package dev.flags.server;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.function.Consumer;

/**
 * Thread-safe (one timer thread calls {@link #check}). Keeps saying, while the server runs, what its start said of the
 * TLS certificate chain: a WARN a day from {@value FlagServer#TLS_EXPIRY_WARNING_DAYS} days before it expires, and an
 * ERROR when it has: from then on new clients refuse it (connected SDKs keep their streams until they reconnect), and a
 * server that runs for months would otherwise reach that day with nothing in its log since its start.
 */
final class TlsExpiryWatch {

    private static final Duration EVERY = Duration.ofDays(1);

    private final Path certificate;
    private final Instant expiry;
    private final Clock clock;
    private final Consumer<String> warn;
    private final Consumer<String> error;
    private Instant lastWarned; // guarded by this; null until a warning
    private boolean expiredSaid; // guarded by this

    /**
     * @param certificate the chain's file, for the lines
     * @param expiry when the first certificate of the chain expires
     * @param warnedAtStart whether the start already warned (the next warning is a day later)
     */
    TlsExpiryWatch(Path certificate, Instant expiry, boolean warnedAtStart, Clock clock, Consumer<String> warn,
                   Consumer<String> error) {
        this.certificate = certificate;
        this.expiry = expiry;
        this.clock = clock;
        this.warn = warn;
        this.error = error;
        this.lastWarned = warnedAtStart ? clock.instant() : null;
    }

    /** Looks at the time; called every few minutes. */
    synchronized void check() {
        Instant now = clock.instant();
        if (!now.isBefore(expiry)) {
            if (!expiredSaid) {
                expiredSaid = true;
                error.accept("the TLS certificate " + certificate + " expired at " + expiry + ": new clients (SDKs, the CLI,"
                        + " browsers) now refuse it, and connected SDKs will when they reconnect; renew it and start the server"
                        + " again (it reads the certificate at start)");
            }
            return;
        }
        String warning = FlagServer.tlsExpiryWarning(certificate, expiry, now);
        if (warning != null && (lastWarned == null || !now.isBefore(lastWarned.plus(EVERY)))) {
            lastWarned = now;
            warn.accept(warning);
        }
    }
}
