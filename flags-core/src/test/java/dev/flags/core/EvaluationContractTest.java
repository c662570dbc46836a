package dev.flags.core;

import static dev.flags.core.Fixtures.attribute;
import static dev.flags.core.Fixtures.flag;
import static dev.flags.core.Fixtures.percentage;
import static dev.flags.core.Fixtures.regions;
import static dev.flags.core.Fixtures.roles;
import static dev.flags.core.Fixtures.rule;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** One test per line of the evaluation contract in DESIGN.md ("Evaluation semantics"). */
class EvaluationContractTest {

    private final User alice = User.withId("alice").region("eu-west");

    @Test
    @DisplayName("unknown flag: the default (false), the reason says so, never an exception")
    void unknownFlag() {
        FlagSet flags = FlagSet.of(flag("known", true, rule("all")));
        assertThat(flags.isEnabled("nope", alice)).isFalse();
        assertThat(flags.isEnabled("nope", alice, true)).isTrue();
        assertThat(flags.isEnabled(null, alice)).isFalse();
        Evaluation e = flags.evaluate("nope", alice);
        assertThat(e.value()).isFalse();
        assertThat(e.reason().kind()).isEqualTo(Reason.Kind.FLAG_NOT_FOUND);
        assertThat(e.flagVersion()).isEqualTo(-1);
        assertThat(FlagSet.empty().evaluate("x", alice).reason().kind()).isEqualTo(Reason.Kind.FLAG_NOT_FOUND);
        Evaluation nullKey = flags.evaluate(null, alice, true);
        assertThat(nullKey.reason().kind()).as("a null key is the caller's bug, not a missing flag").isEqualTo(Reason.Kind.ERROR);
        assertThat(nullKey.reason().detail()).isEqualTo("the flag key was null");
        assertThat(nullKey.value()).isTrue();
    }

    @Test
    @DisplayName("a disabled flag is off for everyone (kill switch), whatever its rules say")
    void killSwitch() {
        Flag on = new Flag("billing-v2", null, true, null, List.of(), List.of(new Target(List.of("alice"), true, null)),
                List.of(rule("everyone")), true, 7);
        Flag off = on.withEnabled(false);
        assertThat(FlagSet.of(on).isEnabled("billing-v2", alice)).isTrue();
        FlagSet killed = FlagSet.of(off);
        assertThat(killed.isEnabled("billing-v2", alice)).isFalse();
        assertThat(killed.isEnabled("billing-v2", User.withId("bob"), true)).isFalse();
        Evaluation e = killed.evaluate("billing-v2", alice);
        assertThat(e.reason().kind()).isEqualTo(Reason.Kind.FLAG_OFF);
        assertThat(e.flagVersion()).isEqualTo(7);
    }

    @Test
    @DisplayName("rules are tried in order, the first that matches decides")
    void firstMatchingRuleDecides() {
        Flag flag = new Flag("f", null, true, null, List.of(), List.of(), List.of(
                new Rule("eu off", List.of(regions("eu-west")), false, null),
                new Rule("everyone on", List.of(), true, null)), false, 1);
        FlagSet flags = FlagSet.of(flag);
        Evaluation eu = flags.evaluate("f", alice);
        assertThat(eu.value()).isFalse();
        assertThat(eu.reason()).isEqualTo(new Reason(Reason.Kind.RULE_MATCH, 0, "eu off", null));
        Evaluation us = flags.evaluate("f", User.withId("bob").region("us-east"));
        assertThat(us.value()).isTrue();
        assertThat(us.reason().ruleIndex()).isEqualTo(1);
        assertThat(us.reason().ruleName()).isEqualTo("everyone on");
    }

    @Test
    @DisplayName("a rule's conditions are ANDed")
    void conditionsAreAnded() {
        FlagSet flags = FlagSet.of(flag("f", true, rule("beta in eu", roles("beta-tester"), regions("eu-west"))));
        assertThat(flags.isEnabled("f", alice.roles("beta-tester"))).isTrue();
        assertThat(flags.isEnabled("f", alice)).isFalse();
        assertThat(flags.isEnabled("f", User.withId("bob").roles("beta-tester").region("us-east"))).isFalse();
    }

