package dev.flags.server;

import io.grpc.MethodDescriptor;
import io.grpc.StatusRuntimeException;
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
 * refuses (over the 2 MiB limit, also once decompressed, or not a valid message) at WARN or ERROR. Anyone with a
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
