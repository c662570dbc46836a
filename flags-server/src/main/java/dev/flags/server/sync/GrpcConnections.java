package dev.flags.server.sync;

import io.grpc.Attributes;
import io.grpc.ServerTransportFilter;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Thread-safe. Counts the gRPC port's open connections, made calls or not: each holds a file descriptor, and a
 * count that climbs while {@code flags_grpc_streams_connected} does not is connections that never subscribe
 * (a client that opens and holds them), which the operator should limit in front of the server.
 */
public final class GrpcConnections extends ServerTransportFilter {

    /** Marks a connection counted as open, so that its end is counted only once and only if its start was. */
    private static final Attributes.Key<Boolean> COUNTED = Attributes.Key.create("flags-connection-counted");

    private final AtomicLong open = new AtomicLong();

    @Override
    public Attributes transportReady(Attributes attributes) {
        open.incrementAndGet();
        return attributes.toBuilder().set(COUNTED, Boolean.TRUE).build();
    }

    @Override
    public void transportTerminated(Attributes attributes) {
        if (attributes != null && Boolean.TRUE.equals(attributes.get(COUNTED))) {
            open.decrementAndGet();
        }
    }

    /** @return the connections that finished their handshake and have not ended */
    public long open() {
        return open.get();
    }
}
