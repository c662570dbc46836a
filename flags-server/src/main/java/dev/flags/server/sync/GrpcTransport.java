package dev.flags.server.sync;

import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.IoHandlerFactory;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.ServerChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.nio.NioIoHandler;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioServerSocketChannel;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Thread-safe. The gRPC port's own Netty transport: the same as gRPC's default (epoll where the platform has it, else
 * NIO; one accepting thread, Netty's default number of I/O threads), but with the port's {@link GrpcConnections} on
 * the listening channel, which gRPC's default transport has no place for. gRPC takes a channel type only together with
 * the event loops, so the server owns those and {@linkplain #close() stops} them after the gRPC server.
 */
public final class GrpcTransport implements AutoCloseable {

    private static final boolean EPOLL = Epoll.isAvailable();

    private final GrpcConnections connections;
    private final EventLoopGroup accepting;
    private final EventLoopGroup io;

    /** @param connections what counts and limits the accepted connections */
    public GrpcTransport(GrpcConnections connections) {
        this.connections = connections;
        this.accepting = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("flags-grpc-accept", true), handlers());
        // 0: Netty's default, twice the processors (or -Dio.netty.eventLoopThreads), as gRPC's own event loops.
        this.io = new MultiThreadIoEventLoopGroup(0, new DefaultThreadFactory("flags-grpc-io", true), handlers());
    }

    private static IoHandlerFactory handlers() {
        return EPOLL ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    }

    /** @return the builder, set to listen through this transport */
    public NettyServerBuilder applyTo(NettyServerBuilder builder) {
        return builder.bossEventLoopGroup(accepting).workerEventLoopGroup(io).channelFactory(this::newListeningChannel);
    }

    private ServerChannel newListeningChannel() {
        ServerChannel channel = EPOLL ? new EpollServerSocketChannel() : new NioServerSocketChannel();
        // First in the pipeline: before the acceptor that gRPC's bootstrap adds, which hands connections to gRPC.
        channel.pipeline().addLast(connections);
        return channel;
    }

    /** @return the transport the port runs on: "epoll" (Linux's native one) or "NIO" (Java's, anywhere) */
    public static String name() {
        return EPOLL ? "epoll" : "NIO";
    }

    /** @return {@link #fallbackWarning(boolean, String, Throwable)} for this JVM: null unless Linux runs the port on NIO */
    public static String fallbackWarning() {
        return fallbackWarning(EPOLL, System.getProperty("os.name", ""), Epoll.unavailabilityCause());
    }

    /**
     * The warning for a Linux server whose gRPC port runs on Java's NIO because Netty's native epoll library did not
     * load. It works, but unseen: the usual cause is a temporary directory mounted {@code noexec}, into which Netty
     * unpacks the library; on other systems NIO is the transport and nothing is wrong.
     *
     * @param epoll whether epoll loaded
     * @param osName the {@code os.name} system property
     * @param cause why epoll did not load, or null
     * @return one line for the log, or null if there is nothing to warn about
     */
    static String fallbackWarning(boolean epoll, String osName, Throwable cause) {
        if (epoll || !osName.toLowerCase(Locale.ROOT).startsWith("linux")) {
            return null;
        }
        String why = cause == null ? "no cause given" : cause.getClass().getSimpleName() + ": " + cause.getMessage();
        return "gRPC port: Netty's native transport (epoll) did not load, so the port runs on Java NIO: it works, at more"
                + " CPU per connection. Netty unpacks the library into the temporary directory (java.io.tmpdir), which must"
                + " allow running files; -Dio.grpc.netty.shaded.io.netty.native.workdir=DIR names another. Why: "
                + why.replace('\n', ' ').replace('\r', ' ');
    }

    /**
     * Stops the event loops, and waits (a few seconds at most) until they have: call once the gRPC server has terminated
     * or was cut ({@code shutdownNow}), or was never started. A cut stream's call is closed by its connection's loop as
     * the loop closes the connection, on gRPC's call executor: that executor must not be stopped before the loops are,
     * or each of those closes is a WARN with a stack trace in the log of the stop.
     */
    @Override
    public void close() {
        var acceptingStopped = accepting.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        var ioStopped = io.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        // A quiet period of 0 ends a loop as soon as it has no task left, and 1 s bounds one that keeps getting some.
        acceptingStopped.awaitUninterruptibly(3, TimeUnit.SECONDS);
        ioStopped.awaitUninterruptibly(3, TimeUnit.SECONDS);
    }
}
