package dev.flags.benchmarks.client;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Arrays;
import java.util.Locale;

/**
 * Not thread-safe (one probe at a time). How fast the host is right now at what the propagation path does per message:
 * a one-byte TCP round trip over loopback between two threads (on each side a system call to send, one to receive, and
 * a thread woken), timed in batches and reported as the median batch's time per round trip.
 *
 * <p>Why: the propagation figures of issue 5 move with the host's phase by a factor of three or more for the same code
 * (docs/BENCHMARKS-client.md), and until now a run's phase could only be read back from the JVMs' CPU per write, which
 * the code itself also moves. This probe runs no code of ours, so a slower reading of it is the host's.
 */
public final class HostProbe {

    /** Round trips before the timed batches: the JIT compiles the loop, the sockets' buffers settle. */
    static final int WARM_UP_ROUND_TRIPS = 2_000;

    private HostProbe() {
    }

    /**
     * One reading.
     *
     * @param medianMicros the median batch's time per round trip, µs
     * @param fastestMicros the fastest batch's, µs
     * @param slowestMicros the slowest batch's, µs
     * @param roundTrips the timed round trips, all batches together
     */
    public record Reading(double medianMicros, double fastestMicros, double slowestMicros, int roundTrips) {

        /** @return one line for a benchmark's output */
        public String line() {
            return String.format(Locale.ROOT, "host probe: loopback TCP round trip of 1 byte between two threads, median"
                    + " batch %.1f µs (batches %.1f–%.1f µs, %,d round trips)", medianMicros, fastestMicros,
                    slowestMicros, roundTrips);
        }
    }

    /**
     * Measures the loopback round trip.
     *
     * @param batches the timed batches, at least 1
     * @param roundTripsPerBatch round trips in each, at least 1
     * @return the reading
     * @throws IllegalArgumentException if a count is below 1
     * @throws UncheckedIOException if loopback sockets cannot be opened or fail
     */
    public static Reading loopbackRoundTrip(int batches, int roundTripsPerBatch) {
        if (batches < 1 || roundTripsPerBatch < 1) {
            throw new IllegalArgumentException("batches and round trips per batch must be at least 1, were " + batches
                    + " and " + roundTripsPerBatch);
        }
        try (ServerSocketChannel listener = ServerSocketChannel.open()) {
            listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            try (SocketChannel client = SocketChannel.open(listener.getLocalAddress());
                 SocketChannel server = listener.accept()) {
                client.setOption(StandardSocketOptions.TCP_NODELAY, true);
                server.setOption(StandardSocketOptions.TCP_NODELAY, true);
                int total = WARM_UP_ROUND_TRIPS + batches * roundTripsPerBatch;
                Thread echo = new Thread(() -> echo(server, total), "host-probe-echo");
                echo.setDaemon(true);
                echo.start();
                ByteBuffer one = ByteBuffer.allocateDirect(1);
                pingPong(client, one, WARM_UP_ROUND_TRIPS);
                double[] micros = new double[batches];
                for (int b = 0; b < batches; b++) {
                    long started = System.nanoTime();
                    pingPong(client, one, roundTripsPerBatch);
                    micros[b] = (System.nanoTime() - started) / 1_000.0 / roundTripsPerBatch;
                }
                echo.join(10_000);
                Arrays.sort(micros);
                return new Reading(micros[batches / 2], micros[0], micros[batches - 1], batches * roundTripsPerBatch);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("the loopback probe failed", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while the loopback probe ended", e);
        }
    }

    private static void pingPong(SocketChannel channel, ByteBuffer one, int roundTrips) throws IOException {
        for (int i = 0; i < roundTrips; i++) {
            one.clear();
            while (one.hasRemaining()) {
                channel.write(one);
            }
            one.clear();
            readOne(channel, one);
        }
    }

    private static void echo(SocketChannel channel, int roundTrips) {
        ByteBuffer one = ByteBuffer.allocateDirect(1);
        try {
            for (int i = 0; i < roundTrips; i++) {
                one.clear();
                readOne(channel, one);
                one.flip();
                while (one.hasRemaining()) {
                    channel.write(one);
                }
            }
        } catch (IOException e) {
            // The timing side sees the socket fail too and reports it.
        }
    }

    private static void readOne(SocketChannel channel, ByteBuffer one) throws IOException {
        while (one.hasRemaining()) {
            if (channel.read(one) < 0) {
                throw new IOException("the other side of the loopback probe closed");
            }
        }
    }

    /**
     * Prints one reading: {@code java -cp benchmarks.jar dev.flags.benchmarks.client.HostProbe}.
     *
     * @param args none
     */
    public static void main(String[] args) {
        System.out.println(loopbackRoundTrip(9, 5_000).line());
    }
}
