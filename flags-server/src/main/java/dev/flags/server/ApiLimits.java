package dev.flags.server;

/**
 * Immutable. How many admin API requests one token may make: a budget per token, refilled evenly over
 * a minute, that may be spent all at once. Changes (writes) and reads have separate budgets, so a
 * script that polls the history never holds back a product owner's kill switch, and tokens never
 * share one: give every script its own token.
 *
 * <p>Why changes are limited at all: each one is a durable journal append and a message to every
 * connected SDK, so a runaway script with a loop around {@code PATCH} costs the whole fleet. Reads
 * such as history and time travel read the journal, so they are budgeted too.
 *
 * @param changesPerMinute changes (POST, PUT, PATCH, DELETE; not the playground) one token may make
 *                         per minute, all of them at once if it likes; 0 for no limit
 * @param readsPerMinute reads (GET, and the playground's POST) one token may make per minute; 0 for no
 *                       limit
 */
public record ApiLimits(int changesPerMinute, int readsPerMinute) {

    /** The largest budget accepted, per minute. */
    public static final int MAX_PER_MINUTE = 1_000_000;

    /** Checks both budgets. */
    public ApiLimits {
        check(changesPerMinute, "changes per minute", "changesPerMinute");
        check(readsPerMinute, "reads per minute", "readsPerMinute");
    }

    /** @return the defaults: 600 changes (10 a second, sustained) and 3,000 reads a minute per token */
    public static ApiLimits defaults() {
        return new ApiLimits(600, 3_000);
    }

    /** @return no limits (for benchmarks, and servers behind a gateway that limits) */
    public static ApiLimits none() {
        return new ApiLimits(0, 0);
    }

    private static void check(int perMinute, String what, String setting) {
        if (perMinute < 0 || perMinute > MAX_PER_MINUTE) {
            throw new BadSettingException(setting, what + " must be between 0 (no limit) and " + MAX_PER_MINUTE
                    + ", was " + perMinute);
        }
    }
}
