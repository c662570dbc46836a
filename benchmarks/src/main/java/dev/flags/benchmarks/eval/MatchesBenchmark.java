package dev.flags.benchmarks.eval;

import dev.flags.core.Condition;
import dev.flags.core.Flag;
import dev.flags.core.FlagSet;
import dev.flags.core.Operator;
import dev.flags.core.Rule;
import dev.flags.core.User;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/**
 * Not thread-safe (one instance per benchmark thread). A {@code matches} condition through {@link FlagSet#isEnabled},
 * which runs RE2/J (linear in the value for every pattern), beside the same pattern run by {@code java.util.regex}
 * ({@code jdk*}: the engine the condition used before, which backtracks): what the safety costs on the values flags
 * are written for, an e-mail address and a country code.
 *
 * <pre>{@code
 * java -jar benchmarks/target/benchmarks.jar 'dev\.flags\.benchmarks\.eval\.MatchesBenchmark' -f 1 -wi 3 -w 1s -i 5 -r 1s -prof gc
 * }</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class MatchesBenchmark {

    private static final String EMAIL_PATTERN = "^.*@corp\\.com$";
    private static final String COUNTRY_PATTERN = "^(DE|AT|CH)$";

    private final FlagSet flags = FlagSet.of(
            flag("staff", EMAIL_PATTERN, "email"),
            flag("dach", COUNTRY_PATTERN, "country"));
    private final User staff = User.withId("u-1").attribute("email", "jane.doe@corp.com").attribute("country", "AT");
    private final User outsider = User.withId("u-2").attribute("email", "someone.else@example.org").attribute("country", "FR");
    private final Pattern jdkEmail = Pattern.compile(EMAIL_PATTERN);
    private final Pattern jdkCountry = Pattern.compile(COUNTRY_PATTERN);

    private static Flag flag(String key, String pattern, String attribute) {
        return new Flag(key, null, true, null, List.of(), List.of(), List.of(new Rule("r",
                List.of(new Condition.Attribute(attribute, Operator.MATCHES, List.of(pattern), false, false)), true, null)),
                false, 1);
    }

    /** @return the answer for an address that matches */
    @Benchmark
    public boolean emailMatch() {
        return flags.isEnabled("staff", staff);
    }

    /** @return the answer for an address that does not */
    @Benchmark
    public boolean emailNoMatch() {
        return flags.isEnabled("staff", outsider);
    }

    /** @return the answer for a country that matches */
    @Benchmark
    public boolean countryMatch() {
        return flags.isEnabled("dach", staff);
    }

    /** @return java.util.regex on the matching address (the baseline: no flag, no budget) */
    @Benchmark
    public boolean jdkEmailMatch() {
        return jdkEmail.matcher("jane.doe@corp.com").find();
    }

    /** @return java.util.regex on the address that does not match */
    @Benchmark
    public boolean jdkEmailNoMatch() {
        return jdkEmail.matcher("someone.else@example.org").find();
    }

    /** @return java.util.regex on the matching country */
    @Benchmark
    public boolean jdkCountryMatch() {
        return jdkCountry.matcher("AT").find();
    }
}
