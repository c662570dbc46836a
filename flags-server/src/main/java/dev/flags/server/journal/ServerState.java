package dev.flags.server.journal;

import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * Immutable. Everything the journal's entries up to one sequence number add up to: every
 * environment's state and the live tokens.
 *
 * <p>{@link Journal#state()} returns the state after the last committed entry; {@link
 * Journal#stateAt(long)} and {@link Journal#stateAt(Instant)} return earlier ones. Tokens are held as
 * their metadata and hash (the {@code TOKEN_CREATED} payload), never as secrets; revoked tokens are
 * gone. Collections are unmodifiable copies with unspecified iteration order.
 *
 * <pre>{@code
 * ServerState lastFriday = journal.stateAt(Instant.parse("2026-11-20T17:00:00Z"));
 * lastFriday.environment("production").map(env -> env.flags().get("billing-v2"));
 * }</pre>
 *
 * @param sequence the sequence number of the last entry included; 0 for the empty state
 * @param timestamp the timestamp of that entry; {@link Instant#EPOCH} for the empty state
 * @param environments every environment by key, archived ones included
 * @param tokensVersion the version of the token set: the number of token entries
 * @param tokens the live tokens' payloads by token id
 * @param deletedEnvironments the keys of the environments deleted for good: none of them is used again
 */
public record ServerState(
        long sequence,
        Instant timestamp,
        Map<String, EnvironmentState> environments,
        long tokensVersion,
        Map<String, CanonicalJson> tokens,
        Set<String> deletedEnvironments) {

    /** The state before the first entry. */
    public static final ServerState EMPTY = new ServerState(0, Instant.EPOCH, Map.of(), 0, Map.of(), Set.of());

    /** A state in which no environment was deleted. */
    public ServerState(long sequence, Instant timestamp, Map<String, EnvironmentState> environments, long tokensVersion,
            Map<String, CanonicalJson> tokens) {
        this(sequence, timestamp, environments, tokensVersion, tokens, Set.of());
    }

    /**
     * Copies the collections; a null collection becomes an empty one.
     *
     * @throws NullPointerException if timestamp is null
     * @throws IllegalArgumentException if sequence or tokensVersion is negative
     */
    public ServerState {
        Objects.requireNonNull(timestamp, "timestamp");
        if (sequence < 0) {
            throw new IllegalArgumentException("sequence must be at least 0, was " + sequence);
        }
        if (tokensVersion < 0) {
            throw new IllegalArgumentException("tokens version must be at least 0, was " + tokensVersion);
        }
        environments = environments == null ? Map.of() : Map.copyOf(environments);
        tokens = tokens == null ? Map.of() : Map.copyOf(tokens);
        deletedEnvironments = deletedEnvironments == null ? Set.of() : Set.copyOf(deletedEnvironments);
    }

    /**
     * Looks up one environment.
     *
     * @param key the environment's key
     * @return the environment, or empty if there is none by that key
     */
    public Optional<EnvironmentState> environment(String key) {
        return Optional.ofNullable(environments.get(key));
    }

    /**
     * Whether an environment of this key was deleted for good (its key is then never used again).
     *
     * @param key the environment's key
     * @return true if an {@code ENVIRONMENT_DELETED} entry removed it
     */
    public boolean wasDeleted(String key) {
        return deletedEnvironments.contains(key);
    }
}
