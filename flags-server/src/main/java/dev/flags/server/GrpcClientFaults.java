package dev.flags.server;

import io.grpc.MethodDescriptor;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Error;
import io.grpc.netty.shaded.io.netty.handler.codec.http2.Http2Exception;
import java.util.Arrays;
import java.util.concurrent.atomic.LongAdder;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Thread-safe; process-wide, as java.util.logging is. What gRPC logs about a client's fault, demoted to DEBUG, and
 * the request messages it refused, counted.
 *
 * <p>gRPC logs what a client got wrong as if it were the server's fault, with a stack trace, once per connection
 * or message: a connection that fails (a port scanner, a plain HTTP/1 request) at INFO, a request message it
 * refuses (over the 2 MiB limit, also once decompressed, or not a valid message) at WARN or ERROR, a stream the
 * client closed while the server was still writing to it at WARN. Anyone with a
 * token could fill the log, so these are logged at DEBUG; the refused messages are counted instead, so that an
 * operator still sees that clients send them ({@code flags_grpc_requests_refused_total}).
 */
final class GrpcClientFaults {

    // Held here because java.util.logging keeps its loggers only weakly: a collected one would come back without
    // its filter.
    private static final Logger CONNECTIONS = Logger.getLogger("io.grpc.netty.shaded.io.grpc.netty.NettyServerTransport.connections");
    /** Logs "Exception processing message" when the transport refuses a message (too large, a bad frame). */
    private static final Logger STREAMS = Logger.getLogger("io.grpc.netty.shaded.io.grpc.netty.NettyServerStream");
    /** Logs "Exception while executing runnable" when a call's task throws, reading its request included. */
    private static final Logger CALLS = Logger.getLogger("io.grpc.internal.SerializingExecutor");
    /**
     * Logs "Stream Error" at WARN, with a stack trace, when a client ends a stream (or its connection) while the
     * server still has bytes queued for it: "Stream closed before write could take place". The client went away.
     */
    private static final Logger HANDLER = Logger.getLogger(Main.GRPC_FRAMES);

    private static final LongAdder REFUSED = new LongAdder();

    private GrpcClientFaults() {
    }

    /**
     * Sets the filters (again: idempotent), after the log level is set: the two loggers of refused messages are
     * made to build their records whatever the level, so that each is counted, shown or not.
     */
    static synchronized void install() {
        CONNECTIONS.setFilter(record -> {
            if (record.getLevel().intValue() < Level.WARNING.intValue()) {
                record.setLevel(Level.FINE);
            }
            return true;
        });
        // Only a status, which gRPC raises about the client's bytes: anything else is the server's own failure and
        // keeps its level. The client is told (RESOURCE_EXHAUSTED for a message too large; UNKNOWN for one too
        // large once decompressed, or unreadable, as gRPC answers those).
        STREAMS.setFilter(record -> {
            if (record.getThrown() instanceof StatusRuntimeException) {
                REFUSED.increment();
                record.setLevel(Level.FINE);
            }
            return true;
        });
        CALLS.setFilter(record -> {
            if (isUnreadableRequest(record.getThrown())) {
                REFUSED.increment();
                record.setLevel(Level.FINE);
            }
            return true;
        });
        HANDLER.setFilter(record -> {
            if (isClientGone(record.getThrown())) {
                record.setLevel(Level.FINE);
            }
            return true;
        });
        buildAtLeast(STREAMS, Level.WARNING);
        buildAtLeast(CALLS, Level.SEVERE);
    }

    /** @return the request messages gRPC refused for their bytes since {@link #install()}, in this process */
    static long refusedMessages() {
        return REFUSED.sum();
    }

    /**
     * Whether gRPC threw this because it could not read a call's request message: a status raised while
     * parsing it. Not a status the service threw, nor any other exception: those are the server's.
     */
    static boolean isUnreadableRequest(Throwable thrown) {
        return thrown instanceof StatusRuntimeException && Arrays.stream(thrown.getStackTrace())
                .anyMatch(f -> f.getClassName().equals(MethodDescriptor.class.getName()) && f.getMethodName().equals("parseRequest"));
    }

    /**
     * Whether Netty raised this because the client closed a stream the server was still writing to (HTTP/2's
     * {@code STREAM_CLOSED}, for one stream): what a client that stops or hangs up mid-snapshot causes.
     */
    static boolean isClientGone(Throwable thrown) {
        for (Throwable t = thrown; t != null; t = t.getCause()) {
            if (t instanceof Http2Exception.StreamException e && e.error() == Http2Error.STREAM_CLOSED) {
                return true;
            }
        }
        return false;
    }

    private static void buildAtLeast(Logger logger, Level level) {
        Logger withLevel = logger;
        while (withLevel.getLevel() == null && withLevel.getParent() != null) {
            withLevel = withLevel.getParent();
        }
        Level effective = withLevel.getLevel();
        if (effective == null || effective.intValue() > level.intValue()) {
            logger.setLevel(level);
        }
    }
}
