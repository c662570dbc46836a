package dev.flags.server;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * A clock that, each time a chosen thread (a timer's round) reads it, has another thread make a write of the environment
 * and waits until that write is committed or waits for the environment's lock: what a busy environment does between a
 * timer's read of the state and its own write. At most 50 such writes.
 *
 * <p>Thread-safe.
 */
final class BusyEnvironmentClock extends Clock {

    private final Clock time;
    private final IntConsumer write;
    private volatile Thread timerThread;
    private final AtomicInteger writes = new AtomicInteger();
    private final List<Thread> writers = new CopyOnWriteArrayList<>();

    /**
     * @param time the time it tells
     * @param write makes the n-th write (n from 1), on a thread of its own
     */
    BusyEnvironmentClock(Clock time, IntConsumer write) {
        this.time = time;
        this.write = write;
    }

    /** Makes the writes when the calling thread reads the time, until {@link #quiet()}. */
    void busyWhileThisThreadReads() {
        timerThread = Thread.currentThread();
    }

    /** Makes no more writes, and waits for those made to end. */
    void quiet() throws InterruptedException {
        timerThread = null;
        for (Thread t : writers) {
            t.join(10_000);
        }
    }

    /** @return how many writes it made */
    int writes() {
        return writes.get();
    }

    @Override
    public ZoneId getZone() {
        return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
        return this;
    }

    @Override
    public Instant instant() {
        if (Thread.currentThread() == timerThread && writes.get() < 50) {
            int n = writes.incrementAndGet();
            Thread other = new Thread(() -> write.accept(n), "busy-writer-" + n);
            writers.add(other);
            other.start();
            while (other.isAlive() && other.getState() != Thread.State.WAITING) {
                Thread.onSpinWait(); // committed, or queued behind the lock: either way, its write is under way
            }
        }
        return time.instant();
    }
}
