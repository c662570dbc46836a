package dev.flags.server.sync;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * Thread-safe (one lock). The SDK instances of one environment whose streams ended after their SDK said it was closing
 * (their application closed them: they serve nothing any more), each with when: so that an instance that left while a
 * change was awaited is told apart from one that lost its connection and may still answer from what it had. Bounded
 * in time and in number: the oldest go first.
 */
final class ClosedInstances {

    /** How long an instance closed by its application is remembered: longer than the longest {@code --wait}, an hour. */
    static final long KEPT_MILLIS = 65 * 60_000L;
    /**
     * The most remembered per environment: a fleet's churn over a wait, and more (estimated, not measured: a few hundred
     * bytes each, under 1 MB in all; whoever holds an sdk token and opens and closes streams without end pushes out only
     * the oldest).
     */
    static final int MAX_CLOSED = 2_000;

    private record Closed(SdkStream stream, long atMillis) {
    }

    private final int maxEntries;
    private final long keepMillis;
    /** Guarded by this: by token and instance id, in the order they closed, oldest first. */
    private final LinkedHashMap<String, Closed> closed = new LinkedHashMap<>();

    /**
     * @param maxEntries the most remembered
     * @param keepMillis how long each is remembered
     */
    ClosedInstances(int maxEntries, long keepMillis) {
        this.maxEntries = maxEntries;
        this.keepMillis = keepMillis;
    }

    /**
     * Remembers an instance closed by its application.
     *
     * @param key its token and instance id: one instance, once (the newest close)
     * @param stream its stream as it was at its end
     * @param atMillis when its stream ended
     */
    synchronized void add(String key, SdkStream stream, long atMillis) {
        closed.remove(key); // again last: the newest
        closed.put(key, new Closed(stream, atMillis));
        forgetOld(atMillis);
    }

    /**
     * @param afterMillis a time
     * @param nowMillis the time now, to forget what is too old
     * @return those closed at or after the time, newest first
     */
    synchronized List<SdkStream> since(long afterMillis, long nowMillis) {
        forgetOld(nowMillis);
        List<SdkStream> out = new ArrayList<>();
        for (Closed c : closed.values()) {
            if (c.atMillis() >= afterMillis) {
                out.add(c.stream());
            }
        }
        Collections.reverse(out);
        return out;
    }

    /** Guarded by this. The oldest first: over the number, or older than kept. */
    private void forgetOld(long nowMillis) {
        Iterator<Closed> oldest = closed.values().iterator();
        while (oldest.hasNext()) {
            Closed c = oldest.next();
            if (closed.size() <= maxEntries && nowMillis - c.atMillis() < keepMillis) {
                return;
            }
            oldest.remove();
        }
    }
}
