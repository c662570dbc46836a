package dev.flags.client.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Exponential backoff with equal jitter, with the random numbers injected. */
class BackoffTest {

    private static List<Long> delays(Backoff b, int n) {
        List<Long> d = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            d.add(b.nextDelayMillis());
        }
        return d;
    }

    @Test
    void doublesUpToTheMaximumTakingHalfToAllOfEachDelay() {
        Backoff low = new Backoff(Duration.ofMillis(100), Duration.ofMillis(1_000), () -> 0.0);
        assertThat(delays(low, 6)).containsExactly(50L, 100L, 200L, 400L, 500L, 500L);
        Backoff high = new Backoff(Duration.ofMillis(100), Duration.ofMillis(1_000), () -> 0.999_999);
        assertThat(delays(high, 6)).containsExactly(99L, 199L, 399L, 799L, 999L, 999L);
    }

    @Test
    void resetStartsOverAndTheMaximumIsForRefusals() {
        Backoff b = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(30), () -> 0.0);
        delays(b, 10);
        b.reset();
        assertThat(b.nextDelayMillis()).isEqualTo(50);
        assertThat(b.maxDelayMillis()).isEqualTo(15_000);
    }

    @Test
    void manyAttemptsNeitherOverflowNorExceedTheMaximum() {
        Backoff b = new Backoff(Duration.ofMillis(1), Duration.ofDays(1), () -> 1.0);
        assertThat(delays(b, 200)).allSatisfy(d -> assertThat(d).isBetween(1L, Duration.ofDays(1).toMillis()));
    }
}
