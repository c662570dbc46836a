package dev.flags.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.re2j.Pattern;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class PatternsTest {

    private static final List<String> PATTERNS = List.of("^(DE|AT|CH)$", "^.*@corp\\.com$", ".*foo", "(?i)^beta-",
            "^[a-z]{2,64}\\.[a-z]{2,64}@corp\\.com\\z", "\\d{4}-\\d{2}-\\d{2}", "[\\p{L}\\d]+", "\\p{Greek}{3,}",
            "\\x{263a}+|\\pL*", "[]a]{3}", "[^]x]", "[[:alpha:]]{5}", "\\Qa.b{3}\\E{4}", "(?P<name>a{10}){10}",
            "(?i:ab){20}", "a{,5}", "a{x}", "(a|b|c){0,100}", "((a{10}){10}){10}", "(?:a?){100}a{100}", "x*?y+?z??",
            "(?s).{200}", "^$", "", "a\\{3}", "(?U)a+b", "[a-z&&[^x]]");

    @Test
    void theBoundFromThePatternsTextIsAtLeastTheCompiledSizeAndNotFarAboveIt() {
        for (String p : PATTERNS) {
            int size = Pattern.compile(p).programSize();
            long bound = Patterns.sizeBound(p);
            assertThat(bound).as(p + " compiles to " + size).isGreaterThanOrEqualTo(size).isLessThanOrEqualTo(4L * size + 20);
        }
    }

    @Test
    @Timeout(10) // compiled, the first would be a billion instructions: minutes and gigabytes
    void aPatternWhoseRepetitionsMultiplyPastTheLimitIsRefusedWithoutCompilingIt() {
        assertThatThrownBy(() -> Patterns.compile("((a{1000}){1000}){1000}"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("must compile to at most 10000 instructions, but \"((a{1000}){1000}){1000}\" compiles to"
                        + " about ")
                .hasMessageContaining("counted repetitions multiply");
        assertThat(Patterns.problem("(a{100}){101}")).contains("must compile to at most 10000 instructions");
        assertThat(Patterns.problem("(a{50}){50}")).as("2,500 instructions").isNull();
    }

    @Test
    void whatRe2LeavesOutIsRefusedInItsOwnWords() {
        assertThat(Patterns.problem("^(?!admin)")).startsWith("must be a valid regular expression in RE2 syntax, but"
                + " \"^(?!admin)\" is not: invalid or unsupported Perl syntax").contains("no lookaround");
        assertThat(Patterns.problem("(a)\\1")).contains("invalid escape sequence");
        assertThat(Patterns.problem("a++")).contains("RE2 syntax");
        assertThat(Patterns.problem("\\p{javaLowerCase}")).contains("RE2 syntax");
        assertThat(Patterns.problem("(unclosed")).contains("missing closing )");
        assertThat(Patterns.problem("^order-\\d+\\z")).isNull();
    }

    @Test
    void aPatternAnEarlierReleaseTookIsReadAndFailsEveryEvaluationOfItsRule() {
        String doc = "{\"key\": \"staff\", \"version\": 3, \"enabled\": true, \"rules\": [{\"conditions\": [{\"attribute\":"
                + " \"email\", \"operator\": \"matches\", \"values\": [\"^(?!admin)\"]}]}]}";
        Flag legacy = FlagFormat.readFlag(doc); // java.util.regex syntax: a stored flag may hold it
        assertThat(Patterns.readProblem("(unclosed")).as("no engine takes it").contains("RE2 syntax");
        FlagSet set = FlagSet.of(legacy);
        java.util.List<String> heard = new java.util.ArrayList<>();
        assertThat(set.isEnabled("staff", User.withId("u").attribute("email", "jane@corp.com"), true,
                (k, v, e) -> heard.add(e.getMessage()))).as("the caller's default").isTrue();
        Evaluation e = set.evaluate("staff", User.withId("u").attribute("email", "jane@corp.com"), false);
        assertThat(e.reason().kind()).isEqualTo(Reason.Kind.ERROR);
        assertThat(e.reason().detail()).contains("the flag's pattern \"^(?!admin)\" cannot run: it must be a valid regular"
                + " expression in RE2 syntax");
        assertThat(heard).singleElement().asString().contains("matches nobody until the flag is written with one that can");
        // A write may not add one; one the flag had already may stay (so that it can be switched off unfixed)
        Flag fresh = new Flag("staff", null, true, null, List.of(), List.of(), List.of(new Rule("r", List.of(
                new Condition.Attribute("email", Operator.MATCHES, List.of("^(?!admin)", "^a"), false, false)), true, null)),
                false, 1);
        assertThat(WriteRules.patterns(null, fresh)).singleElement().satisfies(p -> {
            assertThat(p.path()).isEqualTo("rules[0].conditions[0].values[0]");
            assertThat(p.message()).contains("RE2 syntax");
        });
        assertThat(WriteRules.added(null, fresh)).hasSize(1);
        assertThat(WriteRules.patterns(legacy, fresh)).isEmpty();
    }

    @Test
    void dollarIsTheEndOfTheValueNotBeforeAFinalLineBreak() {
        // java.util.regex's $ also matched before a final line break ("DE\n" passed ^(DE|AT)$); RE2's does not
        assertThat(Patterns.compile("^(DE|AT)$").matcher("DE\n").find()).isFalse();
        assertThat(Patterns.compile("^(DE|AT)$").matcher("DE").find()).isTrue();
    }
}
