package dev.flags.server.sync;

import dev.flags.server.LogText;
import dev.flags.protocol.v1.Acknowledgement;
import dev.flags.protocol.v1.AcknowledgementReceipt;
import dev.flags.protocol.v1.FlagSyncGrpc;
import dev.flags.protocol.v1.Snapshot;
import dev.flags.protocol.v1.SnapshotRequest;
import dev.flags.protocol.v1.SubscribeRequest;
import dev.flags.protocol.v1.SyncMessage;
import dev.flags.protocol.v1.FlagUsage;
import dev.flags.protocol.v1.UsageReceipt;
import dev.flags.protocol.v1.UsageReport;
import dev.flags.server.auth.Authenticator;
import dev.flags.server.auth.Principal;
import dev.flags.server.auth.Scope;
import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.JournalException;
import dev.flags.server.usage.ReportRateLimit;
import dev.flags.server.usage.UsageStore;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe. The {@code FlagSync} gRPC service: checks each call and hands subscriptions to a
 * {@link Broadcaster}.
 *
 * <p>Checks, in this order: the caller is authenticated ({@link AuthInterceptor}; else {@code
 * UNAUTHENTICATED}); the request is well formed ({@code INVALID_ARGUMENT}: an environment key of
 * the admin API's syntax, a version of at least 0); the principal may sync the environment ({@code
 * PERMISSION_DENIED}: an sdk token of that environment, or an admin token); the environment exists
 * ({@code NOT_FOUND}). Authorization comes before existence, so a token cannot probe for other
 * environments. A token with as many streams open as the broadcaster allows gets {@code
 * RESOURCE_EXHAUSTED}. After {@link Broadcaster#shutdown()} calls get {@code UNAVAILABLE}.
 *
 * <p>{@code ReportUsage} is checked as a subscription is (the same token rule and codes), then against
 * the server-wide {@link ReportRateLimit} ({@code RESOURCE_EXHAUSTED}) and the report's limits ({@code
 * INVALID_ARGUMENT}, {@link UsageReportCheck}); its marks of keys that are flags of the environment go to
 * the {@link UsageStore}, the others are ignored (a flag archived a moment ago is no error). Its unknown
 * keys (asked for, but not flags the SDK has) that are not flags of the environment go to the store too;
 * those that are flags are ignored (the SDK was behind). An archived environment records no usage. The
 * receipt carries the report interval.
 *
 * <p>{@code Acknowledge} and {@code GetSnapshot} are first held to their token's {@link CallRateLimit} ({@code
 * RESOURCE_EXHAUSTED}), before any other check: a token's calls refused for another reason count too; so is {@code
 * Subscribe}, to a limit of its own.
 *
 * <pre>{@code
 * Server grpc = NettyServerBuilder.forPort(9090)
 *     .addService(SyncService.definition(broadcaster, tokens))
 *     .build()
 *     .start();
 * }</pre>
 */
public final class SyncService extends FlagSyncGrpc.FlagSyncImplBase {

  private static final Logger LOG = LoggerFactory.getLogger(SyncService.class);
  /** Environment keys: the admin API's syntax (docs/api.md). */
  private static final Pattern KEY = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
  /** SDK instance ids ({@code SubscribeRequest.instance_id}). */
  private static final Pattern INSTANCE_ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");

  /** What the two limits on a token's calls count, as their messages name them. */
  public static final String ACKNOWLEDGE_AND_GET_SNAPSHOT = "Acknowledge and GetSnapshot";
  public static final String SUBSCRIBE = "Subscribe";

  private final Broadcaster broadcaster;
  private final UsageStore usage;
  private final ReportRateLimit reportRate;
  private final CallRateLimit callRate;
  private final CallRateLimit subscribeRate;
  private final UsageReceipt receipt;
  private final LongAdder reportsTaken = new LongAdder();
  private final LongAdder reportsRefused = new LongAdder();
  private final LongAdder acknowledgements = new LongAdder();

  /**
   * Creates the service with usage reports kept in a store of its own, on the system clock, taken at
   * most 1,000 a second and asked for once a minute, and each token's other calls limited to 1,000 a second (its
   * subscriptions apart): for tests and benchmarks of the sync stream.
   *
   * @param broadcaster the fan-out that serves the subscriptions
   * @throws NullPointerException if broadcaster is null
   */
  public SyncService(Broadcaster broadcaster) {
    this(broadcaster, new UsageStore(Clock.systemUTC(), Map.of()), new ReportRateLimit(1_000, Clock.systemUTC()),
        Duration.ofMinutes(1), new CallRateLimit(1_000, ACKNOWLEDGE_AND_GET_SNAPSHOT, Clock.systemUTC(), LOG::warn),
        new CallRateLimit(1_000, SUBSCRIBE, Clock.systemUTC(), LOG::warn));
  }

