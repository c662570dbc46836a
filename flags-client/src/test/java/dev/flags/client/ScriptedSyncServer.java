package dev.flags.client;

import dev.flags.protocol.v1.Acknowledgement;
import dev.flags.protocol.v1.AcknowledgementReceipt;
import dev.flags.protocol.v1.Delta;
import dev.flags.protocol.v1.FlagDocument;
import dev.flags.protocol.v1.FlagSyncGrpc;
import dev.flags.protocol.v1.Heartbeat;
import dev.flags.protocol.v1.RoleGrant;
import dev.flags.protocol.v1.Snapshot;
import dev.flags.protocol.v1.SnapshotRequest;
import dev.flags.protocol.v1.SubscribeRequest;
import dev.flags.protocol.v1.SyncMessage;
import dev.flags.protocol.v1.UsageReceipt;
import dev.flags.protocol.v1.UsageReport;
import dev.flags.protocol.v1.Waiting;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Not thread-safe (one test drives it). A TEST DOUBLE of the flag server's sync service, on a real
 * loopback port: it records every Subscribe call and lets the test script the stream (snapshot,
 * deltas, heartbeats, gaps, silence, errors), stop and restart on the same port, and refuse tokens.
 * It has no state of flags of its own: it sends exactly what the test tells it to.
 */
final class ScriptedSyncServer implements AutoCloseable {

    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private static final Context.Key<String> AUTH = Context.key("authorization");

    private final BlockingQueue<Subscription> subscriptions = new LinkedBlockingQueue<>();
    private final AtomicInteger subscribeCalls = new AtomicInteger();
    private final List<Long> subscribeNanos = new CopyOnWriteArrayList<>();
    private volatile Status refuseWith;
    private final BlockingQueue<Report> reports = new LinkedBlockingQueue<>();
    private volatile Status refuseReportsWith;
    private volatile boolean holdReports;
    private final BlockingQueue<Ack> acks = new LinkedBlockingQueue<>();
    private volatile Status refuseAcksWith;
    private Server server;
    private int port;

    /** Starts on a free loopback port. */
    static ScriptedSyncServer start() {
        ScriptedSyncServer s = new ScriptedSyncServer();
        s.startOn(0);
        return s;
    }

    /** A server that is not listening, with a port reserved for {@link #startAgain()}. */
    static ScriptedSyncServer notStarted() {
        ScriptedSyncServer s = new ScriptedSyncServer();
        s.startOn(0);
        s.stop();
        return s;
    }

