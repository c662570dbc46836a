package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class HttpCapWatchTest {

    private final dev.flags.server.journal.MutableClock clock =
            new dev.flags.server.journal.MutableClock(Instant.parse("2026-12-05T12:00:00Z"));

    @Test
    void atTheCapItSaysSoOnceAMinuteWhileItLastsAndAgainAfterItClears() {
        AtomicInteger open = new AtomicInteger(127);
        List<String> log = new ArrayList<>();
        HttpCapWatch watch = new HttpCapWatch(open::get, 128, 8080, clock, log::add);
        watch.check();
        assertThat(log).as("under the cap").isEmpty();

        open.set(128);
        watch.check();
        assertThat(log).singleElement().asString().isEqualTo("HTTP port: 128 connections are open, the most"
                + " --http-max-connections allows: new clients, health checks among them, wait until one closes (an idle one"
                + " is closed after 30 s, a new one that sends nothing after 10 s); raise the cap with the process's"
                + " open-file limit (ulimit -Hn), or find the clients that hold them: ss -tn '( sport = :8080 )'; said at most"
                + " once a minute while it lasts");
        for (int s = 1; s < 60; s++) {
            clock.advance(java.time.Duration.ofSeconds(1));
            watch.check();
        }
        assertThat(log).as("once a minute").hasSize(1);
        clock.advance(java.time.Duration.ofSeconds(1));
        watch.check();
        assertThat(log).hasSize(2);
        assertThat(log.get(1)).contains("128 connections are open, the most --http-max-connections allows, for 60 s: ");

        open.set(10);
        clock.advance(java.time.Duration.ofSeconds(1));
        watch.check();
        open.set(128);
        clock.advance(java.time.Duration.ofSeconds(70));
        watch.check();
        assertThat(log).hasSize(3);
        assertThat(log.get(2)).as("a new spell at the cap").contains("allows: new clients");
    }
}
