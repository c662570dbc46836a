package dev.flags.server;

import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;

/**
 * Immutable. How many connections each port may hold open at once. Each holds a file descriptor, and the process may
 * open only so many ({@code ulimit -n}): without caps, connections that clients keep open (a gRPC connection that
 * carries a call is never idle; an HTTP client can send a request now and then) take every descriptor, and the journal
 * cannot open its next segment. The defaults split the open-file limit: three quarters to the gRPC port (one
 * connection per SDK instance), an eighth to the HTTP port, and the rest (at least 128 descriptors) to the journal and
 * the JVM.
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
     * @return the gRPC port's cap: {@code grpcMaxConnections} if set; else three quarters of the open-file limit, or
     *     the limit less 256 if that is more (half of a limit under 512); where the limit is unknown (not a Unix),
     *     {@link #MAX}
     */
    public int grpcMax(long openFileLimit) {
        if (grpcMaxConnections > 0) {
            return grpcMaxConnections;
        }
        return openFileLimit <= 0 ? MAX : clamp(openFileLimit - reserve(openFileLimit));
    }

    /**
     * @param openFileLimit how many descriptors the process may open, or a negative number if unknown
     * @return the HTTP port's cap: {@code httpMaxConnections} if set; else half of what the gRPC port's default leaves
     *     (an eighth of the limit, or at least 128 descriptors); where the limit is unknown, {@link #MAX}
     */
    public int httpMax(long openFileLimit) {
        if (httpMaxConnections > 0) {
            return httpMaxConnections;
        }
        return openFileLimit <= 0 ? MAX : clamp(reserve(openFileLimit) / 2);
    }

    /** @return the descriptors the gRPC port's default cap leaves to the rest of the server, of a limit of {@code openFileLimit} */
    static long reserve(long openFileLimit) {
        return Math.max(openFileLimit / 4, Math.min(256, openFileLimit / 2));
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
