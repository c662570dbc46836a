package dev.flags.server.http;

import io.undertow.connector.PooledByteBuffer;
import io.undertow.io.IoCallback;
import io.undertow.io.Sender;
import io.undertow.server.Connectors;
import io.undertow.server.HttpHandler;
import io.undertow.server.HttpServerExchange;
import io.undertow.server.protocol.http.HttpContinue;
import io.undertow.util.Headers;
import io.undertow.util.SameThreadExecutor;
import io.undertow.util.StatusCodes;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.function.ObjIntConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xnio.ChannelListener;
import org.xnio.IoUtils;
import org.xnio.XnioExecutor;
import org.xnio.channels.Channels;
import org.xnio.channels.StreamSourceChannel;

/**
 * Thread-safe (it keeps no state; each request's reading stays on its connection's I/O thread). Reads a request's body
 * into buffers on the I/O thread, at most {@code limit} bytes, and only then hands the request on, so that a client
 * sending its body slowly holds no worker thread. A body over the limit (declared so, or chunked past it) is answered
 * {@code 413} on the I/O thread, and the rest of it is read and dropped there before the connection is closed. A body
 * that ends before its length is answered {@code 400}, and its connection closed; one whose chunked framing is broken
 * has its connection closed by Undertow, unanswered.
 *
 * <p>Why drop the rest rather than close at once: a client that sends its whole body before it reads the answer (as
 * {@code java.net.http} and the CLI do) gets a reset connection instead of its {@code 413} when the server closes with
 * bytes unread (a clean-clone CI run failed so). Why here, not in the servlet: the servlet read the rest on a worker
 * thread at the sender's pace, so clients with a token that trickled bodies over the limit held every worker, and the
 * API and the health checks stopped (QA83 F1). The drop is bounded: at most {@code dropLimit} bytes, within
 * {@code dropDeadline}; past either the connection is closed, and a body declared over {@code dropLimit} is not read.
 */
public final class BodyBuffering implements HttpHandler {

    private static final Logger LOG = LoggerFactory.getLogger(BodyBuffering.class);
    /**
     * How many reads of a chunked body in a row may give none of its bytes before its connection is closed. Undertow's
     * chunked decoding keeps a trailer's bytes in a StringBuilder with no bound for as long as they come (and skips a
     * chunk extension's, as long), and its reads give no byte of the body meanwhile: one connection grew the heap by
     * 581 MiB in a second with a trailer of 300 MiB (QA87 F3). Each read decodes at most one buffer of what arrived
     * ({@code ChunkedStreamSourceConduit.read} reads once into one 16 KiB buffer), so this bounds such framing at
     * 256 KiB per connection while a body is read, and twice that while the rest of one over the limit is dropped (a
     * drop may read twice); an honest client's framing without data (a chunk's size line, the last chunk, a few
     * trailers) takes one or two such reads.
     */
    static final int MAX_READS_WITHOUT_DATA = 16;
    /** Set once a request's {@code 413} has gone out whole and the rest of its body is being dropped. */
    private static final io.undertow.util.AttachmentKey<Boolean> DROPPING =
            io.undertow.util.AttachmentKey.create(Boolean.class);

    private final HttpHandler next;
    private final int limit;
    private final long dropLimit;
    private final Duration dropDeadline;
    private final ObjIntConsumer<HttpServerExchange> refused;

    /**
     * @param next handles a request once its whole body is in buffers
     * @param limit the most bytes a body may have
     * @param dropLimit the most bytes of a body over the limit that are read and dropped after its {@code 413}
     * @param dropDeadline how long after its {@code 413} the rest of such a body may take to arrive
     * @param refused told of each request answered here, with its status ({@code 413}, or {@code 400} for a body that
     *     ended before its length): for the request counts, and to charge its sender ({@link BodiesInFlight#senderOf})
     */
    public BodyBuffering(HttpHandler next, int limit, long dropLimit, Duration dropDeadline,
            ObjIntConsumer<HttpServerExchange> refused) {
        if (limit < 1 || dropLimit < 0) {
            throw new IllegalArgumentException("limit must be positive and dropLimit not negative, were " + limit + " and "
                    + dropLimit);
        }
        this.next = next;
        this.limit = limit;
        this.dropLimit = dropLimit;
        this.dropDeadline = dropDeadline;
        this.refused = refused;
    }