    @Test
    @DisplayName("the values inside one condition are ORed")
    void valuesAreOred() {
        FlagSet flags = FlagSet.of(flag("f", true, rule("nordics", regions("eu-west", "eu-north"))));
        assertThat(flags.isEnabled("f", User.withId("a").region("eu-west"))).isTrue();
        assertThat(flags.isEnabled("f", User.withId("b").region("eu-north"))).isTrue();
        assertThat(flags.isEnabled("f", User.withId("c").region("us-east"))).isFalse();
        assertThat(flags.isEnabled("f", User.withId("d"))).isFalse();
    }

    @Test
    @DisplayName("roles: given by the application, or granted to the user's id on the server")
    void rolesFromApplicationOrServerGrant() {
        Flag flag = flag("billing-v2", true, rule("testers", roles("beta-tester")));
        FlagSet withoutGrant = FlagSet.of(flag);
        assertThat(withoutGrant.isEnabled("billing-v2", User.withId("tess"))).isFalse();
        assertThat(withoutGrant.isEnabled("billing-v2", User.withId("tess").roles("beta-tester"))).isTrue();

        FlagSet granted = withoutGrant.withRoleGrants(Map.of("beta-tester", Set.of("tess")), 2);
        assertThat(granted.isEnabled("billing-v2", User.withId("tess"))).isTrue();
        assertThat(granted.isEnabled("billing-v2", User.withId("other"))).isFalse();
        assertThat(granted.version()).isEqualTo(2);
        assertThat(granted.roleGrants()).containsEntry("beta-tester", Set.of("tess"));
        // a grant of another role does not help
        assertThat(withoutGrant.withRoleGrants(Map.of("admin", Set.of("tess")), 3).isEnabled("billing-v2", User.withId("tess")))
                .isFalse();
    }

    @Test
    @DisplayName("roles: users who got or lost a role answer as the whole grants would, the others as before")
    void roleChangesAnswerAsTheWholeGrants() {
        Flag testers = flag("billing-v2", true, rule("testers", roles("beta-tester")));
        Flag staff = flag("staff-only", true, rule("staff", roles("staff")));
        FlagSet before = FlagSet.of(List.of(testers, staff),
                Map.of("beta-tester", Set.of("tess", "tom"), "staff", Set.of("tess", "sam")), 4);

        FlagSet after = before.withRoleChanges(
                Map.of("beta-tester", List.of("ann", "tom"), "qa", List.of("sam")),
                Map.of("beta-tester", List.of("tess", "nobody"), "staff", List.of("sam")), 5);

        Map<String, Set<String>> whole = Map.of("beta-tester", Set.of("tom", "ann"), "staff", Set.of("tess"), "qa", Set.of("sam"));
        assertThat(after.roleGrants()).isEqualTo(whole);
        assertThat(after.version()).isEqualTo(5);
        FlagSet rebuilt = before.withRoleGrants(whole, 5);
        for (String user : List.of("tess", "tom", "ann", "sam", "nobody")) {
            for (String key : List.of("billing-v2", "staff-only")) {
                assertThat(after.evaluate(key, User.withId(user))).as("%s for %s", key, user)
                        .isEqualTo(rebuilt.evaluate(key, User.withId(user)));
            }
        }
        assertThat(after.isEnabled("billing-v2", User.withId("tess"))).isFalse();
        assertThat(after.isEnabled("staff-only", User.withId("tess"))).as("another role of hers stays").isTrue();
        assertThat(after.isEnabled("billing-v2", User.withId("ann"))).isTrue();
        assertThat(before.isEnabled("billing-v2", User.withId("tess"))).as("the set before did not move").isTrue();
        assertThat(after.withRoleChanges(Map.of(), Map.of("staff", List.of("tess")), 6).roleGrants())
                .as("a role left with no member is gone").doesNotContainKey("staff");
    }

