package dev.flags.server.http;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Thread-safe. The threads the API's reads run on, shared out by who asks: at most {@code perSender} of them answer one
 * sender's reads at once, and a sender's further reads wait, in the order they came, while the others' run. When threads
 * come free, the senders waiting take turns, one read each.
 *
 * <p>Why: a thread that writes an answer waits while its client reads slowly, and a client that reads a little every 29 s
 * is never closed for it. Without shares, the slow clients of one token (one leaked viewer token is enough) held every
 * thread, and every other client's reads waited behind them for as long as their answers lasted. With them, one token's
 * clients hold up at most their share and their own reads. A read that is quick (nearly all are) takes a thread for
 * milliseconds, so the share costs a sender with many reads at once only their order, never a refusal.
 */
final class ReadThreads {

    private final int threads;
    private final int perSender;
    private final ThreadPoolExecutor pool;
    private final Object lock = new Object();
    /** Reads running, by sender; a sender with none has no entry. Guarded by {@link #lock}. */
    private final Map<String, Integer> running = new HashMap<>();
    /** Reads waiting, by sender, senders in the order of their turns; none empty. Guarded by {@link #lock}. */
    private final LinkedHashMap<String, ArrayDeque<Runnable>> waiting = new LinkedHashMap<>();
    /** Guarded by {@link #lock}. */
    private int runningCount;
    /** Guarded by {@link #lock}. */
    private int waitingCount;

    /**
     * @param name the threads' names' start
     * @param threads how many reads may run at once, at least 1
     * @param perSender how many of them may be one sender's, at least 1
     */
    ReadThreads(String name, int threads, int perSender) {
        if (threads < 1 || perSender < 1) {
            throw new IllegalArgumentException(name + " threads and their share per sender must be at least 1, were "
                    + threads + " and " + perSender);
        }
        this.threads = threads;
        this.perSender = Math.min(perSender, threads);
        AtomicInteger numbers = new AtomicInteger();
        ThreadFactory factory = runnable -> {
            Thread t = new Thread(runnable, name + "-" + numbers.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        // Threads only while there is work: an idle server holds none of them. Never more reads are given to the pool
        // than it has threads, so its own queue stays empty.
        this.pool = new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), factory);
        pool.allowCoreThreadTimeOut(true);
    }

    /**
     * Runs a read now, or once a thread is free and its sender is within its share.
     *
     * @param sender who asks (the same key for every read of one token)
     * @param read the read
     * @throws RejectedExecutionException once {@link #close} was called
     */
    void execute(String sender, Runnable read) {
        Objects.requireNonNull(sender, "sender");
        Objects.requireNonNull(read, "read");
        synchronized (lock) {
            if (pool.isShutdown()) {
                throw new RejectedExecutionException("the reads' threads are stopped");
            }
            if (runningCount < threads && running.getOrDefault(sender, 0) < perSender) {
                start(sender, read);
            } else {
                waiting.computeIfAbsent(sender, s -> new ArrayDeque<>()).addLast(read);
                waitingCount++;
            }
        }
    }

    /** Starts a read. Called holding the lock. */
    private void start(String sender, Runnable read) {
        running.merge(sender, 1, Integer::sum);
        runningCount++;
        try {
            pool.execute(() -> {
                try {
                    read.run();
                } finally {
                    finished(sender);
                }
            });
        } catch (RejectedExecutionException e) { // stopped: the port's stop cuts the read's connection
            ended(sender);
        }
    }

    private void finished(String sender) {
        synchronized (lock) {
            ended(sender);
            startWaiting();
        }
    }

    /** Called holding the lock. */
    private void ended(String sender) {
        running.computeIfPresent(sender, (s, n) -> n == 1 ? null : n - 1);
        runningCount--;
    }

    /** Starts waiting reads while threads are free, one per sender in turn. Called holding the lock. */
    private void startWaiting() {
        boolean started = true;
        while (started && runningCount < threads && !pool.isShutdown()) {
            started = false;
            for (Iterator<Map.Entry<String, ArrayDeque<Runnable>>> turns = waiting.entrySet().iterator(); turns.hasNext(); ) {
                Map.Entry<String, ArrayDeque<Runnable>> turn = turns.next();
                String sender = turn.getKey();
                if (running.getOrDefault(sender, 0) >= perSender) {
                    continue;
                }
                Runnable read = turn.getValue().pollFirst();
                waitingCount--;
                turns.remove();
                if (!turn.getValue().isEmpty()) {
                    waiting.put(sender, turn.getValue()); // to the end of the turns
                }
                start(sender, read);
                started = true;
                break;
            }
        }
    }

    /** @return the reads being answered now */
    int running() {
        synchronized (lock) {
            return runningCount;
        }
    }

    /** @return the reads waiting for a thread, or for their sender's share */
    int waiting() {
        synchronized (lock) {
            return waitingCount;
        }
    }

    /** @return how many reads one sender may have running at once */
    int perSender() {
        return perSender;
    }

    /**
     * Stops: the reads still waiting are dropped (the port's stop cuts their connections), the running ones interrupted,
     * and this waits up to {@code within} for them to end. Idempotent; called again, it waits again.
     *
     * @param within how long to wait for the running reads to end
     */
    void close(Duration within) {
        synchronized (lock) {
            pool.shutdownNow();
            waiting.clear();
            waitingCount = 0;
        }
        try {
            pool.awaitTermination(within.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
