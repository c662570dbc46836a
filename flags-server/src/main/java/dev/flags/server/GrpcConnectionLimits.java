package dev.flags.server;

import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;

/**
 * Immutable. How many connections the gRPC port may hold open at once. Each holds a file descriptor, and a connection
 * that keeps a call open (an SDK's stream, or a client that starts a call and never ends it) is never idle, so it is
 * never closed for idleness: without a cap, enough of them take every descriptor the process may open, and the HTTP
 * API, the health checks and the journal's next segment with them. A connection over a cap is closed as soon as it is
 * accepted.
 *
 * @param maxConnections connections the gRPC port may hold in all; 0 for the {@linkplain #effectiveMax(long) default},
 *                       from the process's open-file limit
 * @param maxPerAddress connections one client address (an IPv6 address: its /64 network) may hold; 0 for no cap per
 *                      address, the default: SDKs behind one NAT or proxy share an address
 */
public record GrpcConnectionLimits(int maxConnections, int maxPerAddress) {

    /** The largest value either cap accepts. */
    public static final int MAX = 10_000_000;

    /** Checks both caps. */
    public GrpcConnectionLimits {
        check(maxConnections, "max gRPC connections", "grpcMaxConnections", "the default, from the open-file limit");
        check(maxPerAddress, "max gRPC connections per address", "grpcMaxConnectionsPerAddress", "no cap per address");
    }

    /** @return the defaults: a total from the open-file limit, no cap per address */
    public static GrpcConnectionLimits defaults() {
        return new GrpcConnectionLimits(0, 0);
    }

    /**
     * @param openFileLimit how many descriptors the process may open, or a negative number if unknown
     * @return the total cap: {@code maxConnections} if set; else the open-file limit less a reserve for the rest of
     *     the server (a quarter of the limit, and at least 256 descriptors, or half of a limit under 512); where the
     *     limit is unknown (not a Unix), {@link #MAX}
     */
    public int effectiveMax(long openFileLimit) {
        if (maxConnections > 0) {
            return maxConnections;
        }
        if (openFileLimit <= 0) {
            return MAX;
        }
        return (int) Math.max(1, Math.min(MAX, openFileLimit - reserve(openFileLimit)));
    }

    /** @return the descriptors the default cap leaves to the rest of the server, of a limit of {@code openFileLimit} */
    static long reserve(long openFileLimit) {
        return Math.max(openFileLimit / 4, Math.min(256, openFileLimit / 2));
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