  /**
   * Creates the service. It expects its calls to pass an {@link AuthInterceptor}; see {@link
   * #definition(SyncService, Authenticator)}.
   *
   * @param broadcaster the fan-out that serves the subscriptions
   * @param usage where usage reports are recorded
   * @param reportRate the server-wide limit on usage reports
   * @param reportInterval how often SDKs are asked to report, sent in every receipt
   * @param callRate the limit on each token's Acknowledge and GetSnapshot calls
   * @param subscribeRate the limit on each token's Subscribe calls
   * @throws NullPointerException if an argument is null
   */
  public SyncService(Broadcaster broadcaster, UsageStore usage, ReportRateLimit reportRate, Duration reportInterval,
      CallRateLimit callRate, CallRateLimit subscribeRate) {
    this.broadcaster = Objects.requireNonNull(broadcaster, "broadcaster");
    this.usage = Objects.requireNonNull(usage, "usage");
    this.reportRate = Objects.requireNonNull(reportRate, "reportRate");
    this.callRate = Objects.requireNonNull(callRate, "callRate");
    this.subscribeRate = Objects.requireNonNull(subscribeRate, "subscribeRate");
    this.receipt = UsageReceipt.newBuilder().setReportIntervalMillis(reportInterval.toMillis()).build();
  }

  /**
   * Returns the service with its authentication, ready for {@code ServerBuilder.addService}, on a port without
   * {@link GrpcConnections}: a call whose client does not take its large message is then ended by a close, which
   * waits behind that message, instead of being cut off (see {@link #definition(SyncService, Authenticator,
   * GrpcConnections)}).
   *
   * @param service the service
   * @param authenticator checks each call's bearer token
   * @return the intercepted service definition
   * @throws NullPointerException if an argument is null
   */
  public static ServerServiceDefinition definition(SyncService service, Authenticator authenticator) {
    return definition(service, authenticator, null);
  }

  /**
   * Returns the service with its authentication, ready for {@code ServerBuilder.addService} on a port that carries
   * {@code connections} ({@link GrpcTransport}): a call whose client holds its share of the send buffer too long
   * while others wait is cut off by closing its connection.
   *
   * @param service the service
   * @param authenticator checks each call's bearer token
   * @param connections the port's connections, or null for none
   * @return the intercepted service definition
   * @throws NullPointerException if service or authenticator is null
   */
  public static ServerServiceDefinition definition(SyncService service, Authenticator authenticator,
      GrpcConnections connections) {
    // Subscribe responses are encoded by the broadcaster's SharedEncoding: once per change, not
    // once per stream.
    ServerServiceDefinition bound = service.broadcaster.encoding().bind(service.bindService());
    // The last runs first: the refusals counted include the token check's.
    return ServerInterceptors.intercept(bound, new AuthInterceptor(authenticator), new CallCut(connections),
        service.broadcaster.refusedCalls());
  }

  /**
   * Returns the service with its authentication, ready for {@code ServerBuilder.addService}.
   *
   * @param broadcaster the fan-out that serves the subscriptions
   * @param authenticator checks each call's bearer token
   * @return the intercepted service definition
   * @throws NullPointerException if an argument is null
   */
  public static ServerServiceDefinition definition(Broadcaster broadcaster,
      Authenticator authenticator) {
    return definition(new SyncService(broadcaster), authenticator);
  }

  /**
   * Returns the service with its authentication, on a port that carries {@code connections}: see {@link
   * #definition(SyncService, Authenticator, GrpcConnections)}.
   *
   * @param broadcaster the fan-out that serves the subscriptions
   * @param authenticator checks each call's bearer token
   * @param connections the port's connections, or null for none
   * @return the intercepted service definition
   * @throws NullPointerException if broadcaster or authenticator is null
   */
  public static ServerServiceDefinition definition(Broadcaster broadcaster, Authenticator authenticator,
      GrpcConnections connections) {
    return definition(new SyncService(broadcaster), authenticator, connections);
  }

