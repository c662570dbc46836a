package dev.flags.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.flags.server.ApiException;
import dev.flags.server.ApiLimits;
import dev.flags.server.TokenBucket;
import dev.flags.server.auth.Principal;
import dev.flags.server.auth.Scope;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Token buckets per token, on a clock the test moves. */
class RequestLimitsTest {

    private final AtomicLong now = new AtomicLong(1_000);
    private final Ticker ticker = now::get;
    private static final Principal SCRIPT = new Principal("tok-script", "ci", Scope.EDITOR, Set.of("production"));
    private static final Principal ALICE = new Principal("tok-alice", "alice", Scope.EDITOR, Set.of("production"));

    private void advance(Duration d) {
        now.addAndGet(d.toNanos());
    }

    @Test
    void aBudgetCanBeSpentAtOnceAndRefillsEvenlyOverAMinuteUpToItsSize() {
        RequestBudget budget = new RequestBudget(5, ticker);
        for (int i = 0; i < 5; i++) {
            assertThat(budget.take("k").admitted()).as("request %d", i + 1).isTrue();
        }
        TokenBucket.Admission refused = budget.take("k");
        assertThat(refused.admitted()).isFalse();
        assertThat(refused.firstRefusal()).isTrue();
        assertThat(refused.waitNanos()).isEqualTo(Duration.ofSeconds(12).toNanos());
        assertThat(budget.take("k").firstRefusal()).as("one log line per episode").isFalse();

        advance(Duration.ofSeconds(11));
        TokenBucket.Admission stillRefused = budget.take("k");
        assertThat(stillRefused.admitted()).isFalse();
        assertThat(stillRefused.waitNanos()).isEqualTo(Duration.ofSeconds(1).toNanos());
        advance(Duration.ofSeconds(1));
        assertThat(budget.take("k").admitted()).as("one request refills every 12 s").isTrue();
        assertThat(budget.take("k").admitted()).isFalse();

        advance(Duration.ofHours(1));
        for (int i = 0; i < 5; i++) {
            assertThat(budget.take("k").admitted()).isTrue();
        }
        TokenBucket.Admission again = budget.take("k");
        assertThat(again.admitted()).as("an idle hour does not save up more than the budget").isFalse();
        assertThat(again.firstRefusal()).isTrue();
    }

    @Test
    void everyKeyHasItsOwnBucketAndZeroMeansNoLimit() {
        RequestBudget budget = new RequestBudget(1, ticker);
        assertThat(budget.take("a").admitted()).isTrue();
        assertThat(budget.take("a").admitted()).isFalse();
        assertThat(budget.take("b").admitted()).isTrue();

        RequestBudget unlimited = new RequestBudget(0, ticker);
        for (int i = 0; i < 100_000; i++) {
            assertThat(unlimited.take("a").admitted()).isTrue();
        }
    }

    @Test
    void changesAndReadsHaveSeparateBudgetsAndTheRefusalSaysWhenToRetry() {
        RequestLimits limits = new RequestLimits(new ApiLimits(2, 3), ticker);
        limits.admit(SCRIPT, "PATCH", PathSegments.split("/environments/production/flags/billing-v2"));
        limits.admit(SCRIPT, "DELETE", PathSegments.split("/environments/production/flags/old"));
        assertThatThrownBy(() -> limits.admit(SCRIPT, "PUT", PathSegments.split("/environments/production/flags/billing-v2")))
                .isInstanceOfSatisfying(ApiException.class, e -> {
                    assertThat(e.status()).isEqualTo(429);
                    assertThat(e.title()).isEqualTo("too many requests");
                    assertThat(e.getMessage()).contains("more than 2 changes in a minute").contains("accepted in 30 s");
                    assertThat(e.extensions()).containsEntry("retryAfterSeconds", 30L);
                });
        limits.admit(ALICE, "PATCH", PathSegments.split("/environments/production/flags/billing-v2")); // another token's budget

        limits.admit(SCRIPT, "GET", PathSegments.split("/environments/production/flags"));
        limits.admit(SCRIPT, "POST", PathSegments.split("/environments/production/evaluate")); // the playground only reads
        limits.admit(SCRIPT, "GET", PathSegments.split("/environments/production/flags/billing-v2/history"));
        assertThatThrownBy(() -> limits.admit(SCRIPT, "GET", PathSegments.split("/environments/production/flags")))
                .isInstanceOfSatisfying(ApiException.class, e -> {
                    assertThat(e.status()).isEqualTo(429);
                    assertThat(e.getMessage()).contains("more than 3 reads in a minute").contains("accepted in 20 s");
                });
    }

