package dev.flags.client.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.client.Source;
import dev.flags.core.Flag;
import dev.flags.core.FlagSet;
import dev.flags.core.User;
import dev.flags.protocol.v1.FlagSyncGrpc;
import dev.flags.protocol.v1.FlagUsage;
import dev.flags.protocol.v1.UsageReceipt;
import dev.flags.protocol.v1.UsageReport;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The usage reporter against a ReportUsage service on a real loopback port whose answers the test
 * scripts: periods, what a failure keeps, what makes it stop, the server's interval, the per-report
 * limit.
 */
class UsageReporterTest {

    private static final User USER = User.withId("u-1");

    private final BlockingQueue<UsageReport> received = new LinkedBlockingQueue<>();
    private final BlockingQueue<Object> answers = new LinkedBlockingQueue<>(); // Status or UsageReceipt, in order
    private Server server;
    private ManagedChannel channel;
    private ScheduledExecutorService executor;

    @BeforeEach
    void start() throws Exception {
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(new FlagSyncGrpc.FlagSyncImplBase() {
                    @Override
                    public void reportUsage(UsageReport request, StreamObserver<UsageReceipt> observer) {
                        // The answer is taken before the report is seen: a test that scripts the next answer
                        // once it has seen this report must not have it taken by this one.
                        Object answer = answers.poll();
                        received.add(request);
                        if (answer instanceof CountDownLatch release) { // held until the test releases it
                            try {
                                release.await(10, TimeUnit.SECONDS);
                            } catch (InterruptedException e) {
                                Thread.currentThread().interrupt();
                            }
                            answer = null;
                        }
                        if (answer instanceof Status s) {
                            observer.onError(s.asRuntimeException());
                        } else {
                            observer.onNext(answer instanceof UsageReceipt r ? r : UsageReceipt.getDefaultInstance());
                            observer.onCompleted();
                        }
                    }
                }).build().start();
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
        executor = Executors.newSingleThreadScheduledExecutor();
    }

    @AfterEach
    void stop() throws Exception {
        executor.shutdownNow();
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    private static FlagStore store(String... keys) {
        List<Flag> flags = new ArrayList<>();
        for (String k : keys) {
            flags.add(new Flag(k, null, true, null, List.of(), List.of(), List.of(), true, 1));
        }
        return new FlagStore(FlagState.of(FlagSet.of(flags, Map.of(), 1), Source.LIVE), Runnable::run, false, "test");
    }

    private UsageReporter reporter(FlagStore store, Duration interval) {
        return new UsageReporter(channel, store, "production", "checkout",
                Clock.fixed(Instant.parse("2026-12-04T10:00:00Z"), ZoneOffset.UTC), executor, interval);
    }

    private UsageReport next() throws InterruptedException {
        UsageReport r = received.poll(10, TimeUnit.SECONDS);
        assertThat(r).as("a report within 10 s").isNotNull();
        return r;
    }

    private static List<String> keys(UsageReport r) {
        return r.getFlagsList().stream().map(FlagUsage::getKey).sorted().collect(Collectors.toList());
    }

    private static void until(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waiting until " + what).isLessThan(deadline);
            LockSupport.parkNanos(2_000_000);
        }
    }

    @Test
    void eachPeriodSendsTheFlagsEvaluatedInItAndNothingWhenNoneWas() throws Exception {
        FlagStore store = store("a", "b", "c");
        UsageReporter reporter = reporter(store, Duration.ofMillis(20));
        store.isEnabled("a", USER, false);
        reporter.start();
        UsageReport first = next();
        assertThat(keys(first)).containsExactly("a");
        assertThat(first.getEnvironment()).isEqualTo("production");
        assertThat(first.getApplication()).isEqualTo("checkout");
        until("the first is acknowledged", () -> reporter.pendingKeys().isEmpty());

        store.isEnabled("b", USER, false);
        store.isEnabled("c", USER, false);
        assertThat(keys(next())).as("the next period, without what was sent already").containsExactly("b", "c");
        reporter.close(false);
    }

