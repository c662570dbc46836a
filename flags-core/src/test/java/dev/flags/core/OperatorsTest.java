package dev.flags.core;

import static dev.flags.core.Fixtures.flag;
import static dev.flags.core.Fixtures.rule;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Every attribute operator, with matching and non-matching values, and missing or unreadable attributes. */
class OperatorsTest {

    private static boolean eval(Condition.Attribute condition, UnaryOperator<User> user) {
        FlagSet flags = FlagSet.of(flag("f", true, rule("r", condition)));
        return flags.isEnabled("f", user.apply(User.withId("u")));
    }

    private static Condition.Attribute cond(String op, String... values) {
        return new Condition.Attribute("a", Operator.fromJsonName(op).orElseThrow(), List.of(values), false, false);
    }

    @ParameterizedTest(name = "{0} {1} {2} -> {3}")
    @CsvSource(delimiter = '|', value = {
            "in          | pro           | free;pro       | true",
            "in          | Pro           | free;pro       | false",
            "in          | team          | free;pro       | false",
            "notIn       | team          | free;pro       | true",
            "notIn       | pro           | free;pro       | false",
            "contains    | alice@corp.io | @corp.;@x.     | true",
            "contains    | alice@home.io | @corp.         | false",
            "startsWith  | de-AT         | fr;de          | true",
            "startsWith  | en-US         | fr;de          | false",
            "endsWith    | a@corp.io     | .com;.io       | true",
            "endsWith    | a@corp.de     | .com;.io       | false",
            "matches     | order-1234    | ^order-\\d+$   | true",
            "matches     | order-12a4    | ^order-\\d+$   | false",
            "numEq       | 12            | 11;12          | true",
            "numEq       | 12.0          | 12             | true",
            "numEq       | 13            | 11;12          | false",
            "numLt       | 9.5           | 10             | true",
            "numLt       | 10            | 10             | false",
            "numLte      | 10            | 10             | true",
            "numGt       | 11            | 10             | true",
            "numGt       | 10            | 10             | false",
            "numGte      | 10            | 10             | true",
            "numGte      | abc           | 10             | false",
            "semverEq    | 1.2.3         | 1.2.3          | true",
            "semverEq    | v1.2.3+build7 | 1.2.3          | true",
            "semverLt    | 1.2.3-beta.2  | 1.2.3          | true",
            "semverLt    | 1.2.3-beta.2  | 1.2.3-beta.11  | true",
            "semverLt    | 1.2.3-beta    | 1.2.3-alpha    | false",
            "semverLt    | 1.10.0        | 1.9.0          | false",
            "semverLte   | 1.9.0         | 1.9.0          | true",
            "semverGt    | 2.0.0         | 1.99.99        | true",
            "semverGt    | 1.0.0-rc.1    | 1.0.0          | false",
            "semverGte   | 1.0.0         | 1.0.0-rc.1     | true",
            "semverGte   | not-a-version | 1.0.0          | false",
            "before      | 2026-01-01T00:00:00Z | 2026-06-01T00:00:00Z | true",
            "before      | 2026-07-01T00:00:00Z | 2026-06-01T00:00:00Z | false",
            "after       | 2026-07-01T00:00:00Z | 2026-06-01T00:00:00Z | true",
            "after       | 2026-05-01T00:00:00Z | 2026-06-01T00:00:00Z | false",
            "after       | yesterday     | 2026-06-01T00:00:00Z | false",
    })
    void operatorOnAStringAttribute(String op, String attributeValue, String values, boolean expected) {
        assertThat(eval(cond(op, values.split(";")), u -> u.attribute("a", attributeValue))).isEqualTo(expected);
    }

