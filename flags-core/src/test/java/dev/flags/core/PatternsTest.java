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
    void dollarIsTheEndOfTheValueNotBeforeAFinalLineBreak() {
        // java.util.regex's $ also matched before a final line break ("DE\n" passed ^(DE|AT)$); RE2's does not
        assertThat(Patterns.compile("^(DE|AT)$").matcher("DE\n").find()).isFalse();
        assertThat(Patterns.compile("^(DE|AT)$").matcher("DE").find()).isTrue();
    }
}
