package dev.flags.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** A user built from request data: an absent or empty region or role is none, not an exception before the flag answers. */
class UserFromRequestDataTest {

    private static final FlagSet SET = FlagSet.fromJson(Fixtures.file("""
            {"key": "billing-v2", "enabled": true, "rules": [
              {"name": "eu", "conditions": [{"regions": ["eu-west"]}], "serve": true},
              {"name": "staff", "conditions": [{"roles": ["staff"]}], "serve": true}]}
            """));

    @Test
    void aMissingOrEmptyRegionIsNoRegion() {
        String header = null; // request.getHeader("X-Region") of a request without it
        User noHeader = User.withId("u-1").region(header);
        assertThat(noHeader.region()).isNull();
        assertThat(User.withId("u-1").region("eu-west").region("").region()).as("empty replaces it with none").isNull();
        assertThat(SET.evaluate("billing-v2", noHeader.roles("staff")).reason().ruleName()).isEqualTo("staff");
        assertThat(SET.evaluate("billing-v2", noHeader).reason().kind()).isEqualTo(Reason.Kind.DEFAULT);
    }

    @Test
    void aWholeNumberPast64BitsInUserJsonIsReadAsItsDigits() throws Exception {
        User user = FlagFormat.readUser(new com.fasterxml.jackson.databind.ObjectMapper().readTree(
                "{\"id\": \"u-1\", \"attributes\": {\"account\": 12345678901234567891, \"seats\": 12}}"));
        assertThat(user.attribute("account")).isEqualTo("12345678901234567891");
        assertThat(user.attribute("seats")).isEqualTo(12L);
    }

    @Test
    void anAttributeNoFlagCanNameIsTakenAndToldToTheFailureHandlerOnEachEvaluation() {
        java.util.List<String> told = new java.util.concurrent.CopyOnWriteArrayList<>();
        EvaluationFailureHandler handler = new EvaluationFailureHandler() {
            @Override
            public void failed(String flagKey, long flagVersion, Throwable failure) {
            }

            @Override
            public void unmatchableAttribute(String attributeName) {
                told.add(attributeName);
            }
        };
        User typo = User.withId("u-1").attribute("plan", "pro").attribute("my plan", "pro").attribute("1seats", 3L)
                .roles("staff").region("eu-west");
        assertThat(typo.attribute("my plan")).as("taken: names may come from request data").isEqualTo("pro");
        assertThat(SET.isEnabled("billing-v2", typo, false, handler)).isTrue();
        assertThat(SET.evaluate("billing-v2", typo, false, handler).value()).isTrue();
        assertThat(told).as("the first such name, once per evaluation").containsExactly("my plan", "my plan");

        told.clear();
        User fine = User.withId("u-1").attribute("plan", "pro").attribute("_internal.tier:x-1", "a").attribute("a".repeat(128), 1L);
        SET.isEnabled("billing-v2", fine, false, handler);
        SET.evaluate("billing-v2", fine, false, handler);
        SET.isEnabled("billing-v2", User.withId("u-1").attribute("a".repeat(129), 1L), false, handler);
        assertThat(told).as("only a name longer than a flag's may be").containsExactly("a".repeat(129));
        assertThat(SET.isEnabled("billing-v2", typo, false, new EvaluationFailureHandler() {
            @Override
            public void failed(String flagKey, long flagVersion, Throwable failure) {
            }

            @Override
            public void unmatchableAttribute(String attributeName) {
                throw new IllegalStateException("a handler that throws");
            }
        })).as("a handler's failure does not reach the caller").isTrue();
    }

    @Test
    void nullAndEmptyRolesAreSkipped() {
        User user = User.withId("u-1").roles("beta,,staff".split(",")).roles((String[]) null).roles("x", null);
        assertThat(user.roles()).containsExactly("beta", "staff", "x");
        assertThat(SET.evaluate("billing-v2", user).value()).isTrue();
        assertThatThrownBy(() -> User.withId("u-1").region("r".repeat(1025))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at most");
    }
}
