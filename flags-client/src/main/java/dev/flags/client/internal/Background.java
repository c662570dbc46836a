package dev.flags.client.internal;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe. The SDK's background thread, {@code flags-sync-N}, shared by every {@code Flags} of
 * the JVM: stream watchdogs, reconnect timers, decoding of full snapshots (and of large deltas),
 * acknowledgements, usage reports, and the check for a cache file write that does not return.
 *
 * <p>Nothing that can wait on the outside world for long runs here: a task that hangs would stop every
 * {@code Flags} of the JVM from following its server (no watchdog, no reconnect, no snapshot). Cache
 * file writes, which hang for as long as their file system does, run on each {@code Flags}' own
 * {@code flags-cache-N} thread ({@link CacheWriter}); calls to the server are asynchronous, with deadlines.
 *
 * <p>One thread for all, rather than one per {@code Flags}: the work is small and rare (a watchdog
 * look per stream and second, a snapshot per connection), an application normally has one
 * {@code Flags}, and a test or a tool that opens many should not pay a thread for each. The thread is a
 * daemon and ends after {@value #IDLE_SECONDS} s with nothing scheduled (when every {@code Flags} is
 * closed); the next task starts a new one. The executor itself is never shut down: closing a
 * {@code Flags} cancels its own tasks.
 */
final class Background {

    private static final Logger LOG = LoggerFactory.getLogger(Background.class);
    static final int IDLE_SECONDS = 30;
    private static final ScheduledThreadPoolExecutor EXECUTOR = create();

    private Background() {
    }

    private static ScheduledThreadPoolExecutor create() {
        ScheduledThreadPoolExecutor e = new ScheduledThreadPoolExecutor(1, Threads.daemon("flags-sync")) {
            @Override
            protected void afterExecute(Runnable task, Throwable thrown) {
                // A task that throws would otherwise vanish without a word (and a periodic one stop):
                // the executor keeps the exception in the task's future.
                if (thrown == null && task instanceof Future<?> f && f.isDone() && !f.isCancelled()) {
                    try {
                        f.get();
                    } catch (ExecutionException failure) {
                        thrown = failure.getCause();
                    } catch (InterruptedException interrupted) {
                        Thread.currentThread().interrupt();
                    }
                }
                if (thrown != null) {
                    LOG.error("flags: a background task failed", thrown);
                }
            }
        };
        e.setRemoveOnCancelPolicy(true);
        e.setKeepAliveTime(IDLE_SECONDS, TimeUnit.SECONDS);
        e.allowCoreThreadTimeOut(true);
        return e;
    }

    /** @return the shared executor; never shut it down */
    static ScheduledExecutorService executor() {
        return EXECUTOR;
    }
}
