package dev.flags.core;

import java.util.Map;
import java.util.Set;

/**
 * Immutable. A compiled condition (other than a percentage, which the flag evaluates itself so that
 * the user's bucket is hashed at most once per evaluation).
 */
interface ConditionMatcher {

    /**
     * @param user the user, never null
     * @param grants roles granted on the server, by user id; never null
     * @return whether the condition holds
     */
    boolean matches(User user, Map<String, Set<String>> grants);
}
