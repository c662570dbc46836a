package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.FileJournal;
import dev.flags.server.journal.MutableClock;
import dev.flags.server.journal.Schedule;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The schedules' and grant expiries' timer (DueTimer) after a round that fails with an Error. */
class DueTimerErrorTest {

    private static final Instant T0 = Instant.parse("2026-12-04T09:00:00Z");
    private static final ObjectMapper MAPPER = new ObjectMapper();

    @TempDir
    Path dir;

    private static Change change(EntryType type, String json) {
        try {
            return Change.of(type, "production", "alice (tok-1)", MAPPER.readTree(json));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void aRoundThatFailsWithAnErrorIsLoggedAndTriedAgainLater() throws Exception {
        // QA72 F2: DueTimer caught RuntimeException only. An Error (an OutOfMemoryError on a server near its heap) ended
        // the round before the timer was set again: nothing logged, and due schedules and grant expiries waited until
        // some later write happened to move the timer.
        MutableClock clock = new MutableClock(T0);
        try (FileJournal journal = FileJournal.builder(dir).clock(clock).open()) {
            ScheduleRunner runner = new ScheduleRunner(journal, clock);
            ChangeWriter writer = new ChangeWriter(journal, new Metrics(), runner::environmentChanged);
            FlagService flags = new FlagService(journal, writer);
            writer.append(change(EntryType.ENVIRONMENT_CREATED, "{}"));
            writer.append(change(EntryType.FLAG_CREATED, "{\"key\": \"promo\", \"enabled\": false, \"rules\": []}"));
            writer.append(change(EntryType.SCHEDULE_CREATED, "{\"id\": \"sch-000000000001\", \"flag\": \"promo\", \"at\": \""
                    + T0.plusSeconds(60) + "\", \"patch\": {\"enabled\": true}}"));
            clock.set(T0.plusSeconds(120));
            AtomicInteger calls = new AtomicInteger();

            String logged = StandardErrorCapture.during(() -> runner.start(writer, flags, (token, madeAt) -> {
                if (calls.incrementAndGet() == 1) {
                    throw new OutOfMemoryError("Java heap space (injected by the test)");
                }
                return null;
            })); // the round at start runs on this thread, and meets the Error

            assertThat(calls.get()).isEqualTo(1);
            assertThat(logged).contains("ERROR", "trying again in 30 s", "Java heap space (injected by the test)");
            Schedule s = journal.state().environment("production").orElseThrow().schedules().get("sch-000000000001");
            assertThat(s.status()).isEqualTo(Schedule.Status.PENDING);
            assertThat(runner.nextAt()).as("set again, for the retry").isEqualTo(clock.instant().plus(DueTimer.RETRY));

            runner.runDue(); // what the timer does at that time
            assertThat(journal.state().environment("production").orElseThrow().schedules().get("sch-000000000001").status())
                    .isEqualTo(Schedule.Status.APPLIED);
            runner.close();
        }
    }
}