    @Test
    void numbersAndInstantsAndBooleansAreComparedAsWhatTheyAre() {
        assertThat(eval(cond("numGte", "10"), u -> u.attribute("a", 12))).isTrue();
        assertThat(eval(cond("numLt", "10"), u -> u.attribute("a", 12))).isFalse();
        assertThat(eval(cond("in", "12"), u -> u.attribute("a", 12))).isTrue(); // text of 12.0 is "12"
        assertThat(eval(cond("in", "true"), u -> u.attribute("a", true))).isTrue();
        assertThat(eval(cond("numEq", "1"), u -> u.attribute("a", true))).isFalse();
        Instant t = Instant.parse("2026-03-01T10:00:00Z");
        assertThat(eval(cond("before", "2026-03-01T10:00:01Z"), u -> u.attribute("a", t))).isTrue();
        assertThat(eval(cond("after", "2026-03-01T10:00:00Z"), u -> u.attribute("a", t))).isFalse();
        // a number is read as milliseconds since the epoch for date operators
        assertThat(eval(cond("after", "1970-01-01T00:00:00Z"), u -> u.attribute("a", 1000))).isTrue();
    }

    @Test
    void aDecimalNumberIsReadAsMillisecondsWithTheirFraction() {
        // docs/flag-format.md: date operators read numbers as milliseconds since the epoch. A double's fraction was cut
        // toward 0: 1.5 ms was not after 1 ms, and -0.5 ms (before the epoch) was the epoch itself.
        assertThat(eval(cond("after", "1970-01-01T00:00:00.001Z"), u -> u.attribute("a", 1.5))).as("1.5 ms after 1 ms").isTrue();
        assertThat(eval(cond("before", "1970-01-01T00:00:00.002Z"), u -> u.attribute("a", 1.5))).isTrue();
        assertThat(eval(cond("before", "1970-01-01T00:00:00Z"), u -> u.attribute("a", -0.5))).as("-0.5 ms").isTrue();
        assertThat(eval(cond("after", "1969-12-31T23:59:59.999Z"), u -> u.attribute("a", -0.5))).isTrue();
        assertThat(eval(cond("after", "1970-01-01T00:00:00.001Z"), u -> u.attribute("a", 1.0))).as("1 ms is not after itself").isFalse();
        // Far out, as before: a double beyond what a long holds is the furthest instant a long's milliseconds give.
        assertThat(eval(cond("after", "2026-01-01T00:00:00Z"), u -> u.attribute("a", 1e300))).isTrue();
        assertThat(eval(cond("before", "2026-01-01T00:00:00Z"), u -> u.attribute("a", -1e300))).isTrue();
        assertThat(eval(cond("after", "2026-01-01T00:00:00Z"), u -> u.attribute("a", 1.7e12 + 0.25))).isFalse();
    }