    @Override
    public void handleRequest(HttpServerExchange exchange) throws Exception {
        long declared = exchange.getRequestContentLength();
        if (declared > limit) {
            // Not a byte read; the 413 goes out after this call returns (dispatched, so Undertow does not end the
            // exchange, and with it the connection, before the rest is dropped).
            exchange.dispatch(SameThreadExecutor.INSTANCE, () -> refuse(exchange, null, declared));
            return;
        }
        if (exchange.isRequestComplete()) {
            next.handleRequest(exchange); // no body
            return;
        }
        new Reading(exchange).start();
    }

    /** One body being read into buffers; confined to the connection's I/O thread. */
    private final class Reading implements ChannelListener<StreamSourceChannel> {

        private final HttpServerExchange exchange;
        private final StreamSourceChannel channel;
        private PooledByteBuffer[] buffers;
        private int filled;
        private PooledByteBuffer current;
        private long read;
        /** Reads in a row that gave no byte of the body (see {@link #MAX_READS_WITHOUT_DATA}). */
        private int readsWithoutData;

        Reading(HttpServerExchange exchange) {
            this.exchange = exchange;
            this.channel = exchange.getRequestChannel();
        }

        void start() throws Exception {
            State first;
            try {
                first = readSome();
            } catch (IOException e) {
                // Before any listener is there to give them back: without this, the buffers the body was read into were
                // lost to the pool (QA87 F1), and Undertow answered the client's broken body with a bare 500. The 400
                // goes out after this call returns (dispatched, so Undertow does not end the exchange first).
                failed(e);
                exchange.dispatch(SameThreadExecutor.INSTANCE, () -> unreadable(exchange));
                return;
            }
            switch (first) {
                case WHOLE -> {
                    handOn();
                    next.handleRequest(exchange);
                }
                case TOO_LARGE -> exchange.dispatch(SameThreadExecutor.INSTANCE, () -> refuse(exchange, channel, -1));
                case WAITING -> {
                    // The buffers go back to the pool if the connection ends before the body does.
                    exchange.addExchangeCompleteListener((ended, nextListener) -> {
                        release();
                        nextListener.proceed();
                    });
                    channel.getReadSetter().set(this);
                    channel.resumeReads();
                }
            }
        }

        @Override
        public void handleEvent(StreamSourceChannel ignored) {
            State state;
            long before = read;
            try {
                state = readSome();
            } catch (IOException e) {
                failed(e);
                unreadable(exchange);
                return;
            }
            if (state == State.WAITING) {
                readsWithoutData = read > before ? 0 : readsWithoutData + 1;
                if (readsWithoutData > MAX_READS_WITHOUT_DATA && exchange.getRequestContentLength() < 0) {
                    LOG.debug("http: closed a connection whose chunked body went on with framing and no data");
                    failed(null);
                    IoUtils.safeClose(exchange.getConnection());
                }
                return;
            }
            channel.getReadSetter().set(null);
            channel.suspendReads();
            if (state == State.WHOLE) {
                handOn();
                Connectors.executeRootHandler(next, exchange);
            } else {
                refuse(exchange, channel, -1);
            }
        }

        /** The body could not be read (the client went away, or its chunked framing is broken): gives up on it. */
        private void failed(IOException e) {
            if (e != null) {
                LOG.debug("http: reading a request body failed", e);
            }
            release();
            channel.getReadSetter().set(null);
            channel.suspendReads();
        }

