package dev.flags.client.internal;

import dev.flags.protocol.v1.Acknowledgement;
import dev.flags.protocol.v1.AcknowledgementReceipt;
import dev.flags.protocol.v1.FlagSyncGrpc;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.HexFormat;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe (one lock, held briefly, never while sending). Tells the flag server which version this SDK instance has
 * applied ({@code Acknowledge}), on the stream it subscribed with its {@linkplain #instanceId() instance id}: how an
 * operator learns that a kill switch has reached every application ({@code GET .../sdks}, {@code flags off --wait}).
 *
 * <p>Each new version the stream confirms (a Snapshot or Delta applied, or a Heartbeat that says the version held is
 * current, as after a resubscription) is acknowledged once, after a random delay of up to {@value #JITTER_MILLIS} ms,
 * and no sooner than {@value #SPACING_MILLIS} ms after the previous acknowledgement: a fleet's instances, which all
 * apply a change within milliseconds of each other, do not call the server at the same moment, and a burst of changes
 * costs one call a second, of the newest version. Best effort: a failed call is not retried (the next heartbeat of an
 * unacknowledged version tries again). A server that does not know the call (an older release) ends them until the
 * next stream, with one INFO line: a server upgraded since (or rolled forward after a rollback) takes them, and an SDK
 * that stayed silent would be listed as having the change pending for as long as it runs (QA89 F1).
 */
final class Acknowledger {

    private static final Logger LOG = LoggerFactory.getLogger(Acknowledger.class);

    /** The longest random wait before an acknowledgement. */
    static final long JITTER_MILLIS = 500;
    /** The shortest time between two acknowledgements. */
    static final long SPACING_MILLIS = 1_000;
    private static final long DEADLINE_SECONDS = 10;
    /** How long a close waits for the server to take its goodbye: a close must not wait on a slow server. */
    static final long GOODBYE_MILLIS = 300;

    private final FlagSyncGrpc.FlagSyncStub stub;
    private final FlagSyncGrpc.FlagSyncBlockingStub blockingStub;
    private final String environment;
    private final String instanceId;
    private final ScheduledExecutorService background;
    private final LongSupplier nanoTime;

    private final Object lock = new Object();
    // Guarded by lock.
    /** The version the current stream last confirmed (what isEnabled answers from); -1 for none yet. */
    private long confirmed = -1;
    /** The newest version acknowledged (or being acknowledged) on the current stream; -1 for none. */
    private long acknowledged = -1;
    private long lastSentNanos;
    private boolean sentAny;
    private ScheduledFuture<?> scheduled;
    private boolean stopped; // closed
    /** The server of the current stream does not know the call (an older release): nothing is sent until the next one. */
    private boolean notTaken;
    /** Counts the streams started, so that the answer to a call sent on an earlier one does not judge the current one. */
    private long stream;
    private boolean notTakenLogged;

    /**
     * @param channel the SDK's channel, which carries its token
     * @param environment the environment synced
     * @param background where acknowledgements wait and are sent from
     * @param nanoTime the monotonic clock of the spacing
     */
    Acknowledger(Channel channel, String environment, ScheduledExecutorService background, LongSupplier nanoTime) {
        this.stub = FlagSyncGrpc.newStub(channel);
        this.blockingStub = FlagSyncGrpc.newBlockingStub(channel);
        this.environment = environment;
        this.background = background;
        this.nanoTime = nanoTime;
        this.instanceId = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
    }

    /** @return this instance's random id, sent with every subscription and acknowledgement */
    String instanceId() {
        return instanceId;
    }

    /**
     * A new stream is starting: the server knows of nothing this instance applied on it, and what the old stream
     * confirmed is no longer news. The new stream may bring a lower version than the old one (a server whose journal
     * was restored from an older backup, which the SDK follows): its acknowledgements must follow what the SDK answers
     * from now, not wait until the new server passes a version this instance no longer holds (QA76 F1).
     */
    void streamStarted() {
        synchronized (lock) {
            stream++;
            notTaken = false; // the server may be another release now: a restart is when an upgrade happens
            acknowledged = -1;
            confirmed = -1; // a send still waiting finds nothing to say until the new stream confirms a version
        }
    }

    /**
     * The stream has confirmed a version: the SDK answers from it now. Cheap when there is nothing new to say: called for
     * every message.
     */
    void confirmed(long version) {
        synchronized (lock) {
            if (stopped || notTaken || version <= acknowledged) {
                return;
            }
            confirmed = version; // in order on a stream: the newest, and the one isEnabled answers from
            if (scheduled != null) {
                return; // the one waiting sends the newest
            }
            long now = nanoTime.getAsLong();
            long spacing = sentAny ? Math.max(0, TimeUnit.MILLISECONDS.toNanos(SPACING_MILLIS) - (now - lastSentNanos)) : 0;
            long delay = spacing + TimeUnit.MILLISECONDS.toNanos(ThreadLocalRandom.current().nextLong(JITTER_MILLIS + 1));
            try {
                scheduled = background.schedule(this::send, delay, TimeUnit.NANOSECONDS);
            } catch (RejectedExecutionException e) {
                stopped = true; // the SDK is closing
            }
        }
    }

    private void send() {
        long version;
        long sentOn;
        synchronized (lock) {
            scheduled = null;
            if (stopped || notTaken || confirmed <= acknowledged) {
                return;
            }
            sentOn = stream;
            version = confirmed;
            acknowledged = version;
            lastSentNanos = nanoTime.getAsLong();
            sentAny = true;
        }
        Acknowledgement ack = Acknowledgement.newBuilder().setEnvironment(environment).setInstanceId(instanceId)
                .setVersion(version).build();
        try {
            stub.withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS).acknowledge(ack, new Answer(version, sentOn));
        } catch (RuntimeException e) {
            failed(version, sentOn, Status.fromThrowable(e));
        }
    }

    private void failed(long version, long sentOn, Status status) {
        synchronized (lock) {
            if (sentOn != stream) {
                return; // an earlier stream's call: the current stream's server may be another one
            }
            if (acknowledged == version) {
                acknowledged = version - 1; // not taken: the next confirmation of it (a heartbeat) tries again
            }
            if (status.getCode() == Status.Code.UNIMPLEMENTED && !stopped) {
                notTaken = true;
                if (!notTakenLogged) { // once: each new stream to that server asks it once more
                    notTakenLogged = true;
                    LOG.info("flags: the flag server does not take acknowledgements of applied versions (a release older"
                            + " than this SDK): its list of SDKs cannot confirm that this instance has a change; asked again"
                            + " when the SDK next connects (an upgraded server takes them)");
                }
                return;
            }
        }
        if (LOG.isDebugEnabled()) {
            LOG.debug("flags: acknowledging version {} of environment \"{}\" failed: {}", version, environment, status);
        }
    }

    /**
     * Says, on the stream still open, that this instance is closing (its application closed it), with the version it
     * answered from: once the stream ends, the server lists it among the instances closed by their application, not as
     * one that lost its connection and may still serve what it had ({@code flags off --wait} tells the two apart). Waits
     * for the server at most {@value #GOODBYE_MILLIS} ms; best effort, as every acknowledgement. Stops acknowledging.
     *
     * @param version the version the instance answered from
     */
    void goodbye(long version) {
        synchronized (lock) {
            boolean silent = stopped || notTaken; // closed already, or a server that takes no acknowledgements
            close();
            if (silent) {
                return;
            }
        }
        Acknowledgement ack = Acknowledgement.newBuilder().setEnvironment(environment).setInstanceId(instanceId)
                .setVersion(Math.max(0, version)).setClosing(true).build();
        try {
            blockingStub.withDeadlineAfter(GOODBYE_MILLIS, TimeUnit.MILLISECONDS).acknowledge(ack);
        } catch (RuntimeException e) {
            LOG.debug("flags: saying that this instance closes failed: {}", Status.fromThrowable(e));
        }
    }

    /** Stops acknowledging: the SDK is closing. */
    void close() {
        synchronized (lock) {
            stopped = true;
            if (scheduled != null) {
                scheduled.cancel(false);
                scheduled = null;
            }
        }
    }

    private final class Answer implements StreamObserver<AcknowledgementReceipt> {
        private final long version;
        private final long sentOn;

        Answer(long version, long sentOn) {
            this.version = version;
            this.sentOn = sentOn;
        }

        @Override
        public void onNext(AcknowledgementReceipt receipt) {
            // nothing in it yet
        }

        @Override
        public void onError(Throwable t) {
            failed(version, sentOn, Status.fromThrowable(t));
        }

        @Override
        public void onCompleted() {
            // taken
        }
    }
}
