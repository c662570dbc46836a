package dev.flags.client;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Thread-safe. A TEST DOUBLE of a slow network link: a TCP proxy on a loopback port that passes what a
 * server sends to its client at a bounded rate (and what the client sends at full speed), so that a large
 * message takes seconds to arrive, as it does over a slow link; and whose connections can be made to pass
 * nothing, as a stuck proxy's do ({@link #stallConnections}).
 */
final class SlowLink implements AutoCloseable {

    private final ServerSocket listener;
    private final int targetPort;
    private final long bytesPerSecond;
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "slow-link");
        t.setDaemon(true);
        return t;
    });
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    /** The connections that pass nothing any more, either way: a stuck proxy's, or a half-open one's. */
    private final Set<Socket> stuck = ConcurrentHashMap.newKeySet();
    private final AtomicInteger connections = new AtomicInteger();

    private SlowLink(int targetPort, long bytesPerSecond) throws IOException {
        this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.targetPort = targetPort;
        this.bytesPerSecond = bytesPerSecond;
        threads.execute(this::accept);
    }

    /** Starts a link to a loopback port that passes at most {@code bytesPerSecond} towards the client. */
    static SlowLink start(int targetPort, long bytesPerSecond) throws IOException {
        return new SlowLink(targetPort, bytesPerSecond);
    }

    /** The address to give the client instead of the server's. */
    String target() {
        return "127.0.0.1:" + listener.getLocalPort();
    }

    private void accept() {
        while (!listener.isClosed()) {
            try {
                Socket client = listener.accept();
                Socket server = new Socket(InetAddress.getLoopbackAddress(), targetPort);
                client.setTcpNoDelay(true);
                server.setTcpNoDelay(true);
                sockets.add(client);
                sockets.add(server);
                connections.incrementAndGet();
                threads.execute(() -> pump(client, server, Long.MAX_VALUE, client));
                threads.execute(() -> pump(server, client, bytesPerSecond, client));
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    /** How many connections the link has taken. */
    int connections() {
        return connections.get();
    }

    /**
     * Makes every connection taken so far pass nothing more, either way, and end nothing: bytes sent into it are taken
     * and dropped, as a stuck proxy or a peer gone without a word leaves a connection. Later connections pass as before.
     */
    void stallConnections() {
        sockets.forEach(stuck::add);
    }

    /**
     * Copies from one socket to the other, no faster than the rate, unless the connection (named by its client side)
     * is stalled; closes both when either side ends.
     */
    private void pump(Socket from, Socket to, long rate, Socket connection) {
        byte[] buffer = new byte[(int) Math.min(16 * 1024, Math.max(1, rate / 20))];
        long start = System.nanoTime();
        long passed = 0;
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            for (int n; (n = in.read(buffer)) >= 0; ) {
                if (stuck.contains(connection)) {
                    continue; // taken, and dropped
                }
                out.write(buffer, 0, n);
                out.flush();
                passed += n;
                if (rate != Long.MAX_VALUE) {
                    // The link's pace, not a wait for an event: these bytes may not go on before their time.
                    LockSupport.parkNanos(start + passed * 1_000_000_000L / rate - System.nanoTime());
                }
            }
        } catch (IOException e) {
            // one side went away: the other goes too
        } finally {
            closeQuietly(from);
            closeQuietly(to);
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // closing anyway
        }
    }

    @Override
    public void close() throws IOException, InterruptedException {
        listener.close();
        sockets.forEach(SlowLink::closeQuietly);
        threads.shutdownNow();
        threads.awaitTermination(5, TimeUnit.SECONDS);
    }
}
