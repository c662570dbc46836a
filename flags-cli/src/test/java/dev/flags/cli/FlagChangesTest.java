package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What {@code flags history --changes} prints between two versions of a flag's document. */
class FlagChangesTest {

    private static JsonNode json(String text) throws Exception {
        return Api.JSON.readTree(text);
    }

    @Test
    void fieldsAddedRemovedAndChangedAreOneLineEach() throws Exception {
        assertThat(FlagChanges.between(json("{\"enabled\": false, \"default\": true, \"description\": \"old\"}"),
                json("{\"enabled\": true, \"description\": \"new\", \"tags\": [\"billing\"]}")))
                .as("in the order of the fields' names, whatever order either document has them in")
                .containsExactly("default: removed (was true)", "description: \"old\" -> \"new\"", "enabled: false -> true",
                        "tags: added [\"billing\"]");
        assertThat(FlagChanges.all(json("{\"variants\": [{\"weight\": 1, \"key\": \"green\"}]}"), json("{}")))
                .as("a value's JSON too").containsExactly("variants: removed (was [{\"key\":\"green\",\"weight\":1}])");
        assertThat(FlagChanges.between(json("{\"enabled\": true}"), json("{\"enabled\": true}"))).isEmpty();
    }

    @Test
    void aNumberWrittenAnotherWayIsNoChange() throws Exception {
        // The server's document has 0 and 50; a document written by FlagFormat has the same as decimals (QA56 F1).
        JsonNode served = json("{\"default\": false, \"rules\": [{\"name\": \"eu\", \"conditions\": [{\"percentage\": 0}]},"
                + " {\"name\": \"all\", \"conditions\": [{\"percentage\": 50}]}]}");
        com.fasterxml.jackson.databind.node.ObjectNode written = (com.fasterxml.jackson.databind.node.ObjectNode) served.deepCopy();
        ((com.fasterxml.jackson.databind.node.ObjectNode) written.at("/rules/0/conditions/0")).put("percentage",
                new java.math.BigDecimal("10"));
        ((com.fasterxml.jackson.databind.node.ObjectNode) written.at("/rules/1/conditions/0")).put("percentage",
                new java.math.BigDecimal("50.000"));
        written.put("default", true);
        assertThat(FlagChanges.all(served, written)).containsExactly("default: false -> true",
                "rules[\"eu\"].conditions[0].percentage: 0 -> 10");
        assertThat(FlagChanges.all(json("{\"weight\": 1e1}"), json("{\"weight\": 10}"))).isEmpty();
        assertThat(FlagChanges.all(json("{\"values\": [100, \"a\"], \"o\": {\"n\": [0]}}"),
                json("{\"values\": [1e2, \"a\"], \"o\": {\"n\": [0.0]}}"))).as("QA59 F3: in lists and objects too").isEmpty();
        assertThat(FlagChanges.all(json("{\"values\": [100]}"), json("{\"values\": [101]}")))
                .containsExactly("values: [100] -> [101]");
    }

    @Test
    void aReviewBeforeAWriteShowsANamedRuleAddedOrRemovedWholeWhereTheHistoryCutsIt() throws Exception {
        String regions = "[\"eu-west\",\"eu-north\",\"eu-south\",\"eu-central\",\"us-east\",\"us-west\",\"ap-south\"]";
        JsonNode before = json("{\"rules\": [{\"name\": \"old rule\", \"conditions\": [{\"regions\": " + regions + "}]}]}");
        JsonNode after = json("{\"rules\": [{\"name\": \"new rule\", \"conditions\": [{\"regions\": " + regions + "}]}]}");
        String rule = "{\"conditions\":[{\"regions\":" + regions + "}]}";

        assertThat(FlagChanges.all(before, after)).containsExactly("rules[\"new rule\"]: added at 0 " + rule,
                "rules[\"old rule\"]: removed (was " + rule + ")");
        assertThat(FlagChanges.between(before, after)).as("a history line is cut").allMatch(l -> l.endsWith("…") || l.endsWith("…)"));
    }

    @Test
    void namedRulesAreMatchedByNameSoAnInsertedRuleIsOneChange() throws Exception {
        JsonNode before = json("""
                {"rules": [{"name": "beta", "conditions": [{"roles": ["beta-tester"]}]},
                           {"name": "canary", "conditions": [{"percentage": 10}]}]}""");
        JsonNode after = json("""
                {"rules": [{"name": "staff", "conditions": [{"roles": ["staff"]}]},
                           {"name": "beta", "conditions": [{"roles": ["beta-tester"]}]},
                           {"name": "canary", "conditions": [{"percentage": 25}]}]}""");
        assertThat(FlagChanges.between(before, after)).containsExactly(
                "rules[\"staff\"]: added at 0 {\"conditions\":[{\"roles\":[\"staff\"]}]}",
                "rules[\"canary\"].conditions[0].percentage: 10 -> 25");
    }

    @Test
    void aMovedRuleIsAChangeBecauseTheFirstMatchDecides() throws Exception {
        assertThat(FlagChanges.between(json("{\"rules\": [{\"name\": \"a\"}, {\"name\": \"b\"}]}"),
                json("{\"rules\": [{\"name\": \"b\"}, {\"name\": \"a\"}]}")))
                .containsExactly("rules: order \"a\",\"b\" -> \"b\",\"a\"");
        assertThat(FlagChanges.between(json("{\"rules\": [{\"name\": \"a\"}, {\"name\": \"b\"}]}"), json("{\"rules\": [{\"name\": \"b\"}]}")))
                .as("a removal alone is not a move").containsExactly("rules[\"a\"]: removed (was {})");
    }

