package dev.flags.benchmarks.eval;

/**
 * Immutable. One user of the pool, before it is turned into an implementation's own user type.
 *
 * @param id the sticky id
 * @param role the user's one role, or null
 * @param region the user's region, or null
 * @param plan the user's plan (attribute {@code plan}); never null
 */
public record UserSpec(String id, String role, String region, String plan) {
}
