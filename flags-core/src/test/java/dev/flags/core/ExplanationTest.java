package dev.flags.core;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.core.Explanation.Kind;
import dev.flags.core.Explanation.Step;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

/** "Why is this on for me?": the steps of an explanation, held to the evaluator's own answer. */
class ExplanationTest {

    /** A release-path flag: targets, a beta role, an EU canary, a plan ladder, a negated attribute, variants. */
    private static final String FLAGS = """
            { "formatVersion": 1, "flags": [
              { "key": "billing-v2", "version": 7, "enabled": true, "default": false,
                "variants": [ { "key": "a", "weight": 50 }, { "key": "b", "weight": 50 } ],
                "targets": [ { "userIds": ["vip-1", "vip-2"], "serve": true, "variant": "b" },
                             { "userIds": ["blocked"], "serve": false } ],
                "rules": [
                  { "name": "beta testers", "conditions": [ { "roles": ["beta-tester"] } ] },
                  { "name": "eu canary", "conditions": [ { "regions": ["eu-west", "eu-north"] }, { "percentage": 10 } ] },
                  { "name": "gold", "conditions": [ { "attribute": "plan", "operator": "in", "values": ["gold"] } ] },
                  { "name": "silver", "conditions": [ { "attribute": "plan", "operator": "in", "values": ["silver"] } ], "serve": false },
                  { "name": "bronze", "conditions": [ { "attribute": "plan", "operator": "in", "values": ["bronze", "gold"] } ] },
                  { "name": "not staff, many seats", "conditions": [
                      { "attribute": "email", "operator": "endsWith", "values": ["@example.com"], "negate": true },
                      { "attribute": "seats", "operator": "numGt", "values": [5] } ] },
                  { "name": "nobody yet", "conditions": [ { "percentage": 0 } ] },
                  { "name": "half of the rest", "conditions": [ { "percentage": 50 } ] } ] },
              { "key": "kill-me", "enabled": false, "default": true } ],
              "roleGrants": { "beta-tester": ["granted-1"] } }
            """;
    private static final FlagSet SET = FlagSet.fromJson(FLAGS);

    @Test
    void aUserOutsideTheCanaryIsToldTheirBucketAndEveryRuleTried() {
        String id = idOutsideTheCanary();
        User user = User.withId(id).region("eu-west").attribute("plan", "free").attribute("email", "x@corp.test");
        Explanation e = SET.explain("billing-v2", user);
        List<String> lines = e.steps().stream().map(s -> s.kind() + " " + s.index() + " " + s.matched() + " " + s.detail()).toList();
        int bucket = Bucketing.rolloutBucket("billing-v2", id);
        assertThat(lines).startsWith(
                "SWITCH -1 true the flag is on",
                "TARGETS -1 false user id \"" + id + "\" is in no target",
                "RULE 0 false conditions[0]: roles [\"beta-tester\"]: the application gave the user [] and the role grants give it []",
                "RULE 1 false conditions[1]: percentage 10%: the user's bucket is " + bucket
                        + " of 100000, and the rollout includes buckets 0 to 9999",
                "RULE 2 false conditions[0]: \"plan\" in [\"gold\"]: the user's value \"free\" does not hold",
                "RULE 3 false conditions[0]: \"plan\" in [\"silver\"]: the user's value \"free\" does not hold",
                "RULE 4 false conditions[0]: \"plan\" in [\"bronze\", \"gold\"]: the user's value \"free\" does not hold",
                "RULE 5 false conditions[1]: \"seats\" numGt [\"5\"]: the user has no attribute \"seats\", which never matches",
                "RULE 6 false conditions[0]: percentage 0% includes nobody");
        // A user outside the canary may be inside the last rule's 50%: then it decides, else the default.
        String last = lines.get(lines.size() - 1);
        if (bucket < 50_000) {
            assertThat(last).isEqualTo("RULE 7 true every condition holds: conditions[0]: percentage 50%: the user's bucket is "
                    + bucket + " of 100000, and the rollout includes buckets 0 to 49999; it serves true, variant \""
                    + e.evaluation().variant() + "\" by the user's variant bucket");
        } else {
            assertThat(last).isEqualTo("DEFAULT -1 true no target or rule matched: the flag's default, false");
        }
        assertThat(lines).hasSize(10);
        assertThat(e.steps().get(1).ruleName()).isNull();
        assertThat(e.steps().get(3).ruleName()).isEqualTo("eu canary");
        assertThat(e.evaluation()).isEqualTo(SET.evaluate("billing-v2", user));
    }

