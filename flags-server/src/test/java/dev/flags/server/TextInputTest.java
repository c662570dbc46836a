package dev.flags.server;

import static dev.flags.server.ServerFixture.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.FileJournal;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Text people read in lists, the audit log and terminals (names, user ids, comments, flag descriptions):
 * what passes for something else or is no Unicode at all is refused, and nothing is written.
 */
class TextInputTest {

    private static final String E = "/api/v1/environments/production";

    @TempDir
    Path dataDir;
    private FlagServer server;
    private ApiClient api;

    @BeforeEach
    void start() throws Exception {
        server = ServerFixture.start(dataDir);
        api = new ApiClient(server.httpPort());
        assertThat(api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}").status()).isEqualTo(201);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private ApiClient.Response token(String name, String scope, String userId) {
        return api.post("/api/v1/tokens", ADMIN, "{\"name\": \"" + name + "\", \"scope\": \"" + scope + "\", \"environments\":"
                + " [\"production\"]" + (userId == null ? "" : ", \"userId\": \"" + userId + "\"") + "}");
    }

    private static String encoded(String text) {
        return java.net.URLEncoder.encode(text, java.nio.charset.StandardCharsets.UTF_8);
    }

    private static String detail(ApiClient.Response r) {
        return r.json().get("detail").asText();
    }

    @Test
    void aTokenSentWhereAKeyAnIdOrAValueGoesIsNeverQuotedBackInTheRefusal() {
        // QA85 F3: refusals quoted it whole, and a script's curl --fail-with-body prints the body into the CI log (the
        // token in the path for the environment, variables swapped; one pasted where a token id goes).
        String editor = api.post("/api/v1/tokens", ADMIN, "{\"name\": \"ed\", \"scope\": \"editor\", \"environments\":"
                + " [\"production\"]}").json().get("token").asText();
        java.util.Map<String, ApiClient.Response> refused = new java.util.LinkedHashMap<>();
        refused.put("an environment", api.get("/api/v1/environments/" + editor + "/flags", editor));
        refused.put("a flag", api.get(E + "/flags/" + editor, editor));
        refused.put("a token id", api.get("/api/v1/tokens/" + editor, ADMIN));
        refused.put("a revoke", api.delete("/api/v1/tokens/" + editor, ADMIN));
        refused.put("a path", api.get("/api/v1/" + editor, editor));
        refused.put("a scope", api.post("/api/v1/tokens", ADMIN, "{\"name\": \"x\", \"scope\": \"" + editor + "\"}"));
        refused.put("a value", api.put(E + "/flags/f", editor, "{\"enabled\": \"" + editor + "\"}"));
        refused.put("a field", api.put(E + "/flags/f", editor, "{\"" + editor + "\": 1, \"enabled\": false}"));
        refused.forEach((what, r) -> {
            assertThat(r.status()).as(what).isBetween(400, 499);
            assertThat(r.body()).as(what).doesNotContain(editor.substring(4)).contains("flg_***");
        });
    }

