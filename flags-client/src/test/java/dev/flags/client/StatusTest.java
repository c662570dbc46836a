package dev.flags.client;

import static dev.flags.client.Fixtures.doc;
import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.client.ScriptedSyncServer.Subscription;
import dev.flags.client.openfeature.FlagsProvider;
import dev.flags.core.User;
import dev.openfeature.sdk.Client;
import dev.openfeature.sdk.EventDetails;
import dev.openfeature.sdk.NoOpProvider;
import dev.openfeature.sdk.OpenFeatureAPI;
import dev.openfeature.sdk.ProviderState;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Status listeners and the OpenFeature provider's status events, over a real loopback connection to
 * {@link ScriptedSyncServer}: ready after the first sync, stale when the server goes, ready again.
 */
class StatusTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    @RegisterExtension
    final LogCapture logs = new LogCapture();

    @TempDir
    Path tmp;

    private static Flags.Builder client(ScriptedSyncServer server) {
        return server.quicklyReconnectingClient("flg_sdk_status-test");
    }

    private static <T> T next(BlockingQueue<T> queue) throws InterruptedException {
        T t = queue.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(t).as("an event within " + WAIT).isNotNull();
        return t;
    }

    @Test
    void listenersHearReadyStaleAndReadyAgainButNotEveryDelta() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).build()) {
            BlockingQueue<Freshness> status = new LinkedBlockingQueue<>();
            BlockingQueue<String> threads = new LinkedBlockingQueue<>();
            BlockingQueue<FlagChangeEvent> changes = new LinkedBlockingQueue<>();
            flags.addStatusListener(f -> {
                throw new IllegalStateException("a broken status listener");
            });
            flags.addStatusListener(f -> {
                threads.add(Thread.currentThread().getName());
                status.add(f);
            });
            flags.addListener(changes::add);

            // At registration: the current state.
            Freshness first = next(status);
            assertThat(first.source()).isEqualTo(Source.DEFAULTS);
            assertThat(first.streamUp()).isFalse();

            Subscription sub = server.awaitSubscription();
            sub.snapshot(5, doc("a", true, 1));
            Freshness live = next(status);
            assertThat(live.source()).isEqualTo(Source.LIVE);
            assertThat(live.version()).isEqualTo(5);
            assertThat(live.streamUp()).isTrue();
            assertThat(live.problem()).isEmpty();

            // A change of flags is a change event, not a status event.
            sub.delta(5, 6, doc("a", false, 2));
            assertThat(next(changes).change()).isEqualTo(FlagChangeEvent.Change.ADDED); // by the snapshot
            assertThat(next(changes).version()).isEqualTo(6);
            assertThat(flags.isEnabled("a", User.withId("u-1"))).isFalse();

            server.stop();
            Freshness stale = next(status);
            assertThat(stale.source()).isEqualTo(Source.STALE);
            assertThat(stale.version()).isEqualTo(6);
            assertThat(stale.streamUp()).isFalse();
            assertThat(stale.problem()).isPresent();

            server.startAgain();
            server.awaitSubscription().heartbeat(6, 15_000);
            Freshness again = next(status);
            assertThat(again.source()).isEqualTo(Source.LIVE);
            assertThat(again.streamUp()).isTrue();
            assertThat(again.version()).isEqualTo(6);

            // Off the network thread; the broken listener was logged each time and broke nothing.
            assertThat(threads).allMatch(name -> name.startsWith("flags-events-"));
            assertThat(status).isEmpty();
            assertThat(logs.lines("a status listener")).hasSize(4);
            assertThat(flags.health().status()).isEqualTo(Health.Status.UP);

            // Removed: no more calls.
            BlockingQueue<Freshness> removed = new LinkedBlockingQueue<>();
            StatusListener l = removed::add;
            flags.addStatusListener(l);
            assertThat(next(removed).source()).isEqualTo(Source.LIVE);
            flags.removeStatusListener(l);
            server.stop();
            assertThat(next(status).source()).isEqualTo(Source.STALE);
            assertThat(removed).isEmpty();
        }
    }

    @Test
    void freshnessReadsTheStreamAndTheFlagsAsOneWhileTheyChange() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start();
             Flags flags = client(server).listenerExecutor(Runnable::run).build()) {
            server.awaitSubscription().snapshot(5, doc("a", true, 1));
            assertThat(flags.awaitReady(WAIT)).isTrue();
            assertThat(flags.freshness().source()).isEqualTo(Source.LIVE);

            // The stream fails while the SDK's publishing waits: never live flags over a stream that is down.
            Freshness duringLoss = readWhileAPublishWaits(flags, server::stop);
            assertThat(duringLoss.streamUp()).as("stream up in " + duringLoss)
                    .isEqualTo(duringLoss.source() == Source.LIVE);
            Await.until("stale", () -> flags.freshness().source() == Source.STALE);
            assertThat(flags.freshness().streamUp()).isFalse();

            // And back: never a stream that is up under flags still called stale.
            server.startAgain();
            Subscription again = server.awaitSubscription(); // no attempt fails from here on, none waits to say so
            Freshness duringRecovery = readWhileAPublishWaits(flags, () -> again.heartbeat(5, 15_000));
            assertThat(duringRecovery.streamUp()).as("stream up in " + duringRecovery)
                    .isEqualTo(duringRecovery.source() == Source.LIVE);
            Await.until("live", () -> flags.freshness().source() == Source.LIVE);
            assertThat(flags.freshness().streamUp()).isTrue();
        }
    }

    @Test
    void aHeartbeatIntervalBeyondAnyServersSettingIsBoundedNotOverflowed() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).build()) {
            Subscription stream = server.awaitSubscription().snapshot(5, 4_000_000_000_000_000_000L, List.of(doc("a", true, 1)),
                    java.util.Map.of());
            assertThat(flags.awaitReady(WAIT)).isTrue();
            // Three of these overflowed a long: the silence check found every stream silent, dropped it at once and
            // subscribed again, forever (QA64 F7). Bounded at an hour, as the server's own setting, the stream stays.
            assertThat(server.pollSubscription(Duration.ofMillis(500))).as("no new subscription").isNull();
            assertThat(flags.freshness().streamUp()).isTrue();
            stream.delta(5, 6, doc("a", false, 2));
            Await.until("the delta applied", () -> !flags.isEnabled("a", User.withId("u-1")));
        }
    }

    @Test
    void aDirectStatusListenerMayCloseTheSdkOnItsFirstCallWhileAMessageWaitsToBePublished() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start();
             Flags flags = client(server).listenerExecutor(Runnable::run).build()) {
            Subscription stream = server.awaitSubscription().snapshot(5, doc("a", true, 1));
            assertThat(flags.awaitReady(WAIT)).isTrue();
            // Its first call runs on the registering thread, under the store's lock; the stream's thread, holding its own
            // lock, waits for that one to publish a delta, and close() takes the stream's lock (QA64 F1: a deadlock).
            assertThat(Fixtures.closedFromAStatusListenersFirstCall(flags, () -> {
                stream.delta(5, 6, doc("a", false, 2));
                Await.until("the SDK waits to publish the delta", () -> Await.blockedOnTheStore("Syncer"));
            })).as("close() from the listener returned").isTrue();
            assertThat(flags.health()).isEqualTo(new Health(Health.Status.DOWN, "closed"));
            flags.close(); // from here: waits for the rest of the first, on the background thread
            Await.until("no thread of the SDK left waiting", () -> !Await.blockedOnTheStore("Syncer"));
        }
    }

    /**
     * Holds the SDK's publish lock (a status listener on the registering thread, run under it), runs {@code change},
     * waits until the SDK's thread that handles it waits for that lock, and reads {@code freshness()} from another
     * thread; then lets the SDK go on and returns what was read.
     */
    private static Freshness readWhileAPublishWaits(Flags flags, Runnable change) throws Exception {
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        StatusListener holder = f -> {
            if (holding.getCount() > 0) {
                holding.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
        Thread holderThread = new Thread(() -> flags.addStatusListener(holder), "holds-the-publish-lock");
        holderThread.start();
        ExecutorService reader = Executors.newSingleThreadExecutor();
        try {
            assertThat(holding.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
            change.run();
            Await.until("the SDK waits to publish what the change brought", () -> Await.blockedOnTheStore("Syncer"));
            Future<Freshness> read = reader.submit(flags::freshness);
            release.countDown();
            return read.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } finally {
            release.countDown();
            holderThread.join(WAIT.toMillis());
            flags.removeStatusListener(holder);
            reader.shutdownNow();
        }
    }

    @Test
    void theProviderEmitsErrorThenReadyThenStaleThenReady() throws Exception {
        OpenFeatureAPI api = OpenFeatureAPI.getInstance();
        String domain = "status-test-live";
        Client client = api.getClient(domain);
        BlockingQueue<EventDetails> errors = new LinkedBlockingQueue<>();
        BlockingQueue<String> events = events(client, errors);
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).build()) {
            api.setProviderAndWait(domain, FlagsProvider.of(flags)); // returns before the first sync
            // OpenFeature's own READY, once initialize returned, and the provider's ERROR: no flags at all
            // yet, an error that says so; evaluations still answer the default. The handlers hear the two
            // in either order, but the state is set in order (docs/client.md, "Initialization").
            assertThat(nextTwo(events)).anySatisfy(e -> assertThat(e).isEqualTo("READY"))
                    .anySatisfy(e -> assertThat(e).startsWith("ERROR no flags yet"));
            assertThat(client.getProviderState()).isEqualTo(ProviderState.ERROR);
            // OpenFeature 1.22 does not hand the error code on to handlers: the message and metadata say it.
            EventDetails error = next(errors);
            assertThat(error.getMessage()).startsWith("no flags yet");
            assertThat(error.getEventMetadata().getString("source")).isEqualTo("DEFAULTS");
            assertThat(client.getBooleanValue("a", true)).isTrue();

            Subscription sub = server.awaitSubscription();
            sub.snapshot(5, doc("a", false, 1));
            assertThat(next(events)).isEqualTo("READY");
            assertThat(client.getProviderState()).isEqualTo(ProviderState.READY);
            assertThat(client.getBooleanValue("a", true)).isFalse();

            server.stop();
            assertThat(next(events)).isEqualTo("STALE STALE");
            assertThat(client.getProviderState()).isEqualTo(ProviderState.STALE);
            assertThat(client.getBooleanValue("a", true)).isFalse(); // still served, from memory

            server.startAgain();
            server.awaitSubscription().heartbeat(5, 15_000);
            assertThat(next(events)).isEqualTo("READY");
            assertThat(client.getProviderState()).isEqualTo(ProviderState.READY);
            assertThat(events).isEmpty();
        } finally {
            api.setProviderAndWait(domain, new NoOpProvider());
        }
    }

    @Test
    void theProviderIsStaleWhileServingTheCacheFile() throws Exception {
        Path cache = cacheFileAtVersion9();

        OpenFeatureAPI api = OpenFeatureAPI.getInstance();
        String domain = "status-test-cache";
        Client client = api.getClient(domain);
        BlockingQueue<String> events = events(client, new LinkedBlockingQueue<>());
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).cacheFile(cache).build()) {
            api.setProviderAndWait(domain, FlagsProvider.of(flags));
            // OpenFeature's READY and the provider's STALE, in either order (docs/client.md, "Initialization").
            assertThat(nextTwo(events)).containsExactlyInAnyOrder("READY", "STALE CACHE_FILE");
            assertThat(client.getProviderState()).isEqualTo(ProviderState.STALE);
            assertThat(client.getBooleanValue("a", false)).isTrue();

            server.awaitSubscription().heartbeat(9, 15_000); // already up to date
            assertThat(next(events)).isEqualTo("READY");
            assertThat(client.getProviderState()).isEqualTo(ProviderState.READY);
        } finally {
            api.setProviderAndWait(domain, new NoOpProvider());
        }
    }

    @Test
    void theProviderIsStaleWhileAWatchedOfflineFileIsBadAndReadyOnceItIsGoodAgain() throws Exception {
        Path file = tmp.resolve("flags.json");
        String good = "{\"formatVersion\": 1, \"flags\": [{\"key\": \"a\", \"enabled\": true, \"default\": true}]}";
        Files.writeString(file, good);
        OpenFeatureAPI api = OpenFeatureAPI.getInstance();
        String domain = "status-test-offline";
        Client client = api.getClient(domain);
        BlockingQueue<String> events = events(client, new LinkedBlockingQueue<>());
        try (Flags flags = Flags.builder().offlineFile(file).watchOfflineFile(true).build()) {
            api.setProviderAndWait(domain, FlagsProvider.of(flags));
            assertThat(next(events)).isEqualTo("READY");
            assertThat(client.getProviderState()).isEqualTo(ProviderState.READY);

            // QA70 F6: OpenFeature heard nothing and stayed READY while health() said DEGRADED.
            replace(file, "{\"formatVersion\": 1, \"flags\": [{\"key\": \"a\", \"enabled\": \"yes\"}]}");
            // (OpenFeature's READY and the provider's may both come first: docs/client.md, "Initialization")
            assertThat(nextMatching(events, e -> !e.equals("READY"))).isEqualTo("STALE OFFLINE_FILE");
            assertThat(client.getProviderState()).isEqualTo(ProviderState.STALE);
            assertThat(client.getBooleanValue("a", false)).as("the last good flags are still served").isTrue();

            replace(file, good.replace("true", "false"));
            assertThat(next(events)).isEqualTo("READY");
            assertThat(client.getProviderState()).isEqualTo(ProviderState.READY);
            assertThat(client.getBooleanValue("a", true)).isFalse();
        } finally {
            api.setProviderAndWait(domain, new NoOpProvider());
        }
    }

    /** Replaces a file whole, as an editor's save does, so that the watcher never reads it half written. */
    private static void replace(Path file, String content) throws java.io.IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".swp");
        Files.writeString(tmp, content);
        Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    /**
     * Collects a client's provider events as "READY", "STALE source" and "ERROR message"; the details
     * of each error also go to {@code errors}.
     */
    private static BlockingQueue<String> events(Client client, BlockingQueue<EventDetails> errors) {
        BlockingQueue<String> events = new LinkedBlockingQueue<>();
        client.onProviderReady(d -> events.add("READY"));
        client.onProviderStale(d -> events.add("STALE " + d.getEventMetadata().getString("source")));
        client.onProviderError(d -> {
            events.add("ERROR " + d.getMessage());
            errors.add(d);
        });
        return events;
    }

    /** The next two events, in the order they came. */
    private static List<String> nextTwo(BlockingQueue<String> events) throws InterruptedException {
        return List.of(next(events), next(events));
    }

    private static <T> T nextMatching(BlockingQueue<T> queue, java.util.function.Predicate<T> wanted)
            throws InterruptedException {
        for (;;) {
            T t = next(queue);
            if (wanted.test(t)) {
                return t;
            }
        }
    }

    @Test
    void aRefusalIsToldToStatusListenersAndTheProviderThoughTheSourceStaysTheCacheFile() throws Exception {
        Path cache = cacheFileAtVersion9();

        OpenFeatureAPI api = OpenFeatureAPI.getInstance();
        String domain = "status-test-refused";
        Client client = api.getClient(domain);
        BlockingQueue<String> events = events(client, new LinkedBlockingQueue<>());
        // Not listening at first, so that the listeners and the provider are in place before the refusal.
        try (ScriptedSyncServer server = ScriptedSyncServer.notStarted()) {
            server.refuse(Status.UNAUTHENTICATED.withDescription("unknown token"));
            try (Flags flags = client(server).cacheFile(cache).build()) {
                BlockingQueue<Freshness> status = new LinkedBlockingQueue<>();
                flags.addStatusListener(status::add);
                api.setProviderAndWait(domain, FlagsProvider.of(flags));
                Freshness before = next(status);
                assertThat(before.source()).isEqualTo(Source.CACHE_FILE);
                assertThat(before.refused()).isFalse();
                assertThat(nextTwo(events)).containsExactlyInAnyOrder("READY", "STALE CACHE_FILE");
                assertThat(client.getProviderState()).isEqualTo(ProviderState.STALE);
                server.startAgain();

                Freshness refused = nextMatching(status, Freshness::refused);
                assertThat(refused.source()).isEqualTo(Source.CACHE_FILE);
                assertThat(refused.problem()).hasValueSatisfying(p -> assertThat(p).contains("UNAUTHENTICATED"));
                assertThat(flags.freshness().refused()).isTrue();
                assertThat(nextMatching(events, e -> e.startsWith("ERROR"))).contains("refuses this SDK")
                        .contains("unknown token");
                assertThat(client.getProviderState()).isEqualTo(ProviderState.ERROR);
                assertThat(client.getBooleanValue("a", false)).isTrue(); // the cache file is still served

                server.refuse(null);
                server.awaitSubscription().heartbeat(9, 15_000);
                Freshness live = nextMatching(status, f -> f.source() == Source.LIVE);
                assertThat(live.refused()).isFalse();
                assertThat(nextMatching(events, e -> e.equals("READY"))).isEqualTo("READY");
                assertThat(client.getProviderState()).isEqualTo(ProviderState.READY);
            }
        } finally {
            api.setProviderAndWait(domain, new NoOpProvider());
        }
    }

    @Test
    void aRefusalBeforeAnyFlagsIsToldToStatusListenersAndTheProvider() throws Exception {
        OpenFeatureAPI api = OpenFeatureAPI.getInstance();
        String domain = "status-test-refused-at-start";
        Client client = api.getClient(domain);
        BlockingQueue<String> events = events(client, new LinkedBlockingQueue<>());
        try (ScriptedSyncServer server = ScriptedSyncServer.notStarted()) {
            server.refuse(Status.UNAUTHENTICATED.withDescription("unknown token"));
            try (Flags flags = client(server).build()) {
                BlockingQueue<Freshness> status = new LinkedBlockingQueue<>();
                flags.addStatusListener(status::add);
                api.setProviderAndWait(domain, FlagsProvider.of(flags));
                assertThat(next(status).source()).isEqualTo(Source.DEFAULTS);
                assertThat(nextMatching(events, e -> e.startsWith("ERROR"))).startsWith("ERROR no flags yet")
                        .doesNotContain("refuses");
                server.startAgain();

                // The source stays DEFAULTS; being refused is news all the same: the most common mistake at a deploy.
                Freshness refused = nextMatching(status, Freshness::refused);
                assertThat(refused.source()).isEqualTo(Source.DEFAULTS);
                assertThat(nextMatching(events, e -> e.contains("refuses this SDK"))).startsWith("ERROR no flags yet")
                        .contains("unknown token");
                assertThat(client.getProviderState()).isEqualTo(ProviderState.ERROR);
            }
        } finally {
            api.setProviderAndWait(domain, new NoOpProvider());
        }
    }

    /** A cache file written by an SDK that synced version 9 with flag "a" on. */
    private Path cacheFileAtVersion9() throws Exception {
        Path cache = tmp.resolve("flags.cache");
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).cacheFile(cache).build()) {
            server.awaitSubscription().snapshot(9, doc("a", true, 4));
            assertThat(flags.awaitReady(WAIT)).isTrue();
        } // close() writes the cache file
        return cache;
    }
}
