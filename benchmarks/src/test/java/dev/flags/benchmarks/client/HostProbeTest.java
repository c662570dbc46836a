package dev.flags.benchmarks.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The host probe runs over a real loopback socket and reports what it timed; no figure is judged. */
class HostProbeTest {

    @Test
    void aReadingTimesEveryRoundTripOfEveryBatchInOrder() {
        HostProbe.Reading reading = HostProbe.loopbackRoundTrip(3, 200);

        assertThat(reading.roundTrips()).isEqualTo(600);
        assertThat(reading.fastestMicros()).isPositive();
        assertThat(reading.medianMicros()).isBetween(reading.fastestMicros(), reading.slowestMicros());
        assertThat(reading.line()).startsWith("host probe: loopback TCP round trip of 1 byte")
                .contains("600 round trips");
    }

    @Test
    void countsBelowOneAreRefused() {
        assertThatThrownBy(() -> HostProbe.loopbackRoundTrip(0, 10))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("were 0 and 10");
        assertThatThrownBy(() -> HostProbe.loopbackRoundTrip(1, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("were 1 and 0");
    }
}
