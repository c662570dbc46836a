package dev.flags.server.usage;

import java.time.Clock;
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

        Environment(Instant since) {
            this.since = since;
        }
    }

    /** Not thread-safe (guarded by the store). One flag's usage; applications in the order they last reported it. */
    private static final class Entry {
        Instant evaluated;
        Instant servedTrue;
        Instant servedFalse;
        final LinkedHashMap<Application, Instant> applications = new LinkedHashMap<>();

        void reportedBy(Application app, Instant at) {
            applications.remove(app); // re-inserted last: the most recent
            applications.put(app, at);
            if (applications.size() > MAX_APPLICATIONS) {
                Iterator<Application> oldest = applications.keySet().iterator();
                oldest.next();
                oldest.remove();
            }
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
            List<ApplicationUse> apps = use.applications(); // most recent first: put back oldest first, ties in their order
            for (int i = apps.size() - 1; i >= 0; i--) {
                e.reportedBy(new Application(apps.get(i).name(), apps.get(i).sdk()), apps.get(i).lastReportAt());
            }
            env.flags.put(flag, e);
        });
        environments.put(key, env);
    }

    /**
     * Records one report, at the clock's time (to the second). The caller has checked the report and kept
     * only the marks of flags the environment has: every mark given is recorded.
     *
     * @param environment the environment's key
     * @param sdk the SDK's name and version, as it gave it (may be empty)
     * @param application the application's name, or empty for {@link ApplicationUse#UNNAMED}
     * @param marks the flags it evaluated and the answers they gave; may be empty (the environment's
     *              {@code since} is set all the same: from then on, the server hears from its SDKs)
     * @throws NullPointerException if an argument is null
     */
    public synchronized void record(String environment, String sdk, String application, Collection<Mark> marks) {
        Objects.requireNonNull(environment, "environment");
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
            e.reportedBy(app, now);
        }
        changes++;
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
     * {@link #MAX_FLAGS_PER_ENVIRONMENT} keys left, the least recently evaluated ones.
     *
     * @param currentFlags the keys of an environment's current flags, or null if the environment is gone or archived
     */
    public synchronized void retain(Function<String, Set<String>> currentFlags) {
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
        }
    }

    private static EnvironmentUsage view(Environment env) {
        Map<String, FlagUse> flags = new HashMap<>();
        env.flags.forEach((key, e) -> {
            List<ApplicationUse> apps = new ArrayList<>(e.applications.size());
            e.applications.forEach((app, at) -> apps.add(0, new ApplicationUse(app.name(), app.sdk(), at))); // most recent first
            flags.put(key, new FlagUse(e.evaluated, e.servedTrue, e.servedFalse, apps));
        });
        return new EnvironmentUsage(env.since, flags);
    }
}
