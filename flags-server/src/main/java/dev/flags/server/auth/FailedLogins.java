package dev.flags.server.auth;

import java.time.Clock;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * Thread-safe. Says in the log that requests come with tokens the server does not know (someone guessing, or a
 * client left with a revoked token), without a line per request: the first of each minute is logged at once with
 * where it came from, the rest of that minute are counted, by client address, and summed up (with the minute's
 * times) when the next one comes after it: a burst that stops is in {@code flags_unknown_tokens_total} at once, in the
 * log with the next refusal. A 401 costs nothing but a hash to whoever sends it, so these are the only trace of a guessing run.
 */
public final class FailedLogins {

    /** How many client addresses a minute's summary tells apart; the others are summed up as "others". */
    static final int MAX_ADDRESSES = 100;
    private static final long WINDOW_MILLIS = 60_000;

    private final Clock clock;
    private final Consumer<String> log;
    private long windowStart = Long.MIN_VALUE;
    private final Map<String, Long> pending = new LinkedHashMap<>();
    private long pendingOthers;
    private long total;

    /**
     * @param clock what "now" is, for the windows
     * @param log where the lines go (a WARN of the server's log)
     */
    public FailedLogins(Clock clock, Consumer<String> log) {
        this.clock = clock;
        this.log = log;
    }

    /**
     * Counts a request refused for its token (unknown, revoked or malformed; not an expired one, whose holder
     * merely needs a new token).
     *
     * @param where the port, "http" or "grpc"
     * @param from the client's address as the port saw it (a proxy's, behind one)
     */
    public void refused(String where, String from) {
        String line = null;
        synchronized (this) {
            total++;
            long now = clock.millis();
            String source = where + " from " + from;
            if (windowStart != Long.MIN_VALUE && now - windowStart < WINDOW_MILLIS) {
                if (pending.containsKey(source) || pending.size() < MAX_ADDRESSES) {
                    pending.merge(source, 1L, Long::sum);
                } else {
                    pendingOthers++;
                }
                return;
            }
            String before = summary();
            windowStart = now;
            line = (before.isEmpty() ? "" : before + "; then ") + "a request with an unknown or revoked token (" + source
                    + "): the server's own tokens are never unknown to it, so this is a client with a revoked token or someone"
                    + " guessing; more within a minute are counted, not logged one by one";
        }
        log.accept("authentication: " + line);
    }

    /** The counted requests of the window that ended, as words, and forgets them; "" if there were none. */
    private String summary() {
        long count = pending.values().stream().mapToLong(Long::longValue).sum() + pendingOthers;
        if (count == 0) {
            return "";
        }
        String by = pending.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue(Comparator.reverseOrder()))
                .limit(5).map(e -> e.getKey() + " (" + e.getValue() + ")").collect(Collectors.joining(", "));
        long shown = pending.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue(Comparator.reverseOrder()))
                .limit(5).mapToLong(Map.Entry::getValue).sum();
        String rest = count > shown ? ", and " + (count - shown) + " from others" : "";
        pending.clear();
        pendingOthers = 0;
        java.time.Instant from = java.time.Instant.ofEpochMilli(windowStart);
        return count + (count == 1 ? " more request" : " more requests") + " with an unknown or revoked token in the minute"
                + " from " + from + " to " + from.plusMillis(WINDOW_MILLIS) + ": " + by + rest;
    }

    /** @return every request refused for its token since the start */
    public synchronized long total() {
        return total;
    }
}
