package dev.flags.core;

import static dev.flags.core.Fixtures.attribute;
import static dev.flags.core.Fixtures.flag;
import static dev.flags.core.Fixtures.percentage;
import static dev.flags.core.Fixtures.regions;
import static dev.flags.core.Fixtures.roles;
import static dev.flags.core.Fixtures.rule;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The hot path allocates nothing: counted with the JVM's per-thread allocation counter, not timed.
 * (Speed is measured by the JMH benchmarks in the benchmarks module.)
 */
class AllocationTest {

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    @Test
    void isEnabledAndEvaluateAllocateNothingInTheBenchmarkScenarios() {
        List<Rule> tenRules = new ArrayList<>();
        for (int i = 1; i < 10; i++) {
            tenRules.add(rule("r" + i, attribute("plan", Operator.IN, "plan-" + i)));
        }
        tenRules.add(rule("r10", attribute("plan", Operator.IN, "pro")));
        Flag variants = new Flag("ab", null, true, null,
                List.of(new Variant("a", 50, null), new Variant("b", 50, null)), List.of(),
                List.of(rule("half", percentage(50))), false, 1);
        FlagSet flags = FlagSet.of(List.of(
                flag("s1", true, rule("all")),
                flag("s2", true, rule("half", percentage(50))),
                flag("s3", true, rule("beta", roles("beta-tester"))),
                flag("s4", true, rule("eu", regions("eu-west", "eu-north"))),
                new Flag("s5", null, true, null, List.of(), List.of(), tenRules, false, 1),
                variants,
                new Flag("by-plan", null, true, null, "plan", List.of(new Variant("a", 50, null), new Variant("b", 50, null)),
                        List.of(), List.of(rule("half", percentage(50))), false, 1),
                // bucketBy an account id given as a long: hashed as its text without building it (QA86)
                new Flag("by-account", null, true, null, "accountId", List.of(new Variant("a", 50, null),
                        new Variant("b", 50, null)), List.of(), List.of(rule("half", percentage(50))), false, 1),
                // The application's version in text, compared without parsing it into objects (QA50b F1).
                flag("min-app", true, rule("new-apps", attribute("appVersion", Operator.SEMVER_GTE, "2.3.0")))),
                Map.of("beta-tester", Set.of("user-3")), 1);
        User[] users = new User[1024];
        for (int i = 0; i < users.length; i++) {
            User u = User.withId("user-" + i).region(i % 2 == 0 ? "eu-west" : "us-east").attribute("plan", "pro")
                    .attribute("accountId", 9_000_000_000L * (i - 512)).attribute("appVersion", i % 4 == 0 ? "2.3.0-rc.1+build.7" : i % 4 == 1 ? "v2.10.1" : "2.2.9");
            users[i] = i % 3 == 0 ? u.roles("beta-tester") : u;
        }
        String[] keys = {"s1", "s2", "s3", "s4", "s5", "s6-unknown", "ab", "by-plan", "by-account", "min-app"}; // by-plan: bucketBy a text attribute

        int sink = run(flags, users, keys); // warm up
        long before = THREADS.getThreadAllocatedBytes(Thread.currentThread().getId());
        sink += run(flags, users, keys);
        long allocated = THREADS.getThreadAllocatedBytes(Thread.currentThread().getId()) - before;

        assertThat(sink).isPositive();
        // 102,400 evaluations; a single allocation per call would be over a megabyte
        assertThat(allocated).as("bytes allocated by 102,400 evaluations").isLessThan(4_096);
    }

    private static int run(FlagSet flags, User[] users, String[] keys) {
        int on = 0;
        for (int round = 0; round < 10; round++) {
            for (User u : users) {
                for (String k : keys) {
                    if (flags.isEnabled(k, u)) {
                        on++;
                    }
                    if (flags.evaluate(k.equals("s6-unknown") ? "s1" : k, u).variant() != null) {
                        on++;
                    }
                }
            }
        }
        return on;
    }
}
