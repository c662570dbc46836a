package dev.flags.client;

import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/** Waits for a condition that no event announces (the SDK's state seen from outside), with a deadline. */
final class Await {

    private Await() {
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