    @Test
    void aTokenPastedWhereAUserIdACommentADescriptionOrANameGoesIsRefusedAndNothingIsWritten() {
        // QA61 F5: a token given as a user id was kept for good in the journal and sent to every SDK.
        String token = api.post("/api/v1/tokens", ADMIN, "{\"name\": \"viewer\", \"scope\": \"viewer\", \"environments\":"
                + " [\"production\"]}").json().get("token").asText();
        assertThat(token).startsWith("flg_").hasSize(47);
        long before = api.get(E, ADMIN).json().get("version").asLong();
        String says = "looks like a flag server token (flg_ and 43 characters)";

        ApiClient.Response grant = api.put(E + "/roles/beta-tester/members/" + token, ADMIN, null);
        assertThat(grant.status()).isEqualTo(400);
        assertThat(detail(grant)).startsWith("user id holds what " + says).doesNotContain(token);
        ApiClient.Response flag = api.put(E + "/flags/f", ADMIN, "{\"key\": \"f\", \"description\": \"key: " + token
                + "\", \"targets\": [{\"userIds\": [\"" + token + "\"], \"serve\": true}]}");
        assertThat(flag.status()).isEqualTo(422);
        assertThat(flag.json().get("problems")).extracting(p -> p.get("path").asText() + " " + p.get("message").asText())
                .containsExactly("description holds what " + says + ": a token is a secret, and this text would be kept for"
                        + " good and shown to every reader (sent to every SDK, for a flag's); if it is a token, revoke it",
                        "targets[0].userIds[0] holds what " + says + ": a token is a secret, and this text would be kept for"
                        + " good and shown to every reader (sent to every SDK, for a flag's); if it is a token, revoke it");
        assertThat(flag.body()).doesNotContain(token);
        ApiClient.Response comment = api.call("PUT", E + "/flags/f?comment=" + encoded("rotated " + token), ADMIN,
                "{\"key\": \"f\"}", Map.of());
        assertThat(comment.status()).isEqualTo(400);
        assertThat(detail(comment)).startsWith("the comment holds what " + says);
        ApiClient.Response keyAndRule = api.put(E + "/flags/k-" + token, ADMIN, "{\"key\": \"k-" + token + "\", \"rules\":"
                + " [{\"name\": \"" + token + "\", \"conditions\": [{\"percentage\": 10}]}]}");
        assertThat(keyAndRule.status()).isEqualTo(422);
        assertThat(keyAndRule.json().get("problems")).extracting(p -> p.get("path").asText()).containsExactly("key", "rules[0].name");
        ApiClient.Response environment = api.post("/api/v1/environments", ADMIN, "{\"key\": \"staging\", \"name\": \"" + token + "\"}");
        assertThat(environment.status()).isEqualTo(400);
        assertThat(detail(environment)).startsWith("name holds what " + says);
        assertThat(detail(token("ci " + token, "editor", null))).startsWith("name holds what " + says);
        assertThat(detail(token("tess", "tester", token))).startsWith("userId holds what " + says);
        assertThat(api.get(E, ADMIN).json().get("version").asLong()).as("nothing written").isEqualTo(before);
        // Text that only starts like one is text.
        assertThat(api.put(E + "/roles/beta-tester/members/flg_short", ADMIN, null).status()).isEqualTo(200);
    }

