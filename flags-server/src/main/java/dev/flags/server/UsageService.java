package dev.flags.server;

import dev.flags.server.auth.Principal;
import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.Journal;
import dev.flags.server.usage.ApplicationUse;
import dev.flags.server.usage.EnvironmentUsage;
import dev.flags.server.usage.FlagUse;
import dev.flags.server.usage.UnknownFlagUse;
import dev.flags.server.usage.UsageStore;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.Period;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * Thread-safe. Reads flag usage for the admin API: every current flag of an environment (or one), with
 * what the SDKs reported of it, so that a flag never seen shows as such rather than being left out; and
 * the keys code asked for that are not flags of the environment. Whoever may read the environment's flags
 * may read their usage.
 */
public final class UsageService {

    /**
     * Immutable. One flag's usage.
     *
     * @param flag the flag's key
     * @param use what was reported of it ({@link FlagUse#NEVER} if nothing)
     */
    public record FlagUsage(String flag, FlagUse use) {
        /** Checks both are there. */
        public FlagUsage {
            Objects.requireNonNull(flag, "flag");
            Objects.requireNonNull(use, "use");
        }
    }

    /**
     * Immutable. A key code asked for that is not a flag of the environment.
     *
     * @param flag the key
     * @param use when it was last asked for, and by whom
     */
    public record UnknownFlagUsage(String flag, UnknownFlagUse use) {
        /** Checks both are there. */
        public UnknownFlagUsage {
            Objects.requireNonNull(flag, "flag");
            Objects.requireNonNull(use, "use");
        }
    }

    /**
     * Immutable. An environment's usage, as the API shows it.
     *
     * @param environment the environment's key
     * @param at the server's time of the answer, to the second: what a reader judges "how long ago" by,
     *           rather than its own clock
     * @param since when the server started recording usage for it, or null if it never did
     * @param reportInterval how often SDKs report
     * @param flags the flags asked for, by key
     * @param unknownFlags the keys asked for that are not flags of the environment, by key; empty when one
     *                     flag was asked for
     */
    public record Usage(String environment, Instant at, Instant since, Duration reportInterval, List<FlagUsage> flags,
                        List<UnknownFlagUsage> unknownFlags) {
        /** Copies the lists. */
        public Usage {
            flags = List.copyOf(flags);
            unknownFlags = List.copyOf(unknownFlags);
        }
    }

    private final Journal journal;
    private final FlagService flags;
    private final UsageStore store;
    private final Duration reportInterval;
    private final Clock clock;

