package dev.flags.client.internal;

import dev.flags.client.Source;
import dev.flags.protocol.v1.Delta;
import dev.flags.protocol.v1.FlagSyncGrpc;
import dev.flags.protocol.v1.Heartbeat;
import dev.flags.protocol.v1.Snapshot;
import dev.flags.protocol.v1.SubscribeRequest;
import dev.flags.protocol.v1.SyncMessage;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ChannelCredentials;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientStreamTracer;
import io.grpc.ConnectivityState;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import java.io.ByteArrayInputStream;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateNotYetValidException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.DoubleSupplier;
import java.util.function.LongSupplier;
import java.util.regex.Pattern;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe (its state is guarded by one lock, held only briefly and never while waiting). The
 * stream from the flag server: subscribe from the version held, apply what comes, and never give up.
 *
 * <p>The resume logic. The SDK subscribes from the version it holds (the cache file's at start, 0 if
 * none). The server answers with one Delta of what is missing, or a Snapshot, or a Heartbeat if
 * nothing is; then Deltas in order. A Delta applies only to the version it starts from; a Delta or
 * Heartbeat that does not fit the version held means something was lost in between, so the SDK drops
 * the stream and subscribes again from what it has (at once the first time, with backoff if it
 * happens again before the version has moved: a Heartbeat of the version held in between does not
 * count as moving). A server restart therefore costs one Delta, not a full reload.
 *
 * <p>Liveness. Every message (a Heartbeat too) proves the stream alive. A Waiting does too, and says that the
 * server's next message for this SDK waits for room in its send buffer: the stream is kept, and the flags held
 * count as not current until that message comes. So do the bytes of a message still arriving (a large
 * snapshot over a slow link). A stream silent for {@value #MISSED_HEARTBEATS} heartbeat intervals (as the server announced them; 30 s until it has)
 * is treated as dead: dropped, and replaced. So is a call whose connection is still not up after
 * {@value #NO_CONNECTION_MILLIS} ms (something accepts the connection but never answers as an HTTP/2
 * server: a hung server, a proxy with nothing behind it), whose attempt gRPC would otherwise wait on for
 * as long as the silence limit. A failed stream is replaced after an exponential backoff
 * with jitter, forever; the backoff starts again from its initial delay only once a stream has
 * {@linkplain #proven() proven itself} (delivered for a heartbeat interval), not at its first message.
 * A server that refuses the SDK (token, environment) is retried at the longest backoff only.
 * Meanwhile every evaluation is served from the last snapshot, marked stale.
 *
 * <p>Logging is quiet: one line when the stream first comes up, one when it is lost (or cannot be
 * had at start), one when it is back; retries are debug. If the stream that came back is lost again
 * before it has proven itself, that is said once more ("lost ... again"); the retries after it are
 * debug, and the next line is the recovery of a stream that stays. The token is never logged.
 *
 * <p>Threads. A change must reach {@code isEnabled} in as little time and CPU as possible, so Deltas
 * and Heartbeats are applied where gRPC delivers them, on its transport thread: decoding a changed
 * flag and swapping the snapshot take microseconds, and a thread hand-off per change would cost more
 * than the work (with a thousand SDKs on a small machine, several times more: docs/BENCHMARKS-client.md).
 * A Snapshot (the whole environment: possibly megabytes), or a Delta of more than {@value
 * #LARGE_DELTA_FLAGS} flags, is decoded on the SDK's background thread instead, so as not to hold up
 * the transport's other connections. The call uses gRPC's manual flow
 * control (one message requested at a time, the next only once this one is applied), so messages
 * are applied in order wherever they run. The background thread ({@link Background}, shared by every
 * {@code Flags} in the JVM) also runs the watchdog and the reconnect timer; the cache file is written on a thread of
 * its own ({@link CacheWriter}), since a write on a file system that hangs would hold up every {@code Flags}' stream.
 * Events of a call that was already replaced or failed are dropped (each call has a generation).
 */
final class Syncer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Syncer.class);
    /**
     * Set while this thread runs a stream's callback from gRPC's transport (a change applied, the stream failing): a
     * listener run directly there ({@code listenerExecutor(Runnable::run)}) that closes the SDK must not wait there for
     * what only that thread can finish.
     */
    private static final ThreadLocal<Boolean> IN_STREAM_CALLBACK = new ThreadLocal<>();

    /**
     * Who is asking, for the server's metrics, logs and usage: {@code flags-java/}, the build's version and, where the
     * build recorded it, the commit it was made from ({@code flags-java/0.1.0-SNAPSHOT+3e4d9eb1a2}), which tells builds
     * of one version apart.
     */
    static final String SDK = "flags-java/" + version() + (dev.flags.core.Build.commit().equals(dev.flags.core.Build.UNKNOWN)
            ? "" : "+" + dev.flags.core.Build.commit());
    /** The heartbeat interval assumed until the server announces its own. */
    static final long DEFAULT_HEARTBEAT_MILLIS = 30_000;
    /** How many heartbeat intervals of silence make a stream dead. */
    static final int MISSED_HEARTBEATS = 3;
    private static final long MIN_HEARTBEAT_MILLIS = 10;
    /** The longest heartbeat interval taken from a server: the server's own setting's bound. */
    static final long MAX_HEARTBEAT_MILLIS = TimeUnit.HOURS.toMillis(1);
    /**
     * How long a call may wait for its connection before it is dropped and tried anew: longer than a TCP
     * connect or TLS handshake takes to fail on its own, so that those keep their own words.
     */
    static final long NO_CONNECTION_MILLIS = 25_000;
    private static final int MAX_MESSAGE_BYTES = 64 << 20;
    /** How the problem of a message the SDK refused starts: the server was reached, and answered wrongly. */
    private static final String SENT_WRONGLY = "the flag server sent ";
    /** A delta with more changed flags than this is decoded on the background thread, like a snapshot. */
    static final int LARGE_DELTA_FLAGS = 64;
    private static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    /** Codes that a quick retry cannot fix: retried at the longest backoff, logged as errors, once. */
    private static final Set<Status.Code> REFUSALS = Set.of(Status.Code.UNAUTHENTICATED,
            Status.Code.PERMISSION_DENIED, Status.Code.NOT_FOUND, Status.Code.INVALID_ARGUMENT,
            Status.Code.UNIMPLEMENTED);
    /** gRPC's words when a TLS server offers no HTTP/2 in its handshake (ALPN), as an HTTPS server does. */
    private static final String ALPN_FAILED = "Failed ALPN negotiation";
    /** gRPC's words for a connection closed before HTTP/2 began: what a TLS-only server does to plaintext. */
    private static final String NETWORK_CLOSED = "Network closed for unknown reason";
    /** gRPC's words for a TLS connection closed before the server's first handshake message. */
    private static final String TLS_CLOSED = "Connection closed while performing TLS negotiation";
    /** How to tell a flag server's connection cap from the other reasons a connection is closed unanswered. */
    private static final String AT_CAP = "then its log says \"refused a connection\"";
    /** gRPC's logger of failed name resolutions: {@link #resolutionLogHint}. */
    static final String RESOLUTION_LOGGER = "io.grpc.internal.ManagedChannelImpl";
    /** "HTTP/" in hex, as Netty dumps the first bytes of a peer that is not an HTTP/2 server. */
    private static final String HTTP1_BYTES = "485454502f";
    /** A hex dump of bytes received, as gRPC and Netty put into their messages. */
    private static final Pattern HEX_DUMP = Pattern.compile("\\p{XDigit}{32,}");

    /**
     * Immutable. What the stream is doing, for {@code freshness()} and {@code health()}.
     *
     * @param streamUp true if the current stream has delivered a message and not failed since
     * @param problem why the stream is down, or null
     * @param refused true if the server refused the last attempt (token, environment)
     */
    record SyncStatus(boolean streamUp, String problem, boolean refused) {
    }

    /** The status while a stream delivers: one instance, so a message does not replace it. */
    private static final SyncStatus UP = new SyncStatus(true, null, false);
    /** The status while the stream is up but its next message waits on the server (a {@code Waiting}). */
    private static final SyncStatus WAITING = new SyncStatus(true,
            "the flag server has not sent the newest flags yet: they wait for room in its send buffer", false);
    private static final long NEVER = Long.MIN_VALUE;

    private final String target;
    private final String environment;
    private final boolean plaintext;
    private final FlagStore store;
    private final CacheFile cache;
    private final Readiness readiness;
    private final Clock clock;
    private final LongSupplier nanoTime;
    private final Backoff backoff;
    private final Duration maxBackoff;
    private final ManagedChannel channel;
    private final FlagSyncGrpc.FlagSyncStub stub;
    private final ScheduledExecutorService background;
    private final UsageReporter usage; // null if the application turned usage reports off
    private final Acknowledger acknowledger;
    private final String application;
    private volatile SyncStatus status;
    /** Counted down once {@link #close} has released everything: the last usage report, the channel, the cache file. */
    private final java.util.concurrent.CountDownLatch released = new java.util.concurrent.CountDownLatch(1);
    /**
     * When a message last came, epoch milliseconds, or {@link #NEVER}. A long rather than an
     * {@link Instant}: it is written for every message of every instance, and a new object stored in
     * a long-lived one costs the collector's write barrier work on top of the allocation.
     */
    private volatile long lastHeardMillis = NEVER;
    /**
     * When bytes of a message last arrived on the stream, by {@code nanoTime}: set on the transport thread as
     * they come, before the message is whole (see {@link TraceArrivingBytes}).
     */
    private volatile long lastBytesNanos;

    // Guarded by lock.
    private final Object lock = new Object();
    private boolean closed;
    /** Whether {@link Census} counts this instance (from start to close). */
    private boolean counted;
    private long generation;
    private ClientCallStreamObserver<SubscribeRequest> call;
    private boolean streamUp;
    private boolean everConnected;
    private boolean outage;
    private boolean refusalLogged;
    /** Whether an outage line has named gRPC's own logger of failed name resolutions (guarded by lock). */
    private boolean resolutionHintGiven;
    private long outageSinceNanos;
    private long lastHeardNanos;
    /** Whether the current call has had a message: until it has, a connection that is not up is watched for. */
    private boolean callAnswered;
    /** When the current call's first message came, by {@code nanoTime}: where its {@linkplain #proven() proof} starts. */
    private long answeredNanos;
    /** Whether the current call has {@linkplain #proven() proven itself}. */
    private boolean proven;
    /** Whether this outage's "reconnected" line was logged: a later one waits until a stream has proven itself. */
    private boolean recoveryLogged;
    /** Whether a loss after that line was logged: further ones are debug until a stream has proven itself. */
    private boolean relapseLogged;
    /** Whether the current call's first Waiting has been logged. */
    private boolean waitingLogged;
    /**
     * Whether a message that failed to apply has been logged as an ERROR since a message last applied: the same
     * snapshot fails again at every attempt (too large for the heap), and the log says so once, not once per retry.
     */
    private boolean applyFailureLogged;
    private long heartbeatMillis = DEFAULT_HEARTBEAT_MILLIS;
    private ScheduledFuture<?> watchdog;
    private long watchdogPeriodMillis;
    private ScheduledFuture<?> reconnect;
    /** Gaps since the version last moved (a Snapshot or Delta applied): the second is a server that answers wrongly. */
    private int gapsInARow;

    /** Writes the cache file on a thread of its own, off the background thread (QA97); null without a cache file. */
    private final CacheWriter cacheWriter;
    /** Made once: a method reference written at the call would be a new object per message. */
    private final BiConsumer<String, String> unreadable = this::unreadable;

    /** {@link Readiness#ready}, made once: it runs on every change, which should allocate nothing for it. */
    private final Runnable markReady;
    /** How the note of a state without flags starts until the server answers (ClientFlags writes it). */
    static final String NOT_ANSWERED_YET = "the flag server has not answered yet";
    /** What the start-up note said after {@link #NOT_ANSWERED_YET}: about the cache file, kept in later notes. */
    private final String defaultsClause;

    Syncer(Settings settings, FlagStore store, CacheFile cache, Readiness readiness) {
        this(settings, store, cache, readiness, System::nanoTime, () -> ThreadLocalRandom.current().nextDouble());
    }

    Syncer(Settings settings, FlagStore store, CacheFile cache, Readiness readiness, LongSupplier nanoTime,
           DoubleSupplier random) {
        this.target = settings.target();
        this.environment = settings.environment();
        this.plaintext = settings.plaintext();
        this.store = store;
        this.cache = cache;
        this.readiness = readiness;
        this.markReady = readiness::ready;
        this.clock = settings.clock();
        this.nanoTime = nanoTime;
        this.backoff = new Backoff(settings.initialBackoff(), settings.maxBackoff(), random);
        this.maxBackoff = settings.maxBackoff();
        this.status = new SyncStatus(false, store.state().source() == Source.CACHE_FILE
                ? NOT_ANSWERED_YET : null, false);
        String note = store.state().note();
        this.defaultsClause = note != null && note.startsWith(NOT_ANSWERED_YET) ? note.substring(NOT_ANSWERED_YET.length()) : "";

        FrameLogGuard.check();
        Metadata headers = new Metadata();
        headers.put(AUTHORIZATION, "Bearer " + settings.sdkToken());
        this.channel = Grpc.newChannelBuilder(target, credentials(settings))
                .userAgent(SDK)
                .maxInboundMessageSize(MAX_MESSAGE_BYTES)
                // The observer applies small messages itself and hands large ones to the background
                // thread: it needs no executor of gRPC's in between.
                .directExecutor()
                // The SDK resubscribes itself, with its own backoff and from the version it has; gRPC's
                // retry layer would only buffer and forward every message through one more stream.
                .disableRetry()
                .intercept(MetadataUtils.newAttachHeadersInterceptor(headers))
                .build();
        this.stub = FlagSyncGrpc.newStub(channel).withInterceptors(new TraceArrivingBytes());
        this.background = Background.executor();
        this.usage = settings.usageReporting()
                ? new UsageReporter(channel, store, environment, settings.application(), clock, background,
                        UsageReporter.DEFAULT_INTERVAL)
                : null;
        this.acknowledger = new Acknowledger(channel, environment, background, nanoTime);
        this.cacheWriter = cache == null ? null : new CacheWriter(cache, store, background, nanoTime);
        this.application = settings.application() == null ? "" : settings.application();
    }

    /** The version the build wrote into {@code sdk.properties}, or "unknown" if it is not there. */
    private static String version() {
        Properties p = new Properties();
        try (InputStream in = Syncer.class.getResourceAsStream("/dev/flags/client/sdk.properties")) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException e) {
            return "unknown";
        }
        String v = p.getProperty("version", "");
        return v.isBlank() || v.startsWith("${") ? "unknown" : v;
    }

    private static ChannelCredentials credentials(Settings s) {
        if (s.plaintext()) {
            if (inTheClear(s.target())) {
                // The server warns of the same at its start; this side holds the token, and an application's log is
                // where its developers look.
                LOG.warn("flags: plaintext() to {}, not on this machine: the sdk token goes in the clear, and anyone on"
                        + " the way can read it and sync this environment's flags; use TLS (trustedCertificates(...) for a"
                        + " private certificate authority)", s.target());
            }
            return InsecureChannelCredentials.create();
        }
        Path file = s.trustedCertificates();
        if (file == null) {
            return TlsChannelCredentials.create();
        }
        byte[] pem;
        try (InputStream in = new FileInputStream(file.toFile())) {
            pem = in.readAllBytes();
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("cannot read trusted certificates from " + file + ": " + e.getMessage(), e);
        }
        checkCertificates(file, pem);
        try {
            return TlsChannelCredentials.newBuilder().trustManager(new ByteArrayInputStream(pem)).build();
        } catch (IOException e) {
            throw new UncheckedIOException(e); // reading an array in memory: does not happen
        }
    }

    /**
     * Whether a target is another machine, judged without a lookup: loopback is {@code localhost} and names under
     * it (RFC 6761), and an address literal that is one ({@code 127.0.0.1}, {@code [::1]}); any other name is not
     * ({@code 127.evil.example} is a name).
     */
    static boolean inTheClear(String target) {
        String authority = target.substring(target.lastIndexOf('/') + 1); // dns:///host:port as host:port
        int colon = authority.lastIndexOf(':');
        return !dev.flags.core.Loopback.isThisMachine(colon > 0 ? authority.substring(0, colon) : authority);
    }

    /**
     * Parses the trusted certificates now, as gRPC's transport will (the same JDK parser): otherwise a
     * file without a certificate fails in the transport's provider lookup with an error about providers,
     * and an empty file is taken as trusting nothing, so that every handshake fails later.
     */
    private static void checkCertificates(Path file, byte[] pem) {
        String problem;
        try {
            if (!CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(pem)).isEmpty()) {
                return;
            }
            problem = pem.length == 0 ? "it is empty" : "it holds no certificate";
        } catch (CertificateException e) {
            problem = "it holds no certificate that can be read (" + e.getMessage() + ")";
        }
        if (new String(pem, StandardCharsets.ISO_8859_1).contains("PRIVATE KEY-----")) {
            problem = "it holds a private key; this file is only for certificates to trust";
        }
        throw new IllegalArgumentException("cannot read trusted certificates from " + file + ": " + problem
                + "; expected the PEM certificate (-----BEGIN CERTIFICATE-----) of the CA that signed the server's"
                + " certificate, or of the server itself if it is self-signed");
    }

    /** Starts subscribing; returns at once (the call is asynchronous). */
    void start() {
        synchronized (lock) {
            Census.opened(target, environment);
            counted = true;
            subscribe();
        }
        if (usage != null) {
            usage.start();
        }
    }

    /** @return why the cache file could not be written the last time it was tried, or that a write hangs; or null */
    String cacheProblem() {
        return cacheWriter == null ? null : cacheWriter.problem();
    }

    SyncStatus status() {
        return status;
    }

    /** @return whether this thread runs a stream's callback or holds the stream's lock, which {@link #close} takes */
    boolean heldByCurrentThread() {
        return IN_STREAM_CALLBACK.get() != null || Thread.holdsLock(lock);
    }

    /** When a message last came from the server, or null if none has. */
    Instant lastHeard() {
        long millis = lastHeardMillis;
        return millis == NEVER ? null : Instant.ofEpochMilli(millis);
    }

    // ---------------------------------------------------------------- the stream (under lock)

    private void subscribe() {
        if (closed) {
            return;
        }
        reconnect = null;
        dropCall("resubscribing");
        long gen = ++generation;
        FlagState held = store.state();
        // A cache file that left out flags its writer could not read holds less than its version's state: a whole
        // snapshot, or this SDK (which may read them) would be told it is up to date and answer them as unknown.
        boolean whole = held.source() == Source.DEFAULTS
                || (held.source() == Source.CACHE_FILE && !held.unreadable().isEmpty());
        long from = whole ? 0 : held.version();
        long fromTag = whole ? 0 : held.stateTag();
        lastHeardNanos = nanoTime.getAsLong();
        lastBytesNanos = lastHeardNanos;
        callAnswered = false;
        proven = false;
        waitingLogged = false;
        channel.resetConnectBackoff(); // our backoff decides when to try, not the channel's
        SubscribeRequest request = SubscribeRequest.newBuilder()
                .setEnvironment(environment).setFromVersion(from).setFromStateTag(fromTag).setSdk(SDK)
                // Grants arrive as who got and who lost a role, not as every role's whole member list again.
                .setAcceptsMemberChanges(true)
                // What this instance applies is acknowledged on the stream of this id (Acknowledger).
                .setInstanceId(acknowledger.instanceId()).setApplication(application).build();
        acknowledger.streamStarted();
        if (usage != null) {
            usage.streamStarted();
        }
        try {
            stub.subscribe(request, new Observer(gen));
        } catch (RuntimeException e) {
            lost(Status.UNAVAILABLE.withDescription("cannot start the call").withCause(e));
            return;
        }
        scheduleWatchdog();
    }

    /** Applies one message of call {@code gen} and asks for the next one. */
    private void received(long gen, SyncMessage message) {
        synchronized (lock) {
            if (closed || gen != generation) {
                return;
            }
            boolean goOn;
            try {
                goOn = apply(message);
                applyFailureLogged = false;
            } catch (RuntimeException e) {
                // A bug (bad documents are reported by Updates and do not get here). Start over with a
                // new stream rather than leave this one waiting for a request that would never come.
                if (firstApplyFailure()) {
                    LOG.error("flags: cannot apply a message from the flag server; subscribing again", e);
                } else {
                    LOG.debug("flags: cannot apply a message from the flag server, again; subscribing again", e);
                }
                dropCall("the SDK could not apply a message");
                lost(Status.INTERNAL.withDescription("the SDK could not apply a message: " + e).withCause(e));
                return;
            } catch (OutOfMemoryError e) {
                // A snapshot too large for this JVM's heap. Left to the thread, the stream waited for a request that
                // would never come, for good; this way the SDK serves what it holds and tries again after its backoff.
                String kind = message.getKindCase().name().toLowerCase(java.util.Locale.ROOT);
                if (firstApplyFailure()) {
                    LOG.error("flags: out of memory applying a message from the flag server ({} of environment \"{}\");"
                            + " serving the flags held and subscribing again: give the application's JVM more heap",
                            kind, environment);
                } else {
                    LOG.debug("flags: out of memory applying a message from the flag server ({}), again", kind);
                }
                dropCall("the SDK ran out of memory applying a message");
                lost(Status.RESOURCE_EXHAUSTED.withDescription("the SDK ran out of memory applying a message from the flag"
                        + " server: give the application's JVM more heap"));
                return;
            }
            if (goOn && call != null) {
                call.request(1);
            }
        }
    }

    /** @return whether this is the first failure to apply a message since one last applied (guarded by lock) */
    private boolean firstApplyFailure() {
        boolean first = !applyFailureLogged;
        applyFailureLogged = true;
        return first;
    }

    /** @return false if the call was dropped (a gap), true to go on with it */
    private boolean apply(SyncMessage message) {
        long now = nanoTime.getAsLong();
        lastHeardNanos = now;
        if (!callAnswered) {
            callAnswered = true;
            answeredNanos = now;
        } else if (!proven && now - answeredNanos >= TimeUnit.MILLISECONDS.toNanos(heartbeatMillis)) {
            proven();
        }
        lastHeardMillis = clock.millis();
        FlagState held = store.state();
        long have = held.source() == Source.DEFAULTS ? 0 : held.version();
        FlagState next = null;
        Set<String> touched = null;
        switch (message.getKindCase()) {
            case SNAPSHOT -> {
                Snapshot s = message.getSnapshot();
                if (s.getVersion() < 0) {
                    dropCall("a snapshot of a negative version");
                    lost(Status.INTERNAL.withDescription(SENT_WRONGLY + "a snapshot of version " + s.getVersion()
                            + ", which no environment has; not applied"));
                    return false;
                }
                if (!s.getEnvironment().equals(environment)) {
                    // Another environment's flags, served and cached as this one's, would outlive a restart of the
                    // application (the cache file is signed): refused, as a server that answers wrongly.
                    dropCall("a snapshot of another environment");
                    lost(Status.INTERNAL.withDescription(SENT_WRONGLY + "the flags of " + (s.getEnvironment().isEmpty()
                            ? "no named environment" : "environment \"" + oneLine(s.getEnvironment()) + "\"") + " on this SDK's"
                            + " stream for \"" + environment + "\"; not applied: a proxy or load balancer that sends streams to"
                            + " the wrong place?"));
                    return false;
                }
                heartbeatInterval(s.getHeartbeatIntervalMillis());
                if (held.source() != Source.DEFAULTS && s.getVersion() < have) {
                    LOG.warn("flags: the flag server sent version {} of environment \"{}\", older than the version {}"
                            + " this SDK had; following the server", s.getVersion(), environment, have);
                }
                next = Updates.snapshot(s, unreadable, held.flags());
            }
            case DELTA -> {
                Delta d = message.getDelta();
                // A delta that does not start at the version held, or does not move forward (a broken server), is a gap.
                if (d.getFromVersion() != have || d.getVersion() <= have) {
                    gap("a delta from version " + d.getFromVersion() + " to " + d.getVersion(), have);
                    return false;
                }
                next = Updates.delta(held, d, unreadable);
                touched = Updates.touched(d);
            }
            case HEARTBEAT -> {
                Heartbeat h = message.getHeartbeat();
                heartbeatInterval(h.getHeartbeatIntervalMillis());
                if (h.getVersion() != have) {
                    gap("a heartbeat at version " + h.getVersion(), have);
                    return false;
                }
                if (cacheWriter != null && cacheWriter.problem() != null) {
                    cacheWriter.queue(); // a quiet environment has no change to try again with: each heartbeat does
                }
            }
            case WAITING -> {
                heartbeatInterval(message.getWaiting().getHeartbeatIntervalMillis());
                waiting(held);
                return true;
            }
            default -> {
                // A kind of message this release does not know: it still shows that the stream is alive.
                LOG.debug("flags: ignoring a sync message of an unknown kind");
                return true;
            }
        }
        if (next != null) {
            // Only a version that moves ends a run of gaps. A Heartbeat of the version held does not: a server (or a
            // proxy) that answers "up to date" and then a gapped Delta, on every stream, lets no change through, and
            // counted afresh each time it would be resubscribed to at once, forever, while called live (QA76 F3).
            gapsInARow = 0;
        }
        if (!streamUp) {
            // Logged before listeners hear of the new state, so the log reads in the order things happened.
            streamUp = true;
            connected(message, have, next != null ? next : held);
        }
        if (status == UP) {
            publishLive(message, held, next, touched, have); // the common case, a live stream: no status to write
        } else {
            // The status first, with the state: status listeners are told of the new source inside publish(), from it,
            // and freshness() never reads the one without the other.
            FlagState live = next;
            Set<String> liveTouched = touched;
            store.changeTogether(() -> {
                status = UP;
                publishLive(message, held, live, liveTouched, have);
            });
        }
        readiness.ready();
        if (next != null && cacheWriter != null) {
            cacheWriter.queue(); // one write at a time, of the newest state: a burst of changes is written once
        }
        acknowledger.confirmed(next != null ? next.version() : have); // the version isEnabled answers from now
        return true;
    }

    /** Publishes the state a message brought ({@code next}), or the state held as live if it brought none. */
    private void publishLive(SyncMessage message, FlagState held, FlagState next, Set<String> touched, long have) {
        if (next != null) {
            store.publish(next, touched, markReady); // ready before a direct listener hears "live"
            if (LOG.isDebugEnabled()) { // checked first: the arguments would be boxed on every change otherwise
                LOG.debug("flags: applied {} of environment \"{}\": version {} -> {}", message.hasSnapshot()
                        ? "a snapshot (" + next.flags().size() + (next.flags().size() == 1 ? " flag)" : " flags)")
                        : "a delta (" + message.getDelta().getUpsertedCount() + " flags changed, " + message.getDelta().getRemovedCount()
                                + " removed, " + (message.getDelta().getRoleGrantsCount() + message.getDelta().getMemberChangesCount())
                                + " roles' members changed)",
                        environment, have, next.version());
            }
        } else if (held.source() != Source.LIVE) {
            store.publish(held.withSource(Source.LIVE), null, markReady);
        }
    }

    /**
     * The server is reached, and its next message for this SDK (the flags, or a large change) waits for room in
     * its send buffer. The stream is alive and kept (a new one would wait at the back of the server's queue),
     * but the flags held are not current: live ones become stale until the message comes, and defaults say why.
     */
    private void waiting(FlagState held) {
        if (!waitingLogged) { // once per call: a Waiting comes each heartbeat interval
            waitingLogged = true;
            LOG.info("flags: the flag server at {} has {} for environment \"{}\" waiting for room in its send buffer"
                    + " (other SDKs have not taken theirs yet); serving {} until it comes", target,
                    streamUp ? "a change" : "the flags", environment, serving(held));
        }
        streamUp = false; // the next Snapshot or Delta brings the stream's state up again
        if (status != WAITING) {
            boolean wasRefused = status.refused();
            readiness.refused(false);
            store.changeTogether(() -> { // freshness() reads the status and the state as one
                status = WAITING;
                if (held.source() == Source.LIVE) {
                    store.publish(held.withSource(Source.STALE));
                } else if (held.source() == Source.DEFAULTS) {
                    store.publish(FlagState.none("the flag server has not sent the flags yet: they wait for room in its"
                            + " send buffer" + defaultsClause));
                } else if (wasRefused) {
                    store.statusChanged();
                }
            });
        }
    }

    /**
     * The stream's first message (or its first since a Waiting): the flags are live again. Neither the backoff nor the
     * outage ends here, but once the stream has {@linkplain #proven() proven itself}: a stream that ends right after its
     * first message must not bring the next attempt back to the initial delay, nor log a recovery each time.
     */
    private void connected(SyncMessage first, long had, FlagState now) {
        if ((outage && !recoveryLogged) || !everConnected) {
            recoveryLogged = outage;
            String how = switch (first.getKindCase()) {
                case SNAPSHOT -> "a full snapshot";
                case DELTA -> "a delta from version " + had;
                default -> "already up to date";
            };
            String verb = !outage ? "connected to" : everConnected ? "reconnected to" : "connected to";
            String after = outage ? " after " + human(Duration.ofNanos(nanoTime.getAsLong() - outageSinceNanos)) : "";
            // Unreadable flags count too (they answer ERROR, and listeners heard of them): said apart.
            int unreadableFlags = now.unreadable().size();
            LOG.info("flags: {} {}{}: environment \"{}\" at version {} ({} flag{}{}), {}", verb, target, after,
                    environment, now.version(), now.flags().size(), now.flags().size() == 1 ? "" : "s",
                    unreadableFlags == 0 ? "" : " and " + unreadableFlags + " this SDK cannot read", how);
        }
        everConnected = true;
        refusalLogged = false;
        readiness.refused(false);
    }

    /**
     * The current stream has delivered for a heartbeat interval since its first message: it works, so the backoff starts
     * again from the initial delay and an outage is over. Why that rule: a working server sends at least one message
     * each heartbeat interval, so a healthy stream proves itself within one or two intervals, and the next outage (a
     * server restart) is again retried quickly; a server or proxy that ends every stream right after its first message
     * (a crash-looping or draining replica, a very short stream lifetime) never does, so it is retried with growing
     * delays, up to {@code maxBackoff}, and not at the initial delay forever (QA76 F2). Bytes alone do not prove a
     * stream; only whole messages do.
     */
    private void proven() {
        proven = true;
        backoff.reset();
        if (outage && relapseLogged) {
            // The log last said the stream was lost again: say that it is back now, once.
            long now = nanoTime.getAsLong();
            LOG.info("flags: reconnected to {} after {}: the stream has stayed up for {}; environment \"{}\" at version {}",
                    target, human(Duration.ofNanos(now - outageSinceNanos)), human(Duration.ofNanos(now - answeredNanos)),
                    environment, store.state().version());
        }
        outage = false;
        recoveryLogged = false;
        relapseLogged = false;
    }

    private void failed(long gen, Status failure) {
        synchronized (lock) {
            if (closed || gen != generation) {
                return;
            }
            call = null;
            generation++; // a Snapshot of this call still being decoded is dropped
            lost(failure);
        }
    }

    /** The stream is gone: mark the flags stale, say so once, and schedule the next attempt. */
    private void lost(Status failure) {
        boolean wasUp = streamUp;
        streamUp = false;
        FlagState held = store.state();
        // Plaintext that this target has served already: a reset is a restart, not a TLS-only server.
        String problem = describe(failure, plaintext && !everConnected, wasUp);
        boolean refusal = REFUSALS.contains(failure.getCode());
        if (!outage) {
            outage = true;
            outageSinceNanos = nanoTime.getAsLong();
            if (!refusal) {
                if (failure.getCode() == Status.Code.INTERNAL && failure.getDescription() != null
                        && failure.getDescription().startsWith(SENT_WRONGLY)) {
                    // Reached: what it sent is what failed (see apply), not the network.
                    LOG.warn("flags: the flag server at {} answered wrongly ({}); serving {}, retrying in the background",
                            target, problem, serving(held));
                } else if (failure.getCode() == Status.Code.RESOURCE_EXHAUSTED) {
                    // Reached, and turned away for now (its limit of streams per token): not a network problem.
                    LOG.warn("flags: the flag server at {} has no room for this SDK's stream now ({}); serving {},"
                            + " retrying in the background", target, problem, serving(held));
                } else if (wasUp || everConnected) {
                    LOG.warn("flags: lost the stream to {} ({}); serving {}, reconnecting in the background{}",
                            target, problem, serving(held), resolutionLogHintOnce(failure));
                } else {
                    LOG.warn("flags: cannot reach the flag server at {} ({}); serving {}, retrying in the background{}",
                            target, problem, serving(held), resolutionLogHintOnce(failure));
                }
            }
        } else if (recoveryLogged && !relapseLogged && !refusal) {
            // The log said "reconnected", and the stream is gone again before it proved itself: said once, so that the
            // log does not end on a recovery that did not last; the next line is the recovery of a stream that stays.
            relapseLogged = true;
            LOG.warn("flags: lost the stream to {} again, before it stayed up ({}); serving {}, reconnecting in the"
                    + " background with a growing delay", target, problem, serving(held));
        }
        long delay;
        if (refusal) {
            if (!refusalLogged) {
                refusalLogged = true;
                if (failure.getCode() == Status.Code.UNIMPLEMENTED) {
                    // An HTTP/2 server that is not a flag server (a proxy's 404, another gRPC service): the address is wrong.
                    LOG.error("flags: {} does not serve flag sync ({}): check the target, the flag server's gRPC port."
                            + " Serving {}; retrying about every {}", target, problem, serving(held), human(maxBackoff));
                } else {
                    // The server's words say what to do (a new token, another environment): not said twice here.
                    LOG.error("flags: the flag server at {} refused this SDK for environment \"{}\": {}. Serving {};"
                            + " retrying about every {}", target, environment, problem, serving(held), human(maxBackoff));
                }
            }
            delay = backoff.maxDelayMillis();
        } else {
            delay = backoff.nextDelayMillis();
        }
        LOG.debug("flags: next attempt in {} ms ({})", delay, problem);
        // The status first, with the state: status listeners are told of the new source inside publish(), from it,
        // and freshness() never reads the one without the other.
        boolean wasRefused = status.refused();
        SyncStatus down = new SyncStatus(false, problem, refusal);
        // Without flags, every answer's reason carries the note: it must say why now, not "not answered yet".
        String defaultsNote = held.source() != Source.DEFAULTS ? null
                : (failure.getCode() == Status.Code.UNIMPLEMENTED ? "the target is not a flag server ("
                        : refusal ? "the flag server refused this SDK ("
                        : failure.getCode() == Status.Code.RESOURCE_EXHAUSTED ? "the flag server has no room for this SDK's stream now ("
                        : "the flag server cannot be reached (") + problem + ")"
                        + defaultsClause;
        store.changeTogether(() -> {
            status = down;
            if (held.source() == Source.LIVE) {
                store.publish(held.withSource(Source.STALE));
            } else if (held.source() == Source.DEFAULTS) {
                if (!defaultsNote.equals(held.note())) {
                    store.publish(FlagState.none(defaultsNote)); // defaults to defaults: no news for status listeners in itself
                }
                if (refusal != wasRefused) {
                    store.statusChanged();
                }
            } else if (refusal != wasRefused) {
                // The source stays what it was (defaults, cache file, stale), but being refused or no
                // longer refused is news for status listeners all the same.
                store.statusChanged();
            }
        });
        readiness.refused(refusal); // a refusal that gave way to an outage: awaitReady waits again (QA64 F4)
        scheduleReconnect(delay);
    }

    private void gap(String what, long have) {
        gapsInARow++;
        dropCall("version gap");
        if (gapsInARow == 1) {
            LOG.debug("flags: the server sent {}, but this SDK has version {}: subscribing again", what, have);
            streamUp = false;
            subscribe();
        } else {
            // Again on a stream asked from the version held: the server (or what stands between) is broken, and no
            // change gets through while it goes on. An outage, said as such, so that the flags show as stale.
            lost(Status.INTERNAL.withDescription(SENT_WRONGLY + what + " on a stream asked from version " + have
                    + ", " + gapsInARow + " times in a row; not applied"));
        }
    }

    private void unreadable(String key, String problem) {
        LOG.warn("flags: cannot read flag \"{}\" of environment \"{}\" sent by the server; it serves the caller's"
                + " default until this SDK is upgraded or the flag is fixed: {}", FlagStore.shown(key), environment, problem);
    }

    private void heartbeatInterval(long millis) {
        // Bounded as the server bounds its setting: a bad or hostile value must neither overflow the silence check (the
        // stream dropped at every watchdog look) nor make a silent stream go unnoticed (QA64 F7).
        long bounded = Math.max(MIN_HEARTBEAT_MILLIS, Math.min(MAX_HEARTBEAT_MILLIS, millis));
        if (millis > 0 && bounded != heartbeatMillis) {
            heartbeatMillis = bounded;
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
        try {
            watchdog = background.scheduleWithFixedDelay(this::checkWatchdog, period, period, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            LOG.error("flags: cannot schedule the stream's watchdog; a silent stream will not be noticed", e);
        }
    }

    private void checkWatchdog() {
        synchronized (lock) {
            if (closed || call == null) {
                return;
            }
            long silentMillis = (nanoTime.getAsLong() - lastHeardNanos) / 1_000_000;
            if (!callAnswered && silentMillis > NO_CONNECTION_MILLIS
                    && channel.getState(false) == ConnectivityState.CONNECTING) {
                dropCall("no connection");
                channel.enterIdle(); // drops the attempt that hangs: the next call makes a new connection
                lost(Status.UNAVAILABLE.withDescription("no connection after " + silentMillis / 1000 + " s: the target"
                        + " does not complete an HTTP/2 connection (a host that does not answer, a hung server, or a proxy"
                        + " with nothing behind it?)"));
                return;
            }
            long bytesArriving = lastBytesNanos;
            if (bytesArriving - lastHeardNanos > 0) { // a message still arriving: silent since its last bytes
                silentMillis = (nanoTime.getAsLong() - bytesArriving) / 1_000_000;
            }
            if (silentMillis > MISSED_HEARTBEATS * heartbeatMillis) {
                dropCall("silent");
                // The connection goes too: a half-open one, or one a stuck proxy holds, would carry the next stream into the
                // same silence, for good (QA60 F1). The next call makes a new connection.
                channel.enterIdle();
                lost(Status.UNAVAILABLE.withDescription("no message for " + silentMillis + " ms; heartbeats are due"
                        + " every " + heartbeatMillis + " ms"));
            }
        }
    }

    private void scheduleReconnect(long delayMillis) {
        if (reconnect != null) {
            reconnect.cancel(false);
        }
        try {
            reconnect = background.schedule(this::resubscribe, delayMillis, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            LOG.error("flags: cannot schedule the next attempt to reach the flag server", e);
        }
    }

    private void resubscribe() {
        synchronized (lock) {
            subscribe();
        }
    }

    /**
     * Bytes of a message arriving prove the stream alive before the message is whole: a snapshot of megabytes over
     * a slow link can take longer than the silence limit (three heartbeat intervals), and a stream dropped for it
     * would be asked for the whole snapshot again, and again. gRPC tells a stream tracer of the bytes it reads for
     * the message the SDK has asked for, as they come. One tracer for every call: it only notes the time.
     */
    private final class TraceArrivingBytes extends ClientStreamTracer.Factory implements ClientInterceptor {
        private final ClientStreamTracer tracer = new ClientStreamTracer() {
            @Override
            public void inboundWireSize(long bytes) {
                lastBytesNanos = nanoTime.getAsLong();
            }
        };

        @Override
        public ClientStreamTracer newClientStreamTracer(ClientStreamTracer.StreamInfo info, Metadata headers) {
            return tracer;
        }

        @Override
        public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
            return next.newCall(method, options.withStreamTracerFactory(this));
        }
    }

    private void dropCall(String why) {
        if (call != null) {
            ClientCallStreamObserver<SubscribeRequest> c = call;
            call = null;
            generation++; // its last callbacks are ignored, even those that cancel() makes at once
            c.cancel(why, null);
        }
    }

    // ---------------------------------------------------------------- plumbing

    private String serving(FlagState held) {
        return switch (held.source()) {
            case CACHE_FILE -> "cached version " + held.version() + " from " + cache.path();
            case DEFAULTS -> "defaults (no flags yet)";
            default -> "version " + held.version() + " from memory";
        };
    }

    /**
     * Why a stream failed, in one line, for the log, {@code freshness().problem()} and {@code health()}.
     * gRPC's own text can span lines (a listing of Netty's pipeline) and carry a hex dump of what the
     * server sent; neither tells the reader what to do, so they are left out. A TLS mistake, the usual
     * reason why a first connection fails, gets a hint of the setting to change.
     *
     * @param s the failure
     * @param plaintext whether the SDK talks without TLS (and has not had a stream from this target: then a
     *                  reset is no sign of a TLS-only server)
     * @param wasUp whether this call had delivered messages: then the connection's TLS setup was right
     */
    static String describe(Status s, boolean plaintext, boolean wasUp) {
        Throwable cause = s.getCause();
        SSLException tls = wasUp ? null : sslFailure(cause);
        if (tls != null) {
            return s.getCode().name() + ": " + tlsProblem(tls);
        }
        StringBuilder b = new StringBuilder(s.getCode().name());
        String description = oneLine(s.getDescription());
        if (description != null) {
            b.append(": ").append(description);
        }
        String because = cause == null ? null : oneLine(cause.getMessage());
        if (because != null && !because.equals(description)) {
            b.append(" (").append(because).append(')');
        }
        // A TLS server that gets plaintext closes the connection, or resets it: which one the SDK sees is timing. A flag
        // server at its connection cap closes it too (or resets it, with TLS), as soon as it is accepted, whether or
        // not this SDK was connected before: a server restarted into a port filled by others.
        boolean closedUnanswered = !wasUp && (NETWORK_CLOSED.equals(s.getDescription()) || wasReset(s));
        if (plaintext && closedUnanswered) {
            b.append("; the server may require TLS (drop plaintext()), or be at its connection cap (").append(AT_CAP)
                    .append(')');
        } else if (!wasUp && said(s, TLS_CLOSED)) {
            b.append("; the server closed the connection before any TLS: it may be at its connection cap (").append(AT_CAP)
                    .append("), or a proxy with nothing behind it");
        } else if (closedUnanswered) {
            b.append("; the server closed the connection unanswered: it may be at its connection cap (").append(AT_CAP)
                    .append(')');
        }
        if (!plaintext && !wasUp && said(s, ALPN_FAILED)) {
            // TLS, but no HTTP/2 offered in its handshake: an HTTPS server, such as the flag server's own admin port.
            b.append("; the target speaks TLS but not HTTP/2: is it the flag server's admin HTTPS port? The SDK needs"
                    + " its gRPC port (the server's --grpc-port, 9090 unless set)");
        }
        if (!wasUp && answeredHttp1(s)) {
            b.append("; the target answers HTTP/1.x, not gRPC: is it the flag server's admin HTTP port? The SDK"
                    + " needs its gRPC port (the server's --grpc-port, 9090 unless set)");
        }
        return b.toString();
    }

    /**
     * While a host name does not resolve, gRPC logs each failed attempt itself, with a stack trace, through
     * java.util.logging: a dozen blocks in 20 s, on a schedule of its own. The SDK cannot quiet another library's logger
     * in the application's logging without quieting it for the application's own channels too; it can name it, in the
     * first outage line of this instance that a failed resolution caused.
     *
     * @return the sentence for that line, else ""
     */
    private String resolutionLogHintOnce(Status failure) {
        String hint = resolutionLogHint(failure);
        if (hint == null || resolutionHintGiven) {
            return "";
        }
        resolutionHintGiven = true;
        return hint;
    }

    /** @return what to set to quiet gRPC's own lines about a host name that does not resolve, or null for another failure */
    static String resolutionLogHint(Status failure) {
        boolean unresolved = failure.getDescription() != null && failure.getDescription().startsWith("Unable to resolve host");
        for (Throwable t = failure.getCause(); t != null && !unresolved; t = t.getCause()) {
            unresolved = t instanceof java.net.UnknownHostException;
        }
        return !unresolved ? null : ". gRPC itself logs each failed resolution of the host, with a stack trace, through"
                + " java.util.logging (logger " + RESOLUTION_LOGGER + ", level WARNING): set that logger to SEVERE in your"
                + " logging configuration to quiet it (it quiets your application's other gRPC channels too)";
    }

    /** Whether the status's description or a cause's message contains {@code words}. */
    private static boolean said(Status s, String words) {
        if (s.getDescription() != null && s.getDescription().contains(words)) {
            return true;
        }
        for (Throwable t = s.getCause(); t != null; t = t.getCause()) {
            if (t.getMessage() != null && t.getMessage().contains(words)) {
                return true;
            }
        }
        return false;
    }

    /** Whether the peer reset the connection (ECONNRESET), as Netty's native transport words it. */
    private static boolean wasReset(Status s) {
        for (Throwable t = s.getCause(); t != null; t = t.getCause()) {
            if (t.getMessage() != null && t.getMessage().contains("Connection reset by peer")) {
                return true;
            }
        }
        return false;
    }

    /** Whether Netty's hex dump of the first bytes the server sent reads "HTTP/": an HTTP/1 server. */
    private static boolean answeredHttp1(Status s) {
        for (Throwable t = s.getCause(); t != null; t = t.getCause()) {
            String m = t.getMessage();
            if (m != null && m.contains(HTTP1_BYTES)) {
                return true;
            }
        }
        return s.getDescription() != null && s.getDescription().contains(HTTP1_BYTES);
    }

    private static SSLException sslFailure(Throwable t) {
        for (int depth = 0; t != null && depth < 10; t = t.getCause(), depth++) {
            if (t instanceof SSLException ssl) {
                return ssl;
            }
        }
        return null;
    }

    private static String tlsProblem(SSLException failure) {
        boolean notTls = false;
        boolean certificate = false;
        String expired = null;
        String notYetValid = null;
        String innermost = null;
        Throwable t = failure;
        for (int depth = 0; t != null && depth < 10; t = t.getCause(), depth++) {
            // Netty's NotSslRecordException, named not imported: the SDK does not name its transport.
            notTls |= t.getClass().getSimpleName().equals("NotSslRecordException");
            certificate |= t instanceof CertificateException;
            expired = t instanceof CertificateExpiredException ? oneLine(t.getMessage()) : expired;
            notYetValid = t instanceof CertificateNotYetValidException ? oneLine(t.getMessage()) : notYetValid;
            String message = oneLine(t.getMessage());
            innermost = message != null ? message : innermost;
        }
        if (innermost != null && innermost.startsWith("handshake timed out")) {
            // Nothing came back: no certificate to distrust, no plaintext to point at.
            return "TLS handshake failed: the target sent nothing (" + innermost + "): a host that does not answer, a"
                    + " hung server, or a proxy with nothing behind it?";
        }
        if (notTls) {
            return "TLS handshake failed: the server does not speak TLS (what it sent is not a TLS record); if it"
                    + " serves plaintext, set plaintext()";
        }
        if (certificate && innermost != null
                && (innermost.startsWith("No subject alternative") || innermost.startsWith("No name matching"))) {
            return "TLS handshake failed: the server's certificate is not for this address (" + innermost
                    + "); use a target with a name or address that the certificate lists";
        }
        if (expired != null) {
            // Trusted or not, an expired certificate is the server's to renew: pointing at trustedCertificates(...) would
            // send its reader down the wrong path.
            return "TLS handshake failed: the server's certificate, or one of its chain, has expired (" + expired
                    + "); the server needs a renewed"
                    + " one (it reads it at start)";
        }
        if (notYetValid != null) {
            return "TLS handshake failed: the server's certificate is not valid yet (" + notYetValid + "); is this machine's"
                    + " clock right?";
        }
        if (certificate) {
            return "TLS handshake failed: the server's certificate is not trusted (" + innermost + "); pass the"
                    + " certificate of its CA (or its own, if self-signed) with trustedCertificates(...)";
        }
        return "TLS handshake failed (" + innermost + "): the server's certificate may not be trusted (pass its CA"
                + " with trustedCertificates(...)), or the server may not speak TLS (plaintext())";
    }

    /** The first line of a message, without hex dumps; null if nothing is left. */
    private static String oneLine(String message) {
        if (message == null) {
            return null;
        }
        String line = HEX_DUMP.matcher(message.lines().findFirst().orElse("")).replaceAll("(bytes omitted)").strip();
        return line.isEmpty() ? null : line;
    }

    /**
     * A duration for a log line, to the precision a reader needs: "2 min 51 s", not "2 min" for nearly three (QA58 F1);
     * whole minutes from 10 minutes on, hours and minutes from 2 hours on. Never rounded up: an outage is not said to
     * be longer than it was.
     */
    static String human(Duration d) {
        if (d.toMillis() < 1_000) {
            return d.toMillis() + " ms";
        }
        long seconds = d.toSeconds();
        if (seconds < 120) {
            return seconds + " s";
        }
        if (seconds < 600) {
            return seconds / 60 + " min" + (seconds % 60 == 0 ? "" : " " + seconds % 60 + " s");
        }
        long minutes = d.toMinutes();
        if (minutes < 120) {
            return minutes + " min";
        }
        return minutes / 60 + " h" + (minutes % 60 == 0 ? "" : " " + minutes % 60 + " min");
    }

    /**
     * Stops the stream and its timers, sends the last usage report (if the server is reachable; at most
     * a second), and writes the newest state to the cache file (waiting for that {@value CacheWriter#CLOSE_WAIT_MILLIS}
     * ms at most: a write on a file system that hangs goes on without it). Idempotent. On an interrupted thread too, which keeps
     * its interrupt.
     */
    @Override
    public void close() {
        // An application that closes on an interrupted thread (a worker told to stop, closing in its finally) would
        // otherwise lose all three of what follows: the goodbye and the last usage report (gRPC's blocking call and the
        // wait for a report on its way give up at once on an interrupt) and the last cache write (a file channel is closed
        // by it, logged as a write that failed). Each of them is bounded in time, so the close waits them out; the
        // interrupt is the application's, and is set again for it.
        boolean interrupted = Thread.interrupted();
        try {
            closeUninterrupted();
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void closeUninterrupted() {
        // From a listener run directly where a message is applied: on the transport's thread, or on the background
        // thread with a snapshot (QA60 F3). Both hold the lock that the stream's last callback waits for.
        boolean inCallback = IN_STREAM_CALLBACK.get() != null || Thread.holdsLock(lock);
        boolean goodbye;
        synchronized (lock) {
            // Not from such a listener: the server's answer could wait for that very thread.
            goodbye = !closed && streamUp && !inCallback;
        }
        if (goodbye) {
            acknowledger.goodbye(store.state().version()); // outside the lock: it waits for the server, briefly
        }
        boolean reachable;
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            reachable = streamUp;
            if (counted) {
                Census.closed(target, environment);
            }
            dropCall("closed");
            acknowledger.close();
            if (watchdog != null) {
                watchdog.cancel(false);
            }
            if (reconnect != null) {
                reconnect.cancel(false);
            }
        }
        if (inCallback) {
            // A listener run directly where a message is applied closed the SDK: what is left waits for that thread, or for
            // the lock it holds (the last usage report's answer, the channel's end, which needs the stream's last callback),
            // so it runs on the background thread, after this message, and close() returns at once.
            try {
                background.execute(() -> release(reachable));
                return;
            } catch (RejectedExecutionException e) {
                // the background thread is gone (the JVM is stopping): released here, waits and all
            }
        }
        release(reachable);
    }

    /**
     * Waits, a few seconds at most, until what {@link #close} left to the background thread is done: for a second {@code
     * close()} from the application's own thread, before it exits (QA62 F3). Returns at once where that cannot be waited
     * for (a listener's thread) or when nothing was left.
     */
    void awaitReleased() {
        if (IN_STREAM_CALLBACK.get() != null || Thread.holdsLock(lock)) {
            return;
        }
        try {
            released.await(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The blocking part of a close: the last usage report, the channel, the cache file. */
    private void release(boolean reachable) {
        try {
            releaseNow(reachable);
        } finally {
            released.countDown();
        }
    }

    private void releaseNow(boolean reachable) {
        if (usage != null) {
            usage.close(reachable); // before the channel goes: it carries the last report
        }
        channel.shutdownNow();
        try {
            channel.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (cacheWriter != null) {
            cacheWriter.close(); // the last change, if not written yet; a write that hangs is waited for 2 s at most
        }
    }

    /**
     * Marks this thread as running a stream's callback, for {@link #close} called from a listener it runs directly
     * (no lambda: a change's path allocates nothing for it).
     *
     * @return whether this is the outermost mark, to be undone by {@link #leaveStreamCallback}
     */
    private static boolean enterStreamCallback() {
        boolean outermost = IN_STREAM_CALLBACK.get() == null;
        if (outermost) {
            IN_STREAM_CALLBACK.set(Boolean.TRUE);
        }
        return outermost;
    }

    private static void leaveStreamCallback(boolean outermost) {
        if (outermost) {
            IN_STREAM_CALLBACK.remove();
        }
    }

    private final class Observer implements ClientResponseObserver<SubscribeRequest, SyncMessage> {
        private final long gen;
        /** Whether a message of this call is handed to the background thread and not yet applied (it holds the lock). */
        private volatile boolean onBackground;

        Observer(long gen) {
            this.gen = gen;
        }

        @Override
        public void beforeStart(ClientCallStreamObserver<SubscribeRequest> requestStream) {
            // Called inside stub.subscribe(), under the lock. One message at a time: the next is requested
            // once this one is applied, so a Snapshot decoded elsewhere is never overtaken by a Delta.
            requestStream.disableAutoRequestWithInitial(1);
            call = requestStream;
        }

        @Override
        public void onNext(SyncMessage value) {
            if (value.hasSnapshot() || value.getDelta().getUpsertedCount() > LARGE_DELTA_FLAGS) {
                onBackground = true;
                try {
                    background.execute(() -> {
                        try {
                            received(gen, value);
                        } finally {
                            onBackground = false;
                        }
                    });
                } catch (RejectedExecutionException e) {
                    onBackground = false;
                    receivedInCallback(value);
                }
            } else {
                receivedInCallback(value);
            }
        }

        /**
         * The call's end. While a message of it is decoded on the background thread, under the lock (a snapshot of many
         * flags takes a second or more), the end waits its turn there: on the transport's thread it would hold up every
         * other connection of that thread, the application's own channels among them, for the whole decode (QA64 F2).
         */
        private void ended(Status status) {
            if (onBackground) {
                try {
                    background.execute(() -> failed(gen, status));
                    return;
                } catch (RejectedExecutionException e) {
                    // the background thread is gone (the JVM is stopping): here
                }
            }
            boolean outermost = enterStreamCallback();
            try {
                failed(gen, status);
            } finally {
                leaveStreamCallback(outermost);
            }
        }

        private void receivedInCallback(SyncMessage value) {
            boolean outermost = enterStreamCallback();
            try {
                received(gen, value);
            } finally {
                leaveStreamCallback(outermost);
            }
        }

        @Override
        public void onError(Throwable t) {
            ended(Status.fromThrowable(t));
        }

        @Override
        public void onCompleted() {
            ended(Status.UNAVAILABLE.withDescription("the server ended the stream"));
        }
    }
}
