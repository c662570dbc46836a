package dev.flags.server.sync;

import dev.flags.server.Addresses;
import dev.flags.server.auth.Authentication;
import dev.flags.server.auth.Authenticator;
import dev.flags.server.auth.Principal;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * Thread-safe. Authenticates every gRPC call by its {@code authorization: Bearer <token>} metadata
 * and makes the caller's {@link Principal} available to the service through the gRPC {@link
 * Context} ({@link #principal()}).
 *
 * <p>A call without that metadata, with another scheme, with a token the {@link Authenticator}
 * does not know, or with one that has expired is closed with {@link Status#UNAUTHENTICATED} and a
 * description that says which of these it was, before the service sees it. Authorization (may this principal sync that
 * environment?) is the service's business. The presented token is never logged and never appears in
 * a status.
 *
 * <pre>{@code
 * ServerServiceDefinition sync =
 *     SyncService.definition(broadcaster, tokens); // the service with this interceptor
 * }</pre>
 */
public final class AuthInterceptor implements ServerInterceptor {

  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  static final Context.Key<Principal> PRINCIPAL = Context.key("flags-principal");
  private static final String BEARER = "bearer ";

  private final Authenticator authenticator;

  /**
   * Creates an interceptor that asks an authenticator about every call.
   *
   * @param authenticator turns a presented token into a principal; called on gRPC's threads
   * @throws NullPointerException if authenticator is null
   */
  public AuthInterceptor(Authenticator authenticator) {
    this.authenticator = Objects.requireNonNull(authenticator, "authenticator");
  }

  /**
   * Returns the principal of the call the current thread is serving.
   *
   * @return the principal, or empty outside a call that passed this interceptor
   */
  public static Optional<Principal> principal() {
    return Optional.ofNullable(PRINCIPAL.get());
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    Iterable<String> all = headers.getAll(AUTHORIZATION);
    if (all != null && count(all) > 1) {
      // Which one would count is a guess that a proxy and this server could make differently.
      return reject(call, "more than one authorization metadata entry: send one");
    }
    String value = headers.get(AUTHORIZATION);
    if (value == null || value.isBlank()) {
      return reject(call, "missing authorization metadata: send \"authorization: Bearer <token>\""
          + " with an sdk token of the environment");
    }
    if (value.length() <= BEARER.length()
        || !value.substring(0, BEARER.length()).toLowerCase(Locale.ROOT).equals(BEARER)) {
      return reject(call, "authorization metadata must be \"Bearer <token>\"");
    }
    String token = value.substring(BEARER.length()).trim();
    Authentication checked;
    try {
      checked = authenticator.check(token);
    } catch (RuntimeException e) {
      // Transient (the token store is closing or unreadable): the SDK retries. Never the token,
      // never the exception's message (it might quote what was presented).
      call.close(Status.UNAVAILABLE.withDescription("cannot check the token now: retry later"),
          new Metadata());
      return new ServerCall.Listener<>() {};
    }
    if (checked.isExpired()) {
      Principal expired = checked.expiredToken();
      return reject(call, "the " + expired.scope().apiName() + " token expired at " + expired.expiresAt()
          + ": give the application a new one");
    }
    Optional<Principal> principal = checked.principal();
    if (principal.isEmpty()) {
      java.net.SocketAddress remote = call.getAttributes().get(io.grpc.Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
      authenticator.refusedUnknown("grpc", Addresses.text(remote));
      return reject(call, "unknown or revoked token");
    }
    CallCut.current().trusted(); // the connection stays past the idle limit (see GrpcConnections.closeUntrusted)
    Context context = Context.current().withValue(PRINCIPAL, principal.get());
    return Contexts.interceptCall(context, call, headers, next);
  }

  private static int count(Iterable<String> values) {
    int n = 0;
    for (String ignored : values) {
      n++;
    }
    return n;
  }

  private static <Q, R> ServerCall.Listener<Q> reject(ServerCall<Q, R> call, String description) {
    CallCut.current().refusedCall(); // a connection that makes only such calls is closed in time
    call.close(Status.UNAUTHENTICATED.withDescription(description), new Metadata());
    return new ServerCall.Listener<>() {};
  }
}
