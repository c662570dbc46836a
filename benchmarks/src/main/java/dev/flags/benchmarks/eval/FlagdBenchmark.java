package dev.flags.benchmarks.eval;

import dev.openfeature.sdk.Client;
import dev.openfeature.sdk.EvaluationContext;
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
import org.openjdk.jmh.annotations.Threads;

/**
 * Not thread-safe (one instance per benchmark thread). flagd's in-process provider through an OpenFeature client: {@code client.getBooleanValue(key, false, context)}.
 *
 * <p>Each method evaluates one scenario for the next user of the pool (cycling through all 1,024)
 * and returns the answer, so nothing is dead code. Run through {@link Latency} (average time, one
 * thread) and {@link Throughput} (operations per second, two threads sharing one client).
 */
@State(Scope.Thread)
public abstract class FlagdBenchmark {

    /** Thread-safe. The implementation, started and checked once per trial, shared by the threads. */
    @State(Scope.Benchmark)
    public static class Sdk {

        Client client;
        EvaluationContext[] users;
        private FlagdFixture fixture;

        /** Starts the implementation and checks all its answers before anything is timed. */
        @Setup(Level.Trial)
        public void start() {
            fixture = FlagdFixture.start();
            try {
                Checks.verify(fixture);
            } catch (RuntimeException e) {
                fixture.close();
                throw e;
            }
            client = fixture.client();
            users = fixture.users();
        }

        /** Stops the implementation. */
        @TearDown(Level.Trial)
        public void stop() {
            fixture.close();
        }
    }

    private int next;

    /** S1: a flag on for everyone. */
    @Benchmark
    public boolean s1Everyone(Sdk sdk) {
        return sdk.client.getBooleanValue("s1-everyone", false, sdk.users[next++ & UserPool.MASK]);
    }

    /** S2: a 50% rollout over 1,024 users. */
    @Benchmark
    public boolean s2Rollout50(Sdk sdk) {
        return sdk.client.getBooleanValue("s2-half", false, sdk.users[next++ & UserPool.MASK]);
    }

    /** S3: on for role beta-tester. */
    @Benchmark
    public boolean s3Role(Sdk sdk) {
        return sdk.client.getBooleanValue("s3-beta", false, sdk.users[next++ & UserPool.MASK]);
    }

    /** S4: on for region eu-west or eu-north. */
    @Benchmark
    public boolean s4Region(Sdk sdk) {
        return sdk.client.getBooleanValue("s4-eu", false, sdk.users[next++ & UserPool.MASK]);
    }

    /** S5: ten rules, only the last can match. */
    @Benchmark
    public boolean s5TenRules(Sdk sdk) {
        return sdk.client.getBooleanValue("s5-ten-rules", false, sdk.users[next++ & UserPool.MASK]);
    }

    /** S6: an unknown flag. */
    @Benchmark
    public boolean s6UnknownFlag(Sdk sdk) {
        return sdk.client.getBooleanValue("s6-unknown", false, sdk.users[next++ & UserPool.MASK]);
    }

    /** Average time per evaluation, one thread. */
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    @Threads(1)
    public static class Latency extends FlagdBenchmark {
    }

    /** Evaluations per second, two threads sharing one client. */
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    @Threads(2)
    public static class Throughput extends FlagdBenchmark {
    }
}
