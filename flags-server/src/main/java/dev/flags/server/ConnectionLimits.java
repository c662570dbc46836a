package dev.flags.server;

import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;

/**
 * Immutable. How many connections each port may hold open at once. Each holds a file descriptor, and the process may
 * open only so many ({@code ulimit -n}): without caps, connections that clients keep open (a gRPC connection that
 * carries a call is never idle; an HTTP client can send a request now and then) take every descriptor, and the journal
 * cannot open its next segment. The defaults split the open-file limit: three quarters to the gRPC port (one
 * connection per SDK instance), an eighth to the HTTP port, and an eighth to the rest of the server (the journal, the
 * JVM's own files); under a limit of 1,024, the rest of the server and then the HTTP port keep 128 each where the limit
 * allows (the rest at most half of it, the HTTP port at most half of what is left), and the gRPC port has what remains.
 *
 * <p>The ports refuse differently: the gRPC port closes a connection over a cap as soon as it is accepted (an SDK
 * backs off and tries again); the HTTP port stops accepting until one of its connections closes, so a client waits in
 * the system's queue of connections not yet accepted instead of failing.
 *
 * @param grpcMaxConnections connections the gRPC port may hold in all; 0 for the {@linkplain #grpcMax(long) default}
 * @param grpcMaxPerAddress connections one client address (an IPv6 address: its /64 network) may hold on the gRPC
 *                          port; 0 for no cap per address, the default: SDKs behind one NAT or proxy share an address
 * @param httpMaxConnections connections the HTTP port may hold; 0 for the {@linkplain #httpMax(long) default}
 */
public record ConnectionLimits(int grpcMaxConnections, int grpcMaxPerAddress, int httpMaxConnections) {

    /** The largest value any cap accepts. */
    public static final int MAX = 10_000_000;

    /** Checks the caps. */
    public ConnectionLimits {
        check(grpcMaxConnections, "max gRPC connections", "grpcMaxConnections", "the default, from the open-file limit");
        check(grpcMaxPerAddress, "max gRPC connections per address", "grpcMaxConnectionsPerAddress", "no cap per address");
        check(httpMaxConnections, "max HTTP connections", "httpMaxConnections", "the default, from the open-file limit");
    }

    /** @return the defaults: caps from the open-file limit, none per address */
    public static ConnectionLimits defaults() {
        return new ConnectionLimits(0, 0, 0);
    }

    /**
     * @param openFileLimit how many descriptors the process may open, or a negative number if unknown
     * @return the gRPC port's cap: {@code grpcMaxConnections} if set; else what the limit leaves after
     *     {@link #rest(long)} and {@link #httpMax(long) the HTTP port's default}: three quarters of a limit of 1,024 or
     *     more; where the limit is unknown (not a Unix), {@link #MAX}
     */
    public int grpcMax(long openFileLimit) {
        if (grpcMaxConnections > 0) {
            return grpcMaxConnections;
        }
        return openFileLimit <= 0 ? MAX : clamp(openFileLimit - rest(openFileLimit) - defaultHttp(openFileLimit));
    }

    /**
     * @param openFileLimit how many descriptors the process may open, or a negative number if unknown
     * @return the HTTP port's cap: {@code httpMaxConnections} if set; else an eighth of the limit, or 128 if that is more
     *     (but at most half of what {@link #rest(long)} leaves); where the limit is unknown, {@link #MAX}
     */
    public int httpMax(long openFileLimit) {
        if (httpMaxConnections > 0) {
            return httpMaxConnections;
        }
        return openFileLimit <= 0 ? MAX : clamp(defaultHttp(openFileLimit));
    }

    private static long defaultHttp(long openFileLimit) {
        return Math.max(openFileLimit / 8, Math.min(128, (openFileLimit - rest(openFileLimit)) / 2));
    }

    /**
     * @return the descriptors the default caps leave to the rest of the server (the journal's segments, the JVM's own
     *     files; an idle server holds about 40): an eighth of the limit, or 128 if that is more (at most half of it)
     */
    static long rest(long openFileLimit) {
        return Math.max(openFileLimit / 8, Math.min(128, openFileLimit / 2));
    }

    private static int clamp(long cap) {
        return (int) Math.max(1, Math.min(MAX, cap));
    }

    /** @return how many files this process may have open (its soft {@code RLIMIT_NOFILE}), or -1 if the JVM cannot tell */
    public static long openFileLimit() {
        OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        return os instanceof com.sun.management.UnixOperatingSystemMXBean unix ? unix.getMaxFileDescriptorCount() : -1;
    }

    private static void check(int value, String what, String setting, String zero) {
        if (value < 0 || value > MAX) {
            throw new BadSettingException(setting, what + " must be between 0 (" + zero + ") and " + MAX + ", was " + value);
        }
    }
}
