package dev.flags.client;

import static dev.flags.client.Fixtures.doc;
import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.client.ScriptedSyncServer.Subscription;
import dev.flags.core.User;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** What a closed Flags says about itself, and a listener executor that stops taking work. */
class ClosedAndRefusingTest {

    private static final User USER = User.withId("u-1");

    @RegisterExtension
    final LogCapture logs = new LogCapture();

    @org.junit.jupiter.api.io.TempDir
    java.nio.file.Path dir;

    private static Flags.Builder client(ScriptedSyncServer server) {
        return server.client("flg_sdk_closed-test");
    }

    @Test
    void aClosedFlagsKeepsAnsweringButNoLongerSaysItIsLive() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start()) {
            // listeners run on the thread that publishes: what they hear is decided by the time close() returns
            Flags flags = client(server).listenerExecutor(Runnable::run).build();
            java.util.List<Freshness> heard = new java.util.concurrent.CopyOnWriteArrayList<>();
            flags.addStatusListener(heard::add);
            server.awaitSubscription().snapshot(5, doc("a", true, 1));
            assertThat(flags.awaitReady(Duration.ofSeconds(10))).isTrue();
            assertThat(flags.freshness().streamUp()).isTrue();
            assertThat(flags.evaluate("a", USER).source()).isEqualTo(Source.LIVE);

            flags.close();
            Freshness closed = flags.freshness();
            assertThat(closed.streamUp()).isFalse();
            assertThat(closed.problem()).contains("closed");
            assertThat(closed.source()).isEqualTo(Source.STALE);
            assertThat(closed.version()).isEqualTo(5);
            FlagEvaluation after = flags.evaluate("a", USER);
            assertThat(after.value()).isTrue();
            assertThat(after.source()).isEqualTo(Source.STALE);
            assertThat(flags.health().status()).isEqualTo(Health.Status.DOWN);
            assertThat(heard).as("no listener hears from a Flags after it was closed")
                    .extracting(Freshness::source).last().isEqualTo(Source.LIVE);
        }
    }

    @Test
    void awaitReadyWaitsAgainOnceARefusalGaveWayToAnOutage() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start()) {
            server.refuse(io.grpc.Status.UNAUTHENTICATED.withDescription("token not known yet"));
            try (Flags flags = client(server).initialBackoff(Duration.ofMillis(20)).maxBackoff(Duration.ofMillis(100)).build()) {
                Await.until("refused", () -> flags.freshness().refused());
                assertThat(flags.awaitReady(Duration.ofSeconds(10))).as("refused: false at once").isFalse();
                server.refuse(io.grpc.Status.UNAVAILABLE.withDescription("restarting"));
                Await.until("not refused, unreachable", () -> !flags.freshness().refused()
                        && flags.freshness().problem().orElse("").contains("UNAVAILABLE"));

                // Once awaitReady waits (it returned false at once before: QA64 F4), the server takes the SDK.
                Thread waiter = Thread.currentThread();
                java.util.concurrent.CompletableFuture<Void> accepted = java.util.concurrent.CompletableFuture.runAsync(() -> {
                    Await.until("awaitReady waits", () -> waiter.getState() == Thread.State.TIMED_WAITING
                            && java.util.Arrays.stream(waiter.getStackTrace()).anyMatch(e -> e.getMethodName().equals("awaitReady")));
                    server.refuse(null);
                    try {
                        server.awaitSubscription().snapshot(5, doc("a", true, 1));
                    } catch (InterruptedException e) {
                        throw new AssertionError(e);
                    }
                });
                assertThat(flags.awaitReady(Duration.ofSeconds(10))).isTrue();
                accepted.get(10, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void aListenerRunOnTheTransportThreadMayCloseTheSdkWithoutHoldingThatThreadUp() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start()) {
            Flags flags = client(server).listenerExecutor(Runnable::run).build();
            Subscription stream = server.awaitSubscription().snapshot(5, doc("a", true, 1));
            assertThat(flags.awaitReady(Duration.ofSeconds(10))).isTrue();
            java.util.concurrent.CompletableFuture<Duration> closing = new java.util.concurrent.CompletableFuture<>();
            flags.addListener("a", event -> { // "turn the feature off, and stop listening": on the thread that applied it
                long start = System.nanoTime();
                flags.close();
                closing.complete(Duration.ofNanos(System.nanoTime() - start));
            });
            stream.delta(5, 6, doc("a", false, 2));
            // It waited 2 s and more there before: for the last usage report's answer and the channel's end, which only
            // that very thread could bring.
            assertThat(closing.get(10, TimeUnit.SECONDS)).as("close() returns at once").isLessThan(Duration.ofSeconds(1));
            assertThat(flags.freshness().problem()).contains("closed");
            assertThat(flags.isEnabled("a", USER)).as("the change it heard of, kept").isFalse();
            assertThat(flags.health().status()).isEqualTo(Health.Status.DOWN);
        }
    }

    @Test
    void aListenerRunWhereTheFirstSnapshotIsAppliedMayCloseTheSdkAtOnceToo() throws Exception {
        // QA60 F3: a snapshot is applied on the SDK's background thread, not the transport's; close() there waited 2 s
        // for the channel's end, which needed the lock that thread held.
        try (ScriptedSyncServer server = ScriptedSyncServer.start()) {
            java.nio.file.Path cache = dir.resolve("flags.cache");
            Flags flags = client(server).listenerExecutor(Runnable::run).cacheFile(cache).build();
            java.util.concurrent.CompletableFuture<Duration> closing = new java.util.concurrent.CompletableFuture<>();
            java.util.concurrent.CompletableFuture<String> thread = new java.util.concurrent.CompletableFuture<>();
            flags.addListener(event -> {
                thread.complete(Thread.currentThread().getName());
                long start = System.nanoTime();
                flags.close();
                closing.complete(Duration.ofNanos(System.nanoTime() - start));
            });
            Subscription stream = server.awaitSubscription().snapshot(5, doc("a", true, 1));
            assertThat(closing.get(10, TimeUnit.SECONDS)).as("close() returns at once").isLessThan(Duration.ofSeconds(1));
            // QA62 F3: the application's own close(), right after, waits for the rest, the cache file among it, so that
            // the application may exit.
            flags.close();
            assertThat(cache).as("written by the time a second close() returns").exists();
            assertThat(thread.get()).startsWith("flags-sync");
            assertThat(flags.freshness().problem()).contains("closed");
            assertThat(flags.isEnabled("a", USER)).as("the snapshot it heard of, kept").isTrue();
            assertThat(stream.awaitCancelled(Duration.ofSeconds(10))).as("the stream ended, from the background thread").isTrue();
        }
    }

    @Test
    void anExecutorThatRefusesListenerWorkIsWarnedAboutOnceNotOncePerChange() throws Exception {
        ExecutorService executor = Executors.newSingleThreadExecutor();
        try (ScriptedSyncServer server = ScriptedSyncServer.start();
             Flags flags = client(server).listenerExecutor(executor).build()) {
            BlockingQueue<FlagChangeEvent> heard = new LinkedBlockingQueue<>();
            flags.addListener(heard::add);
            Subscription sub = server.awaitSubscription();
            sub.snapshot(5, doc("a", true, 1));
            assertThat(heard.poll(10, TimeUnit.SECONDS)).isNotNull();

            executor.shutdown(); // the application's executor goes first, by mistake
            sub.delta(5, 6, doc("a", false, 2));
            sub.delta(6, 7, doc("a", true, 3));
            sub.delta(7, 8, doc("a", false, 4));
            Await.until("the SDK has version 8", () -> flags.freshness().version() == 8);
            assertThat(flags.isEnabled("a", USER)).isFalse();
            assertThat(heard).isEmpty();
            assertThat(logs.lines("the listener executor refused")).hasSize(1);
            assertThat(logs.lines("the listener executor refused").get(0)).contains("WARN");
        }
    }
}
