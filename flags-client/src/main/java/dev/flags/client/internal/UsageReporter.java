package dev.flags.client.internal;

import dev.flags.core.FlagUsage;
import dev.flags.protocol.v1.FlagSyncGrpc;
import dev.flags.protocol.v1.UsageReceipt;
import dev.flags.protocol.v1.UsageReport;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe. Tells the flag server, once a period, which flags this SDK evaluated and which answers
 * they gave ({@code ReportUsage}), so that people can see which flags the code still asks for before
 * they archive one; and which keys the code asked for that the SDK does not have ({@link UnknownKeys}:
 * a typo, or a flag archived while code still asks for it). The marks are set by flags-core's evaluator (a read of one field per call, see
 * {@code FlagSet.takeUsage}); this class only takes them and sends them.
 *
 * <p>One report at a time, on the SDK's background thread; the next period starts when the report
 * ends, and lasts 75% to 125% of the interval ({@link #spread}). Nothing is lost to a failure: marks the server has not acknowledged stay pending and go with
 * the next report (a server that is down for an hour gets one report when it is back, with everything
 * evaluated in that hour). Quiet: no log line per report; one INFO line if the server is an older
 * release without usage reports (then this SDK stops reporting until its next sync stream, which may reach the server
 * upgraded: QA89 F2), one WARN line if the server refuses a report as invalid (a bug on one side or the other).
 */
final class UsageReporter {

    private static final Logger LOG = LoggerFactory.getLogger(UsageReporter.class);

    /** The period until the server says otherwise (its receipt carries its own). */
    static final Duration DEFAULT_INTERVAL = Duration.ofMinutes(1);
    /** The bounds put on a server's interval: a bad or hostile value must not make the SDK spin or go mute. */
    static final Duration MIN_INTERVAL = Duration.ofSeconds(5);
    static final Duration MAX_INTERVAL = Duration.ofHours(1);
    /** The server's limit of flags per report; more wait for the next period. */
    static final int MAX_FLAGS_PER_REPORT = 10_000;
    private static final long DEADLINE_SECONDS = 10;
    /** The bits of {@link #pending}. */
    private static final int SERVED_TRUE = 1;
    private static final int SERVED_FALSE = 2;
    /** How long close() waits for the last report: an application's shutdown must not hang on it. */
    static final Duration CLOSE_DEADLINE = Duration.ofSeconds(1);

    private final FlagSyncGrpc.FlagSyncStub stub;
    private final FlagSyncGrpc.FlagSyncBlockingStub blockingStub;
    private final FlagStore store;
    private final String environment;
    private final String application;
    private final Clock clock;
    private final ScheduledExecutorService background;
    private final UnknownKeys unknown = new UnknownKeys();

    private final Object lock = new Object();
    // Guarded by lock.
    /** Marks taken but not yet acknowledged by the server: flag key to SERVED_TRUE and/or SERVED_FALSE. */
    private final Map<String, Integer> pending = new LinkedHashMap<>();
    /** Keys asked for that the SDK did not have, taken but not yet acknowledged. */
    private final Set<String> pendingUnknown = new LinkedHashSet<>();
    private long intervalMillis;
    private long periodStartMillis;
    private ScheduledFuture<?> next;
    private boolean inFlight;
    private boolean closed;
    private boolean stopped; // the server takes no usage reports (until the next stream)
    /** Counts the sync streams started, so that the answer to a report sent before one does not judge its server. */
    private long stream;
    /** The stream a report in flight was sent on. */
    private long sentOn;
    private boolean stoppedLogged;
    private boolean refusalLogged;
    /** Whether a report was acknowledged yet: until one is, the SDK does not know the server's period. */
    private boolean acknowledgedOnce;

    /**
     * @param channel the SDK's channel to the flag server (with its token)
     * @param store whose flags' marks are reported
     * @param environment the environment's key
     * @param application the application's name, or null
     * @param clock for the period's bounds in the report
     * @param background the SDK's background executor
     * @param interval the first period
     */
    UsageReporter(Channel channel, FlagStore store, String environment, String application, Clock clock,
                  ScheduledExecutorService background, Duration interval) {
        this.stub = FlagSyncGrpc.newStub(channel);
        this.blockingStub = FlagSyncGrpc.newBlockingStub(channel);
        this.store = store;
        this.environment = environment;
        this.application = application == null ? "" : application;
        this.clock = clock;
        this.background = background;
        this.intervalMillis = interval.toMillis();
        this.periodStartMillis = clock.millis();
        store.recordUnknownKeys(unknown);
        store.keepUsageOfRemovedFlags(this::keep);
    }

    /** Keeps marks taken outside a report (of flags a change removed) for the next report. */
    private void keep(List<FlagUsage> usage) {
        synchronized (lock) {
            for (FlagUsage u : usage) {
                int bits = (u.servedTrue() ? SERVED_TRUE : 0) | (u.servedFalse() ? SERVED_FALSE : 0);
                pending.merge(u.flagKey(), bits, (a, b) -> a | b);
            }
        }
    }

    /**
     * Starts the first period, a short one ({@link #MIN_INTERVAL} at most, {@linkplain #spread spread}): a new instance, such as one of
     * a deployment that just started, shows in the usage view within seconds, and a server whose interval
     * is short gets the first report within it (the SDK learns the interval from the first receipt).
     */
    void start() {
        synchronized (lock) {
            schedule(Math.min(intervalMillis, MIN_INTERVAL.toMillis()));
        }
    }

    /**
     * A new sync stream is starting. A server that took no reports may have been upgraded since (an upgrade restarts it,
     * which ends the stream): reporting starts again, with a short first period as at start, and stops again at the
     * server's next UNIMPLEMENTED. Without this an SDK that met an older server once (deployed before the server's
     * upgrade, or running through a rollback) never reported again, and the flags only it evaluates looked unused to
     * {@code flags stale} and an archive's {@code --unused-for} (QA89 F2).
     */
    void streamStarted() {
        synchronized (lock) {
            stream++;
            if (stopped && !closed) {
                stopped = false;
                schedule(Math.min(intervalMillis, MIN_INTERVAL.toMillis()));
            }
        }
    }

    /** @return the period in force, for tests */
    Duration interval() {
        synchronized (lock) {
            return Duration.ofMillis(intervalMillis);
        }
    }

    private void schedule() {
        schedule(intervalMillis);
    }

    private void schedule(long delayMillis) {
        if (closed || stopped) {
            return;
        }
        try {
            next = background.schedule(this::report, spread(delayMillis, ThreadLocalRandom.current().nextDouble()),
                    TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            next = null; // the JVM is going down
        }
    }

    /**
     * A period spread over 75% to 125% of its length. The instances of a deployment start together, and
     * with periods of one length they would report in the same instant, every period, for as long as they
     * run: past the server's per-token rate (docs/server.md, {@code --usage-reports-per-second}), which
     * refuses most of them each time. Each period drawn anew, they drift apart.
     *
     * @param u a number in [0, 1)
     */
    static long spread(long millis, double u) {
        return Math.round(millis * (0.75 + 0.5 * u));
    }

    /** Sends this period's marks, with any the server has not acknowledged yet. */
    void report() {
        UsageReport report;
        synchronized (lock) {
            if (closed || stopped || inFlight) {
                return;
            }
            // Until the server has answered once, a report goes even with nothing in it: its answer gives
            // the server's period, which an SDK that evaluates nothing at first would otherwise learn late.
            report = takeReport(!acknowledgedOnce);
            if (report == null) {
                schedule();
                return;
            }
            inFlight = true;
            sentOn = stream;
        }
        try {
            stub.withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS).reportUsage(report, new Observer(report));
        } catch (RuntimeException e) {
            ended(report, null, Status.fromThrowable(e));
        }
    }

    /**
     * Takes the marks into {@link #pending} and builds a report of them.
     *
     * @param evenIfEmpty whether to build a report with no flags and no unknown keys in it
     * @return the report, or null if there is nothing to say and evenIfEmpty is false
     */
    private UsageReport takeReport(boolean evenIfEmpty) {
        for (FlagUsage u : store.state().flags().takeUsage()) {
            int bits = (u.servedTrue() ? SERVED_TRUE : 0) | (u.servedFalse() ? SERVED_FALSE : 0);
            pending.merge(u.flagKey(), bits, (a, b) -> a | b);
        }
        pendingUnknown.addAll(unknown.take());
        // Kept until acknowledged, but at most two reports' worth: while reports fail (an outage, a rate limit), each
        // period added up to a thousand more, without end (QA69 F3). The oldest go first: the server keeps the most
        // recently asked keys.
        for (Iterator<String> oldest = pendingUnknown.iterator(); pendingUnknown.size() > 2 * UnknownKeys.MAX; ) {
            oldest.next();
            oldest.remove();
        }
        if (pending.isEmpty() && pendingUnknown.isEmpty() && !evenIfEmpty) {
            return null;
        }
        long now = clock.millis();
        UsageReport.Builder b = UsageReport.newBuilder().setEnvironment(environment).setSdk(Syncer.SDK)
                .setApplication(application).setPeriodStartMillis(periodStartMillis).setPeriodEndMillis(now);
        int n = 0;
        for (Map.Entry<String, Integer> e : pending.entrySet()) {
            if (n++ == MAX_FLAGS_PER_REPORT) {
                break; // the rest go in the next report
            }
            b.addFlagsBuilder().setKey(e.getKey()).setServedTrue((e.getValue() & SERVED_TRUE) != 0)
                    .setServedFalse((e.getValue() & SERVED_FALSE) != 0);
        }
        for (String key : pendingUnknown) {
            if (b.getUnknownFlagsCount() == UnknownKeys.MAX) {
                break;
            }
            b.addUnknownFlags(key);
        }
        return b.build();
    }

    /** A report ended: acknowledged (status null) or not. */
    private void ended(UsageReport report, UsageReceipt receipt, Status failure) {
        synchronized (lock) {
            inFlight = false;
            lock.notifyAll(); // close() may be waiting for this report to end
            if (failure == null) {
                acknowledged(report, receipt);
            } else {
                failed(failure);
            }
            schedule();
        }
    }

    private void acknowledged(UsageReport report, UsageReceipt receipt) {
        // Only what was sent, as it was sent: marks merged in since (the last answers of a flag removed meanwhile, which
        // no later report would find) belong to the next report (QA64 F3).
        for (int i = 0; i < report.getFlagsCount(); i++) {
            dev.flags.protocol.v1.FlagUsage f = report.getFlags(i);
            int sent = (f.getServedTrue() ? SERVED_TRUE : 0) | (f.getServedFalse() ? SERVED_FALSE : 0);
            pending.computeIfPresent(f.getKey(), (key, bits) -> (bits & ~sent) == 0 ? null : bits & ~sent);
        }
        report.getUnknownFlagsList().forEach(pendingUnknown::remove);
        periodStartMillis = report.getPeriodEndMillis();
        refusalLogged = false;
        acknowledgedOnce = true;
        if (receipt != null && receipt.getReportIntervalMillis() > 0) {
            intervalMillis = Math.max(MIN_INTERVAL.toMillis(),
                    Math.min(MAX_INTERVAL.toMillis(), receipt.getReportIntervalMillis()));
        }
    }

    private void failed(Status failure) {
        switch (failure.getCode()) {
            case UNIMPLEMENTED -> {
                if (sentOn != stream) {
                    // Sent before the current stream started: its server may be another (upgraded) one. Kept for the next.
                    LOG.debug("flags: usage report not taken by the server before the current stream: {}", failure);
                    return;
                }
                stopped = true;
                pending.clear();
                pendingUnknown.clear();
                if (!stoppedLogged) { // once: each new stream to that server asks it once more
                    stoppedLogged = true;
                    LOG.info("flags: the flag server does not take usage reports (a release before them); this SDK"
                            + " sends none until it connects to the server again (an upgraded server takes them)");
                }
            }
            case INVALID_ARGUMENT -> {
                // Sending the same again would be refused again: drop it, say so once.
                pending.clear();
                pendingUnknown.clear();
                if (!refusalLogged) {
                    refusalLogged = true;
                    LOG.warn("flags: the flag server refused a usage report of environment \"{}\": {}",
                            environment, failure.getDescription());
                }
            }
            // Down, overloaded, a token being replaced: the marks wait for the next period. The sync
            // stream already tells of an outage or a refused token; no second line for it here.
            default -> LOG.debug("flags: usage report not delivered, kept for the next one: {}", failure);
        }
    }

    /**
     * Stops reporting. If the stream is up, sends what is left (after the report on its way, if there is
     * one), waiting at most {@link #CLOSE_DEADLINE} in all: an application that runs for less than a
     * period (a job, a test) is seen too.
     *
     * @param sendTheRest whether to try the last report (the server was reachable a moment ago)
     */
    void close(boolean sendTheRest) {
        UsageReport last = null;
        long deadline = System.nanoTime() + CLOSE_DEADLINE.toNanos();
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            if (next != null) {
                next.cancel(false);
            }
            // A report on its way: wait for it (within the deadline), so that what it carries is not
            // cut off with the channel and the marks set since go in the last report.
            boolean interrupted = false;
            while (sendTheRest && inFlight && !interrupted) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                try {
                    lock.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                } catch (InterruptedException e) {
                    interrupted = true;
                    Thread.currentThread().interrupt();
                }
            }
            if (sendTheRest && !stopped && !inFlight && !interrupted) {
                last = takeReport(false); // the period no longer matters
            }
        }
        long left = deadline - System.nanoTime();
        if (last != null && left > 0) {
            try {
                blockingStub.withDeadlineAfter(left, TimeUnit.NANOSECONDS).reportUsage(last);
            } catch (StatusRuntimeException e) {
                LOG.debug("flags: the last usage report was not delivered: {}", e.getStatus());
            }
        }
    }

    /** @return true if no report is on its way, for tests */
    boolean idle() {
        synchronized (lock) {
            return !inFlight;
        }
    }

    /** @return the keys of the marks not yet acknowledged, for tests */
    List<String> pendingKeys() {
        synchronized (lock) {
            return new ArrayList<>(pending.keySet());
        }
    }

    private final class Observer implements StreamObserver<UsageReceipt> {
        private final UsageReport report;
        private UsageReceipt receipt;

        Observer(UsageReport report) {
            this.report = report;
        }

        @Override
        public void onNext(UsageReceipt value) {
            receipt = value;
        }

        @Override
        public void onError(Throwable t) {
            ended(report, null, Status.fromThrowable(t));
        }

        @Override
        public void onCompleted() {
            ended(report, receipt, null);
        }
    }
}