    @Test
    void untilTheServerHasAnsweredOnceAReportGoesEvenWithNothingInItToLearnTheServersPeriod() throws Exception {
        FlagStore store = store("a");
        UsageReporter reporter = reporter(store, Duration.ofHours(1)); // periods driven by the test
        answers.add(Status.UNAVAILABLE);
        answers.add(UsageReceipt.newBuilder().setReportIntervalMillis(30_000).build());
        reporter.report();
        assertThat(next().getFlagsCount()).as("nothing evaluated, sent all the same").isZero();
        until("the failure is handled", reporter::idle);
        assertThat(reporter.interval()).isEqualTo(Duration.ofHours(1));

        reporter.report();
        assertThat(next().getFlagsCount()).as("not answered yet: sent again").isZero();
        until("acknowledged", reporter::idle);
        assertThat(reporter.interval()).as("the server's period, learned").isEqualTo(Duration.ofSeconds(30));

        reporter.report(); // answered once: with nothing to say, nothing goes
        store.isEnabled("a", USER, false);
        reporter.report();
        assertThat(keys(next())).as("the next report sent is the one with something in it").containsExactly("a");
        reporter.close(false);
    }

    @Test
    void aFailedReportKeepsItsMarksForTheNextOne() throws Exception {
        FlagStore store = store("a", "b");
        UsageReporter reporter = reporter(store, Duration.ofHours(1)); // periods driven by the test
        answers.add(Status.UNAVAILABLE.withDescription("restarting"));
        store.isEnabled("a", USER, false);
        reporter.report();
        assertThat(keys(next())).containsExactly("a");
        until("the failure is handled", () -> !reporter.pendingKeys().isEmpty() && reporter.idle());

        store.isEnabled("b", USER, false);
        reporter.report();
        assertThat(keys(next())).as("a again, with b").containsExactly("a", "b");
        until("acknowledged", () -> reporter.pendingKeys().isEmpty());
        reporter.close(false);
    }

    @Test
    void aFlagEvaluatedAndThenArchivedIsStillReported() throws Exception {
        FlagStore store = store("a", "b", "c");
        UsageReporter reporter = reporter(store, Duration.ofHours(1)); // periods driven by the test
        store.isEnabled("a", USER, false);
        store.isEnabled("b", USER, false);
        FlagSet before = store.state().flags();
        // A delta archives "a" (the keys it touched are known), then a snapshot comes without "b".
        store.publish(FlagState.of(before.withChanges(List.of(), List.of("a"), 2), Source.LIVE), java.util.Set.of("a"));
        FlagSet withoutA = store.state().flags();
        store.publish(FlagState.of(FlagSet.of(List.of(withoutA.flag("c").orElseThrow()), Map.of(), 3), Source.LIVE));
        store.isEnabled("c", USER, false);

        reporter.report();
        UsageReport report = next();
        assertThat(keys(report)).as("the archived flags' answers, given before they went, and c's").containsExactly("a", "b", "c");
        assertThat(report.getFlagsList()).allMatch(u -> u.getServedTrue() && !u.getServedFalse());
        until("acknowledged", () -> reporter.pendingKeys().isEmpty());
        reporter.report();
        assertThat(reporter.idle()).as("taken once: nothing more to say, so nothing sent").isTrue();
        reporter.close(false);
    }

    @Test
    void anAnswerOfAFlagRemovedWhileAReportOfItIsOnItsWayGoesInTheNextReport() throws Exception {
        FlagStore store = store("a", "b");
        UsageReporter reporter = reporter(store, Duration.ofHours(1)); // periods driven by the test
        CountDownLatch release = new CountDownLatch(1);
        answers.add(release);
        store.isEnabled("a", USER, false); // true
        reporter.report();
        assertThat(next().getFlags(0)).isEqualTo(FlagUsage.newBuilder().setKey("a").setServedTrue(true).build());
        store.isEnabled("a", null, false); // false (no user: the flag's default is for users only), while {a: true} is on its way
        store.publish(FlagState.of(FlagSet.of(List.of(store.state().flags().flag("b").orElseThrow()), Map.of(), 2), Source.LIVE));
        release.countDown(); // {a: true} acknowledged: a's false answer, kept when a went, is not (QA64 F3)
        until("acknowledged", reporter::idle);
        reporter.report();
        assertThat(next().getFlagsList()).as("the last answer of a flag archived since")
                .containsExactly(FlagUsage.newBuilder().setKey("a").setServedFalse(true).build());
        reporter.close(false);
    }

