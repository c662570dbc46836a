package dev.flags.server.sync;

import dev.flags.server.Addresses;
import io.grpc.netty.shaded.io.netty.channel.Channel;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandler;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.channel.ChannelInboundHandlerAdapter;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.time.Clock;
import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Thread-safe. The gRPC port's connections, from the moment the port accepts one until it closes: counts them, and
 * closes at once one that would take the port over its limits, before a byte of TLS or HTTP/2 is read from it.
 *
 * <p>Each connection holds a file descriptor whether or not it ever makes a call, and one that keeps a call open (an
 * SDK's stream, or a client that starts a call and never finishes it) is never idle, so idleness alone cannot bound
 * them: without a cap, enough of them used up the process's descriptors, and with them the HTTP API, the health checks
 * and the journal's next segment. The total cap keeps descriptors for the rest of the server; the optional cap per
 * client address keeps one client from taking all of the total (IPv6 addresses count by their /64 network, what one
 * host is usually given).
 *
 * <p>This is a handler of the port's listening channel: Netty hands it each accepted connection (as a message) before
 * gRPC sees it. The accepts run on one thread, the closes on the connections' own.
 */
@ChannelHandler.Sharable
public final class GrpcConnections extends ChannelInboundHandlerAdapter {

    private static final long LOG_WINDOW_MILLIS = 60_000;

    private final int maxConnections;
    private final int maxPerAddress;
    private final Clock clock;
    private final Consumer<String> log;
    private final AtomicInteger open = new AtomicInteger();
    /** Open connections by client address (or IPv6 /64); empty when there is no cap per address. */
    private final ConcurrentHashMap<InetAddress, Integer> openByAddress = new ConcurrentHashMap<>();
    private final AtomicLong refused = new AtomicLong();
    /** Open connections by the client's address and port, for {@link #close}. */
    private final ConcurrentHashMap<SocketAddress, Open> byClient = new ConcurrentHashMap<>();
    private final AtomicLong untrustedClosed = new AtomicLong();

    /**
     * Thread-safe. An open connection: when it was accepted, when a call on it last presented a token the server knows,
     * and whether a call was refused for its token since.
     */
    private static final class Open {
        final Channel channel;
        final long acceptedNanos = System.nanoTime();
        volatile long lastTrustedNanos = acceptedNanos;
        volatile boolean refusedSinceTrusted;

        Open(Channel channel) {
            this.channel = channel;
        }
    }
    private long lastLogged = Long.MIN_VALUE;
    private long refusedSinceLogged;

    /**
     * @param maxConnections how many connections the port may have open at once, at least 1
     * @param maxPerAddress how many of them one client address may have, or 0 for no cap per address
     * @param clock what "now" is, for the log's once-a-minute lines
     * @param log where a refusal is told (a WARN of the server's log): the first of a minute at once, with the ones
     *            refused since the last line counted in it
     */
    public GrpcConnections(int maxConnections, int maxPerAddress, Clock clock, Consumer<String> log) {
        if (maxConnections < 1 || maxPerAddress < 0) {
            throw new IllegalArgumentException("limits " + maxConnections + ", " + maxPerAddress);
        }
        this.maxConnections = maxConnections;
        this.maxPerAddress = maxPerAddress;
        this.clock = clock;
        this.log = log;
    }

    @Override
    public void channelRead(ChannelHandlerContext context, Object message) {
        if (!(message instanceof Channel connection)) {
            context.fireChannelRead(message);
            return;
        }
        InetAddress from = clientOf(connection.remoteAddress());
        String refusal = admit(from);
        if (refusal != null) {
            // Not yet registered with an event loop: closed here, on the accepting thread, as Netty's own acceptor
            // closes one it cannot register. The client sees its connection closed and retries later (an SDK backs off).
            connection.unsafe().closeForcibly();
            refused(connection.remoteAddress(), refusal);
            return;
        }
        // Released when it closes, whoever closes it. (One that gRPC fails to register, which happens only while
        // the port is stopping, is closed without this future completing: its count is then moot.)
        SocketAddress client = connection.remoteAddress();
        Open open = new Open(connection);
        if (client != null) {
            byClient.put(client, open);
        }
        connection.closeFuture().addListener(closed -> {
            release(from);
            if (client != null) {
                byClient.remove(client, open);
            }
        });
        context.fireChannelRead(connection);
    }

    /** @return null if the connection may stay (and it is counted), else why not */
    private String admit(InetAddress from) {
        while (true) {
            int now = open.get();
            if (now >= maxConnections) {
                return connections(now) + " open, the most --grpc-max-connections allows";
            }
            if (open.compareAndSet(now, now + 1)) {
                break;
            }
        }
        if (maxPerAddress == 0 || from == null) {
            return null;
        }
        int[] before = new int[1];
        openByAddress.compute(from, (address, count) -> {
            before[0] = count == null ? 0 : count;
            return before[0] >= maxPerAddress ? count : Integer.valueOf(before[0] + 1);
        });
        if (before[0] >= maxPerAddress) {
            open.decrementAndGet();
            return connections(before[0]) + " open from this " + (from instanceof Inet6Address ? "address's /64 network" : "address")
                    + ", the most --grpc-max-connections-per-address allows";
        }
        return null;
    }

    private void release(InetAddress from) {
        open.decrementAndGet();
        if (maxPerAddress > 0 && from != null) {
            openByAddress.computeIfPresent(from, (address, count) -> count == 1 ? null : Integer.valueOf(count - 1));
        }
    }

    private void refused(SocketAddress remote, String why) {
        refused.incrementAndGet();
        long earlier;
        synchronized (this) {
            long now = clock.millis();
            if (lastLogged != Long.MIN_VALUE && now - lastLogged < LOG_WINDOW_MILLIS) {
                refusedSinceLogged++;
                return;
            }
            lastLogged = now;
            earlier = refusedSinceLogged;
            refusedSinceLogged = 0;
        }
        String from = Addresses.text(remote);
        log.accept("gRPC port: refused a connection from " + from
                + ": " + why + (earlier == 0 ? "" : " (" + earlier + " more refused since the last such line)")
                + "; more within a minute are counted in flags_grpc_connections_refused_total, not logged one by one."
                + " Clients that hold connections open (SDK instances, or someone holding the port) should be limited"
                + " in front of the server, or the limit raised with the process's open-file limit (ulimit -Hn)");
    }

    private static String connections(int count) {
        return count == 1 ? "1 connection is" : count + " connections are";
    }

    /** The client a cap per address counts: its IPv4 address, or its IPv6 /64 network. */
    static InetAddress clientOf(SocketAddress remote) {
        if (!(remote instanceof InetSocketAddress socket) || socket.getAddress() == null) {
            return null;
        }
        InetAddress address = socket.getAddress();
        if (address instanceof Inet6Address) {
            byte[] network = Arrays.copyOf(address.getAddress(), 16);
            Arrays.fill(network, 8, 16, (byte) 0);
            try {
                return InetAddress.getByAddress(network);
            } catch (UnknownHostException impossible) { // 16 bytes are always an address
                throw new IllegalStateException(impossible);
            }
        }
        return address;
    }

    /**
     * Closes the connection from a client address and port, whatever its calls have written that the client has not
     * read: see {@link CallCut}.
     *
     * @param client the connection's remote address, as gRPC gives it to its calls
     * @return false if no connection from there is open
     */
    public boolean close(SocketAddress client) {
        Open open = byClient.get(client);
        if (open == null) {
            return false;
        }
        Channel connection = open.channel;
        // Not connection.close(): gRPC's HTTP/2 handler turns that into a graceful shutdown (a GOAWAY, then a wait for
        // the connection's streams to end), which waits on the very stream that does not read. Closed under the
        // handlers, as Netty closes a connection that failed: what was queued for it is released, and gRPC's handler
        // hears the connection is gone and fails its calls.
        try {
            connection.eventLoop().execute(() -> connection.unsafe().close(connection.unsafe().voidPromise()));
        } catch (java.util.concurrent.RejectedExecutionException stopping) {
            return false; // the port's event loops are stopping: they close every connection themselves
        }
        return true;
    }

    /**
     * Notes that a call on the connection from a client address and port presented a token the server knows.
     *
     * @param client the connection's remote address, as gRPC gives it to its calls
     */
    public void trusted(SocketAddress client) {
        Open open = client == null ? null : byClient.get(client);
        if (open != null) {
            open.lastTrustedNanos = System.nanoTime();
            open.refusedSinceTrusted = false;
        }
    }

    /**
     * Notes that a call on the connection from a client address and port was refused for its token.
     *
     * @param client the connection's remote address, as gRPC gives it to its calls
     */
    public void refusedCall(SocketAddress client) {
        Open open = client == null ? null : byClient.get(client);
        if (open != null && !open.refusedSinceTrusted) {
            open.refusedSinceTrusted = true;
        }
    }

    /**
     * Closes the connections whose calls were all refused for their token for longer than {@code age}: since they were
     * accepted, or since a call last presented a token the server knows (a token revoked, or expired, while its SDK kept
     * running). A client that keeps making such calls is never idle, and would otherwise hold its connection, and a place
     * under the port's cap, for good (QA61 F3, QA62 F1). One that makes no call is left to the idle limit, which closes it
     * gracefully.
     *
     * @param age how long a connection may go without a known token (the port's idle limit)
     * @return how many were closed now
     */
    public int closeUntrusted(java.time.Duration age) {
        long now = System.nanoTime();
        int closed = 0;
        for (java.util.Map.Entry<SocketAddress, Open> e : byClient.entrySet()) {
            Open open = e.getValue();
            if (open.refusedSinceTrusted && now - open.lastTrustedNanos > age.toNanos() && close(e.getKey())) {
                closed++;
            }
        }
        untrustedClosed.addAndGet(closed);
        return closed;
    }

    /** @return the connections closed since the server started because their calls were all refused for their token */
    public long untrustedClosed() {
        return untrustedClosed.get();
    }

    /** @return the connections open now, from accept to close, handshake done or not */
    public long open() {
        return open.get();
    }

    /** @return the connections closed at accept for a limit, since the server started */
    public long refused() {
        return refused.get();
    }

    /** @return how many connections the port may have open at once */
    public int maxConnections() {
        return maxConnections;
    }

    /** @return how many connections one client address (IPv6: /64 network) may have open, or 0 for no cap */
    public int maxPerAddress() {
        return maxPerAddress;
    }
}
