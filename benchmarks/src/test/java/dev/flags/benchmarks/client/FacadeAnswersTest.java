package dev.flags.benchmarks.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import dev.flags.benchmarks.eval.Checks;
import dev.flags.benchmarks.eval.Scenario;
import dev.flags.benchmarks.eval.UserPool;
import dev.flags.client.Source;
import org.junit.jupiter.api.Test;

/**
 * Proves, without timing anything, that the facade harness answers as the evaluation harness does:
 * the checks {@link FacadeBenchmark} runs in its trial setup, and the same answer as the bare
 * evaluator for every user in every scenario.
 */
class FacadeAnswersTest {

    @Test
    void theFacadeAndTheBareEvaluatorGiveEveryExpectedAnswer() {
        try (FacadeFixture fixture = FacadeFixture.start()) {
            assertThatCode(() -> Checks.verify(fixture)).doesNotThrowAnyException();
            assertThatCode(() -> Checks.verify(fixture.bare())).doesNotThrowAnyException();
        }
    }

    @Test
    void theFacadeAnswersExactlyAsTheBareEvaluatorForEveryUser() {
        try (FacadeFixture fixture = FacadeFixture.start()) {
            for (Scenario scenario : Scenario.values()) {
                for (int i = 0; i < UserPool.SIZE; i++) {
                    assertThat(fixture.flags().isEnabled(scenario.flagKey(), fixture.users()[i]))
                            .as("%s, user %d", scenario, i)
                            .isEqualTo(fixture.bare().flags().isEnabled(scenario.flagKey(), fixture.users()[i]));
                }
            }
            assertThat(Checks.countOn(fixture, Scenario.S2_HALF)).isBetween(461, 563);
        }
    }

    @Test
    void theFacadeServesTheOfflineFileAndItsEvaluationSaysSo() {
        try (FacadeFixture fixture = FacadeFixture.start()) {
            assertThat(fixture.flags().freshness().source()).isEqualTo(Source.OFFLINE_FILE);
            assertThat(fixture.flags().evaluate("s1-everyone", fixture.users()[0]).source()).isEqualTo(Source.OFFLINE_FILE);
        }
    }
}
