package dev.flags.server.sync;

import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Thread-safe. The gRPC port's outermost interceptor: it counts the calls ended with an error before anything was sent
 * on them, by method and status code. A fleet that cannot sync (a token that expired, an environment misspelt or
 * deleted, a token over its stream cap) shows here, not only as fewer streams: a refused SDK retries for good, and
 * the log says each cause once at most.
 */
public final class RefusedCalls implements ServerInterceptor {

    private final Map<String, LongAdder> counts = new ConcurrentHashMap<>();

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
            ServerCallHandler<Q, R> next) {
        String method = call.getMethodDescriptor().getBareMethodName();
        ServerCall<Q, R> counted = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            /** Set on the call's serialized executor and read in close, which gRPC calls on it too. */
            private volatile boolean sent;

            @Override
            public void sendMessage(R message) {
                if (!sent) { // a read per message on a stream's path, a write once
                    sent = true;
                }
                super.sendMessage(message);
            }

            @Override
            public void close(Status status, Metadata trailers) {
                // CANCELLED is the client's going: not a refusal.
                if (!sent && !status.isOk() && status.getCode() != Status.Code.CANCELLED) {
                    counts.computeIfAbsent("method=\"" + method + "\",code=\"" + status.getCode() + "\"",
                            k -> new LongAdder()).increment();
                }
                super.close(status, trailers);
            }
        };
        return next.startCall(counted, headers);
    }

    /** @return the counts so far, by their Prometheus labels ({@code method="Subscribe",code="NOT_FOUND"}) */
    public Map<String, Long> counts() {
        Map<String, Long> now = new TreeMap<>();
        counts.forEach((labels, n) -> now.put(labels, n.sum()));
        return now;
    }
}
