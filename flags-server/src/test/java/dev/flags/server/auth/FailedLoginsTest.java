package dev.flags.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.server.journal.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Requests with unknown tokens: one line at once, then a count a minute, never a line each. */
class FailedLoginsTest {

    @Test
    void theFirstOfAMinuteIsLoggedAtOnceAndTheRestSummedUpWithTheNext() {
        MutableClock clock = new MutableClock(Instant.parse("2026-12-05T09:00:00Z"));
        List<String> log = new ArrayList<>();
        FailedLogins failed = new FailedLogins(clock, log::add);

        failed.refused("http", "10.0.0.5");
        assertThat(log).singleElement().asString().startsWith("authentication: a request with an unknown or revoked token"
                + " (http from 10.0.0.5)").contains("more within a minute are counted, not logged one by one");
        for (int i = 0; i < 30; i++) {
            clock.advance(Duration.ofMillis(100));
            failed.refused("http", "10.0.0.5");
        }
        for (int i = 0; i < 7; i++) {
            failed.refused("grpc", "10.0.0.9");
        }
        assertThat(log).as("a guessing run is no flood").hasSize(1);

        clock.advance(Duration.ofMinutes(1));
        failed.refused("grpc", "192.0.2.7");
        assertThat(log).hasSize(2);
        assertThat(log.get(1)).startsWith("authentication: 37 more requests with an unknown or revoked token in the minute"
                + " from 2026-12-05T09:00:00Z to 2026-12-05T09:01:00Z: http from 10.0.0.5 (30), grpc from 10.0.0.9 (7); then a"
                + " request with an unknown or revoked token (grpc from 192.0.2.7)");
        assertThat(failed.total()).isEqualTo(39);

        clock.advance(Duration.ofMinutes(5));
        failed.refused("http", "10.0.0.5");
        assertThat(log.get(2)).as("a quiet minute has nothing to sum up").startsWith("authentication: a request with");
    }

    @Test
    void aMinuteFromThousandsOfAddressesKeepsAtMostAHundredApart() {
        MutableClock clock = new MutableClock(Instant.parse("2026-12-05T09:00:00Z"));
        List<String> log = new ArrayList<>();
        FailedLogins failed = new FailedLogins(clock, log::add);
        failed.refused("http", "first");
        for (int i = 0; i < 5000; i++) {
            failed.refused("http", "10.1." + (i / 256) + "." + (i % 256));
        }
        clock.advance(Duration.ofMinutes(1));
        failed.refused("http", "last");
        assertThat(log.get(1)).startsWith("authentication: 5000 more requests").contains(", and 4995 from others;");
    }
}
