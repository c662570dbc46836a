package dev.flags.core;

import static dev.flags.core.Fixtures.file;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Every validation rule, each with a bad document: rejected, with the problem at its JSON path. */
class ValidationTest {

    private static List<Problem> problemsOf(String fileJson) {
        try {
            FlagSet.fromJson(fileJson);
        } catch (FlagValidationException e) {
            return e.problems();
        }
        throw new AssertionError("document was accepted: " + fileJson);
    }

    /** The problems of a file holding one flag, as "path message" lines. */
    private static List<String> problemsOfFlag(String flagJson) {
        return problemsOf(file(flagJson)).stream().map(p -> p.path() + " " + p.message()).toList();
    }

    @Test
    void aDocumentOfTensOfThousandsOfProblemsListsTheFirstHundredAndCountsTheRest() {
        // 30,000 unknown fields: each problem was compared with every earlier one (12.6 s of a server's request thread,
        // and 54 s for 60,000, with an answer of megabytes: QA42c F5).
        StringBuilder flag = new StringBuilder("{\"key\": \"f\"");
        for (int i = 0; i < 30_000; i++) {
            flag.append(", \"x").append(i).append("\": 1");
        }
        List<String> problems = problemsOfFlag(flag.append('}').toString());

        assertThat(problems).hasSize(Problems.MAX_LISTED + 1);
        assertThat(problems.get(0)).startsWith("flags[0].x0 is not a known field");
        assertThat(problems.get(Problems.MAX_LISTED)).isEqualTo(" and 29900 more problems after these 100, not listed:"
                + " mend these and validate again");
        FlagValidationException e = org.junit.jupiter.api.Assertions.assertThrows(FlagValidationException.class,
                () -> FlagSet.fromJson(file(flag.toString())));
        assertThat(e.count()).as("QA57 F4: all of them, not the lines listed").isEqualTo(30_000);
        assertThat(e.getMessage()).startsWith("invalid flag document: 30000 problems\n");
        assertThat(e.problems().get(Problems.MAX_LISTED)).as("a sentence of its own, not about \"document\"")
                .hasToString("and 29900 more problems after these 100, not listed: mend these and validate again");
        assertThat(new FlagValidationException(List.of(new Problem("f", "", "x"), new Problem("f", "a", "y"))).count())
                .isEqualTo(2);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            // what                        | flag document                                                                   | path                         | message contains
            "missing key                   | {}                                                                               | flags[0].key                 | is required",
            "key syntax                    | {\"key\": \"billing v2!\"}                                                        | flags[0].key                 | must start with a letter or digit",
            "key too long                  | {\"key\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"} | flags[0].key | at most 128",
            "unknown field                 | {\"key\": \"f\", \"enabeld\": true}                                               | flags[0].enabeld             | is not a known field",
            "enabled wrong type            | {\"key\": \"f\", \"enabled\": \"yes\"}                                            | flags[0].enabled             | must be true or false, was \"yes\"",
            "rules not an array            | {\"key\": \"f\", \"rules\": {}}                                                    | flags[0].rules               | must be an array",
            "rule not an object            | {\"key\": \"f\", \"rules\": [3]}                                                   | flags[0].rules[0]            | must be a rule object, was 3",
            "percentage over 100           | {\"key\": \"f\", \"rules\": [{\"conditions\": [{\"percentage\": 150}]}]}          | flags[0].rules[0].conditions[0].percentage | must be between 0 and 100, was 150",
            "percentage negative           | {\"key\": \"f\", \"rules\": [{\"conditions\": [{\"percentage\": -1}]}]}           | flags[0].rules[0].conditions[0].percentage | must be between 0 and 100, was -1",
            "percentage four decimals      | {\"key\": \"f\", \"rules\": [{\"conditions\": [{\"percentage\": 0.0005}]}]}       | flags[0].rules[0].conditions[0].percentage | at most three decimals",
            "percentage wrong type         | {\"key\": \"f\", \"rules\": [{\"conditions\": [{\"percentage\": \"ten\"}]}]}      | flags[0].rules[0].conditions[0].percentage | must be a number, was \"ten\"",
            "two percentages in a rule     | {\"key\": \"f\", \"rules\": [{\"conditions\": [{\"percentage\": 5}, {\"percentage\": 6}]}]} | flags[0].rules[0].conditions[1] | second percentage",
            "condition with two kinds      | {\"key\": \"f\", \"rules\": [{\"conditions\": [{\"roles\": [\"a\"], \"regions\": [\"b\"]}]}]} | flags[0].rules[0].conditions[0] | only one of",
            "condition with no kind        | {\"key\": \"f\", \"rules\": [{\"conditions\": [{\"colour\": \"red\"}]}]}         | flags[0].rules[0].conditions[0] | must have one of roles, regions",
            "empty roles                   | {\"key\": \"f\", \"rules\": [{\"conditions\": [{\"roles\": []}]}]}                | flags[0].rules[0].conditions[0].roles | at least one value",
            "bad role name                 | {\"key\": \"f\", \"rules\": [{\"conditions\": [{\"roles\": [\"beta tester\"]}]}]} | flags[0].rules[0].conditions[0].roles[0] | must be a role name",
            "region not a string           | {\"key\": \"f\", \"rules\": [{\"conditions\": [{\"regions\": [\"eu\", 7]}]}]}     | flags[0].rules[0].conditions[0].regions[1] | must be a string, was 7",
            "unknown operator              | {\"key\": \"f\", \"rules\": [{\"conditions\": [{\"attribute\": \"a\", \"operator\": \"like\", \"values\": [\"x\"]}]}]} | flags[0].rules[0].conditions[0].operator | is not a known operator: \"like\"",
            "invalid regex                 | {\"key\": \"f\", \"rules\": [{\"conditions\": [{\"attribute\": \"a\", \"operator\": \"matches\", \"values\": [\"(unclosed\"]}]}]} | flags[0].rules[0].conditions[0].values[0] | must be a valid regular expression",
            "not a number                  | {\"key\": \"f\", \"rules\": [{\"conditions\": [{\"attribute\": \"a\", \"operator\": \"numGt\", \"values\": [\"ten\"]}]}]} | flags[0].rules[0].conditions[0].values[0] | must be a number, was \"ten\"",
            "not a semver                  | {\"key\": \"f\", \"rules\": [{\"conditions\": [{\"attribute\": \"a\", \"operator\": \"semverLt\", \"values\": [\"1.2\"]}]}]} | flags[0].rules[0].conditions[0].values[0] | must be a semantic version",
            "not a date                    | {\"key\": \"f\", \"rules\": [{\"conditions\": [{\"attribute\": \"a\", \"operator\": \"after\", \"values\": [\"tomorrow\"]}]}]} | flags[0].rules[0].conditions[0].values[0] | must be an ISO-8601 instant",
            "attribute missing values      | {\"key\": \"f\", \"rules\": [{\"conditions\": [{\"attribute\": \"a\", \"operator\": \"in\"}]}]} | flags[0].rules[0].conditions[0].values | is required",
            "attribute value wrong type    | {\"key\": \"f\", \"rules\": [{\"conditions\": [{\"attribute\": \"a\", \"operator\": \"in\", \"values\": [true]}]}]} | flags[0].rules[0].conditions[0].values[0] | must be a string or a number",
            "attribute name syntax         | {\"key\": \"f\", \"rules\": [{\"conditions\": [{\"attribute\": \"9lives\", \"operator\": \"in\", \"values\": [\"x\"]}]}]} | flags[0].rules[0].conditions[0].attribute | must be an attribute name",
            "ignoreCase on numbers         | {\"key\": \"f\", \"rules\": [{\"conditions\": [{\"attribute\": \"a\", \"operator\": \"numGt\", \"values\": [1], \"ignoreCase\": true}]}]} | flags[0].rules[0].conditions[0].ignoreCase | only applies to string operators",
            "weights not 100               | {\"key\": \"f\", \"variants\": [{\"key\": \"a\", \"weight\": 50}, {\"key\": \"b\", \"weight\": 40}]} | flags[0].variants | weights must add up to 100, they add up to 90",
            "weight out of range           | {\"key\": \"f\", \"variants\": [{\"key\": \"a\", \"weight\": 150}]}              | flags[0].variants[0].weight  | must be between 0 and 100, was 150",
            "duplicate variant keys        | {\"key\": \"f\", \"variants\": [{\"key\": \"a\", \"weight\": 50}, {\"key\": \"a\", \"weight\": 50}]} | flags[0].variants[1].key | repeats the variant \"a\"",
            "unknown variant in a rule     | {\"key\": \"f\", \"variants\": [{\"key\": \"a\", \"weight\": 100}], \"rules\": [{\"variant\": \"b\"}]} | flags[0].rules[0].variant | names the variant \"b\", which the flag does not have",
            "variant where false is served | {\"key\": \"f\", \"variants\": [{\"key\": \"a\", \"weight\": 100}], \"rules\": [{\"serve\": false, \"variant\": \"a\"}]} | flags[0].rules[0].variant | only be given where true is served",
            "user targeted twice           | {\"key\": \"f\", \"targets\": [{\"userIds\": [\"u1\"]}, {\"userIds\": [\"u1\"], \"serve\": false}]} | flags[0].targets[1].userIds[0] | targets the user \"u1\" again",
            "target without users          | {\"key\": \"f\", \"targets\": [{\"serve\": true}]}                                | flags[0].targets[0].userIds  | is required",
            "negative version              | {\"key\": \"f\", \"version\": -3}                                                  | flags[0].version             | must not be negative, was -3",
            "flag not an object            | \"billing-v2\"                                                                    | flags[0]                     | must be a flag object",
    })
    void rejectsABadFlag(String what, String flagJson, String path, String message) {
        assertThat(problemsOfFlag(flagJson)).as(what).anySatisfy(p -> {
            assertThat(p).startsWith(path + " ");
            assertThat(p).contains(message);
        });
    }

    @Test
    void listsEveryProblemAtOnceWithPathsThatStayRightAfterABadItem() {
        String json = file("""
                {"key": "billing-v2", "enabled": "yes",
                 "rules": [
                   {"conditions": [{"percentage": 150}]},
                   7,
                   {"conditions": [{"attribute": "a", "operator": "like", "values": ["x"]}, {"roles": ["ok", 3]}]}
                 ],
                 "variants": [{"key": "a", "weight": 60}, {"key": "b", "weight": 30}]}
                """);
        List<Problem> problems = problemsOf(json);
        assertThat(problems).extracting(Problem::path).containsExactlyInAnyOrder(
                "flags[0].enabled",
                "flags[0].rules[0].conditions[0].percentage",
                "flags[0].rules[1]",
                "flags[0].rules[2].conditions[0].operator",
                "flags[0].rules[2].conditions[1].roles[1]",
                "flags[0].variants");
        assertThat(problems).allSatisfy(p -> assertThat(p.flagKey()).isEqualTo("billing-v2"));
        assertThat(problems.get(0).toString()).startsWith("flag \"billing-v2\": flags[0].");
        FlagValidationException e = new FlagValidationException(problems);
        assertThat(e.getMessage()).contains("6 problems")
                .contains("flag \"billing-v2\": flags[0].rules[0].conditions[0].percentage must be between 0 and 100, was 150");
    }

    @Test
    void aNumberBeyondADoubleIsAProblemEvenFromAReaderThatMadeItInfinity() throws Exception {
        // The server reads request bodies with its own mapper, which parses floats as doubles: 1e400 is Infinity there.
        var node = new com.fasterxml.jackson.databind.ObjectMapper().readTree("""
                {"key": "f", "rules": [{"conditions": [{"attribute": "n", "operator": "numLt", "values": [1e400, 2]},
                 {"percentage": -1e400}]}]}""");
        assertThatThrownBy(() -> FlagFormat.readFlag(node)).isInstanceOfSatisfying(FlagValidationException.class, e ->
                assertThat(e.problems()).extracting(Problem::path).containsExactly("rules[0].conditions[0].values[0]",
                        "rules[0].conditions[1].percentage"));
        assertThatThrownBy(() -> FlagFormat.readUser(new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree("{\"attributes\": {\"n\": 1e400}}")))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("user.attributes.n is too large a number");
        // Where a number is the wrong type anyway, it is not shown as the "Infinity" nobody wrote.
        var description = new com.fasterxml.jackson.databind.ObjectMapper().readTree("{\"key\": \"f\", \"description\": 1e400}");
        assertThatThrownBy(() -> FlagFormat.readFlag(description)).isInstanceOfSatisfying(FlagValidationException.class, e ->
                assertThat(e.problems()).singleElement().extracting(Problem::message).asString()
                        .endsWith("was a number too large for a double").doesNotContain("Infinity"));
    }

    @Test
    void aNumberWithAHugeExponentIsALocatedProblemNotACrashNorAHundredMegabytes() {
        // 12 characters, within the parser's bound on a number's text; written out in full, two thousand million digits.
        String flag = """
                {"key": "f", "rules": [{"conditions": [{"attribute": "n", "operator": "numGt",
                 "values": [1e2147483647, 1e50000000, -1e400, 1e-2147483647, 1e-400, 0e-2147483647, 1.5e-300]}]}]}""";
        long start = System.nanoTime();
        List<String> problems = problemsOfFlag(flag);
        long ms = (System.nanoTime() - start) / 1_000_000;
        String at = "flags[0].rules[0].conditions[0].values";
        assertThat(problems).containsExactly(
                at + "[0] is too large a number: beyond what a double holds (about 1.8e308)",
                at + "[1] is too large a number: beyond what a double holds (about 1.8e308)",
                at + "[2] is too large a number: beyond what a double holds (about 1.8e308)",
                at + "[3] is too small a number: nearer 0 than a double holds (about 4.9e-324), but not 0",
                at + "[4] is too small a number: nearer 0 than a double holds (about 4.9e-324), but not 0");
        assertThat(ms).as("judged without writing the numbers out").isLessThan(1_000);
        // The same numbers from another reader's tree (BigDecimals as written: 0e-2147483647 is not made 0): the same.
        assertThatThrownBy(() -> FlagFormat.readFlag(new com.fasterxml.jackson.databind.ObjectMapper()
                .enable(com.fasterxml.jackson.databind.DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
                .setNodeFactory(com.fasterxml.jackson.databind.node.JsonNodeFactory.withExactBigDecimals(true))
                .readTree("{\"key\": \"f\", \"rules\": [{\"conditions\": [{\"attribute\": \"n\", \"operator\": \"in\","
                        + " \"values\": [1e2147483647, 0e-2147483647]}]}]}")))
                .isInstanceOfSatisfying(FlagValidationException.class, e -> assertThat(e.problems())
                        .extracting(Problem::path).containsExactly("rules[0].conditions[0].values[0]"));
    }

    @Test
    void rejectsMalformedJsonWithItsPosition() {
        assertThat(problemsOf("{\"formatVersion\": 1, \"flags\": [}")).singleElement().satisfies(p -> {
            assertThat(p.path()).isEmpty();
            assertThat(p.message()).startsWith("is not valid JSON (line 1, column");
        });
        assertThat(problemsOf("")).singleElement().satisfies(p -> assertThat(p.message()).contains("empty"));
        assertThat(problemsOf("{} {}")).singleElement().satisfies(p -> assertThat(p.message()).contains("not valid JSON"));
    }

    @Test
    void jsonErrorsSayWhatIsWrongWithoutTheParsersConfiguration() {
        assertThat(problemsOf("{} {}")).singleElement().satisfies(p -> assertThat(p.message())
                .startsWith("is not valid JSON (line 1, column").contains("Trailing token").doesNotContain("`")
                .doesNotContain("DeserializationFeature").doesNotContain("bound as"));
        String deep = "[".repeat(40) + "]".repeat(40);
        assertThat(problemsOf(deep)).singleElement().satisfies(p -> assertThat(p.message())
                .contains("nesting depth").contains("(32)").doesNotContain("`").doesNotContain("StreamReadConstraints"));
        // Located at the value that goes one level too deep, as every other refusal of the text is (QA57 F9).
        String deepInAFlag = "{\"formatVersion\": 1,\n \"flags\": [{\"key\": \"f\", \"x\": " + deep + "}]}";
        assertThat(problemsOf(deepInAFlag)).singleElement().satisfies(p -> assertThat(p.message()).isEqualTo("is not valid"
                + " JSON (line 2, column 59): Document nesting depth (33) exceeds the maximum allowed (32)"));
        assertThat(problemsOf(file("{\"key\": \"f\", \"x\": NaN}"))).singleElement().satisfies(p -> assertThat(p.message())
                .startsWith("is not valid JSON (line 1, column").contains("NaN").doesNotContain("`")
                .doesNotContain("JsonReadFeature"));
        assertThat(problemsOf("-")).singleElement().satisfies(p -> assertThat(p.message())
                .isEqualTo("is not valid JSON (line 1, column 2): Unexpected end-of-input"));
        try {
            new com.fasterxml.jackson.databind.ObjectMapper().readTree("-");
            throw new AssertionError("a lone minus sign is no JSON");
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            assertThat(FlagFormat.jsonErrorMessage(e)).as("as a document or USER-JSON is read")
                    .isEqualTo("Unexpected end-of-input: no digit following sign");
        }
    }

    @Test
    void anUnclosedObjectSaysWhereItWasOpenedWithoutTheParsersSourceNote() {
        assertThat(problemsOf("{\"formatVersion\": 1, \"flags\": [{\"key\": \"a\"}")).singleElement()
                .satisfies(p -> assertThat(p.message()).contains("expected close marker for Array (opened at line 1, column 31)")
                        .doesNotContain("Source").doesNotContain("REDACTED"));
    }

    @Test
    void aSingleFlagDocumentIsToldApartFromAFlagFile() {
        assertThat(problemsOf("{\"key\": \"billing-v2\", \"enabled\": true, \"version\": 3}")).singleElement()
                .satisfies(p -> assertThat(p.message()).startsWith("is one flag's document, not a flag file")
                        .contains("{\"formatVersion\": 1, \"flags\": ["));
    }

    @Test
    void aRepeatedFlagKeyIsReportedEvenWhenACopyHasOtherProblems() {
        List<Problem> problems = problemsOf(
                "{\"formatVersion\": 1, \"flags\": [{\"key\": \"a\", \"rules\": [{\"conditions\": [{\"percentage\": 150}]}]},"
                        + " {\"key\": \"a\"}]}");
        assertThat(problems).extracting(Problem::message).anySatisfy(m -> assertThat(m).startsWith("must be between 0 and 100"))
                .anySatisfy(m -> assertThat(m).startsWith("repeats the flag key of flags[0]"));
        assertThat(problems).hasSize(2);
    }

    @Test
    void rejectsDuplicateJsonFields() {
        assertThat(problemsOf(file("{\"key\": \"f\", \"enabled\": true, \"enabled\": false}"))).singleElement()
                .satisfies(p -> assertThat(p.message()).startsWith("is not valid JSON (line 1, column")
                        .endsWith(": Duplicate field 'enabled'"));
        assertThat(problemsOf(file("{\"key\": \"f\", \"rules\": [{\"conditions\": [{\"roles\": [\"a\"], \"roles\": []}]}]}")))
                .singleElement().satisfies(p -> assertThat(p.message()).endsWith(": Duplicate field 'roles'"));
        assertThatThrownBy(() -> FlagFormat.readFlag("{\"key\": \"f\", \"key\": \"g\"}"))
                .isInstanceOf(FlagValidationException.class).hasMessageContaining("Duplicate field 'key'");
    }

    @Test
    void rejectsDuplicateFlagKeys() {
        assertThat(problemsOf(file("{\"key\": \"f\"}, {\"key\": \"g\"}, {\"key\": \"f\"}"))).singleElement().satisfies(p -> {
            assertThat(p.path()).isEqualTo("flags[2].key");
            assertThat(p.message()).contains("repeats the flag key of flags[0]");
        });
        assertThatThrownBy(() -> FlagSet.of(Fixtures.flag("f", true), Fixtures.flag("f", false)))
                .isInstanceOf(FlagValidationException.class).hasMessageContaining("repeats a flag key");
    }

    @Test
    void rejectsOversizedInput() {
        byte[] big = new byte[FlagFormat.MAX_FLAG_BYTES + 1];
        java.util.Arrays.fill(big, (byte) ' ');
        assertThatThrownBy(() -> FlagFormat.readFlag(big)).isInstanceOf(FlagValidationException.class)
                .hasMessageContaining("is too large");
        String deep = "[".repeat(100) + "]".repeat(100);
        assertThat(problemsOf(deep)).singleElement().satisfies(p -> assertThat(p.message()).contains("not valid JSON"));
        StringBuilder many = new StringBuilder("{\"key\": \"f\", \"rules\": [{\"conditions\": [{\"roles\": [");
        for (int i = 0; i <= 10_000; i++) {
            many.append(i == 0 ? "" : ",").append("\"r").append(i).append('"');
        }
        many.append("]}]}]}");
        assertThat(problemsOfFlag(many.toString())).anySatisfy(p -> assertThat(p).contains("at most 10000 values"));
    }

    @Test
    void aRoleNameInTheGrantsTooLongIsSaidWithTheLimitAndCut() {
        String role = "r".repeat(129);
        assertThat(problemsOf("{\"formatVersion\": 1, \"flags\": [], \"roleGrants\": {\"" + role + "\": [\"u\"]}}"))
                .singleElement().hasToString("roleGrants." + "r".repeat(77) + "... is not a role name (letters, digits, '.', '_',"
                        + " ':' or '-', starting with a letter or digit, at most 128 characters): it is 129 characters long");
        String emoji = "r".repeat(76) + "\ud83d\ude00" + "r".repeat(60);
        assertThat(problemsOf("{\"formatVersion\": 1, \"flags\": [], \"roleGrants\": {\"" + emoji + "\": [\"u\"]}}"))
                .as("cut before a character, never inside it").singleElement()
                .satisfies(p -> assertThat(p.path()).isEqualTo("roleGrants." + "r".repeat(76) + "..."));
        assertThat(problemsOf("{\"formatVersion\": 1, \"flags\": [], \"roleGrants\": {\"bad role\": [\"u\"]}}"))
                .singleElement().asString().endsWith("at most 128 characters), was \"bad role\"");
    }

    @Test
    void rejectsAMissingOrUnknownFormatVersion() {
        assertThat(problemsOf("{\"flags\": []}")).singleElement()
                .satisfies(p -> assertThat(p.toString()).isEqualTo("formatVersion is required (this release reads version 1)"));
        assertThat(problemsOf("{\"formatVersion\": 2, \"flags\": []}")).singleElement()
                .satisfies(p -> assertThat(p.message()).isEqualTo("must be the whole number 1, the version this release reads,"
                        + " was 2"));
        assertThat(problemsOf("{\"formatVersion\": 1.0, \"flags\": []}")).as("QA57 F8: not \"must be 1, was 1\"")
                .singleElement().satisfies(p -> assertThat(p.message()).endsWith("was a decimal number (write 1, without a decimal point or exponent)"));
        assertThat(problemsOf("{\"formatVersion\": 4294967297, \"flags\": []}")).as("QA59 F4: not read as 1")
                .singleElement().satisfies(p -> assertThat(p.message()).endsWith("was 4294967297"));
        assertThat(problemsOf("{\"formatVersion\": 1, \"flags\": [{\"key\": \"a\", \"version\": 1.0}]}"))
                .singleElement().satisfies(p -> assertThat(p.message()).isEqualTo("must be a whole number, was a decimal"
                        + " number (write it without a decimal point or exponent)"));
        assertThat(problemsOf("{\"formatVersion\": 1, \"flags\": [{\"key\": \"a\", \"version\": 99999999999999999999}]}"))
                .singleElement().satisfies(p -> assertThat(p.message()).isEqualTo("must be a whole number up to"
                        + " 9223372036854775807, was 99999999999999999999"));
        assertThat(problemsOf("[]")).singleElement()
                .satisfies(p -> assertThat(p.message()).contains("must be a JSON object"));
        assertThat(problemsOf("{\"formatVersion\": 1}")).singleElement()
                .satisfies(p -> assertThat(p.path()).isEqualTo("flags"));
    }

    @Test
    void rejectsBadRoleGrants() {
        assertThat(problemsOf("{\"formatVersion\": 1, \"flags\": [], \"roleGrants\": {\"beta tester\": [\"u\"]}}"))
                .singleElement().satisfies(p -> assertThat(p.path()).isEqualTo("roleGrants.beta tester"));
        assertThat(problemsOf("{\"formatVersion\": 1, \"flags\": [], \"roleGrants\": {\"beta\": \"u\"}}"))
                .singleElement().satisfies(p -> assertThat(p.message()).contains("must be an array of strings"));
    }

    @Test
    void flagsBuiltInCodeAreValidatedToo() {
        Flag bad = new Flag("f", null, true, null, List.of(), List.of(),
                List.of(new Rule("r", List.of(new Condition.Percentage(101)), true, null)), false, 0);
        assertThatThrownBy(() -> FlagSet.of(bad)).isInstanceOf(FlagValidationException.class)
                .hasMessageContaining("flags[0].rules[0].conditions[0].percentage must be between 0 and 100, was 101");
        assertThatThrownBy(() -> FlagSet.empty().withFlag(bad, 1)).isInstanceOf(FlagValidationException.class)
                .hasMessageContaining("rules[0].conditions[0].percentage");
    }

    @Test
    void userInputIsCheckedAtItsBoundary() {
        assertThatThrownBy(() -> User.withId("")).isInstanceOf(IllegalArgumentException.class).hasMessage("id must not be empty");
        assertThatThrownBy(() -> User.withId(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> User.withId("u").attribute("x", Double.NaN)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("finite");
        assertThat(User.withId("u").roles("ok", null).roles()).as("a null role is none (UserFromRequestDataTest)")
                .containsExactly("ok");
    }
}
