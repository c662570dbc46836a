package dev.flags.benchmarks.client;

import dev.flags.benchmarks.eval.UserPool;
import dev.flags.client.Flags;
import dev.flags.core.User;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Not thread-safe (one instance per benchmark thread). {@code flags.isEnabled(key, user)} of a key the
 * SDK does not have: what code that asks for a flag nobody created (or one archived) pays on every call.
 * With a server, the SDK records such keys for its usage report (a lookup in a bounded map, once the key
 * is in it); offline it records nothing. So: {@code offline*} is the SDK of {@link FacadeFixture} (offline
 * file), {@code reporting*} an SDK built for a server ({@code target(..)}, usage reports on) whose server
 * is not there, so that it has no flags and every key is unknown; the recording is the same either way.
 *
 * <pre>{@code
 * java -jar benchmarks/target/benchmarks.jar 'dev\.flags\.benchmarks\.client\.UnknownKeyBenchmark' -f 1 -wi 3 -w 1s -i 5 -r 1s -prof gc
 * }</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class UnknownKeyBenchmark {

    /** More distinct keys than the SDK keeps between reports (1,000): past the bound, a key is only looked up. */
    private static final int MANY = 4_096;

    /** Thread-safe. The two SDKs, built once per trial. */
    @State(Scope.Benchmark)
    public static class Sdks {
        FacadeFixture offline;
        Flags reporting;
        User[] users;
        String[] keys;

        /** Starts both; the reporting one points at a port that was free a moment ago (nothing listens). */
        @Setup(Level.Trial)
        public void start() {
            offline = FacadeFixture.start();
            users = offline.users();
            int port;
            try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                port = socket.getLocalPort();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            reporting = Flags.builder().target("127.0.0.1:" + port).plaintext().sdkToken("flg_benchmark-token-0123456789")
                    .environment("production").application("benchmark").build();
            if (reporting.isEnabled("s1-everyone", users[0])) {
                throw new IllegalStateException("the reporting SDK has flags: it must have none for this benchmark");
            }
            keys = new String[MANY];
            for (int i = 0; i < MANY; i++) {
                keys[i] = "no-such-flag-" + i;
            }
        }

        /** Closes both. */
        @TearDown(Level.Trial)
        public void stop() {
            reporting.close();
            offline.close();
        }
    }

    private int next;

    /** One unknown key, offline: nothing recorded. */
    @Benchmark
    public boolean offlineOneKey(Sdks sdks) {
        return sdks.offline.flags().isEnabled("no-such-flag", sdks.users[next++ & UserPool.MASK]);
    }

    /** One unknown key, with reports: recorded the first time, then found recorded. */
    @Benchmark
    public boolean reportingOneKey(Sdks sdks) {
        return sdks.reporting.isEnabled("no-such-flag", sdks.users[next++ & UserPool.MASK]);
    }

    /** 4,096 unknown keys in turn, offline. */
    @Benchmark
    public boolean offlineManyKeys(Sdks sdks) {
        int i = next++;
        return sdks.offline.flags().isEnabled(sdks.keys[i & (MANY - 1)], sdks.users[i & UserPool.MASK]);
    }

    /** 4,096 unknown keys in turn, with reports: 1,000 kept, the rest looked up and left out. */
    @Benchmark
    public boolean reportingManyKeys(Sdks sdks) {
        int i = next++;
        return sdks.reporting.isEnabled(sdks.keys[i & (MANY - 1)], sdks.users[i & UserPool.MASK]);
    }
}
