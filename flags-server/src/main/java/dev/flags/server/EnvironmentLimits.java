package dev.flags.server;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.flags.server.journal.CanonicalJson;
import dev.flags.server.journal.EnvironmentState;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Immutable. How much one environment may serve. Every SDK of the environment receives all of it in one
 * snapshot, keeps it in memory and evaluates from it, so it must stay far below what an SDK takes in one
 * message (64 MiB): without a limit, an editor could grow an environment (1 MiB a flag, 600 changes a
 * minute) until no SDK of it could sync any more.
 *
 * <p>The limits refuse growth only. A write that adds neither a flag nor bytes is taken even over a limit
 * (an environment made by an earlier release, or under a higher limit, may be over), and so is turning a
 * flag on or off, whatever its size: a kill switch is never refused for size.
 *
 * @param maxFlags flags an environment may serve at once (archived ones not counted), 1 to {@link #MOST_FLAGS}
 * @param maxMebibytes the most its flag documents (canonical JSON) and role grants (user ids and roles) may
 *     take together, in MiB of UTF-8, 1 to {@link #MOST_MEBIBYTES}
 */
public record EnvironmentLimits(int maxFlags, int maxMebibytes) {

    /** The highest {@code maxFlags}. */
    public static final int MOST_FLAGS = 1_000_000;
    /** The highest {@code maxMebibytes}: what an SDK takes in one message is 64 MiB, and a snapshot adds framing. */
    public static final int MOST_MEBIBYTES = 48;

    /**
     * The grants' bytes by the grants map's identity (weak keys): the states after a change of a flag share their
     * grants map (see {@code EnvironmentState}), so a write checked against the limits does not walk every grant; and
     * a grant's count is the one before it, updated by the users whose roles changed.
     */
    private static final Cache<Map<String, Set<String>>, Long> GRANT_BYTES = Caffeine.newBuilder().weakKeys()
            .maximumSize(64).build();

    /** Checks both limits. */
    public EnvironmentLimits {
        if (maxFlags < 1 || maxFlags > MOST_FLAGS) {
            throw new BadSettingException("maxFlags", "max flags per environment must be between 1 and " + MOST_FLAGS
                    + ", was " + maxFlags);
        }
        if (maxMebibytes < 1 || maxMebibytes > MOST_MEBIBYTES) {
            throw new BadSettingException("maxMebibytes", "max environment size must be between 1 and " + MOST_MEBIBYTES
                    + " MiB (an SDK takes at most 64 MiB in one message), was " + maxMebibytes);
        }
    }

    /**
     * @return the defaults: 10,000 flags (as many as the usage record keeps per environment) and 16 MiB (a
     *     quarter of what an SDK takes in one message)
     */
    public static EnvironmentLimits defaults() {
        return new EnvironmentLimits(10_000, 16);
    }

    /** @return {@code maxMebibytes} in bytes */
    public long maxBytes() {
        return (long) maxMebibytes << 20;
    }

    /**
     * Checks a flag's write.
     *
     * @param state the environment before the write
     * @param key the flag's key
     * @param next the flag's document after the write
     * @param versionGrowth how many bytes longer {@code next}'s version number is than the one it replaces: not
     *     growth anyone asked for, so an edit that keeps the document's size is taken even at the limit
     * @param onOffOnly whether the write changes nothing but whether the flag is on
     * @return how many bytes the write adds to what the environment serves (0 for none, or for turning it on or off)
     * @throws ApiException 409 if the write would take the environment past a limit
     */
    long checkFlag(EnvironmentState state, String key, CanonicalJson next, int versionGrowth, boolean onOffOnly) {
        CanonicalJson before = state.flags().get(key);
        if (before == null && state.flags().size() >= maxFlags) {
            throw new ApiException(409, "environment full", "environment \"" + state.key() + "\" serves " + flags(state.flags().size())
                    + "; an environment may serve at most " + maxFlags + " (--max-flags-per-environment): archive flags no"
                    + " code uses any more (flags stale lists them) first");
        }
        int growth = next.size() - (before == null ? 0 : before.size() + versionGrowth);
        if (growth > 0 && !onOffOnly) {
            requireRoom(state, growth, "flag \"" + key + "\" (" + next.size() + " bytes"
                    + (before == null ? ", new)" : ", " + growth + " more than now)"));
            return growth;
        }
        return 0;
    }

    /**
     * Checks a new role grant (not one the user holds already, whose end moves).
     *
     * @return how many bytes the grant adds to what the environment serves
     * @throws ApiException 409 if the grant would take the environment past a limit
     */
    long checkGrant(EnvironmentState state, String userId, String role) {
        long growth = grantBytes(userId, role);
        requireRoom(state, growth, "a grant of role \"" + role + "\"");
        return growth;
    }

    /**
     * Checks a clone: the new environment gets a copy of the source's flags (not its role grants).
     *
     * @param source the environment to copy
     * @param key the new environment's key
     * @throws ApiException 409 if the copy would be past a limit (the source may be, under limits set lower since)
     */
    void checkClone(EnvironmentState source, String key) {
        long bytes = 0;
        for (CanonicalJson flag : source.flags().values()) {
            // The copy is at version 1, whatever the source's version number: counted as it will be.
            bytes += flag.size() - (Long.toString(flag.toJsonNode().path("version").asLong(1)).length() - 1);
        }
        if (source.flags().size() > maxFlags || bytes > maxBytes()) {
            throw new ApiException(409, "environment full", "environment \"" + key + "\" would serve " + flags(source.flags().size())
                    + " of " + bytes + " bytes, copied from \"" + source.key() + "\": more than an environment may ("
                    + maxFlags + " flags, --max-flags-per-environment; " + maxBytes() + " bytes, --max-environment-mib):"
                    + " archive flags no code uses any more in \"" + source.key() + "\" first, or make an empty"
                    + " environment and promote the flags it needs");
        }
    }

    private void requireRoom(EnvironmentState state, long growth, String what) {
        long served = servedBytes(state);
        if (served + growth > maxBytes()) {
            throw new ApiException(409, "environment full", "environment \"" + state.key() + "\" serves " + served + " bytes of"
                    + " flags and role grants; with " + what + " it would serve " + (served + growth) + ", more than the "
                    + maxBytes() + " an environment may (" + maxMebibytes + " MiB, --max-environment-mib; every SDK of it"
                    + " receives and holds all of it): archive flags no code uses any more, revoke grants, or make"
                    + " documents smaller");
        }
    }

    /**
     * @return how full the environment is: the larger of its share of {@code maxFlags} and of {@link #maxBytes()},
     *     in percent (over 100 for an environment past a limit set lower since it grew)
     */
    public int fullPercent(EnvironmentState state) {
        long flags = 100L * state.flags().size() / maxFlags;
        long bytes = 100L * servedBytes(state) / maxBytes();
        return (int) Math.max(flags, bytes);
    }

    /**
     * @return for an environment past a limit, a line that says which and what still works there; empty for one
     *     within both
     */
    public Optional<String> overLimit(EnvironmentState state) {
        long bytes = servedBytes(state);
        List<String> past = new ArrayList<>();
        if (state.flags().size() > maxFlags) {
            past.add("it serves " + flags(state.flags().size()) + ", more than the " + maxFlags + " it may"
                    + " (--max-flags-per-environment), and takes no new flag until it serves fewer than " + maxFlags);
        }
        if (bytes > maxBytes()) {
            past.add("it serves " + bytes + " bytes, more than the " + maxBytes() + " it may (--max-environment-mib), and"
                    + " takes no change that makes it larger until it is within it");
        }
        if (past.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of("environment \"" + state.key() + "\" is past its limits: " + String.join("; ", past)
                + ". Turning flags on or off, and shrinking, still work");
    }

    /** @return "1 flag", "2 flags" */
    static String flags(long count) {
        return count + (count == 1 ? " flag" : " flags");
    }

    /** @return the environment's served flags and role grants, in UTF-8 bytes */
    public static long servedBytes(EnvironmentState state) {
        long bytes = 0;
        for (CanonicalJson flag : state.flags().values()) {
            bytes += flag.size();
        }
        return bytes + GRANT_BYTES.get(state.roleGrants(), EnvironmentLimits::grantBytes);
    }

    /** @return the environment's role grants, in UTF-8 bytes (what a clone does not copy) */
    static long grantBytesOf(EnvironmentState state) {
        return GRANT_BYTES.get(state.roleGrants(), EnvironmentLimits::grantBytes);
    }

    /** Whether the size of these grants is remembered (so that the next change of them costs only itself); for tests. */
    static boolean grantBytesKnown(Map<String, Set<String>> roleGrants) {
        return GRANT_BYTES.getIfPresent(roleGrants) != null;
    }

    private static long grantBytes(Map<String, Set<String>> roleGrants) {
        return EnvironmentState.sumOverUsers(roleGrants, GRANT_BYTES::getIfPresent, EnvironmentLimits::userBytes);
    }

    private static long userBytes(String userId, Set<String> roles) {
        long bytes = 0;
        for (String role : roles) {
            bytes += grantBytes(userId, role);
        }
        return bytes;
    }

    private static long grantBytes(String userId, String role) {
        return userId.getBytes(StandardCharsets.UTF_8).length + role.length();
    }
}
