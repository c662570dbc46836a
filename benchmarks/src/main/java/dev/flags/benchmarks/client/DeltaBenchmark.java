package dev.flags.benchmarks.client;

import dev.flags.core.Flag;
import dev.flags.core.FlagFormat;
import dev.flags.core.FlagSet;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Not thread-safe (one instance per benchmark thread). What an SDK pays to apply the usual Delta, one
 * changed flag, to the snapshot it holds: {@link FlagSet#withChanges} (validate and compile the flag,
 * copy the set with it), in environments of 1, 100 and 1,000 flags. Every SDK of a fleet does this
 * once per change, so its garbage is every application's.
 *
 * <p>The changed flag alternates between two documents, {@code enabled} true and false, as in the
 * propagation benchmark; the other flags are plain switches. Before timing, the setup checks that the
 * new set has the flag's new value and the environment's size.
 *
 * <pre>{@code
 * java -jar benchmarks/target/benchmarks.jar 'dev\.flags\.benchmarks\.client\.DeltaBenchmark' -prof gc
 * }</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class DeltaBenchmark {

    /** Flags in the environment, the changed one included. */
    @Param({"1", "100", "1000"})
    public int flags;

    private FlagSet held;
    private final Flag[] changed = new Flag[2];
    private int next;

    /** Builds the environment and checks that a delta applies. */
    @Setup(Level.Trial)
    public void setUp() {
        List<Flag> all = new ArrayList<>();
        for (int i = 1; i < flags; i++) {
            all.add(FlagFormat.readFlag("{\"key\": \"switch-" + i + "\", \"enabled\": true, \"default\": true}"));
        }
        changed[0] = FlagFormat.readFlag("{\"key\": \"propagation\", \"enabled\": false, \"default\": true}");
        changed[1] = FlagFormat.readFlag("{\"key\": \"propagation\", \"enabled\": true, \"default\": true}");
        all.add(changed[1]);
        held = FlagSet.of(all, Map.of(), 1);
        FlagSet after = held.withChanges(List.of(changed[0]), List.of(), 2);
        if (after.size() != flags || after.flag("propagation").orElseThrow().enabled()
                || after.version() != 2) {
            throw new IllegalStateException("the delta did not apply: " + after);
        }
    }

    /** @return the new set, with one flag changed */
    @Benchmark
    public FlagSet applyOneFlagDelta() {
        return held.withChanges(List.of(changed[next++ & 1]), List.of(), 2);
    }
}
