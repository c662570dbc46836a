package dev.flags.core;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import org.junit.jupiter.api.Test;

/**
 * {@link SemVer#compareText}, which reads an application's version without allocating, answers exactly as parsing it
 * and comparing does ({@link SemVer#parse}, the documented regular expression).
 */
class SemVerTextTest {

    @Property(tries = 5_000)
    void sameAnswerAsParsingThenComparing(@ForAll("versions") String text, @ForAll("versions") String rule) {
        SemVer ruleVersion = SemVer.parse(rule);
        if (ruleVersion == null) {
            return; // a rule's value is checked when the flag is read: only versions get here
        }
        SemVer parsed = SemVer.parse(text);
        int c = ruleVersion.compareText(text);
        if (parsed == null) {
            assertThat(c).as("%s is no version", text).isEqualTo(SemVer.UNREADABLE);
        } else {
            assertThat(Integer.signum(c)).as("%s against %s", text, rule).isEqualTo(Integer.signum(parsed.compareTo(ruleVersion)));
        }
    }

    @Provide
    Arbitrary<String> versions() {
        Arbitrary<String> number = Arbitraries.frequencyOf(
                Tuple.of(6, Arbitraries.integers().between(0, 12).map(String::valueOf)),
                Tuple.of(1, Arbitraries.of("00", "01", "9999999999", "12345678901")));
        Arbitrary<String> identifier = Arbitraries.frequencyOf(
                Tuple.of(4, Arbitraries.of("alpha", "beta", "rc", "x-y", "0a", "a0", "-")),
                Tuple.of(4, Arbitraries.integers().between(0, 11).map(String::valueOf)),
                Tuple.of(1, Arbitraries.of("01", "", "é", "a b")));
        Arbitrary<String> dotted = identifier.list().ofMinSize(1).ofMaxSize(3).map(l -> String.join(".", l));
        Arbitrary<String> structured = Combinators.combine(Arbitraries.of("", "", "v", "V"), number, number, number,
                        Arbitraries.of("", "-").flatMap(dash -> dash.isEmpty() ? Arbitraries.just("") : dotted.map(d -> "-" + d)),
                        Arbitraries.of("", "+").flatMap(plus -> plus.isEmpty() ? Arbitraries.just("") : dotted.map(d -> "+" + d)))
                .as((v, a, b, c, pre, build) -> v + a + "." + b + "." + c + pre + build);
        Arbitrary<String> noise = Arbitraries.strings().withChars("0123456789v.-+aZ ").ofMaxLength(14);
        return Arbitraries.frequencyOf(Tuple.of(8, structured), Tuple.of(2, noise));
    }

    @Test
    void edges() {
        SemVer v = SemVer.parse("1.2.3-rc.1");
        assertThat(v.compareText("1.2.3-rc.1+build.5")).isZero();
        assertThat(v.compareText("v1.2.3")).isPositive();
        assertThat(v.compareText("1.2.3-rc")).isNegative();
        assertThat(v.compareText("1.2.3-rc.1.0")).isPositive();
        assertThat(v.compareText("1.2.3-rc.01")).isEqualTo(SemVer.UNREADABLE);
        assertThat(v.compareText("1.2")).isEqualTo(SemVer.UNREADABLE);
        assertThat(v.compareText(null)).isEqualTo(SemVer.UNREADABLE);
        assertThat(v.compareText("1.2.3-" + "a".repeat(300))).isEqualTo(SemVer.UNREADABLE);
        assertThat(SemVer.parse("10.0.0").compareText("9.99.99")).isNegative();
    }
}