    @Test
    void thePlaygroundsPatternWorkIsChargedToTheReadsAfterTheFact() {
        RequestLimits limits = new RequestLimits(new ApiLimits(10, 300), ticker);
        limits.admit(SCRIPT, "POST", PathSegments.split("/environments/production/evaluate"));
        limits.chargePatternSteps(SCRIPT, 10_000_000); // the most one flag's evaluation may read: 100 reads more
        for (int i = 0; i < 199; i++) {
            limits.admit(SCRIPT, "GET", PathSegments.split("/environments/production/flags"));
        }
        assertThatThrownBy(() -> limits.admit(SCRIPT, "GET", PathSegments.split("/environments/production/flags")))
                .hasMessageContaining("more than 300 reads");
        limits.chargePatternSteps(ALICE, 99_999); // less than a read's worth: free
        for (int i = 0; i < 300; i++) {
            limits.admit(ALICE, "GET", PathSegments.split("/environments/production/flags"));
        }
        // a debt is at most a minute's budget: two minutes later the token reads again
        limits.chargePatternSteps(SCRIPT, Long.MAX_VALUE / 2);
        advance(Duration.ofMinutes(2));
        limits.admit(SCRIPT, "GET", PathSegments.split("/environments/production/flags"));
    }

    @Test
    void aPlaygroundEvaluationRunsOneAtATimePerTokenAndNotWhileItsReadsAreInDebt() {
        RequestLimits limits = new RequestLimits(new ApiLimits(10, 300), ticker);
        limits.enterPlayground(SCRIPT);
        assertThatThrownBy(() -> limits.enterPlayground(SCRIPT)).as("a second at once")
                .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.status()).isEqualTo(429))
                .hasMessageContaining("one at a time per token");
        limits.enterPlayground(ALICE); // another token's
        limits.leavePlayground(ALICE);
        limits.chargePatternSteps(SCRIPT, 400 * 100_000L); // more than the minute's 300: in debt
        limits.leavePlayground(SCRIPT);
        assertThatThrownBy(() -> limits.enterPlayground(SCRIPT)).as("in debt for the last one's work")
                .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.extensions()).containsKey("retryAfterSeconds"))
                .hasMessageContaining("read more than its budget of 300 reads a minute pays for");
        advance(Duration.ofMinutes(1)); // the debt paid
        limits.enterPlayground(SCRIPT);
        limits.leavePlayground(SCRIPT);
    }

    @Test
    void aSwitchOffIsChargedToTheReadsSoTheKillSwitchWorksWithTheChangeBudgetSpent() {
        RequestLimits limits = new RequestLimits(new ApiLimits(1, 2), ticker);
        ObjectNode off = JsonNodeFactory.instance.objectNode().put("enabled", false);
        ObjectNode on = JsonNodeFactory.instance.objectNode().put("enabled", true);
        limits.admitFlagPatch(SCRIPT, on); // the one change
        assertThatThrownBy(() -> limits.admitFlagPatch(SCRIPT, on)).hasMessageContaining("more than 1 changes");
        limits.admitFlagPatch(SCRIPT, off);
        limits.admitFlagPatch(SCRIPT, off);
        assertThatThrownBy(() -> limits.admitFlagPatch(SCRIPT, off)).hasMessageContaining("more than 2 reads");

        assertThat(dev.flags.server.Access.onlySwitchesOff(off)).isTrue();
        assertThat(dev.flags.server.Access.onlySwitchesOff(on)).isFalse();
        assertThat(dev.flags.server.Access.onlySwitchesOff(off.deepCopy().put("default", true))).as("and something else").isFalse();
        assertThat(dev.flags.server.Access.onlySwitchesOff(JsonNodeFactory.instance.objectNode().put("enabled", "false"))).isFalse();
        assertThat(dev.flags.server.Access.onlySwitchesOff(null)).isFalse();
        assertThat(RequestLimits.isFlagPatch("PATCH", List.of("environments", "production", "flags", "billing-v2"))).isTrue();
        assertThat(RequestLimits.isFlagPatch("PUT", List.of("environments", "production", "flags", "billing-v2"))).isFalse();
        assertThat(RequestLimits.isFlagPatch("PATCH", List.of("environments", "production", "flags", "billing-v2", "revert")))
                .isFalse();
        assertThat(RequestLimits.isFlagPatch("PATCH", List.of("environments", "production", "flags"))).isFalse();
        assertThat(RequestLimits.isFlagPatch("PATCH", null)).as("a path the router refuses").isFalse();
    }

    @Test
    void whatCountsAsAChange() {
        assertThat(RequestLimits.isChange("POST", List.of("environments"))).isTrue();
        assertThat(RequestLimits.isChange("POST", List.of("tokens"))).isTrue();
        assertThat(RequestLimits.isChange("POST", List.of("environments", "production", "flags", "x", "revert"))).isTrue();
        assertThat(RequestLimits.isChange("PUT", List.of("environments", "production", "roles", "beta", "members", "tess")))
                .isTrue();
        assertThat(RequestLimits.isChange("POST", List.of("environments", "production", "evaluate"))).isFalse();
        assertThat(RequestLimits.isChange("GET", List.of("environments", "production", "state"))).isFalse();
        assertThat(RequestLimits.isChange("POST", null)).as("a path the router refuses").isTrue();
        assertThat(RequestLimits.isChange("FOO", null)).isFalse();
    }
}
