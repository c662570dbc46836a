package dev.flags.server;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;

/** Immutable (stateless). How the server's own timer threads stop. */
public final class Timers {

    /** How long a task under way may take to finish when its timer stops. */
    static final long FINISH_SECONDS = 5;

    private Timers() {
    }

    /**
     * Stops a timer: no new task starts, a task under way finishes first (for at most
     * {@value #FINISH_SECONDS} s, then it is interrupted). An interrupt of the caller interrupts the task
     * too, and stays set.
     *
     * @param timer the timer's executor
     */
    public static void stop(ExecutorService timer) {
        timer.shutdown();
        try {
            if (!timer.awaitTermination(FINISH_SECONDS, TimeUnit.SECONDS)) {
                timer.shutdownNow();
            }
        } catch (InterruptedException e) {
            timer.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