    @Test
    @DisplayName("names and keys match by value: strings built at run time, few roles or many")
    void namesMatchByValueNotByIdentity() {
        FlagSet flags = FlagSet.of(flag("billing-v2", true, rule("testers", roles("beta-tester"))),
                flag("eu", true, rule("eu", regions("eu-west"))));
        String builtRole = new StringBuilder("beta-").append("tester").toString();
        String builtKey = new String("billing-v2".toCharArray());
        assertThat(flags.isEnabled(builtKey, User.withId("a").roles(builtRole))).isTrue();
        assertThat(flags.isEnabled("eu", User.withId("a").region(new StringBuilder("eu-").append("west").toString())))
                .isTrue();

        // more roles than the user keeps in its short list: the set answers instead
        String[] many = new String[20];
        for (int i = 0; i < many.length; i++) {
            many[i] = "role-" + i;
        }
        User crowded = User.withId("a").roles(many);
        assertThat(flags.isEnabled("billing-v2", crowded)).isFalse();
        assertThat(flags.isEnabled("billing-v2", crowded.roles(builtRole))).isTrue();
        assertThat(crowded.roles(builtRole).hasRole("beta-tester")).isTrue();
        assertThat(crowded.hasRole("role-19")).isTrue();
        assertThat(crowded.roles()).hasSize(20).startsWith("role-0", "role-1");
        assertThat(User.withId("a").roles("x", "y").hasRole("y")).isTrue();
        assertThat(User.withId("a").roles("x", "y").hasRole("z")).isFalse();
        assertThat(User.anonymous().hasRole("x")).isFalse();
    }

    @Test
    @DisplayName("a user without a sticky key is never inside a partial rollout, and the reason says so")
    void noStickyKeyNoPartialRollout() {
        FlagSet flags = FlagSet.of(flag("f", true, rule("half", percentage(99.999))));
        Evaluation e = flags.evaluate("f", User.anonymous());
        assertThat(e.value()).isFalse();
        assertThat(e.reason().kind()).isEqualTo(Reason.Kind.DEFAULT);
        assertThat(e.reason().detail()).contains("no id");
        // 100% is everyone, with or without an id; 0% is nobody
        assertThat(FlagSet.of(flag("g", true, rule("all", percentage(100)))).isEnabled("g", User.anonymous())).isTrue();
        assertThat(FlagSet.of(flag("h", true, rule("none", percentage(0)))).isEnabled("h", User.withId("x"))).isFalse();
    }

    @Test
    @DisplayName("a null user gives the caller's default and a reason")
    void nullUser() {
        FlagSet flags = FlagSet.of(flag("f", true, rule("all")));
        assertThat(flags.isEnabled("f", null)).isFalse();
        assertThat(flags.isEnabled("f", null, true)).isTrue();
        Evaluation e = flags.evaluate("f", null, true);
        assertThat(e.value()).isTrue();
        assertThat(e.reason().kind()).isEqualTo(Reason.Kind.ERROR);
        assertThat(e.reason().detail()).contains("null");
    }

    @Test
    @DisplayName("the kill switch wins over a null user: a switched-off flag is off whatever the caller's default")
    void switchedOffFlagIsOffForANullUser() {
        FlagSet flags = FlagSet.of(flag("killed", false, rule("all")));
        assertThat(flags.isEnabled("killed", null, true)).as("a null user by a bug must not turn a killed feature on")
                .isFalse();
        Evaluation e = flags.evaluate("killed", null, true);
        assertThat(e.value()).isFalse();
        assertThat(e.reason().kind()).isEqualTo(Reason.Kind.FLAG_OFF);
        assertThat(e.flagVersion()).isEqualTo(1);
        assertThat(flags.variant("killed", null)).isNull();
        assertThat(flags.evaluateAll(null).get("killed").reason().kind()).isEqualTo(Reason.Kind.FLAG_OFF);
        assertThat(flags.explain("killed", null).evaluation().reason().kind()).isEqualTo(Reason.Kind.FLAG_OFF);
    }

