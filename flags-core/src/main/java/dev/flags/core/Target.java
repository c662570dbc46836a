package dev.flags.core;

import java.util.List;

/**
 * Immutable. Individual targeting: the listed users get this answer before any rule is tried.
 *
 * @param userIds the user ids targeted
 * @param serve the value they get
 * @param variant the variant they get when {@code serve} is true; null to split by the flag's weights
 */
public record Target(List<String> userIds, boolean serve, String variant) {
    /** Copies the ids; a null list becomes empty. */
    public Target {
        userIds = userIds == null ? List.of() : List.copyOf(userIds);
    }
}