    @Test
    void aTokenPastedAsARoleARegionOrAnEnvironmentKeyIsRefusedButOneStoredBeforeIsStillTakenOut() throws Exception {
        // QA67 F3: a rule's roles and regions are sent to every SDK, a role's name is kept in the journal and role lists,
        // an environment's key is in every URL and log line: a token pasted there was stored, as nowhere else.
        String token = dev.flags.server.auth.TokenService.newSecret(); // flg_ and 43 characters, as a real one
        String says = "holds what looks like a flag server token (flg_ and 43 characters)";
        String why = ": a token is a secret, and this text would be kept for good and shown to every reader (sent to every SDK,"
                + " for a flag's); if it is a token, revoke it";
        assertThat(api.put(E + "/flags/f", ADMIN, "{\"rules\": [{\"name\": \"beta\", \"conditions\": [{\"roles\": [\"beta\"]},"
                + " {\"regions\": [\"eu\"]}]}]}").status()).isEqualTo(201);
        long before = api.get(E, ADMIN).json().get("version").asLong();

        ApiClient.Response addRole = api.patch(E + "/flags/f", ADMIN, "{\"addRole\": {\"rule\": 0, \"role\": \"" + token + "\"}}");
        assertThat(addRole.status()).isEqualTo(400);
        assertThat(detail(addRole)).isEqualTo("addRole.role " + says + why);
        ApiClient.Response addRegion = api.patch(E + "/flags/f", ADMIN, "{\"addRegion\": {\"rule\": \"beta\", \"region\": \""
                + token + "\"}}");
        assertThat(addRegion.status()).isEqualTo(400);
        assertThat(detail(addRegion)).isEqualTo("addRegion.region " + says + why);
        ApiClient.Response put = api.put(E + "/flags/g", ADMIN, "{\"rules\": [{\"conditions\": [{\"roles\": [\"beta\", \""
                + token + "\"]}, {\"regions\": [\"" + token + "\"]}]}]}");
        assertThat(put.status()).isEqualTo(422);
        assertThat(put.json().get("problems")).extracting(p -> p.get("path").asText() + " " + p.get("message").asText())
                .containsExactly("rules[0].conditions[0].roles[1] " + says + why, "rules[0].conditions[1].regions[0] " + says + why);
        assertThat(put.body()).doesNotContain(token);
        ApiClient.Response selfService = api.put(E + "/roles/" + token, ADMIN, "{\"selfService\": true}");
        assertThat(selfService.status()).isEqualTo(400);
        assertThat(detail(selfService)).isEqualTo("role " + says + why);
        ApiClient.Response grant = api.put(E + "/roles/" + token + "/members/tess", ADMIN, null);
        assertThat(grant.status()).isEqualTo(400);
        assertThat(detail(grant)).isEqualTo("role " + says + why);
        ApiClient.Response environment = api.post("/api/v1/environments", ADMIN, "{\"key\": \"" + token + "\"}");
        assertThat(environment.status()).isEqualTo(400);
        assertThat(detail(environment)).isEqualTo("environment key " + says + why);
        assertThat(api.get(E, ADMIN).json().get("version").asLong()).as("nothing written").isEqualTo(before);
        assertThat(api.get("/api/v1/environments", ADMIN).body()).doesNotContain(token);

        // An earlier release took them: each is still taken out, and a flag that has them is still put back as it is.
        server.close();
        ObjectMapper json = new ObjectMapper();
        try (FileJournal journal = FileJournal.builder(dataDir.resolve("journal")).open()) {
            journal.append(Change.of(EntryType.FLAG_CREATED, "production", "admin", json.readTree("{\"key\": \"old\", \"rules\":"
                    + " [{\"conditions\": [{\"roles\": [\"beta\", \"" + token + "\"]}, {\"regions\": [\"eu\", \"" + token + "\"]}]}]}")));
            journal.append(Change.of(EntryType.ROLE_MARKED_SELF_SERVICE, "production", "admin", json.readTree("{\"role\": \""
                    + token + "\"}")));
            journal.append(Change.of(EntryType.ROLE_GRANTED, "production", "admin", json.readTree("{\"user\": \"tess\", \"role\": \""
                    + token + "\"}")));
        }
        server = ServerFixture.start(dataDir);
        api = new ApiClient(server.httpPort());
        JsonNode kept = api.get(E + "/flags/old", ADMIN).json();
        ((com.fasterxml.jackson.databind.node.ObjectNode) kept).put("description", "kept");
        ((com.fasterxml.jackson.databind.node.ObjectNode) kept).remove("version");
        assertThat(api.put(E + "/flags/old", ADMIN, kept.toString()).status()).as("a PUT that keeps its roles").isEqualTo(200);
        assertThat(api.patch(E + "/flags/old", ADMIN, "{\"removeRole\": {\"rule\": 0, \"role\": \"" + token + "\"}}").status())
                .isEqualTo(200);
        assertThat(api.patch(E + "/flags/old", ADMIN, "{\"removeRegion\": {\"rule\": 0, \"region\": \"" + token + "\"}}").status())
                .isEqualTo(200);
        assertThat(api.delete(E + "/roles/" + token + "/members/tess", ADMIN).status()).as("the revoke").isEqualTo(200);
        assertThat(api.put(E + "/roles/" + token, ADMIN, "{\"selfService\": false}").status()).as("the unmark").isEqualTo(200);
        assertThat(api.get(E + "/flags/old", ADMIN).body()).doesNotContain(token);
        assertThat(api.get(E + "/roles", ADMIN).body()).doesNotContain(token);
    }

