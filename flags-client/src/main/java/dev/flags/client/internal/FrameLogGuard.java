package dev.flags.client.internal;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe. Warns, once per JVM, when gRPC's HTTP/2 frame logger would write the SDK's token into the application's
 * log: at {@code DEBUG} it writes every frame's headers, {@code authorization: Bearer <token>} among them, and a root
 * logger at {@code DEBUG}, the usual first step of troubleshooting, puts it there. The SDK cannot set another library's
 * log level in the application's logging; it can say so before the first frame goes out.
 */
final class FrameLogGuard {

    /** The frame logger's name: Netty (shaded into gRPC) names it after gRPC's client handler. */
    static final String FRAME_LOGGER = "io.grpc.netty.shaded.io.grpc.netty.NettyClientHandler";

    private static final Logger LOG = LoggerFactory.getLogger(FrameLogGuard.class);
    private static final AtomicBoolean WARNED = new AtomicBoolean();

    private FrameLogGuard() {
    }

    /** Looks at the frame logger's level (through SLF4J, and java.util.logging, which Netty uses without SLF4J). */
    static void check() {
        if (WARNED.get()) {
            return;
        }
        boolean slf4j = LoggerFactory.getLogger(FRAME_LOGGER).isDebugEnabled();
        boolean jul = java.util.logging.Logger.getLogger(FRAME_LOGGER).isLoggable(Level.FINE);
        String warning = warning(slf4j, jul);
        if (warning != null && WARNED.compareAndSet(false, true)) {
            LOG.warn(warning);
        }
    }

    /** @return the warning for a frame logger at debug through either, or null */
    static String warning(boolean slf4jDebug, boolean julFine) {
        if (!slf4jDebug && !julFine) {
            return null;
        }
        return "flags: the logger " + FRAME_LOGGER + " is at " + (slf4jDebug ? "DEBUG" : "FINE") + ": it writes every HTTP/2"
                + " frame's headers into the log, this SDK's token among them (authorization: Bearer ...); set that"
                + " logger to INFO (a root logger at DEBUG puts it there)";
    }
}
