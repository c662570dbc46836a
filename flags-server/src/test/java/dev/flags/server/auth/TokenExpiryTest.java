package dev.flags.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.server.journal.MutableClock;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The expiry thread tells each token's expiry once, in order, never a revoked token's, and stops when closed. */
@Timeout(30)
class TokenExpiryTest {

    private final List<String> told = new CopyOnWriteArrayList<>();

    @Test
    void aTokenThatHasExpiredIsToldAtOnceAndOneThatExpiresSoonWhenItDoes() throws Exception {
        CountDownLatch second = new CountDownLatch(2);
        try (TokenExpiry expiry = new TokenExpiry(Clock.systemUTC(), id -> {
            told.add(id);
            second.countDown();
        })) {
            expiry.schedule("tok-past", Instant.parse("2020-01-01T00:00:00Z"));
            Instant soon = Instant.now().plusMillis(200);
            expiry.schedule("tok-soon", soon);
            assertThat(second.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(told).containsExactly("tok-past", "tok-soon");
            assertThat(Instant.now()).as("not before its expiry").isAfterOrEqualTo(soon);
            assertThat(expiry.pending()).isZero();
        }
    }

    @Test
    void aCancelledTokenIsNotToldAndARescheduledOneOnlyOnce() throws Exception {
        CountDownLatch last = new CountDownLatch(1);
        Instant t0 = Instant.parse("2026-12-01T09:00:00Z");
        MutableClock clock = new MutableClock(t0);
        try (TokenExpiry expiry = new TokenExpiry(clock, id -> {
            told.add(id);
            if (id.equals("tok-last")) {
                last.countDown();
            }
        })) {
            // Armed to wake in 1 s (by the clock), and cancelled before its time (when due at once, it raced the cancel).
            expiry.schedule("tok-revoked", t0.plusSeconds(1));
            expiry.cancel("tok-revoked");
            clock.set(t0.plusSeconds(3));
            expiry.schedule("tok-moved", t0.plus(Duration.ofDays(3650)));
            expiry.schedule("tok-moved", t0.plusSeconds(1)); // due: told at once
            expiry.schedule("tok-last", t0.plusMillis(4_500)); // wakes 1.5 s from now, after the cancelled one would have
            clock.set(t0.plusSeconds(10));
            // One thread, tasks in the order they wake: had the cancelled one been kept, it would come before tok-last.
            assertThat(last.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(told).containsExactly("tok-moved", "tok-last");
        }
    }

    @Test
    void afterCloseNothingIsPendingOrScheduled() {
        TokenExpiry expiry = new TokenExpiry(Clock.systemUTC(), told::add);
        expiry.schedule("tok-far", Instant.now().plus(Duration.ofDays(3650)));
        assertThat(expiry.pending()).isEqualTo(1);
        expiry.close();
        expiry.close(); // idempotent
        expiry.schedule("tok-after", Instant.now());
        assertThat(expiry.pending()).isZero();
        assertThat(told).isEmpty();
    }
}