    @Test
    void aPatternThatCannotRunIsRefusedAsAWriteAndOneAnEarlierReleaseTookIsReadAndMatchesNobody() throws Exception {
        // RE2 syntax only (QA68 F1): a lookahead is refused, with RE2's words, and nothing is written
        ApiClient.Response lookahead = api.put(E + "/flags/staff", ADMIN, "{\"enabled\": true, \"rules\": [{\"conditions\":"
                + " [{\"attribute\": \"email\", \"operator\": \"matches\", \"values\": [\"^(?!admin)\"]}]}]}");
        assertThat(lookahead.status()).isEqualTo(422);
        assertThat(lookahead.json().at("/problems/0/message").asText()).startsWith("must be a valid regular expression in RE2"
                + " syntax, but \"^(?!admin)\" is not: invalid or unsupported Perl syntax");
        assertThat(api.get(E + "/flags/staff", ADMIN).status()).isEqualTo(404);

        // An earlier release took it: the flag is read, listed and changed, and its rule matches nobody
        server.close();
        ObjectMapper json = new ObjectMapper();
        try (FileJournal journal = FileJournal.builder(dataDir.resolve("journal")).open()) {
            journal.append(Change.of(EntryType.FLAG_CREATED, "production", "admin", json.readTree("{\"key\": \"staff\","
                    + " \"enabled\": true, \"rules\": [{\"name\": \"not admin\", \"conditions\": [{\"attribute\": \"email\","
                    + " \"operator\": \"matches\", \"values\": [\"^(?!admin)\"]}]}]}")));
        }
        server = ServerFixture.start(dataDir);
        api = new ApiClient(server.httpPort());
        assertThat(api.get(E + "/flags/staff", ADMIN).status()).isEqualTo(200);
        assertThat(api.get(E + "/flags", ADMIN).status()).isEqualTo(200);
        JsonNode answer = api.post(E + "/evaluate", ADMIN, "{\"user\": {\"id\": \"u\", \"attributes\": {\"email\":"
                + " \"jane@corp.com\"}}, \"flag\": \"staff\"}").json().at("/results/0");
        assertThat(answer.at("/reason/kind").asText()).isEqualTo("ERROR");
        assertThat(answer.at("/reason/detail").asText()).contains("the flag's pattern \"^(?!admin)\" cannot run");
        assertThat(api.patch(E + "/flags/staff", ADMIN, "{\"description\": \"kept\"}").status())
                .as("a write that keeps the pattern").isEqualTo(200);
        assertThat(api.patch(E + "/flags/staff", ADMIN, "{\"enabled\": false}").status()).as("the kill switch").isEqualTo(200);
    }

    @Test
    void aNumberInTextNearerZeroThanADoubleIsRefusedAsAWriteAndOneAnEarlierReleaseTookIsNoNumber() throws Exception {
        // "1e-400" is not 0, but a double reads it as 0: it was taken and compared as 0 with a double (QA88 F4).
        ApiClient.Response tiny = api.put(E + "/flags/seats", ADMIN, "{\"enabled\": true, \"rules\": [{\"conditions\":"
                + " [{\"attribute\": \"seats\", \"operator\": \"numEq\", \"values\": [\"1e-400\"]}]}]}");
        assertThat(tiny.status()).as(tiny.body()).isEqualTo(422);
        assertThat(tiny.json().at("/problems/0/message").asText()).isEqualTo("is too small a number: nearer 0 than a double"
                + " holds (about 4.9e-324), but not 0, was \"1e-400\"");
        assertThat(api.get(E + "/flags/seats", ADMIN).status()).isEqualTo(404);

        // An earlier release took it: the flag is read and changed, and that value holds for nobody, 0 included.
        server.close();
        ObjectMapper json = new ObjectMapper();
        try (FileJournal journal = FileJournal.builder(dataDir.resolve("journal")).open()) {
            journal.append(Change.of(EntryType.FLAG_CREATED, "production", "admin", json.readTree("{\"key\": \"seats\","
                    + " \"enabled\": true, \"rules\": [{\"conditions\": [{\"attribute\": \"seats\", \"operator\": \"numEq\","
                    + " \"values\": [\"1e-400\"]}]}]}")));
        }
        server = ServerFixture.start(dataDir);
        api = new ApiClient(server.httpPort());
        for (String zero : new String[] {"0", "0.0"}) {
            JsonNode answer = api.post(E + "/evaluate", ADMIN, "{\"user\": {\"id\": \"u\", \"attributes\": {\"seats\": "
                    + zero + "}}, \"flag\": \"seats\"}").json().at("/results/0");
            assertThat(answer.at("/value").asBoolean()).as(zero).isFalse();
        }
        assertThat(api.patch(E + "/flags/seats", ADMIN, "{\"description\": \"kept\"}").status())
                .as("a write that keeps the value").isEqualTo(200);
    }

