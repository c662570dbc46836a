package dev.flags.client.internal;

import dev.flags.client.Source;
import dev.flags.protocol.v1.Delta;
import dev.flags.protocol.v1.FlagSyncGrpc;
import dev.flags.protocol.v1.Heartbeat;
import dev.flags.protocol.v1.Snapshot;
import dev.flags.protocol.v1.SubscribeRequest;
import dev.flags.protocol.v1.SyncMessage;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleSupplier;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe (all its state is confined to one thread, {@code flags-sync-N}). The stream from the
 * flag server: subscribe from the version held, apply what comes, and never give up.
 *
 * <p>The resume logic. The SDK subscribes from the version it holds (the cache file's at start, 0 if
 * none). The server answers with one Delta of what is missing, or a Snapshot, or a Heartbeat if
 * nothing is; then Deltas in order. A Delta applies only to the version it starts from; a Delta or
 * Heartbeat that does not fit the version held means something was lost in between, so the SDK drops
 * the stream and subscribes again from what it has (at once the first time, with backoff if it
 * repeats). A server restart therefore costs one Delta, not a full reload.
 *
 * <p>Liveness. Every message (a Heartbeat too) proves the stream alive. A stream silent for
 * {@value #MISSED_HEARTBEATS} heartbeat intervals (as the server announced them; 30 s until it has)
 * is treated as dead: dropped, and replaced. A failed stream is replaced after an exponential backoff
 * with jitter, forever; a server that refuses the SDK (token, environment) is retried at the longest
 * backoff only. Meanwhile every evaluation is served from the last snapshot, marked stale.
 *
 * <p>Logging is quiet: one line when the stream first comes up, one when it is lost (or cannot be
 * had at start), one when it is back; retries are debug. The token is never logged.
 *
 * <p>gRPC calls the stream observer on its own threads; the observer only hands each event to the
 * sync thread, tagged with the generation of the call it belongs to, so events of a call that was
 * already replaced are dropped and no state is ever touched by two threads.
 */
final class Syncer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Syncer.class);

    /** Who is asking, for the server's metrics and logs. */
    static final String SDK = "flags-java/0.1.0";
    /** The heartbeat interval assumed until the server announces its own. */
    static final long DEFAULT_HEARTBEAT_MILLIS = 30_000;
    /** How many heartbeat intervals of silence make a stream dead. */
    static final int MISSED_HEARTBEATS = 3;
    private static final long MIN_HEARTBEAT_MILLIS = 10;
    private static final int MAX_MESSAGE_BYTES = 64 << 20;
    private static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    /** Codes that a quick retry cannot fix: retried at the longest backoff, logged as errors, once. */
    private static final Set<Status.Code> REFUSALS = Set.of(Status.Code.UNAUTHENTICATED,
            Status.Code.PERMISSION_DENIED, Status.Code.NOT_FOUND, Status.Code.INVALID_ARGUMENT,
            Status.Code.UNIMPLEMENTED);

    /**
     * Immutable. What the stream is doing, for {@code freshness()} and {@code health()}.
     *
     * @param streamUp true if the current stream has delivered a message and not failed since
     * @param lastHeard when a message last came, or null
     * @param problem why the stream is down, or null
     */
    record SyncStatus(boolean streamUp, Instant lastHeard, String problem) {
    }

    private final String target;
    private final String environment;
    private final FlagStore store;
    private final CacheFile cache;
    private final Readiness readiness;
    private final Clock clock;
    private final LongSupplier nanoTime;
    private final Backoff backoff;
    private final Duration maxBackoff;
    private final ManagedChannel channel;
    private final FlagSyncGrpc.FlagSyncStub stub;
    private final ScheduledThreadPoolExecutor executor;
    private volatile SyncStatus status;
    private volatile boolean closed;

    // Confined to the sync thread.
    private long generation;
    private ClientCallStreamObserver<SubscribeRequest> call;
    private boolean streamUp;
    private boolean everConnected;
    private boolean outage;
    private boolean refusalLogged;
    private long outageSinceNanos;
    private long lastHeardNanos;
    private Instant lastHeard;
    private long heartbeatMillis = DEFAULT_HEARTBEAT_MILLIS;
    private ScheduledFuture<?> watchdog;
    private long watchdogPeriodMillis;
    private ScheduledFuture<?> reconnect;
    private int gapsInARow;
    private boolean cacheWriteQueued;
    private long cacheWrittenVersion = -1;
    private boolean cacheWarned;

    Syncer(Settings settings, FlagStore store, CacheFile cache, Readiness readiness) {
        this(settings, store, cache, readiness, System::nanoTime, () -> ThreadLocalRandom.current().nextDouble());
    }

    Syncer(Settings settings, FlagStore store, CacheFile cache, Readiness readiness, LongSupplier nanoTime,
           DoubleSupplier random) {
        this.target = settings.target();
        this.environment = settings.environment();
        this.store = store;
        this.cache = cache;
        this.readiness = readiness;
        this.clock = settings.clock();
        this.nanoTime = nanoTime;
        this.backoff = new Backoff(settings.initialBackoff(), settings.maxBackoff(), random);
        this.maxBackoff = settings.maxBackoff();
        this.status = new SyncStatus(false, null, store.state().source() == Source.CACHE_FILE
                ? "the flag server has not answered yet" : null);

        Metadata headers = new Metadata();
        headers.put(AUTHORIZATION, "Bearer " + settings.sdkToken());
        this.channel = Grpc.newChannelBuilder(target, credentials(settings))
                .userAgent(SDK)
                .maxInboundMessageSize(MAX_MESSAGE_BYTES)
                // The stream observer only hands each message to the flags-sync thread, so it can run
                // on the transport's thread: one thread hand-off less per change.
                .directExecutor()
                .intercept(MetadataUtils.newAttachHeadersInterceptor(headers))
                .build();
        this.stub = FlagSyncGrpc.newStub(channel);
        this.executor = new ScheduledThreadPoolExecutor(1, Threads.daemon("flags-sync"));
        executor.setRemoveOnCancelPolicy(true);
        executor.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        executor.setContinueExistingPeriodicTasksAfterShutdownPolicy(false);
    }

    private static ChannelCredentials credentials(Settings s) {
        if (s.plaintext()) {
            return InsecureChannelCredentials.create();
        }
        if (s.trustedCertificates() == null) {
            return TlsChannelCredentials.create();
        }
        try {
            return TlsChannelCredentials.newBuilder().trustManager(s.trustedCertificates().toFile()).build();
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("cannot read trusted certificates from " + s.trustedCertificates()
                    + ": " + e.getMessage(), e);
        }
    }

    /** Starts subscribing, in the background. */
    void start() {
        post(this::subscribe);
    }

    SyncStatus status() {
        return status;
    }

    // ---------------------------------------------------------------- the stream (sync thread only)

    private void subscribe() {
        if (closed) {
            return;
        }
        reconnect = null;
        dropCall("resubscribing");
        long gen = ++generation;
        FlagState held = store.state();
        long from = held.source() == Source.DEFAULTS ? 0 : held.version();
        lastHeardNanos = nanoTime.getAsLong();
        channel.resetConnectBackoff(); // our backoff decides when to try, not the channel's
        SubscribeRequest request = SubscribeRequest.newBuilder()
                .setEnvironment(environment).setFromVersion(from).setSdk(SDK).build();
        try {
            stub.subscribe(request, new Observer(gen));
        } catch (RuntimeException e) {
            lost(Status.UNAVAILABLE.withDescription("cannot start the call").withCause(e));
            return;
        }
        scheduleWatchdog();
    }

    private void onMessage(long gen, SyncMessage message) {
        if (closed || gen != generation) {
            return;
        }
        lastHeardNanos = nanoTime.getAsLong();
        lastHeard = clock.instant();
        FlagState held = store.state();
        long have = held.source() == Source.DEFAULTS ? 0 : held.version();
        FlagState next = null;
        String how;
        switch (message.getKindCase()) {
            case SNAPSHOT -> {
                Snapshot s = message.getSnapshot();
                heartbeatInterval(s.getHeartbeatIntervalMillis());
                if (held.source() != Source.DEFAULTS && s.getVersion() < have) {
                    LOG.warn("flags: the flag server sent version {} of environment \"{}\", older than the version {}"
                            + " this SDK had; following the server", s.getVersion(), environment, have);
                }
                next = Updates.snapshot(s, this::unreadable);
                how = "a full snapshot";
            }
            case DELTA -> {
                Delta d = message.getDelta();
                if (d.getFromVersion() != have) {
                    gap("a delta from version " + d.getFromVersion() + " to " + d.getVersion(), have);
                    return;
                }
                next = Updates.delta(held, d, this::unreadable);
                how = "a delta from version " + have;
            }
            case HEARTBEAT -> {
                Heartbeat h = message.getHeartbeat();
                heartbeatInterval(h.getHeartbeatIntervalMillis());
                if (h.getVersion() != have) {
                    gap("a heartbeat at version " + h.getVersion(), have);
                    return;
                }
                how = "already up to date";
            }
            default -> {
                // A kind of message this release does not know: it still shows that the stream is alive.
                LOG.debug("flags: ignoring a sync message of an unknown kind");
                return;
            }
        }
        gapsInARow = 0;
        // The status first: status listeners are told of the new source inside publish(), from it.
        status = new SyncStatus(true, lastHeard, null);
        if (next != null) {
            store.publish(next);
        } else if (held.source() != Source.LIVE) {
            store.publish(held.withSource(Source.LIVE));
        }
        if (!streamUp) {
            streamUp = true;
            connected(how);
        }
        readiness.ready();
        if (next != null) {
            queueCacheWrite();
        }
    }

    private void connected(String how) {
        backoff.reset();
        FlagState now = store.state();
        if (outage) {
            Duration down = Duration.ofNanos(nanoTime.getAsLong() - outageSinceNanos);
            LOG.info("flags: {} {} after {}: environment \"{}\" at version {} ({} flags), {}",
                    everConnected ? "reconnected to" : "connected to", target, human(down), environment,
                    now.version(), now.flags().size(), how);
        } else if (!everConnected) {
            LOG.info("flags: connected to {}: environment \"{}\" at version {} ({} flags), {}",
                    target, environment, now.version(), now.flags().size(), how);
        }
        everConnected = true;
        outage = false;
        refusalLogged = false;
        readiness.refused(false);
    }

    private void onFailure(long gen, Status failure) {
        if (closed || gen != generation) {
            return;
        }
        call = null;
        lost(failure);
    }

    /** The stream is gone: mark the flags stale, say so once, and schedule the next attempt. */
    private void lost(Status failure) {
        boolean wasUp = streamUp;
        streamUp = false;
        FlagState held = store.state();
        String problem = describe(failure);
        boolean refusal = REFUSALS.contains(failure.getCode());
        if (!outage) {
            outage = true;
            outageSinceNanos = nanoTime.getAsLong();
            if (!refusal) {
                if (wasUp || everConnected) {
                    LOG.warn("flags: lost the stream to {} ({}); serving {}, reconnecting in the background",
                            target, problem, serving(held));
                } else {
                    LOG.warn("flags: cannot reach the flag server at {} ({}); serving {}, retrying in the background",
                            target, problem, serving(held));
                }
            }
        }
        long delay;
        if (refusal) {
            if (!refusalLogged) {
                refusalLogged = true;
                LOG.error("flags: the flag server at {} refused this SDK for environment \"{}\" ({}): check the sdk"
                        + " token and the environment. Serving {}; retrying about every {}", target, environment,
                        problem, serving(held), human(maxBackoff));
            }
            delay = backoff.maxDelayMillis();
        } else {
            delay = backoff.nextDelayMillis();
        }
        LOG.debug("flags: next attempt in {} ms ({})", delay, problem);
        // The status first: status listeners are told of the new source inside publish(), from it.
        status = new SyncStatus(false, lastHeard, problem);
        if (held.source() == Source.LIVE) {
            store.publish(held.withSource(Source.STALE));
        }
        if (refusal) {
            readiness.refused(true);
        }
        scheduleReconnect(delay);
    }

    private void gap(String what, long have) {
        gapsInARow++;
        LOG.debug("flags: the server sent {}, but this SDK has version {}: subscribing again", what, have);
        dropCall("version gap");
        streamUp = false;
        if (gapsInARow == 1) {
            subscribe();
        } else {
            scheduleReconnect(backoff.nextDelayMillis());
        }
    }

    private void unreadable(String key, String problem) {
        LOG.warn("flags: cannot read flag \"{}\" of environment \"{}\" sent by the server; it serves the caller's"
                + " default until this SDK is upgraded or the flag is fixed: {}", key, environment, problem);
    }

    private void heartbeatInterval(long millis) {
        if (millis > 0 && Math.max(MIN_HEARTBEAT_MILLIS, millis) != heartbeatMillis) {
            heartbeatMillis = Math.max(MIN_HEARTBEAT_MILLIS, millis);
            scheduleWatchdog();
        }
    }

    private void scheduleWatchdog() {
        long period = Math.max(5, Math.min(1_000, MISSED_HEARTBEATS * heartbeatMillis / 4));
        if (watchdog != null && period == watchdogPeriodMillis) {
            return;
        }
        if (watchdog != null) {
            watchdog.cancel(false);
        }
        watchdogPeriodMillis = period;
        watchdog = executor.scheduleWithFixedDelay(this::checkWatchdog, period, period, TimeUnit.MILLISECONDS);
    }

    private void checkWatchdog() {
        if (closed || call == null) {
            return;
        }
        long silentMillis = (nanoTime.getAsLong() - lastHeardNanos) / 1_000_000;
        if (silentMillis > MISSED_HEARTBEATS * heartbeatMillis) {
            dropCall("silent");
            lost(Status.UNAVAILABLE.withDescription("no message for " + silentMillis + " ms; heartbeats are due every "
                    + heartbeatMillis + " ms"));
        }
    }

    private void scheduleReconnect(long delayMillis) {
        if (reconnect != null) {
            reconnect.cancel(false);
        }
        try {
            reconnect = executor.schedule(this::subscribe, delayMillis, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            // closed
        }
    }

    private void dropCall(String why) {
        if (call != null) {
            ClientCallStreamObserver<SubscribeRequest> c = call;
            call = null;
            generation++; // its last callbacks are ignored
            c.cancel(why, null);
        }
    }

    // ---------------------------------------------------------------- the cache file (sync thread only)

    private void queueCacheWrite() {
        if (cache == null || cacheWriteQueued) {
            return;
        }
        // Queued behind the messages already received, so a burst of changes is written once.
        cacheWriteQueued = true;
        post(this::writeCache);
    }

    private void writeCache() {
        cacheWriteQueued = false;
        FlagState s = store.state();
        if ((s.source() != Source.LIVE && s.source() != Source.STALE) || s.version() == cacheWrittenVersion) {
            return;
        }
        try {
            cache.write(s.flags());
            cacheWrittenVersion = s.version();
            if (cacheWarned) {
                cacheWarned = false;
                LOG.info("flags: cache file {} written again", cache.path());
            }
        } catch (IOException | RuntimeException e) {
            if (!cacheWarned) {
                cacheWarned = true;
                LOG.warn("flags: cannot write cache file {} (flags still work; a restart while the server is"
                        + " unreachable would not have them): {}", cache.path(), e.toString());
            }
        }
    }

    // ---------------------------------------------------------------- plumbing

    private void post(Runnable task) {
        try {
            executor.execute(task);
        } catch (RejectedExecutionException e) {
            // closed
        }
    }

    private String serving(FlagState held) {
        return switch (held.source()) {
            case CACHE_FILE -> "cached version " + held.version() + " from " + cache.path();
            case DEFAULTS -> "defaults (no flags yet)";
            default -> "version " + held.version() + " from memory";
        };
    }

    static String describe(Status s) {
        StringBuilder b = new StringBuilder(s.getCode().name());
        if (s.getDescription() != null) {
            b.append(": ").append(s.getDescription());
        }
        Throwable cause = s.getCause();
        if (cause != null && cause.getMessage() != null && !cause.getMessage().equals(s.getDescription())) {
            b.append(" (").append(cause.getMessage()).append(')');
        }
        return b.toString();
    }

    static String human(Duration d) {
        if (d.toMillis() < 1_000) {
            return d.toMillis() + " ms";
        }
        if (d.toSeconds() < 120) {
            return d.toSeconds() + " s";
        }
        if (d.toMinutes() < 120) {
            return d.toMinutes() + " min";
        }
        return d.toHours() + " h";
    }

    /** Stops the stream and the sync thread; a queued cache write still happens. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        post(() -> {
            dropCall("closed");
            if (watchdog != null) {
                watchdog.cancel(false);
            }
            if (reconnect != null) {
                reconnect.cancel(false);
            }
            if (cache != null) {
                writeCache(); // the last change, if its queued write lost the race with close()
            }
        });
        executor.shutdown();
        channel.shutdownNow();
        try {
            if (!executor.awaitTermination(2, TimeUnit.SECONDS)) {
                executor.shutdownNow();
            }
            channel.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            executor.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    private final class Observer implements ClientResponseObserver<SubscribeRequest, SyncMessage> {
        private final long gen;

        Observer(long gen) {
            this.gen = gen;
        }

        @Override
        public void beforeStart(ClientCallStreamObserver<SubscribeRequest> requestStream) {
            // Called on the sync thread, inside stub.subscribe().
            call = requestStream;
        }

        @Override
        public void onNext(SyncMessage value) {
            post(() -> onMessage(gen, value));
        }

        @Override
        public void onError(Throwable t) {
            post(() -> onFailure(gen, Status.fromThrowable(t)));
        }

        @Override
        public void onCompleted() {
            post(() -> onFailure(gen, Status.UNAVAILABLE.withDescription("the server ended the stream")));
        }
    }
}
