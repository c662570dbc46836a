package dev.flags.server.journal;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Immutable. One environment as the journal's entries up to some sequence number made it: its
 * version, its flags' definitions by key, the roles granted to user ids, and its self-service roles.
 *
 * <p>Collections are unmodifiable copies; their iteration order is unspecified. A flag definition is
 * the payload of the flag's latest {@code FLAG_CREATED} or {@code FLAG_UPDATED} entry (or the copy a
 * clone made). Archived flags are kept apart from served ones; deleted flags are gone.
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
        roleGrants = roleGrants == null ? Map.of() : copyGrants(roleGrants);
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

    private static Map<String, Set<String>> copyGrants(Map<String, Set<String>> grants) {
        Map<String, Set<String>> copy = new HashMap<>(grants.size() * 2);
        grants.forEach((user, roles) -> {
            if (!roles.isEmpty()) {
                copy.put(user, Set.copyOf(roles));
            }
        });
        return Map.copyOf(copy);
    }
}
