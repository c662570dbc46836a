package dev.flags.client.internal;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe (static state, concurrent maps). Counts the open {@code Flags} of this JVM that sync
 * from the same server and environment, and warns once when there are many: a {@code Flags} is meant
 * to be created once and shared, and one made per request or per use holds a connection, a copy of
 * the flags and a stream on the server each, until the server refuses the token more streams.
 */
final class Census {

    /** How many open instances of one server and environment make the warning. */
    static final int WARN_AT = 10;

    private static final Logger LOG = LoggerFactory.getLogger(Census.class);
    private static final ConcurrentHashMap<String, Integer> OPEN = new ConcurrentHashMap<>();
    private static final Set<String> WARNED = ConcurrentHashMap.newKeySet();

    private Census() {
    }

    /**
     * Counts one more open instance, and warns the first time there are {@value #WARN_AT}.
     *
     * @param target the server's address
     * @param environment the environment it syncs
     */
    static void opened(String target, String environment) {
        String key = key(target, environment);
        int open = OPEN.merge(key, 1, Integer::sum);
        if (open >= WARN_AT && WARNED.add(key)) {
            LOG.warn("flags: {} Flags for {} environment \"{}\" are open in this JVM; create one Flags when the"
                    + " application starts and share it (it is thread-safe): each one holds a connection, a copy of"
                    + " the flags and a stream on the flag server", open, target, environment);
        }
    }

    /** Counts one instance less. */
    static void closed(String target, String environment) {
        OPEN.computeIfPresent(key(target, environment), (k, n) -> n == 1 ? null : n - 1);
    }

    private static String key(String target, String environment) {
        return target + "\n" + environment;
    }
}