  @Override
  public void subscribe(SubscribeRequest request, StreamObserver<SyncMessage> responseObserver) {
    Status problem = overRate(subscribeRate, "Subscribe");
    if (problem == null) {
      problem = check(request.getEnvironment(), "sync");
    }
    if (problem == null && request.getFromVersion() < 0) {
      problem = Status.INVALID_ARGUMENT.withDescription(
          "from_version must be at least 0 (0 for none), was " + request.getFromVersion());
    }
    if (problem == null && !request.getInstanceId().isEmpty()) {
      problem = instanceIdProblem(request.getInstanceId());
    }
    if (problem != null) {
      responseObserver.onError(problem.asRuntimeException());
      return;
    }
    if (LOG.isDebugEnabled()) {
      LOG.debug("sync: subscribe {} from version {} by {} ({})", request.getEnvironment(),
          request.getFromVersion(), AuthInterceptor.principal().map(Principal::tokenId).orElse("?"),
          StreamIdentity.name(request.getSdk())); // never a token pasted as its name (QA85 F1)
    }
    broadcaster.subscribe(request.getEnvironment(), request.getFromVersion(), request.getFromStateTag(),
        (ServerCallStreamObserver<SyncMessage>) responseObserver,
        AuthInterceptor.principal().orElseThrow().tokenId(),
        new StreamIdentity(request.getInstanceId(), StreamIdentity.name(request.getSdk()),
            StreamIdentity.name(request.getApplication())),
        request.getAcceptsMemberChanges());
  }

  @Override
  public void acknowledge(Acknowledgement ack, StreamObserver<AcknowledgementReceipt> responseObserver) {
    Status problem = overRate(callRate, "Acknowledge");
    if (problem == null) {
      problem = check(ack.getEnvironment(), "acknowledge versions of");
    }
    if (problem == null) {
      problem = ack.getInstanceId().isEmpty()
          ? Status.INVALID_ARGUMENT.withDescription("instance_id must name the SDK instance (its subscription's)")
          : instanceIdProblem(ack.getInstanceId());
    }
    if (problem == null && ack.getVersion() < 0) {
      problem = Status.INVALID_ARGUMENT.withDescription("version must be at least 0, was " + ack.getVersion());
    }
    if (problem == null && !broadcaster.acknowledge(ack.getEnvironment(),
        AuthInterceptor.principal().orElseThrow().tokenId(), ack.getInstanceId(), ack.getVersion(), ack.getClosing())) {
      problem = Status.NOT_FOUND.withDescription("this token has no open sync stream of environment "
          + quoted(ack.getEnvironment()) + " with instance_id \"" + ack.getInstanceId()
          + "\": it has ended, or the SDK has not subscribed with that id");
    }
    if (problem != null) {
      responseObserver.onError(problem.asRuntimeException());
      return;
    }
    acknowledgements.increment();
    responseObserver.onNext(AcknowledgementReceipt.getDefaultInstance());
    responseObserver.onCompleted();
  }

  /** @return acknowledgements of applied versions taken since the server started */
  public long acknowledgements() {
    return acknowledgements.sum();
  }

  private static Status instanceIdProblem(String instanceId) {
    if (dev.flags.core.ReadableText.holdsAToken(instanceId)) {
      // A token has an instance id's characters: it would be listed to every reader of the environment's SDKs (QA85 F1).
      return Status.INVALID_ARGUMENT.withDescription("instance_id " + dev.flags.core.ReadableText.HOLDS_A_TOKEN);
    }
    if (INSTANCE_ID.matcher(instanceId).matches()) {
      return null;
    }
    return Status.INVALID_ARGUMENT.withDescription("instance_id must be 1 to 64 of the characters A-Z a-z 0-9 . _ -,"
        + " was \"" + shorten(instanceId, 80) + "\"");
  }

  @Override
  public void getSnapshot(SnapshotRequest request, StreamObserver<Snapshot> responseObserver) {
    Status problem = overRate(callRate, "GetSnapshot");
    if (problem == null) {
      problem = check(request.getEnvironment(), "sync");
    }
    if (problem != null) {
      responseObserver.onError(problem.asRuntimeException());
      return;
    }
    Optional<Snapshot> snapshot = broadcaster.snapshot(request.getEnvironment());
    if (snapshot.isEmpty()) {
      responseObserver.onError(notFound(request.getEnvironment()).asRuntimeException());
      return;
    }
    ServerCallStreamObserver<Snapshot> call = (ServerCallStreamObserver<Snapshot>) responseObserver;
    call.setOnReadyThreshold(SendBudget.LARGE); // as a stream's (Subscription): held while any of it is queued
    OneSnapshot answer = new OneSnapshot(AuthInterceptor.principal().orElseThrow().tokenId(), call, CallCut.current(),
        snapshot.get());
    int bytes = snapshot.get().getSerializedSize();
    if (!SendBudget.large(bytes)) {
      answer.granted();
      return;
    }
    // A large answer counts in the send budget, as a stream's snapshot does, until gRPC has sent it all.
    SendBudget budget = broadcaster.budget();
    call.setOnCancelHandler(() -> budget.giveBack(answer));
    call.setOnCloseHandler(() -> budget.taken(answer)); // sent whole
    if (budget.take(answer, bytes)) {
      answer.granted();
    }
  }