        /** Reads what has arrived; past the limit, drops the buffers. */
        private State readSome() throws IOException {
            while (true) {
                if (current == null) {
                    current = exchange.getConnection().getByteBufferPool().allocate();
                    if (buffers == null) {
                        buffers = new PooledByteBuffer[limit / current.getBuffer().capacity() + 2];
                    }
                }
                ByteBuffer b = current.getBuffer();
                int n = channel.read(b);
                if (n == -1) {
                    return State.WHOLE;
                }
                if (n == 0) {
                    return State.WAITING;
                }
                read += n;
                if (read > limit) {
                    release();
                    return State.TOO_LARGE;
                }
                if (!b.hasRemaining()) {
                    b.flip();
                    buffers[filled++] = current;
                    current = null;
                }
            }
        }

        /** Gives the body back to the exchange, to be read from its buffers by whoever reads the request. */
        private void handOn() {
            if (current != null) {
                if (current.getBuffer().position() == 0) {
                    current.close();
                } else {
                    current.getBuffer().flip();
                    buffers[filled++] = current;
                }
                current = null;
            }
            if (filled > 0) {
                Connectors.ungetRequestBytes(exchange, Arrays.copyOf(buffers, filled));
                Connectors.resetRequestChannel(exchange);
            }
            buffers = null;
            filled = 0;
        }

        private void release() {
            if (current != null) {
                current.close();
                current = null;
            }
            if (buffers != null) {
                for (int i = 0; i < filled; i++) {
                    buffers[i].close();
                }
                buffers = null;
                filled = 0;
            }
        }
    }

    private enum State { WHOLE, WAITING, TOO_LARGE }

    /**
     * Answers {@code 413} and closes the connection after it: at once if the body is not coming (its sender waits for a
     * {@code 100 Continue}) or is declared over the drop limit; else once the rest has been read and dropped.
     *
     * @param channel the request's channel if it is being read, else null
     * @param declared the body's declared length, or -1 if it is chunked
     */
    private void refuse(HttpServerExchange exchange, StreamSourceChannel channel, long declared) {
        refused.accept(exchange, StatusCodes.REQUEST_ENTITY_TOO_LARGE);
        boolean dropped = declared <= dropLimit && !HttpContinue.requiresContinueResponse(exchange);
        answer(exchange, StatusCodes.REQUEST_ENTITY_TOO_LARGE, Json.problem("body too large", 413, "the body may be at"
                + " most " + limit + " bytes" + (declared > 0 ? ", was " + declared : "")), flushed -> {
                    if (dropped) {
                        // Answered: a stop need not wait for the drop, which is bounded by its own deadline and
                        // read only so that the client gets its 413 rather than a reset (a stop's close cuts it).
                        AnsweredBeforeClosing.answeredWhole(flushed);
                        flushed.putAttachment(DROPPING, Boolean.TRUE);
                        dropRest(flushed, channel != null ? channel : flushed.getRequestChannel());
                    } else {
                        flushed.endExchange(); // closes the connection, the body unread
                    }
                });
    }

    /**
     * @param exchange a request
     * @return whether its {@code 413} has gone out whole and the rest of its body is being read and dropped (on its
     *     connection's I/O thread, where that is said)
     */
    static boolean dropping(HttpServerExchange exchange) {
        return exchange.getAttachment(DROPPING) != null;
    }

    /**
     * Answers {@code 400} to a request whose body could not be read, if its connection is still open, then closes it:
     * nothing after the body can be read. That is a body that ended before its {@code Content-Length} (its sender shut
     * its side), which got a bare {@code 500} from Undertow, or no answer. A chunked body whose framing is broken, or
     * that ends before its last chunk, gets none: Undertow's chunked decoding closes the connection itself as it fails
     * ({@code ChunkedStreamSourceConduit.read}), before the failure reaches here. A client that is gone gets nothing
     * either: the write fails, and the connection is closed all the same.
     */
    private void unreadable(HttpServerExchange exchange) {
        if (!exchange.getConnection().isOpen()) {
            return; // closed by Undertow as the read failed, at a body deadline, or by the client: no one to answer
        }
        refused.accept(exchange, StatusCodes.BAD_REQUEST);
        answer(exchange, StatusCodes.BAD_REQUEST, Json.problem("unreadable body", 400, "the body could not be read: it"
                + " ended before its length"), flushed -> IoUtils.safeClose(flushed.getConnection()));
    }

