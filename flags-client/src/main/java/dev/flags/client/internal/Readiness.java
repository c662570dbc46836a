package dev.flags.client.internal;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Thread-safe. Whether the first sync (or the first good read of the offline file) happened, for
 * {@code awaitReady}: once ready, ready for good.
 */
final class Readiness {

    // Volatile so that ready(), called for every message of the stream, costs a read once ready.
    private volatile boolean ready;
    private boolean refused;
    private boolean closed;

    void ready() {
        if (ready) {
            return;
        }
        synchronized (this) {
            ready = true;
            notifyAll();
        }
    }

    /** @param isRefused true while the server refuses this SDK (token, environment): waiting is pointless */
    synchronized void refused(boolean isRefused) {
        refused = isRefused;
        notifyAll();
    }

    synchronized void close() {
        closed = true;
        notifyAll();
    }

    boolean isReady() {
        return ready;
    }

    /**
     * @param timeout how long to wait at most
     * @return true if ready; false on timeout, refusal, close or interrupt (the flag is set again)
     */
    synchronized boolean await(Duration timeout) {
        long deadline = System.nanoTime() + Math.max(0, saturatedNanos(timeout));
        while (!ready) {
            if (closed || refused) {
                return false;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            try {
                TimeUnit.NANOSECONDS.timedWait(this, left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    private static long saturatedNanos(Duration d) {
        try {
            return d.toNanos();
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE / 2;
        }
    }
}
