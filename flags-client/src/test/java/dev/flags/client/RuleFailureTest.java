package dev.flags.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.core.Reason;
import dev.flags.core.User;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A rule that fails on a user's data (here a regular expression that overflows the stack on a long
 * value) answers the caller's default, and the SDK says so in its log: once per flag version, not
 * once per request, and not at all for flags that work.
 */
class RuleFailureTest {

    private static final String FLAGS = """
            { "formatVersion": 1, "flags": [ { "key": "fancy-bio", "version": 3, "enabled": true, "default": false, "rules": [
                { "name": "regex", "conditions": [
                    { "attribute": "bio", "operator": "matches", "values": ["[a-z]{1000}!"] } ] } ] } ] }
            """;

    @RegisterExtension
    final LogCapture logs = new LogCapture();

    @TempDir
    Path dir;

    @Test
    void aFailingRuleAnswersTheDefaultAndIsLoggedOncePerFlagVersion() throws Exception {
        Path file = dir.resolve("flags.json");
        Files.writeString(file, FLAGS);
        // about a thousand instructions on 20,000 characters: more steps than one evaluation may take
        User longBio = User.withId("u-1").attribute("bio", "a".repeat(20_000));
        try (Flags flags = Flags.builder().offlineFile(file).build()) {
            assertThat(flags.isEnabled("fancy-bio", User.withId("u-2").attribute("bio", "a".repeat(1000) + "!"))).isTrue();
            assertThat(logs.lines("failed on a user's data")).as("a rule that works is not logged").isEmpty();

            assertThat(flags.isEnabled("fancy-bio", longBio, true)).isTrue();
            assertThat(flags.isEnabled("fancy-bio", longBio)).isFalse();
            FlagEvaluation e = flags.evaluate("fancy-bio", longBio, true);
            assertThat(e.value()).isTrue();
            assertThat(e.reason().kind()).isEqualTo(Reason.Kind.ERROR);
            assertThat(e.reason().detail()).contains("the flag's regular expressions took more than 10000000 steps");
            assertThat(flags.variant("fancy-bio", longBio)).isNull();
            assertThat(flags.allFlags(longBio).get("fancy-bio").reason().kind()).isEqualTo(Reason.Kind.ERROR);

            assertThat(logs.lines("failed on a user's data"))
                    .singleElement().asString()
                    .contains("WARN", "\"fancy-bio\" (version 3)", "answered the caller's default",
                            "regular expressions took more than 10000000 steps", "once an hour per flag version");
        }
    }
}
