package dev.flags.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.client.ScriptedSyncServer.Subscription;
import dev.flags.core.User;
import dev.flags.protocol.v1.FlagDocument;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Many threads evaluate while updates stream in: no exception, and every answer comes from one whole
 * snapshot. At version v every flag has flag version v and answers (v is even); an answer that mixed
 * two snapshots would break that.
 */
class ConcurrencyTest {

    private static final int FLAGS = 10;
    private static final int UPDATES = 300;
    private static final int READERS = 6;

    @RegisterExtension
    final LogCapture logs = new LogCapture();

    private static List<FlagDocument> allAt(long version) {
        List<FlagDocument> docs = new ArrayList<>();
        for (int i = 0; i < FLAGS; i++) {
            docs.add(Fixtures.doc("f" + i, version % 2 == 0, version));
        }
        return docs;
    }

    @Test
    void readersSeeWholeSnapshotsWhileDeltasStreamIn() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start();
             Flags flags = Flags.builder().target(server.target()).plaintext().sdkToken("t").environment("production")
                     .build()) {
            Subscription sub = server.awaitSubscription();
            sub.snapshot(1, 15_000, allAt(1), Map.of());
            assertThat(flags.awaitReady(Duration.ofSeconds(10))).isTrue();

            AtomicBoolean stop = new AtomicBoolean();
            ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
            Set<Long> versionsSeen = ConcurrentHashMap.newKeySet();
            AtomicLong evaluations = new AtomicLong();
            List<Thread> readers = new ArrayList<>();
            for (int r = 0; r < READERS; r++) {
                User user = User.withId("u-" + r);
                Thread t = new Thread(() -> {
                    try {
                        long n = 0;
                        while (!stop.get()) {
                            Map<String, FlagEvaluation> all = flags.allFlags(user);
                            assertThat(all).hasSize(FLAGS);
                            long v = all.get("f0").version();
                            versionsSeen.add(v);
                            for (FlagEvaluation e : all.values()) {
                                assertThat(e.version()).as("one snapshot").isEqualTo(v);
                                assertThat(e.flagVersion()).as("flag of that snapshot").isEqualTo(v);
                                assertThat(e.value()).isEqualTo(v % 2 == 0);
                            }
                            FlagEvaluation one = flags.evaluate("f3", user);
                            assertThat(one.flagVersion()).isEqualTo(one.version());
                            assertThat(one.value()).isEqualTo(one.version() % 2 == 0);
                            flags.isEnabled("f5", user);
                            flags.isEnabled("unknown-" + (n % 3), user);
                            flags.evaluate("unknown-" + (n % 3), user);
                            n++;
                        }
                        evaluations.addAndGet(n);
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                }, "reader-" + r);
                t.start();
                readers.add(t);
            }

            for (long v = 2; v <= UPDATES; v++) {
                sub.delta(v - 1, v, allAt(v), List.of(), Map.of());
            }
            Await.until("the last version is applied", () -> flags.freshness().version() == UPDATES);
            stop.set(true);
            for (Thread t : readers) {
                t.join(10_000);
            }

            assertThat(failures).isEmpty();
            assertThat(evaluations.get()).isPositive();
            assertThat(versionsSeen).as("readers saw updates land").hasSizeGreaterThan(2);
            assertThat(flags.isEnabled("f0", User.withId("x"))).isEqualTo(UPDATES % 2 == 0);
            // Unknown flags are warned about once each, not once per evaluation.
            assertThat(logs.lines("no flag \"unknown-")).hasSize(3);
        }
    }
}
