package dev.flags.client.internal;

import dev.flags.core.Flag;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Thread-safe. The keys the application asked for since the last take that the SDK does not have: for
 * the usage report, which tells the server of code that asks for a flag nobody created (a typo) or one
 * archived while code still asks for it (which then silently gets its default).
 *
 * <p>At most {@value #MAX} keys, and only valid flag keys (the application may pass any string, and a
 * report may carry only keys). A map rather than a Caffeine cache: the bound is a count, the keys are
 * cleared at each take, so nothing needs to expire. Code that asks for an unknown key asks for it on every
 * request: after the first time, recording it is one lookup.
 */
final class UnknownKeys {

    /** The most keys kept between takes: the server's limit per report. */
    static final int MAX = 1_000;

    private final ConcurrentHashMap<String, Boolean> keys = new ConcurrentHashMap<>();

    /** Records a key asked for that the SDK does not have. */
    void asked(String key) {
        if (keys.containsKey(key) || keys.size() >= MAX || !Flag.isValidKey(key)) {
            return;
        }
        keys.putIfAbsent(key, Boolean.TRUE);
    }

    /**
     * Takes the keys recorded and clears them. A key recorded while this runs is either taken now or
     * left for the next take: one at a time is removed, never the whole map swapped.
     *
     * @return the keys, in no particular order
     */
    List<String> take() {
        List<String> taken = new ArrayList<>();
        for (String key : keys.keySet()) {
            if (keys.remove(key) != null) {
                taken.add(key);
            }
        }
        return taken;
    }
}
