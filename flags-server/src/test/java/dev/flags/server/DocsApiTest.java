package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** docs/api.md works as written: its bash blocks run, in order, with curl and jq against a real server. */
class DocsApiTest {

    @TempDir
    Path dir;

    @Test
    void everyExampleInTheApiDocumentRuns() throws Exception {
        String doc = Files.readString(Path.of("..", "docs", "api.md"));
        Matcher m = Pattern.compile("```bash\\n(.*?)```", Pattern.DOTALL).matcher(doc);
        List<String> blocks = new ArrayList<>();
        while (m.find()) {
            blocks.add(m.group(1));
        }
        assertThat(blocks).hasSizeGreaterThan(5);
        // the server runs in dir, with its data in dir/data, as the document assumes
        ServerConfig config = ServerFixture.config(dir.resolve("data")).withAdminToken(null);
        try (FlagServer server = FlagServer.start(config)) {
            Path script = dir.resolve("api-examples.sh");
            Files.writeString(script, "set -euo pipefail\n" + String.join("\n", blocks));
            ProcessBuilder pb = new ProcessBuilder("bash", script.toString()).directory(dir.toFile()).redirectErrorStream(true);
            pb.environment().put("FLAGS", "http://127.0.0.1:" + server.httpPort());
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as(out).isZero();
            assertThat(out).contains("\"title\" : \"invalid flag\"").contains("\"status\" : 412")
                    .contains("\"ruleName\" : \"beta testers\"").contains("back to the 10% canary").contains("flags_http_requests_total")
                    .as("the usage of every flag, none reported").contains("\"reportInterval\" : \"PT1M\"")
                    .contains("\"lastEvaluatedAt\" : null")
                    .as("the keys asked for that are not flags, none reported").contains("{\"unknownFlags\":[]}")
                    .as("the SDKs connected, none").contains("\"unconfirmed\" : 0")
                    .as("the explanation api.md shows")
                    .contains("\"detail\" : \"conditions[1]: percentage 50%: the user's bucket is 90854 of 100000, and the"
                            + " rollout includes buckets 0 to 49999\"");
            assertThat(out).doesNotContain("flg_"); // no secret is ever printed by these examples
            // the playground's answer shown in the document is the one the examples get
            Matcher shown = Pattern.compile("# \\{\"environment\": \"production\", \"version\": (\\d+),.*?\"flagVersion\": (\\d+)\\}",
                    Pattern.DOTALL).matcher(doc);
            assertThat(shown.find()).as("the playground example's output in api.md").isTrue();
            assertThat(out).as("the playground's answer, as api.md shows it")
                    .containsPattern("\"version\" : " + shown.group(1) + ",\\s+\"results\"")
                    .contains("\"flagVersion\" : " + shown.group(2));
        }
    }
}
