package dev.flags.server.usage;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * Thread-safe. The flag usage the SDKs reported, per environment and flag key: when each flag was last
 * evaluated, when it last answered true and false, and which applications evaluated it. In memory; {@link
 * UsageFile} keeps it across restarts.
 *
 * <p>Also, per environment, the keys the code asked for that are not flags of it (the reports' unknown
 * flags): when each was last asked for, and by which applications. Those keys come from the applications,
 * not from the journal, so they are bounded as they are recorded: at most {@link
 * #MAX_UNKNOWN_FLAGS_PER_ENVIRONMENT}, the least recently asked for going first.
 *
 * <p>Times are the server's receive times from its clock, to the second: the SDKs' clocks are not
 * trusted, and "evaluated this week" needs no more precision. One lock for the whole store: a report is
 * a few map updates per flag it lists, far cheaper than the gRPC call that carries it, and the reports
 * the server takes per second are bounded ({@link ReportRateLimit}).
 *
 * <pre>{@code
 * UsageStore usage = new UsageStore(clock, Map.of());
 * usage.record("production", "flags-java/0.1.0", "checkout", List.of(new UsageStore.Mark("billing-v2", true, false)));
 * FlagUse billing = usage.environment("production").orElseThrow().flags().get("billing-v2");
 * }</pre>
 */
public final class UsageStore {

    /** The most applications kept per flag; the one that reported it least recently goes first. */
    public static final int MAX_APPLICATIONS = 20;
    /** The most flag keys kept per environment when usage is bounded ({@link #retain}). */
    public static final int MAX_FLAGS_PER_ENVIRONMENT = 10_000;
    /** The most unknown keys kept per environment, at all times; the one asked for least recently goes first. */
    public static final int MAX_UNKNOWN_FLAGS_PER_ENVIRONMENT = 1_000;
    /** How long an unknown key not asked for again is kept ({@link #retain}). */
    public static final Duration UNKNOWN_FLAG_RETENTION = Duration.ofDays(30);

    /**
     * Immutable. One flag's marks in one report.
     *
     * @param key the flag's key
     * @param servedTrue whether it answered true in the period
     * @param servedFalse whether it answered false in the period
     */
    public record Mark(String key, boolean servedTrue, boolean servedFalse) {
        /** Checks the key is there. */
        public Mark {
            Objects.requireNonNull(key, "key");
        }
    }

    /** Not thread-safe (guarded by the store). One environment's usage. */
    private static final class Environment {
        final Instant since;
        final Map<String, Entry> flags = new HashMap<>();
        /** In the order they were last asked for, least recent first: what goes first over the bound. */
        final LinkedHashMap<String, Unknown> unknown = new LinkedHashMap<>();

        Environment(Instant since) {
            this.since = since;
        }
    }

    /** Not thread-safe (guarded by the store). One flag's usage. */
    private static final class Entry {
        Instant evaluated;
        Instant servedTrue;
        Instant servedFalse;
        final Applications applications = new Applications();
    }

    /** Not thread-safe (guarded by the store). One unknown key's asks. */
    private static final class Unknown {
        Instant asked;
        final Applications applications = new Applications();
    }

    /**
     * Not thread-safe (guarded by the store). The applications that reported a key, in the order they last
     * did, at most {@link #MAX_APPLICATIONS}.
     */
    private static final class Applications {
        private final LinkedHashMap<Application, Instant> byApplication = new LinkedHashMap<>();

        void reportedBy(Application app, Instant at) {
            byApplication.remove(app); // re-inserted last: the most recent
            byApplication.put(app, at);
            if (byApplication.size() > MAX_APPLICATIONS) {
                Iterator<Application> oldest = byApplication.keySet().iterator();
                oldest.next();
                oldest.remove();
            }
        }

        /** Puts back applications as a view lists them: most recent first, so oldest first here, ties in their order. */
        void load(List<ApplicationUse> mostRecentFirst) {
            for (int i = mostRecentFirst.size() - 1; i >= 0; i--) {
                ApplicationUse a = mostRecentFirst.get(i);
                reportedBy(new Application(a.name(), a.sdk()), a.lastReportAt());
            }
        }

        List<ApplicationUse> mostRecentFirst() {
            List<ApplicationUse> apps = new ArrayList<>(byApplication.size());
            byApplication.forEach((app, at) -> apps.add(0, new ApplicationUse(app.name(), app.sdk(), at)));
            return apps;
        }
    }

    /** An application as the reports name it: one entry per name and SDK, so that two SDKs of one name show apart. */
    private record Application(String name, String sdk) {
    }

    private final Clock clock;
    /** Guarded by this. */
    private final Map<String, Environment> environments = new HashMap<>();
    /** Guarded by this: counts reports recorded, so that a writer can tell whether anything changed. */
    private long changes;

    /**
     * @param clock the server's clock: the receive time of each report
     * @param initial the usage read at start (from {@link UsageFile#read()}), or an empty map
     * @throws NullPointerException if an argument is null
     */
    public UsageStore(Clock clock, Map<String, EnvironmentUsage> initial) {
        this.clock = Objects.requireNonNull(clock, "clock");
        initial.forEach(this::load);
    }

    private void load(String key, EnvironmentUsage usage) {
        Environment env = new Environment(usage.since());
        usage.flags().forEach((flag, use) -> {
            Entry e = new Entry();
            e.evaluated = use.lastEvaluatedAt();
            e.servedTrue = use.lastServedTrueAt();
            e.servedFalse = use.lastServedFalseAt();
            e.applications.load(use.applications());
            env.flags.put(flag, e);
        });
        // Least recently asked first, as recording leaves them (ties by key: the file does not keep their order).
        usage.unknownFlags().entrySet().stream()
                .sorted(Map.Entry.<String, UnknownFlagUse>comparingByValue(Comparator.comparing(UnknownFlagUse::lastAskedAt))
                        .thenComparing(Map.Entry.comparingByKey()))
                .forEach(u -> {
                    Unknown unknown = new Unknown();
                    unknown.asked = u.getValue().lastAskedAt();
                    unknown.applications.load(u.getValue().applications());
                    env.unknown.put(u.getKey(), unknown);
                });
        dropLeastRecentlyAsked(env);
        environments.put(key, env);
    }

    /**
     * Records one report that lists no unknown keys: {@link #record(String, String, String, Collection, Collection)}.
     *
     * @throws NullPointerException if an argument is null
     */
    public void record(String environment, String sdk, String application, Collection<Mark> marks) {
        record(environment, sdk, application, marks, List.of());
    }

    /**
     * Records one report, at the clock's time (to the second). The caller has checked the report and kept
     * only the marks of flags the environment has, and only the unknown keys that are not flags of it: every
     * mark and key given is recorded.
     *
     * @param environment the environment's key
     * @param sdk the SDK's name and version, as it gave it (may be empty)
     * @param application the application's name, or empty for {@link ApplicationUse#UNNAMED}
     * @param marks the flags it evaluated and the answers they gave; may be empty (the environment's
     *              {@code since} is set all the same: from then on, the server hears from its SDKs)
     * @param unknownFlags the keys it asked for that are not flags of the environment, each once; may be empty
     * @throws NullPointerException if an argument is null
     */
    public synchronized void record(String environment, String sdk, String application, Collection<Mark> marks,
                                    Collection<String> unknownFlags) {
        Objects.requireNonNull(environment, "environment");
        Objects.requireNonNull(unknownFlags, "unknownFlags");
        Application app = new Application(application.isEmpty() ? ApplicationUse.UNNAMED : application, Objects.requireNonNull(sdk, "sdk"));
        Instant now = clock.instant().truncatedTo(ChronoUnit.SECONDS);
        Environment env = environments.computeIfAbsent(environment, k -> new Environment(now));
        for (Mark mark : marks) {
            Entry e = env.flags.computeIfAbsent(mark.key(), k -> new Entry());
            e.evaluated = now;
            if (mark.servedTrue()) {
                e.servedTrue = now;
            }
            if (mark.servedFalse()) {
                e.servedFalse = now;
            }
            e.applications.reportedBy(app, now);
        }
        for (String key : unknownFlags) {
            Unknown u = env.unknown.remove(key); // re-inserted last: the most recently asked
            if (u == null) {
                u = new Unknown();
            }
            u.asked = now;
            u.applications.reportedBy(app, now);
            env.unknown.put(key, u);
        }
        dropLeastRecentlyAsked(env);
        changes++;
    }

    /** Bounds the unknown keys as they come, not only when the file is written: any application can send new ones. */
    private static void dropLeastRecentlyAsked(Environment env) {
        Iterator<String> oldest = env.unknown.keySet().iterator();
        for (int over = env.unknown.size() - MAX_UNKNOWN_FLAGS_PER_ENVIRONMENT; over > 0; over--) {
            oldest.next();
            oldest.remove();
        }
    }

    /**
     * @param environment an environment's key
     * @return its usage, or empty if no report of it was ever kept
     */
    public synchronized Optional<EnvironmentUsage> environment(String environment) {
        Environment env = environments.get(environment);
        return env == null ? Optional.empty() : Optional.of(view(env));
    }

    /** @return the usage of every environment, by key: what {@link UsageFile#write} is given */
    public synchronized Map<String, EnvironmentUsage> snapshot() {
        Map<String, EnvironmentUsage> out = new HashMap<>();
        environments.forEach((key, env) -> out.put(key, view(env)));
        return out;
    }

    /** @return a number that grows with every report recorded: equal numbers, equal usage (but for {@link #retain}) */
    public synchronized long changes() {
        return changes;
    }

    /**
     * Bounds what is kept: drops the environments that no longer exist or are archived, the keys that are
     * no longer flags of their environment (archived, deleted), and then, in an environment with more than
     * {@link #MAX_FLAGS_PER_ENVIRONMENT} keys left, the least recently evaluated ones. Of the unknown keys,
     * drops those that are flags of their environment now (created or restored since) and those not asked
     * for within {@link #UNKNOWN_FLAG_RETENTION} before the clock's time.
     *
     * @param currentFlags the keys of an environment's current flags, or null if the environment is gone or archived
     */
    public synchronized void retain(Function<String, Set<String>> currentFlags) {
        Instant unknownCutoff = clock.instant().minus(UNKNOWN_FLAG_RETENTION);
        Iterator<Map.Entry<String, Environment>> it = environments.entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<String, Environment> env = it.next();
            Set<String> current = currentFlags.apply(env.getKey());
            if (current == null) {
                it.remove();
                continue;
            }
            Map<String, Entry> flags = env.getValue().flags;
            flags.keySet().retainAll(current);
            if (flags.size() > MAX_FLAGS_PER_ENVIRONMENT) {
                List<Map.Entry<String, Entry>> oldestFirst = new ArrayList<>(flags.entrySet());
                oldestFirst.sort(Comparator.comparing((Map.Entry<String, Entry> f) -> f.getValue().evaluated)
                        .thenComparing(Map.Entry::getKey));
                oldestFirst.subList(0, flags.size() - MAX_FLAGS_PER_ENVIRONMENT).stream().map(Map.Entry::getKey).toList()
                        .forEach(flags::remove);
            }
            Map<String, Unknown> unknown = env.getValue().unknown;
            unknown.keySet().removeIf(current::contains);
            unknown.values().removeIf(u -> u.asked.isBefore(unknownCutoff));
        }
    }

    private static EnvironmentUsage view(Environment env) {
        Map<String, FlagUse> flags = new HashMap<>();
        env.flags.forEach((key, e) -> flags.put(key, new FlagUse(e.evaluated, e.servedTrue, e.servedFalse,
                e.applications.mostRecentFirst())));
        Map<String, UnknownFlagUse> unknown = new HashMap<>();
        env.unknown.forEach((key, u) -> unknown.put(key, new UnknownFlagUse(u.asked, u.applications.mostRecentFirst())));
        return new EnvironmentUsage(env.since, flags, unknown);
    }
}