    @Test
    void aServerWithoutReportsStopsTheReporterAndAnInvalidReportIsDropped() throws Exception {
        FlagStore store = store("a");
        UsageReporter refused = reporter(store, Duration.ofHours(1));
        answers.add(Status.INVALID_ARGUMENT.withDescription("\"flags[0].key\": no"));
        store.isEnabled("a", USER, false);
        refused.report();
        next();
        until("dropped", () -> refused.pendingKeys().isEmpty() && refused.idle());
        store.isEnabled("a", USER, false);
        refused.report();
        assertThat(keys(next())).as("new marks are still sent").containsExactly("a");
        refused.close(false);

        UsageReporter old = reporter(store, Duration.ofHours(1));
        answers.add(Status.UNIMPLEMENTED);
        store.isEnabled("a", USER, false);
        old.report();
        next();
        until("stopped", old::idle);
        store.isEnabled("a", USER, false);
        old.report();
        old.close(true);
        assertThat(received).as("nothing after UNIMPLEMENTED, not even at close (which sends synchronously)").isEmpty();
    }

    @Test
    void periodsAreSpreadSoThatInstancesStartedTogetherDriftApart() throws Exception {
        assertThat(UsageReporter.spread(60_000, 0.0)).isEqualTo(45_000);
        assertThat(UsageReporter.spread(60_000, 0.5)).isEqualTo(60_000);
        assertThat(UsageReporter.spread(60_000, Math.nextDown(1.0))).isEqualTo(75_000);

        // Twenty instances of a deployment, started at once: the delays their first periods are given.
        List<Long> delays = java.util.Collections.synchronizedList(new ArrayList<>());
        ScheduledExecutorService recording = new java.util.concurrent.ScheduledThreadPoolExecutor(1) {
            @Override
            public java.util.concurrent.ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
                delays.add(unit.toMillis(delay));
                return super.schedule(command, 1, TimeUnit.HOURS); // recorded, never run
            }
        };
        try {
            for (int i = 0; i < 20; i++) {
                new UsageReporter(channel, store("a"), "production", "checkout", Clock.systemUTC(), recording,
                        Duration.ofMinutes(1)).start();
            }
            assertThat(delays).hasSize(20).allMatch(d -> d >= 3_750 && d <= 6_250);
            assertThat(delays.stream().distinct().count()).as("not one instant for all").isGreaterThan(10);
        } finally {
            recording.shutdownNow();
        }
    }

    @Test
    void theServersIntervalIsUsedWithinBounds() throws Exception {
        FlagStore store = store("a");
        UsageReporter reporter = reporter(store, Duration.ofHours(1));
        for (long asked : new long[] {30_000, 1, 86_400_000}) {
            answers.add(UsageReceipt.newBuilder().setReportIntervalMillis(asked).build());
            store.isEnabled("a", USER, false);
            reporter.report();
            next();
            until("acknowledged", () -> reporter.pendingKeys().isEmpty() && reporter.idle());
            Duration expected = asked == 1 ? UsageReporter.MIN_INTERVAL
                    : asked == 86_400_000 ? UsageReporter.MAX_INTERVAL : Duration.ofMillis(asked);
            assertThat(reporter.interval()).isEqualTo(expected);
        }
        reporter.close(false);
    }

    @Test
    void moreFlagsThanOneReportTakesGoInTheNext() throws Exception {
        String[] keys = new String[UsageReporter.MAX_FLAGS_PER_REPORT + 5];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = "f-" + i;
        }
        FlagStore store = store(keys);
        UsageReporter reporter = reporter(store, Duration.ofHours(1));
        for (String k : keys) {
            store.isEnabled(k, USER, false);
        }
        reporter.report();
        assertThat(next().getFlagsCount()).isEqualTo(UsageReporter.MAX_FLAGS_PER_REPORT);
        until("acknowledged", () -> reporter.pendingKeys().size() == 5 && reporter.idle());
        reporter.report();
        assertThat(next().getFlagsCount()).isEqualTo(5);
        reporter.close(false);
    }

    @Test
    void closeSendsTheRestOnlyIfTheServerWasReachable() throws Exception {
        FlagStore store = store("a");
        UsageReporter unreachable = reporter(store, Duration.ofHours(1));
        store.isEnabled("a", USER, false);
        unreachable.close(false);
        assertThat(received).isEmpty();

        UsageReporter reachable = reporter(store, Duration.ofHours(1));
        reachable.close(true);
        assertThat(keys(received.poll())).as("sent before close returned").containsExactly("a");
    }

    @Test
    void keysAskedForThatTheSdkDoesNotHaveAreReportedBoundedAndKeptUntilAcknowledged() throws Exception {
        FlagStore store = store("a");
        UsageReporter reporter = reporter(store, Duration.ofHours(1));
        answers.add(Status.UNAVAILABLE);
        store.isEnabled("biling-v2", USER, false);
        store.evaluate("archived-too-soon", USER, false);
        store.isEnabled("not a key", USER, false);
        reporter.report();
        UsageReport failed = next();
        assertThat(failed.getFlagsCount()).isZero();
        assertThat(failed.getUnknownFlagsList()).containsExactlyInAnyOrder("biling-v2", "archived-too-soon");
        until("the failure is handled", reporter::idle);

        for (int i = 0; i < UnknownKeys.MAX + 10; i++) {
            store.isEnabled("typo-" + i, USER, false);
        }
        reporter.report();
        UsageReport next = next();
        assertThat(next.getUnknownFlagsList()).as("the last report's, kept, and new ones up to the bound")
                .hasSize(UnknownKeys.MAX).contains("biling-v2", "archived-too-soon");
        until("acknowledged", reporter::idle);
        store.isEnabled("a", USER, false);
        reporter.report();
        assertThat(next().getUnknownFlagsList()).as("what the bound left out waits for the next report").hasSize(2);
        reporter.close(false);
    }

    @Test
    void unknownKeysKeptWhileReportsFailAreBoundedTheOldestGoingFirst() throws Exception {
        FlagStore store = store("a");
        UsageReporter reporter = reporter(store, Duration.ofHours(1));
        for (int period = 0; period < 3; period++) { // an outage: each period asks for a thousand new keys, and fails
            answers.add(Status.UNAVAILABLE);
            for (int j = 0; j < UnknownKeys.MAX; j++) {
                store.isEnabled("p" + period + "-" + j, USER, false);
            }
            reporter.report();
            next();
            until("the failure is handled", reporter::idle);
        }
        java.util.Set<String> sent = new java.util.HashSet<>();
        for (int i = 0; i < 3; i++) { // acknowledged from now on
            store.isEnabled("a", USER, false);
            reporter.report();
            sent.addAll(next().getUnknownFlagsList());
            until("acknowledged", reporter::idle);
        }
        // At most two reports' worth kept (QA69 F3: every failed period added its thousand, without end), the oldest
        // dropped first
        assertThat(sent).hasSize(2 * UnknownKeys.MAX).noneMatch(k -> k.startsWith("p0-"));
        reporter.close(false);
    }

    @Test
    void closeWaitsForTheReportOnItsWayThenSendsWhatCameSince() throws Exception {
        FlagStore store = store("a", "b");
        UsageReporter reporter = reporter(store, Duration.ofHours(1));
        CountDownLatch release = new CountDownLatch(1);
        answers.add(release);
        store.isEnabled("a", USER, false);
        reporter.report();
        assertThat(keys(next())).containsExactly("a");
        store.isEnabled("b", USER, false);
        CompletableFuture<Void> closing = CompletableFuture.runAsync(() -> reporter.close(true));
        release.countDown(); // the report on its way ends; close() then sends the rest
        closing.get(10, TimeUnit.SECONDS);
        assertThat(keys(received.poll())).as("sent before close returned").containsExactly("b");
    }
}
