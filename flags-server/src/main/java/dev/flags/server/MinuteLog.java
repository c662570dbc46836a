package dev.flags.server;

import java.time.Clock;
import java.time.Instant;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * Thread-safe. Logs an event that clients can cause many times a second (a request with an unknown token, a connection
 * closed for a body that never arrived) without a line each, which would bury the rest of the log: the first of each
 * minute is logged at once, in full; the rest of that minute are counted by a key (where they came from, which token)
 * and summed up, with the minute's times, when the next one comes after it. A burst that stops is summed up only with
 * the next event, so the caller also exposes {@link #total()} as a counter, which tells at once.
 */
public final class MinuteLog {

    /** How many keys a minute's summary tells apart; the others are summed up together. */
    public static final int MAX_KEYS = 100;
    /** How many of them the summary names, the most first. */
    private static final int NAMED = 5;
    private static final long WINDOW_MILLIS = 60_000;

    private final Clock clock;
    private final Consumer<String> log;
    private final String prefix;
    private final String oneMore;
    private final String manyMore;
    private final String others;
    private long windowStart = Long.MIN_VALUE;
    private final Map<String, Long> pending = new LinkedHashMap<>();
    private long pendingOthers;
    private long total;

    /**
     * A summary reads {@code <prefix>37 <manyMore> in the minute from <start> to <end>: <key> (30), <key> (7), and 12
     * <others>; then <the next event's line>}.
     *
     * @param clock what "now" is, for the minutes
     * @param log where the lines go
     * @param prefix what every line starts with, such as {@code "http: "}
     * @param oneMore the summary's words after a count of 1, such as {@code "more connection closed so"}
     * @param manyMore the same after a larger count
     * @param others the summary's words for the keys past the {@value #MAX_KEYS} it tells apart and the 5 it names, after
     *     their count, such as {@code "of other tokens"}
     */
    public MinuteLog(Clock clock, Consumer<String> log, String prefix, String oneMore, String manyMore, String others) {
        this.clock = clock;
        this.log = log;
        this.prefix = prefix;
        this.oneMore = oneMore;
        this.manyMore = manyMore;
        this.others = others;
    }

    /**
     * Counts an event, and logs it if it is the first of a minute.
     *
     * @param key what the summary counts it under
     * @param line the event in full, without the prefix: made only if it is logged
     */
    public void add(String key, Supplier<String> line) {
        String logged;
        synchronized (this) {
            total++;
            long now = clock.millis();
            if (windowStart != Long.MIN_VALUE && now - windowStart < WINDOW_MILLIS) {
                if (pending.containsKey(key) || pending.size() < MAX_KEYS) {
                    pending.merge(key, 1L, Long::sum);
                } else {
                    pendingOthers++;
                }
                return;
            }
            String before = summary();
            windowStart = now;
            logged = (before.isEmpty() ? "" : before + "; then ") + line.get();
        }
        log.accept(prefix + logged);
    }

    /** The counted events of the minute that ended, as words, and forgets them; "" if there were none. */
    private String summary() {
        long count = pending.values().stream().mapToLong(Long::longValue).sum() + pendingOthers;
        if (count == 0) {
            return "";
        }
        List<Map.Entry<String, Long>> most = pending.entrySet().stream()
                .sorted(Map.Entry.<String, Long>comparingByValue(Comparator.reverseOrder())).limit(NAMED).toList();
        long named = most.stream().mapToLong(Map.Entry::getValue).sum();
        String by = most.stream().map(e -> e.getKey() + " (" + e.getValue() + ")").collect(Collectors.joining(", "));
        String rest = count > named ? ", and " + (count - named) + " " + others : "";
        pending.clear();
        pendingOthers = 0;
        Instant from = Instant.ofEpochMilli(windowStart);
        return count + " " + (count == 1 ? oneMore : manyMore) + " in the minute from " + from + " to "
                + from.plusMillis(WINDOW_MILLIS) + ": " + by + rest;
    }

    /** @return every event counted since the start */
    public synchronized long total() {
        return total;
    }
}
