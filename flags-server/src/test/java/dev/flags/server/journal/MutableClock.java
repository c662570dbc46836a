package dev.flags.server.journal;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicReference;

/** Thread-safe. A clock that tests move by hand. */
public final class MutableClock extends Clock {
    private final AtomicReference<Instant> now;

    /** @param start the time it shows until moved */
    public MutableClock(Instant start) {
        this.now = new AtomicReference<>(start);
    }

    /** @return the new time, {@code d} later */
    public Instant advance(Duration d) {
        return now.updateAndGet(t -> t.plus(d));
    }

    /** @param t the time it shows from now on */
    public void set(Instant t) {
        now.set(t);
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
        return now.get();
    }
}