  /** Thread-safe (sent once). A GetSnapshot answer, sent when the send budget has room for it. */
  private static final class OneSnapshot implements SendBudget.Borrower {
    private final String tokenId;
    private final ServerCallStreamObserver<Snapshot> call;
    private final CallCut.Handle cut;
    private final Snapshot snapshot;

    OneSnapshot(String tokenId, ServerCallStreamObserver<Snapshot> call, CallCut.Handle cut, Snapshot snapshot) {
      this.tokenId = tokenId;
      this.call = call;
      this.cut = cut;
      this.snapshot = snapshot;
    }

    /** Its client has not taken the answer for too long while others wait: its connection is closed, which frees it. */
    @Override
    public void cut(String why) {
      cut.cut(); // without the port's connections (a test's server) there is nothing to close
    }

    @Override
    public String tokenId() {
      return tokenId;
    }

    @Override
    public void granted() {
      if (call.isCancelled()) {
        return; // its cancel handler gives back what it holds
      }
      try {
        call.onNext(snapshot);
        call.onCompleted();
      } catch (RuntimeException e) {
        LOG.debug("sync: a snapshot's answer could not be sent: {}", e.toString());
      } catch (Error e) { // out of memory: the call must still end, or its client waits on it for good
        LOG.error("sync: a snapshot's answer (token {}) failed with {}; its call was ended", tokenId, e.toString());
        try {
          call.onError(Status.RESOURCE_EXHAUSTED.withDescription("the flag server could not send the snapshot ("
              + e.getClass().getSimpleName() + "); ask again later").asRuntimeException());
        } catch (RuntimeException alreadyClosed) {
          // closed by gRPC already, or cancelled: it has ended
        } catch (Error closeFailed) {
          cut.cut(); // the close itself failed: the connection then, so that nothing waits on it
        }
      }
    }
  }

  @Override
  public void reportUsage(UsageReport report, StreamObserver<UsageReceipt> responseObserver) {
    Status problem = check(report.getEnvironment(), "report usage of");
    if (problem == null) {
      ReportRateLimit.Admission admission = reportRate.take(AuthInterceptor.principal().orElseThrow().tokenId());
      if (admission.logLine() != null) {
        // One line per episode, not one per report: a fleet over the limit would fill the log.
        LOG.warn(admission.logLine());
      }
      if (!admission.admitted()) {
        problem = Status.RESOURCE_EXHAUSTED.withDescription("the server takes at most " + reportRate.perSecond()
            + " usage reports a second, and at most " + reportRate.perToken() + " of one token, and is over it: report"
            + " again next period");
      }
    }
    if (problem == null) {
      String invalid = UsageReportCheck.problem(report);
      if (invalid != null) {
        problem = Status.INVALID_ARGUMENT.withDescription(invalid);
      }
    }
    if (problem != null) {
      reportsRefused.increment();
      if (LOG.isDebugEnabled()) {
        LOG.debug("usage: report for {} by {} refused: {} {}", quoted(report.getEnvironment()),
            AuthInterceptor.principal().map(Principal::tokenId).orElse("?"), problem.getCode(),
            LogText.escape(problem.getDescription()));
      }
      responseObserver.onError(problem.asRuntimeException());
      return;
    }
    Optional<EnvironmentState> env;
    try {
      env = broadcaster.currentState(report.getEnvironment());
    } catch (JournalException e) {
      responseObserver.onError(Status.UNAVAILABLE.withDescription("the journal is not available: report later")
          .asRuntimeException());
      return;
    }
    // Archived a moment ago (checked above): nothing to record, and nothing the SDK could do better.
    if (env.isPresent() && !env.get().archived()) {
      Map<String, ?> flags = env.get().flags();
      List<UsageStore.Mark> marks = new ArrayList<>(report.getFlagsCount());
      for (FlagUsage f : report.getFlagsList()) {
        if (flags.containsKey(f.getKey())) { // others are no flag of it (any longer): ignored
          marks.add(new UsageStore.Mark(f.getKey(), f.getServedTrue(), f.getServedFalse()));
        }
      }
      List<String> unknown = new ArrayList<>(report.getUnknownFlagsCount());
      for (String key : report.getUnknownFlagsList()) {
        // A flag of it now: the SDK had not heard of it yet, nothing is wrong. One that looks like a token is not kept
        // (usage.json) nor listed to the environment's readers, and not worth refusing the application's whole report
        // for, which would make its flags look unused (QA85 F1).
        if (!flags.containsKey(key) && !dev.flags.core.ReadableText.holdsAToken(key)) {
          unknown.add(key);
        }
      }
      usage.record(report.getEnvironment(), report.getSdk(), report.getApplication(), marks, unknown);
      if (archivedOrGone(report.getEnvironment())) {
        // Archived between the check above and the record: the archive's forgetting came first, and this record
        // would span the archive once the environment is restored (QA69 F6).
        usage.forgetEnvironment(report.getEnvironment());
      }
    }
    reportsTaken.increment();
    responseObserver.onNext(receipt);
    responseObserver.onCompleted();
  }