    @Test
    void aFlagDocumentOfTensOfThousandsOfUnknownFieldsIsRefusedWithItsFirstHundredProblems() {
        // 60,000 unknown fields in 0.8 MB: 54 s of a request thread and an answer of 10.5 MB before (QA42c F5).
        StringBuilder flag = new StringBuilder("{\"enabled\": true");
        for (int i = 0; i < 60_000; i++) {
            flag.append(", \"x").append(i).append("\": 1");
        }
        ApiClient.Response refused = api.put(E + "/flags/many-fields", ADMIN, flag.append('}').toString());
        assertThat(refused.status()).isEqualTo(422);
        com.fasterxml.jackson.databind.JsonNode problems = refused.json().get("problems");
        assertThat(problems).hasSize(101);
        assertThat(problems.get(100).get("message").asText()).isEqualTo("and 59900 more problems after these 100, not listed:"
                + " mend these and validate again");
    }

    @Test
    void tokenNamesThatPassForAnotherNameAnotherActorOrTheServerAreRefused() {
        // JSON escapes: U+061C is a bidirectional mark, U+FEFF and U+200B are invisible, \ud800 is half a character.
        // and the tag characters beyond U+FFFF, as invisible as U+200B: "abc" + U+E0041 + "d" shows as "abcd"
        ApiClient.Response tag = token("abc\\udb40\\udc41d", "editor", null);
        assertThat(tag.status()).isEqualTo(400);
        assertThat(detail(tag)).contains("character 4 is U+E0041").doesNotContain("\udb40");
        // and characters that are letters or marks to Unicode but show as nothing or a blank (QA42c F2): Hangul and
        // Braille fillers, the combining grapheme joiner, a variation selector
        for (String name : new String[] {"ali\\u061cce", "ali\\ufeffce", "ali\\u200bce", "ali\\ud800ce", "ali\\u3164ce",
                "ali\\u115fce", "ali\\uffa0ce", "ali\\u2800ce", "ali\\u034fce", "ali\\ufe0fce"}) {
            ApiClient.Response r = token(name, "editor", null);
            assertThat(r.status()).as(name).isEqualTo(400);
            assertThat(detail(r)).as(name).contains("without control characters (nor line separators, bidirectional controls,"
                    + " invisible characters or half characters)").contains("; character 4 is U+").doesNotContain("\u061c");
        }
        ApiClient.Response actorLike = token("alice (tok-bd0b7a70859e)", "editor", null);
        assertThat(actorLike.status()).isEqualTo(400);
        assertThat(detail(actorLike)).contains("name must not end with a token id or \"(admin)\" in parentheses: the audit log"
                + " records who changed something as NAME (TOKEN ID)");
        assertThat(token("admin (admin)", "editor", null).status()).isEqualTo(400);
        assertThat(token("bob (TOK-1) ", "editor", null).status()).isEqualTo(400);
        assertThat(detail(token("flags-server", "editor", null))).startsWith("name must not be \"flags-server\"");
        assertThat(token("flags-server (grant expiry)", "editor", null).status()).isEqualTo(400);
        assertThat(token("Flags-Server", "editor", null).status()).as("in any letter case").isEqualTo(400);
        assertThat(detail(token("Admin", "editor", null))).as("the bootstrap token's name (QA61 F9)")
                .startsWith("name must not be \"admin\"");
        // as people read them: a no-break or ideographic space, fullwidth parentheses, a Unicode hyphen
        for (String name : new String[] {"alice (tok-bd0b7a70859e)\\u00a0", "alice \\uff08tok-bd0b7a70859e\\uff09",
                "alice\\u3000(tok-bd0b7a70859e)", "flags-server\\u00a0(grant expiry)", "flags\\u2010server (grant expiry)",
                "flags\\u2212server", "admin  (admin)", "alice\\u3164(tok-bd0b7a70859e)", "alice\\u2800(tok-bd0b7a70859e)",
                "alice \\u2768tok-bd0b7a70859e\\u2769", "alice [tok-bd0b7a70859e]", "alice (tok-bd0b7a70859e)\\u0301"}) {
            assertThat(token(name, "editor", null).status()).as(name).isEqualTo(400);
        }
        ApiClient.Response pat = token("pat (product owner)", "editor", null);
        assertThat(pat.status()).as("a name in parentheses is fine").isEqualTo(201);
        assertThat(token("\u00e9lodie \ud83d\ude80", "editor", null).status()).as("letters and emoji are fine").isEqualTo(201);

        ApiClient.Response tester = token("tess", "tester", "te\\udc00ss");
        assertThat(tester.status()).isEqualTo(400);
        assertThat(detail(tester)).contains("invisible characters or half characters");
        assertThat(api.get("/api/v1/tokens", ADMIN).json().get("tokens")).as("only the two fine ones were made").hasSize(2);
        assertThat(api.put(E + "/flags/f1", pat.json().get("token").asText(), "{\"enabled\": true}").status()).isEqualTo(201);
        ApiClient.Response audit = api.get("/api/v1/audit?actor=" + encoded("pat (product owner)"), ADMIN);
        assertThat(audit.json().get("entries")).as("a name in parentheses finds its own changes").hasSize(1);
    }

