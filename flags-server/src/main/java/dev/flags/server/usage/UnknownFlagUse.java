package dev.flags.server.usage;

import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * Immutable. What the server heard of a key that the code asks for but that is not a flag of the
 * environment (a typo in the code, or a flag archived while code still asks for it): such a key gets its
 * default in the SDK, silently, and this is how someone learns of it.
 *
 * @param lastAskedAt the server's receive time of the last report that listed the key among its unknown
 *                    flags, to the second
 * @param applications the applications that asked for it, most recent first, at most {@link UsageStore#MAX_APPLICATIONS}
 */
public record UnknownFlagUse(Instant lastAskedAt, List<ApplicationUse> applications) {

    /** Checks the time is there; copies the list, null becomes empty. */
    public UnknownFlagUse {
        Objects.requireNonNull(lastAskedAt, "lastAskedAt");
        applications = applications == null ? List.of() : List.copyOf(applications);
    }
}
