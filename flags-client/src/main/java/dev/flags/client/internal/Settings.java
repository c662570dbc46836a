package dev.flags.client.internal;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Executor;

/**
 * Immutable. The checked settings of one {@link ClientFlags}, made by {@code Flags.Builder}.
 *
 * @param target the flag server's gRPC target, or null in offline mode
 * @param sdkToken the sdk token, or null in offline mode; never logged or printed
 * @param environment the environment's key, or null in offline mode
 * @param plaintext true for no TLS
 * @param trustedCertificates a PEM file of trusted certificate authorities, or null for the JVM's
 * @param cacheFile the fail-static cache file, or null
 * @param offlineFile the flag file of offline mode, or null
 * @param watchOfflineFile true to reload the offline file when it changes
 * @param initialBackoff the first reconnection delay
 * @param maxBackoff the longest reconnection delay
 * @param clock the clock of timestamps
 * @param listenerExecutor the executor of change listeners, or null for the SDK's own thread
 */
public record Settings(String target, String sdkToken, String environment, boolean plaintext, Path trustedCertificates,
                       Path cacheFile, Path offlineFile, boolean watchOfflineFile, Duration initialBackoff,
                       Duration maxBackoff, Clock clock, Executor listenerExecutor) {

    /** The first reconnection delay unless set. */
    public static final Duration DEFAULT_INITIAL_BACKOFF = Duration.ofSeconds(1);
    /** The longest reconnection delay unless set. */
    public static final Duration DEFAULT_MAX_BACKOFF = Duration.ofSeconds(30);

    /** @return the settings without the token */
    @Override
    public String toString() {
        return "Settings{target=" + target + ", environment=" + environment + ", sdkToken="
                + (sdkToken == null ? "unset" : "set") + ", plaintext=" + plaintext + ", cacheFile=" + cacheFile
                + ", offlineFile=" + offlineFile + ", watchOfflineFile=" + watchOfflineFile + "}";
    }
}