    @Test
    void wholeNumbersBeyondWhatADoubleHoldsCompareExactly() throws Exception {
        // 64-bit ids 89 apart: equal as doubles (both 1.2345678901234568E18), different as what they are
        Condition.Attribute blocked = cond("numEq", "1234567890123456789");
        assertThat(eval(blocked, u -> u.attribute("a", 1234567890123456789L))).isTrue();
        assertThat(eval(blocked, u -> u.attribute("a", 1234567890123456700L))).as("another org, a long").isFalse();
        assertThat(eval(blocked, u -> u.attribute("a", "1234567890123456700"))).as("another org, as text").isFalse();
        assertThat(eval(blocked, u -> u.attribute("a", " 1234567890123456789 "))).isTrue();
        assertThat(eval(cond("numGt", "9007199254740992"), u -> u.attribute("a", 9007199254740993L))).as("2^53 + 1 > 2^53").isTrue();
        assertThat(eval(cond("numLt", "9007199254740993"), u -> u.attribute("a", 9007199254740992L))).isTrue();
        assertThat(eval(cond("in", "9007199254740993"), u -> u.attribute("a", 9007199254740993L))).as("in, as text").isTrue();
        // whole numbers a double holds, and fractions: as before, whichever way the application gave them
        assertThat(eval(cond("numEq", "12"), u -> u.attribute("a", 12L))).isTrue();
        assertThat(eval(cond("numEq", "12"), u -> u.attribute("a", 12.0))).isTrue();
        assertThat(eval(cond("numEq", "0.1"), u -> u.attribute("a", 0.1))).as("the double nearest 0.1 is 0.1").isTrue();
        assertThat(eval(cond("numEq", "0.1"), u -> u.attribute("a", "0.10"))).isTrue();
        assertThat(eval(cond("numGte", "0.5"), u -> u.attribute("a", 1L))).isTrue();
        assertThat(eval(cond("numLt", "0.1"), u -> u.attribute("a", 0L))).isTrue();
        assertThat(eval(cond("numGt", "10"), u -> u.attribute("a", "1e3"))).isTrue();
        assertThat(eval(cond("numGt", "10"), u -> u.attribute("a", "Infinity"))).as("unreadable: never matches").isFalse();
        // values the validator takes as numbers, as Double.parseDouble does: white space around, a hex float
        assertThat(eval(cond("numGt", " 5"), u -> u.attribute("a", 6L))).isTrue();
        assertThat(eval(cond("numEq", "0x1p3"), u -> u.attribute("a", 8L))).isTrue();
        assertThat(FlagFormat.toJson(flag("f", true, rule("r", cond("numGt", " 5")))).toString()).as("written as the number")
                .contains("[5]");
        // text attributes: ASCII digits only exactly; the old forms still read; other scripts' digits are no number
        assertThat(eval(cond("numEq", "18"), u -> u.attribute("a", "18d"))).isTrue();
        assertThat(eval(cond("numEq", "12"), u -> u.attribute("a", "0".repeat(150) + "12"))).isTrue();
        assertThat(eval(cond("numEq", "12"), u -> u.attribute("a", "\uff11\uff12"))).as("fullwidth digits").isFalse();
        // a user read from JSON keeps a whole number whole, as the playground and the flag file's tools read it
        User fromJson = FlagFormat.readUser(new com.fasterxml.jackson.databind.ObjectMapper().readTree(
                "{\"id\": \"u\", \"attributes\": {\"a\": 1234567890123456700, \"b\": 1.5}}"));
        assertThat(fromJson.attribute("a")).isEqualTo(1234567890123456700L);
        assertThat(fromJson.attribute("b")).isEqualTo(1.5);
        assertThat(FlagSet.of(flag("f", true, rule("r", blocked))).isEnabled("f", fromJson)).isFalse();
    }

    @Test
    void aNumberInTextBeyondADoublesRangeIsNoNumberHoweverWritten() {
        // docs/flag-format.md: "1e400" is read as infinite and so is not a number; the attribute counts as missing.
        // It was read exactly, as a BigDecimal, and so matched "numGt 5", and, negated, "not numLt 5".
        assertThat(eval(cond("numGt", "5"), u -> u.attribute("a", "1e400"))).as("1e400").isFalse();
        assertThat(eval(cond("numLt", "5"), u -> u.attribute("a", "-1E+400"))).as("-1E+400").isFalse();
        Condition.Attribute notBelow5 = new Condition.Attribute("a", Operator.NUM_LT, List.of("5"), true, false);
        assertThat(eval(notBelow5, u -> u.attribute("a", "1e400"))).as("negated: still treated as missing").isFalse();
        // Written out in full it is no number either (it was not, beyond 100 characters), nor just past the largest double.
        assertThat(eval(cond("numGt", "5"), u -> u.attribute("a", "1" + "0".repeat(400)))).isFalse();
        assertThat(eval(cond("numGt", "5"), u -> u.attribute("a", "1.8e308"))).isFalse();
        // Up to the largest double, and what rounds to it, it is a number, as the flag's own values are.
        assertThat(eval(cond("numGt", "5"), u -> u.attribute("a", "1.7976931348623157e308"))).isTrue();
        assertThat(eval(cond("numGt", "5"), u -> u.attribute("a", "1.79769313486231580e308"))).isTrue();
        assertThat(eval(cond("numGt", "5"), u -> u.attribute("a", "1e308"))).isTrue();
        assertThat(eval(cond("numEq", "0"), u -> u.attribute("a", "0e500"))).as("0, whatever its exponent").isTrue();
    }