    @Test
    void theFirstTargetAndTheLastAreUsersAddedAndRemovedToo() throws Exception {
        assertThat(FlagChanges.between(json("{\"enabled\": true}"),
                json("{\"enabled\": true, \"targets\": [{\"userIds\": [\"a\\\"b]c\"], \"serve\": true}]}")))
                .containsExactly("targets[\"a\\\"b]c\"]: added true");
        assertThat(FlagChanges.between(json("{\"targets\": [{\"userIds\": [\"u-1\"], \"serve\": false}]}"), json("{}")))
                .containsExactly("targets[\"u-1\"]: removed (was false)");
        assertThat(FlagChanges.between(json("{}"), json("{\"targets\": []}"))).as("no user: as it is")
                .containsExactly("targets: added []");
    }

    @Test
    void targetsAreComparedUserByUserSoAMovedUserIsNamed() throws Exception {
        JsonNode before = json("""
                {"targets": [{"userIds": ["u-qa", "u-hold"], "serve": true},
                             {"userIds": ["u-gone"], "serve": false}]}""");
        JsonNode after = json("""
                {"targets": [{"userIds": ["u-qa"], "serve": true},
                             {"userIds": ["u-hold"], "serve": false},
                             {"userIds": ["u-new"], "serve": true, "variant": "green"}]}""");
        assertThat(FlagChanges.between(before, after)).containsExactly(
                "targets[\"u-hold\"]: true -> false",
                "targets[\"u-new\"]: added true (\"green\")",
                "targets[\"u-gone\"]: removed (was false)");
        assertThat(FlagChanges.between(json("{\"targets\": [{\"userIds\": [\"a\"]}, {\"userIds\": [\"b\"], \"serve\": false}]}"),
                json("{\"targets\": [{\"userIds\": [\"b\"], \"serve\": false}, {\"userIds\": [\"a\"]}]}")))
                .containsExactly("targets: reordered (no user's answer changed)");
        assertThat(FlagChanges.between(json("{\"description\": \"a\", \"targets\": [{\"userIds\": [\"u-1\"]}]}"),
                json("{\"description\": \"b\", \"targets\": [{\"userIds\": [\"u-1\"]}]}")))
                .as("the same targets beside another change: no line of theirs").containsExactly("description: \"a\" -> \"b\"");
    }

    @Test
    void rulesWithoutDistinctNamesAreMatchedByIndex() throws Exception {
        assertThat(FlagChanges.between(json("{\"rules\": [{\"conditions\": [{\"percentage\": 5}]}]}"),
                json("{\"rules\": [{\"conditions\": [{\"percentage\": 6}]}, {\"name\": \"x\"}]}")))
                .containsExactly("rules[0].conditions[0].percentage: 5 -> 6", "rules[1]: added {\"name\":\"x\"}");
    }

    @Test
    void longValuesAreCutAndManyChangesCounted() throws Exception {
        String longText = "x".repeat(200);
        assertThat(FlagChanges.between(json("{\"description\": \"a\"}"), json("{\"description\": \"" + longText + "\"}")).get(0))
                .isEqualTo("description: \"a\" -> \"" + "x".repeat(FlagChanges.MAX_VALUE - 1) + "…");
        StringBuilder before = new StringBuilder("{");
        StringBuilder after = new StringBuilder("{");
        for (int i = 0; i < 30; i++) {
            before.append(i == 0 ? "" : ",").append("\"f").append(i).append("\": 1");
            after.append(i == 0 ? "" : ",").append("\"f").append(i).append("\": 2");
        }
        var lines = FlagChanges.between(json(before + "}"), json(after + "}"));
        assertThat(lines).hasSize(FlagChanges.MAX_LINES + 1);
        assertThat(lines.get(FlagChanges.MAX_LINES)).startsWith("... and 10 more");
    }

    @Test
    void unicodeLineSeparatorsAreEscapedSoOneChangeStaysOneLine() throws Exception {
        assertThat(FlagChanges.between(json("{\"description\": \"a\"}"), json("{\"description\": \"b\\u2028c\\nd\"}")))
                .containsExactly("description: \"a\" -> \"b\\u2028c\\nd\"");
    }

    @Test
    void controlsThatATerminalActsOnAreEscapedInValuesAndRuleNamesAndTheOrderLineComesFirstAndIsCut() throws Exception {
        assertThat(FlagChanges.between(json("{\"description\": \"a\"}"), json("{\"description\": \"x\\u009b2J\\u202eevil\"}")))
                .containsExactly("description: \"a\" -> \"x\\u009b2J\\u202eevil\"");
        StringBuilder many = new StringBuilder();
        StringBuilder reversed = new StringBuilder();
        for (int i = 0; i < 30; i++) {
            many.append(i == 0 ? "" : ",").append("{\"name\": \"rule ").append(i).append("\", \"serve\": true}");
            reversed.insert(0, (i == 29 ? "" : ",") + "{\"name\": \"rule " + i + "\", \"serve\": false}");
        }
        List<String> lines = FlagChanges.between(json("{\"rules\": [" + many + "]}"), json("{\"rules\": [" + reversed + "]}"));
        assertThat(lines.get(0)).as("the order first: it decides which rule matches").startsWith("rules: order \"rule 0\",\"rule 1\"");
        assertThat(lines.get(0).length()).as("cut like a value, on both sides").isLessThan(200);
        assertThat(lines).hasSize(FlagChanges.MAX_LINES + 1);
        assertThat(FlagChanges.between(json("{\"rules\": [{\"name\": \"a\\u001b[2J\"}, {\"name\": \"b\"}]}"),
                json("{\"rules\": [{\"name\": \"b\"}, {\"name\": \"a\\u001b[2J\"}]}")).get(0))
                .isEqualTo("rules: order \"a\\u001B[2J\",\"b\" -> \"b\",\"a\\u001B[2J\"");
    }
}
