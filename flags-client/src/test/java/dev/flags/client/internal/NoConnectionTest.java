package dev.flags.client.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * A target that accepts the connection but never answers as an HTTP/2 server (a hung server, a proxy with
 * nothing behind it), over a real loopback socket: gRPC would wait on that attempt for as long as the
 * silence limit, so the SDK drops it after {@link Syncer#NO_CONNECTION_MILLIS} and connects anew. The SDK's
 * clock of elapsed time is the test's: the limit passes without the test waiting for it.
 */
class NoConnectionTest {

    @Test
    void aConnectionThatIsNeverAnsweredIsDroppedAfterTheLimitSaidAndMadeAnew() throws Exception {
        Semaphore accepted = new Semaphore(0);
        List<Socket> held = new CopyOnWriteArrayList<>(); // open, never answered: a black hole
        try (ServerSocket blackHole = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread accepting = new Thread(() -> {
                while (!blackHole.isClosed()) {
                    try {
                        held.add(blackHole.accept());
                        accepted.release();
                    } catch (IOException e) {
                        return; // closed at the end of the test
                    }
                }
            }, "black-hole");
            accepting.setDaemon(true);
            accepting.start();

            AtomicLong nanos = new AtomicLong(System.nanoTime());
            Settings settings = new Settings("127.0.0.1:" + blackHole.getLocalPort(), "t", "production", true, null,
                    null, null, false, Duration.ofMillis(20), Duration.ofMillis(100), Clock.systemUTC(), Runnable::run,
                    null, false);
            FlagStore store = new FlagStore(FlagState.none(Syncer.NOT_ANSWERED_YET), Runnable::run, true, "test");
            Syncer syncer = new Syncer(settings, store, null, new Readiness(), nanos::get, () -> 0.5);
            try {
                syncer.start();
                assertThat(accepted.tryAcquire(10, TimeUnit.SECONDS)).as("the first connection").isTrue();
                assertThat(syncer.status().problem()).as("before the limit: still waiting").isNull();

                nanos.addAndGet(TimeUnit.MILLISECONDS.toNanos(Syncer.NO_CONNECTION_MILLIS + 1_000));
                assertThat(accepted.tryAcquire(10, TimeUnit.SECONDS)).as("a new connection, not the same attempt").isTrue();
                assertThat(syncer.status().problem()).startsWith("UNAVAILABLE: no connection after 26 s: the target does"
                        + " not complete an HTTP/2 connection (a host that does not answer, a hung server, or a proxy with"
                        + " nothing behind it?)");
                assertThat(store.state().note()).as("every answer's reason says why")
                        .startsWith("the flag server cannot be reached (UNAVAILABLE: no connection after 26 s");
            } finally {
                syncer.close();
                for (Socket s : held) {
                    s.close();
                }
            }
        }
    }
}
