package dev.flags.core;

import java.util.List;
import java.util.Objects;

/**
 * Immutable. One condition of a rule. A rule's conditions are ANDed; the values inside one
 * condition are ORed.
 */
public sealed interface Condition {

    /**
     * The user has any of these roles, given by the application or granted to the user's id on the
     * server.
     *
     * @param roles role names, at least one
     */
    record Roles(List<String> roles) implements Condition {
        /** Copies the list; a null list becomes empty (which validation rejects). */
        public Roles {
            roles = roles == null ? List.of() : List.copyOf(roles);
        }
    }

    /**
     * The user is in any of these regions.
     *
     * @param regions region names, at least one
     */
    record Regions(List<String> regions) implements Condition {
        /** Copies the list; a null list becomes empty (which validation rejects). */
        public Regions {
            regions = regions == null ? List.of() : List.copyOf(regions);
        }
    }

    /**
     * The user's id is one of these.
     *
     * @param userIds user ids, at least one
     */
    record UserIds(List<String> userIds) implements Condition {
        /** Copies the list; a null list becomes empty (which validation rejects). */
        public UserIds {
            userIds = userIds == null ? List.of() : List.copyOf(userIds);
        }
    }

    /**
     * The user's bucket is inside a rollout of this many percent (0 to 100, three decimals at most).
     * See {@link Bucketing} for the exact hash.
     *
     * @param percentage the share of users inside, 0 to 100
     */
    record Percentage(double percentage) implements Condition {
    }

    /**
     * A constraint on one attribute of the user.
     *
     * @param attribute the attribute's name
     * @param operator how the attribute is compared with the values
     * @param values the values to compare with (ORed), at least one
     * @param negate true to invert the result for a user who has the attribute
     * @param ignoreCase true to compare strings without regard to case (string operators only)
     */
    record Attribute(String attribute, Operator operator, List<String> values, boolean negate, boolean ignoreCase)
            implements Condition {
        /** Copies the list; a null list becomes empty (which validation rejects). */
        public Attribute {
            Objects.requireNonNull(operator, "operator");
            values = values == null ? List.of() : List.copyOf(values);
        }
    }
}
