package dev.flags.client.internal;

import dev.flags.client.Source;
import dev.flags.core.FlagSet;
import java.util.Map;
import java.util.Objects;

/**
 * Immutable. The snapshot every evaluation reads: the compiled flags, the flags the server sent that
 * this SDK could not read, and where it all came from.
 *
 * @param flags the compiled flags; its version is the environment's version
 * @param unreadable key to problem, for flag documents this SDK could not read (they answer the
 *                   caller's default with reason ERROR); immutable
 * @param source where the flags came from
 * @param note for {@link Source#DEFAULTS}, why there are no flags; otherwise null
 * @param stateTag the server's tag of this state (sent back when resubscribing from this version, so a
 *                 server whose state at the version differs sends a whole snapshot); 0 if unknown
 */
public record FlagState(FlagSet flags, Map<String, String> unreadable, Source source, String note, long stateTag) {

    /** Copies the map; checks the rest. */
    public FlagState {
        Objects.requireNonNull(flags, "flags");
        Objects.requireNonNull(source, "source");
        unreadable = Map.copyOf(unreadable);
    }

    /**
     * @param flags compiled flags
     * @param source where they came from
     * @return a state of these flags
     */
    public static FlagState of(FlagSet flags, Source source) {
        return new FlagState(flags, Map.of(), source, null, 0);
    }

    /**
     * @param why why there are no flags
     * @return a state with no flags, whose every answer is the caller's default
     */
    public static FlagState none(String why) {
        return new FlagState(FlagSet.empty(), Map.of(), Source.DEFAULTS, why, 0);
    }

    /**
     * @param newSource another source
     * @return this state from another source (same flags)
     */
    public FlagState withSource(Source newSource) {
        return newSource == source ? this : new FlagState(flags, unreadable, newSource, null, stateTag);
    }

    /** @return the environment's version of these flags */
    public long version() {
        return flags.version();
    }
}
