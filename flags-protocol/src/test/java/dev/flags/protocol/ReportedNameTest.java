package dev.flags.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ReportedNameTest {

    @Test
    void printableNamesUpToTheLimitAreTaken() {
        assertThat(ReportedName.problem("checkout", true)).isNull();
        assertThat(ReportedName.problem("", true)).as("no name").isNull();
        assertThat(ReportedName.problem("Kasse ünd Café 🛒", true)).isNull();
        assertThat(ReportedName.problem("x".repeat(100), true)).isNull();
        assertThat(ReportedName.problem("flags-java/0.1.0", false)).isNull();
    }

    @Test
    void namesPeopleCouldNotReadOrTellApartAreRefusedWithWhereTheyGoWrong() {
        assertThat(ReportedName.problem("x".repeat(101), true)).isEqualTo("is at most 100 characters, was 101");
        assertThat(ReportedName.problem("\uD83D\uDE00".repeat(51), true)).isEqualTo("is at most 100 characters, was 102 UTF-16"
                + " units (51 characters: one beyond the Basic Multilingual Plane, such as an emoji, counts as two)");
        assertThat(ReportedName.problem("shop\u202eppa", true)).isEqualTo(
                "must be printable text (no control, bidirectional or invisible characters), has U+202E at index 4");
        for (char c : new char[] {'\n', '\u0000', '\u007f', '\u2028', '\u2029', '\u200e', '\u200f', '\u061c', '\u2066',
                '\u2069', '\u200b', '\u200d', '\ufeff', '\u2060'}) {
            assertThat(ReportedName.problem("a" + c, true)).as("U+%04X", (int) c).startsWith("must be printable text");
        }
        // What made two applications look alike in the usage view (QA48a F1): the rule of every other name now.
        for (String lookAlike : new String[] {"checkout\u00ad", "\u115f", "a\u3164b", "a\u2800b", "a\u180eb", "a\u2062b",
                "a\ufff9b", "a\uDB40\uDC41b", "\uD834\uDD73x", "a\u034fb", "a\ufe0fb", "a\uffa0b", "a\u17b4b"}) {
            assertThat(ReportedName.problem(lookAlike, true)).as(lookAlike).startsWith("must be printable text");
            assertThat(ReportedName.problem(lookAlike, false)).as("the sdk's too: " + lookAlike).startsWith("must be printable text");
        }
        assertThat(ReportedName.problem("(unnamed) ", true)).isEqualTo("must not begin or end with a space");
        assertThat(ReportedName.problem(" checkout", true)).isEqualTo("must not begin or end with a space");
        assertThat(ReportedName.problem("flags-java/1 ", false)).isEqualTo("must not begin or end with a space");
        assertThat(ReportedName.problem("check out", true)).isNull();
        assertThat(ReportedName.problem("   ", true)).isEqualTo("must not be blank");
        assertThat(ReportedName.problem("   ", false)).as("blank is only an application's problem").isNull();
        assertThat(ReportedName.problem("(unnamed)", true)).startsWith("must not be \"(unnamed)\"");
    }

    @Test
    void aNameThatHoldsATokenIsRefusedWithoutQuotingIt() {
        // QA85 F1: kept in usage.json and shown to every reader of the environment's usage, as no other name may be.
        String token = "flg_" + "Ab3-_".repeat(8) + "xyz";
        for (boolean application : new boolean[] {true, false}) {
            String problem = ReportedName.problem("checkout " + token, application);
            assertThat(problem).startsWith("holds what looks like a flag server token").doesNotContain(token);
        }
        assertThat(ReportedName.problem("flg_short", true)).as("not a token's shape").isNull();
    }
}