    @Test
    void targetsRolesGrantsTheSwitchAndUnknownFlags() {
        Explanation vip = SET.explain("billing-v2", User.withId("vip-2"));
        assertThat(vip.steps()).last().isEqualTo(new Step(Kind.TARGETS, 0, null, true,
                "user id \"vip-2\" is in targets[0], which serves true, variant \"b\""));

        Explanation granted = SET.explain("billing-v2", User.withId("granted-1"));
        assertThat(granted.steps()).last().extracting(Step::kind, Step::index, Step::ruleName, Step::matched, Step::detail)
                .containsExactly(Kind.RULE, 0, "beta testers", true, "every condition holds: conditions[0]: roles"
                        + " [\"beta-tester\"]: the application gave the user [] and the role grants give it [\"beta-tester\"];"
                        + " it serves true, variant \"" + granted.evaluation().variant() + "\" by the user's variant bucket");

        assertThat(SET.explain("kill-me", User.withId("u")).steps()).containsExactly(new Step(Kind.SWITCH, -1, null, false,
                "the flag is switched off: off for everyone, whatever its targets and rules say"));

        Explanation anonymous = SET.explain("billing-v2", User.anonymous());
        assertThat(anonymous.steps().get(1).detail()).isEqualTo("the user has no id, so no target can include it");
        assertThat(anonymous.steps()).last().extracting(Step::kind, Step::detail).containsExactly(Kind.DEFAULT,
                "no target or rule matched: the flag's default, false (a rule with a partial rollout matched otherwise,"
                        + " but the user has no id)");
        assertThat(anonymous.evaluation().reason().detail()).isEqualTo("user has no id, so no partial rollout can include it");

        Explanation unknown = SET.explain("nope", User.withId("u"));
        assertThat(unknown.steps()).isEmpty();
        assertThat(unknown.evaluation().reason().kind()).isEqualTo(Reason.Kind.FLAG_NOT_FOUND);
        assertThat(SET.explain("billing-v2", null).evaluation().reason().kind()).isEqualTo(Reason.Kind.ERROR);
        assertThat(SET.explain(null, User.withId("u")).evaluation().reason().kind()).isEqualTo(Reason.Kind.ERROR);
    }

    @Test
    void aRuleThatFailsOnTheUserEndsTheStepsWhereTheEvaluatorFailed() {
        FlagSet set = FlagSet.of(new Flag("f", null, true, null, List.of(), List.of(), List.of(
                new Rule("eu", List.of(new Condition.Regions(List.of("eu-west"))), true, null),
                new Rule("regex", List.of(new Condition.Attribute("bio", Operator.MATCHES, List.of("[a-z]{1000}!"), false, false)),
                        true, null)), false, 1));
        Explanation e = set.explain("f", User.withId("u").attribute("bio", "a".repeat(20_000)));
        assertThat(e.evaluation().reason().kind()).isEqualTo(Reason.Kind.ERROR);
        assertThat(e.steps()).hasSize(3);
        Step last = e.steps().get(2);
        assertThat(List.of(last.kind(), last.index(), last.matched())).containsExactly(Kind.RULE, 1, false);
        assertThat(last.detail()).startsWith("conditions[0]: failed on this user: the flag's regular expressions took more than");
    }

