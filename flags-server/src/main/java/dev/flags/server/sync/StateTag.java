package dev.flags.server.sync;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.flags.server.journal.CanonicalJson;
import dev.flags.server.journal.EnvironmentState;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;

/**
 * Immutable (static functions only). The tag of an environment's state as an SDK holds it: a 64-bit
 * digest of its served flags' documents and its role grants, sent with every Snapshot and Delta and
 * sent back by the SDK when it subscribes from its version.
 *
 * <p>Why: a version number alone names a state only within one journal. An SDK that held version 26
 * of another server's "production" (a cache file, a migration, a server started on a new data
 * directory), or of this server before its journal was restored from an older backup, would be sent
 * the Delta from this server's version 26 and apply it to flags this server never had, and report
 * them as live. With the tag, a state that differs gets a Snapshot.
 *
 * <p>The digest is a sum of per-element digests, so it does not depend on order and costs, once per
 * state, one addition per flag (each document's SHA-256 is computed once), and one short hash per
 * role of each user whose roles changed. It detects accidents, not attacks: whoever can feed an SDK states is trusted anyway.
 */
final class StateTag {

    /**
     * Tags of recent states, by identity (weak keys): a reconnect storm compares a thousand SDKs' tags
     * with the same few states, and a state's tag costs a pass over its flags.
     */
    private static final Cache<EnvironmentState, Long> RECENT = Caffeine.newBuilder().weakKeys().maximumSize(256).build();

    /**
     * The grants' share of the digest, by the grants map's identity (weak keys): the states after a change of a flag
     * share their grants map (see {@code EnvironmentState}), so a kill switch does not hash every grant again; and a
     * grant's share is the one before it, updated by the users whose roles changed.
     */
    private static final Cache<Map<String, Set<String>>, Long> GRANT_SUMS = Caffeine.newBuilder().weakKeys()
            .maximumSize(256).build();

    private StateTag() {}

    /**
     * @param state an environment's state
     * @return its tag; never 0 (0 means "unknown" on the wire)
     */
    static long of(EnvironmentState state) {
        return RECENT.get(state, StateTag::compute);
    }

    private static long compute(EnvironmentState state) {
        long sum = 0;
        for (CanonicalJson document : state.flags().values()) {
            sum += mix(document.digest()); // a document holds its own key
        }
        sum += GRANT_SUMS.get(state.roleGrants(), StateTag::grantSum);
        long tag = mix(sum + state.flags().size());
        return tag == 0 ? 1 : tag;
    }

    private static long grantSum(Map<String, Set<String>> roleGrants) {
        return EnvironmentState.sumOverUsers(roleGrants, GRANT_SUMS::getIfPresent, StateTag::userSum);
    }

    private static long userSum(String userId, Set<String> roles) {
        long sum = 0;
        long user = hash(userId);
        for (String role : roles) {
            sum += mix(mix(user) + hash(role));
        }
        return sum;
    }

    /** FNV-1a, 64 bits, over the UTF-8 bytes. */
    private static long hash(String text) {
        long h = 0xcbf29ce484222325L;
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (b & 0xff)) * 0x100000001b3L;
        }
        return h;
    }

    /** A 64-bit finalizer (splitmix64's): spreads every input bit over the output before the sum. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
