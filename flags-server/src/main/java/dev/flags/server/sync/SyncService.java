package dev.flags.server.sync;

import dev.flags.server.LogText;
import dev.flags.protocol.v1.FlagSyncGrpc;
import dev.flags.protocol.v1.Snapshot;
import dev.flags.protocol.v1.SnapshotRequest;
import dev.flags.protocol.v1.SubscribeRequest;
import dev.flags.protocol.v1.SyncMessage;
import dev.flags.server.auth.Authenticator;
import dev.flags.server.auth.Principal;
import dev.flags.server.journal.JournalException;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.Objects;
import java.util.Optional;
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
  private static final int MAX_SDK_LENGTH = 128;

  private final Broadcaster broadcaster;

  /**
   * Creates the service. It expects its calls to pass an {@link AuthInterceptor}; see {@link
   * #definition}.
   *
   * @param broadcaster the fan-out that serves the subscriptions
   * @throws NullPointerException if broadcaster is null
   */
  public SyncService(Broadcaster broadcaster) {
    this.broadcaster = Objects.requireNonNull(broadcaster, "broadcaster");
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
    // Subscribe responses are encoded by the broadcaster's SharedEncoding: once per change, not
    // once per stream.
    ServerServiceDefinition service = broadcaster.encoding().bind(new SyncService(broadcaster).bindService());
    return ServerInterceptors.intercept(service, new AuthInterceptor(authenticator));
  }

  @Override
  public void subscribe(SubscribeRequest request, StreamObserver<SyncMessage> responseObserver) {
    Status problem = check(request.getEnvironment());
    if (problem == null && request.getFromVersion() < 0) {
      problem = Status.INVALID_ARGUMENT.withDescription(
          "from_version must be at least 0 (0 for none), was " + request.getFromVersion());
    }
    if (problem != null) {
      responseObserver.onError(problem.asRuntimeException());
      return;
    }
    if (LOG.isDebugEnabled()) {
      LOG.debug("sync: subscribe {} from version {} by {} ({})", request.getEnvironment(),
          request.getFromVersion(), AuthInterceptor.principal().map(Principal::tokenId).orElse("?"),
          shorten(request.getSdk(), MAX_SDK_LENGTH));
    }
    broadcaster.subscribe(request.getEnvironment(), request.getFromVersion(), request.getFromStateTag(),
        (ServerCallStreamObserver<SyncMessage>) responseObserver,
        AuthInterceptor.principal().orElseThrow().tokenId());
  }

  @Override
  public void getSnapshot(SnapshotRequest request, StreamObserver<Snapshot> responseObserver) {
    Status problem = check(request.getEnvironment());
    if (problem != null) {
      responseObserver.onError(problem.asRuntimeException());
      return;
    }
    Optional<Snapshot> snapshot = broadcaster.snapshot(request.getEnvironment());
    if (snapshot.isEmpty()) {
      responseObserver.onError(notFound(request.getEnvironment()).asRuntimeException());
      return;
    }
    responseObserver.onNext(snapshot.get());
    responseObserver.onCompleted();
  }

  /** The first problem with a call for an environment, or null. */
  private Status check(String environment) {
    Optional<Principal> principal = AuthInterceptor.principal();
    if (principal.isEmpty()) {
      return Status.UNAUTHENTICATED.withDescription("the call was not authenticated");
    }
    if (environment.isEmpty()) {
      return Status.INVALID_ARGUMENT.withDescription("environment must not be empty");
    }
    if (!KEY.matcher(environment).matches()) {
      return Status.INVALID_ARGUMENT.withDescription("environment must start with a letter or"
          + " digit and contain only letters, digits, '.', '_' or '-' (at most 128), was \""
          + shorten(environment, 80) + "\"");
    }
    Principal p = principal.get();
    if (!p.canSync(environment)) {
      // A mistyped environment is the likelier mistake than a wrong token: say which one it is. The
      // token is authenticated, and whether an environment exists is no secret from it.
      boolean exists;
      try {
        exists = broadcaster.currentState(environment).isPresent();
      } catch (JournalException e) {
        exists = true;
      }
      return Status.PERMISSION_DENIED.withDescription("a token of scope " + p.scope().apiName()
          + " for " + (p.environments().isEmpty() ? "no environment" : p.environments())
          + " may not sync environment \"" + environment + "\": "
          + (exists ? "use an sdk token of that environment"
              : "there is no such environment; is the SDK's environment() mistyped?"));
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

  private static Status notFound(String environment) {
    return Status.NOT_FOUND.withDescription("environment \"" + environment + "\" does not exist");
  }

  /** At most max characters, control characters escaped: safe to put in a log line. */
  private static String shorten(String value, int max) {
    return LogText.escape(value.length() > max ? value.substring(0, max - 3) + "..." : value);
  }
}
