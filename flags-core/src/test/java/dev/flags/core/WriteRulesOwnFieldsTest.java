package dev.flags.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * An attribute condition reads a custom attribute, never the user's own id, region or roles: a write may not add one
 * that names those (QA86), and "why is this off for me?" says what it read.
 */
class WriteRulesOwnFieldsTest {

    private static Flag flag(String conditions) {
        return FlagFormat.readFlag("{\"key\": \"billing-v2\", \"enabled\": true, \"rules\": [{\"conditions\": [" + conditions
                + "], \"serve\": true}]}");
    }

    @Test
    void aNewConditionOnTheUsersOwnIdRegionOrRolesIsRefusedWithWhatToUseInstead() {
        Flag next = flag("{\"attribute\": \"plan\", \"operator\": \"in\", \"values\": [\"pro\"]},"
                + " {\"attribute\": \"id\", \"operator\": \"startsWith\", \"values\": [\"test-\"]},"
                + " {\"attribute\": \"region\", \"operator\": \"startsWith\", \"values\": [\"eu-\"]},"
                + " {\"attribute\": \"roles\", \"operator\": \"in\", \"values\": [\"beta\"]}");
        List<Problem> problems = WriteRules.ownFields(null, next);
        assertThat(problems).extracting(Problem::path).containsExactly("rules[0].conditions[1].attribute",
                "rules[0].conditions[2].attribute", "rules[0].conditions[3].attribute");
        assertThat(problems.get(0).message()).isEqualTo("names a custom attribute of the user, and \"id\" is the user's own"
                + " id, which an attribute condition never reads: match user ids with a \"userIds\" condition or the flag's"
                + " targets");
        assertThat(problems.get(1).message()).endsWith("match regions with a \"regions\" condition");
        assertThat(problems.get(2).message()).endsWith("match roles with a \"roles\" condition");
        assertThat(WriteRules.added(null, next)).containsAll(problems);
    }

    @Test
    void aFlagThatHasSuchAConditionKeepsItAndOtherNamesPass() {
        Flag existing = flag("{\"attribute\": \"region\", \"operator\": \"in\", \"values\": [\"eu\"]}");
        Flag next = flag("{\"attribute\": \"region\", \"operator\": \"in\", \"values\": [\"eu\", \"us\"]},"
                + " {\"attribute\": \"userId\", \"operator\": \"in\", \"values\": [\"u-1\"]}");
        assertThat(WriteRules.ownFields(existing, next)).as("written before; an application may set such an attribute")
                .isEmpty();
        assertThat(WriteRules.ownFields(null, next)).hasSize(1);
    }

    @Test
    void theExplanationOfSuchAConditionSaysItIsNotTheUsersOwnField() {
        FlagSet set = FlagSet.fromJson("{\"formatVersion\": 1, \"flags\": [{\"key\": \"billing-v2\", \"enabled\": true,"
                + " \"rules\": [{\"conditions\": [{\"attribute\": \"id\", \"operator\": \"startsWith\", \"values\":"
                + " [\"test-\"]}], \"serve\": true}]}]}");
        Explanation e = set.explain("billing-v2", User.withId("test-1"));
        assertThat(e.steps()).anySatisfy(s -> assertThat(s.detail()).isEqualTo("conditions[0]: \"id\" startsWith"
                + " [\"test-\"]: the user has no attribute \"id\", which never matches (a custom attribute of that name: the"
                + " user's own id is not read by an attribute condition)"));
    }
}
