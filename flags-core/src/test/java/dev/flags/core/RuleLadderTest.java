package dev.flags.core;

import static dev.flags.core.Fixtures.attribute;
import static dev.flags.core.Fixtures.rule;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * Consecutive "attribute in [values]" rules on one attribute are evaluated as one lookup: the answers
 * must be exactly those of trying the rules in order.
 */
class RuleLadderTest {

    @Property(tries = 300)
    void aLadderAnswersAsTheRulesInOrder(@ForAll @Size(min = 3, max = 12) List<@IntRange(min = 0, max = 9) Integer> ruleValues,
                                         @ForAll @IntRange(min = 0, max = 11) int userValue,
                                         @ForAll boolean userHasAttribute,
                                         @ForAll @IntRange(min = 0, max = 4) int otherRuleAt) {
        List<Rule> rules = new ArrayList<>();
        for (int i = 0; i < ruleValues.size(); i++) {
            if (i == otherRuleAt) {
                // a rule of another shape in the middle splits the ladder
                rules.add(rule("other " + i, attribute("country", Operator.IN, "DE")));
            }
            int v = ruleValues.get(i);
            rules.add(new Rule("r" + i, List.of(attribute("plan", Operator.IN, "p" + v, "p" + (v + 1))), i % 2 == 0, null));
        }
        Flag flag = new Flag("f", null, true, null, List.of(), List.of(), rules, true, 1);
        User user = User.withId("u").attribute("country", "DE");
        if (userHasAttribute) {
            user = user.attribute("plan", "p" + userValue);
        }

        // the expected answer, by trying the rules in order
        Evaluation expected = null;
        for (int i = 0; i < rules.size() && expected == null; i++) {
            Condition.Attribute c = (Condition.Attribute) rules.get(i).conditions().get(0);
            Object value = user.attribute(c.attribute());
            if (value != null && c.values().contains(value.toString())) {
                expected = new Evaluation("f", rules.get(i).serve(), null, null,
                        new Reason(Reason.Kind.RULE_MATCH, i, rules.get(i).name(), null), 1);
            }
        }
        if (expected == null) {
            expected = new Evaluation("f", true, null, null, new Reason(Reason.Kind.DEFAULT, -1, null, null), 1);
        }
        assertThat(FlagSet.of(flag).evaluate("f", user)).isEqualTo(expected);
    }
}