    /**
     * @param journal the journal: which flags an environment has
     * @param flags the flags, for a single flag's 404
     * @param store the usage reported
     * @param reportInterval how often SDKs report
     */
    public UsageService(Journal journal, FlagService flags, UsageStore store, Duration reportInterval, Clock clock) {
        this.journal = Objects.requireNonNull(journal, "journal");
        this.flags = Objects.requireNonNull(flags, "flags");
        this.store = Objects.requireNonNull(store, "store");
        this.reportInterval = Objects.requireNonNull(reportInterval, "reportInterval");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /**
     * Refuses to let a flag be archived while code still evaluates it: archived, the flag is unknown to
     * the SDKs, which then answer the code's default. Checked by {@code DELETE .../flags/{key}?unusedFor=P7D}
     * just before the archive (a report that comes between the two is not seen: usage is per period anyway).
     *
     * @param p the caller, who must be allowed to archive the flag
     * @param env the environment's key
     * @param key the flag's key; a key with no usage passes (the archive answers a missing flag's 404)
     * @param unusedFor how long no SDK may have evaluated it: an ISO-8601 duration ({@code PT8H}, {@code P7D})
     *                  or period ({@code P2W}, {@code P1M}, counted in UTC), positive, at most 10 years
     * @throws ApiException 400 for a bad {@code unusedFor}; 403 for a caller who may not archive; 409 if an
     *         SDK evaluated the flag within it
     */
    public void requireUnused(Principal p, String env, String key, String unusedFor) {
        Access.requireWriteFlags(p, env);
        Instant now = clock.instant();
        Instant cutoff = cutoff(unusedFor, now);
        FlagUse use = store.environment(env).map(u -> withAsks(u.flags().get(key), u.unknownFlags().get(key))).orElse(null);
        Instant last = use == null ? null : use.lastEvaluatedAt();
        if (last != null && last.isAfter(cutoff)) {
            String apps = use.applications().stream().map(a -> a.name()).distinct().limit(5)
                    .collect(java.util.stream.Collectors.joining(", "));
            throw new ApiException(409, "conflict", "flag \"" + key + "\" was evaluated at " + last
                    + (apps.isEmpty() ? "" : " (by " + apps + ")") + ": code still asks for it, and archived it would answer"
                    + " the code's default there; archive it once it has gone unevaluated for " + unusedFor
                    + ", or without unusedFor");
        }
    }

    private static Instant cutoff(String unusedFor, Instant now) {
        String bad = "unusedFor must be a positive ISO-8601 duration or period of at most 10 years, such as PT8H, P7D"
                + " or P2W; was \"" + LogText.escape(unusedFor.length() > 40 ? unusedFor.substring(0, 37) + "..." : unusedFor)
                + "\"";
        Instant cutoff;
        try {
            Duration d = Duration.parse(unusedFor);
            if (d.isNegative() || d.isZero() || d.compareTo(Expiry.MAX_DURATION) > 0) {
                throw ApiException.badRequest(bad);
            }
            cutoff = now.minus(d);
        } catch (DateTimeParseException notADuration) {
            try {
                Period period = Period.parse(unusedFor);
                if (period.isNegative() || period.isZero() || period.toTotalMonths() > 120
                        || period.getDays() > Expiry.MAX_DURATION.toDays()) {
                    throw ApiException.badRequest(bad);
                }
                cutoff = now.atZone(ZoneOffset.UTC).minus(period).toInstant();
            } catch (DateTimeParseException | ArithmeticException notAPeriodEither) {
                throw ApiException.badRequest(bad);
            }
        } catch (ArithmeticException tooLong) {
            throw ApiException.badRequest(bad);
        }
        return cutoff;
    }

    /**
     * @param flag one flag's key, or null for every current flag of the environment and the unknown keys
     * @return the usage, flags and unknown keys sorted by key
     * @throws ApiException 403 for a token that may not read the environment, 404 for an environment or
     *     (with {@code flag}) a flag that is not there, as {@code GET .../flags/{key}} answers
     */
    public Usage usage(Principal p, String env, String flag) {
        Access.requireRead(p, env);
        if (flag != null && flag.isEmpty()) {
            throw ApiException.badRequest("\"flag\" must name a flag; leave it out for every flag's usage");
        }
        EnvironmentState state = Access.environment(journal, env);
        if (flag != null) {
            flags.get(p, env, flag); // its 404, word for word
        }
        // An archived environment records nothing, and what it had is dropped at the next write of usage.json.
        Optional<EnvironmentUsage> recorded = state.archived() ? Optional.empty() : store.environment(env);
        List<String> keys = flag != null ? List.of(flag) : state.flags().keySet().stream().sorted().toList();
        List<FlagUsage> out = new ArrayList<>(keys.size());
        for (String key : keys) {
            // Optional.map of a flag never reported is empty: NEVER
            out.add(new FlagUsage(key, recorded.map(u -> withAsks(u.flags().get(key), u.unknownFlags().get(key)))
                    .orElse(FlagUse.NEVER)));
        }
        List<UnknownFlagUsage> unknown = flag != null ? List.of()
                : unknownFlags(recorded.map(EnvironmentUsage::unknownFlags).orElse(Map.of()), state.flags().keySet(),
                        clock.instant().minus(UsageStore.UNKNOWN_FLAG_RETENTION));
        return new Usage(env, clock.instant().truncatedTo(java.time.temporal.ChronoUnit.SECONDS),
                recorded.map(EnvironmentUsage::since).orElse(null), reportInterval, out, unknown);
    }

    /**
     * A flag's usage with what was asked of its key while it was no flag (archived, restored since; merged into the
     * flag's record at the next write of usage.json): those asks are evaluations too, whose answers are not known.
     *
     * @param use the flag's own usage, or null
     * @param asked what was asked of the key as an unknown one, or null
     * @return the flag's usage, its last evaluation the later of the two
     */
    static FlagUse withAsks(FlagUse use, UnknownFlagUse asked) {
        if (asked == null) {
            return use;
        }
        FlagUse own = use == null ? FlagUse.NEVER : use;
        if (own.lastEvaluatedAt() != null && !asked.lastAskedAt().isAfter(own.lastEvaluatedAt())) {
            return own;
        }
        List<ApplicationUse> apps = new ArrayList<>(asked.applications());
        own.applications().stream().filter(a -> apps.stream().noneMatch(b -> b.name().equals(a.name()) && b.sdk().equals(a.sdk())))
                .forEach(apps::add);
        apps.sort(Comparator.comparing(ApplicationUse::lastReportAt).reversed());
        return new FlagUse(asked.lastAskedAt(), own.lastServedTrueAt(), own.lastServedFalseAt(),
                apps.subList(0, Math.min(apps.size(), UsageStore.MAX_APPLICATIONS)));
    }

    /**
     * The unknown keys that are not flags now and were asked for since the cutoff: one created (or restored)
     * since, or not asked for in {@link UsageStore#UNKNOWN_FLAG_RETENTION}, is dropped at the next write of
     * usage.json, and is not shown meanwhile either.
     */
    private static List<UnknownFlagUsage> unknownFlags(Map<String, UnknownFlagUse> recorded, Set<String> current,
                                                       Instant cutoff) {
        List<UnknownFlagUsage> out = new ArrayList<>();
        new TreeMap<>(recorded).forEach((key, use) -> {
            if (!current.contains(key) && !use.lastAskedAt().isBefore(cutoff)) {
                out.add(new UnknownFlagUsage(key, use));
            }
        });
        return out;
    }
}
