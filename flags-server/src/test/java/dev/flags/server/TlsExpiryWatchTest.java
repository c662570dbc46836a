package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.server.journal.MutableClock;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class TlsExpiryWatchTest {

    @Test
    void aRunningServerWarnsDailyInTheLastThirtyDaysAndSaysOnceWhenTheCertificateHasExpired() {
        MutableClock clock = new MutableClock(Instant.parse("2026-12-05T12:00:00Z"));
        Instant expiry = clock.instant().plus(Duration.ofDays(40));
        List<String> warnings = new ArrayList<>();
        List<String> errors = new ArrayList<>();
        TlsExpiryWatch watch = new TlsExpiryWatch(Path.of("/etc/flags/cert.pem"), expiry, false, clock, warnings::add,
                errors::add);
        for (int hour = 0; hour < 24 * 12; hour++) { // 12 days, looked at every hour: 2 days inside the 30
            watch.check();
            clock.advance(Duration.ofHours(1));
        }
        assertThat(warnings).hasSize(2).allSatisfy(w -> assertThat(w).startsWith("the TLS certificate /etc/flags/cert.pem"
                + " expires at 2027-01-14T12:00:00Z, in 2"));
        assertThat(errors).isEmpty();

        clock.set(expiry.minusSeconds(1));
        watch.check();
        clock.set(expiry);
        watch.check();
        watch.check();
        clock.advance(Duration.ofDays(3));
        watch.check();
        assertThat(errors).singleElement().asString().isEqualTo("the TLS certificate /etc/flags/cert.pem expired at"
                + " 2027-01-14T12:00:00Z: new clients (SDKs, the CLI, browsers) now refuse it, and connected SDKs will when"
                + " they reconnect; renew it and start the server again (it reads the certificate at start)");
    }

    @Test
    void aWarningAtStartIsTheDaysFirst() {
        MutableClock clock = new MutableClock(Instant.parse("2026-12-05T12:00:00Z"));
        List<String> warnings = new ArrayList<>();
        TlsExpiryWatch watch = new TlsExpiryWatch(Path.of("cert.pem"), clock.instant().plus(Duration.ofDays(10)), true, clock,
                warnings::add, e -> { });
        watch.check();
        clock.advance(Duration.ofHours(23));
        watch.check();
        assertThat(warnings).isEmpty();
        clock.advance(Duration.ofHours(1));
        watch.check();
        assertThat(warnings).singleElement().asString().contains(", in 9 days: ");
    }
}
