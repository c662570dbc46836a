package dev.flags.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every public type of the SDK says in its first Javadoc sentence whether it is immutable or
 * thread-safe, so that nobody has to guess (STYLE.md).
 */
class DocsConventionTest {

    private static final Pattern PUBLIC_TYPE = Pattern.compile(
            "/\\*\\*\\s*\\n\\s*\\*\\s*(?<first>[^\\n]*)(?:(?!\\*/).)*?\\*/\\s*\\n(?:@\\w+\\s*\\n)*"
                    + "public (?:final |abstract |sealed )*(?:class|interface|record|enum) (?<name>\\w+)",
            Pattern.DOTALL);

    @Test
    void everyPublicTypeSaysWhetherItIsImmutableOrThreadSafe() throws IOException {
        List<String> missing = new ArrayList<>();
        int checked = 0;
        try (Stream<Path> files = Files.walk(Path.of("src/main/java"))) {
            for (Path file : files.filter(f -> f.toString().endsWith(".java") && !f.endsWith("package-info.java")).toList()) {
                String source = Files.readString(file);
                Matcher m = PUBLIC_TYPE.matcher(source);
                if (!m.find()) {
                    if (source.contains("\npublic ")) {
                        missing.add(file + ": no Javadoc before the public type");
                    }
                    continue;
                }
                checked++;
                String first = m.group("first");
                if (!first.matches("(Immutable|Thread-safe|Not thread-safe)\\b.*")) {
                    missing.add(m.group("name") + ": \"" + first + "\"");
                }
            }
        }
        assertThat(checked).isGreaterThan(10);
        assertThat(missing).isEmpty();
    }
}
