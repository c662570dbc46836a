package dev.flags.client;

import dev.flags.core.Condition;
import dev.flags.core.Flag;
import dev.flags.core.FlagFormat;
import dev.flags.core.Rule;
import dev.flags.core.Variant;
import dev.flags.protocol.v1.FlagDocument;
import java.util.List;

/** Test fixtures: flags and the wire documents that carry them. */
final class Fixtures {

    private Fixtures() {
    }

    /** A flag on (or off) for everyone. */
    static Flag flag(String key, boolean on, long version) {
        return new Flag(key, null, true, null, List.of(), List.of(), List.of(), on, version);
    }

    /** A flag on for users with the role only. */
    static Flag forRole(String key, String role, long version) {
        return new Flag(key, null, true, null, List.of(), List.of(),
                List.of(new Rule("role " + role, List.of(new Condition.Roles(List.of(role))), true, null)), false, version);
    }

    /** An A/B flag on for everyone with one variant carrying a payload. */
    static Flag variant(String key, String variant, String payload, long version) {
        return new Flag(key, null, true, null, List.of(new Variant(variant, 100, payload)), List.of(), List.of(), true,
                version);
    }

    static FlagDocument doc(Flag flag) {
        return FlagDocument.newBuilder().setKey(flag.key()).setJson(FlagFormat.writeFlag(flag)).build();
    }

    static FlagDocument doc(String key, boolean on, long version) {
        return doc(flag(key, on, version));
    }

    /**
     * Registers, on a thread of its own, a status listener whose first call (on that thread, under the SDK's store lock)
     * runs {@code first} and then closes the SDK: the way an application's listener on {@code Runnable::run} may.
     *
     * @return whether that {@code close()} returned within 10 s (false: a deadlock; the thread is a daemon, so that it
     *     does not keep the test's JVM)
     */
    static boolean closedFromAStatusListenersFirstCall(Flags flags, Runnable first) throws InterruptedException {
        java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();
        Thread app = new Thread(() -> flags.addStatusListener(f -> {
            first.run();
            flags.close();
            closed.set(true);
        }), "registers-a-status-listener");
        app.setDaemon(true);
        app.start();
        app.join(10_000);
        return !app.isAlive() && closed.get();
    }
}
