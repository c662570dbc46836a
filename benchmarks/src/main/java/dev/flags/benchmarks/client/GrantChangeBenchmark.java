package dev.flags.benchmarks.client;

import dev.flags.core.Flag;
import dev.flags.core.FlagFormat;
import dev.flags.core.FlagSet;
import dev.flags.core.User;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
 * Not thread-safe (one instance per benchmark thread). What an SDK pays to apply one grant to the snapshot it
 * holds, with {@code grants} users holding role {@code beta-tester}: as a member change ({@link
 * FlagSet#withRoleChanges}: the one user, what an SDK of this release is sent) and as the role's complete new
 * member list ({@link FlagSet#withRoleGrants} after replacing the role's members, as an SDK applied it before).
 * Figures: {@code docs/BENCHMARKS-server.md}.
 *
 * <pre>{@code
 * java -jar benchmarks/target/benchmarks.jar 'dev\.flags\.benchmarks\.client\.GrantChangeBenchmark' -f 1 -wi 3 -w 1s -i 5 -r 1s
 * }</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class GrantChangeBenchmark {

    private static final String ROLE = "beta-tester";

    /** Users holding the role before the grant. */
    @Param({"1000", "10000", "50000"})
    public int grants;

    /**
     * How the users' ids look: {@code user-%d} gives ids whose hash codes run in sequence, which is what degraded
     * {@code Set.copyOf}'s open addressing at some sizes (14,700 members: docs/BENCHMARKS-server.md).
     */
    @Param({"user-%07d@example.com"})
    public String idFormat;

    private FlagSet held;
    private List<String> members;

    /** Builds the snapshot and checks that both ways give the same grants. */
    @Setup(Level.Trial)
    public void setUp() {
        Flag flag = FlagFormat.readFlag("{\"key\": \"billing-v2\", \"enabled\": true, \"rules\": [{\"name\": \"testers\","
                + " \"conditions\": [{\"roles\": [\"" + ROLE + "\"]}]}]}");
        Set<String> users = new HashSet<>();
        for (int u = 0; u < grants; u++) {
            users.add(String.format(idFormat, u));
        }
        held = FlagSet.of(List.of(flag), Map.of(ROLE, users), 1);
        users.add("new-tester@example.com");
        members = List.copyOf(users);
        FlagSet changed = memberChange();
        if (!changed.roleGrants().equals(wholeList().roleGrants())
                || !changed.isEnabled("billing-v2", User.withId("new-tester@example.com"))) {
            throw new IllegalStateException("the two ways of applying a grant disagree");
        }
    }

    /** @return the snapshot after the grant, applied as the one user that got the role */
    @Benchmark
    public FlagSet memberChange() {
        return held.withRoleChanges(Map.of(ROLE, List.of("new-tester@example.com")), Map.of(), 2);
    }

    /** @return the snapshot after the grant, applied as the role's complete new member list */
    @Benchmark
    public FlagSet wholeList() {
        Map<String, Set<String>> roleGrants = new HashMap<>(held.roleGrants());
        roleGrants.put(ROLE, Set.copyOf(members));
        return held.withRoleGrants(roleGrants, 2);
    }
}