  /** Whether the environment is archived or gone now; not if the journal cannot say (its usage is then kept). */
  private boolean archivedOrGone(String environment) {
    try {
      return broadcaster.currentState(environment).map(EnvironmentState::archived).orElse(true);
    } catch (JournalException e) {
      return false;
    }
  }

  /** @return usage reports taken since the server started */
  public long usageReportsTaken() {
    return reportsTaken.sum();
  }

  /** @return usage reports refused since the server started, for any reason (token, limits, rate) */
  public long usageReportsRefused() {
    return reportsRefused.sum();
  }

  /**
   * Whether the caller's token is over its {@link CallRateLimit}: first, so that no call escapes it by being refused for
   * something else (an unauthenticated call has no token, and is refused by {@link #check}).
   *
   * @return null, or the status to answer with
   */
  private static Status overRate(CallRateLimit limit, String method) {
    Optional<Principal> principal = AuthInterceptor.principal();
    return principal.isEmpty() ? null : limit.take(principal.get().tokenId(), method);
  }

  /**
   * The first problem with a call for an environment, or null.
   *
   * @param action what the call does to the environment, for the message: "sync", "report usage of"
   */
  private Status check(String environment, String action) {
    Optional<Principal> principal = AuthInterceptor.principal();
    if (principal.isEmpty()) {
      return Status.UNAUTHENTICATED.withDescription("the call was not authenticated");
    }
    if (environment.isEmpty()) {
      return Status.INVALID_ARGUMENT.withDescription("environment must not be empty");
    }
    if (!KEY.matcher(environment).matches()) {
      return Status.INVALID_ARGUMENT.withDescription("environment must start with a letter or"
          + " digit and contain only letters, digits, '.', '_' or '-' (at most 128), was " + quoted(environment));
    }
    Principal p = principal.get();
    if (!p.canSync(environment)) {
      // The same answer whether the environment exists or not: an sdk token ships inside applications,
      // and must not tell whoever finds it which environments there are. The token's own environments,
      // which it names, are enough to see a typo by.
      String remedy = p.scope() == Scope.SDK
          ? "use an sdk token of that environment, or check the SDK's environment() for a typo"
          : "only an sdk token of it (or an admin token) may, so give the SDK an sdk token of that environment";
      return Status.PERMISSION_DENIED.withDescription("a token of scope " + p.scope().apiName()
          + " for " + (p.environments().isEmpty() ? "no environment" : p.environments())
          + " may not " + action + " environment " + quoted(environment) + ": " + remedy);
    }
    if (broadcaster.isShutdown()) {
      return Broadcaster.SHUTTING_DOWN;
    }
    try {
      if (broadcaster.currentState(environment).isEmpty()) {
        return notFound(environment);
      }
    } catch (JournalException e) {
      return Status.UNAVAILABLE.withDescription("the journal is not available: reconnect later");
    }
    return null;
  }

  private Status notFound(String environment) {
    if (broadcaster.wasDeleted(environment)) {
      return Broadcaster.deletedStatus(environment);
    }
    return Status.NOT_FOUND.withDescription("environment " + quoted(environment) + " does not exist");
  }

  /**
   * An environment as a refusal quotes it, or {@link StreamIdentity#HIDDEN_TOKEN} for one that looks like a token: the
   * SDK's token given as its environment too, which the SDK would log with the refusal (QA85 F2). No environment's key
   * may look like one (the admin API refuses it), so nothing is lost.
   */
  private static String quoted(String environment) {
    return Broadcaster.quotedEnvironment(environment); // one rule for every status that names an environment
  }

  /** At most max characters, control characters escaped: safe to put in a log line. */
  private static String shorten(String value, int max) {
    return LogText.escape(value.length() > max ? value.substring(0, max - 3) + "..." : value);
  }
}