    @Test
    void aZeroPercentRuleIsToldAsIncludingNobodyWithoutRunningItsOtherConditionsAsTheEvaluatorSkipsIt() {
        // The pattern does not hold for this user (with java.util.regex it even uses up the budget); the evaluator never
        // runs it: the rule is 0%. So the explanation names the percentage, not the pattern.
        FlagSet set = FlagSet.of(new Flag("f", null, true, null, List.of(), List.of(), List.of(
                new Rule("not yet", List.of(new Condition.Attribute("bio", Operator.MATCHES, List.of("(.*a){20}$"), false, false),
                        new Condition.Percentage(0)), true, null)), false, 1));
        Explanation e = set.explain("f", User.withId("u").attribute("bio", "a".repeat(40) + "b"));
        assertThat(e.evaluation().reason().kind()).isEqualTo(Reason.Kind.DEFAULT);
        assertThat(e.steps().stream().map(s -> s.kind() + " " + s.index() + " " + s.matched() + " " + s.detail()).toList())
                .containsExactly("SWITCH -1 true the flag is on",
                        "RULE 0 false conditions[1]: percentage 0% includes nobody",
                        "DEFAULT -1 true no target or rule matched: the flag's default, false");
    }

    @Test
    void longListsAreCutAndHiddenGrantsAreNotClaimedToBeNone() {
        String[] roles = new String[5_000];
        for (int i = 0; i < roles.length; i++) {
            roles[i] = "r" + i;
        }
        Explanation e = SET.explain("billing-v2", User.withId("granted-1").roles(roles), false);
        String beta = e.steps().stream().filter(s -> s.index() == 0 && s.kind() == Kind.RULE).findFirst().orElseThrow().detail();
        assertThat(beta).contains(", \"r1005\", ... 4990 more] (the server's grants to this user are not shown to this token);")
                .hasSizeLessThan(400);
        assertThat(SET.explain("billing-v2", User.withId("granted-1"), true).steps().get(2).detail())
                .contains("the role grants give it [\"beta-tester\"]");
    }

    @Test
    void aUserWithoutAnIdGetsTheFirstVariantWithAShareAndIsToldWhy() {
        // A weight of 0 takes a variant out of the experiment: not served to anonymous users either (QA57 F5).
        FlagSet set = FlagSet.fromJson("""
                {"formatVersion": 1, "flags": [{"key": "v", "enabled": true,
                  "variants": [{"key": "a", "weight": 0}, {"key": "b", "weight": 100}, {"key": "c", "weight": 0}],
                  "rules": [{"name": "all", "conditions": []}]}]}""");
        Explanation e = set.explain("v", User.anonymous());
        assertThat(e.evaluation().variant()).isEqualTo("b");
        assertThat(set.evaluate("v", User.anonymous()).reason().detail()).isEqualTo("user has no id, so it cannot be split"
                + " between variants; the first variant with a weight above 0 is served");
        assertThat(e.steps()).last().extracting(Step::detail).isEqualTo("it has no conditions: it matches everyone; it serves"
                + " true, variant \"b\" (the user has no id, so no variant bucket: the first variant with a weight above 0)");
        FlagSet first = FlagSet.fromJson("""
                {"formatVersion": 1, "flags": [{"key": "v", "enabled": true, "default": true,
                  "variants": [{"key": "a", "weight": 0.001}, {"key": "b", "weight": 99.999}]}]}""");
        assertThat(first.evaluate("v", User.anonymous()).variant()).as("any share above 0").isEqualTo("a");
    }

