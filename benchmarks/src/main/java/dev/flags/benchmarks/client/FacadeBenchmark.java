package dev.flags.benchmarks.client;

import dev.flags.benchmarks.eval.Checks;
import dev.flags.benchmarks.eval.UserPool;
import dev.flags.client.Flags;
import dev.flags.core.FlagSet;
import dev.flags.core.User;
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
 * Not thread-safe (one instance per benchmark thread). {@code flags.isEnabled(key, user)} through the
 * SDK's {@link Flags} facade ({@code facade*}) beside the bare {@link FlagSet} of flags-core
 * ({@code bare*}), in the same run, fork and JVM: the six scenarios and 1,024 users of
 * {@code dev.flags.benchmarks.eval.OursBenchmark}.
 *
 * <p>The facade is built with {@code Flags.builder().offlineFile(..)} from the evaluation benchmark's
 * flag file; its hot path is the same as with a live server (one volatile read of the current
 * snapshot, then the evaluator), only the snapshot's source differs. Before timing, both answer every
 * user in every scenario twice and must match the expected answers ({@link Checks}).
 *
 * <pre>{@code
 * java -jar benchmarks/target/benchmarks.jar 'dev\.flags\.benchmarks\.client\.FacadeBenchmark' -prof gc
 * }</pre>
 */
@State(Scope.Thread)
public abstract class FacadeBenchmark {

    /** Thread-safe. The facade and the bare evaluator, started and checked once per trial. */
    @State(Scope.Benchmark)
    public static class Sdk {

        Flags flags;
        FlagSet bare;
        User[] users;
        private FacadeFixture fixture;

        /** Starts the SDK offline and checks all answers of both before anything is timed. */
        @Setup(Level.Trial)
        public void start() {
            fixture = FacadeFixture.start();
            try {
                Checks.verify(fixture);
                Checks.verify(fixture.bare());
            } catch (RuntimeException e) {
                fixture.close();
                throw e;
            }
            flags = fixture.flags();
            bare = fixture.bare().flags();
            users = fixture.users();
        }

        /** Closes the SDK. */
        @TearDown(Level.Trial)
        public void stop() {
            fixture.close();
        }
    }

    private int next;

    /** S1 through the facade: a flag on for everyone. */
    @Benchmark
    public boolean facadeS1Everyone(Sdk sdk) {
        return sdk.flags.isEnabled("s1-everyone", sdk.users[next++ & UserPool.MASK]);
    }

    /** S1, bare evaluator. */
    @Benchmark
    public boolean bareS1Everyone(Sdk sdk) {
        return sdk.bare.isEnabled("s1-everyone", sdk.users[next++ & UserPool.MASK]);
    }

    /** S2 through the facade: a 50% rollout over 1,024 users. */
    @Benchmark
    public boolean facadeS2Rollout50(Sdk sdk) {
        return sdk.flags.isEnabled("s2-half", sdk.users[next++ & UserPool.MASK]);
    }

    /** S2, bare evaluator. */
    @Benchmark
    public boolean bareS2Rollout50(Sdk sdk) {
        return sdk.bare.isEnabled("s2-half", sdk.users[next++ & UserPool.MASK]);
    }

    /** S3 through the facade: on for role beta-tester. */
    @Benchmark
    public boolean facadeS3Role(Sdk sdk) {
        return sdk.flags.isEnabled("s3-beta", sdk.users[next++ & UserPool.MASK]);
    }

    /** S3, bare evaluator. */
    @Benchmark
    public boolean bareS3Role(Sdk sdk) {
        return sdk.bare.isEnabled("s3-beta", sdk.users[next++ & UserPool.MASK]);
    }

    /** S4 through the facade: on for region eu-west or eu-north. */
    @Benchmark
    public boolean facadeS4Region(Sdk sdk) {
        return sdk.flags.isEnabled("s4-eu", sdk.users[next++ & UserPool.MASK]);
    }

    /** S4, bare evaluator. */
    @Benchmark
    public boolean bareS4Region(Sdk sdk) {
        return sdk.bare.isEnabled("s4-eu", sdk.users[next++ & UserPool.MASK]);
    }

    /** S5 through the facade: ten rules, only the last can match. */
    @Benchmark
    public boolean facadeS5TenRules(Sdk sdk) {
        return sdk.flags.isEnabled("s5-ten-rules", sdk.users[next++ & UserPool.MASK]);
    }

    /** S5, bare evaluator. */
    @Benchmark
    public boolean bareS5TenRules(Sdk sdk) {
        return sdk.bare.isEnabled("s5-ten-rules", sdk.users[next++ & UserPool.MASK]);
    }

    /** S6 through the facade: an unknown flag. */
    @Benchmark
    public boolean facadeS6UnknownFlag(Sdk sdk) {
        return sdk.flags.isEnabled("s6-unknown", sdk.users[next++ & UserPool.MASK]);
    }

    /** S6, bare evaluator. */
    @Benchmark
    public boolean bareS6UnknownFlag(Sdk sdk) {
        return sdk.bare.isEnabled("s6-unknown", sdk.users[next++ & UserPool.MASK]);
    }

    /** Average time per evaluation, one thread. */
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    @Threads(1)
    public static class Latency extends FacadeBenchmark {
    }

    /** Evaluations per second, two threads sharing one client. */
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    @Threads(2)
    public static class Throughput extends FacadeBenchmark {
    }
}
