package dev.flags.server.usage;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
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
 * <p>Memory is bounded for the whole server, not only per environment (the per-flag and per-environment
 * bounds multiply by the environments): at most {@link #MAX_APPLICATION_ENTRIES} application entries (an
 * application listed for a flag or an unknown key) in all, and at most {@link #MAX_DISTINCT_APPLICATIONS}
 * distinct applications, of which one environment may list at most {@link #MAX_APPLICATIONS_PER_ENVIRONMENT}. Over
 * the first, the entries of the key (of any environment) reported least recently go first, the oldest of them first;
 * the key keeps its times. A report from an application beyond the second (or beyond its environment's share)
 * counts for its flags' times but is not listed, until an application is no longer listed anywhere (there). Each
 * application is one object, and so is each receive time, however many entries share them.
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

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(UsageStore.class);

    /** The most applications kept per flag; the one that reported it least recently goes first. */
    public static final int MAX_APPLICATIONS = 20;
    /** The most flag keys kept per environment when usage is bounded ({@link #retain}). */
    public static final int MAX_FLAGS_PER_ENVIRONMENT = 10_000;
    /** The most unknown keys kept per environment, at all times; the one asked for least recently goes first. */
    public static final int MAX_UNKNOWN_FLAGS_PER_ENVIRONMENT = 1_000;
    /** How long an unknown key not asked for again is kept ({@link #retain}). */
    public static final Duration UNKNOWN_FLAG_RETENTION = Duration.ofDays(30);
    /**
     * The most application entries kept in all, at all times: one environment's worth at the bounds above
     * (10,000 flags of 20 applications each), which no fleet of applications reaches, shared by every
     * environment. What it costs at most (compressed references): an entry is two array slots and, if no other
     * entry was reported in its second, its own Instant, 8 + 24 bytes, so 6.4 MB; plus the {@link
     * #MAX_DISTINCT_APPLICATIONS} applications, 5.4 MB with names and SDKs of 100 characters outside Latin-1;
     * plus the keys (about 350 bytes each with a 128-character key, 3.9 MB per environment at 11,000 keys,
     * which its flags in the journal bound). Two environments at every bound: about 20 MB, within 32 MB; each further
     * environment at its bound adds its keys, 3.9 MB (the number of environments is not bounded here). Before
     * this bound and the shared objects, those two environments (400,000 entries) took about 104 MB.
     */
    public static final int MAX_APPLICATION_ENTRIES = 200_000;
    /**
     * The most distinct applications (name and SDK) kept in all: a fleet has a few dozen; this bound is for
     * the one that sends a new name in every report, whose names would otherwise cost up to 500 bytes an entry.
     */
    public static final int MAX_DISTINCT_APPLICATIONS = 10_000;
    /**
     * The most distinct applications one environment may list, a tenth of {@link #MAX_DISTINCT_APPLICATIONS}: a fleet
     * has a few dozen; the share keeps one environment's sdk token, reporting under ever new names, from taking the whole
     * server's bound, and with it the names of every other environment's new applications (QA48a F3).
     */
    public static final int MAX_APPLICATIONS_PER_ENVIRONMENT = MAX_DISTINCT_APPLICATIONS / 10;

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
        final String key;
        final Instant since;
        final Map<String, Entry> flags = new HashMap<>();
        /** In the order they were last asked for, least recent first: what goes first over the bound. */
        final LinkedHashMap<String, Unknown> unknown = new LinkedHashMap<>();
        /** The applications its keys list, each with how many entries: its share of the distinct applications. */
        final Map<Application, Integer> listed = new HashMap<>();
        /** Whether its share was said in the log since it was last under it. */
        boolean shareLogged;

        Environment(String key, Instant since) {
            this.key = key;
            this.since = since;
        }
    }

    /** Not thread-safe (guarded by the store). One flag's usage. */
    private static final class Entry {
        Instant evaluated;
        Instant servedTrue;
        Instant servedFalse;
        final Applications applications;

        Entry(Environment env) {
            applications = new Applications(env);
        }
    }

    /** Not thread-safe (guarded by the store). One unknown key's asks. */
    private static final class Unknown {
        Instant asked;
        final Applications applications;

        Unknown(Environment env) {
            applications = new Applications(env);
        }
    }

    /**
     * Not thread-safe (guarded by the store). An application as the reports name it: one per name and SDK, so
     * that two SDKs of one name show apart. The store holds one object per name and SDK ({@link #applications}),
     * which every entry of it shares. Equal by name and SDK; its count is not part of it.
     */
    private static final class Application {
        final String name;
        final String sdk;
        /** How many keys list it: at 0 it is forgotten. */
        int listedBy;

        Application(String name, String sdk) {
            this.name = name;
            this.sdk = sdk;
        }

        @Override
        public boolean equals(Object o) {
            return o == this || o instanceof Application a && a.name.equals(name) && a.sdk.equals(sdk);
        }

        @Override
        public int hashCode() {
            return name.hashCode() * 31 + sdk.hashCode();
        }
    }

    /**
     * Not thread-safe (guarded by the store). The applications that reported a key, with when each last did,
     * oldest first, at most {@link #MAX_APPLICATIONS}: two arrays, the smallest form of a short list (an entry
     * is two references). The store does the counting ({@link #reportedBy}, {@link #dropOldest}).
     */
    private static final class Applications {
        /** The environment of the key: its share of the applications counts this list's. */
        final Environment owner;
        Application[] apps = new Application[2];
        Instant[] times = new Instant[2];
        int size;

        Applications(Environment owner) {
            this.owner = owner;
        }

        int indexOf(Application app) {
            for (int i = 0; i < size; i++) {
                if (apps[i].equals(app)) {
                    return i;
                }
            }
            return -1;
        }

        void removeAt(int i) {
            System.arraycopy(apps, i + 1, apps, i, size - i - 1);
            System.arraycopy(times, i + 1, times, i, size - i - 1);
            size--;
            apps[size] = null;
            times[size] = null;
        }

        void append(Application app, Instant at) {
            if (size == apps.length) {
                int capacity = Math.min(MAX_APPLICATIONS, size * 2);
                apps = Arrays.copyOf(apps, capacity);
                times = Arrays.copyOf(times, capacity);
            }
            apps[size] = app;
            times[size] = at;
            size++;
        }

        /** As a view lists them: most recent first. */
        List<ApplicationUse> mostRecentFirst() {
            List<ApplicationUse> out = new ArrayList<>(size);
            for (int i = size - 1; i >= 0; i--) {
                out.add(new ApplicationUse(apps[i].name, apps[i].sdk, times[i]));
            }
            return out;
        }
    }

    private final Clock clock;
    private final int maxApplicationEntries;
    private final int maxDistinctApplications;
    private final int maxApplicationsPerEnvironment;
    /** Guarded by this. */
    private final Map<String, Environment> environments = new HashMap<>();
    /** Guarded by this: each application listed anywhere, once (the key and the value are the same object). */
    private final Map<Application, Application> applications = new HashMap<>();
    /** Guarded by this: reports whose application was not listed, the distinct applications being at their bound. */
    private long unlistedReports;
    /** Guarded by this: whether the bound was said in the log since the applications were last under it. */
    private boolean boundLogged;
    /**
     * Guarded by this: the keys' application lists that are not empty, in the order their keys were last
     * reported, least recent first: where entries go first over {@link #maxApplicationEntries}.
     */
    private final LinkedHashSet<Applications> recency = new LinkedHashSet<>();
    /** Guarded by this: the entries of all the lists. */
    private int applicationEntries;
    /** Guarded by this: the last receive time, so that the reports of one second share it. */
    private Instant lastReceived;
    /** Guarded by this: counts reports recorded, so that a writer can tell whether anything changed. */
    private long changes;

    /**
     * @param clock the server's clock: the receive time of each report
     * @param initial the usage read at start (from {@link UsageFile#read()}), or an empty map; bounded as
     *                recording bounds it (the most recently reported entries are kept)
     * @throws NullPointerException if an argument is null
     */
    public UsageStore(Clock clock, Map<String, EnvironmentUsage> initial) {
        this(clock, initial, MAX_APPLICATION_ENTRIES, MAX_DISTINCT_APPLICATIONS, MAX_APPLICATIONS_PER_ENVIRONMENT);
    }

    /** With other server-wide bounds, and no environment's share below them: for tests that reach them. */
    UsageStore(Clock clock, Map<String, EnvironmentUsage> initial, int maxApplicationEntries, int maxDistinctApplications) {
        this(clock, initial, maxApplicationEntries, maxDistinctApplications, maxDistinctApplications);
    }

    /** With other bounds: for tests that reach them with a few reports. */
    UsageStore(Clock clock, Map<String, EnvironmentUsage> initial, int maxApplicationEntries, int maxDistinctApplications,
               int maxApplicationsPerEnvironment) {
        this.clock = Objects.requireNonNull(clock, "clock");
        this.maxApplicationEntries = maxApplicationEntries;
        this.maxDistinctApplications = maxDistinctApplications;
        this.maxApplicationsPerEnvironment = maxApplicationsPerEnvironment;
        load(initial);
    }

    /** A key read from the file, its list here and its applications there (most recent first). */
    private record Loaded(Applications list, List<ApplicationUse> mostRecentFirst, Instant lastReported) {
    }

    /**
     * Loads what was read: each environment's keys (its unknown keys within their bound), then their
     * applications, the most recently reported keys first until {@link #maxApplicationEntries}, as if they had
     * been recorded in that order. Equal times become one object, as recording makes them.
     */
    private void load(Map<String, EnvironmentUsage> initial) {
        Map<Instant, Instant> instants = new HashMap<>();
        Function<Instant, Instant> shared = at -> at == null ? null : instants.computeIfAbsent(at, a -> a);
        List<Loaded> loaded = new ArrayList<>();
        new TreeMap<>(initial).forEach((key, usage) -> {
            Environment env = new Environment(key, shared.apply(usage.since()));
            new TreeMap<>(usage.flags()).forEach((flag, use) -> {
                Entry e = new Entry(env);
                e.evaluated = shared.apply(use.lastEvaluatedAt());
                e.servedTrue = shared.apply(use.lastServedTrueAt());
                e.servedFalse = shared.apply(use.lastServedFalseAt());
                env.flags.put(flag, e);
                loaded(loaded, e.applications, use.applications());
            });
            // Least recently asked first, as recording leaves them (ties by key: the file does not keep their order).
            List<Map.Entry<String, UnknownFlagUse>> unknown = usage.unknownFlags().entrySet().stream()
                    .sorted(Map.Entry.<String, UnknownFlagUse>comparingByValue(Comparator.comparing(UnknownFlagUse::lastAskedAt))
                            .thenComparing(Map.Entry.comparingByKey()))
                    .toList();
            for (Map.Entry<String, UnknownFlagUse> u : unknown.subList(Math.max(0, unknown.size() - MAX_UNKNOWN_FLAGS_PER_ENVIRONMENT),
                    unknown.size())) {
                Unknown kept = new Unknown(env);
                kept.asked = shared.apply(u.getValue().lastAskedAt());
                env.unknown.put(u.getKey(), kept);
                loaded(loaded, kept.applications, u.getValue().applications());
            }
            environments.put(key, env);
        });
        // Most recently reported first (a stable sort: ties in the order above), so that the bound keeps those.
        loaded.sort(Comparator.comparing(Loaded::lastReported).reversed());
        for (Loaded key : loaded) {
            List<ApplicationUse> apps = key.mostRecentFirst();
            int kept = Math.min(Math.min(apps.size(), MAX_APPLICATIONS), maxApplicationEntries - applicationEntries);
            // The most recent first, so that the environment's share keeps those; appended oldest first, as recording does.
            List<Integer> listed = new ArrayList<>(kept);
            List<Application> listedApps = new ArrayList<>(kept);
            for (int i = 0; i < kept; i++) {
                Application app = application(apps.get(i).name(), apps.get(i).sdk());
                if (app != null && !listedApps.contains(app) && withinShare(key.list().owner, app)) {
                    listed.add(i);
                    listedApps.add(app);
                    app.listedBy++;
                    key.list().owner.listed.merge(app, 1, Integer::sum);
                    applicationEntries++;
                } else if (app != null && app.listedBy == 0) {
                    applications.remove(app);
                }
            }
            for (int j = listed.size() - 1; j >= 0; j--) {
                key.list().append(listedApps.get(j), shared.apply(apps.get(listed.get(j)).lastReportAt()));
            }
        }
        for (int i = loaded.size() - 1; i >= 0; i--) { // least recently reported first
            if (loaded.get(i).list().size > 0) {
                recency.add(loaded.get(i).list());
            }
        }
    }

    private static void loaded(List<Loaded> loaded, Applications list, List<ApplicationUse> mostRecentFirst) {
        mostRecentFirst.stream().map(ApplicationUse::lastReportAt).max(Comparator.naturalOrder())
                .ifPresent(last -> loaded.add(new Loaded(list, mostRecentFirst, last)));
    }

    /**
     * Records one report that lists no unknown keys: {@link #record(String, String, String, Collection, Collection)}.
     *
     * @throws NullPointerException if an argument is null
     */
    public void record(String environment, String sdk, String application, Collection<Mark> marks) {
        record(environment, sdk, application, marks, List.of());
    }

    private static Instant later(Instant was, Instant now) {
        return was == null || now.isAfter(was) ? now : was;
    }

    /**
     * Records one report, at the clock's time (to the second). The caller has checked the report and kept
     * only the marks of flags the environment has, and only the unknown keys that are not flags of it: every
     * mark and key given is recorded (its application too, within the server-wide bounds: see the class).
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
        Objects.requireNonNull(sdk, "sdk");
        Application app = application(application.isEmpty() ? ApplicationUse.UNNAMED : application, sdk); // null: over the bound
        Instant now = clock.instant().truncatedTo(ChronoUnit.SECONDS);
        if (now.equals(lastReceived)) {
            now = lastReceived; // one object for every report of the second
        }
        lastReceived = now;
        Instant at = now;
        Environment env = environments.computeIfAbsent(environment, k -> new Environment(k, at));
        if (app != null && !withinShare(env, app)) {
            unlistedReports++;
            if (!env.shareLogged) {
                env.shareLogged = true;
                LOG.warn("usage: environment \"{}\" lists {} distinct applications (name and SDK), its share of the most this"
                        + " server keeps; a report of a new one counts for its flags' times but is not listed until one of"
                        + " them is listed nowhere in it any more (an sdk token of it reporting under ever new names?"
                        + " flags_usage_reports_unlisted_total counts them)", environment, env.listed.size());
            }
            if (app.listedBy == 0) {
                applications.remove(app);
            }
            app = null;
        }
        for (Mark mark : marks) {
            Entry e = env.flags.computeIfAbsent(mark.key(), k -> new Entry(env));
            // Never back in time: a clock stepped back (NTP) must not make a flag look evaluated longer ago than it was.
            e.evaluated = later(e.evaluated, now);
            if (mark.servedTrue()) {
                e.servedTrue = later(e.servedTrue, now);
            }
            if (mark.servedFalse()) {
                e.servedFalse = later(e.servedFalse, now);
            }
            reportedBy(e.applications, app, now);
        }
        for (String key : unknownFlags) {
            Unknown u = env.unknown.remove(key); // re-inserted last: the most recently asked
            if (u == null) {
                u = new Unknown(env);
            }
            u.asked = now;
            reportedBy(u.applications, app, now);
            env.unknown.put(key, u);
        }
        dropLeastRecentlyAsked(env);
        while (applicationEntries > maxApplicationEntries) {
            dropOldest(recency.iterator().next());
        }
        if (app != null && app.listedBy == 0) { // a report that listed nothing, or all of it dropped again
            applications.remove(app);
        }
        changes++;
    }

    /** The one object of this application; null if it is new and there are {@link #maxDistinctApplications} already. */
    private Application application(String name, String sdk) {
        Application app = new Application(name, sdk);
        Application known = applications.get(app);
        if (known != null) {
            return known;
        }
        if (applications.size() >= maxDistinctApplications) {
            unlistedReports++;
            if (!boundLogged) {
                boundLogged = true;
                LOG.warn("usage: {} distinct applications (name and SDK) are listed, the most this server keeps; a report of"
                        + " a new one counts for its flags' times but is not listed until an application is listed nowhere"
                        + " any more (an sdk token reporting under ever new names? flags_usage_reports_unlisted_total counts"
                        + " them)", maxDistinctApplications);
            }
            return null;
        }
        if (boundLogged && applications.size() < maxDistinctApplications - maxDistinctApplications / 10) {
            boundLogged = false; // well under it again: the next time it is reached is said again
        }
        applications.put(app, app);
        return app;
    }

    /** The application (if any) reported the key now: its entry goes last, the key goes last in {@link #recency}. */
    private void reportedBy(Applications list, Application app, Instant at) {
        if (app == null) {
            return;
        }
        int i = list.indexOf(app);
        if (i >= 0) {
            list.removeAt(i); // appended again: the most recent
        } else {
            if (list.size == MAX_APPLICATIONS) {
                dropOldest(list);
            }
            app.listedBy++;
            list.owner.listed.merge(app, 1, Integer::sum);
            applicationEntries++;
        }
        list.append(app, at);
        recency.remove(list);
        recency.add(list);
    }

    /**
     * A key asked for while it was no flag (archived, and restored since) is a flag's evaluations all the same: they
     * count for its last evaluation, or a flag code asked for a moment ago would look unused ({@code flags stale}, an
     * archive's {@code unusedFor}). Which answers it gave then is not known: the reports listed it as unknown.
     */
    private void askedOfAFlag(Environment env, String key, Unknown asked) {
        Entry e = env.flags.computeIfAbsent(key, k -> new Entry(env));
        e.evaluated = later(e.evaluated, asked.asked);
        for (int i = 0; i < asked.applications.size; i++) {
            Application app = asked.applications.apps[i];
            int had = e.applications.indexOf(app);
            if (had < 0 || e.applications.times[had].isBefore(asked.applications.times[i])) {
                reportedBy(e.applications, app, asked.applications.times[i]);
            }
        }
    }

    /** Drops a list's oldest entry; an application no key lists any more is forgotten. */
    private void dropOldest(Applications list) {
        Application app = list.apps[0];
        list.removeAt(0);
        applicationEntries--;
        if (--app.listedBy == 0) {
            applications.remove(app);
        }
        Environment env = list.owner;
        if (env.listed.merge(app, -1, Integer::sum) == 0) {
            env.listed.remove(app);
            if (env.shareLogged && env.listed.size() < maxApplicationsPerEnvironment - maxApplicationsPerEnvironment / 10) {
                env.shareLogged = false; // well under it again: the next time it is reached is said again
            }
        }
        if (list.size == 0) {
            recency.remove(list);
        }
    }

    /** @return whether the environment lists the application already, or has room in its share for one more */
    private boolean withinShare(Environment env, Application app) {
        return env.listed.containsKey(app) || env.listed.size() < maxApplicationsPerEnvironment;
    }

    /** Drops every entry of a key that is dropped. */
    private void forget(Applications list) {
        while (list.size > 0) {
            dropOldest(list);
        }
    }

    /** Bounds the unknown keys as they come, not only when the file is written: any application can send new ones. */
    private void dropLeastRecentlyAsked(Environment env) {
        Iterator<Unknown> oldest = env.unknown.values().iterator();
        for (int over = env.unknown.size() - MAX_UNKNOWN_FLAGS_PER_ENVIRONMENT; over > 0; over--) {
            forget(oldest.next().applications);
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

    /**
     * @return reports recorded since the server started whose application was not listed: the distinct applications
     *     were at {@link #MAX_DISTINCT_APPLICATIONS}, or the environment's at {@link #MAX_APPLICATIONS_PER_ENVIRONMENT}
     */
    public synchronized long unlistedReports() {
        return unlistedReports;
    }

    /**
     * @return a number that grows with every report recorded and every environment forgotten: equal numbers, equal usage
     *     (but for {@link #retain})
     */
    public synchronized long changes() {
        return changes;
    }

    /**
     * Forgets an environment's usage at once: it was archived (or is gone). Its record must start again if
     * it is restored: an archived environment records nothing, so a record that spanned the archive would
     * show flags that code evaluated meanwhile as unused.
     *
     * @param environment the environment's key
     */
    public synchronized void forgetEnvironment(String environment) {
        Environment env = environments.remove(environment);
        if (env != null) {
            env.flags.values().forEach(e -> forget(e.applications));
            env.unknown.values().forEach(u -> forget(u.applications));
            // A change to save: left in usage.json until some report came, it was read back at the next start and
            // spanned the archive once the environment was restored (QA69 F4)
            changes++;
        }
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
            Map.Entry<String, Environment> entry = it.next();
            Environment env = entry.getValue();
            Set<String> current = currentFlags.apply(entry.getKey());
            if (current == null) {
                env.flags.values().forEach(e -> forget(e.applications));
                env.unknown.values().forEach(u -> forget(u.applications));
                it.remove();
                continue;
            }
            Iterator<Map.Entry<String, Entry>> flags = env.flags.entrySet().iterator();
            while (flags.hasNext()) {
                Map.Entry<String, Entry> flag = flags.next();
                if (!current.contains(flag.getKey())) {
                    forget(flag.getValue().applications);
                    flags.remove();
                }
            }
            if (env.flags.size() > MAX_FLAGS_PER_ENVIRONMENT) {
                List<Map.Entry<String, Entry>> oldestFirst = new ArrayList<>(env.flags.entrySet());
                oldestFirst.sort(Comparator.comparing((Map.Entry<String, Entry> f) -> f.getValue().evaluated)
                        .thenComparing(Map.Entry::getKey));
                for (Map.Entry<String, Entry> dropped : oldestFirst.subList(0, env.flags.size() - MAX_FLAGS_PER_ENVIRONMENT)) {
                    forget(dropped.getValue().applications);
                    env.flags.remove(dropped.getKey());
                }
            }
            Iterator<Map.Entry<String, Unknown>> unknown = env.unknown.entrySet().iterator();
            while (unknown.hasNext()) {
                Map.Entry<String, Unknown> u = unknown.next();
                if (current.contains(u.getKey())) {
                    askedOfAFlag(env, u.getKey(), u.getValue());
                    forget(u.getValue().applications);
                    unknown.remove();
                } else if (u.getValue().asked.isBefore(unknownCutoff)) {
                    forget(u.getValue().applications);
                    unknown.remove();
                }
            }
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
