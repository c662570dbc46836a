package dev.flags.core;

import static dev.flags.core.Fixtures.attribute;
import static dev.flags.core.Fixtures.flag;
import static dev.flags.core.Fixtures.roles;
import static dev.flags.core.Fixtures.rule;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class UsageMarksTest {

    private static final User TESTER = User.withId("u-1").roles("beta-tester");
    private static final User SOMEONE = User.withId("u-2");

    /** A flag that is on for everyone while enabled (its default is true). */
    private static Flag onForAll(String key, boolean enabled) {
        return new Flag(key, null, enabled, null, List.of(), List.of(), List.of(), true, 1);
    }

    private static FlagSet betaAndSwitch() {
        return FlagSet.of(flag("beta", true, rule("testers", roles("beta-tester"))), onForAll("switch", true),
                onForAll("unused", true));
    }

    @Test
    @DisplayName("a take lists each flag evaluated since the last take with the answers it gave, and clears them")
    void takeListsWhatWasEvaluatedAndClears() {
        FlagSet flags = betaAndSwitch();
        assertThat(flags.takeUsage()).isEmpty();

        flags.isEnabled("beta", TESTER);
        flags.isEnabled("beta", TESTER);
        flags.evaluate("switch", SOMEONE);
        flags.isEnabled("nobody-made-this", TESTER);

        assertThat(flags.takeUsage()).containsExactlyInAnyOrder(
                new FlagUsage("beta", true, false), new FlagUsage("switch", true, false));
        assertThat(flags.takeUsage()).as("taken: nothing left until the next evaluation").isEmpty();

        flags.isEnabled("beta", SOMEONE);
        flags.variant("beta", TESTER);
        assertThat(flags.takeUsage()).containsExactly(new FlagUsage("beta", true, true));
    }

    @Test
    @DisplayName("the answer marked is the one the caller got: a null user or a failing rule marks the default")
    void defaultsAreMarkedAsServed() {
        // A pattern of about a thousand instructions on 20,000 characters: past the evaluation's budget of steps
        FlagSet flags = FlagSet.of(flag("regex", true, rule("r", attribute("bio", Operator.MATCHES, "[a-z]{1000}!"))));
        User breaksTheRule = User.withId("u").attribute("bio", "a".repeat(20_000));

        assertThat(flags.isEnabled("regex", breaksTheRule, true)).isTrue();
        assertThat(flags.takeUsage()).containsExactly(new FlagUsage("regex", true, false));
        assertThat(flags.evaluate("regex", breaksTheRule, false).value()).isFalse();
        assertThat(flags.takeUsage()).containsExactly(new FlagUsage("regex", false, true));
        flags.isEnabled("regex", null, true);
        flags.evaluate("regex", null, false);
        assertThat(flags.takeUsage()).containsExactly(new FlagUsage("regex", true, true));
    }

    @Test
    @DisplayName("evaluateAll marks every flag: a front end that reads them must not make them look unused")
    void evaluateAllMarksEveryFlag() {
        FlagSet flags = betaAndSwitch();
        flags.evaluateAll(SOMEONE);
        assertThat(flags.takeUsage()).containsExactlyInAnyOrder(new FlagUsage("beta", false, true),
                new FlagUsage("switch", true, false), new FlagUsage("unused", true, false));
    }

    @Test
    @DisplayName("marks not yet taken survive a change of the flag, of other flags, of grants and a whole new set")
    void marksSurviveChanges() {
        FlagSet flags = betaAndSwitch();
        flags.isEnabled("beta", TESTER);
        flags.isEnabled("switch", SOMEONE);
        flags.isEnabled("unused", SOMEONE);

        FlagSet changed = flags.withFlag(flag("beta", false), 2)
                .withChanges(List.of(onForAll("switch", false), onForAll("new", true)), List.of("unused"), 3)
                .withRoleGrants(Map.of("beta-tester", Set.of("u-2")), 4);
        changed.isEnabled("switch", SOMEONE); // now off: false joins the earlier true
        assertThat(changed.takeUsage()).as("a removed flag's marks go with it")
                .containsExactlyInAnyOrder(new FlagUsage("beta", true, false), new FlagUsage("switch", true, true));

        changed.isEnabled("new", SOMEONE);
        FlagSet snapshot = FlagSet.of(List.of(onForAll("new", true), onForAll("other", true)), Map.of(), 9, changed);
        assertThat(snapshot.takeUsage()).as("marked before the snapshot replaced the set")
                .containsExactly(new FlagUsage("new", true, false));
        changed.isEnabled("new", SOMEONE); // a caller still holding the old set, during the swap
        assertThat(snapshot.takeUsage()).as("the sets share the marks").containsExactly(new FlagUsage("new", true, false));
        assertThat(FlagSet.of(List.of(onForAll("new", true)), Map.of(), 1).takeUsage())
                .as("a set made without usageFrom starts with no marks").isEmpty();
    }

    @Test
    @DisplayName("evaluations on many threads while another takes: every flag evaluated is in some take, none twice a period")
    void noMarkIsLostUnderConcurrency() throws Exception {
        int keys = 2_000;
        List<Flag> all = new ArrayList<>();
        for (int i = 0; i < keys; i++) {
            all.add(flag("f-" + i, true));
        }
        FlagSet flags = FlagSet.of(all, Map.of(), 1);
        int threads = 4;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<?>> evaluators = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int first = t;
                evaluators.add(pool.submit(() -> {
                    start.await();
                    for (int i = first; i < keys; i += threads) {
                        flags.isEnabled("f-" + i, SOMEONE); // each key evaluated exactly once, by one thread
                    }
                    return null;
                }));
            }
            Set<String> reported = new HashSet<>();
            AtomicBoolean twice = new AtomicBoolean();
            start.countDown();
            boolean done = false;
            while (!done) {
                done = evaluators.stream().allMatch(Future::isDone);
                for (FlagUsage u : flags.takeUsage()) { // after the last evaluator ended: one more take gets the rest
                    if (!reported.add(u.flagKey())) {
                        twice.set(true);
                    }
                }
            }
            for (Future<?> f : evaluators) {
                f.get(10, TimeUnit.SECONDS);
            }
            assertThat(reported).hasSize(keys);
            assertThat(twice).as("a key evaluated once is reported once").isFalse();
        } finally {
            pool.shutdownNow();
        }
    }
}
