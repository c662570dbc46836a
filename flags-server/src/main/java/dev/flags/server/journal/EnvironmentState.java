package dev.flags.server.journal;

import java.time.Duration;
import java.time.Instant;
import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.ToLongBiFunction;

/**
 * Immutable. One environment as the journal's entries up to some sequence number made it: its
 * version, its flags' definitions by key, the roles granted to user ids, and its self-service roles.
 *
 * <p>Collections are unmodifiable copies; their iteration order is unspecified. A flag definition is
 * the payload of the flag's latest {@code FLAG_CREATED} or {@code FLAG_UPDATED} entry, the {@code flag} of its
 * latest {@code FLAG_REVERTED} or {@code SCHEDULE_APPLIED} entry, or the copy a clone made. Archived flags are kept apart from served ones; deleted flags are gone.
 *
 * <pre>{@code
 * EnvironmentState production = journal.state().environment("production").orElseThrow();
 * CanonicalJson billing = production.flags().get("billing-v2");
 * boolean tester = production.roleGrants().getOrDefault("u-1234", Set.of()).contains("beta");
 * }</pre>
 *
 * @param key the environment's key
 * @param version the environment's version: the number of entries that changed it
 * @param archived whether the environment was archived (it then accepts no changes)
 * @param metadata the payload it was created with (for a clone: without the copied content)
 * @param flags the served flags' definitions by flag key
 * @param archivedFlags the archived flags' last definitions by flag key
 * @param roleGrants the roles granted to each user id on the server; never an empty set
 * @param selfServiceRoles the roles users may grant to themselves
 * @param grantExpiries when each grant that expires does: only grants that are in {@code roleGrants}
 *     and were made with an expiry; the server revokes each one at its time
 * @param maxGrantDurations for self-service roles that have one, the longest a grant of the role made
 *     by anyone but an admin may last (the server enforces it when it grants)
 * @param schedules the environment's scheduled flag changes by id: every pending one, and the newest
 *     {@value Schedule#KEPT_ENDED} that ended
 */
