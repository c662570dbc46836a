package dev.flags.client.internal;

import dev.flags.protocol.ReportedName;
import io.grpc.NameResolverRegistry;
import dev.flags.core.ReadableText;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Executor;
import java.util.regex.Pattern;

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
 * @param application the application's name for the server's usage view, or null
 * @param usageReporting whether to tell the server which flags were evaluated
 */
public record Settings(String target, String sdkToken, String environment, boolean plaintext, Path trustedCertificates,
                       Path cacheFile, Path offlineFile, boolean watchOfflineFile, Duration initialBackoff,
                       Duration maxBackoff, Clock clock, Executor listenerExecutor, String application,
                       boolean usageReporting) {

    /** The first reconnection delay unless set. */
    public static final Duration DEFAULT_INITIAL_BACKOFF = Duration.ofSeconds(1);
    /** The longest reconnection delay unless set. */
    public static final Duration DEFAULT_MAX_BACKOFF = Duration.ofSeconds(30);

    /** A target that gRPC always reads as a URI ({@code dns:///host:port}): its own pattern for that. */
    private static final Pattern URI_TARGET = Pattern.compile("[a-zA-Z][a-zA-Z0-9+.-]*:/.*");
    /** What may stand between the brackets of an IPv6 literal: hex, colons, an embedded IPv4, a zone. */
    private static final Pattern IPV6 = Pattern.compile("[0-9a-fA-F:.]*:[0-9a-fA-F:.]*(%[\\w.-]+)?");
    private static final String FORM = "write host:port, such as flags.internal:9090 or [::1]:9090, or a gRPC target"
            + " such as dns:///flags.internal:9090";

    /**
     * Checks an application's name against the server's own rule for names in usage reports: a name the
     * server would refuse would lose the application's usage, report after report.
     *
     * @param name a non-blank name
     * @return {@code name}
     * @throws IllegalArgumentException if the server would refuse it
     */
    public static String checkApplication(String name) {
        String problem = ReportedName.problem(name, true);
        if (problem != null) {
            throw new IllegalArgumentException("application " + problem);
        }
        return name;
    }

    /**
     * Checks the form of a flag server target. A plain {@code host:port} (or {@code [ipv6]:port}) must
     * have a port from 1 to 65535: gRPC would take a missing port for its default one (80 or 443), and
     * fail on a bad one only on its resolver thread, where the SDK never hears of it. A target with a
     * scheme ({@code dns:///host:port}, {@code unix:path}) is left to gRPC, but for the port of a {@code dns:}
     * one (optional there). Which is which follows gRPC's
     * own reading: a URI if it looks like one ({@code scheme:/...}) or its scheme has a name resolver,
     * else a {@code host:port} for DNS.
     *
     * @param target a non-blank target
     * @return {@code target}
     * @throws IllegalArgumentException if it is a plain address without a valid port, an HTTP URL, or a
     *         URI whose scheme has no gRPC name resolver
     */
    public static String checkTarget(String target) {
        if (!target.equals(target.strip())) {
            throw badTarget(target, "has white space around it (a line break read from a file, or an environment variable?)");
        }
        String lower = target.toLowerCase(Locale.ROOT);
        if (lower.startsWith("http://") || lower.startsWith("https://")) {
            // The likeliest mix-up: the server's admin API URL (FLAGS_SERVER) instead of its gRPC address.
            throw new IllegalArgumentException("target \"" + target + "\" is an HTTP URL, like the flag server's admin"
                    + " API; the SDK syncs over gRPC: write the server's gRPC address, host:port, such as"
                    + " flags.internal:9090 (the server's --grpc-port, 9090 unless set)");
        }
        if (hasKnownScheme(target)) {
            URI uri = URI.create(target);
            if ("dns".equalsIgnoreCase(uri.getScheme()) && (uri.getRawFragment() != null || uri.getRawQuery() != null)) {
                // gRPC would drop what follows the '#' or '?', the port with it, and resolve what is left.
                throw badTarget(target, "has a '" + (uri.getRawQuery() != null ? '?' : '#') + "' in it, which no"
                        + " host name or address has");
            }
            if ("dns".equalsIgnoreCase(uri.getScheme()) && uri.getPath() != null && uri.getPath().startsWith("/")) {
                // gRPC's DNS resolver fails on a bad port on its own thread, where the SDK never hears of it.
                // Its default port (443, or 80 in plaintext) makes a missing one valid here.
                checkAddress(target, uri.getPath().substring(1), false);
            }
            return target;
        }
        if (URI_TARGET.matcher(target).matches()) {
            try {
                new URI(target);
            } catch (URISyntaxException e) {
                // gRPC cannot read it either (brackets or spaces in a path): say so, not "no name resolver".
                throw badTarget(target, "is not a valid URI (" + e.getReason() + " at index " + e.getIndex() + ")");
            }
            String scheme = target.substring(0, target.indexOf(':'));
            throw badTarget(target, "has the scheme \"" + scheme + "\", which gRPC has no name resolver for");
        }
        checkAddress(target, target, true);
        return target;
    }

    /** Checks a {@code host:port} or {@code [ipv6]:port} address, the whole target or a {@code dns:} URI's path. */
    private static void checkAddress(String target, String address, boolean portRequired) {
        String port;
        if (address.startsWith("[")) {
            int close = address.indexOf(']');
            if (close < 0) {
                throw badTarget(target, "has no ']' after the IPv6 address");
            }
            String ip = address.substring(1, close);
            if (!IPV6.matcher(ip).matches()) {
                throw badTarget(target, "has \"" + ip + "\" in brackets, which is not an IPv6 address");
            }
            String rest = address.substring(close + 1);
            if (!rest.isEmpty() && !rest.startsWith(":")) {
                throw badTarget(target, "has \"" + rest + "\" after the address, where \":port\" belongs");
            }
            port = rest.isEmpty() ? "" : rest.substring(1);
        } else {
            int colon = address.lastIndexOf(':');
            String host = colon < 0 ? address : address.substring(0, colon);
            if (host.indexOf(':') >= 0) {
                throw badTarget(target, "looks like an IPv6 address without brackets");
            }
            if (host.isEmpty()) {
                throw badTarget(target, "has no host");
            }
            if (host.chars().anyMatch(Character::isWhitespace)) {
                throw badTarget(target, "has white space in its host (from an environment variable?)");
            }
            try {
                // What gRPC's DNS resolver does with it, on its own thread: fail here instead, where the caller hears.
                // The whole of it: "user@host" and "host#x" have a host too ("host"), but are not one.
                if (!host.equals(new URI("//" + host).getHost())) {
                    throw badTarget(target, "has \"" + host + "\" as its host, which is not a host name or address");
                }
            } catch (URISyntaxException e) {
                throw badTarget(target, "has \"" + host + "\" as its host, which is not a host name or address ("
                        + e.getReason() + ")");
            }
            port = colon < 0 ? "" : address.substring(colon + 1);
        }
        if (port.isEmpty()) {
            if (portRequired || address.endsWith(":")) {
                throw badTarget(target, "has no port");
            }
            return;
        }
        if (!port.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw badTarget(target, "has port \"" + port + "\", which is not a number");
        }
        // Named as such only where dropping the zeros gives a port: "000" and "099999" are out of range as they are.
        String unpadded = port.replaceFirst("^0+(?=.)", "");
        if (!unpadded.equals(port) && unpadded.length() <= 5 && Integer.parseInt(unpadded) >= 1
                && Integer.parseInt(unpadded) <= 65_535) {
            throw badTarget(target, "has port " + port + ", written with a leading zero: write it without (" + unpadded + ")");
        }
        if (port.length() > 5 || Integer.parseInt(port) < 1 || Integer.parseInt(port) > 65_535) {
            throw badTarget(target, "has port " + port + ", outside 1..65535");
        }
    }

    private static boolean hasKnownScheme(String target) {
        try {
            String scheme = new URI(target).getScheme();
            return scheme != null && NameResolverRegistry.getDefaultRegistry().getProviderForScheme(scheme) != null;
        } catch (URISyntaxException e) {
            return false; // not a URI at all ("127.0.0.1:9090"): gRPC reads it as an address too
        }
    }

    private static IllegalArgumentException badTarget(String target, String problem) {
        // Escaped: a line break in it would split the message, and any log line that quotes it, in two.
        return new IllegalArgumentException("target \"" + ReadableText.escape(target) + "\" " + problem + ": " + FORM);
    }

    /** @return the settings without the token */
    @Override
    public String toString() {
        return "Settings{target=" + target + ", environment=" + environment + ", sdkToken="
                + (sdkToken == null ? "unset" : "set") + ", plaintext=" + plaintext + ", cacheFile=" + cacheFile
                + ", offlineFile=" + offlineFile + ", watchOfflineFile=" + watchOfflineFile + ", application="
                + application + ", usageReporting=" + usageReporting + "}";
    }
}
