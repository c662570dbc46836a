package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class TokenBucketTest {

    private static final long SECOND = 1_000_000_000L;

    @Test
    void aFullBucketAdmitsAPeriodsWorthAtOnceThenRefillsEvenly() {
        TokenBucket bucket = new TokenBucket(10, Duration.ofSeconds(1), 0);
        for (int i = 0; i < 10; i++) {
            assertThat(bucket.take(0).admitted()).isTrue();
        }
        TokenBucket.Admission refused = bucket.take(0);
        assertThat(refused.admitted()).isFalse();
        assertThat(refused.waitNanos()).isEqualTo(SECOND / 10);
        assertThat(bucket.take(SECOND / 10).admitted()).as("a tenth of a second earns one").isTrue();
        assertThat(bucket.take(SECOND / 10).admitted()).isFalse();
        assertThat(bucket.take(10 * SECOND).admitted()).isTrue();
    }

    @Test
    void aSteadyOverloadIsOneEpisodeWithOneFirstRefusalPerPeriodNotOneAfterEachAdmittedTake() {
        TokenBucket bucket = new TokenBucket(50, Duration.ofSeconds(1), 0);
        int firsts = 0;
        int admitted = 0;
        // Four times the rate, for three seconds: admitted and refused takes alternate as credit trickles in.
        for (long t = 0; t < 3 * SECOND; t += SECOND / 200) {
            TokenBucket.Admission a = bucket.take(t);
            if (a.admitted()) {
                admitted++;
            } else if (a.firstRefusal()) {
                firsts++;
            }
        }
        assertThat(admitted).isBetween(190, 210);
        assertThat(firsts).as("one at the start of the overload; none again while refusals keep coming").isEqualTo(1);

        assertThat(bucket.take(3 * SECOND + SECOND / 2).admitted()).isTrue();
        for (int i = 0; i < 60; i++) {
            bucket.take(5 * SECOND);
        }
        assertThat(bucket.take(5 * SECOND).firstRefusal()).isFalse();
        assertThat(bucket.take(7 * SECOND).admitted()).isTrue();
        for (int i = 0; i < 49; i++) {
            bucket.take(7 * SECOND);
        }
        assertThat(bucket.take(7 * SECOND).firstRefusal()).as("a new episode, a period after the last refusal").isTrue();
    }
}
