package dev.flags.server.usage;

import java.time.Instant;
import java.util.Map;
import java.util.Objects;

/**
 * Immutable. The usage the server holds for one environment.
 *
 * @param since when this server started recording usage for the environment: its first report kept
 * @param flags each flag key a report listed, and its usage
 */
public record EnvironmentUsage(Instant since, Map<String, FlagUse> flags) {

    /** Copies the map; null becomes empty. */
    public EnvironmentUsage {
        Objects.requireNonNull(since, "since");
        flags = flags == null ? Map.of() : Map.copyOf(flags);
    }
}
