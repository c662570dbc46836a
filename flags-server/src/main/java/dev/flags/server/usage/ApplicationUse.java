package dev.flags.server.usage;

import java.time.Instant;
import java.util.Objects;

/**
 * Immutable. An application that evaluated a flag (or asked for a key that is not one): its name, its SDK,
 * and when it last reported doing so.
 *
 * @param name the application's name as its SDK gave it, or {@link #UNNAMED} for an SDK that gave none
 * @param sdk the SDK's own name and version ("flags-java/0.1.0"), as it gave it; may be empty
 * @param lastReportAt when the server received its last report that listed the flag (or the
 *                     unknown key), to the second
 */
public record ApplicationUse(String name, String sdk, Instant lastReportAt) {

    /** The name shown for an application whose SDK gave none. */
    public static final String UNNAMED = "(unnamed)";

    /** Checks that every part is there. */
    public ApplicationUse {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(sdk, "sdk");
        Objects.requireNonNull(lastReportAt, "lastReportAt");
    }
}
