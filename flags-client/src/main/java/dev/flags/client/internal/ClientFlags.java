package dev.flags.client.internal;

import dev.flags.client.Flags;
import dev.flags.client.Freshness;
import dev.flags.client.Health;
import dev.flags.client.Source;
import java.io.IOException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe. The one implementation of {@link Flags}: a {@link FlagStore} fed either by a
 * {@link Syncer} (with an optional {@link CacheFile}) or by an {@link OfflineFile}.
 *
 * <p>Made only by {@code Flags.builder().build()}; applications never name this class.
 */
public final class ClientFlags extends StoreBackedFlags {

    private static final Logger LOG = LoggerFactory.getLogger(ClientFlags.class);

    private final Readiness readiness;
    private final Syncer syncer;
    private final OfflineFile offline;
    private final String offlineLabel;
    private final AtomicBoolean closed = new AtomicBoolean();

    private ClientFlags(FlagStore store, Readiness readiness, Syncer syncer, OfflineFile offline, String offlineLabel) {
        super(store);
        this.readiness = readiness;
        this.syncer = syncer;
        this.offline = offline;
        this.offlineLabel = offlineLabel;
    }

    /**
     * Starts the SDK: reads the local file (cache or offline), then syncs in the background. Never
     * waits for the network.
     *
     * @param settings checked settings
     * @return the running SDK
     */
    public static Flags start(Settings settings) {
        Objects.requireNonNull(settings, "settings");
        Readiness readiness = new Readiness();
        if (settings.offlineFile() != null) {
            OfflineFile file = new OfflineFile(settings.offlineFile());
            FlagState initial = file.load(settings.watchOfflineFile());
            FlagStore store = new FlagStore(initial, settings.listenerExecutor(), true,
                    "offline file " + settings.offlineFile());
            if (initial.source() == Source.OFFLINE_FILE) {
                readiness.ready();
            } else if (!settings.watchOfflineFile()) {
                readiness.refused(true); // nothing will read the file again: awaitReady is false at once, not at its timeout
            }
            ClientFlags flags = new ClientFlags(store, readiness, null, file, "offline file " + settings.offlineFile());
            store.describeStatusWith(flags::freshness); // status listeners hear the file's problem, as freshness() says it
            if (settings.watchOfflineFile()) {
                try {
                    file.watch(store, readiness);
                } catch (IOException | RuntimeException e) {
                    LOG.warn("flags: cannot watch offline file {}; its changes will not be seen: {}",
                            settings.offlineFile(), e.toString());
                    if (initial.source() != Source.OFFLINE_FILE) {
                        readiness.refused(true); // as unwatched: nothing will read it again (QA64 F9)
                    }
                }
            }
            return flags;
        }

        CacheFile cache = null;
        FlagState initial = FlagState.none(Syncer.NOT_ANSWERED_YET + ", and no cache file is set");
        if (settings.cacheFile() != null) {
            cache = new CacheFile(settings.cacheFile(), settings.environment(), settings.clock(), settings.sdkToken());
            CacheFile.Read read = cache.read();
            if (read.flags() != null) {
                // Its age, in freshness and health: a copy from five minutes ago and one from five months ago differ.
                // Flags the file does not give answer the caller's default, reason ERROR, as the live stream's do.
                initial = new FlagState(read.flags(), read.unreadable(), Source.CACHE_FILE, "serving cache file "
                        + settings.cacheFile() + (read.writtenAt() != null ? " written at " + read.writtenAt() : ""),
                        read.stateTag());
                LOG.debug("flags: serving cached version {} ({} flags, written at {}) from {} until the server answers",
                        read.flags().version(), read.flags().size(), read.writtenAt(), settings.cacheFile());
            } else if (read.problem() != null) {
                LOG.warn("flags: ignoring cache file {}: it {}", settings.cacheFile(), read.problem());
                initial = FlagState.none(Syncer.NOT_ANSWERED_YET + ", and cache file "
                        + settings.cacheFile() + " was ignored: it " + read.problem());
            } else {
                initial = FlagState.none(Syncer.NOT_ANSWERED_YET + ", and cache file "
                        + settings.cacheFile() + " does not exist yet");
            }
        }
        FlagStore store = new FlagStore(initial, settings.listenerExecutor(), true,
                "environment \"" + settings.environment() + "\"");
        Syncer syncer;
        try {
            syncer = new Syncer(settings, store, cache, readiness);
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
        ClientFlags flags = new ClientFlags(store, readiness, syncer, null, null);
        store.describeStatusWith(flags::freshness); // before the first message can change the source
        syncer.start();
        return flags;
    }

    @Override
    public boolean awaitReady(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        return readiness.await(timeout);
    }

    @Override
    public Freshness freshness() {
        // Under the publish lock: the stream's status and the state change together (a stream that fails makes
        // live flags stale), and a report of live flags over a stream that is down would be neither.
        return store.readTogether(() -> freshness(store.state()));
    }

    private Freshness freshness(FlagState s) {
        if (syncer == null) {
            String fileProblem = offline == null ? null : offline.problem();
            // Closed, an offline Flags says so as one with a server does (a watched file is no longer read).
            return new Freshness(s.version(), s.source(), false, null, closed.get() && offline != null ? "closed"
                    : fileProblem != null ? fileProblem : s.note());
        }
        if (closed.get()) {
            return new Freshness(s.version(), s.source(), false, syncer.lastHeard(), "closed", false);
        }
        Syncer.SyncStatus sync = syncer.status();
        String problem = sync.problem();
        if (problem == null && s.source() == Source.DEFAULTS) {
            problem = s.note();
        } else if (s.source() == Source.DEFAULTS && s.note() != null && s.note().contains(problem + ")")) {
            // Without flags the note also says why the cache file could not stand in: kept beside the server's failure.
            String clause = s.note().substring(s.note().indexOf(problem + ")") + problem.length() + 1);
            if (clause.contains(" was ignored")) {
                problem = problem + clause;
            }
        } else if (s.source() == Source.CACHE_FILE && s.note() != null) {
            problem = problem == null ? s.note() : problem + "; " + s.note();
        }
        return new Freshness(s.version(), s.source(), sync.streamUp(), syncer.lastHeard(), problem, sync.refused(),
                syncer.cacheProblem());
    }

    @Override
    public Health health() {
        if (closed.get()) {
            return new Health(Health.Status.DOWN, "closed");
        }
        Freshness f = freshness();
        String why = f.problem().map(p -> " (" + p + ")").orElse("");
        if (f.cacheFileProblem().isPresent() && (f.source() == Source.LIVE || f.source() == Source.STALE)) {
            // Served, and current if live, but without the fail-static copy a restart during an outage needs.
            String served = f.source() == Source.LIVE ? "live: version " + f.version() + ", stream up"
                    : "stale: version " + f.version() + " from memory, the stream to the flag server is down" + why;
            return new Health(Health.Status.DEGRADED, served + "; " + f.cacheFileProblem().get()
                    + " (a restart while the flag server is unreachable would start without flags)");
        }
        return switch (f.source()) {
            case LIVE -> new Health(Health.Status.UP, "live: version " + f.version() + ", stream up");
            case OFFLINE_FILE -> new Health(f.problem().isPresent() ? Health.Status.DEGRADED : Health.Status.UP,
                    offlineLabel + ": version " + f.version() + why);
            case IN_MEMORY -> new Health(Health.Status.UP, "in memory: version " + f.version());
            case STALE -> new Health(Health.Status.DEGRADED, "stale: version " + f.version()
                    + " from memory, the stream to the flag server is " + (f.streamUp() ? "up" : "down") + why
                    + f.lastHeardFromServer().map(t -> "; last heard from the server at " + t).orElse(""));
            case CACHE_FILE -> new Health(Health.Status.DEGRADED, "cache file: version " + f.version()
                    + (f.streamUp() ? ", the stream to the flag server is up"
                            : f.refused() ? ", the flag server refuses this SDK" : ", the flag server has not been reached yet")
                    + why);
            case DEFAULTS -> new Health(Health.Status.DOWN, "no flags: every flag is its default" + why);
        };
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            if (syncer != null && !store.heldByCurrentThread()) {
                syncer.awaitReleased(); // a close a listener left to the background thread is done when this returns
            }
            return;
        }
        readiness.close();
        boolean feederLockHeld = syncer != null ? syncer.heldByCurrentThread() : offline != null && Thread.holdsLock(offline);
        if (store.heldByCurrentThread() && !feederLockHeld) {
            // A listener run directly under the store's lock, not from the stream or the file: a status listener's first
            // call, on the thread that registers it, or its news of the cache file. The rest takes the stream's or the
            // file's lock, whose holder may be waiting for the store's lock to publish (QA64 F1): it runs on the
            // background thread once that listener returned. No listener hears of anything from now on.
            store.close();
            try {
                Background.executor().execute(this::release);
                return;
            } catch (RejectedExecutionException e) {
                // the background thread is gone (the JVM is stopping): released here
            }
        }
        release();
    }

    /** The rest of a close: the stream or the file watcher, then the store. */
    private void release() {
        if (syncer != null) {
            syncer.close();
        }
        if (offline != null) {
            offline.close();
        }
        store.close();
        FlagState last = store.state();
        if (syncer != null && last.source() == Source.LIVE) {
            // Nothing updates this copy any more: answers from now on say so. Published after the
            // store closed, so that no listener hears of a Flags it was told is gone.
            store.publish(last.withSource(Source.STALE));
        }
    }

    @Override
    public String toString() {
        FlagState s = store.state();
        return "Flags{source=" + s.source() + ", version=" + s.version() + ", flags=" + s.flags().size() + "}";
    }
}