    private void startOn(int wanted) {
        ServerInterceptor capture = new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                              ServerCallHandler<Q, R> next) {
                String auth = headers.get(AUTHORIZATION);
                return Contexts.interceptCall(Context.current().withValue(AUTH, auth), call, headers, next);
            }
        };
        try {
            server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", wanted))
                    .addService(ServerInterceptors.intercept(new Service(), capture))
                    .build()
                    .start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        port = server.getPort();
    }

    /** @return {@code 127.0.0.1:port} */
    String target() {
        return "127.0.0.1:" + port;
    }

    /**
     * @param token the sdk token to send
     * @return a builder of an SDK for this server, as an application makes one, for environment {@code production}
     */
    Flags.Builder client(String token) {
        return Flags.builder().target(target()).plaintext().sdkToken(token).environment("production");
    }

    /**
     * @param token the sdk token to send
     * @return as {@link #client}, reconnecting after 20 to 100 ms: for tests that stop, restart or silence the server
     */
    Flags.Builder quicklyReconnectingClient(String token) {
        return client(token).initialBackoff(Duration.ofMillis(20)).maxBackoff(Duration.ofMillis(100));
    }

    int port() {
        return port;
    }

    int subscribeCalls() {
        return subscribeCalls.get();
    }

    /** @return when each Subscribe call came, by {@link System#nanoTime()} */
    List<Long> subscribeTimes() {
        return List.copyOf(subscribeNanos);
    }

    /** Every Subscribe call from now on fails with this status (null: accept again). */
    void refuse(Status status) {
        this.refuseWith = status;
    }

    /** @return the next Subscribe call; fails the test if none comes in time */
    Subscription awaitSubscription() throws InterruptedException {
        return awaitSubscription(Duration.ofSeconds(10));
    }

    Subscription awaitSubscription(Duration timeout) throws InterruptedException {
        Subscription s = subscriptions.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        if (s == null) {
            throw new AssertionError("no Subscribe call within " + timeout);
        }
        return s;
    }

    /** @return the next Subscribe call, or null if none comes in time */
    Subscription pollSubscription(Duration timeout) throws InterruptedException {
        return subscriptions.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Every ReportUsage call from now on fails with this status (null: acknowledge again). */
    void refuseReports(Status status) {
        this.refuseReportsWith = status;
    }

    /** Every ReportUsage call from now on is never answered: the SDK's own deadline ends it. */
    void holdReports() {
        this.holdReports = true;
    }

    /** @return the next ReportUsage call; fails the test if none comes in time */
    Report awaitReport() throws InterruptedException {
        Report r = reports.poll(10, TimeUnit.SECONDS);
        if (r == null) {
            throw new AssertionError("no ReportUsage call within 10 s");
        }
        return r;
    }

    /** @return the ReportUsage calls received and not yet taken by {@link #awaitReport()} */
    List<Report> reportsReceived() {
        return List.copyOf(reports);
    }

    /** Stops listening and breaks every open stream, as a crash would. */
    void stop() {
        server.shutdownNow();
        try {
            server.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Listens again on the same port. */
    void startAgain() {
        startOn(port);
    }

    @Override
    public void close() {
        stop();
    }

    /** Refuses every Acknowledge from now on with this status (UNIMPLEMENTED: as a server from before them). */
    void refuseAcks(Status status) {
        refuseAcksWith = status;
    }

    /** @return the next Acknowledge call received, or null if none comes within the timeout */
    Ack pollAck(Duration timeout) throws InterruptedException {
        return acks.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** @return the next Acknowledge call received; fails the test if none comes within 10 s */
    Ack awaitAck() throws InterruptedException {
        Ack a = pollAck(Duration.ofSeconds(10));
        if (a == null) {
            throw new AssertionError("no acknowledgement within 10 s");
        }
        return a;
    }

    private final class Service extends FlagSyncGrpc.FlagSyncImplBase {
        @Override
        public void acknowledge(Acknowledgement request, StreamObserver<AcknowledgementReceipt> observer) {
            long received = System.nanoTime();
            // Answered before the test hears of it: whatever the test sends next reaches the SDK after the answer.
            Status refusal = refuseAcksWith;
            if (refusal != null) {
                observer.onError(refusal.asRuntimeException());
            } else {
                observer.onNext(AcknowledgementReceipt.getDefaultInstance());
                observer.onCompleted();
            }
            acks.add(new Ack(request, AUTH.get(), received));
        }

        @Override
        public void subscribe(SubscribeRequest request, StreamObserver<SyncMessage> observer) {
            subscribeCalls.incrementAndGet();
            subscribeNanos.add(System.nanoTime());
            Status refusal = refuseWith;
            if (refusal != null) {
                observer.onError(refusal.asRuntimeException());
                return;
            }
            ServerCallStreamObserver<SyncMessage> stream = (ServerCallStreamObserver<SyncMessage>) observer;
            Subscription s = new Subscription(request, AUTH.get(), stream);
            stream.setOnCancelHandler(s.cancelled::countDown);
            subscriptions.add(s);
        }

        @Override
        public void reportUsage(UsageReport request, StreamObserver<UsageReceipt> observer) {
            reports.add(new Report(request, AUTH.get()));
            if (holdReports) {
                return;
            }
            Status refusal = refuseReportsWith;
            if (refusal != null) {
                observer.onError(refusal.asRuntimeException());
                return;
            }
            observer.onNext(UsageReceipt.newBuilder().setReportIntervalMillis(60_000).build());
            observer.onCompleted();
        }

        @Override
        public void getSnapshot(SnapshotRequest request, StreamObserver<Snapshot> observer) {
            observer.onError(Status.UNIMPLEMENTED.asRuntimeException());
        }
    }

    /** One Acknowledge call, with the authorization it came with and when it arrived ({@link System#nanoTime()}). */
    record Ack(Acknowledgement ack, String authorization, long receivedNanos) {
    }

    /** One ReportUsage call, with the authorization it came with. */
    record Report(UsageReport report, String authorization) {
    }

    /** One Subscribe call, whose stream the test writes. */
    static final class Subscription {
        final SubscribeRequest request;
        final String authorization;
        private final ServerCallStreamObserver<SyncMessage> stream;
        final CountDownLatch cancelled = new CountDownLatch(1);

        Subscription(SubscribeRequest request, String authorization, ServerCallStreamObserver<SyncMessage> stream) {
            this.request = request;
            this.authorization = authorization;
            this.stream = stream;
        }

        synchronized Subscription send(SyncMessage message) {
            stream.onNext(message);
            return this;
        }

        Subscription snapshot(long version, long heartbeatMillis, List<FlagDocument> flags, Map<String, List<String>> grants) {
            Snapshot.Builder b = Snapshot.newBuilder().setEnvironment(request.getEnvironment()).setVersion(version)
                    .setHeartbeatIntervalMillis(heartbeatMillis).addAllFlags(flags);
            grants.forEach((role, ids) -> b.addRoleGrants(RoleGrant.newBuilder().setRole(role).addAllUserIds(ids)));
            return send(SyncMessage.newBuilder().setSnapshot(b).build());
        }

        Subscription snapshot(long version, FlagDocument... flags) {
            return snapshot(version, 15_000, List.of(flags), Map.of());
        }

        Subscription delta(long from, long to, List<FlagDocument> upserted, List<String> removed,
                           Map<String, List<String>> grants) {
            Delta.Builder b = Delta.newBuilder().setFromVersion(from).setVersion(to).addAllUpserted(upserted)
                    .addAllRemoved(removed).setCommittedAtMillis(System.currentTimeMillis());
            grants.forEach((role, ids) -> b.addRoleGrants(RoleGrant.newBuilder().setRole(role).addAllUserIds(ids)));
            return send(SyncMessage.newBuilder().setDelta(b).build());
        }

        Subscription delta(long from, long to, FlagDocument... upserted) {
            return delta(from, to, List.of(upserted), List.of(), Map.of());
        }

        Subscription heartbeat(long version, long intervalMillis) {
            return send(SyncMessage.newBuilder().setHeartbeat(Heartbeat.newBuilder().setVersion(version)
                    .setServerTimeMillis(System.currentTimeMillis()).setHeartbeatIntervalMillis(intervalMillis)).build());
        }

        /** What the server sends while its next message for the stream waits for room in its send buffer. */
        Subscription waiting(long intervalMillis) {
            return send(SyncMessage.newBuilder().setWaiting(Waiting.newBuilder()
                    .setServerTimeMillis(System.currentTimeMillis()).setHeartbeatIntervalMillis(intervalMillis)).build());
        }

        synchronized void fail(Status status) {
            stream.onError(status.asRuntimeException());
        }

        synchronized void complete() {
            stream.onCompleted();
        }

        boolean awaitCancelled(Duration timeout) throws InterruptedException {
            return cancelled.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }
    }
}
