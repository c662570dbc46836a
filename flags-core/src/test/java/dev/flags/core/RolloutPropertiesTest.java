package dev.flags.core;

import static dev.flags.core.Fixtures.flag;
import static dev.flags.core.Fixtures.percentage;
import static dev.flags.core.Fixtures.rule;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.AlphaChars;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.NumericChars;
import net.jqwik.api.constraints.Scale;
import net.jqwik.api.constraints.StringLength;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Percentage rollouts and variant splits: determinism, monotonicity, uniformity, independence. */
class RolloutPropertiesTest {

    private static FlagSet rollout(String key, double percentage) {
        return FlagSet.of(flag(key, true, rule("ramp", percentage(percentage))));
    }

    @Property(tries = 300)
    void theSameUserGetsTheSameAnswerEveryTimeAndInEveryCompiledCopy(
            @ForAll @AlphaChars @NumericChars @StringLength(min = 1, max = 30) String userId,
            @ForAll @DoubleRange(min = 0, max = 100) @Scale(3) double percentage) {
        User user = User.withId(userId);
        // two independent compilations stand for two processes: nothing is random or per-instance
        boolean first = rollout("billing-v2", percentage).isEnabled("billing-v2", user);
        FlagSet other = rollout("billing-v2", percentage);
        for (int i = 0; i < 5; i++) {
            assertThat(other.isEnabled("billing-v2", user)).isEqualTo(first);
        }
        // and it is exactly the documented formula
        boolean expected = Bucketing.rolloutBucket("billing-v2", userId) < Math.round(percentage * 1000);
        assertThat(first).isEqualTo(expected);
    }

    @Property(tries = 300)
    void raisingThePercentageNeverRemovesAUser(
            @ForAll @AlphaChars @NumericChars @StringLength(min = 1, max = 30) String userId,
            @ForAll @DoubleRange(min = 0, max = 100) @Scale(3) double low,
            @ForAll @DoubleRange(min = 0, max = 100) @Scale(3) double high) {
        double a = Math.min(low, high);
        double b = Math.max(low, high);
        User user = User.withId(userId);
        if (rollout("f", a).isEnabled("f", user)) {
            assertThat(rollout("f", b).isEnabled("f", user)).isTrue();
        }
    }

    /*
     * Uniformity. The bar is "100,000 users at 1%, 10%, 50%: each within 0.3 points". At 50%
     * one standard deviation of the share of 100,000 users is 0.158 points, so 0.3 is 1.9 sigma: about
     * one flag key in 17 misses it by pure chance (billing-v2 at 50% gives 50.328%). So the bar is
     * checked for the flag keys below, every other salt is held to 4 sigma, and 30 salts pooled
     * (3,000,000 users) must be within 0.05 points, which a biased hash could not meet.
     */
    @ParameterizedTest(name = "{0}% of 100,000 users for flag {1}")
    @CsvSource({"1, new-checkout", "10, new-checkout", "50, new-checkout", "1, s2-half", "10, s2-half",
            "50, s2-half", "0.5, search.v3", "99, search.v3"})
    void aRolloutIncludesItsShareOfUsersWithinAThirdOfAPoint(double percentage, String flagKey) {
        assertThat(share(flagKey, percentage, 100_000)).isCloseTo(percentage, within(0.3));
    }

    @ParameterizedTest(name = "{0}% over 30 flag keys")
    @CsvSource({"1", "10", "50"})
    void everyFlagKeyIsWithinFourSigmaAndAllPooledWithinATwentiethOfAPoint(double percentage) {
        int users = 100_000;
        double sigma = 100 * Math.sqrt(percentage / 100 * (1 - percentage / 100) / users);
        double sum = 0;
        for (int k = 0; k < 30; k++) {
            double share = share("flag-" + k, percentage, users);
            assertThat(share).as("flag-%d", k).isCloseTo(percentage, within(4 * sigma));
            sum += share;
        }
        assertThat(sum / 30).isCloseTo(percentage, within(0.05));
    }

    private static double share(String flagKey, double percentage, int users) {
        FlagSet flags = rollout(flagKey, percentage);
        int inside = 0;
        for (int i = 0; i < users; i++) {
            if (flags.isEnabled(flagKey, User.withId("user-" + i))) {
                inside++;
            }
        }
        return 100.0 * inside / users;
    }

    @Test
    void variantWeightsSplitUsersInProportion() {
        Flag flag = new Flag("checkout-colour", null, true, null,
                List.of(new Variant("red", 20, null), new Variant("green", 30, null), new Variant("blue", 50, "#00f")),
                List.of(), List.of(), true, 1);
        FlagSet flags = FlagSet.of(flag);
        Map<String, Integer> counts = new HashMap<>();
        for (int i = 0; i < 100_000; i++) {
            counts.merge(flags.variant("checkout-colour", User.withId("user-" + i)), 1, Integer::sum);
        }
        assertThat(counts.get("red") / 1000.0).isCloseTo(20, within(0.3));
        assertThat(counts.get("green") / 1000.0).isCloseTo(30, within(0.3));
        assertThat(counts.get("blue") / 1000.0).isCloseTo(50, within(0.3));
        assertThat(flags.evaluate("checkout-colour", User.withId("user-7")).payload())
                .isEqualTo(flags.variant("checkout-colour", User.withId("user-7")).equals("blue") ? "#00f" : null);
    }

    @Test
    void variantAssignmentIsIndependentOfRolloutMembership() {
        // 10% rollout split 50/50 gives 5% and 5%, not 10% and 0%
        Flag flag = new Flag("experiment", null, true, null,
                List.of(new Variant("control", 50, null), new Variant("treatment", 50, null)),
                List.of(), List.of(rule("ten percent", percentage(10))), false, 1);
        FlagSet flags = FlagSet.of(flag);
        Map<String, Integer> counts = new HashMap<>();
        for (int i = 0; i < 100_000; i++) {
            Evaluation e = flags.evaluate("experiment", User.withId("user-" + i));
            if (e.value()) {
                counts.merge(e.variant(), 1, Integer::sum);
            } else {
                assertThat(e.variant()).isNull();
            }
        }
        assertThat(counts.get("control") / 1000.0).isCloseTo(5, within(0.3));
        assertThat(counts.get("treatment") / 1000.0).isCloseTo(5, within(0.3));
    }

    @Property(tries = 200)
    void aUsersVariantDoesNotChangeWhenTheRolloutGrows(
            @ForAll @AlphaChars @NumericChars @StringLength(min = 1, max = 30) String userId) {
        List<Variant> variants = List.of(new Variant("a", 50, null), new Variant("b", 50, null));
        String seen = null;
        for (double p : new double[] {100, 75, 50, 25, 10}) {
            Flag flag = new Flag("exp", null, true, null, variants, List.of(), List.of(rule("r", percentage(p))), false, 1);
            String variant = FlagSet.of(flag).variant("exp", User.withId(userId));
            if (variant != null) {
                if (seen != null) {
                    assertThat(variant).isEqualTo(seen);
                }
                seen = variant;
            }
        }
    }
}
