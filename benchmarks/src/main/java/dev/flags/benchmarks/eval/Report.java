package dev.flags.benchmarks.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Immutable (stateless). Turns the JSON result file of an evaluation run ({@code -rf json}) into the
 * Markdown tables of {@code docs/BENCHMARKS.md}: per scenario, ns/op with one thread, ops/s with two,
 * B/op, and how each peer compares with ours; then the targets, met or missed.
 *
 * <pre>{@code
 * java -cp benchmarks/target/benchmarks.jar dev.flags.benchmarks.eval.Report docs/benchmarks-eval.json
 * }</pre>
 */
public final class Report {

    /** The implementations in table order: their benchmark class's simple name, and the label shown. */
    private static final Map<String, String> IMPLEMENTATIONS = new LinkedHashMap<>();

    static {
        IMPLEMENTATIONS.put("OursBenchmark", "**ours (flags-core)**");
        IMPLEMENTATIONS.put("UnleashBenchmark", "Unleash");
        IMPLEMENTATIONS.put("LaunchDarklyBenchmark", "LaunchDarkly");
        IMPLEMENTATIONS.put("FlagdBenchmark", "flagd (in-process)");
        IMPLEMENTATIONS.put("TogglzBenchmark", "Togglz");
    }

    private static final String[][] SCENARIOS = {
        {"s1Everyone", "S1: on for everyone"},
        {"s2Rollout50", "S2: 50% rollout over 1,024 users"},
        {"s3Role", "S3: on for role beta-tester"},
        {"s4Region", "S4: on for region eu-west or eu-north"},
        {"s5TenRules", "S5: ten rules, only the last matches"},
        {"s6UnknownFlag", "S6: unknown flag"},
    };

    /** One measured benchmark: score, error, allocation. */
    private record Result(double score, double error, double bytesPerOp) {
    }

    private Report() {
    }

    /**
     * Prints the tables.
     *
     * @param args the JMH JSON result file
     * @throws IOException if it cannot be read
     */
    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: Report <jmh-result.json>");
            System.exit(2);
        }
        System.out.print(render(new ObjectMapper().readTree(Files.readString(Path.of(args[0])))));
    }

    static String render(JsonNode results) {
        Map<String, Result> latency = new LinkedHashMap<>();
        Map<String, Result> throughput = new LinkedHashMap<>();
        for (JsonNode run : results) {
            String[] parts = run.get("benchmark").asText().split("\\.");
            // ...eval.<Impl>Benchmark.<Latency|Throughput>.<method>
            String key = parts[parts.length - 3] + "." + parts[parts.length - 1];
            JsonNode primary = run.get("primaryMetric");
            JsonNode alloc = run.path("secondaryMetrics").path("gc.alloc.rate.norm").path("score");
            Result result = new Result(primary.get("score").asDouble(), primary.get("scoreError").asDouble(),
                    alloc.isMissingNode() ? Double.NaN : alloc.asDouble());
            if ("Latency".equals(parts[parts.length - 2])) {
                latency.put(key, result);
            } else {
                throughput.put(key, result);
            }
        }
        StringBuilder out = new StringBuilder();
        List<String> targets = new ArrayList<>();
        for (String[] scenario : SCENARIOS) {
            out.append("### ").append(scenario[1]).append("\n\n");
            out.append("| implementation | ns/op, 1 thread | ops/s, 2 threads | 2 threads ÷ 1 thread | B/op | ns/op ÷ ours |\n");
            out.append("| --- | ---: | ---: | ---: | ---: | ---: |\n");
            Result ours = latency.get("OursBenchmark." + scenario[0]);
            double fastestPeer = Double.MAX_VALUE;
            String fastestPeerName = "";
            for (Map.Entry<String, String> impl : IMPLEMENTATIONS.entrySet()) {
                String key = impl.getKey() + "." + scenario[0];
                Result one = latency.get(key);
                Result two = throughput.get(key);
                if (one == null) {
                    continue;
                }
                if (!impl.getKey().equals("OursBenchmark") && one.score() < fastestPeer) {
                    fastestPeer = one.score();
                    fastestPeerName = impl.getValue();
                }
                out.append("| ").append(impl.getValue())
                        .append(" | ").append(fmt("%,.1f ± %,.1f", one.score(), one.error()))
                        .append(" | ").append(two == null ? "–" : fmt("%,.0f", two.score()))
                        .append(" | ").append(two == null ? "–" : fmt("%.2f×", two.score() / (1e9 / one.score())))
                        .append(" | ").append(fmt("%,.0f", Math.max(0, one.bytesPerOp())))
                        .append(" | ").append(ours == null ? "–" : fmt("%.1f×", one.score() / ours.score()))
                        .append(" |\n");
            }
            out.append('\n');
            if (ours != null) {
                targets.add(targetRow(scenario, ours, throughput.get("OursBenchmark." + scenario[0]), fastestPeer, fastestPeerName));
            }
        }
        out.append("### Targets (issue 2), ours\n\n");
        out.append("| scenario | ns/op (target) | B/op (target 0) | 2-thread scaling (target 2×) | vs fastest peer (target) |\n");
        out.append("| --- | --- | --- | --- | --- |\n");
        targets.forEach(out::append);
        return out.toString();
    }

    private static String targetRow(String[] scenario, Result ours, Result two, double fastestPeer, String peerName) {
        String id = scenario[1].substring(0, 2);
        double nsTarget = id.equals("S5") ? 100 : id.equals("S6") ? Double.NaN : 30;
        double speedTarget = id.equals("S2") || id.equals("S3") || id.equals("S4") || id.equals("S5") ? 3 : 1;
        double speedup = fastestPeer / ours.score();
        String ns = Double.isNaN(nsTarget)
                ? fmt("%.1f (none)", ours.score())
                : fmt("%.1f (≤ %.0f): %s", ours.score(), nsTarget, ours.score() <= nsTarget ? "met" : "missed");
        String bytes = fmt("%.0f: %s", Math.max(0, ours.bytesPerOp()), ours.bytesPerOp() < 0.5 ? "met" : "missed");
        String scaling = two == null ? "–" : fmt("%.2f×", two.score() / (1e9 / ours.score()));
        String versus = fmt("%.1f× faster than %s (%s %.0f×): %s", speedup, peerName,
                speedTarget > 1 ? "≥" : ">", speedTarget,
                speedTarget > 1 ? (speedup >= speedTarget ? "met" : "missed") : (speedup > 1 ? "met" : "missed"));
        return "| " + id + " | " + ns + " | " + bytes + " | " + scaling + " | " + versus + " |\n";
    }

    private static String fmt(String format, Object... args) {
        return String.format(Locale.ROOT, format, args);
    }
}
