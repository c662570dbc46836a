package dev.flags.server.usage;

import java.time.Instant;
import java.util.Map;
import java.util.Objects;

/**
 * Immutable. The usage the server holds for one environment.
 *
 * @param since when this server started recording usage for the environment: its first report kept
 * @param flags each flag key a report listed, and its usage
 * @param unknownFlags each key a report listed as asked for but not a flag the SDK has, and who asked
 */
public record EnvironmentUsage(Instant since, Map<String, FlagUse> flags, Map<String, UnknownFlagUse> unknownFlags) {

    /** Copies the maps; null becomes empty. */
    public EnvironmentUsage {
        Objects.requireNonNull(since, "since");
        flags = flags == null ? Map.of() : Map.copyOf(flags);
        unknownFlags = unknownFlags == null ? Map.of() : Map.copyOf(unknownFlags);
    }

    /** Usage without unknown keys. */
    public EnvironmentUsage(Instant since, Map<String, FlagUse> flags) {
        this(since, flags, Map.of());
    }
}
