package dev.flags.server.journal;

import java.util.Objects;

/**
 * Immutable. One role granted to one user id: the key of a grant's expiry in
 * {@link EnvironmentState#grantExpiries()}.
 *
 * @param userId the user id the role is granted to
 * @param role the role
 */
public record Grant(String userId, String role) implements Comparable<Grant> {

    /** @throws NullPointerException if either part is null */
    public Grant {
        Objects.requireNonNull(userId, "userId");
        Objects.requireNonNull(role, "role");
    }

    /** Orders by user id, then role: the order checkpoints write grants in. */
    @Override
    public int compareTo(Grant other) {
        int byUser = userId.compareTo(other.userId);
        return byUser != 0 ? byUser : role.compareTo(other.role);
    }
}