    @Test
    void aGrantToAUserIdWithAnInvisibleOrBidirectionalCharacterIsRefused() {
        assertThat(api.put(E + "/roles/beta-tester/members/te%EF%BB%BFss", ADMIN, null).status()).as("U+FEFF").isEqualTo(400);
        assertThat(api.put(E + "/roles/beta-tester/members/te%D8%9Css", ADMIN, null).status()).as("U+061C").isEqualTo(400);
        assertThat(api.put(E + "/roles/beta-tester/members/tess", ADMIN, null).status()).isEqualTo(200);
    }

    @Test
    void commentsCountCharactersAsPeopleDoAndRefuseHalfCharacters() {
        api.put(E + "/flags/f1", ADMIN, "{\"enabled\": true}");
        String rockets = "\ud83d\ude80".repeat(1500); // 1,500 characters, 3,000 UTF-16 units
        ApiClient.Response many = api.call("PATCH", E + "/flags/f1?comment=" + encoded(rockets), ADMIN, "{\"enabled\": false}", Map.of());
        assertThat(many.status()).as(many.body()).isEqualTo(200);
        ApiClient.Response tooMany = api.call("PATCH", E + "/flags/f1?comment=" + encoded("\ud83d\ude80".repeat(2001)), ADMIN,
                "{\"enabled\": true}", Map.of());
        assertThat(tooMany.status()).isEqualTo(400);
        assertThat(detail(tooMany)).isEqualTo("comment must be at most 2000 characters, was 2001");
        ApiClient.Response tokenComment = api.post("/api/v1/tokens", ADMIN, "{\"name\": \"ci\", \"scope\": \"admin\", \"comment\": \""
                + "a".repeat(2001) + "\"}");
        assertThat(tokenComment.status()).as("a body's comment is held to the same length").isEqualTo(400);
        assertThat(detail(tokenComment)).isEqualTo("comment must be at most 2000 characters, was 2001");
        ApiClient.Response mark = api.call("PATCH", E + "/flags/f1?comment=a%D8%9Cb", ADMIN, "{\"enabled\": true}", Map.of());
        assertThat(mark.status()).isEqualTo(400);
        assertThat(detail(mark)).endsWith("character 2 is U+061C");
        ApiClient.Response half = api.call("POST", E + "/flags/f1/revert", ADMIN, "{\"version\": 1, \"comment\": \"a\\ud800b\"}", Map.of());
        assertThat(half.status()).as(half.body()).isEqualTo(400);
        assertThat(detail(half)).contains("half characters (lone UTF-16 surrogates); character 2 is U+D800");
        assertThat(api.get(E + "/flags/f1", ADMIN).json().get("enabled").asBoolean()).as("nothing written").isFalse();
    }

