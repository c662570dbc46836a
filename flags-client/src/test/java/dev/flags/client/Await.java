package dev.flags.client;

import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/** Waits for a condition that no event announces (the SDK's state seen from outside), with a deadline. */
final class Await {

    private Await() {
    }

    /**
     * @param className a class of the SDK whose code a thread runs: {@code Syncer} (the stream's), {@code OfflineFile}
     * @return whether a thread running through it is blocked entering a synchronized method of the flag store (it waits
     *     to publish while another thread holds the store's lock)
     */
    static boolean blockedOnTheStore(String className) {
        String qualified = "dev.flags.client.internal." + className;
        for (Map.Entry<Thread, StackTraceElement[]> t : Thread.getAllStackTraces().entrySet()) {
            StackTraceElement[] stack = t.getValue();
            if (t.getKey().getState() == Thread.State.BLOCKED && stack.length > 0
                    && stack[0].getClassName().equals("dev.flags.client.internal.FlagStore")
                    && Arrays.stream(stack).anyMatch(e -> e.getClassName().equals(qualified)
                            || e.getClassName().startsWith(qualified + "$"))) {
                return true;
            }
        }
        return false;
    }

    static void until(String what, BooleanSupplier condition) {
        until(what, condition, Duration.ofSeconds(10));
    }

    static void until(String what, BooleanSupplier condition, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout + " waiting until " + what);
            }
            LockSupport.parkNanos(2_000_000);
        }
    }
}