    @Test
    void aDefaultSplitBetweenVariantsStillSaysARolloutWasSkippedForAUserWithoutAnId() {
        // docs/flag-format.md, evaluation order, step 5: a partial rollout skipped for want of an id is said in the
        // reason's detail. With variants served by the default, the variant's sentence replaced it.
        FlagSet set = FlagSet.fromJson("""
                {"formatVersion": 1, "flags": [{"key": "v", "enabled": true, "default": true,
                  "variants": [{"key": "a", "weight": 50}, {"key": "b", "weight": 50}],
                  "rules": [{"name": "half off", "conditions": [{"percentage": 50}], "serve": false}]}]}""");
        Evaluation e = set.evaluate("v", User.anonymous());
        assertThat(e.variant()).isEqualTo("a");
        assertThat(e.reason().detail()).isEqualTo("user has no id, so no partial rollout can include it; user has no id,"
                + " so it cannot be split between variants; the first variant with a weight above 0 is served");
        assertThat(set.explain("v", User.anonymous()).evaluation()).isEqualTo(e);
        assertThat(set.evaluate("v", User.withId("u-1")).reason().detail()).as("a user with an id: no detail").isNull();
    }

    /**
     * The explanation tells the evaluator's story: its last step is what the evaluator's reason names,
     * every step before it (the switch aside) did not match, and the answer is the evaluator's.
     */
    @Property(tries = 2_000)
    void theStepsAgreeWithTheEvaluator(@ForAll("users") User user) {
        for (String key : List.of("billing-v2", "kill-me")) {
            Explanation e = SET.explain(key, user);
            Evaluation answer = SET.evaluate(key, user);
            assertThat(e.evaluation()).isEqualTo(answer);
            Step last = e.steps().get(e.steps().size() - 1);
            Reason reason = answer.reason();
            switch (reason.kind()) {
                case FLAG_OFF -> assertThat(last.kind()).isEqualTo(Kind.SWITCH);
                case TARGET_MATCH -> assertThat(List.of(last.kind(), last.index(), last.matched()))
                        .containsExactly(Kind.TARGETS, reason.ruleIndex(), true);
                case RULE_MATCH -> assertThat(List.of(last.kind(), last.index(), last.matched()))
                        .containsExactly(Kind.RULE, reason.ruleIndex(), true);
                case DEFAULT -> assertThat(last.kind()).isEqualTo(Kind.DEFAULT);
                default -> throw new AssertionError("unexpected " + reason);
            }
            for (Step s : e.steps().subList(Math.min(1, e.steps().size() - 1), e.steps().size() - 1)) {
                assertThat(s.matched()).as(s.toString()).isFalse();
            }
        }
    }

    @Provide
    Arbitrary<User> users() {
        Arbitrary<String> ids = Arbitraries.of("vip-1", "blocked", "granted-1", "u-1", "u-2", "u-3", "u-4", "u-5", "u-6",
                "u-7", "u-8", "u-9", "alice", "bob", "");
        Arbitrary<String> regions = Arbitraries.of("eu-west", "eu-north", "us-east", "");
        Arbitrary<String> plans = Arbitraries.of("gold", "silver", "bronze", "free", "");
        Arbitrary<String> emails = Arbitraries.of("a@example.com", "b@corp.test", "");
        Arbitrary<Integer> seats = Arbitraries.integers().between(-1, 10);
        Arbitrary<Boolean> beta = Arbitraries.of(true, false);
        return Combinators.combine(ids, regions, plans, emails, seats, beta).as((id, region, plan, email, n, b) -> {
            User u = id.isEmpty() ? User.anonymous() : User.withId(id);
            if (!region.isEmpty()) {
                u = u.region(region);
            }
            if (!plan.isEmpty()) {
                u = u.attribute("plan", plan);
            }
            if (!email.isEmpty()) {
                u = u.attribute("email", email);
            }
            if (n >= 0) {
                u = n == 7 ? u.attribute("seats", "many") : u.attribute("seats", n);
            }
            return b ? u.roles("beta-tester") : u;
        });
    }

    private static String idOutsideTheCanary() {
        for (int i = 0; ; i++) {
            String id = "user-" + i;
            if (Bucketing.rolloutBucket("billing-v2", id) >= 10_000) {
                return id;
            }
        }
    }
}
