package dev.flags.server.usage;

import java.time.Instant;
import java.util.List;

/**
 * Immutable. What the server heard of one flag's evaluations: when, which answers, and by which
 * applications. Times are the server's receive times of the reports, to the second; null for never.
 *
 * @param lastEvaluatedAt the last report that listed the flag, or null if none did
 * @param lastServedTrueAt the last report in which it answered true, or null
 * @param lastServedFalseAt the last report in which it answered false, or null
 * @param applications the applications that reported it, most recent first, at most {@link UsageStore#MAX_APPLICATIONS}
 */
public record FlagUse(Instant lastEvaluatedAt, Instant lastServedTrueAt, Instant lastServedFalseAt,
                      List<ApplicationUse> applications) {

    /** No report ever listed the flag. */
    public static final FlagUse NEVER = new FlagUse(null, null, null, List.of());

    /** Copies the list; null becomes empty. */
    public FlagUse {
        applications = applications == null ? List.of() : List.copyOf(applications);
    }
}
