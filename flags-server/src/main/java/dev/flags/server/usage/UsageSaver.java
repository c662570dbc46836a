package dev.flags.server.usage;

import dev.flags.server.Timers;
import java.io.IOException;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe. Writes the usage store to {@link UsageFile} from a thread of its own ({@code flags-usage}),
 * once per report interval at most and only when a report was recorded since the last write, and once
 * more at {@link #close()}. Before each write it bounds the store ({@link UsageStore#retain}): usage of
 * environments and flags that are gone is dropped. A crash loses what was recorded since the last write:
 * at most one interval.
 */
public final class UsageSaver implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(UsageSaver.class);

    private final UsageStore store;
    private final UsageFile file;
    private final Function<String, Set<String>> currentFlags;
    private final Duration interval;
    private final ScheduledThreadPoolExecutor timer;
    /** Guarded by this: the store's {@link UsageStore#changes()} at the last write. */
    private long saved;
    private boolean failing;
    private boolean closed;

    /**
     * Makes the saver; nothing is written until {@link #start()}, or {@link #saveIfChanged()} is called.
     *
     * @param store the usage
     * @param file where it goes
     * @param currentFlags the keys of an environment's current flags, or null if it is gone or archived
     * @param interval the report interval: how often at most the file is written
     */
    public UsageSaver(UsageStore store, UsageFile file, Function<String, Set<String>> currentFlags, Duration interval) {
        this.store = Objects.requireNonNull(store, "store");
        this.file = Objects.requireNonNull(file, "file");
        this.currentFlags = Objects.requireNonNull(currentFlags, "currentFlags");
        this.interval = Objects.requireNonNull(interval, "interval");
        this.saved = store.changes();
        this.timer = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "flags-usage");
            t.setDaemon(true);
            return t;
        });
        timer.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    }

    /** Starts writing once per interval. */
    public void start() {
        long millis = interval.toMillis();
        timer.scheduleWithFixedDelay(this::saveIfChanged, millis, millis, TimeUnit.MILLISECONDS);
    }

    /**
     * Bounds the store and writes the file, if a report was recorded since the last write. A write that
     * fails is logged (a WARN, once until one succeeds) and tried again at the next interval.
     *
     * @return whether the file was written
     */
    public synchronized boolean saveIfChanged() {
        long changes = store.changes();
        if (changes == saved) {
            return false;
        }
        store.retain(currentFlags);
        try {
            if (!file.write(store.snapshot())) {
                return false;
            }
            saved = changes;
            if (failing) {
                LOG.info("usage: {} written again", file.path().toAbsolutePath());
                failing = false;
            }
            return true;
        } catch (IOException | RuntimeException e) {
            if (!failing) {
                LOG.warn("usage: cannot write {} ({}); trying again every {} (usage is kept in memory meanwhile)",
                        file.path().toAbsolutePath(), e.toString(), interval);
                failing = true;
            }
            return false;
        }
    }

    /** Stops the timer and writes what changed since the last write. Idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        Timers.stop(timer);
        saveIfChanged();
    }

    /** Stops the timer without writing: for a server that failed to start. */
    public void abandon() {
        synchronized (this) {
            closed = true;
        }
        timer.shutdownNow();
    }
}
