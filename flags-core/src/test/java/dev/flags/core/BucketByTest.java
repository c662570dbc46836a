package dev.flags.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** A flag's {@code bucketBy}: rollouts and variant splits by an attribute's value (an account), not by the user id. */
class BucketByTest {

    private static final FlagSet SET = FlagSet.fromJson(Fixtures.file("""
            {"key": "billing-v2", "enabled": true, "bucketBy": "accountId",
             "variants": [{"key": "a", "weight": 50}, {"key": "b", "weight": 50}],
             "targets": [{"userIds": ["u-ops"], "serve": false}],
             "rules": [{"name": "a third of accounts", "conditions": [{"percentage": 33}]}]}
            """));

    private static User member(String id, Object account) {
        User u = User.withId(id);
        return account instanceof Long l ? u.attribute("accountId", l) : u.attribute("accountId", (String) account);
    }

    @Test
    void everyUserOfAnAccountGetsTheAccountsAnswerAndVariant() {
        Map<String, Evaluation> byAccount = new HashMap<>();
        Set<Boolean> answers = new HashSet<>();
        for (int account = 0; account < 300; account++) {
            Evaluation first = SET.evaluate("billing-v2", member("u-" + account + "-0", "acct-" + account));
            byAccount.put("acct-" + account, first);
            answers.add(first.value());
            for (int user = 1; user < 5; user++) {
                Evaluation other = SET.evaluate("billing-v2", member("u-" + account + "-" + user, "acct-" + account));
                assertThat(other.value()).as("the account's answer").isEqualTo(first.value());
                assertThat(other.variant()).as("the account's variant").isEqualTo(first.variant());
            }
        }
        assertThat(answers).as("some accounts in the 33%, some out").containsExactlyInAnyOrder(true, false);
        long in = byAccount.values().stream().filter(Evaluation::value).count();
        assertThat(in).as("about a third of 300 accounts").isBetween(70L, 130L);
        // The bucket is the documented hash of the attribute's text, as the id's would be.
        int bucket = Bucketing.rolloutBucket("billing-v2", "acct-7");
        assertThat(byAccount.get("acct-7").value()).isEqualTo(bucket < 33_000);
    }

    @Test
    void aNumberAttributeBucketsAsItsTextAndTargetsStillGoByUserId() {
        assertThat(SET.evaluate("billing-v2", member("u-1", 4242L)))
                .isEqualTo(SET.evaluate("billing-v2", User.withId("u-2").attribute("accountId", "4242")));
        Evaluation ops = SET.evaluate("billing-v2", member("u-ops", "acct-7"));
        assertThat(ops.value()).isFalse();
        assertThat(ops.reason().kind()).isEqualTo(Reason.Kind.TARGET_MATCH);
    }

    @Test
    void aUserWithoutTheAttributeIsInNoPartialRolloutAndTheReasonSaysWhy() {
        Evaluation e = SET.evaluate("billing-v2", User.withId("u-1"));
        assertThat(e.value()).isFalse();
        assertThat(e.reason().kind()).isEqualTo(Reason.Kind.DEFAULT);
        assertThat(e.reason().detail()).isEqualTo("user has no value for \"accountId\", so no partial rollout can include it");
        assertThat(SET.explain("billing-v2", User.withId("u-1")).steps().get(2).detail())
                .isEqualTo("conditions[0]: percentage 33%: the user has no value for \"accountId\", so no partial rollout can"
                        + " include it");
        String inside = SET.explain("billing-v2", insideAccount()).steps().get(2).detail();
        assertThat(inside).startsWith("every condition holds: conditions[0]: percentage 33%: the bucket of accountId \"")
                .contains("by the variant bucket of accountId \"");
    }

    @Test
    void aBlankValueIsNoValueNotOneAccountForEveryoneWithout() {
        for (String blank : new String[] {"", " "}) {
            Evaluation e = SET.evaluate("billing-v2", member("u-" + blank.length(), blank));
            assertThat(e.reason().kind()).as("[" + blank + "]").isEqualTo(Reason.Kind.DEFAULT);
            assertThat(e.reason().detail()).isEqualTo("user has no value for \"accountId\", so no partial rollout can include it");
        }
        for (String reserved : new String[] {"id", "region", "roles"}) {
            assertThatThrownBy(() -> FlagSet.fromJson(Fixtures.file("{\"key\": \"f\", \"bucketBy\": \"" + reserved + "\"}")))
                    .isInstanceOf(FlagValidationException.class)
                    .hasMessageContaining("flags[0].bucketBy names a custom attribute of the user, and \"" + reserved + "\" is not one");
        }
    }

    /** A member of the first account inside the 33%. */
    private static User insideAccount() {
        for (int account = 0; ; account++) {
            if (Bucketing.rolloutBucket("billing-v2", "acct-" + account) < 33_000) {
                return member("u-x", "acct-" + account);
            }
        }
    }

    @Test
    void theFieldIsWrittenBackAndAnInvalidAttributeNameIsRefused() {
        Flag flag = SET.flag("billing-v2").orElseThrow();
        assertThat(flag.bucketBy()).isEqualTo("accountId");
        assertThat(FlagFormat.toJson(flag).get("bucketBy").asText()).isEqualTo("accountId");
        assertThat(FlagFormat.toJson(flag.withEnabled(false)).get("bucketBy").asText()).as("a copy keeps it").isEqualTo("accountId");
        assertThatThrownBy(() -> FlagSet.fromJson(Fixtures.file("{\"key\": \"f\", \"bucketBy\": \"1account\"}")))
                .isInstanceOf(FlagValidationException.class)
                .hasMessageContaining("flags[0].bucketBy must be an attribute name");
    }
}