    @Test
    void aNumberInTextNearerZeroThanADoubleHoldsIsNoNumberAndAWriteMayNotAddOne() {
        // "1e-400" is not 0, yet a double reads it as 0: as a value it compared as 0 with a double (and as itself with a
        // long), so numEq 1e-400 held for 0.0 and not for 0 (QA88 F4). It is no number now, as "1e400" is: that value
        // never holds, and an attribute so written counts as missing.
        for (java.util.function.UnaryOperator<User> zero : List.<java.util.function.UnaryOperator<User>>of(
                u -> u.attribute("a", 0.0), u -> u.attribute("a", 0L), u -> u.attribute("a", "0"))) {
            assertThat(eval(cond("numEq", "1e-400"), zero)).as("no value: holds for no zero").isFalse();
            assertThat(eval(cond("numGte", "1e-400"), zero)).isFalse();
            assertThat(eval(cond("numEq", "1e-400", "0"), zero)).as("the list's other values still do").isTrue();
        }
        assertThat(eval(cond("numLt", "1e-400"), u -> u.attribute("a", -1.0))).isFalse();
        assertThat(eval(cond("numEq", "0"), u -> u.attribute("a", "1e-400"))).as("an attribute so written: missing").isFalse();
        assertThat(eval(cond("numGt", "0"), u -> u.attribute("a", "1e-400"))).isFalse();
        Condition.Attribute notAbove0 = new Condition.Attribute("a", Operator.NUM_GT, List.of("0"), true, false);
        assertThat(eval(notAbove0, u -> u.attribute("a", "1e-400"))).as("negated: still treated as missing").isFalse();
        assertThat(eval(cond("numEq", "0"), u -> u.attribute("a", "0." + "0".repeat(400) + "1"))).as("written out").isFalse();
        assertThat(eval(cond("numEq", "0"), u -> u.attribute("a", "0x1p-2000"))).as("a hex float").isFalse();
        // Down to the smallest double, and 0 however written, it is a number.
        assertThat(eval(cond("numGt", "0"), u -> u.attribute("a", "4.9e-324"))).isTrue();
        assertThat(eval(cond("numGt", "0"), u -> u.attribute("a", "1e-300"))).isTrue();
        assertThat(eval(cond("numEq", "0"), u -> u.attribute("a", "0e-500"))).isTrue();
        assertThat(eval(cond("numEq", "0"), u -> u.attribute("a", "-0.000e-400"))).isTrue();
        assertThat(eval(cond("numEq", "1e-300"), u -> u.attribute("a", 1e-300))).isTrue();

        // A write may not add such a value (one stored by an earlier release stays, and a write that keeps it passes).
        Flag fresh = flag("f", true, rule("r", cond("numEq", "1e-400", "1e-300", "0e-500")));
        assertThat(WriteRules.numbers(null, fresh)).singleElement().satisfies(p -> {
            assertThat(p.path()).isEqualTo("rules[0].conditions[0].values[0]");
            assertThat(p.message()).isEqualTo("is too small a number: nearer 0 than a double holds (about 4.9e-324), but not 0,"
                    + " was \"1e-400\"");
        });
        assertThat(WriteRules.added(null, fresh)).hasSize(1);
        assertThat(WriteRules.numbers(fresh, fresh)).isEmpty();
        assertThat(WriteRules.added(null, flag("f", true, rule("r", cond("in", "1e-400"))))).as("text, for in").isEmpty();
    }

