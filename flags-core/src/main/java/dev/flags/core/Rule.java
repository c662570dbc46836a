package dev.flags.core;

import java.util.List;

/**
 * Immutable. A rule of a flag: if all its conditions hold, it decides the answer.
 *
 * @param name a name that product owners recognize in evaluation reasons, such as "beta testers"; may be null
 * @param conditions the conditions, ANDed; an empty list matches everyone
 * @param serve the value served when the rule matches
 * @param variant the variant served when the rule matches and serves true; null to split by the flag's weights
 */
public record Rule(String name, List<Condition> conditions, boolean serve, String variant) {
    /** Copies the conditions; a null list becomes empty. */
    public Rule {
        conditions = conditions == null ? List.of() : List.copyOf(conditions);
    }
}
