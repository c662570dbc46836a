package dev.flags.core;

import java.util.Objects;

/**
 * Immutable. That a flag was evaluated in a period, and which answers it gave: one entry of an SDK's
 * usage report (see {@link FlagSet#takeUsage()}).
 *
 * @param flagKey the flag's key
 * @param servedTrue whether an evaluation answered true
 * @param servedFalse whether an evaluation answered false
 */
public record FlagUsage(String flagKey, boolean servedTrue, boolean servedFalse) {

    /**
     * @throws NullPointerException if flagKey is null
     * @throws IllegalArgumentException if neither answer is marked (a flag not evaluated has no entry)
     */
    public FlagUsage {
        Objects.requireNonNull(flagKey, "flagKey");
        if (!servedTrue && !servedFalse) {
            throw new IllegalArgumentException("a flag usage serves true, false or both");
        }
    }
}