    @Test
    @DisplayName("an evaluation that hits a broken rule returns the default with an error reason, never throws")
    void brokenRuleGivesDefaultAndError() {
        // A pattern of about a thousand instructions on 20,000 characters takes more steps than an evaluation may:
        // the rule breaks at evaluation time.
        Flag flag = flag("f", true, rule("regex", attribute("bio", Operator.MATCHES, "[a-z]{1000}!")));
        FlagSet flags = FlagSet.of(flag);
        User user = User.withId("u").attribute("bio", "a".repeat(20_000));
        assertThat(flags.isEnabled("f", user, true)).isTrue();
        Evaluation e = flags.evaluate("f", user, true);
        assertThat(e.value()).isTrue();
        assertThat(e.reason().kind()).isEqualTo(Reason.Kind.ERROR);
        assertThat(e.flagVersion()).isEqualTo(1);
    }

    @Test
    @DisplayName("a flag that is not there is told to the handler's unknownFlag (not a null key), and its own failure is ignored")
    void unknownFlagsAreToldToTheHandler() {
        FlagSet flags = FlagSet.of(flag("known", true));
        List<String> heard = new ArrayList<>();
        EvaluationFailureHandler handler = new EvaluationFailureHandler() {
            @Override
            public void failed(String flagKey, long flagVersion, Throwable failure) {
                heard.add("failed " + flagKey);
            }

            @Override
            public void unknownFlag(String flagKey) {
                heard.add("unknown " + flagKey);
            }
        };
        User user = User.withId("u");
        assertThat(flags.isEnabled("typo", user, true, handler)).isTrue();
        assertThat(flags.evaluate("gone", null, false, handler).reason().kind()).isEqualTo(Reason.Kind.FLAG_NOT_FOUND);
        flags.isEnabled("known", user, false, handler);
        flags.isEnabled(null, user, false, handler);
        flags.evaluate(null, user, false, handler);
        assertThat(heard).containsExactly("unknown typo", "unknown gone");

        EvaluationFailureHandler throwing = new EvaluationFailureHandler() {
            @Override
            public void failed(String flagKey, long flagVersion, Throwable failure) {
            }

            @Override
            public void unknownFlag(String flagKey) {
                throw new IllegalStateException("the handler's own bug");
            }
        };
        assertThat(flags.isEnabled("typo", user, true, throwing)).isTrue();
        assertThat(flags.evaluate("typo", user, true, throwing).value()).isTrue();
        assertThat(flags.isEnabled("typo", user, true, (k, v, f) -> { })).as("a lambda handler ignores unknown flags").isTrue();
    }

    @Test
    @DisplayName("a broken rule is not silent: the failure handler hears of it (not of a null user), and its own failure is ignored")
    void brokenRuleTellsTheFailureHandler() {
        Flag flag = new Flag("f", null, true, null, List.of(), List.of(),
                List.of(rule("regex", attribute("bio", Operator.MATCHES, "[a-z]{1000}!"))), false, 4);
        FlagSet flags = FlagSet.of(flag);
        User user = User.withId("u").attribute("bio", "a".repeat(20_000));
        List<String> heard = new ArrayList<>();
        EvaluationFailureHandler handler = (key, version, failure) ->
                heard.add(key + " v" + version + " " + failure.getClass().getSimpleName());

        assertThat(flags.isEnabled("f", user, true, handler)).isTrue();
        assertThat(flags.evaluate("f", user, true, handler).reason().kind()).isEqualTo(Reason.Kind.ERROR);
        assertThat(heard).containsExactly("f v4 TooMuchPatternWorkException", "f v4 TooMuchPatternWorkException");

        heard.clear();
        assertThat(flags.isEnabled("f", null, true, handler)).isTrue();
        assertThat(flags.evaluate("f", null, true, handler).reason().kind()).isEqualTo(Reason.Kind.ERROR);
        assertThat(flags.isEnabled("f", User.withId("short").attribute("bio", "a".repeat(1000) + "!"), false, handler)).isTrue();
        assertThat(heard).as("a null user is the caller's error, and a rule that works is no failure").isEmpty();

        EvaluationFailureHandler throwing = (key, version, failure) -> {
            throw new IllegalStateException("the handler's own bug");
        };
        assertThat(flags.isEnabled("f", user, true, throwing)).isTrue();
        assertThat(flags.evaluate("f", user, false, throwing).value()).isFalse();
    }

