package dev.flags.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

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
            Instant soon = Instant.now().plusMillis(200);
            expiry.schedule("tok-soon", soon);
            expiry.schedule("tok-past", Instant.parse("2020-01-01T00:00:00Z"));
            assertThat(second.await(10, TimeUnit.SECONDS)).isTrue();
            assertThat(told).containsExactly("tok-past", "tok-soon");
            assertThat(Instant.now()).as("not before its expiry").isAfterOrEqualTo(soon);
            assertThat(expiry.pending()).isZero();
        }
    }

    @Test
    void aCancelledTokenIsNotToldAndARescheduledOneOnlyOnce() throws Exception {
        CountDownLatch last = new CountDownLatch(1);
        try (TokenExpiry expiry = new TokenExpiry(Clock.systemUTC(), id -> {
            told.add(id);
            if (id.equals("tok-last")) {
                last.countDown();
            }
        })) {
            Instant now = Instant.now();
            expiry.schedule("tok-revoked", now);
            expiry.cancel("tok-revoked");
            expiry.schedule("tok-moved", now.plus(Duration.ofDays(3650)));
            expiry.schedule("tok-moved", now);
            expiry.schedule("tok-last", now.plusMillis(100));
            // One thread, tasks in expiry order: had the cancelled one been kept, it would have been told first.
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