    @Test
    void minusZeroIsZeroHoweverEitherIsWritten() {
        // -0.0 is a finite double (JSON's -0.0 gives it); as a number it is 0, as the text operators read it ("0").
        assertThat(eval(cond("numEq", "0"), u -> u.attribute("a", -0.0))).isTrue();
        assertThat(eval(cond("numLt", "0"), u -> u.attribute("a", -0.0))).isFalse();
        assertThat(eval(cond("numGte", "0"), u -> u.attribute("a", -0.0))).isTrue();
        assertThat(eval(cond("numEq", "-0"), u -> u.attribute("a", 0.0))).isTrue();
        // "-0" as the value: the same answer whether the user's 0 is a long, a double or text
        assertThat(eval(cond("numGt", "-0"), u -> u.attribute("a", 0L))).isFalse();
        assertThat(eval(cond("numGt", "-0"), u -> u.attribute("a", 0.0))).isFalse();
        assertThat(eval(cond("numGt", "-0"), u -> u.attribute("a", "0"))).isFalse();
        assertThat(eval(cond("numLte", "-0.0"), u -> u.attribute("a", 0L))).isTrue();
        assertThat(eval(cond("in", "0"), u -> u.attribute("a", -0.0))).isTrue();
    }

    @Test
    void aMissingAttributeNeverMatchesEvenNegated() {
        for (Operator op : Operator.values()) {
            String value = switch (op.kind()) {
                case NUMBER -> "1";
                case SEMVER -> "1.0.0";
                case DATE -> "2026-01-01T00:00:00Z";
                default -> "x";
            };
            Condition.Attribute plain = new Condition.Attribute("a", op, List.of(value), false, false);
            Condition.Attribute negated = new Condition.Attribute("a", op, List.of(value), true, false);
            assertThat(eval(plain, u -> u)).as(op.jsonName()).isFalse();
            assertThat(eval(negated, u -> u)).as("negated " + op.jsonName()).isFalse();
        }
    }

    @Test
    void negateInvertsForAPresentAttribute() {
        Condition.Attribute notPro = new Condition.Attribute("plan", Operator.IN, List.of("pro"), true, false);
        assertThat(eval(notPro, u -> u.attribute("plan", "free"))).isTrue();
        assertThat(eval(notPro, u -> u.attribute("plan", "pro"))).isFalse();
        // unreadable as the operator needs is treated as missing: no match, negated or not
        Condition.Attribute notOld = new Condition.Attribute("v", Operator.SEMVER_LT, List.of("2.0.0"), true, false);
        assertThat(eval(notOld, u -> u.attribute("v", "garbage"))).isFalse();
        assertThat(eval(notOld, u -> u.attribute("v", "2.1.0"))).isTrue();
    }

    @Test
    void ignoreCaseAppliesToStringOperators() {
        Condition.Attribute in = new Condition.Attribute("a", Operator.IN, List.of("Pro"), false, true);
        assertThat(eval(in, u -> u.attribute("a", "PRO"))).isTrue();
        Condition.Attribute ends = new Condition.Attribute("a", Operator.ENDS_WITH, List.of("@Corp.IO"), false, true);
        assertThat(eval(ends, u -> u.attribute("a", "x@corp.io"))).isTrue();
        Condition.Attribute notIn = new Condition.Attribute("a", Operator.NOT_IN, List.of("pro"), false, true);
        assertThat(eval(notIn, u -> u.attribute("a", "PRO"))).isFalse();
    }

    @Test
    void userIdsCondition() {
        FlagSet flags = FlagSet.of(flag("f", true, rule("ids", new Condition.UserIds(List.of("a", "b")))));
        assertThat(flags.isEnabled("f", User.withId("b"))).isTrue();
        assertThat(flags.isEnabled("f", User.withId("c"))).isFalse();
        assertThat(flags.isEnabled("f", User.anonymous())).isFalse();
    }

    @Test
    void semverOrderFollowsTheSpecification() {
        List<String> ordered = List.of("1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
                "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0");
        for (int i = 0; i + 1 < ordered.size(); i++) {
            assertThat(SemVer.parse(ordered.get(i)).compareTo(SemVer.parse(ordered.get(i + 1))))
                    .as(ordered.get(i) + " < " + ordered.get(i + 1)).isNegative();
        }
        assertThat(SemVer.parse("1.2")).isNull();
        assertThat(SemVer.parse("01.2.3")).isNull();
    }
}
