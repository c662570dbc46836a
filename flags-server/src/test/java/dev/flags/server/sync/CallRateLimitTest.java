package dev.flags.server.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flags.server.journal.MutableClock;
import io.grpc.Status;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Each token's Acknowledge and GetSnapshot calls: ten seconds' worth at once, then the rate, and the log a line a minute. */
class CallRateLimitTest {

    private final MutableClock clock = new MutableClock(Instant.parse("2026-12-07T22:00:00Z"));
    private final List<String> warnings = new ArrayList<>();
    private final CallRateLimit limit = new CallRateLimit(3, "Acknowledge and GetSnapshot", clock, warnings::add);

    private int admitted(String tokenId, int calls) {
        int n = 0;
        for (int i = 0; i < calls; i++) {
            if (limit.take(tokenId, "Acknowledge") == null) {
                n++;
            }
        }
        return n;
    }

    @Test
    void aTokenMayMakeTenSecondsWorthAtOnceThenItsRateAndOtherTokensAreNotHeldBackByIt() {
        assertThat(admitted("tok-a", 30)).as("ten seconds' worth at once").isEqualTo(30);
        Status refused = limit.take("tok-a", "Acknowledge");
        assertThat(refused).isNotNull();
        assertThat(refused.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(refused.getDescription()).isEqualTo("this token makes more than 3 Acknowledge and GetSnapshot calls a"
                + " second, the most one token may make (the flag server's --grpc-calls-per-token-per-second): call again later");
        assertThat(limit.take("tok-a", "GetSnapshot")).as("one limit for both methods").isNotNull();

        assertThat(admitted("tok-b", 30)).as("another token's own bucket").isEqualTo(30);

        clock.advance(Duration.ofSeconds(1));
        assertThat(admitted("tok-a", 10)).as("a second refills the rate").isEqualTo(3);
        clock.advance(Duration.ofMinutes(5));
        assertThat(admitted("tok-a", 40)).as("full again, no more").isEqualTo(30);
        assertThat(limit.refused()).isEqualTo(2 + 7 + 10);
    }

    @Test
    void refusalsAreAWarnAMinuteAtMostNamingTheTokensIdWithTheCountSinceTheLast() {
        admitted("tok-a", 30 + 500);
        assertThat(warnings).hasSize(1);
        assertThat(warnings.get(0)).isEqualTo("sync: token tok-a makes more than 3 Acknowledge and GetSnapshot calls a"
                + " second (--grpc-calls-per-token-per-second; refused first: Acknowledge): they get RESOURCE_EXHAUSTED until"
                + " it slows down. An SDK instance makes about one a second at most, so this is a client that loops, or"
                + " someone else holding the token: revoke it if it goes on");
        clock.advance(Duration.ofSeconds(30));
        admitted("tok-b", 30 + 7);
        admitted("tok-a", 100); // full again (30), 70 refused
        assertThat(warnings).as("the same minute: counted, not logged").hasSize(1);

        clock.advance(Duration.ofSeconds(31));
        admitted("tok-a", 1_000);
        assertThat(warnings).hasSize(2);
        assertThat(warnings.get(1)).startsWith("sync: 576 more calls refused for their tokens' rate in the minute from"
                + " 2026-12-07T22:00:00Z to 2026-12-07T22:01:00Z: tok-a (569), tok-b (7); then token tok-a makes more than 3");
    }

    @Test
    void aRateOutOfRangeIsRefused() {
        assertThatThrownBy(() -> new CallRateLimit(0, "Subscribe", clock, warnings::add)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("calls per token per second must be between 1 and 1000000, was 0");
        assertThat(new CallRateLimit(CallRateLimit.MAX_PER_SECOND, "Subscribe", clock, warnings::add).perSecond()).isEqualTo(1_000_000);
    }
}
