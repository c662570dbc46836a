package dev.flags.server;

import dev.flags.server.auth.TokenExpiry;
import dev.flags.server.auth.TokenService;
import dev.flags.server.http.AnsweredBeforeClosing;
import dev.flags.server.http.ApiServlet;
import dev.flags.server.http.BodiesInFlight;
import dev.flags.server.http.BodyBuffering;
import dev.flags.server.http.KeptConnections;
import dev.flags.server.http.LargeAnswersApart;
import dev.flags.server.http.OpsServlet;
import dev.flags.server.http.RequestLimits;
import dev.flags.server.journal.DurableFiles;
import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.FileAccess;
import dev.flags.server.journal.FileJournal;
import dev.flags.server.journal.Journal;
import dev.flags.server.sync.Broadcaster;
import dev.flags.server.sync.CallRateLimit;
import dev.flags.server.sync.GrpcConnections;
import dev.flags.server.sync.GrpcTransport;
import dev.flags.server.sync.SyncService;
import dev.flags.server.usage.ReportRateLimit;
import dev.flags.server.usage.UsageFile;
import dev.flags.server.usage.UsageSaver;
import dev.flags.server.usage.UsageStore;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2SecurityUtil;
import io.undertow.Undertow;
import io.undertow.UndertowOptions;
import io.undertow.server.HttpHandler;
import io.undertow.server.HttpServerExchange;
import io.undertow.server.handlers.SetHeaderHandler;
import io.undertow.servlet.Servlets;
import io.undertow.servlet.api.DeploymentInfo;
import io.undertow.servlet.api.DeploymentManager;
import io.undertow.servlet.api.ServletContainer;
import io.undertow.servlet.util.ImmediateInstanceFactory;
import jakarta.servlet.ServletException;
import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xnio.Options;

/**
 * Thread-safe. The flag server: the journal, the admin HTTP API and the gRPC sync service, started
 * and stopped together.
 * <pre>{@code
 * try (FlagServer server = FlagServer.start(ServerConfig.defaults().withPorts(0, 0))) {
 *     int http = server.httpPort();
 * }
 * }</pre>
 * Start order: journal (recovered), usage (read from usage.json), sync, gRPC, HTTP; {@link #close()}
 * stops in reverse: writes drained, streams told to reconnect elsewhere, gRPC, HTTP, usage (written),
 * then the journal (forced and closed).
 */
