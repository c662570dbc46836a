package dev.flags.server;

import java.util.Collection;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.AbstractQueuedSynchronizer;
import java.util.concurrent.locks.LockSupport;

/**
 * Another write of an environment in flight (a clone of it, a slow force), held until {@link #close}: it holds the
 * environment's lock, so the writes a test starts meanwhile wait for it. Not thread-safe: one test's.
 */
final class EnvironmentLockHeld implements AutoCloseable {

    private final ExecutorService thread = Executors.newSingleThreadExecutor();
    private volatile Thread holding;
    private final CountDownLatch release = new CountDownLatch(1);
    private final Future<?> holder;

    /** Returns once the lock is held. */
    EnvironmentLockHeld(ChangeWriter writer, String environment) throws InterruptedException {
        CountDownLatch holding = new CountDownLatch(1);
        holder = thread.submit(() -> writer.serialized(environment, () -> {
            this.holding = Thread.currentThread();
            holding.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return null;
        }));
        holding.await();
    }

    /**
     * Waits until every thread given waits for a lock (the environment's), or one of the futures given is done (it did
     * not wait: the test then fails on what it answered).
     */
    static void awaitWaiting(Collection<Thread> threads, int expected, Collection<? extends Future<?>> work) {
        while (work.stream().noneMatch(Future::isDone) && !allWaiting(threads, expected)) {
            Thread.onSpinWait();
        }
    }

    /**
     * Waits until another thread than this one's waits for the lock in {@link ChangeWriter#serialized} (a request the
     * server's HTTP port handles, whose thread the test does not know), or the work given is done (it did not wait).
     */
    void awaitARequestWaiting(Future<?> work) {
        while (!work.isDone() && Thread.getAllStackTraces().entrySet().stream().noneMatch(e -> e.getKey() != holding
                && LockSupport.getBlocker(e.getKey()) instanceof AbstractQueuedSynchronizer
                && java.util.Arrays.stream(e.getValue()).anyMatch(f -> f.getClassName().equals(ChangeWriter.class.getName())
                        && f.getMethodName().equals("serialized")))) {
            Thread.onSpinWait();
        }
    }

    private static boolean allWaiting(Collection<Thread> threads, int expected) {
        synchronized (threads) {
            return threads.size() == expected
                    && threads.stream().allMatch(t -> LockSupport.getBlocker(t) instanceof AbstractQueuedSynchronizer);
        }
    }

    /** Lets the lock go, once the write holding it is done. */
    @Override
    public void close() throws Exception {
        release.countDown();
        try {
            holder.get(10, TimeUnit.SECONDS);
        } finally {
            thread.shutdownNow();
        }
    }
}
