package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What the log says of a webhook's outages: one line when one starts and one when it ends, not a pair per flap. */
class WebhookOutagesTest {

    private Instant now = Instant.parse("2026-12-06T08:00:00Z");
    private final List<String> lines = new ArrayList<>();
    private final WebhookOutages outages = new WebhookOutages("http://hooks.example/flags", Duration.ofMinutes(5),
            new Clock() {
                @Override
                public ZoneOffset getZone() {
                    return ZoneOffset.UTC;
                }

                @Override
                public Clock withZone(java.time.ZoneId zone) {
                    throw new UnsupportedOperationException();
                }

                @Override
                public Instant instant() {
                    return now;
                }
            }, line -> lines.add("WARN " + line), line -> lines.add("INFO " + line));

    private void pass(Duration time) {
        now = now.plus(time);
    }

    @Test
    void anOutageIsOneWarnWhenItStartsAndOneInfoWhenItEndsWhateverTheRetries() {
        outages.failed("it answered 503");
        pass(Duration.ofSeconds(1));
        outages.failed("it answered 503");
        pass(Duration.ofSeconds(2));
        outages.failed("connection refused");
        outages.delivered();
        outages.delivered();

        assertThat(lines).containsExactly(
                "WARN webhook: a delivery to http://hooks.example/flags failed (it answered 503); the changes wait in the journal"
                        + " and are sent again, in order, with backoff up to PT5M (the log says when it works again)",
                "INFO webhook: http://hooks.example/flags takes the changes again, after 3 failed attempts");
    }

    @Test
    void outagesWithinAMinuteOfTheLastWarnAreCountedAndTheNextWarnSaysHowMany() {
        outages.failed("it answered 500");
        outages.delivered();
        for (int i = 0; i < 20; i++) { // one bad backend of two: every other change fails once
            pass(Duration.ofSeconds(2));
            outages.failed("it answered 500");
            outages.delivered();
        }
        assertThat(lines).hasSize(2);

        pass(Duration.ofSeconds(30)); // 70 s after the WARN
        outages.failed("it answered 500");
        outages.delivered();

        assertThat(lines).hasSize(4);
        assertThat(lines.get(2)).startsWith("WARN webhook: a delivery to http://hooks.example/flags failed (it answered 500);")
                .endsWith("; since the last such line, deliveries failed and worked again 20 more times, each time within a"
                        + " minute of it (flapping: is one of several backends behind the endpoint failing?)");
        assertThat(lines.get(3)).isEqualTo("INFO webhook: http://hooks.example/flags takes the changes again, after 1 failed"
                + " attempt");
    }

    @Test
    void anOutageThatStartsQuietlyButLastsAMinuteIsLoggedThenAndSoIsItsEnd() {
        outages.failed("it answered 500");
        outages.delivered();
        pass(Duration.ofSeconds(10));
        outages.failed("it answered 502");
        pass(Duration.ofSeconds(30));
        outages.failed("it answered 502");
        assertThat(lines).as("within a minute of the WARN, and of its own start").hasSize(2);

        pass(Duration.ofSeconds(31));
        outages.failed("connection refused");
        pass(Duration.ofSeconds(5));
        outages.failed("connection refused");
        outages.delivered();

        assertThat(lines).containsSubsequence(
                "WARN webhook: deliveries to http://hooks.example/flags have failed for 61 s, 3 attempts (the last: connection"
                        + " refused); the changes wait in the journal and are sent again, in order, with backoff up to PT5M (the"
                        + " log says when it works again)",
                "INFO webhook: http://hooks.example/flags takes the changes again, after 4 failed attempts");
        assertThat(lines).hasSize(4);
    }
}
