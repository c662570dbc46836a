package dev.flags.client.internal;

import dev.flags.client.Source;
import dev.flags.core.FlagSet;
import java.io.IOException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe. Writes one {@code Flags}' cache file, on a thread of its own ({@code flags-cache-N}), never on the
 * {@link Background} thread that keeps every {@code Flags}' stream alive.
 *
 * <p>Why a thread of its own. A write forces the file to disk and renames it; on a file system that stops answering
 * (an NFS mount whose server is gone, a frozen or failing disk) those calls do not return, for as long as it hangs,
 * and nothing can cut them short. On the shared background thread such a write stopped every {@code Flags} of the JVM
 * from following its server: no watchdog noticed a silent stream, no reconnect fired, no snapshot was applied, while
 * {@code isEnabled} kept answering from an ever older copy (QA97). Here it holds up this file's writes and nothing else.
 *
 * <p>Why one thread per {@code Flags} rather than one for the JVM: a hung mount under one {@code Flags}' cache file must
 * not stop another's, on another disk, from being written; and a thread per {@code Flags} costs little, since it runs
 * only while there is something to write: it starts at a write and ends after {@value #IDLE_SECONDS} s with nothing to
 * do, so an application with an environment that rarely changes has none most of the time. A hung file system costs
 * at most one stuck thread per {@code Flags} that writes to it (an application normally has one).
 *
 * <p>Coalescing. A write is queued at most once at a time, and takes the newest state when it starts: a write in
 * progress and any number of changes after it make one more write, of the newest state, not a queue of them. A write
 * that hangs therefore holds one state and one queued task, never a growing backlog.
 *
 * <p>Visibility. A write that has not returned after {@value #SLOW_WRITE_MILLIS} ms is a WARN (once for that write) and
 * a {@linkplain #problem() problem} that {@code freshness().cacheFileProblem()} and {@code health()} report and status
 * listeners hear of, until a write returns. {@link #close()} waits for the last write {@value #CLOSE_WAIT_MILLIS} ms at
 * most; a write that hangs beyond that goes on, on its daemon thread, and ends when the file system answers.
 */
final class CacheWriter {

    private static final Logger LOG = LoggerFactory.getLogger(CacheWriter.class);
    /** How long a write may take before it is reported: a working disk writes even the largest environment in less. */
    static final long SLOW_WRITE_MILLIS = 5_000;
    /** How long {@link #close()} waits for the last write. */
    static final long CLOSE_WAIT_MILLIS = 2_000;
    /** How long the writer's thread outlives its last write. */
    static final int IDLE_SECONDS = 5;

    private final CacheFile file;
    private final FlagStore store;
    private final ScheduledExecutorService timer;
    private final LongSupplier nanoTime;
    private final ThreadPoolExecutor executor;
    private final AtomicBoolean queued = new AtomicBoolean();
    /** The thread that runs the writes now, or null: a close from it must not wait for itself. */
    private volatile Thread writerThread;

    /** The flags last written, or null (the writer's thread only): a snapshot of the same version may hold others (QA64 F5). */
    private FlagSet written;
    /** Whether a failed write has been logged since a write last succeeded (the writer's thread only). */
    private boolean failureLogged;
    /** The number of writes started (the writer's thread only). */
    private long writes;

    // Guarded by this; held only briefly, never while writing.
    /** The write in progress (its number), or 0. */
    private long writing;
    /** When the write in progress started, by {@code nanoTime}. */
    private long writingSince;
    /** Whether the write in progress has been reported as not returning. */
    private boolean slow;
    /** Why the file could not be written the last time, or that a write has not returned; null if it was written. */
    private volatile String problem;

    /**
     * @param file the cache file
     * @param store the flags whose newest state is written, and whose status listeners hear of problems
     * @param timer where the check for a write that does not return runs (the background thread: it only looks)
     * @param nanoTime the time, for how long a write has taken
     */
    CacheWriter(CacheFile file, FlagStore store, ScheduledExecutorService timer, LongSupplier nanoTime) {
        this.file = file;
        this.store = store;
        this.timer = timer;
        this.nanoTime = nanoTime;
        // One thread, one queued task at most (the flag below keeps it so; the bound says it).
        this.executor = new ThreadPoolExecutor(1, 1, IDLE_SECONDS, TimeUnit.SECONDS, new ArrayBlockingQueue<>(1),
                Threads.daemon("flags-cache"));
        this.executor.allowCoreThreadTimeOut(true);
    }

    /** @return why the cache file could not be written the last time, or that a write has not returned; null if fine */
    String problem() {
        return problem;
    }

    /** Queues a write of the newest state, unless one is queued already; returns at once. */
    void queue() {
        if (!queued.compareAndSet(false, true)) {
            return;
        }
        try {
            executor.execute(this::write);
        } catch (RejectedExecutionException e) {
            queued.set(false); // closed
        }
    }

    private void write() {
        writerThread = Thread.currentThread();
        try {
            writeNewest();
        } finally {
            writerThread = null;
        }
    }

    private void writeNewest() {
        queued.set(false); // a change from now on queues one more write, of what is newest then
        FlagState s = store.state();
        // The same flags, not the same version: a server restored from another journal may send another state at it.
        if ((s.source() != Source.LIVE && s.source() != Source.STALE) || s.flags() == written) {
            return;
        }
        long number = ++writes;
        long started = nanoTime.getAsLong();
        synchronized (this) {
            writing = number;
            writingSince = started;
        }
        ScheduledFuture<?> check = null;
        try {
            check = timer.schedule(() -> slow(number, started), SLOW_WRITE_MILLIS, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            // no background thread (the JVM is stopping): the write is not watched
        }
        Exception failure = null;
        try {
            file.write(s.flags(), s.stateTag(), s.unreadable().keySet());
            written = s.flags();
        } catch (IOException | RuntimeException e) {
            failure = e;
        } finally {
            if (check != null) {
                check.cancel(false);
            }
        }
        String before;
        String now = failure == null ? null : "cannot write the cache file " + file.path() + ": " + CacheFile.describe(failure);
        boolean wasSlow;
        synchronized (this) {
            writing = 0;
            wasSlow = slow;
            slow = false;
            before = problem;
            problem = now;
        }
        if (failure == null) {
            failureLogged = false;
            if (before != null) {
                LOG.info("flags: cache file {} written again{}", file.path(), wasSlow
                        ? " (that write took " + Syncer.human(Duration.ofNanos(nanoTime.getAsLong() - started)) + ")" : "");
            }
        } else if (!failureLogged) {
            failureLogged = true;
            LOG.warn("flags: cannot write cache file {} (flags still work; a restart while the server is"
                    + " unreachable would not have them; tried again at each change and each heartbeat): {}", file.path(),
                    failure.toString());
        }
        if (!Objects.equals(before, now)) {
            store.statusChanged(); // outside every lock: a status listener run here may close the SDK (QA64 F1)
        }
    }

    /** On the timer: the write {@code number}, started at {@code started}, has not returned in {@link #SLOW_WRITE_MILLIS}. */
    private void slow(long number, long started) {
        String before;
        String now;
        synchronized (this) {
            if (writing != number) {
                return; // it returned meanwhile
            }
            slow = true;
            before = problem;
            now = "cannot write the cache file " + file.path() + ": a write has not returned for "
                    + Syncer.human(Duration.ofMillis(SLOW_WRITE_MILLIS)) + " (a hung file system?)";
            problem = now;
        }
        if (before == null) {
            LOG.warn("flags: writing cache file {} has not returned for {} (a hung or failing file system?). The flags"
                    + " still work and follow the server, but the file keeps what it held; the newest flags are written once"
                    + " the file system answers", file.path(), Syncer.human(Duration.ofNanos(nanoTime.getAsLong() - started)));
        }
        if (!now.equals(before)) {
            store.statusChanged();
        }
    }

    /**
     * Writes the newest state one last time, if it is not written yet, and waits for it {@value #CLOSE_WAIT_MILLIS} ms at
     * most: a write that hangs goes on, on its daemon thread, until the file system answers. Idempotent.
     */
    void close() {
        queue(); // the last change, if its queued write has not happened yet
        executor.shutdown(); // the queued write still runs; the thread ends after it
        if (Thread.currentThread() == writerThread) {
            return; // a status listener, run by a write, that closes the SDK: the write is this very call's caller
        }
        boolean interrupted = Thread.interrupted();
        try {
            if (!executor.awaitTermination(CLOSE_WAIT_MILLIS, TimeUnit.MILLISECONDS)) {
                long since;
                synchronized (this) {
                    since = writing != 0 ? writingSince : nanoTime.getAsLong() - TimeUnit.MILLISECONDS.toNanos(CLOSE_WAIT_MILLIS);
                }
                LOG.warn("flags: closed without waiting for the write of cache file {}, which has not returned for {}"
                        + " (a hung file system?); it goes on in the background and ends when the file system answers",
                        file.path(), Syncer.human(Duration.ofNanos(nanoTime.getAsLong() - since)));
            }
        } catch (InterruptedException e) {
            interrupted = true;
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
