package dev.flags.client;

import static dev.flags.client.Fixtures.doc;
import static dev.flags.client.Fixtures.flag;
import static dev.flags.client.Fixtures.forRole;
import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.client.ScriptedSyncServer.Subscription;
import dev.flags.core.Flag;
import dev.flags.core.Reason;
import dev.flags.core.User;
import dev.flags.protocol.v1.Delta;
import dev.flags.protocol.v1.FlagDocument;
import dev.flags.protocol.v1.Snapshot;
import dev.flags.protocol.v1.SyncMessage;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sync path over a real loopback connection, against {@link ScriptedSyncServer} (a test double of
 * the flag server's sync service that the tests script message by message).
 */
class SyncTest {

    private static final String TOKEN = "flg_sdk_7f3a9c-secret-token";
    private static final User USER = User.withId("u-1");
    private static final Duration WAIT = Duration.ofSeconds(10);

    @RegisterExtension
    final LogCapture logs = new LogCapture();

    @TempDir
    Path tmp;

    @AfterEach
    void theTokenIsNeverLogged() {
        assertThat(logs.text()).doesNotContain(TOKEN).doesNotContain("7f3a9c");
    }

    private static Flags.Builder client(ScriptedSyncServer server) {
        return server.quicklyReconnectingClient(TOKEN);
    }

    @Test
    void firstSyncSubscribesFromZeroWithTheTokenAndServesTheSnapshot() throws Exception {
        Instant now = Instant.parse("2026-11-23T10:15:30Z");
        try (ScriptedSyncServer server = ScriptedSyncServer.start();
             Flags flags = client(server).clock(Clock.fixed(now, ZoneOffset.UTC)).build()) {
            Subscription sub = server.awaitSubscription();
            assertThat(sub.request.getFromVersion()).isZero();
            assertThat(sub.request.getEnvironment()).isEqualTo("production");
            // The version is the build's (surefire passes the project's version in).
            assertThat(sub.request.getSdk()).isEqualTo("flags-java/" + System.getProperty("flags.projectVersion")
                    + (dev.flags.core.Build.commit().equals(dev.flags.core.Build.UNKNOWN) ? "" : "+" + dev.flags.core.Build.commit()));
            assertThat(sub.request.getAcceptsMemberChanges()).as("grants as who got and lost a role").isTrue();
            assertThat(sub.authorization).isEqualTo("Bearer " + TOKEN);

            // Before the first message: the caller's default, and the reason says why.
            FlagEvaluation before = flags.evaluate("billing-v2", USER, true);
            assertThat(before.value()).isTrue();
            assertThat(before.source()).isEqualTo(Source.DEFAULTS);
            assertThat(before.reason().kind()).isEqualTo(Reason.Kind.FLAG_NOT_FOUND);
            assertThat(before.reason().detail()).contains("no flags yet").contains("no cache file");
            assertThat(flags.isEnabled("billing-v2", USER)).isFalse();
            assertThat(flags.health().status()).isEqualTo(Health.Status.DOWN);
            assertThat(flags.awaitReady(Duration.ZERO)).isFalse();

            sub.snapshot(5, doc("billing-v2", true, 3), doc("search-v3", false, 1));

            assertThat(flags.awaitReady(WAIT)).isTrue();
            assertThat(flags.isEnabled("billing-v2", USER)).isTrue();
            assertThat(flags.isEnabled("search-v3", USER)).isFalse();
            FlagEvaluation e = flags.evaluate("billing-v2", USER);
            assertThat(e.value()).isTrue();
            assertThat(e.source()).isEqualTo(Source.LIVE);
            assertThat(e.version()).isEqualTo(5);
            assertThat(e.flagVersion()).isEqualTo(3);
            assertThat(e.reason().kind()).isEqualTo(Reason.Kind.DEFAULT);
            Freshness f = flags.freshness();
            assertThat(f.version()).isEqualTo(5);
            assertThat(f.source()).isEqualTo(Source.LIVE);
            assertThat(f.streamUp()).isTrue();
            assertThat(f.lastHeardFromServer()).hasValue(now);
            assertThat(f.problem()).isEmpty();
            assertThat(flags.health().status()).isEqualTo(Health.Status.UP);
            assertThat(flags.allFlags(USER)).containsOnlyKeys("billing-v2", "search-v3");
            assertThat(logs.lines("flags: connected to")).hasSize(1);
            assertThat(logs.lines("flags: connected to").get(0)).contains("version 5").contains("2 flags");
        }
    }

    @Test
    void aSnapshotOfAnotherEnvironmentIsNotServedNorCachedAndTheStreamIsTriedAgain() throws Exception {
        Path cache = tmp.resolve("flags.cache");
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).cacheFile(cache).build()) {
            Subscription sub = server.awaitSubscription();
            sub.send(dev.flags.protocol.v1.SyncMessage.newBuilder().setSnapshot(dev.flags.protocol.v1.Snapshot.newBuilder()
                    .setEnvironment("staging").setVersion(5).setHeartbeatIntervalMillis(15_000)
                    .addFlags(doc("billing-v2", true, 3))).build());
            assertThat(sub.awaitCancelled(WAIT)).as("the stream dropped").isTrue();
            Subscription again = server.awaitSubscription();
            assertThat(again.request.getFromVersion()).as("nothing applied").isZero();
            assertThat(flags.isEnabled("billing-v2", USER, false)).isFalse();
            assertThat(flags.freshness().source()).isEqualTo(Source.DEFAULTS);
            assertThat(flags.freshness().problem()).hasValue("INTERNAL: the flag server sent the flags of environment"
                    + " \"staging\" on this SDK's stream for \"production\"; not applied: a proxy or load balancer that sends"
                    + " streams to the wrong place?");
            assertThat(cache).as("not written").doesNotExist();
            assertThat(logs.lines("answered wrongly")).singleElement().asString().contains("WARN")
                    .contains("flags: the flag server at " + server.target() + " answered wrongly (INTERNAL: the flag server"
                            + " sent the flags of environment \"staging\"");
            assertThat(logs.text()).doesNotContain("cannot reach the flag server");

            again.snapshot(6, doc("billing-v2", true, 3)); // its own environment
            assertThat(flags.awaitReady(WAIT)).isTrue();
            assertThat(flags.isEnabled("billing-v2", USER, false)).isTrue();
        }
    }

    @Test
    void aDeltaThatGoesBackOrASnapshotOfANegativeVersionIsNotApplied() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).build()) {
            Subscription sub = server.awaitSubscription();
            sub.snapshot(-7, doc("billing-v2", true, 3));
            assertThat(sub.awaitCancelled(WAIT)).as("dropped").isTrue();
            Subscription second = server.awaitSubscription();
            assertThat(flags.freshness().problem()).hasValue("INTERNAL: the flag server sent a snapshot of version -7, which"
                    + " no environment has; not applied");
            second.snapshot(5, doc("billing-v2", true, 3));
            assertThat(flags.awaitReady(WAIT)).isTrue();

            second.delta(5, 3, doc("billing-v2", false, 4)); // from the version held, but back
            assertThat(second.awaitCancelled(WAIT)).as("a gap: subscribed again").isTrue();
            Subscription third = server.awaitSubscription();
            assertThat(third.request.getFromVersion()).isEqualTo(5);
            assertThat(flags.freshness().version()).isEqualTo(5);
            assertThat(flags.isEnabled("billing-v2", USER, false)).isTrue();
        }
    }

    @Test
    void liveChangesAreAppliedAndReportedToListeners() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).build()) {
            Subscription sub = server.awaitSubscription();
            sub.snapshot(5, doc("billing-v2", true, 3));
            assertThat(flags.awaitReady(WAIT)).isTrue();
            BlockingQueue<FlagChangeEvent> billing = new LinkedBlockingQueue<>();
            BlockingQueue<FlagChangeEvent> all = new LinkedBlockingQueue<>();
            flags.addListener("billing-v2", billing::add);
            flags.addListener(all::add);

            sub.delta(5, 6, doc("billing-v2", false, 4));
            FlagChangeEvent changed = billing.poll(10, TimeUnit.SECONDS);
            assertThat(changed).isEqualTo(new FlagChangeEvent("billing-v2", FlagChangeEvent.Change.UPDATED, 6, Source.LIVE));
            // The listener runs after the swap: the new answer is already served.
            assertThat(flags.isEnabled("billing-v2", USER)).isFalse();
            assertThat(flags.evaluate("billing-v2", USER).flagVersion()).isEqualTo(4);
            assertThat(all.poll(10, TimeUnit.SECONDS)).isEqualTo(changed);

            // A flag added for a role that the same delta grants, and a flag removed.
            sub.delta(6, 7, List.of(doc(forRole("beta-only", "beta", 1))), List.of("billing-v2"),
                    Map.of("beta", List.of("u-42")));
            assertThat(all.poll(10, TimeUnit.SECONDS)).isEqualTo(
                    new FlagChangeEvent("beta-only", FlagChangeEvent.Change.ADDED, 7, Source.LIVE));
            assertThat(all.poll(10, TimeUnit.SECONDS)).isEqualTo(
                    new FlagChangeEvent("billing-v2", FlagChangeEvent.Change.REMOVED, 7, Source.LIVE));
            assertThat(billing.poll(10, TimeUnit.SECONDS).change()).isEqualTo(FlagChangeEvent.Change.REMOVED);
            assertThat(flags.isEnabled("beta-only", User.withId("u-42"))).isTrue();
            assertThat(flags.isEnabled("beta-only", User.withId("u-43"))).isFalse();
            assertThat(flags.evaluate("billing-v2", USER).reason().kind()).isEqualTo(Reason.Kind.FLAG_NOT_FOUND);

            // The role's complete new member list is empty: nobody has it; the flag that names it changed.
            sub.delta(7, 8, List.of(), List.of(), Map.of("beta", List.of()));
            assertThat(all.poll(10, TimeUnit.SECONDS)).isEqualTo(
                    new FlagChangeEvent("beta-only", FlagChangeEvent.Change.UPDATED, 8, Source.LIVE));
            assertThat(flags.isEnabled("beta-only", User.withId("u-42"))).isFalse();
            assertThat(flags.freshness().version()).isEqualTo(8);

            // A delta that changes nothing an SDK sees still moves the version on, with no event.
            sub.delta(8, 9);
            Await.until("version 9", () -> flags.freshness().version() == 9);
            assertThat(all).isEmpty();
        }
    }

    @Test
    void deltasRightBehindASnapshotWaitForItEvenWhileTheBackgroundThreadIsBusy() throws Exception {
        // Snapshots are applied on the SDK's shared background thread, deltas on gRPC's transport thread.
        // Instance "busy" holds that thread (its status listener runs there and blocks) while instance
        // "late" gets a snapshot and two deltas at once: the deltas must wait for the snapshot; applied
        // first, they would not fit the version held and the SDK would subscribe again.
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try (ScriptedSyncServer server = ScriptedSyncServer.start();
             Flags busy = client(server).listenerExecutor(Runnable::run).build()) {
            busy.addStatusListener(f -> {
                if (f.source() == Source.LIVE && holding.getCount() > 0) {
                    holding.countDown();
                    awaitQuietly(release);
                }
            });
            server.awaitSubscription().snapshot(1, doc("other", true, 1));
            assertThat(holding.await(10, TimeUnit.SECONDS)).isTrue();
            try (Flags late = client(server).build()) {
                Subscription sub = server.awaitSubscription();
                sub.snapshot(5, doc("flag-0", true, 1), doc("flag-1", false, 1));
                sub.delta(5, 6, doc("flag-0", false, 2));
                sub.delta(6, 7, doc("flag-1", true, 2));
                // Nothing may happen while the snapshot waits; a gap would show as a new subscription.
                assertThat(server.pollSubscription(Duration.ofMillis(500))).isNull();
                assertThat(late.freshness().version()).isZero();
                release.countDown();
                Await.until("version 7", () -> late.freshness().version() == 7);
                assertThat(late.isEnabled("flag-0", USER)).isFalse();
                assertThat(late.isEnabled("flag-1", USER)).isTrue();
                assertThat(server.subscribeCalls()).isEqualTo(2); // one per instance: no resubscription
            }
        } finally {
            release.countDown();
        }
    }

    @Test
    void aListenerExecutorThatThrowsDoesNotStopTheStream() throws Exception {
        // The application's executor fails (shut down, say): listeners miss the news, the SDK does not.
        try (ScriptedSyncServer server = ScriptedSyncServer.start();
             Flags flags = client(server).listenerExecutor(r -> {
                 throw new IllegalStateException("executor shut down");
             }).build()) {
            flags.addListener("billing-v2", e -> { });
            Subscription sub = server.awaitSubscription();
            sub.snapshot(5, doc("billing-v2", true, 1)); // applied on the background thread
            assertThat(flags.awaitReady(WAIT)).isTrue();
            sub.delta(5, 6, doc("billing-v2", false, 2)); // applied on the transport thread
            Await.until("version 6", () -> flags.freshness().version() == 6);
            sub.delta(6, 7, doc("billing-v2", true, 3));
            Await.until("version 7", () -> flags.freshness().version() == 7);
            assertThat(flags.isEnabled("billing-v2", USER)).isTrue();
            assertThat(server.subscribeCalls()).isEqualTo(1);
            assertThat(logs.lines("the listener executor failed")).isNotEmpty()
                    .allSatisfy(l -> assertThat(l).contains("WARN"));
        }
    }

    /** A clock that throws what {@code failure} makes, once, the next time it is read after {@code armed} is set. */
    private static Clock failingOnceArmed(AtomicBoolean armed, java.util.function.Supplier<? extends Throwable> failure) {
        return new Clock() {
            @Override
            public ZoneId getZone() {
                return ZoneOffset.UTC;
            }

            @Override
            public Clock withZone(ZoneId zone) {
                return this;
            }

            @Override
            public Instant instant() {
                if (armed.compareAndSet(true, false)) {
                    Throwable t = failure.get();
                    if (t instanceof Error e) {
                        throw e;
                    }
                    throw (RuntimeException) t;
                }
                return Instant.now();
            }
        };
    }

    @Test
    void aMessageTheSdkFailsToApplyStartsANewStreamAtOnce() throws Exception {
        // A bug while applying (here: the clock fails once) must not leave the stream waiting for a
        // request that never comes, until the watchdog gives up on it (heartbeats are 15 s apart).
        failingOnceToApplyStartsANewStream(() -> new IllegalStateException("the clock failed"),
                "cannot apply a message from the flag server");
        assertThat(logs.text()).contains("the clock failed");
    }

    @Test
    void aMessageTheSdkRunsOutOfMemoryApplyingStartsANewStreamTooInsteadOfWaitingForGood() throws Exception {
        // As a snapshot too large for the heap.
        failingOnceToApplyStartsANewStream(() -> new OutOfMemoryError("test: Java heap space"), "out of memory applying a"
                + " message from the flag server (snapshot of environment \"production\"); serving the flags held and"
                + " subscribing again");
    }

    @Test
    void aSnapshotThatRunsOutOfMemoryAtEveryAttemptIsLoggedOnceNotOncePerRetry() throws Exception {
        // QA76: the same snapshot, too large for the heap, fails again at every attempt; one ERROR says so.
        failingToApplyStartsANewStream(3, () -> new OutOfMemoryError("test: Java heap space"), "out of memory applying a"
                + " message from the flag server (snapshot of environment \"production\"); serving the flags held and"
                + " subscribing again");
    }

    private void failingOnceToApplyStartsANewStream(java.util.function.Supplier<Throwable> failure, String logged)
            throws Exception {
        failingToApplyStartsANewStream(1, failure, logged);
    }

    /**
     * The first {@code failures} snapshots fail to apply with {@code failure} (thrown by the clock the SDK reads as it
     * applies): after each, the SDK must subscribe again, from nothing; it must be live from the next one, and have
     * logged {@code logged} once, as an ERROR.
     */
    private void failingToApplyStartsANewStream(int failures, java.util.function.Supplier<Throwable> failure,
            String logged) throws Exception {
        AtomicBoolean armed = new AtomicBoolean();
        Clock failingOnce = failingOnceArmed(armed, failure);
        try (ScriptedSyncServer server = ScriptedSyncServer.start();
             Flags flags = client(server).clock(failingOnce).build()) {
            Subscription next = server.awaitSubscription();
            for (int i = 0; i < failures; i++) {
                armed.set(true);
                next.snapshot(5, doc("billing-v2", true, 1));
                next = server.awaitSubscription();
                assertThat(next.request.getFromVersion()).isZero(); // the snapshot was not applied
            }
            next.snapshot(5, doc("billing-v2", true, 1));
            assertThat(flags.awaitReady(WAIT)).isTrue();
            assertThat(flags.isEnabled("billing-v2", USER)).isTrue();
            assertThat(flags.freshness().source()).isEqualTo(Source.LIVE);
            assertThat(logs.lines(logged)).hasSize(1).allSatisfy(l -> assertThat(l).contains("ERROR"));
        }
    }

    @Test
    void aLargeDeltaAndASmallOneRightBehindItAreAppliedInOrder() throws Exception {
        // A delta of many flags is decoded on the background thread, the small one on the transport's.
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).build()) {
            Subscription sub = server.awaitSubscription();
            sub.snapshot(5, doc("flag-0", true, 1));
            assertThat(flags.awaitReady(WAIT)).isTrue();
            FlagDocument[] many = new FlagDocument[200];
            for (int i = 0; i < many.length; i++) {
                many[i] = doc("flag-" + i, i % 2 == 1, 2);
            }
            sub.delta(5, 6, many);
            sub.delta(6, 7, doc("flag-1", false, 3));
            Await.until("version 7", () -> flags.freshness().version() == 7);
            assertThat(flags.isEnabled("flag-0", USER)).isFalse();
            assertThat(flags.isEnabled("flag-1", USER)).isFalse();
            assertThat(flags.isEnabled("flag-3", USER)).isTrue();
            assertThat(flags.allFlags(USER)).hasSize(200);
            assertThat(server.subscribeCalls()).isEqualTo(1);
        }
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void manySdkInstancesShareOneBackgroundThreadAndOneListenerThread() throws Exception {
        List<Flags> instances = new ArrayList<>();
        BlockingQueue<String> heardOn = new LinkedBlockingQueue<>();
        try (ScriptedSyncServer server = ScriptedSyncServer.start()) {
            List<Subscription> subs = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                Flags f = client(server).build();
                instances.add(f);
                f.addListener("billing-v2", event -> {
                    if (event.change() == FlagChangeEvent.Change.UPDATED) {
                        heardOn.add(Thread.currentThread().getName());
                    }
                });
                subs.add(server.awaitSubscription().snapshot(5, doc("billing-v2", true, 3)));
            }
            for (Flags f : instances) {
                assertThat(f.awaitReady(WAIT)).isTrue();
            }
            subs.forEach(sub -> sub.delta(5, 6, doc("billing-v2", false, 4)));
            List<String> threads = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                threads.add(heardOn.poll(10, TimeUnit.SECONDS));
            }
            assertThat(threads).doesNotContainNull().allMatch(name -> name.startsWith("flags-events-"));
            assertThat(Set.copyOf(threads)).hasSize(1);
            for (Flags f : instances) {
                assertThat(f.isEnabled("billing-v2", USER)).isFalse();
            }
            assertThat(Thread.getAllStackTraces().keySet()).filteredOn(t -> t.getName().startsWith("flags-sync-"))
                    .hasSizeLessThanOrEqualTo(1).allSatisfy(t -> assertThat(t.isDaemon()).isTrue());
        } finally {
            instances.forEach(Flags::close);
        }
    }

    @Test
    void serverRestartKeepsServingThenResumesFromTheVersionHeldWithADelta() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).build()) {
            Subscription first = server.awaitSubscription();
            first.snapshot(5, doc("a", true, 1), doc("b", false, 1));
            assertThat(flags.awaitReady(WAIT)).isTrue();
            BlockingQueue<FlagChangeEvent> events = new LinkedBlockingQueue<>();
            flags.addListener(events::add);

            server.stop();
            // The stream is said down a moment before the flags are republished as stale (status first, for the
            // status listeners): await both, as an application polling freshness() would see them.
            Await.until("the stream is reported down and the flags stale",
                    () -> !flags.freshness().streamUp() && flags.freshness().source() == Source.STALE);
            // The SDK keeps serving what it had, and says it is stale.
            assertThat(flags.isEnabled("a", USER)).isTrue();
            FlagEvaluation stale = flags.evaluate("a", USER);
            assertThat(stale.source()).isEqualTo(Source.STALE);
            assertThat(stale.version()).isEqualTo(5);
            assertThat(flags.freshness().problem()).isPresent(); // CANCELLED or UNAVAILABLE, as the connection broke
            assertThat(flags.health().status()).isEqualTo(Health.Status.DEGRADED);
            assertThat(flags.health().detail()).contains("stale");

            server.startAgain();
            Subscription resumed = server.awaitSubscription();
            assertThat(resumed.request.getFromVersion()).isEqualTo(5);
            resumed.delta(5, 6, doc("b", true, 2)); // only what is missing: no snapshot

            assertThat(events.poll(10, TimeUnit.SECONDS)).isEqualTo(
                    new FlagChangeEvent("b", FlagChangeEvent.Change.UPDATED, 6, Source.LIVE));
            assertThat(flags.isEnabled("b", USER)).isTrue();
            FlagEvaluation live = flags.evaluate("a", USER);
            assertThat(live.source()).isEqualTo(Source.LIVE);
            assertThat(live.version()).isEqualTo(6);
            assertThat(live.flagVersion()).isEqualTo(1);
            assertThat(flags.health().status()).isEqualTo(Health.Status.UP);
            assertThat(events).isEmpty(); // "a" was not reloaded

            // One line on connect, one on loss, one on recovery; retries in between are quiet.
            assertThat(logs.lines("flags: connected to")).hasSize(1);
            assertThat(logs.lines("lost the stream")).hasSize(1);
            assertThat(logs.lines("reconnected to")).hasSize(1);
            assertThat(logs.lines("reconnected to").get(0)).contains("a delta from version 5");
            assertThat(logs.lines(" WARN ")).hasSize(1);
        }
    }

    @Test
    void theServersStateTagIsSentBackWhenResubscribingAndKeptInTheCacheFile() throws Exception {
        Path cache = tmp.resolve("tagged.cache");
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).cacheFile(cache).build()) {
            Subscription first = server.awaitSubscription();
            assertThat(first.request.getFromStateTag()).as("nothing held yet").isZero();
            first.send(SyncMessage.newBuilder().setSnapshot(Snapshot.newBuilder().setEnvironment("production").setVersion(5)
                    .setStateTag(0xAAAAL).addFlags(doc("a", true, 1))).build());
            assertThat(flags.awaitReady(WAIT)).isTrue();
            first.send(SyncMessage.newBuilder().setDelta(Delta.newBuilder().setFromVersion(5).setVersion(6)
                    .setStateTag(0xBBBBL).addUpserted(doc("b", true, 6))).build());
            Await.until("the delta is applied", () -> flags.freshness().version() == 6);
            first.fail(Status.UNAVAILABLE);
            Subscription second = server.awaitSubscription();
            assertThat(second.request.getFromVersion()).isEqualTo(6);
            assertThat(second.request.getFromStateTag()).as("the tag of the version held").isEqualTo(0xBBBBL);
            Await.until("the cache file has version 6", () -> cacheHas(cache, "version: 6"));
        }
        assertThat(Files.readString(cache)).contains("state-tag: 000000000000bbbb");
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).cacheFile(cache).build()) {
            Subscription fromCache = server.awaitSubscription();
            assertThat(fromCache.request.getFromVersion()).isEqualTo(6);
            assertThat(fromCache.request.getFromStateTag()).as("the cache file's tag").isEqualTo(0xBBBBL);
            assertThat(flags.isEnabled("b", USER)).isTrue();
        }
    }

    @Test
    void theStreamsEndWaitsForASnapshotBeingAppliedOnTheBackgroundThreadNotOnTheTransportsThread() throws Exception {
        java.util.concurrent.CountDownLatch applying = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).listenerExecutor(Runnable::run).build()) {
            // A snapshot is applied on the background thread, under the stream's lock; this listener keeps it there, as the
            // decode of a snapshot of many flags does for a second or more.
            flags.addListener("a", e -> {
                applying.countDown();
                try {
                    release.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                }
            });
            Subscription stream = server.awaitSubscription();
            stream.snapshot(5, doc("a", true, 1));
            assertThat(applying.await(10, TimeUnit.SECONDS)).isTrue();
            stream.fail(Status.UNAVAILABLE.withDescription("going away"));
            // The stream's end must not wait for that lock on gRPC's transport thread, which the application's other
            // connections share (QA64 F2): looked for over a second (no event says the end was taken elsewhere).
            boolean transportBlocked = false;
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
            while (!transportBlocked && System.nanoTime() < until) {
                transportBlocked = Thread.getAllStackTraces().entrySet().stream().anyMatch(t ->
                        t.getKey().getState() == Thread.State.BLOCKED && java.util.Arrays.stream(t.getValue()).anyMatch(e ->
                                e.getClassName().startsWith("dev.flags.client.internal.Syncer") && e.getMethodName().equals("failed")));
                java.util.concurrent.locks.LockSupport.parkNanos(2_000_000);
            }
            release.countDown();
            assertThat(transportBlocked).as("the transport's thread blocked behind the snapshot").isFalse();
            assertThat(server.awaitSubscription().request.getFromVersion()).as("the end taken, once the snapshot was applied")
                    .isEqualTo(5);
        }
    }

    @Test
    void anotherStateAtTheSameVersionIsWrittenToTheCacheFileToo() throws Exception {
        Path cache = tmp.resolve("restored.cache");
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).cacheFile(cache).build()) {
            Subscription first = server.awaitSubscription();
            first.send(SyncMessage.newBuilder().setSnapshot(Snapshot.newBuilder().setEnvironment("production").setVersion(5)
                    .setStateTag(0xAAAAL).addFlags(doc("a", true, 1))).build());
            assertThat(flags.awaitReady(WAIT)).isTrue();
            Await.until("the cache file has version 5", () -> cacheHas(cache, "state-tag: 000000000000aaaa"));
            // The server restored from another journal: the same version, other flags (QA64 F5: not written, as the version
            // was the same, so a restart during an outage served flags this server never had at that version).
            first.fail(Status.UNAVAILABLE);
            server.awaitSubscription().send(SyncMessage.newBuilder().setSnapshot(Snapshot.newBuilder().setEnvironment("production")
                    .setVersion(5).setStateTag(0xCCCCL).addFlags(doc("a", false, 1))).build());
            Await.until("the other state is served", () -> !flags.isEnabled("a", USER));
            Await.until("and cached", () -> cacheHas(cache, "state-tag: 000000000000cccc"));
        }
        try (Flags fromCache = Flags.builder().target("127.0.0.1:1").plaintext().sdkToken(TOKEN).environment("production")
                .cacheFile(cache).build()) {
            assertThat(fromCache.evaluate("a", USER).source()).isEqualTo(Source.CACHE_FILE);
            assertThat(fromCache.isEnabled("a", USER)).isFalse();
        }
    }

    @Test
    void aCacheFileThatLeftOutFlagsItsWriterCouldNotReadIsServedButNotResumedFrom() throws Exception {
        Path cache = tmp.resolve("partial.cache");
        FlagDocument future = FlagDocument.newBuilder().setKey("future")
                .setJson("{\"key\": \"future\", \"enabled\": true, \"quantumState\": 1}").build();
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).cacheFile(cache).build()) {
            server.awaitSubscription().send(SyncMessage.newBuilder().setSnapshot(Snapshot.newBuilder().setEnvironment("production")
                    .setVersion(5).setStateTag(0xAAAAL).addFlags(doc("a", true, 1)).addFlags(future)).build());
            assertThat(flags.awaitReady(WAIT)).isTrue();
            Await.until("the cache file is written", () -> cacheHas(cache, "version: 5"));
        }
        assertThat(Files.readString(cache)).as("named, not kept").contains("\nunreadable: future\n");
        // The next start (a newer SDK, which may read it): the file is served, but its version is not the whole state.
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).cacheFile(cache).build()) {
            Subscription fromCache = server.awaitSubscription();
            assertThat(fromCache.request.getFromVersion()).as("a whole snapshot, not \"up to date\"").isZero();
            assertThat(fromCache.request.getFromStateTag()).isZero();
            assertThat(flags.isEnabled("a", USER)).as("served from the file meanwhile").isTrue();
            FlagEvaluation left = flags.evaluate("future", USER, true);
            assertThat(left.reason().kind()).as("as it was answered before: an error, not an unknown flag")
                    .isEqualTo(Reason.Kind.ERROR);
            assertThat(left.reason().detail()).contains("left out of cache file " + cache);
        }
    }

    private static boolean cacheHas(Path cache, String text) {
        try {
            return Files.exists(cache) && Files.readString(cache).contains(text);
        } catch (java.io.IOException e) {
            return false; // between the rename and the read: look again
        }
    }

    @Test
    void aDirectStatusListenerToldLiveFindsTheSdkReady() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start();
             Flags flags = client(server).listenerExecutor(Runnable::run).build()) {
            List<Boolean> readyWhenLive = new java.util.concurrent.CopyOnWriteArrayList<>();
            flags.addStatusListener(f -> {
                if (f.source() == Source.LIVE) {
                    readyWhenLive.add(flags.awaitReady(Duration.ZERO)); // the QA pass's listener waited 3 s here
                }
            });
            server.awaitSubscription().snapshot(3, doc("a", true, 1));
            Await.until("the listener heard LIVE", () -> !readyWhenLive.isEmpty());
            assertThat(readyWhenLive).containsExactly(true);
        }
    }

    @Test
    void unreachableAtStartWithoutCacheServesDefaultsThenConnects() throws Exception {
        ScriptedSyncServer server = ScriptedSyncServer.notStarted();
        try (server; Flags flags = client(server).build()) {
            FlagEvaluation e = flags.evaluate("a", USER, true);
            assertThat(e.value()).isTrue();
            assertThat(e.source()).isEqualTo(Source.DEFAULTS);
            assertThat(flags.isEnabled("a", USER, true)).isTrue();
            Await.until("the failure is reported", () -> flags.freshness().problem().isPresent()
                    && flags.freshness().problem().get().contains("UNAVAILABLE"));
            assertThat(flags.health().status()).isEqualTo(Health.Status.DOWN);
            assertThat(flags.health().detail()).contains("no flags");
            assertThat(flags.awaitReady(Duration.ofMillis(50))).isFalse();

            server.startAgain();
            Subscription sub = server.awaitSubscription();
            assertThat(sub.request.getFromVersion()).isZero();
            sub.snapshot(1, doc("a", false, 1));
            assertThat(flags.awaitReady(WAIT)).isTrue();
            assertThat(flags.isEnabled("a", USER, true)).isFalse();
            assertThat(logs.lines("cannot reach the flag server")).hasSize(1);
            assertThat(logs.lines("flags: connected to")).hasSize(1);
            assertThat(logs.lines("flags: connected to").get(0)).contains(" after ");
        }
    }

    @Test
    void aServerWithNoRoomForTheStreamIsNotReportedAsUnreachable() throws Exception {
        ScriptedSyncServer server = ScriptedSyncServer.start();
        // What the server answers past --max-sync-streams-per-token: reached, and turned away for now.
        server.refuse(io.grpc.Status.RESOURCE_EXHAUSTED.withDescription("this token has 20 sync streams open"));
        try (server; Flags flags = client(server).build()) {
            Await.until("the refusal is reported", () -> flags.freshness().problem().isPresent()
                    && flags.freshness().problem().get().contains("RESOURCE_EXHAUSTED"));
            // The status is set before the answers' note (status listeners read it as the note is published): both come.
            Await.until("the answers say why", () -> flags.evaluate("a", USER, true).reason().detail().contains("no room"));
            assertThat(flags.evaluate("a", USER, true).reason().detail())
                    .startsWith("no flags yet: the flag server has no room for this SDK's stream now (RESOURCE_EXHAUSTED");
            Await.until("the log line", () -> !logs.lines("has no room").isEmpty());
            assertThat(logs.lines("has no room").get(0)).contains("WARN")
                    .contains("the flag server at " + server.target() + " has no room for this SDK's stream now");
            assertThat(logs.lines("cannot reach")).isEmpty();
            assertThat(flags.freshness().refused()).as("retried with the backoff: others' streams may end").isFalse();
        }
    }

    @Test
    void aCacheFileThatCannotBeWrittenIsInHealthFreshnessAndStatusUntilItIsWrittenAgain() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("cache-dir"));
        Path cache = dir.resolve("flags.cache");
        BlockingQueue<Freshness> statuses = new LinkedBlockingQueue<>();
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).cacheFile(cache).build()) {
            Files.delete(dir); // checked by build(), gone since (a cleaned-up temporary directory, say)
            Subscription sub = server.awaitSubscription();
            sub.snapshot(3, doc("a", true, 1));
            assertThat(flags.awaitReady(WAIT)).isTrue();
            Await.until("the failed cache write is reported", () -> flags.freshness().cacheFileProblem().isPresent());
            // The same text at every retry (status pages and alerts compare it): not the temporary file's random name.
            assertThat(flags.freshness().cacheFileProblem().get())
                    .isEqualTo("cannot write the cache file " + cache + ": NoSuchFileException");
            assertThat(flags.freshness().problem()).as("the stream is fine").isEmpty();
            assertThat(flags.evaluate("a", USER).source()).isEqualTo(Source.LIVE);
            Health degraded = flags.health();
            assertThat(degraded.status()).isEqualTo(Health.Status.DEGRADED);
            assertThat(degraded.detail()).startsWith("live: version 3, stream up; cannot write the cache file")
                    .endsWith("(a restart while the flag server is unreachable would start without flags)");
            flags.addStatusListener(statuses::add);
            assertThat(statuses.poll(10, TimeUnit.SECONDS).cacheFileProblem()).isPresent();

            Files.createDirectories(dir);
            sub.heartbeat(3, 15_000); // a quiet environment: the next heartbeat tries again
            // The listener may also have been told of the failure twice: it can be added between the failure
            // being recorded (what the await above saw) and the SDK telling its listeners.
            Freshness told;
            do {
                told = statuses.poll(10, TimeUnit.SECONDS);
                assertThat(told).as("told when it is written again").isNotNull();
            } while (told.cacheFileProblem().isPresent());
            assertThat(told.source()).isEqualTo(Source.LIVE);
            assertThat(flags.freshness().cacheFileProblem()).isEmpty();
            assertThat(flags.health().status()).isEqualTo(Health.Status.UP);
            assertThat(Files.readString(cache)).contains("version: 3\n");
            sub.delta(3, 4, doc("a", false, 2));
            Await.until("the change is in the cache file", () -> {
                try {
                    return Files.readString(cache).contains("version: 4\n");
                } catch (java.io.IOException e) {
                    return false; // replaced while read
                }
            });
            assertThat(logs.lines("cannot write cache file")).singleElement().asString().contains("WARN");
            assertThat(logs.lines("written again")).hasSize(1);
        }
    }

    @Test
    void unreachableAtStartWithCacheFileServesTheCacheThenResumesFromItsVersion() throws Exception {
        Path cache = tmp.resolve("flags.cache");
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).cacheFile(cache).build()) {
            server.awaitSubscription().snapshot(9, doc("a", true, 4), doc("b", false, 2));
            assertThat(flags.awaitReady(WAIT)).isTrue();
        } // close() writes a cache write still queued
        assertThat(Files.readString(cache)).startsWith("flags-cache 2\nenvironment: production\nversion: 9\n");

        ScriptedSyncServer down = ScriptedSyncServer.notStarted();
        try (down; Flags flags = client(down).cacheFile(cache).build()) {
            // At once, before any network: the cached snapshot, and the reason says so.
            FlagEvaluation e = flags.evaluate("a", USER);
            assertThat(e.value()).isTrue();
            assertThat(e.source()).isEqualTo(Source.CACHE_FILE);
            assertThat(e.version()).isEqualTo(9);
            assertThat(e.flagVersion()).isEqualTo(4);
            assertThat(flags.health().status()).isEqualTo(Health.Status.DEGRADED);
            BlockingQueue<FlagChangeEvent> events = new LinkedBlockingQueue<>();
            flags.addListener(events::add);
            Await.until("the failure is reported", () -> flags.freshness().problem()
                    .filter(p -> p.contains("UNAVAILABLE")).isPresent());
            assertThat(flags.evaluate("a", USER).source()).isEqualTo(Source.CACHE_FILE);
            // how old the copy is: five minutes and five months differ during an outage at start
            String writtenAt = Files.readAllLines(cache).stream().filter(l -> l.startsWith("written-at: ")).findFirst()
                    .orElseThrow().substring("written-at: ".length());
            assertThat(flags.freshness().problem()).hasValueSatisfying(p -> assertThat(p)
                    .endsWith("; serving cache file " + cache + " written at " + java.time.Instant.parse(writtenAt)));
            assertThat(flags.health().detail()).startsWith("cache file: version 9, the flag server has not been reached yet")
                    .contains("written at " + java.time.Instant.parse(writtenAt));
            assertThat(logs.lines("cannot reach the flag server").get(0)).contains("cached version 9");

            down.startAgain();
            Subscription sub = down.awaitSubscription();
            assertThat(sub.request.getFromVersion()).isEqualTo(9);
            sub.heartbeat(9, 15_000); // nothing is missing
            assertThat(flags.awaitReady(WAIT)).isTrue();
            assertThat(flags.evaluate("a", USER).source()).isEqualTo(Source.LIVE);
            assertThat(flags.freshness().version()).isEqualTo(9);
            assertThat(events).isEmpty(); // no flag changed: no reload
        }
    }

    @Test
    void aDocumentUnderAKeyNoFlagCanHaveNeitherSplitsALogLineNorSpoilsTheCacheFile() throws Exception {
        // A server or proxy that sends a document under a key with line breaks: the key went into the log line as it was,
        // and into the cache file's header, which it split, so that the next start refused the file as torn and served
        // defaults through an outage. The file now names no such key and says version 0 (a whole snapshot at the next sync).
        Path cache = tmp.resolve("flags.cache");
        try (ScriptedSyncServer server = ScriptedSyncServer.start();
             Flags flags = client(server).cacheFile(cache).build()) {
            FlagDocument odd = FlagDocument.newBuilder().setKey("odd\n\nforged: line")
                    .setJson("{\"key\": \"odd\", \"enabled\": true}").build();
            server.awaitSubscription().snapshot(3, doc("billing-v2", true, 1), odd);
            assertThat(flags.awaitReady(WAIT)).isTrue();
            Await.until("the cache file written", () -> Files.exists(cache));
        }
        assertThat(logs.lines("forged: line")).singleElement().asString().contains("cannot read flag \"odd\\u000a\\u000aforged: line\"");
        try (ScriptedSyncServer down = ScriptedSyncServer.notStarted();
             Flags restarted = client(down).cacheFile(cache).build()) {
            assertThat(restarted.freshness().source()).isEqualTo(Source.CACHE_FILE);
            assertThat(restarted.isEnabled("billing-v2", USER)).isTrue();
        }
        assertThat(logs.text()).doesNotContain("ignoring cache file");
    }

    @Test
    void aCorruptCacheFileIsIgnoredWithAWarning() throws Exception {
        Path cache = tmp.resolve("flags.cache");
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).cacheFile(cache).build()) {
            server.awaitSubscription().snapshot(9, doc("a", true, 4));
            assertThat(flags.awaitReady(WAIT)).isTrue();
        }
        // Torn: the end of the file is missing.
        byte[] bytes = Files.readAllBytes(cache);
        Files.write(cache, java.util.Arrays.copyOf(bytes, bytes.length - 20));

        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).cacheFile(cache).build()) {
            FlagEvaluation e = flags.evaluate("a", USER);
            assertThat(e.source()).isEqualTo(Source.DEFAULTS);
            assertThat(e.value()).isFalse();
            assertThat(e.reason().detail()).contains("was ignored").contains("MAC");
            assertThat(logs.lines("ignoring cache file")).hasSize(1);
            assertThat(logs.lines("ignoring cache file").get(0)).contains("WARN").contains("torn, edited, or written with another sdk token");
            assertThat(server.awaitSubscription().request.getFromVersion()).isZero();
        }
        // With the server down too, its failure is added to why the cache file could not stand in, not put in its place
        ScriptedSyncServer down = ScriptedSyncServer.notStarted();
        try (down; Flags flags = client(down).cacheFile(cache).build()) {
            // (the status is set a moment before the flags' note that adds the cause; awaited for both)
            Await.until("the failure is reported", () -> flags.freshness().problem()
                    .filter(p -> p.contains("UNAVAILABLE") && p.contains("was ignored")).isPresent());
            assertThat(flags.freshness().problem()).hasValueSatisfying(p -> assertThat(p)
                    .startsWith("UNAVAILABLE").contains(", and cache file " + cache
                            + " was ignored: it ").contains("MAC"));
            assertThat(flags.health().detail()).contains("UNAVAILABLE").contains("was ignored");
        }
    }

    @Test
    void aCacheFileOfAnotherEnvironmentIsIgnored() throws Exception {
        Path cache = tmp.resolve("flags.cache");
        try (ScriptedSyncServer server = ScriptedSyncServer.start();
             Flags flags = client(server).environment("staging").cacheFile(cache).build()) {
            server.awaitSubscription().snapshot(3, doc("a", true, 1));
            assertThat(flags.awaitReady(WAIT)).isTrue();
        }
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).cacheFile(cache).build()) {
            assertThat(flags.evaluate("a", USER).source()).isEqualTo(Source.DEFAULTS);
            assertThat(logs.lines("ignoring cache file").get(0))
                    .contains("was written for environment \"staging\", not \"production\"");
            assertThat(server.awaitSubscription().request.getFromVersion()).isZero();
        }
    }

    /** Version 5 served, then a delta from 7 (6 and 7 never came): returns the stream the SDK asked for again. */
    private static Subscription firstGap(ScriptedSyncServer server, Flags flags) throws Exception {
        Subscription sub = server.awaitSubscription();
        sub.snapshot(5, doc("a", true, 1));
        assertThat(flags.awaitReady(WAIT)).isTrue();
        sub.delta(7, 8, doc("a", false, 2));
        return server.awaitSubscription();
    }

    @Test
    void aVersionGapMakesTheSdkSubscribeAgainFromWhatItHas() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).build()) {
            Subscription sub = server.awaitSubscription();
            sub.snapshot(5, doc("a", true, 1));
            assertThat(flags.awaitReady(WAIT)).isTrue();

            sub.delta(7, 8, doc("a", false, 2)); // versions 6 and 7 never came
            Subscription again = server.awaitSubscription();
            assertThat(again.request.getFromVersion()).isEqualTo(5);
            assertThat(sub.awaitCancelled(WAIT)).isTrue();
            assertThat(flags.isEnabled("a", USER)).isTrue(); // the gapped delta was not applied

            again.delta(5, 8, doc("a", false, 2));
            Await.until("version 8", () -> flags.freshness().version() == 8);
            assertThat(flags.isEnabled("a", USER)).isFalse();
            assertThat(logs.lines("lost the stream")).isEmpty(); // a gap is not an outage
        }
    }

    @Test
    void aServerThatKeepsSendingGapsIsAnOutageNotASilentlyFrozenLiveCopy() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).build()) {
            Subscription again = firstGap(server, flags); // subscribed again at once, quietly
            assertThat(flags.evaluate("a", USER).source()).isEqualTo(Source.LIVE);
            again.delta(7, 8, doc("a", false, 2)); // and the stream asked from version 5 does it again
            assertThat(again.awaitCancelled(WAIT)).isTrue();
            // The stream is said down a moment before the flags are republished as stale (status first, for the
            // status listeners): await both, as an application polling freshness() would see them.
            Await.until("the stream is reported down and the flags stale",
                    () -> !flags.freshness().streamUp() && flags.freshness().source() == Source.STALE);
            FlagEvaluation stale = flags.evaluate("a", USER);
            assertThat(stale.source()).isEqualTo(Source.STALE);
            assertThat(stale.value()).isTrue();
            assertThat(flags.health().status()).isEqualTo(Health.Status.DEGRADED);
            assertThat(flags.freshness().problem()).hasValue("INTERNAL: the flag server sent a delta from version 7 to 8"
                    + " on a stream asked from version 5, 2 times in a row; not applied");
            assertThat(logs.lines("answered wrongly")).singleElement().asString().contains("WARN")
                    .contains("flags: the flag server at " + server.target() + " answered wrongly (INTERNAL: the flag server"
                            + " sent a delta from version 7 to 8");

            Subscription third = server.awaitSubscription(); // retried after a backoff
            assertThat(third.request.getFromVersion()).isEqualTo(5);
            third.delta(5, 8, doc("a", false, 2));
            Await.until("version 8", () -> flags.freshness().version() == 8);
            assertThat(flags.evaluate("a", USER).source()).isEqualTo(Source.LIVE);
            assertThat(flags.health().status()).isEqualTo(Health.Status.UP);
            assertThat(logs.lines("reconnected to")).singleElement().asString().contains("a delta from version 5");
        }
    }

    /**
     * QA76 F3: a Heartbeat of the version held ("up to date") does not end a run of gaps, only a version that moves
     * does: a server that answers each new stream with one and then a gapped delta again is an outage, not a stream
     * resubscribed to at once, forever, while the frozen copy is called live.
     */
    @Test
    void aGapAgainAfterAHeartbeatOfTheVersionHeldIsStillAnOutage() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).build()) {
            Subscription again = firstGap(server, flags); // subscribed again at once, quietly
            again.heartbeat(5, 15_000); // "up to date"
            again.delta(7, 8, doc("a", false, 2)); // ... and the same gap again
            Subscription third = server.awaitSubscription();
            // lost() publishes the stale state before it schedules the next attempt: no need to wait for it.
            assertThat(flags.freshness().source()).isEqualTo(Source.STALE);
            assertThat(flags.freshness().problem()).hasValue("INTERNAL: the flag server sent a delta from version 7 to 8"
                    + " on a stream asked from version 5, 2 times in a row; not applied");
            assertThat(logs.lines("answered wrongly")).hasSize(1);

            // A version that moves ends the run: the next gap is a first one again, resubscribed to at once, quietly.
            assertThat(third.request.getFromVersion()).isEqualTo(5);
            third.delta(5, 6, doc("a", false, 2));
            Await.until("version 6", () -> flags.freshness().version() == 6);
            third.delta(8, 9, doc("a", true, 3));
            Subscription fourth = server.awaitSubscription();
            assertThat(fourth.request.getFromVersion()).isEqualTo(6);
            assertThat(flags.freshness().source()).isEqualTo(Source.LIVE);
            assertThat(logs.lines("answered wrongly")).hasSize(1);
        }
    }

    @Test
    void aHeartbeatAtAnotherVersionAlsoMeansAGap() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).build()) {
            Subscription sub = server.awaitSubscription();
            sub.snapshot(5, doc("a", true, 1));
            assertThat(flags.awaitReady(WAIT)).isTrue();
            sub.heartbeat(6, 15_000);
            assertThat(server.awaitSubscription().request.getFromVersion()).isEqualTo(5);
        }
    }

    @Test
    void aSilentStreamIsTreatedAsDeadAfterAFewHeartbeatIntervals() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).build()) {
            Subscription sub = server.awaitSubscription();
            // Taken before the snapshot is sent, so that the SDK heard its last message after it: taken once
            // awaitReady returned, it was late by however long this thread took to wake, and the silence seen
            // from here could be shorter than the SDK's.
            long quietSince = System.nanoTime();
            sub.snapshot(3, 100, List.of(doc("a", true, 1)), Map.of());
            assertThat(flags.awaitReady(WAIT)).isTrue();

            // The server says nothing more, though it promised a heartbeat every 100 ms.
            Subscription again = server.awaitSubscription(Duration.ofSeconds(5));
            long detectedAfterMillis = (System.nanoTime() - quietSince) / 1_000_000;
            assertThat(detectedAfterMillis).isGreaterThanOrEqualTo(250);
            assertThat(again.request.getFromVersion()).isEqualTo(3);
            assertThat(sub.awaitCancelled(WAIT)).isTrue();
            assertThat(logs.lines("lost the stream")).hasSize(1);
            assertThat(logs.lines("lost the stream").get(0)).contains("no message for").contains("every 100 ms");
            assertThat(flags.isEnabled("a", USER)).isTrue();

            again.heartbeat(3, 100);
            Await.until("live again", () -> flags.evaluate("a", USER).source() == Source.LIVE);
            assertThat(logs.lines("reconnected to")).hasSize(1);
        }
    }

    @Test
    void aSilentStreamOnAConnectionThatPassesNothingIsReplacedOverANewConnection() throws Exception {
        // QA60 F1: a stuck proxy keeps the connection open and passes nothing. A new stream on it was as silent, for good.
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); SlowLink link = SlowLink.start(server.port(), Long.MAX_VALUE);
             Flags flags = Flags.builder().target(link.target()).plaintext().sdkToken("flg_sdk_sync-test")
                     .environment("production").initialBackoff(Duration.ofMillis(20)).maxBackoff(Duration.ofMillis(100))
                     .build()) {
            Subscription sub = server.awaitSubscription();
            sub.snapshot(3, 100, List.of(doc("a", true, 1)), Map.of()); // heartbeats every 100 ms: silent for 300 ms is dead
            assertThat(flags.awaitReady(WAIT)).isTrue();

            link.stallConnections();
            Subscription again = server.awaitSubscription(Duration.ofSeconds(10));
            assertThat(link.connections()).isEqualTo(2);
            assertThat(again.request.getFromVersion()).isEqualTo(3);
            again.delta(3, 4, doc("a", false, 2));
            Await.until("the change, over the new connection", () -> !flags.isEnabled("a", USER));
            assertThat(flags.evaluate("a", USER).source()).isEqualTo(Source.LIVE);
        }
    }

    @Test
    void heartbeatsKeepAQuietStreamAlive() throws Exception {
        ScheduledExecutorService beat = Executors.newSingleThreadScheduledExecutor();
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).build()) {
            Subscription sub = server.awaitSubscription();
            sub.snapshot(3, 100, List.of(doc("a", true, 1)), Map.of());
            assertThat(flags.awaitReady(WAIT)).isTrue();
            beat.scheduleAtFixedRate(() -> sub.heartbeat(3, 100), 50, 50, TimeUnit.MILLISECONDS);

            // Eight heartbeat intervals pass: the stream is never replaced.
            assertThat(server.pollSubscription(Duration.ofMillis(800))).isNull();
            assertThat(flags.freshness().streamUp()).isTrue();
            assertThat(logs.lines("lost the stream")).isEmpty();
        } finally {
            beat.shutdownNow();
        }
    }

    @Test
    void aWaitingKeepsTheStreamButTheFlagsAreStaleUntilTheChangeComes() throws Exception {
        ScheduledExecutorService beat = Executors.newSingleThreadScheduledExecutor();
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).build()) {
            Subscription sub = server.awaitSubscription();
            sub.snapshot(3, 100, List.of(doc("a", true, 1)), Map.of());
            assertThat(flags.awaitReady(WAIT)).isTrue();
            // A large change the server cannot send yet: it says so each heartbeat interval.
            beat.scheduleAtFixedRate(() -> sub.waiting(100), 0, 50, TimeUnit.MILLISECONDS);

            Await.until("stale", () -> flags.evaluate("a", USER).source() == Source.STALE);
            assertThat(server.pollSubscription(Duration.ofMillis(800))).as("eight intervals: the stream is kept").isNull();
            Freshness f = flags.freshness();
            assertThat(f.source()).isEqualTo(Source.STALE);
            assertThat(f.streamUp()).isTrue();
            assertThat(f.problem()).hasValueSatisfying(p -> assertThat(p).contains("send buffer"));
            assertThat(flags.health().status()).isEqualTo(Health.Status.DEGRADED);
            assertThat(flags.health().detail()).contains("stream to the flag server is up").contains("send buffer");
            assertThat(flags.isEnabled("a", USER)).isTrue();
            assertThat(logs.lines("waiting for room in its send buffer")).singleElement().asString()
                    .contains("a change").contains("version 3 from memory");
            assertThat(logs.lines("lost the stream")).isEmpty();

            beat.shutdownNow();
            assertThat(beat.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
            sub.delta(3, 4, doc("a", false, 2));
            Await.until("live again", () -> flags.evaluate("a", USER).source() == Source.LIVE);
            assertThat(flags.isEnabled("a", USER)).isFalse();
            assertThat(flags.freshness().problem()).isEmpty();
        } finally {
            beat.shutdownNow();
        }
    }

    @Test
    void aWaitingBeforeAnyFlagsSaysWhyTheAnswersAreDefaults() throws Exception {
        ScheduledExecutorService beat = Executors.newSingleThreadScheduledExecutor();
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).build()) {
            Subscription sub = server.awaitSubscription();
            beat.scheduleAtFixedRate(() -> sub.waiting(100), 0, 50, TimeUnit.MILLISECONDS);

            Await.until("the reason", () -> flags.evaluate("a", USER).reason().detail().contains("send buffer"));
            assertThat(server.pollSubscription(Duration.ofMillis(800))).as("the stream is kept").isNull();
            assertThat(flags.evaluate("a", USER).source()).isEqualTo(Source.DEFAULTS);
            assertThat(flags.evaluate("a", USER).reason().detail()).contains("has not sent the flags yet");
            assertThat(flags.freshness().streamUp()).isTrue();
            assertThat(flags.awaitReady(Duration.ofMillis(1))).as("not ready: no flags yet").isFalse();
            assertThat(logs.lines("waiting for room in its send buffer")).singleElement().asString()
                    .contains("the flags").contains("defaults");

            beat.shutdownNow();
            assertThat(beat.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
            sub.snapshot(7, 100, List.of(doc("a", true, 1)), Map.of());
            assertThat(flags.awaitReady(WAIT)).isTrue();
            assertThat(flags.isEnabled("a", USER)).isTrue();
            assertThat(logs.lines("connected to")).singleElement().asString().contains("version 7");
        } finally {
            beat.shutdownNow();
        }
    }

    /** A cache file written by an SDK that synced version 4, with flag "a" on. */
    private Path cacheAtVersion4(String name) throws Exception {
        Path cache = tmp.resolve(name);
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).cacheFile(cache).build()) {
            server.awaitSubscription().snapshot(4, doc("a", true, 1));
            assertThat(flags.awaitReady(WAIT)).isTrue();
            Await.until("the cache file has version 4", () -> cacheHas(cache, "version: 4"));
        }
        return cache;
    }

    @Test
    void aWaitingWhileServingTheCacheFileSaysTheServerIsReached() throws Exception {
        Path cache = cacheAtVersion4("waiting.cache");
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).cacheFile(cache).build()) {
            Subscription sub = server.awaitSubscription();
            assertThat(flags.health().detail()).contains("has not been reached yet");
            sub.waiting(15_000);
            Await.until("waiting", () -> flags.freshness().streamUp());
            assertThat(flags.freshness().source()).isEqualTo(Source.CACHE_FILE);
            assertThat(flags.health().detail()).startsWith("cache file: version 4, the stream to the flag server is up")
                    .contains("send buffer");
            assertThat(logs.lines("waiting for room in its send buffer")).singleElement().asString()
                    .contains("cached version 4");
            assertThat(flags.isEnabled("a", USER)).isTrue();
        }
    }

    @Test
    void aRefusalWhileServingTheCacheFileSaysTheServerRefusesNotThatItWasNotReached() throws Exception {
        Path cache = cacheAtVersion4("refused.cache");
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).cacheFile(cache).build()) {
            server.awaitSubscription().fail(Status.UNAUTHENTICATED.withDescription("the token was revoked"));
            Await.until("refused", () -> flags.freshness().refused());
            assertThat(flags.health().detail()).startsWith("cache file: version 4, the flag server refuses this SDK")
                    .contains("the token was revoked").doesNotContain("not been reached");
            assertThat(flags.isEnabled("a", USER)).isTrue();
        }
    }

    @Test
    void aSnapshotStillArrivingOverASlowLinkIsNotTakenForASilentStream() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); SlowLink link = SlowLink.start(server.port(), 256 * 1024);
             Flags flags = Flags.builder().target(link.target()).plaintext().sdkToken("flg_sdk_sync-test")
                     .environment("production").initialBackoff(Duration.ofMillis(20)).maxBackoff(Duration.ofMillis(100))
                     .build()) {
            Subscription sub = server.awaitSubscription();
            // Heartbeats every 100 ms: a stream silent for 300 ms is dead.
            sub.snapshot(1, 100, List.of(doc("a", true, 1)), Map.of());
            assertThat(flags.awaitReady(WAIT)).isTrue();
            sub.fail(Status.UNAVAILABLE);
            Subscription again = server.awaitSubscription();

            // About 1.5 MB: some six seconds over the link, twenty times the silence limit.
            List<FlagDocument> many = new ArrayList<>();
            for (int i = 0; i < 750; i++) {
                many.add(Fixtures.doc(new Flag("f-" + i, "x".repeat(2_000), true, null, List.of(), List.of(), List.of(),
                        true, 2)));
            }
            long start = System.nanoTime();
            again.snapshot(2, 100, many, Map.of());
            Await.until("the whole snapshot", () -> flags.freshness().version() == 2, Duration.ofSeconds(60));
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as("it took many heartbeat intervals to arrive")
                    .isGreaterThan(Duration.ofSeconds(1));
            assertThat(server.subscribeCalls()).as("the stream was kept while it arrived").isEqualTo(2);
            assertThat(flags.isEnabled("f-749", USER)).isTrue();
        }
    }

    @Test
    void aRefusedTokenIsLoggedOnceAndRetriedSlowly() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start()) {
            server.refuse(Status.UNAUTHENTICATED.withDescription("unknown token"));
            try (Flags flags = client(server).maxBackoff(Duration.ofMillis(150)).build()) {
                long start = System.nanoTime();
                assertThat(flags.awaitReady(WAIT)).isFalse(); // returns as soon as the server refuses
                assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
                Await.until("three attempts", () -> server.subscribeCalls() >= 4);

                List<Long> times = server.subscribeTimes();
                List<Long> gaps = new ArrayList<>();
                for (int i = 1; i < times.size(); i++) {
                    gaps.add((times.get(i) - times.get(i - 1)) / 1_000_000);
                }
                // At the longest backoff (150 ms, jittered to no less than half of it), not the 20 ms initial one.
                assertThat(gaps).allSatisfy(g -> assertThat(g).isGreaterThanOrEqualTo(50));
                assertThat(logs.lines("refused this SDK")).hasSize(1);
                assertThat(logs.lines("refused this SDK").get(0)).contains("ERROR").contains("UNAUTHENTICATED")
                        .contains("unknown token").doesNotContain("check the sdk token"); // the server's words are the advice
                assertThat(flags.health().status()).isEqualTo(Health.Status.DOWN);
                assertThat(flags.freshness().problem()).hasValueSatisfying(p -> assertThat(p).contains("UNAUTHENTICATED"));
                // Every answer's reason says why there are no flags: the refusal, not "not answered yet".
                FlagEvaluation none = flags.evaluate("a", USER);
                assertThat(none.source()).isEqualTo(Source.DEFAULTS);
                assertThat(none.reason().detail()).startsWith("no flags yet: the flag server refused this SDK (")
                        .contains("UNAUTHENTICATED").endsWith("), and no cache file is set");

                server.refuse(null);
                server.awaitSubscription().snapshot(2, doc("a", true, 1));
                // While refused, awaitReady answers false at once; it is true once a sync got through.
                Await.until("ready", () -> flags.awaitReady(Duration.ZERO));
                assertThat(flags.isEnabled("a", USER)).isTrue();
                assertThat(logs.lines("flags: connected to")).hasSize(1);
            }
        }
    }

    @Test
    void aFlagDocumentThisSdkCannotReadServesTheDefaultWithAnError() throws Exception {
        FlagDocument future = FlagDocument.newBuilder().setKey("future")
                .setJson("{\"key\": \"future\", \"enabled\": true, \"quantumState\": 1}").build();
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).build()) {
            Subscription sub = server.awaitSubscription();
            sub.snapshot(2, doc("a", true, 1), future);
            assertThat(flags.awaitReady(WAIT)).isTrue();

            assertThat(flags.isEnabled("a", USER)).isTrue();
            assertThat(flags.isEnabled("future", USER)).isFalse();
            FlagEvaluation e = flags.evaluate("future", USER, true);
            assertThat(e.value()).isTrue();
            assertThat(e.reason().kind()).isEqualTo(Reason.Kind.ERROR);
            assertThat(e.reason().detail()).contains("quantumState");
            assertThat(flags.allFlags(USER)).containsOnlyKeys("a", "future");
            assertThat(logs.lines("cannot read flag \"future\"")).hasSize(1);
            assertThat(logs.lines("flags: connected to ")).singleElement().asString()
                    .contains("at version 2 (1 flag and 1 this SDK cannot read), a full snapshot");

            sub.delta(2, 3, doc(flag("future", true, 2)));
            Await.until("fixed", () -> flags.isEnabled("future", USER));
            assertThat(flags.evaluate("future", USER).reason().kind()).isEqualTo(Reason.Kind.DEFAULT);
        }
    }

    @Test
    void aServerThatEndsTheStreamIsReconnected() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start(); Flags flags = client(server).build()) {
            Subscription sub = server.awaitSubscription();
            sub.snapshot(4, doc("a", true, 1));
            assertThat(flags.awaitReady(WAIT)).isTrue();
            sub.fail(Status.UNAVAILABLE.withDescription("the flag server is shutting down"));
            Subscription again = server.awaitSubscription();
            assertThat(again.request.getFromVersion()).isEqualTo(4);
            again.heartbeat(4, 15_000);
            Await.until("live", () -> flags.evaluate("a", USER).source() == Source.LIVE);
            assertThat(logs.lines("lost the stream").get(0)).contains("shutting down");
        }
    }

    /**
     * QA76 F2: a stream proves itself by staying, not by its first message. One that a proxy ends right after the
     * server's first answer is retried with a growing delay, with one more line (lost again) rather than two per
     * retry; a stream that stays for a heartbeat interval brings the delay back to the initial one, and says so once.
     */
    @Test
    void aStreamEndedRightAfterItsFirstMessageIsRetriedWithAGrowingDelayAndQuietly() throws Exception {
        ScheduledExecutorService beat = Executors.newSingleThreadScheduledExecutor();
        try (ScriptedSyncServer server = ScriptedSyncServer.start();
                Flags flags = client(server).initialBackoff(Duration.ofMillis(10)).maxBackoff(Duration.ofSeconds(5)).build()) {
            Subscription sub = server.awaitSubscription();
            sub.snapshot(5, doc("a", true, 1));
            assertThat(flags.awaitReady(WAIT)).isTrue();

            // Seven streams in a row: the server answers "up to date", then the proxy ends the stream.
            sub.fail(Status.UNAVAILABLE.withDescription("the proxy ended the stream"));
            long previous = System.nanoTime();
            long lastMillis = 0;
            for (int i = 0; i < 7; i++) {
                sub = server.awaitSubscription();
                long now = System.nanoTime();
                lastMillis = TimeUnit.NANOSECONDS.toMillis(now - previous);
                previous = now;
                sub.heartbeat(5, 15_000);
                Await.until("the stream up", () -> flags.freshness().streamUp());
                sub.fail(Status.UNAVAILABLE.withDescription("the proxy ended the stream"));
            }
            // The 7th delay in a row is 640 ms nominal, of which at least half is taken; never reset, it would be 10.
            assertThat(lastMillis).as("ms between the last two subscriptions").isGreaterThanOrEqualTo(300);
            assertThat(logs.lines("lost the stream")).as("lost, then lost again once").hasSize(2);
            assertThat(logs.lines("lost the stream").get(1)).contains("again, before it stayed up");
            assertThat(logs.lines("reconnected to")).hasSize(1);

            // A stream that stays for a heartbeat interval (100 ms) proves itself: the outage is over, said once.
            Subscription staying = server.awaitSubscription();
            staying.heartbeat(5, 100);
            beat.scheduleAtFixedRate(() -> staying.heartbeat(5, 100), 40, 40, TimeUnit.MILLISECONDS);
            Await.until("the recovery line", () -> logs.lines("reconnected to").size() == 2);
            assertThat(logs.lines("reconnected to").get(1)).contains("the stream has stayed up for");
            beat.shutdownNow();
            assertThat(beat.awaitTermination(10, TimeUnit.SECONDS)).isTrue();

            // ... and the backoff starts again from the initial delay: a server restart is noticed at once again.
            long lost = System.nanoTime();
            staying.fail(Status.UNAVAILABLE.withDescription("the flag server is restarting"));
            Subscription next = server.awaitSubscription();
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - lost)).as("ms to the next subscription (10 ms"
                    + " nominal; 1,280 ms had the backoff not started again)").isLessThan(600);
            assertThat(next.request.getFromVersion()).isEqualTo(5);
            assertThat(logs.lines("lost the stream")).hasSize(3);
        } finally {
            beat.shutdownNow();
        }
    }

    @Test
    void closeIsIdempotentAndStopsTheStream() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start()) {
            Flags flags = client(server).build();
            Subscription sub = server.awaitSubscription();
            sub.snapshot(1, doc("a", true, 1));
            assertThat(flags.awaitReady(WAIT)).isTrue();
            flags.close();
            flags.close();
            assertThat(sub.awaitCancelled(WAIT)).isTrue();
            assertThat(flags.health().status()).isEqualTo(Health.Status.DOWN);
            assertThat(flags.isEnabled("a", USER)).isTrue(); // still answers from the last snapshot
            assertThat(flags.awaitReady(Duration.ofSeconds(1))).isTrue(); // it was ready; closing does not undo that
            assertThat(server.pollSubscription(Duration.ofMillis(200))).isNull();
        }
    }
}
