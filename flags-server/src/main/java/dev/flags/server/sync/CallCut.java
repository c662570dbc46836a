package dev.flags.server.sync;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.net.SocketAddress;

/**
 * Thread-safe. Lets the server cut one of its calls off at once, however much of what was written to it the client has
 * not read: by closing the call's connection, which frees everything gRPC holds for it.
 *
 * <p>Closing the call cannot do that. Its status goes out behind the messages already written to it, and a client
 * that does not read never lets them through, so the close waits as long as they do. gRPC offers a server no way to
 * reset one stream (the call's cancellable context is out of the application's reach), so the whole connection goes.
 * An SDK of this project holds one stream per connection; a proxy that pools several SDKs' streams on one connection
 * has them all reconnect, which costs each a resume.
 *
 * <p>This interceptor keeps each call's client address in its context, where the call's handler finds it ({@link
 * #current()}); the port's {@link GrpcConnections} closes the connection from that address.
 */
final class CallCut implements ServerInterceptor {

  private static final Context.Key<Handle> CALL = Context.key("flags-call-cut");

  /** A handle that cuts nothing: outside a call that passed an interceptor with the port's connections. */
  private static final Handle NONE = new Handle(null, null);

  private final GrpcConnections connections;

  /** @param connections the port's connections, or null if there are none to close (the caller ends calls otherwise) */
  CallCut(GrpcConnections connections) {
    this.connections = connections;
  }

  /** Thread-safe. Cuts one call. */
  static final class Handle {
    private final GrpcConnections connections;
    private final SocketAddress client;

    private Handle(GrpcConnections connections, SocketAddress client) {
      this.connections = connections;
      this.client = client;
    }

    /**
     * Closes the call's connection; its client sees the call fail as unavailable, and reconnects. Safe from any
     * thread, any number of times.
     *
     * @return false if there was nothing to close: no connection known for the call (it already closed, or the call
     *     came by a port without {@link GrpcConnections}); the caller must end the call another way
     */
    boolean cut() {
      return connections != null && client != null && connections.close(client);
    }

    /** Notes that the call presented a token the server knows: its connection is not one that only makes refused calls. */
    void trusted() {
      if (connections != null) {
        connections.trusted(client);
      }
    }

    /** Notes that the call was refused for its token: a connection that makes only such calls is closed in time. */
    void refusedCall() {
      if (connections != null) {
        connections.refusedCall(client);
      }
    }
  }

  /**
   * The handle of the call the current thread serves.
   *
   * @return its handle, or one that cuts nothing outside a call that passed this interceptor
   */
  static Handle current() {
    Handle handle = CALL.get();
    return handle == null ? NONE : handle;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    if (connections == null) {
      return next.startCall(call, headers);
    }
    Handle handle = new Handle(connections, call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
    return Contexts.interceptCall(Context.current().withValue(CALL, handle), call, headers, next);
  }
}
