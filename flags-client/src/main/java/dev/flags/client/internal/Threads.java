package dev.flags.client.internal;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Thread-safe. Named daemon threads: {@code flags-sync-1} ({@link Background}) and {@code flags-events-1}
 * ({@link FlagStore}), each shared by the JVM, {@code flags-cache-1}, one per {@code Flags} with a cache file while it
 * writes it ({@link CacheWriter}), and {@code flags-watch-1}, one per watched offline file.
 */
final class Threads {

    // Numbers only make names unique within the process, for thread dumps; nothing else is shared.
    private static final Map<String, AtomicInteger> COUNTERS = new ConcurrentHashMap<>();

    private Threads() {
    }

    static ThreadFactory daemon(String prefix) {
        AtomicInteger counter = COUNTERS.computeIfAbsent(prefix, p -> new AtomicInteger());
        return runnable -> {
            Thread t = new Thread(runnable, prefix + "-" + counter.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