    @Test
    @Timeout(60) // with a backtracking engine, the first evaluation below runs for hours: a guard, not a measurement
    @DisplayName("a pattern runs in time linear in the value: one that made java.util.regex backtrack without end answers at once")
    void patternsThatBacktrackedWithoutEndAnswerAtOnce() {
        // (?:|) twice forty times tries 2^40 ways on the empty value without reading a character: no budget of reads
        // could stop java.util.regex on it (QA68 F1). (.*a){20}$ backtracked for minutes on 61 characters.
        Flag flag = new Flag("f", null, true, null, List.of(), List.of(), List.of(
                rule("empty ways", attribute("email", Operator.MATCHES, "^(?:|){40}z")),
                rule("nested stars", attribute("email", Operator.MATCHES, "(.*a){20}$"))), false, 2);
        FlagSet flags = FlagSet.of(flag);
        for (String value : List.of("", "a".repeat(60) + "!", "x".repeat(10_000))) {
            Evaluation e = flags.evaluate("f", User.withId("u").attribute("email", value), true);
            assertThat(e.reason().kind()).as(value.length() + " characters").isEqualTo(Reason.Kind.DEFAULT);
        }
        assertThat(flags.evaluate("f", User.withId("u").attribute("email", "a".repeat(20))).reason().kind())
                .isEqualTo(Reason.Kind.RULE_MATCH);
    }

