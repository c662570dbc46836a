package dev.flags.benchmarks.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;

import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Proves, without timing anything, that every implementation the benchmarks time gives the expected
 * answer for each of the 1,024 users in each scenario: the same checks the benchmarks run in their
 * trial setup.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HarnessAnswersTest {

    Stream<Arguments> implementations() {
        return Stream.of(
                Arguments.of("ours", (Supplier<Fixture>) OursFixture::start),
                Arguments.of("unleash", (Supplier<Fixture>) UnleashFixture::start),
                Arguments.of("launchdarkly", (Supplier<Fixture>) LaunchDarklyFixture::start),
                Arguments.of("flagd", (Supplier<Fixture>) FlagdFixture::start),
                Arguments.of("togglz", (Supplier<Fixture>) TogglzFixture::start));
    }

    @ParameterizedTest(name = "{0} answers every user in every scenario as expected")
    @MethodSource("implementations")
    void everyAnswerIsRight(String name, Supplier<Fixture> start) {
        try (Fixture fixture = start.get()) {
            assertThatCode(() -> Checks.verify(fixture)).doesNotThrowAnyException();
        }
    }

    @ParameterizedTest(name = "{0}: the answers vary from user to user where they should")
    @MethodSource("implementations")
    void answersVary(String name, Supplier<Fixture> start) {
        try (Fixture fixture = start.get()) {
            assertThat(Checks.countOn(fixture, Scenario.S1_EVERYONE)).isEqualTo(UserPool.SIZE);
            assertThat(Checks.countOn(fixture, Scenario.S2_HALF)).isBetween(461, 563);
            for (Scenario scenario : new Scenario[] {Scenario.S3_BETA, Scenario.S4_EU, Scenario.S5_TEN_RULES}) {
                assertThat(Checks.countOn(fixture, scenario)).as(scenario.name()).isStrictlyBetween(0, UserPool.SIZE);
            }
            assertThat(Checks.countOn(fixture, Scenario.S6_UNKNOWN)).isZero();
        }
    }

    @Test
    void aWrongAnswerFailsLoudly() {
        Fixture alwaysOn = new Fixture() {
            @Override
            public String name() {
                return "always-on";
            }

            @Override
            public boolean isEnabled(Scenario scenario, int userIndex) {
                return true;
            }

            @Override
            public Expected.Rollout rollout() {
                return Expected.OURS;
            }

            @Override
            public void close() {
            }
        };
        assertThatIllegalStateException()
                .isThrownBy(() -> Checks.verify(alwaysOn))
                .withMessageContaining("always-on gave wrong answers")
                .withMessageContaining("S6_UNKNOWN")
                .withMessageContaining("more wrong answers");
    }
}
