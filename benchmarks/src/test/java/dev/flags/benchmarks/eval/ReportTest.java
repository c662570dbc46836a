package dev.flags.benchmarks.eval;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

class ReportTest {

    private static String run(String impl, String mode, String method, double score, double bytes) {
        return """
                {"benchmark": "dev.flags.benchmarks.eval.%s.%s.%s",
                 "primaryMetric": {"score": %s, "scoreError": 0.5},
                 "secondaryMetrics": {"gc.alloc.rate.norm": {"score": %s}}}
                """.formatted(impl, mode, method, score, bytes);
    }

    @Test
    void rendersOneTablePerScenarioAndTheTargets() throws Exception {
        String json = "[" + String.join(",",
                run("OursBenchmark", "Latency", "s2Rollout50", 20.0, 0.001),
                run("OursBenchmark", "Throughput", "s2Rollout50", 100_000_000, 0.001),
                run("TogglzBenchmark", "Latency", "s2Rollout50", 120.0, 280),
                run("TogglzBenchmark", "Throughput", "s2Rollout50", 12_000_000, 280)) + "]";

        String markdown = Report.render(new ObjectMapper().readTree(json));

        assertThat(markdown)
                .contains("### S2: 50% rollout over 1,024 users")
                .contains("| **ours (flags-core)** | 20.0 ± 0.5 | 100,000,000 | 2.00× | 0 | 1.0× |")
                .contains("| Togglz | 120.0 ± 0.5 | 12,000,000 | 1.44× | 280 | 6.0× |")
                .contains("| S2 | 20.0 (≤ 30): met | 0: met | 2.00× | 6.0× faster than Togglz (≥ 3×): met |");
    }
}