    @Test
    @DisplayName("one evaluation's patterns may take at most 10,000,000 steps, each character read costing the pattern's size")
    void patternWorkIsBounded() {
        // About a thousand instructions on 20,000 characters: 20 million steps or more, past the budget
        Flag flag = new Flag("f", null, true, null, List.of(), List.of(),
                List.of(rule("big", attribute("email", Operator.MATCHES, "[a-z]{1000}!"))), false, 2);
        FlagSet flags = FlagSet.of(flag);
        User longValue = User.withId("u").attribute("email", "a".repeat(20_000));
        List<String> heard = new ArrayList<>();
        assertThat(flags.isEnabled("f", longValue, true, (k, v, e) -> heard.add(e.getMessage()))).isTrue();
        Evaluation e = flags.evaluate("f", longValue, false);
        assertThat(e.reason().kind()).isEqualTo(Reason.Kind.ERROR);
        assertThat(e.reason().detail()).contains("took more than 10000000 steps in one evaluation");
        assertThat(heard).singleElement().asString().startsWith("the flag's regular expressions took more than 10000000"
                + " steps in one evaluation (each character read costs the pattern's compiled size), the last"
                + " \"[a-z]{1000}!\" on a value of 20000 characters");
        assertThat(e.reason().detail()).as("no class name for people").doesNotContain("Exception");
        assertThat(flags.evaluate("f", User.withId("u").attribute("email", "a".repeat(1000) + "!")).reason().kind())
                .as("the same pattern on a short value").isEqualTo(Reason.Kind.RULE_MATCH);
        // what the patterns took on this thread is told, so that a server evaluating for someone can charge them
        long before = FlagSet.patternStepsOnThisThread();
        flags.evaluate("f", longValue, false);
        assertThat(FlagSet.patternStepsOnThisThread() - before).isBetween(10_000_000L, 10_002_000L);
        long quiet = FlagSet.patternStepsOnThisThread();
        flags.evaluate("f", User.withId("u").attribute("email", "abc"), false);
        assertThat(FlagSet.patternStepsOnThisThread() - quiet).isBetween(1L, 20_000L);

        // The budget is the evaluation's, not each pattern's: a flag may hold thousands of patterns that
        // each stay under it (1,000 of about ten instructions each on 2,400 characters: tens of millions of steps).
        List<String> many = new ArrayList<>();
        for (int i = 0; i < 1_000; i++) {
            many.add(".*zz" + i);
        }
        FlagSet manyPatterns = FlagSet.of(new Flag("many", null, true, null, List.of(), List.of(), List.of(new Rule("r",
                List.of(new Condition.Attribute("ua", Operator.MATCHES, many, false, false)), true, null)), false, 1));
        User agent = User.withId("u").attribute("ua", "b".repeat(2_400));
        assertThat(manyPatterns.evaluate("many", agent).reason().kind()).isEqualTo(Reason.Kind.ERROR);
        assertThat(manyPatterns.evaluate("many", User.withId("u").attribute("ua", "bzz7")).reason().kind())
                .as("each evaluation has the whole budget again").isEqualTo(Reason.Kind.RULE_MATCH);

        // Small patterns stay far below the bound, even unanchored on a long value.
        Flag scans = new Flag("g", null, true, null, List.of(), List.of(), List.of(
                rule("contains foo", attribute("agent", Operator.MATCHES, ".*foo")),
                rule("country", attribute("country", Operator.MATCHES, "^(DE|AT|CH)$"))), false, 1);
        FlagSet ok = FlagSet.of(scans);
        String longText = "x".repeat(User.MAX_NAME_LENGTH * 2);
        assertThat(ok.evaluate("g", User.withId("u").attribute("agent", longText)).reason().kind()).isEqualTo(Reason.Kind.DEFAULT);
        assertThat(ok.evaluate("g", User.withId("u").attribute("agent", longText + "foo")).reason().kind()).isEqualTo(Reason.Kind.RULE_MATCH);
        assertThat(ok.isEnabled("g", User.withId("u").attribute("country", "AT"))).isTrue();
    }

    @Test
    @DisplayName("no rule matches: the flag's default, reason DEFAULT")
    void defaultWhenNothingMatches() {
        Flag flag = new Flag("f", null, true, null, List.of(), List.of(), List.of(rule("beta", roles("beta"))), true, 3);
        Evaluation e = FlagSet.of(flag).evaluate("f", alice);
        assertThat(e.value()).isTrue();
        assertThat(e.reason()).isEqualTo(new Reason(Reason.Kind.DEFAULT, -1, null, null));
        assertThat(e.flagVersion()).isEqualTo(3);
    }

    @Test
    @DisplayName("individual targeting is tried before the rules")
    void targetsBeforeRules() {
        Flag flag = new Flag("f", null, true, null, List.of(),
                List.of(new Target(List.of("bob"), true, null), new Target(List.of("alice"), false, null)),
                List.of(rule("everyone")), false, 1);
        FlagSet flags = FlagSet.of(flag);
        assertThat(flags.evaluate("f", alice).value()).isFalse();
        assertThat(flags.evaluate("f", alice).reason()).isEqualTo(new Reason(Reason.Kind.TARGET_MATCH, 1, null, null));
        assertThat(flags.evaluate("f", User.withId("bob")).reason().ruleIndex()).isZero();
        assertThat(flags.evaluate("f", User.withId("carol")).reason().kind()).isEqualTo(Reason.Kind.RULE_MATCH);
    }