    /**
     * Sends a problem with {@code Connection: close}, and once it is flushed whole (so that closing the connection cannot
     * cut it) hands the exchange to {@code flushed}, on the I/O thread; a client gone before that has its connection
     * closed.
     */
    private static void answer(HttpServerExchange exchange, int status, byte[] problem,
            java.util.function.Consumer<HttpServerExchange> flushed) {
        exchange.setStatusCode(status);
        exchange.getResponseHeaders().put(Headers.CONTENT_TYPE, "application/problem+json");
        exchange.getResponseHeaders().put(Headers.CACHE_CONTROL, "no-store");
        exchange.getResponseHeaders().put(Headers.X_CONTENT_TYPE_OPTIONS, "nosniff");
        exchange.getResponseHeaders().put(Headers.CONNECTION, "close");
        exchange.setResponseContentLength(problem.length);
        IoCallback closeIfGone = new IoCallback() {
            @Override
            public void onComplete(HttpServerExchange done, Sender unused) {
                flushed.accept(done);
            }

            @Override
            public void onException(HttpServerExchange failed, Sender unused, IOException e) {
                IoUtils.safeClose(failed.getConnection()); // the client went away before its answer
            }
        };
        exchange.getResponseSender().send(ByteBuffer.wrap(problem), new IoCallback() {
            @Override
            public void onComplete(HttpServerExchange answered, Sender sender) {
                sender.close(closeIfGone);
            }

            @Override
            public void onException(HttpServerExchange failed, Sender unused, IOException e) {
                closeIfGone.onException(failed, unused, e);
            }
        });
    }

    /** Reads and drops the rest of the body; once it has all arrived, the exchange ends and the connection closes. */
    private void dropRest(HttpServerExchange exchange, StreamSourceChannel channel) {
        if (channel == null) {
            exchange.endExchange();
            return;
        }
        XnioExecutor.Key deadline = exchange.getIoThread().executeAfter(
                () -> IoUtils.safeClose(exchange.getConnection()), dropDeadline.toMillis(), TimeUnit.MILLISECONDS);
        boolean chunked = exchange.getRequestContentLength() < 0;
        ChannelListener<StreamSourceChannel> dropping = new ChannelListener<>() {
            private long left = dropLimit;
            /** Reads in a row that gave no byte of the body (see {@link #MAX_READS_WITHOUT_DATA}). */
            private int readsWithoutData;

            @Override
            public void handleEvent(StreamSourceChannel in) {
                try {
                    long before = left;
                    while (true) {
                        long n = Channels.drain(in, left + 1);
                        if (n == -1) {
                            deadline.remove();
                            in.getReadSetter().set(null);
                            in.suspendReads();
                            exchange.endExchange();
                            return;
                        }
                        if (n == 0) {
                            readsWithoutData = left < before ? 0 : readsWithoutData + 1;
                            if (chunked && readsWithoutData > MAX_READS_WITHOUT_DATA) { // a trailer without end
                                deadline.remove();
                                IoUtils.safeClose(exchange.getConnection());
                                return;
                            }
                            in.resumeReads();
                            return;
                        }
                        left -= n;
                        if (left < 0) {
                            deadline.remove();
                            IoUtils.safeClose(exchange.getConnection()); // more than is worth reading for a 413
                            return;
                        }
                    }
                } catch (IOException e) {
                    deadline.remove();
                    IoUtils.safeClose(exchange.getConnection());
                }
            }
        };
        channel.getReadSetter().set(dropping);
        dropping.handleEvent(channel);
    }
}
