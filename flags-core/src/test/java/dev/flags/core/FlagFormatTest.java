package dev.flags.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The JSON format: the golden file of every format version is read, and writing round-trips. */
class FlagFormatTest {

    static String golden(String name) throws IOException {
        try (InputStream in = FlagFormatTest.class.getResourceAsStream("golden/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void readsTheVersion1GoldenFile() throws IOException {
        FlagFormat.FlagFile file = FlagFormat.readFile(golden("flags-v1.json"));
        assertThat(file.flags()).extracting(Flag::key).containsExactly("billing-v2", "checkout-button", "legacy-export");
        assertThat(file.roleGrants()).isEqualTo(Map.of("beta-tester", Set.of("u-tess", "u-tom")));

        Flag billing = file.flags().get(0);
        assertThat(billing.enabled()).isTrue();
        assertThat(billing.version()).isEqualTo(12);
        assertThat(billing.targets()).containsExactly(new Target(List.of("u-ops-1", "u-ops-2"), true, null),
                new Target(List.of("u-legal-hold"), false, null));
        assertThat(billing.rules()).hasSize(3);
        assertThat(billing.rules().get(1)).isEqualTo(new Rule("eu canary", List.of(
                new Condition.Regions(List.of("eu-west", "eu-north")), new Condition.Percentage(10)), true, null));
        assertThat(billing.rules().get(2).conditions()).contains(
                new Condition.Attribute("plan", Operator.IN, List.of("pro", "enterprise"), false, true),
                new Condition.Attribute("seats", Operator.NUM_GT, List.of("5"), false, false),
                new Condition.Attribute("email", Operator.ENDS_WITH, List.of("@example.com"), true, false));

        Flag checkout = file.flags().get(1);
        assertThat(checkout.effectiveSalt()).isEqualTo("checkout-experiment-2026");
        assertThat(checkout.variants()).containsExactly(new Variant("control", 50, null),
                new Variant("green", 25.5, "#00aa00"), new Variant("blue", 24.5, "#0000cc"));
        assertThat(checkout.rules().get(0).variant()).isEqualTo("control");

        Flag legacy = file.flags().get(2);
        assertThat(legacy.enabled()).isFalse();
        assertThat(legacy.defaultValue()).isTrue();
    }

    @Test
    void theGoldenFileEvaluatesAsDocumented() throws IOException {
        FlagSet flags = FlagSet.fromJson(golden("flags-v1.json"));
        assertThat(flags.evaluate("billing-v2", User.withId("u-tess")).reason().ruleName()).isEqualTo("beta testers");
        assertThat(flags.isEnabled("billing-v2", User.withId("u-legal-hold").roles("beta-tester"))).isFalse();
        assertThat(flags.isEnabled("legacy-export", User.withId("anyone"))).isFalse();
        assertThat(flags.variant("checkout-button", User.withId("u-designer"))).isEqualTo("green");
        User pro = User.withId("p").attribute("plan", "PRO").attribute("appVersion", "4.3.1").attribute("seats", 6)
                .attribute("email", "p@customer.org").attribute("signupAt", "2025-05-01T00:00:00Z").attribute("country", "AT");
        assertThat(flags.evaluate("billing-v2", pro).reason().ruleName()).isEqualTo("pro plans");
        assertThat(flags.isEnabled("billing-v2", pro.attribute("country", "FR"))).isFalse();
    }

    @Test
    void writingThenReadingGivesTheSameFlags() throws IOException {
        FlagFormat.FlagFile file = FlagFormat.readFile(golden("flags-v1.json"));
        String written = FlagFormat.writeFile(file.flags(), file.roleGrants());
        assertThat(FlagFormat.readFile(written)).isEqualTo(file);
        for (Flag flag : file.flags()) {
            assertThat(FlagFormat.readFlag(FlagFormat.writeFlag(flag))).isEqualTo(flag);
        }
    }

    @Test
    void writesNumbersAsNumbersAndLeavesDefaultsOut() {
        Flag flag = FlagFormat.readFlag("{\"key\": \"f\", \"rules\": [{\"conditions\": [{\"percentage\": 12.5}, "
                + "{\"attribute\": \"n\", \"operator\": \"numLt\", \"values\": [\"3\"]}]}]}");
        String json = FlagFormat.writeFlag(flag);
        assertThat(json).contains("\"percentage\" : 12.5").contains("\"values\" : [ 3 ]")
                .doesNotContain("salt").doesNotContain("variants").doesNotContain("version");
        assertThat(flag.enabled()).as("a new flag is dark unless it says otherwise").isFalse();
    }

    @Test
    void aNumberInAStringOperatorsValuesIsTheSameTextFromTheServersReaderAndFromAFileReader() throws Exception {
        String doc = "{\"key\": \"f\", \"enabled\": true, \"rules\": [{\"conditions\": [{\"attribute\": \"seats\","
                + " \"operator\": \"in\", \"values\": [12.0, 1e2, 2.50, -0.0, 7]}]}]}";
        Flag fromText = FlagFormat.readFlag(doc); // flag files, flags validate, offline SDKs: BigDecimals
        // The server reads API bodies with a mapper that makes doubles of decimals, then hands the tree over.
        Flag fromTree = FlagFormat.readFlag(new com.fasterxml.jackson.databind.ObjectMapper().readTree(doc));
        assertThat(((Condition.Attribute) fromTree.rules().get(0).conditions().get(0)).values())
                .containsExactly("12", "100", "2.5", "0", "7");
        assertThat(fromTree).isEqualTo(fromText);
        User twelve = User.withId("u").attribute("seats", 12L);
        assertThat(FlagSet.of(fromTree).isEnabled("f", twelve)).isTrue();
        assertThat(FlagSet.of(fromText).isEnabled("f", twelve.attribute("seats", 12.0))).isTrue();
    }

    @Test
    void aNumericOperatorsValuesAreReadCanonicalSoAFlagReadWrittenAndReadAgainIsTheSameFlag() throws Exception {
        String doc = "{\"key\": \"f\", \"enabled\": true, \"rules\": [{\"conditions\": [{\"attribute\": \"seats\","
                + " \"operator\": \"numGt\", \"values\": [\"1e3\", \" 5\", \"0x1p3\", \"+2.50\", \"-0\", 1.5e1,"
                + " \"0.0000001\", \"1e80\", \"1e-200\"]}]}]}";
        Flag first = FlagFormat.readFlag(doc);
        assertThat(((Condition.Attribute) first.rules().get(0).conditions().get(0)).values()).containsExactly(
                "1000", "5", "8", "2.5", "0", "15", "0.0000001", "1" + "0".repeat(80),
                "1e-200"); // kept as written: 202 digits would be read as the nearest double, another number
        String written = FlagFormat.writeFlag(first);
        assertThat(written).as("plain numbers, never 1E+3; as text where a writer would print an exponent or a reader "
                        + "refuse the length").contains("[ 1000, 5, 8, 2.5, 0, 15, \"0.0000001\", \"1" + "0".repeat(80)
                        + "\", \"1e-200\" ]");
        assertThat(FlagFormat.readFlag(written)).as("written as:\n" + written).isEqualTo(first);
        // The server's reader (doubles) gets the same flag from what was written.
        assertThat(FlagFormat.readFlag(new com.fasterxml.jackson.databind.ObjectMapper().readTree(written))).isEqualTo(first);
    }

    @Test
    void aSingleFlagDocumentIsReadWithItsDefaults() {
        Flag flag = FlagFormat.readFlag("{\"key\": \"billing-v2\"}");
        assertThat(flag).isEqualTo(new Flag("billing-v2", null, false, null, List.of(), List.of(), List.of(), false, 0));
        assertThat(FlagSet.of(flag).evaluate("billing-v2", User.withId("x")).reason().kind()).isEqualTo(Reason.Kind.FLAG_OFF);
    }

    @Test
    void readsUsersAndWritesEvaluations() throws Exception {
        com.fasterxml.jackson.databind.ObjectMapper m = new com.fasterxml.jackson.databind.ObjectMapper();
        User user = FlagFormat.readUser(m.readTree(
                "{\"id\": \"u-42\", \"roles\": [\"beta-tester\"], \"region\": \"eu-west\", \"attributes\": {\"plan\": \"pro\", \"seats\": 12, \"trial\": false}}"));
        assertThat(user).isEqualTo(User.withId("u-42").roles("beta-tester").region("eu-west")
                .attribute("plan", "pro").attribute("seats", 12).attribute("trial", false));
        assertThat(FlagFormat.readUser(m.readTree("{}"))).isEqualTo(User.anonymous());
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> FlagFormat.readUser(m.readTree("{\"name\": \"x\"}")))
                .hasMessageContaining("user.name is not a user field");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> FlagFormat.readUser(m.readTree("{\"roles\": \"admin\"}")))
                .hasMessageContaining("user.roles must be an array");
        String thousand = java.util.stream.IntStream.range(0, FlagFormat.MAX_USER_ROLES).mapToObj(i -> "\"r" + i + "\"")
                .collect(java.util.stream.Collectors.joining(", "));
        assertThat(FlagFormat.readUser(m.readTree("{\"roles\": [" + thousand + "]}")).roles()).hasSize(FlagFormat.MAX_USER_ROLES)
                .startsWith("r0", "r1").endsWith("r999");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> FlagFormat.readUser(m.readTree("{\"roles\": [" + thousand
                        + ", \"one-more\"]}")))
                .as("a request's roles are bounded, as its attributes are").hasMessage("user.roles may hold at most 1000 roles, had 1001");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> FlagFormat.readUser(m.readTree("{\"attributes\": {\"a\": [1]}}")))
                .hasMessageContaining("user.attributes.a must be a string, number or boolean");

        FlagSet flags = FlagSet.fromJson(golden("flags-v1.json"));
        String json = FlagFormat.toJson(flags.evaluate("billing-v2", User.withId("u-tess"))).toString();
        assertThat(json).isEqualTo("{\"flag\":\"billing-v2\",\"value\":true,\"reason\":{\"kind\":\"RULE_MATCH\",\"index\":0,"
                + "\"ruleName\":\"beta testers\"},\"flagVersion\":12}");
    }
}