    @Test
    @DisplayName("a rule can serve a fixed variant; a variant is only served with true")
    void fixedVariants() {
        Flag flag = new Flag("exp", null, true, null,
                List.of(new Variant("control", 50, null), new Variant("treatment", 50, "{\"colour\":\"green\"}")),
                List.of(new Target(List.of("qa"), true, "treatment")),
                List.of(new Rule("staff", List.of(roles("staff")), true, "control"),
                        new Rule("blocked", List.of(regions("cn")), false, null)), true, 1);
        FlagSet flags = FlagSet.of(flag);
        assertThat(flags.evaluate("exp", User.withId("qa")).variant()).isEqualTo("treatment");
        assertThat(flags.evaluate("exp", User.withId("qa")).payload()).isEqualTo("{\"colour\":\"green\"}");
        assertThat(flags.variant("exp", User.withId("s").roles("staff"))).isEqualTo("control");
        assertThat(flags.variant("exp", User.withId("c").region("cn"))).isNull();
        assertThat(flags.variant("exp", User.withId("anyone"))).isIn("control", "treatment");
        Evaluation anonymous = flags.evaluate("exp", User.anonymous());
        assertThat(anonymous.variant()).isEqualTo("control");
        assertThat(anonymous.reason().detail()).contains("no id");
    }

    @Test
    @DisplayName("evaluateAll answers every flag")
    void evaluateAll() {
        FlagSet flags = FlagSet.of(flag("a", true, rule("all")), flag("b", false, rule("all")));
        Map<String, Evaluation> all = flags.evaluateAll(alice);
        assertThat(all).containsOnlyKeys("a", "b");
        assertThat(all.get("a").value()).isTrue();
        assertThat(all.get("b").value()).isFalse();
    }

    @Test
    @DisplayName("changes make new sets; the old set is untouched")
    void changesMakeNewSets() {
        FlagSet v1 = FlagSet.of(flag("a", true, rule("all")));
        FlagSet v2 = v1.withFlag(flag("a", false, rule("all")), 2).withFlag(flag("b", true, rule("all")), 3);
        FlagSet v3 = v2.withoutFlag("a", 4);
        assertThat(v1.isEnabled("a", alice)).isTrue();
        assertThat(v2.isEnabled("a", alice)).isFalse();
        assertThat(v2.isEnabled("b", alice)).isTrue();
        assertThat(v3.flag("a")).isEmpty();
        assertThat(v3.version()).isEqualTo(4);
        assertThat(v3.size()).isEqualTo(1);
        // The shared empty set is a starting point too, and stays empty.
        assertThat(FlagSet.empty().withFlag(flag("a", true, rule("all")), 1).size()).isEqualTo(1);
        assertThat(FlagSet.empty().size()).isZero();
        assertThat(FlagSet.empty().flag("a")).isEmpty();
    }

    @Test
    @DisplayName("several changes at once answer as the same changes one by one")
    void changesAtOnce() {
        FlagSet v1 = FlagSet.of(flag("a", true, rule("all")), flag("b", true, rule("all")), flag("c", true, rule("all")));
        FlagSet batch = v1.withChanges(List.of(flag("a", false, rule("all")), flag("d", true, rule("all"))),
                List.of("b", "unknown"), 7);
        FlagSet oneByOne = v1.withFlag(flag("a", false, rule("all")), 5).withFlag(flag("d", true, rule("all")), 6)
                .withoutFlag("b", 7);
        assertThat(batch.version()).isEqualTo(7);
        assertThat(batch.flags()).containsExactlyInAnyOrderElementsOf(oneByOne.flags());
        assertThat(batch.evaluateAll(alice)).isEqualTo(oneByOne.evaluateAll(alice));
        assertThat(v1.size()).isEqualTo(3); // untouched
        assertThat(v1.isEnabled("a", alice)).isTrue();
        assertThat(v1.flag("b")).isPresent();
        assertThat(v1.flag("d")).isEmpty();
        Flag bad = new Flag("e", null, true, null, List.of(), List.of(),
                List.of(new Rule("r", List.of(new Condition.Percentage(101)), true, null)), false, 0);
        assertThatThrownBy(() -> v1.withChanges(List.of(flag("a", false, rule("all")), bad), List.of(), 8))
                .isInstanceOf(FlagValidationException.class).hasMessageContaining("percentage");
    }
}