public final class FlagServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(FlagServer.class);
    /** The HTTP I/O buffer; a request body is read into at most MAX_BODY_BYTES / this of them. */
    private static final int HTTP_BUFFER_BYTES = 16 * 1024;
    /**
     * The most of a body over the API's limit that is read and dropped after its 413, so that a sender that reads the
     * answer only once it has sent everything still gets it: four times the limit. A larger one is not read.
     */
    private static final long MAX_DROPPED_BYTES = 4L * ApiServlet.MAX_BODY_BYTES;
    /**
     * The most bytes of a request's headers, all together (Undertow's default, set here so that
     * docs/api.md can say it); more, or more than {@link #MAX_HEADERS} headers or {@link #MAX_PARAMETERS}
     * query parameters, are a bare 400 from the HTTP layer, before any token is looked at.
     */
    static final int MAX_HEADER_BYTES = 1 << 20;
    /** The most headers a request may have. */
    static final int MAX_HEADERS = 200;
    /** The most query parameters a request may have. */
    static final int MAX_PARAMETERS = 1_000;
    /** The open-file limit under which the server WARNs at start: its connection caps are small. */
    static final long MIN_OPEN_FILES = 1_024;
    /**
     * How long a client may take to send a request's headers, and how long a new connection may stay silent: it is also
     * the read timeout a connection starts with, until its first request arrives ({@link KeptConnections}).
     */
    static final Duration HEADERS_TIMEOUT = Duration.ofSeconds(10);
    /**
     * How long a keep-alive connection may wait for its next request: the read timeout's 30 s, which XNIO applies to an
     * idle connection's waiting read as well (a longer time here would never be reached).
     */
    static final Duration IDLE_TIMEOUT = Duration.ofSeconds(30);
    /** How long a connection that has sent a request may go without sending a byte while a request is being read. */
    static final Duration READ_TIMEOUT = Duration.ofSeconds(30);
    /**
     * How long a write of an answer may wait for its client to read: a worker thread writes it, and without this one
     * waited as long as the client did not read (a stuck script, a peer gone without a word, for TCP's quarter of an
     * hour), so that two dozen of them, each asking for a page of megabytes, stopped the API and the health checks
     * (QA83 F3). Then the connection is closed.
     */
    static final Duration WRITE_TIMEOUT = Duration.ofSeconds(30);
    /**
     * How long the HTTP port's stop waits for its worker threads, once the shutdown grace has been given to the requests
     * begun: then they are interrupted and the stop goes on.
     */
    static final Duration HTTP_WORKERS_STOP = Duration.ofSeconds(1);

    /** The largest gRPC message taken: room for the largest usage report within its limits. */
    static final int MAX_INBOUND_MESSAGE_BYTES = 2 << 20;
    /**
     * Streams a gRPC connection's client may reset per {@link #RST_WINDOW_SECONDS} before the connection is closed
     * (GOAWAY): an SDK resets a stream when it closes or resubscribes, a few times a minute at most.
     */
    static final int MAX_RST_FRAMES = 200;
    /** The window {@link #MAX_RST_FRAMES} counts in. */
    static final int RST_WINDOW_SECONDS = 30;

    /** How long a gRPC connection may go without a call before the server closes it. */
    static final long GRPC_IDLE_CONNECTION_SECONDS = 60;

    /** How long a new gRPC connection has to finish its TLS and HTTP/2 handshake. */
    static final long GRPC_HANDSHAKE_SECONDS = 20;

    private final ServerConfig config;
    private final Journal journal;
    private final Metrics metrics;
    private final ChangeWriter writer;
    private final GrantExpiry grantExpiry;
    /** Applies scheduled flag changes at their time; stopped before the writes are drained. */
    private final ScheduleRunner scheduleRunner;
    private final Broadcaster broadcaster;
    /** Closes each token's sync streams when it expires; stopped after the streams are. */
    private final TokenExpiry tokenExpiry;
    /** Writes usage.json once per report interval; at close, after the gRPC port (no report comes after it). */
    private final UsageSaver usageSaver;
    /** Where every change goes as well, or null for nowhere. */
    private final Webhook webhook;
    private final Server grpc;
    /** How long a gRPC connection may go without a call before it is closed. */
    private final Duration grpcIdle;
    /** The gRPC port's open connections: counted, for the metric, and capped. */
    private final GrpcConnections grpcConnections;
    /** The gRPC port's event loops and listening channel, which carry {@link #grpcConnections}. */
    private final GrpcTransport grpcTransport;
    /** How many connections the HTTP port holds at once; it accepts more only as these close. */
    private final int httpMaxConnections;
    /**
     * Runs the watches that say in the log what would go unseen: {@link HttpCapWatch}, {@link TlsExpiryWatch},
     * {@link SdkTokenExpiryWatch}.
     */
    private final java.util.concurrent.ScheduledExecutorService watchTimer =
            Executors.newSingleThreadScheduledExecutor(named("flags-server-watch"));
    /** When the TLS certificate expires (read at start, as the ports read it), or null without TLS. */
    private final Instant tlsExpiry;
    private final ExecutorService grpcExecutor = Executors.newFixedThreadPool(
            Math.max(4, 2 * Runtime.getRuntime().availableProcessors()), named("flags-grpc"));
    private final Undertow http;
    /** The HTTP port's front handler: answers what it began before the port closes. */
    private final AnsweredBeforeClosing httpRequests;
    /** The threads of the API's reads. */
    private final LargeAnswersApart largeAnswers;
    private final DeploymentManager deployment;
    private final AtomicBoolean ready = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();

    /** The release, as {@code flags-server -V} and the start log say it. */
    public static final String RELEASE = dev.flags.core.Build.RELEASE;

    /**
     * @return the release and the commit this build was made from, {@code 0.1.0 (commit 3e4d9eb1a2)}: for the journal's
     *     tool too, which knows nothing of flags-core
     */
    public static String build() {
        return dev.flags.core.Build.describe();
    }

    /** The data directory's mark that its journal was made: see {@link #markJournalCreated}. */
    static final String JOURNAL_CREATED = "journal-created";

    private FlagServer(ServerConfig config, Clock clock, UsageFile.Mover usageMover, Duration grpcIdle) throws IOException {
        this.config = config;
        this.grpcIdle = grpcIdle;
        long openFileLimit = ConnectionLimits.openFileLimit();
        this.grpcConnections = new GrpcConnections(config.connectionLimits().grpcMax(openFileLimit),
                config.connectionLimits().grpcMaxPerAddress(), clock, LOG::warn);
        this.httpMaxConnections = config.connectionLimits().httpMax(openFileLimit);
        fewDescriptors(config.connectionLimits(), openFileLimit).forEach(LOG::warn);
        checkDataDirectory(config.dataDir());
        boolean dataDirectoryExisted = Files.isDirectory(config.dataDir());
        boolean inEmptyDirectory = !dataDirectoryExisted && isEmptyDirectory(config.dataDir().toAbsolutePath().getParent());
        // The journal holds user ids, token hashes and who changed what: directories the server makes are
        // its owner's only. One that exists keeps its mode (the operator's choice), with a word if it is open.
        createOwnerOnly(config.dataDir());
        warnIfOthersCanRead(config.dataDir());
        warnIfOthersCanChange(config.dataDir());
        String owner = anotherUsersDirectory(config.dataDir().toAbsolutePath(), System.getProperty("user.name", ""),
                FileAccess.ownerOf(config.dataDir()));
        if (owner != null) {
            LOG.warn(owner);
        }
        createOwnerOnly(config.dataDir().resolve("journal"));
        // The journal (and its directory lock) first: a server refused the lock must leave the data
        // directory as it found it, not generate an admin-token file the running server does not use.
        FileJournal.Builder journalBuilder = FileJournal.builder(config.dataDir().resolve("journal")).clock(clock)
                .holder("flags-server");
        if (config.journalRetention() != null) {
            journalBuilder.retention(config.journalRetention());
        }
        boolean newJournal = !holdsSegments(config.dataDir().resolve("journal"));
        FileJournal fileJournal = journalBuilder.open();
        this.journal = fileJournal;
        if (newJournal) {
            String made = newJournalLine(config.dataDir().toAbsolutePath(), dataDirectoryExisted, inEmptyDirectory);
            if (dataDirectoryExisted || inEmptyDirectory) {
                LOG.warn(made);
            } else {
                LOG.info(made);
            }
        }
        Broadcaster sync = null;
        TokenExpiry expiry = null;
        Server grpcServer = null;
        GrpcTransport transport = null;
        ScheduleRunner runner = null;
        GrantExpiry grantTimer = null;
        UsageSaver saver = null;
        Webhook hook = null;
        try {
            markJournalCreated(config.dataDir(), clock);
            String adminToken = config.bootstrapAdminToken() ? AdminToken.resolve(config.adminToken(), config.dataDir())
                    : AdminToken.off(config.dataDir());
            this.metrics = new Metrics();
            sync = Broadcaster.builder(journal).heartbeatInterval(config.heartbeatInterval())
                    .maxStreamsPerToken(config.maxSyncStreamsPerToken())
                    .sendBufferBytes((long) config.maxSyncBufferMib() << 20).build();
            this.broadcaster = sync;
            GrantExpiry grants = new GrantExpiry(journal, clock);
            grantTimer = grants;
            this.grantExpiry = grants;
            ScheduleRunner schedules = new ScheduleRunner(journal, clock);
            runner = schedules;
            this.scheduleRunner = schedules;
            AtomicReference<UsageStore> usageRecord = new AtomicReference<>(); // made below, once the writer exists
            AtomicReference<Webhook> webhookRef = new AtomicReference<>(); // likewise
            this.writer = new ChangeWriter(journal, metrics, env -> {
                Webhook sender = webhookRef.get();
                if (sender != null) {
                    sender.wake();
                }
                broadcaster.environmentChanged(env);
                grants.environmentChanged(env);
                schedules.environmentChanged(env);
                UsageStore record = usageRecord.get();
                if (record != null && journal.state().environment(env).map(EnvironmentState::archived).orElse(true)) {
                    record.forgetEnvironment(env); // restored, its record starts again: see UsageStore.forgetEnvironment
                }
            });
            metrics.register("flags_grants_expired_total", "Role grants this server revoked because they expired, since it started.",
                    "counter", grants::revokedCount);
            metrics.register("flags_schedules_applied_total", "Scheduled flag changes this server applied, since it started.",
                    "counter", schedules::appliedCount);
            metrics.register("flags_schedules_failed_total", "Scheduled flag changes this server could not apply (each ended as"
                    + " failed), since it started.", "counter", schedules::failedCount);
            AtomicReference<TokenService> tokenService = new AtomicReference<>(); // the expiry thread's, once made below
            expiry = new TokenExpiry(clock, id -> {
                if (!id.equals(TokenService.ADMIN_ACCESS_CHECK)) { // not a token: nothing of it to close
                    broadcaster.tokenExpired(id);
                }
                TokenService service = tokenService.get();
                if (service != null) {
                    service.expired(id);
                }
            });
            this.tokenExpiry = expiry;
            TokenService tokens = new TokenService(journal, writer::append, adminToken, broadcaster::tokenRevoked, clock, expiry);
            tokenService.set(tokens);
            tokens.warnAboutUnboundTesterTokens();
            metrics.register("flags_unknown_tokens_total", "Requests (HTTP and gRPC) refused for a token the server does"
                    + " not know (unknown, revoked or malformed; not expired), since it started.", "counter",
                    tokens::refusedUnknownCount);
            if (adminToken != null) {
                AdminToken.Since since = AdminToken.since(config.dataDir(), adminToken, clock);
                tokens.bootstrapSince(since.at());
                AdminToken.warnIfReplacedTokenArranged(since, journal.state());
            }
            if (adminToken == null) {
                AdminToken.requireAnotherAdmin(tokens.liveAdminTokens());
                tokens.warnIfAdminAccessEnds();
                metrics.register("flags_admin_access_expires_in_seconds", "With the bootstrap admin token off: seconds until"
                        + " the last admin token that may act expires, after which nobody can manage this server; -1 while"
                        + " some admin token never expires.", "gauge",
                        () -> tokens.adminAccessEnds().map(end -> Math.max(0, Duration.between(clock.instant(), end).getSeconds()))
                                .orElse(-1L));
            }
            metrics.register("flags_sdk_token_expires_in_seconds", "Seconds until the first sdk token that may act now"
                    + " expires (its SDKs then lose their stream and serve stale flags until given a new token); -1 while"
                    + " none of them expires.", "gauge",
                    () -> tokens.soonestSdkExpiry().map(end -> Math.max(0, Duration.between(clock.instant(), end).getSeconds()))
                            .orElse(-1L));
            SdkTokenExpiryWatch sdkExpiry = new SdkTokenExpiryWatch(tokens::list, clock, LOG::warn);
            sdkExpiry.check(); // at start too: a server restarted every day would otherwise never say it
            watchTimer.scheduleWithFixedDelay(sdkExpiry::check, 5, 5, TimeUnit.MINUTES);
            registerSyncMetrics();
            // One UsageFile for the read and the writes: an unusable file it could not move aside at the read
            // must not be overwritten by the writes, and that is the instance's state.
            UsageFile usageFile = new UsageFile(config.dataDir(), clock, usageMover);
            Function<String, Set<String>> currentFlags = env -> journal.state().environment(env)
                    .filter(e -> !e.archived()).map(e -> e.flags().keySet()).orElse(null);
            // Only what the first write would keep is read: the file grows with every environment ever reported.
            UsageStore usage = new UsageStore(clock, usageFile.read(currentFlags));
            usageRecord.set(usage);
            saver = new UsageSaver(usage, usageFile, currentFlags, config.usage().reportInterval());
            this.usageSaver = saver;
            SyncService syncService = new SyncService(broadcaster, usage,
                    new ReportRateLimit(config.usage().reportsPerSecond(), clock), config.usage().reportInterval(),
                    new CallRateLimit(config.callsPerTokenPerSecond(), SyncService.ACKNOWLEDGE_AND_GET_SNAPSHOT, clock, LOG::warn),
                    new CallRateLimit(config.callsPerTokenPerSecond(), SyncService.SUBSCRIBE, clock, LOG::warn));
            metrics.register("flags_usage_reports_total", "Flag usage reports this server took from SDKs, since it started.",
                    "counter", syncService::usageReportsTaken);
            metrics.register("flags_usage_reports_unlisted_total", "Usage reports taken whose application was not listed: the"
                    + " server keeps at most 10,000 distinct applications (name and SDK), one environment at most 1,000;"
                    + " since it started.", "counter",
                    usage::unlistedReports);
            metrics.register("flags_usage_reports_refused_total", "Flag usage reports this server refused (a token that may"
                    + " not report, a report over the limits, or over --usage-reports-per-second), since it started.",
                    "counter", syncService::usageReportsRefused);
            metrics.register("flags_sdk_acknowledgements_total", "Acknowledgements of applied versions this server took"
                    + " from SDKs (an SDK instance sends about one a second at most while changes come; one token's beyond"
                    + " --grpc-calls-per-token-per-second are refused), since it started.", "counter",
                    syncService::acknowledgements);
            EnvironmentLimits limits = config.environmentLimits();
            metrics.register("flags_environment_full_percent", "How full the fullest environment that takes changes is: the"
                    + " larger of its share of --max-flags-per-environment and of --max-environment-mib, in percent (over 100"
                    + " once a limit was set below what it serves). At 100 and over, it takes no new flag (the flag limit) or no"
                    + " change that makes it larger (the size limit).", "gauge",
                    () -> journal.state().environments().values().stream().filter(e -> !e.archived())
                            .mapToLong(limits::fullPercent).max().orElse(0));
            journal.state().environments().values().stream().filter(e -> !e.archived())
                    .forEach(e -> limits.overLimit(e).ifPresent(LOG::warn));
            HeapRoom.overRoom(journal.state()).ifPresent(LOG::warn);
            registerMemoryMetrics();
            registerProcessMetrics();
            GrpcClientFaults.install();
            metrics.register("flags_grpc_requests_refused_total", "Request messages the gRPC port refused for their bytes"
                    + " (over 2 MiB, over it once decompressed, or not a valid message), in this process since it started;"
                    + " each is logged at debug only.", "counter", GrpcClientFaults::refusedMessages);
            metrics.register("flags_journal_failed", "1 once the journal has stopped after an i/o failure (every write"
                    + " fails until a restart), else 0.", "gauge", () -> journal.failure().isPresent() ? 1 : 0);
            metrics.register("flags_journal_checkpoint_failures_total", "Background checkpoints of the journal that failed"
                    + " (a full disk, say) since the server started: writes go on, but a restart replays more of the"
                    + " journal; each is a WARN.", "counter", fileJournal::checkpointFailures);
            // Before the writes of this start (grants that expired, schedules that fell due while it was stopped): a data
            // directory without a cursor starts it at the journal's end, and those changes are to be sent (QA69 F8).
            if (config.webhook() != null) {
                hook = Webhook.start(journal, config.webhook(), config.dataDir(), Duration.ofSeconds(1));
                webhookRef.set(hook);
                Webhook sender = hook;
                metrics.register("flags_webhook_lag_entries", "Changes in the journal that the webhook's endpoint has not"
                        + " acknowledged yet (they wait in the journal, and are sent in order).", "gauge", sender::lag);
                metrics.register("flags_webhook_oldest_waiting_seconds", "Seconds since the oldest change the webhook's"
                        + " endpoint has not acknowledged was written; 0 when it has every change. Climbing: the endpoint is"
                        + " down or refusing (a busy one keeps it low however many changes wait); -1 if the journal could"
                        + " not be read.", "gauge", () -> {
                            try {
                                return sender.oldestWaiting(clock.instant()).getSeconds();
                            } catch (dev.flags.server.journal.JournalException | IllegalArgumentException e) {
                                // the scrape's other metrics still count (IllegalArgumentException: the entry was removed
                                // by retention before the sender skipped it, QA69 F5)
                                return -1;
                            }
                        });
                metrics.register("flags_webhook_delivered_total", "Changes the webhook's endpoint acknowledged, since the"
                        + " server started.", "counter", sender::deliveredCount);
                metrics.register("flags_webhook_failures_total", "Deliveries to the webhook's endpoint that failed (no answer,"
                        + " or not a 2xx), since the server started; each is tried again.", "counter", sender::failureCount);
            }
            // Before the ports open: no SDK is to be sent a grant that expired while the server was stopped.
            grants.start(writer);
            FlagService flagService = new FlagService(journal, writer, config.environmentLimits());
            // Before the ports open too: what fell due while the server was stopped is applied first.
            schedules.start(writer, flagService, tokens::whyNoLongerActing);
            saver.start();
            this.webhook = hook;
            this.grpcTransport = transport = new GrpcTransport(grpcConnections);
            grpcServer = startGrpc(syncService, tokens);
            this.grpc = grpcServer;
            RequestLimits apiLimits = new RequestLimits(config.apiLimits());
            ApiServlet.Services services = new ApiServlet.Services(tokens,
                    new EnvironmentService(journal, writer, config.environmentLimits(), broadcaster::streams), flagService, new RoleService(journal, writer, clock, config.environmentLimits()),
                    new ScheduleService(journal, writer, flagService, clock, tokens::whyNoLongerActing),
                    new HistoryService(journal, clock), new Playground(journal), metrics, apiLimits,
                    new UsageService(journal, flagService, usage, config.usage().reportInterval(), clock),
                    broadcaster::streamsOf, new SdkService(journal, broadcaster::streams, broadcaster::closedSince, clock,
                    broadcaster::isShutdown, clock.instant()));
            this.deployment = deploy(services);
            this.largeAnswers = new LargeAnswersApart(startDeployment(), LargeAnswersApart.workerThreads());
            registerLargeAnswerMetrics(largeAnswers);
            this.httpRequests = new AnsweredBeforeClosing(httpHandler(largeAnswers, tokens, apiLimits));
            this.http = startHttp(withHsts(httpRequests));
            registerHttpConnectionMetrics(http);
            HttpCapWatch capWatch = new HttpCapWatch(() -> (int) http.getListenerInfo().get(0).getConnectorStatistics()
                    .getActiveConnections(), httpMaxConnections, httpPort(), clock, LOG::warn);
            watchTimer.scheduleWithFixedDelay(capWatch::check, 1, 1, TimeUnit.SECONDS);
            // A connection whose calls were all refused is never idle to gRPC: closed once as old as an idle one would be.
            long untrustedSweepMillis = Math.max(100, Math.min(10_000, grpcIdle.toMillis() / 4));
            watchTimer.scheduleWithFixedDelay(() -> grpcConnections.closeUntrusted(grpcIdle), untrustedSweepMillis,
                    untrustedSweepMillis, TimeUnit.MILLISECONDS);
            this.tlsExpiry = config.tls() ? PemTls.expiry(config.tlsCertificate()) : null;
            if (tlsExpiry != null) {
                metrics.register("flags_tls_certificate_expires_in_seconds", "Seconds until the first certificate of the"
                        + " TLS chain that both ports serve expires, the server's own or an intermediate's (0 once it has:"
                        + " every client then refuses the chain); a renewed one takes effect at the next start.", "gauge",
                        () -> Math.max(0, Duration.between(clock.instant(), tlsExpiry).getSeconds()));
            }
        } catch (IOException | RuntimeException e) {
            if (sync != null) {
                sync.shutdown();
            }
            if (expiry != null) {
                expiry.close();
            }
            if (runner != null) {
                runner.close();
            }
            if (grantTimer != null) {
                grantTimer.close();
            }
            if (saver != null) {
                saver.abandon();
            }
            if (hook != null) {
                hook.close();
            }
            if (grpcServer != null) {
                grpcServer.shutdownNow();
            }
            if (transport != null) {
                transport.close();
            }
            grpcExecutor.shutdownNow();
            watchTimer.shutdownNow();
            journal.close();
            throw e;
        }
        ready.set(true);
        String host = hostForAPort(config.bindAddress());
        LOG.info("flag server ready: http {}:{}, grpc {}:{}{}, data in {}; an environment serves at most {} and {} MiB;"
                + " snapshots SDKs have not read take at most {} MiB; connections at most {} gRPC{}, {} HTTP; journal kept {};"
                + " heartbeat {}, shutdown grace {}",
                host, httpPort(), host, grpcPort(), config.tls() ? " (TLS on both, certificate chain valid until " + tlsExpiry + ")" : "",
                config.dataDir().toAbsolutePath(),
                EnvironmentLimits.flags(config.environmentLimits().maxFlags()), config.environmentLimits().maxMebibytes(),
                config.maxSyncBufferMib(), grpcConnections.maxConnections(),
                grpcConnections.maxPerAddress() == 0 ? "" : " (" + grpcConnections.maxPerAddress() + " per client address)",
                httpMaxConnections,
                config.journalRetention() == null ? "for good" : "for " + Expiry.readable(config.journalRetention()),
                config.heartbeatInterval(), config.shutdownGrace());
        String plaintext = plaintextWarning(config);
        if (plaintext != null) {
            LOG.warn(plaintext);
        }
        LOG.info("flags-server {}, log level {}, {}", dev.flags.core.Build.describe(),
                System.getProperty("org.slf4j.simpleLogger.defaultLogLevel", "info"),
                jvmLine(Runtime.version(), ManagementFactory.getGarbageCollectorMXBeans().stream()
                        .map(GarbageCollectorMXBean::getName).toList()));
        String expiring = tlsExpiry == null ? null : tlsExpiryWarning(config.tlsCertificate(), tlsExpiry, clock.instant());
        if (expiring != null) {
            LOG.warn(expiring);
        }
        if (tlsExpiry != null) {
            TlsExpiryWatch watch = new TlsExpiryWatch(config.tlsCertificate(), tlsExpiry, expiring != null, clock, LOG::warn,
                    LOG::error);
            watchTimer.scheduleWithFixedDelay(watch::check, 5, 5, TimeUnit.MINUTES);
        }
        String nio = GrpcTransport.fallbackWarning();
        if (nio != null) {
            LOG.warn(nio);
        }
    }

    /**
     * The line that names the JVM and its collector, with advice where they cost a server with many SDKs: Java
     * before 20 with G1 refines, on its own threads, the cards that every change's writes to the SDKs' streams
     * dirty: at 1,000 streams a change cost the server 21-31 ms of CPU there, 16-20 ms on the parallel collector
     * or Java 25 (docs/server.md, "The JVM").
     *
     * @param version the running JVM's version
     * @param collectors the names of its garbage collectors' beans
     * @return one line for the log
     */
    static String jvmLine(Runtime.Version version, List<String> collectors) {
        boolean g1 = collectors.stream().anyMatch(name -> name.startsWith("G1 "));
        String line = "running on Java " + version + " with " + (g1 ? "the G1 collector" : String.join(" and ", collectors));
        if (g1 && version.feature() < 20) {
            line += "; with hundreds of SDKs connected, -XX:+UseParallelGC (or a newer JDK) takes a quarter to"
                    + " two fifths off the CPU each change costs (docs/server.md, \"The JVM\")";
        }
        return line;
    }

    /**
     * The warning for a TLS certificate that expires within {@value #TLS_EXPIRY_WARNING_DAYS} days: the server reads it
     * only at start, so a renewed one needs a restart, and the day it expires every client refuses it.
     *
     * @return one line for the log, or null if the expiry is further off
     */
    static String tlsExpiryWarning(Path certificate, Instant expiry, Instant now) {
        Duration left = Duration.between(now, expiry);
        if (left.compareTo(Duration.ofDays(TLS_EXPIRY_WARNING_DAYS)) >= 0) {
            return null;
        }
        long days = left.toDays();
        long hours = left.toHours();
        String when = days >= 1 ? days + (days == 1 ? " day" : " days") : hours >= 1 ? hours + (hours == 1 ? " hour" : " hours")
                : "under an hour";
        return "the TLS certificate " + certificate + " expires at " + expiry + ", in " + when + ": then every"
                + " client refuses it; renew it and start the server again (it reads the certificate at start);"
                + " flags_tls_certificate_expires_in_seconds is what to alert on";
    }

    /** Days before a TLS certificate's expiry from which a start warns of it. */
    static final int TLS_EXPIRY_WARNING_DAYS = 30;

    /**
     * The warning for a server that others can reach without TLS: every token crosses the network in
     * the clear. Loopback is fine (a TLS proxy on the same host, a laptop).
     *
     * @return the warning, or null if there is nothing to warn about
     */
    static String plaintextWarning(ServerConfig config) {
        if (config.tls()) {
            return null;
        }
        try {
            if (java.net.InetAddress.getByName(config.bindAddress()).isLoopbackAddress()) {
                return null;
            }
        } catch (java.net.UnknownHostException e) {
            // cannot happen once both ports listen on it; warn, to be safe
        }
        return "no TLS, and both ports listen on " + config.bindAddress() + ", not only on loopback: every token (admin,"
                + " editor, sdk) crosses the network in the clear. Give --tls-cert and --tls-key, or bind to 127.0.0.1"
                + " behind a TLS-terminating proxy (docs/server.md)";
    }

    /**
     * Refuses, each in a line that says what to do, a data directory that is a file, or whose journal
     * directory is, and a data directory that is a journal directory itself (it holds segments,
     * checkpoints or the journal's lock): an easy slip, since the data directory holds little else.
     * Started there, the server would make an empty journal/ inside it and serve no flags, as if they
     * were lost.
     */
    private static void checkDataDirectory(Path dataDir) throws IOException {
        if (Files.exists(dataDir) && !Files.isDirectory(dataDir)) {
            throw new IOException("the data directory " + dataDir + " is a file, not a directory: give a directory (it is"
                    + " made if missing)");
        }
        Path journalDir = dataDir.resolve("journal");
        if (Files.exists(journalDir) && !Files.isDirectory(journalDir)) {
            throw new IOException(journalDir + " is a file, not a directory: the journal is kept in a directory of that"
                    + " name; move the file away");
        }
        if (!Files.isDirectory(dataDir)) {
            return;
        }
        Path marker = dataDir.resolve(JOURNAL_CREATED);
        if (Files.exists(marker) && !holdsSegments(journalDir) && holdsCheckpoints(journalDir)) {
            // Its segments gone but not its checkpoints: the state is not lost, and "start empty" is the wrong advice.
            throw new IOException("the data directory " + dataDir.toAbsolutePath() + " had a journal, but "
                    + journalDir.getFileName() + "/ holds no segment now, only checkpoints of its state: were segments"
                    + " deleted or moved? Restore the journal (docs/journal.md, Backup), or keep the newest checkpoint's"
                    + " state, without the history before it: " + dev.flags.server.journal.JournalTool.commandLine("repair",
                            journalDir.toAbsolutePath(), "--from-checkpoint") + " (verify first says what it holds)");
        }
        if (Files.exists(marker) && !holdsSegments(journalDir)) {
            throw new IOException("the data directory " + dataDir.toAbsolutePath() + " had a journal (" + marker.getFileName()
                    + " says when it was made), but " + journalDir.getFileName() + "/ holds none now: was it deleted or moved,"
                    + " or is its volume not mounted? Starting would serve every SDK an empty environment. Restore the journal"
                    + " (docs/journal.md, Backup); to start an empty server here on purpose, delete " + marker.toAbsolutePath());
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dataDir)) {
            for (Path file : files) {
                String name = file.getFileName().toString();
                if (name.endsWith(".seg") || name.endsWith(".ckpt") || name.equals("journal.lock")) {
                    Path parent = dataDir.toAbsolutePath().normalize().getParent();
                    throw new IOException(dataDir + " holds journal segments itself: give its parent, the data directory ("
                            + (parent == null ? dataDir + "/.." : parent) + ")");
                }
            }
        }
    }

    /**
     * What a start that made a new, empty journal says. In a data directory that was there already, it is a WARN: the
     * directory may be the mount point of a volume that is not mounted (the {@value #JOURNAL_CREATED} mark is on the
     * volume too), and an empty server would then serve every SDK empty environments.
     *
     * @param dataDir the data directory, absolute
     * @param existed whether it existed before this start (else the server made it)
     * @param inEmptyDirectory whether the server made it in an empty directory (a volume's mount point, with the data
     *     directory on the volume, looks so with the volume not mounted)
     * @return one line for the log
     */
    static String newJournalLine(Path dataDir, boolean existed, boolean inEmptyDirectory) {
        String notMounted = " If this server had flags before, this is not their directory, or its volume is not mounted:"
                + " stop the server, and mount the volume (what this start writes stays hidden under the mount point)";
        if (existed) {
            return "no journal in the data directory " + dataDir + ": started a new, empty one." + notMounted;
        }
        if (inEmptyDirectory) {
            return "made the data directory " + dataDir + " in the empty directory " + dataDir.getParent() + ", with a new,"
                    + " empty journal." + notMounted;
        }
        return "made the data directory " + dataDir + ", with a new, empty journal";
    }

    private static boolean isEmptyDirectory(Path dir) {
        if (dir == null || !Files.isDirectory(dir)) {
            return false;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            return !entries.iterator().hasNext();
        } catch (IOException e) {
            return false; // cannot tell: nothing to say
        }
    }

    /**
     * Marks the data directory as one whose journal exists, once: a later start that finds the marker but no journal
     * refuses, instead of starting an empty server over a journal that was lost (see {@link #checkDataDirectory}).
     */
    private static void markJournalCreated(Path dataDir, Clock clock) throws IOException {
        Path marker = dataDir.resolve(JOURNAL_CREATED);
        if (!Files.exists(marker)) {
            DurableFiles.replace(marker, out -> out.write(("The flag server's journal (journal/ beside this file) was made by"
                    + " " + clock.instant() + " at the latest. While this file is here, the server refuses to start without that"
                    + " journal (deleted, moved, a volume not mounted) rather than start an empty one. Delete this file to"
                    + " start an empty server here on purpose.\n").getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        }
    }

    private static boolean holdsSegments(Path journalDir) throws IOException {
        return holds(journalDir, "*.seg");
    }

    private static boolean holdsCheckpoints(Path journalDir) throws IOException {
        return holds(journalDir, "*.ckpt");
    }

    private static boolean holds(Path journalDir, String glob) throws IOException {
        if (!Files.isDirectory(journalDir)) {
            return false;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(journalDir, glob)) {
            return files.iterator().hasNext();
        }
    }

    /** An IPv6 address in brackets, as in a URL ("[::1]:8080"): "::1:8080" would not say where the address ends. */
    static String hostForAPort(String bindAddress) {
        return bindAddress.contains(":") && !bindAddress.startsWith("[") ? "[" + bindAddress + "]" : bindAddress;
    }

    /** Makes a directory (and missing parents) readable by its owner only, where the file system has POSIX modes. */
    private static void createOwnerOnly(Path dir) throws IOException {
        try {
            FileAccess.createOwnerOnlyDirectories(dir);
        } catch (IOException e) {
            throw new IOException("cannot create the directory: " + StartFailure.describe(e), e);
        }
    }

    /**
     * Worse than reading: a journal file others may change could be given a token of their own (records carry a
     * checksum, not a signature), which the server would take at its next start. Said once, with a count and an
     * example, for the data directory, {@code journal/} and the files in them.
     */
    private static void warnIfOthersCanChange(Path dataDir) {
        List<String> open = new ArrayList<>();
        try (java.util.stream.Stream<Path> files = Files.walk(dataDir, 2)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Set<PosixFilePermission> perms = Files.getPosixFilePermissions(f, java.nio.file.LinkOption.NOFOLLOW_LINKS);
                if (perms.contains(PosixFilePermission.GROUP_WRITE) || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
                    open.add(f.toAbsolutePath() + " (" + PosixFilePermissions.toString(perms) + ")");
                }
            }
        } catch (UnsupportedOperationException | IOException | java.io.UncheckedIOException e) {
            return; // not a POSIX file system, or a file gone meanwhile: nothing to say
        }
        if (!open.isEmpty()) {
            LOG.warn("{} in the data directory {} can be changed by users other than its owner, such as {}: someone could"
                    + " write a token of their own into the journal, taken at the next start; chmod -R go-w {}",
                    open.size() == 1 ? "1 file or directory" : open.size() + " files and directories", dataDir.toAbsolutePath(),
                    open.get(0),
                    dataDir.toAbsolutePath());
        }
    }

    /**
     * The warning for a server run as another user than the one who owns its data directory, most often root by
     * mistake on the service user's: what it writes (segments, checkpoints, usage.json) is then the other user's, and
     * the service user's next start is refused, maybe days later, with no hint of this run.
     *
     * @param dataDir the data directory, absolute
     * @param user the user this process runs as
     * @param owner the data directory's owner, or null if it cannot be told
     * @return one line for the log, or null if the process runs as the owner (or either is unknown)
     */
    static String anotherUsersDirectory(Path dataDir, String user, String owner) {
        if (owner == null || user.isEmpty() || owner.equals(user)) {
            return null;
        }
        return "the server runs as " + user + " on the data directory " + dataDir + ", which belongs to " + owner + ": what"
                + " it writes now (journal segments, checkpoints, usage.json) will belong to " + user + ", and the next start"
                + " as " + owner + " will be refused; stop it and start it as " + owner + " (then, if it wrote anything, 'chown -R "
                + owner + " " + FileAccess.shellQuoted(dataDir.toString()) + "' as root first)";
    }

    private static void warnIfOthersCanRead(Path dataDir) {
        try {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(dataDir);
            if (perms.contains(PosixFilePermission.GROUP_READ) || perms.contains(PosixFilePermission.GROUP_EXECUTE)
                    || perms.contains(PosixFilePermission.OTHERS_READ) || perms.contains(PosixFilePermission.OTHERS_EXECUTE)) {
                String owner = FileAccess.ownerOf(dataDir);
                String user = System.getProperty("user.name", "?");
                // chmod 700 by whoever owns it; on a directory this process does not own, it would lock this process out.
                boolean read = perms.contains(PosixFilePermission.GROUP_READ) || perms.contains(PosixFilePermission.OTHERS_READ);
                LOG.warn("the data directory {} can be {} by users other than its owner ({}): the journal in it holds user"
                        + " ids, token hashes and the audit trail; {}", dataDir.toAbsolutePath(), read ? "read" : "entered",
                        PosixFilePermissions.toString(perms),
                        owner == null || owner.equals(user) ? "chmod 700 " + dataDir.toAbsolutePath()
                                : "it belongs to " + owner + ", not to " + user + " that runs this server: chown -R " + user + " "
                                + dataDir.toAbsolutePath() + ", then chmod 700 " + dataDir.toAbsolutePath());
            }
        } catch (UnsupportedOperationException | IOException e) {
            // not a POSIX file system: nothing to check
        }
    }

    /**
     * Starts a server: recovers the journal, opens both ports. Returns when it is ready.
     *
     * @param config the settings
     * @return the running server
     * @throws IOException if the data directory, the journal or a port cannot be used
     */
    public static FlagServer start(ServerConfig config) throws IOException {
        return start(config, Clock.systemUTC());
    }

    /**
     * Starts a server whose journal timestamps, token expiries, scheduled changes and usage records read a
     * given clock: for tests (here and of the tools that talk to a server) that move time on instead of
     * waiting for it. A server in production runs on {@link #start(ServerConfig)}, the system clock.
     *
     * @param config the settings
     * @param clock what "now" is for the server
     * @return the running server
     * @throws IOException if the data directory, the journal or a port cannot be used
     */
    public static FlagServer start(ServerConfig config, Clock clock) throws IOException {
        return start(config, clock, (from, to) -> Files.move(from, to));
    }

    /** What is left of the shutdown grace: zero once it has passed. */
    private static Duration left(long deadlineNanos) {
        return Duration.ofNanos(Math.max(0, deadlineNanos - System.nanoTime()));
    }

    /**
     * Starts a server with a clock, whose unusable usage.json is moved aside by {@code usageMover}: for a
     * test that makes the move fail (no file system refuses a rename to root, which CI runs as).
     */
    static FlagServer start(ServerConfig config, Clock clock, UsageFile.Mover usageMover) throws IOException {
        return new FlagServer(config, clock, usageMover, Duration.ofSeconds(GRPC_IDLE_CONNECTION_SECONDS));
    }

    /** Starts a server whose gRPC port closes connections idle for {@code grpcIdle}: for a test that cannot wait a minute. */
    static FlagServer startWithGrpcIdle(ServerConfig config, Duration grpcIdle) throws IOException {
        return new FlagServer(config, Clock.systemUTC(), (from, to) -> Files.move(from, to), grpcIdle);
    }

    /**
     * A process that may open few files cannot serve many connections and keep its journal going; caps set above what
     * the limit allows let connections take the descriptors the journal needs for its next segment. The default caps
     * never do, but at a low limit they are small.
     *
     * @return the WARN lines for the start, none if the limit is unknown (not a Unix) or ample for the caps
     */
    static List<String> fewDescriptors(ConnectionLimits limits, long openFileLimit) {
        List<String> warnings = new ArrayList<>();
        if (openFileLimit <= 0) {
            return warnings;
        }
        int grpc = limits.grpcMax(openFileLimit);
        int http = limits.httpMax(openFileLimit);
        long left = Math.max(0, openFileLimit - grpc - http);
        long wanted = ConnectionLimits.rest(openFileLimit);
        if (left < wanted) {
            warnings.add("the connection caps (gRPC " + grpc + (limits.grpcMaxConnections() > 0 ? " set by --grpc-max-connections" : "")
                    + ", HTTP " + http + (limits.httpMaxConnections() > 0 ? " set by --http-max-connections" : "") + ") leave "
                    + left + " of this process's " + openFileLimit + " file descriptors (ulimit -Hn) to the journal and the JVM,"
                    + " fewer than the " + wanted + " the default caps leave: enough connections would stop the journal; raise"
                    + " the open-file limit, or lower the cap you set");
        }
        if (openFileLimit < MIN_OPEN_FILES) {
            warnings.add("this process may open only " + openFileLimit + " files (ulimit -Hn): connections at most " + grpc
                    + " gRPC (one per SDK instance) and " + http + " HTTP, " + left + " descriptors left to the journal and"
                    + " the JVM; raise the limit to at least " + MIN_OPEN_FILES + " (LimitNOFILE= under systemd)");
        }
        return warnings;
    }

    private void registerHttpConnectionMetrics(Undertow server) {
        io.undertow.server.ConnectorStatistics statistics = server.getListenerInfo().get(0).getConnectorStatistics();
        metrics.register("flags_http_connections", "Connections to the HTTP port open now.", "gauge",
                statistics::getActiveConnections);
        metrics.register("flags_http_connections_max", "Connections the HTTP port may hold open at once"
                + " (--http-max-connections); at the cap it accepts more only as these close.", "gauge", () -> httpMaxConnections);
    }

    /** What an operator sizes the heap by, and sees memory trouble coming in (docs/server.md, Memory). */
    private void registerMemoryMetrics() {
        java.lang.management.MemoryMXBean memory = java.lang.management.ManagementFactory.getMemoryMXBean();
        metrics.register("flags_jvm_heap_used_bytes", "Bytes of the JVM's heap in use now (live and not yet collected).",
                "gauge", () -> memory.getHeapMemoryUsage().getUsed());
        metrics.register("flags_jvm_heap_max_bytes", "The JVM's largest heap (-Xmx).", "gauge",
                () -> memory.getHeapMemoryUsage().getMax());
        java.lang.management.ManagementFactory.getPlatformMXBeans(java.lang.management.BufferPoolMXBean.class).stream()
                .filter(pool -> pool.getName().equals("direct")).findFirst().ifPresent(direct -> metrics.register(
                        "flags_jvm_direct_memory_used_bytes", "Bytes of memory outside the heap held by network buffers"
                                + " (gRPC's and the HTTP port's); the JVM allows as much as its largest heap unless"
                                + " -XX:MaxDirectMemorySize says otherwise.", "gauge", direct::getMemoryUsed));
        long directMax = maxDirectMemory();
        metrics.register("flags_jvm_direct_memory_max_bytes", "The most memory outside the heap the JVM allows for those"
                + " buffers (-XX:MaxDirectMemorySize, by default the largest heap).", "gauge", () -> directMax);
        metrics.register("flags_state_bytes", "Bytes of every environment's flags (archived ones too, which the server keeps)"
                + " and role grants: the state the heap holds; past a third of the largest heap, writes that add to it are"
                + " refused.",
                "gauge", () -> HeapRoom.stateBytes(journal.state()));
        metrics.register("flags_out_of_memory_errors_total", "HTTP requests and sync messages that failed because the JVM"
                + " ran out of memory, since the server started (each is an ERROR in the log).", "counter",
                () -> metrics.requestsOutOfMemory() + broadcaster.outOfMemoryErrors());
    }

    /**
     * What an operator sees trouble coming in before it refuses anything: the journal's volume filling up (a full disk
     * stops the journal, and every change after it, kill switches included), and the descriptors the connection caps are
     * carved from.
     */
    private void registerProcessMetrics() {
        java.nio.file.Path journalDirectory = config.dataDir().resolve("journal");
        metrics.register("flags_journal_disk_free_bytes", "Bytes free to this process on the volume of the journal (the data"
                + " directory's); at 0 the journal stops and every change is refused until a restart. -1 if it cannot be"
                + " read.", "gauge", () -> {
                    try {
                        return Files.getFileStore(journalDirectory).getUsableSpace();
                    } catch (IOException | RuntimeException e) {
                        return -1;
                    }
                });
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                instanceof com.sun.management.UnixOperatingSystemMXBean unix) {
            metrics.register("flags_process_open_fds", "File descriptors this process holds now: connections, journal"
                    + " segments, jars.", "gauge", unix::getOpenFileDescriptorCount);
            metrics.register("flags_process_max_fds", "The most file descriptors this process may hold (ulimit -Hn, which"
                    + " the JVM raises its soft limit to); the connection caps are carved from it.", "gauge",
                    unix::getMaxFileDescriptorCount);
        }
        long started = java.lang.management.ManagementFactory.getRuntimeMXBean().getStartTime() / 1000;
        metrics.register("flags_process_start_time_seconds", "When this process started, in seconds since the epoch: a"
                + " change of it is a restart.", "gauge", () -> started);
    }

    /** The JVM's limit on direct buffers: its option if set, else (0, the default) the largest heap. */
    private static long maxDirectMemory() {
        try {
            String set = java.lang.management.ManagementFactory.getPlatformMXBean(
                    com.sun.management.HotSpotDiagnosticMXBean.class).getVMOption("MaxDirectMemorySize").getValue();
            long bytes = Long.parseLong(set);
            return bytes > 0 ? bytes : Runtime.getRuntime().maxMemory();
        } catch (RuntimeException e) { // not HotSpot: the default
            return Runtime.getRuntime().maxMemory();
        }
    }

    private void registerSyncMetrics() {
        metrics.register("flags_grpc_streams_connected", "Sync streams connected now.", "gauge", broadcaster::connectedStreams);
        metrics.register("flags_grpc_connections", "Connections to the gRPC port open now, whether or not they made a call"
                + " (one without a call for 60 s is closed).", "gauge", grpcConnections::open);
        metrics.register("flags_grpc_connections_max", "Connections the gRPC port may hold open at once"
                + " (--grpc-max-connections).", "gauge", grpcConnections::maxConnections);
        metrics.register("flags_grpc_connections_refused_total", "Connections to the gRPC port closed as soon as accepted,"
                + " over --grpc-max-connections or --grpc-max-connections-per-address, since the server started.", "counter",
                grpcConnections::refused);
        metrics.register("flags_grpc_connections_untrusted_closed_total", "Connections to the gRPC port closed because their"
                + " calls were all refused for their token (a wrong or revoked one) for the idle limit (60 s), since the server"
                + " started.",
                "counter", grpcConnections::untrustedClosed);
        metrics.register("flags_sync_deltas_sent_total", "Deltas sent to SDKs.", "counter", broadcaster::deltasSent);
        metrics.register("flags_sync_snapshots_sent_total", "Full snapshots sent to SDKs.", "counter", broadcaster::snapshotsSent);
        metrics.register("flags_sync_heartbeats_sent_total", "Heartbeats sent on idle streams.", "counter", broadcaster::heartbeatsSent);
        metrics.register("flags_sync_buffer_bytes", "Bytes of snapshots (and other large sync messages) written to streams"
                + " whose SDKs have not yet taken them; at most --max-sync-buffer-mib.", "gauge", broadcaster::sendBufferBytes);
        metrics.register("flags_sync_streams_waiting", "Sync streams waiting for room in that buffer to be sent a snapshot.",
                "gauge", broadcaster::waitingToSend);
        metrics.registerLabelled("flags_grpc_calls_refused_total", "gRPC calls ended with an error before anything was"
                + " sent on them, by method and status code, since the server started: SDKs that cannot sync (UNAUTHENTICATED:"
                + " a token unknown, revoked or expired; NOT_FOUND: no such environment; RESOURCE_EXHAUSTED: a cap, or a token"
                + " over --grpc-calls-per-token-per-second).",
                () -> broadcaster.refusedCalls().counts());
        metrics.register("flags_sync_calls_cut_total", "Sync streams and snapshot answers reset because their SDKs had not"
                + " taken a snapshot (or another large message) for two heartbeat intervals while others waited for that buffer.",
                "counter", broadcaster::callsCut);
    }

    private Server startGrpc(SyncService syncService, TokenService tokens) throws IOException {
        NettyServerBuilder builder = grpcTransport.applyTo(
                        NettyServerBuilder.forAddress(new InetSocketAddress(config.bindAddress(), config.grpcPort())))
                .addService(SyncService.definition(syncService, tokens, grpcConnections))
                // Call handlers only register a subscription and return; a small bounded pool keeps a
                // burst of reconnecting SDKs from creating a thread each (gRPC's default is unbounded).
                .executor(grpcExecutor)
                // SDKs send small requests, but for a usage report: 10,000 flags of up to 128 characters each
                // come to about 1.4 MB at most (docs/server.md, "Flag usage").
                .maxInboundMessageSize(MAX_INBOUND_MESSAGE_BYTES)
                // An SDK instance holds one stream per connection; without a bound, one connection held thousands.
                .maxConcurrentCallsPerConnection(config.maxSyncStreamsPerConnection())
                // A client that opens streams and resets them at once (HTTP/2 "rapid reset") is never held by the cap on
                // streams above: one connection kept the port's CPU busy, and other SDKs' changes came up to 300 ms late
                // (QA95 F3). gRPC's limit is off unless set.
                .maxRstFramesPerWindow(MAX_RST_FRAMES, RST_WINDOW_SECONDS)
                .permitKeepAliveTime(10, TimeUnit.SECONDS)
                .permitKeepAliveWithoutCalls(true)
                // A connection costs a file descriptor whether or not it ever makes a call: one that has made none
                // (or whose calls were all refused) for a minute is closed, as the HTTP port closes an idle
                // keep-alive, and one that has not finished its TLS and HTTP/2 handshake in 20 s too (Netty's
                // default is 120 s). An SDK's connection always has its stream open, so it never idles.
                .maxConnectionIdle(grpcIdle.toNanos(), TimeUnit.NANOSECONDS)
                .handshakeTimeout(GRPC_HANDSHAKE_SECONDS, TimeUnit.SECONDS);
        if (config.tls()) {
            try {
                builder.sslContext(GrpcSslContexts.forServer(config.tlsCertificate().toFile(), config.tlsKey().toFile()).build());
            } catch (IllegalArgumentException e) { // how Netty reports a file that holds no usable certificate or key
                throw new IOException("the TLS certificate " + config.tlsCertificate() + " or key " + config.tlsKey()
                        + " cannot be used: " + e.getMessage(), e);
            }
        }
        try {
            return builder.build().start();
        } catch (IOException e) {
            throw cannotListen(config.grpcPort(), "gRPC", "--grpc-port", e);
        }
    }

    private DeploymentManager deploy(ApiServlet.Services services) {
        OpsServlet ops = new OpsServlet(metrics, () -> ready.get() && !writer.isDraining(), journal::failure);
        DeploymentInfo info = Servlets.deployment()
                .setClassLoader(FlagServer.class.getClassLoader())
                .setContextPath("/")
                .setDeploymentName("flags-server")
                .addServlet(Servlets.servlet("api", ApiServlet.class, new ImmediateInstanceFactory<>(new ApiServlet(services)))
                        .addMapping("/api/v1/*"))
                .addServlet(Servlets.servlet("ops", OpsServlet.class, new ImmediateInstanceFactory<>(ops))
                        .addMappings("/healthz", "/readyz", "/metrics", "/"));
        ServletContainer container = ServletContainer.Factory.newInstance();
        DeploymentManager manager = container.addDeployment(info);
        manager.deploy();
        return manager;
    }

    /** @return the servlets' handler */
    private HttpHandler startDeployment() throws IOException {
        try {
            return deployment.start();
        } catch (ServletException e) {
            throw new IOException("cannot start the HTTP API", e);
        }
    }

    /**
     * @param handler the servlets, their large answers run apart from the workers (a client that reads one slowly must
     *     not hold a worker thread, as one that sends its body slowly must not)
     * @return the servlets behind the request buffering
     */
    private HttpHandler httpHandler(HttpHandler handler, TokenService tokens, RequestLimits limits) {
        // A client that sends its headers or body slowly must not hold a worker thread: the body is read
        // into buffers on the I/O threads first (up to the API's limit), and only a whole request is
        // handed to a worker. Without this, 16 connections that never finish a body (2 cores x 8
        // workers) stopped the API, the health checks and shutdown.
        BodiesInFlight buffered = new BodiesInFlight(
                new BodyBuffering(BodiesInFlight.bodyArrived(handler), ApiServlet.MAX_BODY_BYTES, MAX_DROPPED_BYTES,
                        BodiesInFlight.BODY_DEADLINE, (refused, status) -> {
                            countIfApi(refused, status);
                            // 413 or 400: charged as a change, as the API charges a request it refuses for its body
                            limits.refusedForItsBody(BodiesInFlight.senderOf(refused));
                        }), handler,
                BodiesInFlight.defaultCap(), BodiesInFlight.BODY_DEADLINE, token -> {
                    dev.flags.server.auth.Authentication checked = tokens.check(token);
                    return checked.isExpired() ? null : checked.principal()
                            .filter(p -> p.scope() != dev.flags.server.auth.Scope.SDK) // may do nothing over HTTP
                            .map(p -> new BodiesInFlight.Sender(p.tokenId(), // a tester grants itself roles, and evaluates;
                                    // a viewer evaluates, an operator switches off: none sends large documents
                                    p.isAdmin() || p.scope() == dev.flags.server.auth.Scope.EDITOR ? Integer.MAX_VALUE : 2))
                            .orElse(null);
                }, this::countIfApi);
        metrics.register("flags_http_bodies_reading", "Request bodies over 16 KiB the HTTP port is reading now (into"
                + " buffers outside the heap, before the request is handled); at a quarter of the memory the JVM allows"
                + " there, more are answered 503 (smaller ones never are).", "gauge", buffered::reading);
        metrics.register("flags_http_bodies_timed_out_total", "Connections the HTTP port closed because their request"
                + " body had not arrived a minute after its headers (clients sending bodies slowly, or stalled; not one"
                + " answered 413 whose rest was still coming).", "counter",
                buffered::timedOut);
        return buffered;
    }

    private void registerLargeAnswerMetrics(LargeAnswersApart apart) {
        metrics.register("flags_http_reads_answering", "API reads (GET, HEAD, the playground's POSTs) being answered now,"
                + " on threads of their own (at most " + LargeAnswersApart.workerThreads() + ", " + apart.readsPerToken()
                + " of them for one token's), apart from the changes' and the health checks'.",
                "gauge", apart::readsAnswering);
        metrics.register("flags_http_reads_waiting", "API reads waiting for one of those threads, or for their token's"
                + " share of them: above zero for long,"
                + " clients are reading their answers slowly (or the reads are that many); changes are not held up.",
                "gauge", apart::readsWaiting);
    }

    /**
     * Counts a request answered before the API saw it as the API counts its own: flags_http_requests_total leaves out
     * the probes, /metrics and other paths, which such an answer (a 413, a busy 503) on them would have added (QA87 F4).
     */
    private void countIfApi(HttpServerExchange exchange, int status) {
        String path = exchange.getRequestPath();
        if (path.equals("/api/v1") || path.startsWith("/api/v1/")) {
            metrics.httpRequest(exchange.getRequestMethod().toString(), status, 0);
        }
    }

    /**
     * Over TLS, every answer of the server's handlers (the 503s of a stop included; not Undertow's bare 400s for a
     * request it cannot parse) says Strict-Transport-Security: a browser that has been answered here once sends nothing
     * to this host in clear text for a year, an admin token included, whatever a link or a typed address says.
     */
    private HttpHandler withHsts(HttpHandler handler) {
        return config.tls() ? new SetHeaderHandler(handler, "Strict-Transport-Security", "max-age=31536000") : handler;
    }

    /**
     * @param builder an HTTP port's builder
     * @return the builder, its stop bounded: Undertow waits for its worker threads without end unless told otherwise,
     *     so a request still running after the grace (busy, or blocked) held the stop, and the journal was never closed
     */
    static Undertow.Builder withBoundedStop(Undertow.Builder builder) {
        return builder.setServerOption(UndertowOptions.SHUTDOWN_TIMEOUT, (int) HTTP_WORKERS_STOP.toMillis());
    }

    /**
     * Stops the HTTP port and the reads' threads, once every request begun was answered or the grace is over: both within
     * {@link #HTTP_WORKERS_STOP} in all. The reads' threads are stopped first (what they answer now is past the grace,
     * and the port's stop cuts its connection anyway; a read still queued is dropped), so they end while Undertow waits
     * for its workers: one after the other, the two waits took twice that (QA92 F3).
     */
    static void stopHttp(Undertow http, LargeAnswersApart reads) {
        long deadline = System.nanoTime() + HTTP_WORKERS_STOP.toNanos();
        reads.close(Duration.ZERO); // interrupts them, and waits for none
        http.stop(); // waits for its workers, then interrupts them
        reads.close(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
    }

    private Undertow startHttp(HttpHandler front) throws IOException {
        Undertow.Builder builder = withBoundedStop(Undertow.builder())
                .setBufferSize(HTTP_BUFFER_BYTES)
                // Undertow's own default, set here so that the reads' threads (as many) and the workers have one number
                .setWorkerThreads(LargeAnswersApart.workerThreads())
                .setHandler(new KeptConnections(front, READ_TIMEOUT))
                // The API enforces its own body limit (ApiServlet.MAX_BODY_BYTES) with a problem answer.
                .setServerOption(UndertowOptions.MAX_ENTITY_SIZE, -1L)
                .setServerOption(UndertowOptions.MAX_HEADER_SIZE, MAX_HEADER_BYTES)
                .setServerOption(UndertowOptions.MAX_HEADERS, MAX_HEADERS)
                .setServerOption(UndertowOptions.MAX_PARAMETERS, MAX_PARAMETERS)
                .setServerOption(UndertowOptions.REQUEST_PARSE_TIMEOUT, (int) HEADERS_TIMEOUT.toMillis())
                .setServerOption(UndertowOptions.NO_REQUEST_TIMEOUT, (int) IDLE_TIMEOUT.toMillis())
                // For flags_http_connections: the port's open connections (it also counts requests and bytes).
                .setServerOption(UndertowOptions.ENABLE_STATISTICS, true)
                // Until its first request; then KeptConnections gives it READ_TIMEOUT. A connection that sends nothing is
                // closed at the header deadline, not held as a kept-alive one (30 s) would be.
                .setSocketOption(Options.READ_TIMEOUT, (int) HEADERS_TIMEOUT.toMillis())
                .setSocketOption(Options.WRITE_TIMEOUT, (int) WRITE_TIMEOUT.toMillis())
                // At the cap the port stops accepting (XNIO's high water, shared among its I/O threads) until one of its
                // connections closes: clients wait in the system's backlog, which holds no descriptor of this process.
                .setSocketOption(Options.CONNECTION_HIGH_WATER, httpMaxConnections)
                .setSocketOption(Options.CONNECTION_LOW_WATER, httpMaxConnections);
        if (config.tls()) {
            AdminToken.warnIfOthersCanReadOrChange(config.tlsKey(), "TLS key", "they could put in a key of their own", LOG);
            SSLContext tls = PemTls.serverContext(config.tlsCertificate(), config.tlsKey());
            // One policy on both ports: the gRPC port's (Netty's HTTP/2 list: forward-secret AEAD suites, TLS 1.2
            // and 1.3). The JDK's defaults would also take RSA key exchange, whose recorded traffic a key leaked
            // later decrypts, and CBC with SHA-1; admin tokens cross this port.
            java.util.Set<String> supported = java.util.Set.of(tls.getSupportedSSLParameters().getCipherSuites());
            String[] suites = Http2SecurityUtil.CIPHERS.stream().filter(supported::contains).toArray(String[]::new);
            builder.setSocketOption(Options.SSL_ENABLED_CIPHER_SUITES, org.xnio.Sequence.of(suites))
                    .setSocketOption(Options.SSL_ENABLED_PROTOCOLS, org.xnio.Sequence.of("TLSv1.3", "TLSv1.2"))
                    .addHttpsListener(config.httpPort(), config.bindAddress(), tls);
        } else {
            builder.addHttpListener(config.httpPort(), config.bindAddress());
        }
        Undertow server = builder.build();
        try {
            server.start();
        } catch (RuntimeException e) {
            throw cannotListen(config.httpPort(), "HTTP", "--http-port", e);
        }
        return server;
    }

    /** Why a port could not be opened; for a port in use (the usual case), what to do. */
    /**
     * @return the start failure for a port that cannot listen: in the server's words where it knows the cause (with no
     *     cause chained, whose words would follow: "bind(..) failed with error(-98): ..."), else with the cause's
     */
    private IOException cannotListen(int port, String what, String option, Exception e) {
        String prefix = "cannot listen on " + config.bindAddress() + ":" + port + " for " + what + ": ";
        for (Throwable cause = e; cause != null; cause = cause.getCause()) {
            // A BindException from the JDK (Undertow); Netty's native transport (gRPC) only says so in its message.
            if (String.valueOf(cause.getMessage()).contains("Address already in use")) {
                return new IOException(prefix + "the port is in use by another process (another flag server?): stop that one,"
                        + " or give another " + option);
            }
            if (String.valueOf(cause.getMessage()).contains("Permission denied") && port > 0 && port < 1024) {
                return new IOException(prefix + "ports below 1024 need root or the CAP_NET_BIND_SERVICE capability: give "
                        + option + " 1024 or more, or grant the capability");
            }
            if (String.valueOf(cause.getMessage()).contains("Cannot assign requested address")) {
                return new IOException(prefix + config.bindAddress() + " is not an address of this machine: give one of its"
                        + " addresses in --bind, or 0.0.0.0 for all of them");
            }
        }
        return new IOException(prefix + e.getMessage(), e);
    }

    /** For tests that race a write: the write path, whose environment locks they hold. */
    ChangeWriter writer() {
        return writer;
    }

    /** @return the port the HTTP API listens on */
    public int httpPort() {
        return ((InetSocketAddress) http.getListenerInfo().get(0).getAddress()).getPort();
    }

    private static ThreadFactory named(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    /** @return the HTTP requests begun and not yet answered (for tests) */
    long httpRequestsInFlight() {
        return httpRequests.active();
    }

    /** @return the port the gRPC sync service listens on */
    public int grpcPort() {
        return grpc.getPort();
    }

    /** @return whether the server is serving, not shutting down, and its journal has not stopped after an i/o failure */
    public boolean isReady() {
        return ready.get() && !writer.isDraining() && journal.failure().isEmpty();
    }

    /**
     * Stops gracefully: stops accepting writes and waits for those in flight, closes sync streams with
     * a status that tells SDKs to reconnect, answers every HTTP request begun, stops both ports, then forces
     * and closes the journal. The waits together take at most the {@linkplain ServerConfig#shutdownGrace()
     * shutdown grace}, not each of them: an orchestrator gives a stop one deadline. Idempotent.
     */
    @Override
    public void close() {
        close(config.shutdownGrace());
    }

    /**
     * As {@link #close()}, within what is left of a grace that began earlier: a stop signalled while the server
     * started waited for the start, and a full grace after it would take a stop past the orchestrator's deadline
     * (QA75 F5). Idempotent.
     *
     * @param within how long the waits may take together; zero or less cuts them at once
     */
    public void close(Duration within) {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        LOG.info("flag server stopping");
        long deadline = System.nanoTime() + Math.max(0, within.toNanos());
        grantExpiry.close(); // before the drain: a revocation in flight is a write to wait for
        scheduleRunner.close(); // likewise a scheduled change being applied
        boolean drained = writer.drain(left(deadline));
        if (!drained) {
            LOG.warn("writes still in flight after {}; stopping anyway (they will not be acknowledged)", config.shutdownGrace());
        }
        ready.set(false);
        broadcaster.shutdown(left(deadline)); // tells every SDK to reconnect elsewhere
        tokenExpiry.close(); // no stream is left to close at an expiry
        grpc.shutdown();
        try {
            if (!grpc.awaitTermination(left(deadline).toNanos(), TimeUnit.NANOSECONDS)) {
                LOG.warn("sync streams still open at the end of the shutdown grace ({}), their SDKs not reading their last"
                        + " messages; cutting them (the SDKs reconnect and resume)", config.shutdownGrace());
                grpc.shutdownNow();
            }
        } catch (InterruptedException e) {
            grpc.shutdownNow();
            Thread.currentThread().interrupt();
        }
        grpcTransport.close();
        grpcExecutor.shutdown();
        try {
            // Every request the port has begun gets its answer before the port closes (new ones a 503), so
            // that a client without an answer knows its request was not applied.
            if (!httpRequests.close(left(deadline))) {
                long unanswered = httpRequests.active();
                LOG.warn("{} HTTP request{} still unanswered at the end of the shutdown grace ({}); closing the port anyway",
                        unanswered, unanswered == 1 ? "" : "s", config.shutdownGrace());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        watchTimer.shutdownNow();
        stopHttp(http, largeAnswers);
        try {
            deployment.stop();
            deployment.undeploy();
        } catch (ServletException e) {
            LOG.warn("stopping the HTTP API: {}", e.getMessage());
        }
        usageSaver.close(); // no report can come now; before the journal, which says which flags are current
        if (webhook != null) {
            webhook.close(); // before the journal it reads; what it has not delivered goes after the next start
        }
        journal.close();
        LOG.info("flag server stopped");
    }
}
