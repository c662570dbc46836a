package dev.flags.benchmarks.client;

import dev.flags.core.Flag;
import dev.flags.core.FlagFormat;
import dev.flags.core.FlagSet;
import dev.flags.core.User;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
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
 * Not thread-safe (one instance per benchmark thread). {@code isEnabled} against large lists of user ids: a flag
 * whose individual targets name {@code size} users (at most 10,000, the format's limit), and a flag whose rule needs
 * a role granted to {@code size} users, each asked for a user in the list and one not in it. Ids of the form {@code user-%d} have hash codes that
 * run in sequence, which degraded {@code Set.copyOf} and {@code Map.copyOf} at some sizes (figures:
 * {@code docs/BENCHMARKS.md}).
 *
 * <pre>{@code
 * java -jar benchmarks/target/benchmarks.jar 'dev\.flags\.benchmarks\.client\.LargeListBenchmark' -f 1 -wi 3 -w 1s -i 5 -r 1s
 * }</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class LargeListBenchmark {

    /** Users in each list. */
    @Param({"10000", "14700", "50000"})
    public int size;

    /** How the ids look. */
    @Param({"user-%d", "user-%07d@example.com"})
    public String idFormat;

    private FlagSet flags;
    private User listed;
    private User unlisted;

    /** Builds both flags and checks their answers. */
    @Setup(Level.Trial)
    public void setUp() {
        List<String> ids = IntStream.range(0, size).mapToObj(i -> String.format(idFormat, i)).toList();
        String quoted = ids.stream().limit(10_000).map(id -> "\"" + id + "\"").collect(Collectors.joining(","));
        Flag targeted = FlagFormat.readFlag("{\"key\": \"targeted\", \"enabled\": true, \"targets\": [{\"userIds\": ["
                + quoted + "]}]}");
        Flag byRole = FlagFormat.readFlag("{\"key\": \"by-role\", \"enabled\": true, \"rules\": [{\"name\": \"testers\","
                + " \"conditions\": [{\"roles\": [\"beta-tester\"]}]}]}");
        flags = FlagSet.of(List.of(targeted, byRole), Map.of("beta-tester", java.util.Set.copyOf(ids)), 1);
        listed = User.withId(ids.get(Math.min(size, 10_000) / 2));
        unlisted = User.withId(String.format(idFormat, size + size / 3));
        if (!targetedListed() || targetedUnlisted() || !roleListed() || roleUnlisted()) {
            throw new IllegalStateException("wrong answers");
        }
    }

    /** @return true: the user is a target */
    @Benchmark
    public boolean targetedListed() {
        return flags.isEnabled("targeted", listed);
    }

    /** @return false: the user is not a target */
    @Benchmark
    public boolean targetedUnlisted() {
        return flags.isEnabled("targeted", unlisted);
    }

    /** @return true: the user holds the role */
    @Benchmark
    public boolean roleListed() {
        return flags.isEnabled("by-role", listed);
    }

    /** @return false: the user does not hold the role */
    @Benchmark
    public boolean roleUnlisted() {
        return flags.isEnabled("by-role", unlisted);
    }
}