    @Test
    void aFlagMayNotGetUnreadableTextButOneThatHasItIsStillSwitchedOff() throws Exception {
        ApiClient.Response escape = api.put(E + "/flags/f1", ADMIN, "{\"enabled\": true, \"description\": \"red \\u001b[31m\"}");
        assertThat(escape.status()).isEqualTo(422);
        assertThat(escape.json().get("problems").get(0).get("path").asText()).isEqualTo("description");
        assertThat(escape.json().get("problems").get(0).get("message").asText()).endsWith("character 5 is U+001B");
        ApiClient.Response target = api.put(E + "/flags/f1", ADMIN,
                "{\"enabled\": true, \"targets\": [{\"userIds\": [\"bob\", \"a\\u202eb\"], \"serve\": true}]}");
        assertThat(target.status()).isEqualTo(422);
        assertThat(target.json().get("problems").get(0).get("path").asText()).isEqualTo("targets[0].userIds[1]");
        assertThat(target.body()).as("quoted escaped, never raw").doesNotContain("\u202e");
        ApiClient.Response rule = api.put(E + "/flags/f1", ADMIN,
                "{\"enabled\": true, \"rules\": [{\"name\": \"eu\\u200b\", \"conditions\": [{\"userIds\": [\"x\\ufeff\"]}]}]}");
        assertThat(rule.status()).isEqualTo(422);
        assertThat(rule.json().get("problems")).extracting(p -> p.get("path").asText())
                .containsExactly("rules[0].name", "rules[0].conditions[0].userIds[0]");
        ApiClient.Response lines = api.put(E + "/flags/f1", ADMIN, "{\"enabled\": true, \"description\": \"line one\\n\\tline two\"}");
        assertThat(lines.status()).as("line breaks and tabs are text").isEqualTo(201);
        ApiClient.Response patch = api.patch(E + "/flags/f1", ADMIN, "{\"description\": \"x\\u0000\"}");
        assertThat(patch.status()).isEqualTo(422);

        // An earlier release took such a flag: it is still switched off, and changed where the write adds nothing unreadable.
        String old = "{\"key\": \"old\", \"enabled\": true, \"description\": \"\\u001b[31m\","
                + " \"targets\": [{\"userIds\": [\"a\\u202eb\"], \"serve\": true}]}";
        server.close();
        try (FileJournal journal = FileJournal.builder(dataDir.resolve("journal")).open()) {
            journal.append(Change.of(EntryType.FLAG_CREATED, "production", "admin", new ObjectMapper().readTree(old)));
        }
        server = ServerFixture.start(dataDir);
        api = new ApiClient(server.httpPort());
        assertThat(api.patch(E + "/flags/old", ADMIN, "{\"enabled\": false}").status()).as("the kill switch").isEqualTo(200);
        JsonNode kept = api.get(E + "/flags/old", ADMIN).json();
        ((com.fasterxml.jackson.databind.node.ObjectNode) kept).put("enabled", true);
        ((com.fasterxml.jackson.databind.node.ObjectNode) kept).remove("version");
        assertThat(api.put(E + "/flags/old?switchOn=true", ADMIN, kept.toString()).status()).as("a PUT that keeps its text")
                .isEqualTo(200);
    }

    @Test
    void aKeyWithABidirectionalControlIsQuotedEscapedInTheAnswer() {
        ApiClient.Response r = api.put(E + "/flags/a%E2%80%AEb", ADMIN, "{\"enabled\": true}");
        assertThat(r.status()).isBetween(400, 499);
        assertThat(r.body()).doesNotContain("\u202e");
    }

    @Test
    void twoAuthorizationHeadersAreRefusedNotGuessedBetween() {
        ApiClient.Response r = api.call("GET", "/api/v1/tokens", ADMIN, null, Map.of("Authorization", "Bearer someone-else-entirely"));
        assertThat(r.status()).isEqualTo(400);
        assertThat(detail(r)).isEqualTo("the request has more than one Authorization header: send one");
    }

    @Test
    void aTokenThatExpiresMayNotScheduleAChangeForAfterItsEnd() {
        ApiClient.Response made = api.post("/api/v1/tokens", ADMIN,
                "{\"name\": \"brief\", \"scope\": \"editor\", \"environments\": [\"production\"], \"expiresIn\": \"P1D\"}");
        String brief = made.json().get("token").asText();
        String expiresAt = made.json().get("expiresAt").asText();
        api.put(E + "/flags/f1", ADMIN, "{\"enabled\": true}");
        java.time.Instant end = java.time.Instant.parse(expiresAt);

        ApiClient.Response late = api.post(E + "/flags/f1/schedules", brief,
                "{\"at\": \"" + end.plusSeconds(60) + "\", \"patch\": {\"enabled\": false}}");
        assertThat(late.status()).isEqualTo(400);
        assertThat(detail(late)).startsWith("\"at\" (" + end.plusSeconds(60) + ") is not before this token expires (" + end + ")");
        assertThat(api.post(E + "/flags/f1/schedules", brief, "{\"at\": \"" + end.minusSeconds(3600) + "\", \"patch\": {\"enabled\":"
                + " false}}").status()).as("before its end").isEqualTo(201);
    }
}
