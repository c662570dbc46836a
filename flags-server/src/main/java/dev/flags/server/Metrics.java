package dev.flags.server;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * Thread-safe. The server's counters, written out in the Prometheus text format at {@code /metrics}.
 *
 * <p>A handful of counters and two histograms: a metrics library would be a larger dependency than
 * the few lines this takes.
 */
public final class Metrics {

    private static final double[] BUCKETS_SECONDS = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

    private final Map<String, LongAdder> requests = new ConcurrentHashMap<>();
    private final Histogram requestSeconds = new Histogram();
    private final Histogram appendSeconds = new Histogram();
    private final Map<String, LongSupplier> gauges = new ConcurrentHashMap<>();
    private final LongAdder requestsOutOfMemory = new LongAdder();
    private final Map<String, String> helps = new ConcurrentHashMap<>();
    private final Map<String, Labelled> labelled = new ConcurrentHashMap<>();

    /** A cumulative histogram with fixed buckets. */
    private static final class Histogram {
        final LongAdder[] counts = new LongAdder[BUCKETS_SECONDS.length];
        final LongAdder count = new LongAdder();
        final LongAdder sumNanos = new LongAdder();

        Histogram() {
            for (int i = 0; i < counts.length; i++) {
                counts[i] = new LongAdder();
            }
        }

        void observe(long nanos) {
            double seconds = nanos / 1e9;
            for (int i = 0; i < BUCKETS_SECONDS.length; i++) {
                if (seconds <= BUCKETS_SECONDS[i]) {
                    counts[i].increment();
                }
            }
            count.increment();
            sumNanos.add(nanos);
        }

        void write(StringBuilder out, String name, String help) {
            out.append("# HELP ").append(name).append(' ').append(help).append('\n');
            out.append("# TYPE ").append(name).append(" histogram\n");
            for (int i = 0; i < BUCKETS_SECONDS.length; i++) {
                out.append(name).append("_bucket{le=\"").append(BUCKETS_SECONDS[i]).append("\"} ").append(counts[i].sum()).append('\n');
            }
            out.append(name).append("_bucket{le=\"+Inf\"} ").append(count.sum()).append('\n');
            out.append(name).append("_sum ").append(sumNanos.sum() / 1e9).append('\n');
            out.append(name).append("_count ").append(count.sum()).append('\n');
        }
    }

    private static final java.util.Set<String> METHODS = java.util.Set.of("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS");

    /** Records one HTTP request. Unknown methods count as "other", so clients cannot grow the label set. */
    public void httpRequest(String method, int status, long nanos) {
        String m = METHODS.contains(method) ? method : "other";
        int s = status >= 100 && status <= 599 ? status : 0;
        requests.computeIfAbsent("method=\"" + m + "\",status=\"" + s + "\"", k -> new LongAdder()).increment();
        requestSeconds.observe(nanos);
    }

    /** Records an HTTP request that ran the JVM out of memory. */
    public void requestOutOfMemory() {
        requestsOutOfMemory.increment();
    }

    /** @return how many HTTP requests ran the JVM out of memory since the server started */
    public long requestsOutOfMemory() {
        return requestsOutOfMemory.sum();
    }

    /** Records one durable journal append (including its fsync). */
    public void journalAppended(long nanos) {
        appendSeconds.observe(nanos);
    }

    /**
     * Registers a counter with labels, read at each scrape.
     *
     * @param name the counter's name
     * @param help what it counts
     * @param values its values by their labels, as Prometheus writes them ({@code method="Subscribe",code="NOT_FOUND"})
     */
    public void registerLabelled(String name, String help, java.util.function.Supplier<Map<String, Long>> values) {
        labelled.put(name, new Labelled(help, values));
    }

    /** A counter with labels: its help and its values. */
    private record Labelled(String help, java.util.function.Supplier<Map<String, Long>> values) {
    }

    /**
     * Registers a value read when metrics are written (connected streams, deltas sent).
     *
     * @param name the metric's name, such as {@code flags_grpc_streams_connected}
     * @param help its description
     * @param type {@code gauge} or {@code counter}
     * @param value read at every scrape
     */
    public void register(String name, String help, String type, LongSupplier value) {
        helps.put(name, help + "\u0000" + type);
        gauges.put(name, value);
    }

    /** @return every metric in the Prometheus text format (version 0.0.4) */
    public String scrape() {
        StringBuilder out = new StringBuilder(4096);
        out.append("# HELP flags_http_requests_total Requests the HTTP API (/api/...) answered, by method and status (the"
                + " probes and /metrics are not counted).\n");
        out.append("# TYPE flags_http_requests_total counter\n");
        new TreeMap<>(requests).forEach((labels, n) -> out.append("flags_http_requests_total{").append(labels).append("} ").append(n.sum()).append('\n'));
        requestSeconds.write(out, "flags_http_request_duration_seconds", "HTTP API (/api/...) request latency.");
        appendSeconds.write(out, "flags_journal_append_seconds", "Durable journal appends, fsync included.");
        new TreeMap<>(gauges).forEach((name, value) -> {
            String[] helpAndType = helps.get(name).split("\u0000");
            out.append("# HELP ").append(name).append(' ').append(helpAndType[0]).append('\n');
            out.append("# TYPE ").append(name).append(' ').append(helpAndType[1]).append('\n');
            out.append(name).append(' ').append(value.getAsLong()).append('\n');
        });
        new TreeMap<>(labelled).forEach((name, family) -> {
            out.append("# HELP ").append(name).append(' ').append(family.help()).append('\n');
            out.append("# TYPE ").append(name).append(" counter\n");
            new TreeMap<>(family.values().get()).forEach((labels, n) ->
                    out.append(name).append('{').append(labels).append("} ").append(n).append('\n'));
        });
        return out.toString();
    }
}