public record EnvironmentState(
        String key,
        long version,
        boolean archived,
        CanonicalJson metadata,
        Map<String, CanonicalJson> flags,
        Map<String, CanonicalJson> archivedFlags,
        Map<String, Set<String>> roleGrants,
        Set<String> selfServiceRoles,
        Map<Grant, Instant> grantExpiries,
        Map<String, Duration> maxGrantDurations,
        Map<String, Schedule> schedules) {

    /**
     * Copies the collections; a null collection becomes an empty one.
     *
     * @throws NullPointerException if key or metadata is null
     * @throws IllegalArgumentException if version is negative
     */
    public EnvironmentState {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(metadata, "metadata");
        if (version < 0) {
            throw new IllegalArgumentException("version must be at least 0, was " + version);
        }
        flags = flags == null ? Map.of() : Map.copyOf(flags);
        archivedFlags = archivedFlags == null ? Map.of() : Map.copyOf(archivedFlags);
        roleGrants = roleGrants == null ? Map.of() : frozenGrants(roleGrants);
        selfServiceRoles = selfServiceRoles == null ? Set.of() : Set.copyOf(selfServiceRoles);
        grantExpiries = grantExpiries == null ? Map.of() : Map.copyOf(grantExpiries);
        maxGrantDurations = maxGrantDurations == null ? Map.of() : Map.copyOf(maxGrantDurations);
        schedules = schedules == null ? Map.of() : Map.copyOf(schedules);
    }

    /**
     * Makes a state without schedules (as every environment was before flag changes could be scheduled).
     *
     * @see #EnvironmentState(String, long, boolean, CanonicalJson, Map, Map, Map, Set, Map, Map, Map)
     */
    public EnvironmentState(String key, long version, boolean archived, CanonicalJson metadata,
            Map<String, CanonicalJson> flags, Map<String, CanonicalJson> archivedFlags,
            Map<String, Set<String>> roleGrants, Set<String> selfServiceRoles, Map<Grant, Instant> grantExpiries,
            Map<String, Duration> maxGrantDurations) {
        this(key, version, archived, metadata, flags, archivedFlags, roleGrants, selfServiceRoles, grantExpiries,
                maxGrantDurations, null);
    }

    /**
     * @return the pending schedules, soonest first (those due together in the order they were made); computed on each call
     */
    public List<Schedule> pendingSchedules() {
        List<Schedule> pending = new ArrayList<>();
        for (Schedule s : schedules.values()) {
            if (s.pending()) {
                pending.add(s);
            }
        }
        // Those due at the same instant in the order they were made: the later one's change is the last word.
        pending.sort(Comparator.comparing(Schedule::at).thenComparing(Schedule::createdAt).thenComparing(Schedule::id));
        return pending;
    }

    /**
     * Makes a state without expiring grants (as every environment was before grants could expire).
     *
     * @see #EnvironmentState(String, long, boolean, CanonicalJson, Map, Map, Map, Set, Map, Map)
     */
    public EnvironmentState(String key, long version, boolean archived, CanonicalJson metadata,
            Map<String, CanonicalJson> flags, Map<String, CanonicalJson> archivedFlags,
            Map<String, Set<String>> roleGrants, Set<String> selfServiceRoles) {
        this(key, version, archived, metadata, flags, archivedFlags, roleGrants, selfServiceRoles, null, null, null);
    }

    /**
     * One change of an environment's role grants, from one state's grants to the next's.
     *
     * @param before the grants before it (a state's {@link #roleGrants()})
     * @param users the users whose roles differ between {@code before} and after it
     */
    public record GrantChange(Map<String, Set<String>> before, Set<String> users) {
    }

    /**
     * What changed to make a state's grants, when that is known without comparing every grant: the sync layer and
     * the limits then update what they computed for the grants before (a digest, a size) by the users that changed,
     * instead of walking tens of thousands of grants again for each one granted.
     *
     * @param after a state's {@link #roleGrants()}
     * @return the change from the grants of the state before the last change of grants to {@code after}, if known;
     *     empty for grants read whole (from a checkpoint, or given to the constructor), and for grants changed again
     *     since (only one step back is kept, so that older grant maps can be collected)
     */
    public static Optional<GrantChange> lastGrantChange(Map<String, Set<String>> after) {
        if (after instanceof FrozenGrants frozen) {
            FrozenGrants before = frozen.before;
            if (before != null) {
                return Optional.of(new GrantChange(before, frozen.changedUsers));
            }
        }
        return Optional.empty();
    }

    /**
     * A sum over every user's grants (a digest, a size), updated by the users the last change of grants named when
     * the sum of the grants before it is known, so that it costs the change, not every grant.
     *
     * @param grants a state's {@link #roleGrants()} (or any grants: they are then summed whole)
     * @param known the sum already computed for some grants, or null
     * @param perUser one user's share of the sum (summed over those roles); 0 for no roles
     * @return the sum over every user of {@code grants}
     */
    public static long sumOverUsers(Map<String, Set<String>> grants, Function<Map<String, Set<String>>, Long> known,
            ToLongBiFunction<String, Set<String>> perUser) {
        Optional<GrantChange> change = lastGrantChange(grants);
        Long before = change.map(c -> known.apply(c.before())).orElse(null);
        if (before != null) {
            long sum = before; // minus the changed users' old shares, plus their new ones
            Map<String, Set<String>> earlier = change.get().before();
            for (String user : change.get().users()) {
                sum += perUser.applyAsLong(user, grants.getOrDefault(user, Set.of()))
                        - perUser.applyAsLong(user, earlier.getOrDefault(user, Set.of()));
            }
            return sum;
        }
        long sum = 0;
        for (Map.Entry<String, Set<String>> entry : grants.entrySet()) {
            sum += perUser.applyAsLong(entry.getKey(), entry.getValue());
        }
        return sum;
    }

    /**
     * @param grants role grants by user id
     * @return them as a state holds them: {@code grants} itself if it is a state's (so that states share their
     *     grants instead of copying tens of thousands of them for every change of a flag), else an immutable copy
     *     without the users whose role set is empty
     */
    static Map<String, Set<String>> frozenGrants(Map<String, Set<String>> grants) {
        if (grants instanceof FrozenGrants) {
            return grants;
        }
        @SuppressWarnings("unchecked")
        Map<String, Set<String>>[] shards = new Map[FrozenGrants.SHARDS];
        grants.forEach((user, roles) -> {
            if (!roles.isEmpty()) {
                int shard = FrozenGrants.shardOf(user);
                if (shards[shard] == null) {
                    shards[shard] = new HashMap<>();
                }
                shards[shard].put(user, Set.copyOf(roles));
            }
        });
        int size = 0;
        for (int i = 0; i < shards.length; i++) {
            // Not Map.copyOf: the users of a shard share the low bits of their hash, and Map.copyOf's open
            // addressing clusters such keys (as it does ids like user-14700: FlagFormat in flags-core).
            shards[i] = shards[i] == null ? Map.of() : Collections.unmodifiableMap(shards[i]);
            size += shards[i].size();
        }
        return new FrozenGrants(shards, size, null, Set.of());
    }

    /**
     * @param before a state's grants
     * @param now the grants as they are now (mutable, not kept)
     * @param users every user whose roles may differ between {@code before} and {@code now}
     * @return {@code now} as a state holds it, made from {@code before} and the roles of {@code users} in {@code now}
     *     (the other users' role sets are {@code before}'s own), remembering the change (see {@link #lastGrantChange})
     */
    static Map<String, Set<String>> frozenGrants(Map<String, Set<String>> before, Map<String, Set<String>> now,
            Set<String> users) {
        if (!(before instanceof FrozenGrants earlier)) {
            return frozenGrants(now);
        }
        Map<String, Set<String>>[] shards = earlier.shards.clone();
        @SuppressWarnings("unchecked")
        Map<String, Set<String>>[] copies = new Map[FrozenGrants.SHARDS]; // the shards this change touches, copied once
        Set<String> changed = new HashSet<>();
        for (String user : users) {
            Set<String> roles = now.getOrDefault(user, Set.of());
            int shard = FrozenGrants.shardOf(user);
            if (!roles.equals(shards[shard].getOrDefault(user, Set.of()))) {
                changed.add(user);
                if (copies[shard] == null) {
                    copies[shard] = new HashMap<>(shards[shard]);
                }
                if (roles.isEmpty()) {
                    copies[shard].remove(user);
                } else {
                    copies[shard].put(user, Set.copyOf(roles));
                }
            }
        }
        if (changed.isEmpty()) {
            return earlier; // granted and revoked again between two states: still shared
        }
        int size = earlier.size;
        for (int i = 0; i < copies.length; i++) {
            if (copies[i] != null) {
                size += copies[i].size() - shards[i].size();
                shards[i] = Collections.unmodifiableMap(copies[i]); // not Map.copyOf: see frozenGrants(Map)
            }
        }
        FrozenGrants after = new FrozenGrants(shards, size, earlier, Set.copyOf(changed));
        earlier.before = null; // one step back is kept: the maps before it can be collected
        return after;
    }

    /**
     * Thread-safe: immutable but for a hint. Grants known to be immutable all the way down (each shard and each role
     * set): the one type {@link #frozenGrants(Map)} passes on without copying. The users are split by hash into
     * {@value #SHARDS} immutable maps, so that the grants after a change are a copy of the shards of the users it
     * names, not of every grant: with 50,000 grants, copying them all for each grant was most of a grant's cost,
     * on the journal's one commit thread. Links to the grants it was made from, a link dropped when a newer map
     * is made from this one.
     */
    private static final class FrozenGrants extends AbstractMap<String, Set<String>> {
        static final int SHARDS = 256;

        private final Map<String, Set<String>>[] shards;
        private final int size;
        /** The grants this was made from, or null (read whole, or a newer map was made from this one). */
        private volatile FrozenGrants before;
        /** The users whose roles differ between {@link #before} and this. */
        private final Set<String> changedUsers;

        FrozenGrants(Map<String, Set<String>>[] shards, int size, FrozenGrants before, Set<String> changedUsers) {
            this.shards = shards;
            this.size = size;
            this.before = before;
            this.changedUsers = changedUsers;
        }

        static int shardOf(String user) {
            int h = user.hashCode();
            return (h ^ (h >>> 16)) & (SHARDS - 1);
        }

        private Map<String, Set<String>> shardOf(Object user) {
            return user instanceof String id ? shards[shardOf(id)] : Map.of();
        }

        @Override
        public Set<String> get(Object user) {
            return shardOf(user).get(user);
        }

        @Override
        public Set<String> getOrDefault(Object user, Set<String> otherwise) {
            return shardOf(user).getOrDefault(user, otherwise);
        }

        @Override
        public boolean containsKey(Object user) {
            return shardOf(user).containsKey(user);
        }

        @Override
        public int size() {
            return size;
        }

        @Override
        public void forEach(BiConsumer<? super String, ? super Set<String>> action) {
            for (Map<String, Set<String>> shard : shards) {
                shard.forEach(action);
            }
        }

        @Override
        public Set<Entry<String, Set<String>>> entrySet() {
            return new AbstractSet<>() {
                @Override
                public Iterator<Entry<String, Set<String>>> iterator() {
                    return Arrays.stream(shards).flatMap(shard -> shard.entrySet().stream()).iterator();
                }

                @Override
                public int size() {
                    return size;
                }
            };
        }
    }
}
