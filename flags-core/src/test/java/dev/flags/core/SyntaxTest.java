package dev.flags.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.regex.Pattern;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import org.junit.jupiter.api.Test;

/** The hand-written syntax checks answer exactly as the regular expressions that document them. */
class SyntaxTest {

    private static final Pattern KEY = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:-]{0,127}");
    private static final Pattern ATTRIBUTE = Pattern.compile("[A-Za-z_][A-Za-z0-9_.:-]{0,127}");

    @Property(tries = 3_000)
    void sameAnswersAsTheRegularExpressions(@ForAll("names") String s) {
        assertThat(Syntax.isKey(s)).as("key %s", s).isEqualTo(KEY.matcher(s).matches());
        assertThat(Syntax.isName(s)).as("name %s", s).isEqualTo(NAME.matcher(s).matches());
        assertThat(Syntax.isAttribute(s)).as("attribute %s", s).isEqualTo(ATTRIBUTE.matcher(s).matches());
    }

    @Provide
    Arbitrary<String> names() {
        // Mostly allowed characters, so that long valid names and near misses both come up.
        Arbitrary<Character> chars = Arbitraries.frequencyOf(
                Tuple.of(20, Arbitraries.chars().alpha()),
                Tuple.of(10, Arbitraries.chars().numeric()),
                Tuple.of(6, Arbitraries.of('.', '_', '-', ':')),
                Tuple.of(1, Arbitraries.of(' ', '/', 'é', '\u00a0', ';', '@', '[', '{')));
        return chars.list().ofMinSize(0).ofMaxSize(131).map(list -> {
            StringBuilder b = new StringBuilder();
            list.forEach(b::append);
            return b.toString();
        });
    }

    @Test
    void edges() {
        assertThat(Syntax.isKey("a".repeat(128))).isTrue();
        assertThat(Syntax.isKey("a".repeat(129))).isFalse();
        assertThat(Syntax.isKey("")).isFalse();
        assertThat(Syntax.isKey(null)).isFalse();
        assertThat(Syntax.isKey("-a")).isFalse();
        assertThat(Syntax.isName("beta:eu")).isTrue();
        assertThat(Syntax.isKey("beta:eu")).isFalse();
        assertThat(Syntax.isAttribute("_plan")).isTrue();
        assertThat(Syntax.isAttribute("9plan")).isFalse();
    }
}
