package dev.flags.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.examples.demo.Demo;
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

/**
 * examples/README.md works as written: with the demo running, its bash blocks run in order in one
 * shell, with the real {@code flags} command. Between blocks the runner waits until the billing
 * service's SDK has the server's latest version (a person reading takes longer than that).
 */
class ReadmeTest {

    @TempDir
    Path dir;

    @Test
    void theWalkthroughRunsAsWritten() throws Exception {
        Path jar = Path.of("..", "flags-cli", "target", "flags.jar").toAbsolutePath().normalize();
        assertThat(jar).as("the flags command is built before the examples (./mvnw verify builds it)").exists();
        String readme = Files.readString(Path.of("README.md"));
        Matcher m = Pattern.compile("```bash\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        List<String> blocks = new ArrayList<>();
        while (m.find()) {
            blocks.add(m.group(1));
        }
        assertThat(blocks).hasSizeGreaterThanOrEqualTo(8);

        // The page runs from the repository's root: ./flags and demo-data/ are there. The
        // repository's own ./flags script, linked (it finds its jar through the link).
        Path flagsScript = Path.of("..", "flags").toAbsolutePath().normalize();
        assertThat(Files.isExecutable(flagsScript) && Files.size(flagsScript) > 0).as("%s is an executable script", flagsScript).isTrue();
        Files.createSymbolicLink(dir.resolve("flags"), flagsScript);
        String synced = """
                __synced() {
                  want=$(curl -sS -H "Authorization: Bearer $ADMIN_TOKEN" "$FLAGS_SERVER/api/v1/environments/production" | jq .version)
                  for _ in $(seq 1 2000); do
                    curl -sS "$BILLING/health" | grep -q "flags version $want)" && return 0
                  done
                  echo "the billing service never reached version $want" >&2; return 1
                }
                """;
        StringBuilder script = new StringBuilder("set -euo pipefail\n").append(synced);
        for (String block : blocks) {
            script.append(block).append("\n__synced\necho '--- block done'\n");
        }
        Files.writeString(dir.resolve("walkthrough.sh"), script);

        try (Demo.Running demo = Demo.start(dir.resolve("demo-data"), 0, 0, 0)) {
            assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("demo-data"))))
                    .as("the demo's data directory is made as the server makes one: its owner's only").isEqualTo("rwx------");
            Process p = new ProcessBuilder("bash", "walkthrough.sh").directory(dir.toFile()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            Files.writeString(Path.of("target", "readme-walkthrough.out"), out); // to read when a step changes
            assertThat(p.waitFor(300, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as(out).isZero();
            assertThat(out).contains("--- block done").contains("\"billing\":\"v2\"").contains("incident 4711").contains("enabled: true -> false")
                    .as("the on-call's token throws the kill switch, and may not release").contains("olga (on call)")
                    .contains("may only switch flags off").contains("refused: not the on-call's to release")
                    .as("--wait: the billing service's SDK said it applied the kill switch")
                    .containsPattern("flags: the SDK connected to environment \"production\" has applied version \\d+ \\(")
                    .contains("\"reason\":\"FLAG_NOT_FOUND\"")
                    .as("the tester's own roles").containsPattern("\nbeta-tester +yes[^\n]* tess")
                    .as("the usage table before the archive").contains("LAST EVALUATED").contains("\nbilling-v2 ")
                    .as("Monday's schedule, listed, then cancelled").contains("  billing-v2  {\"enabled\":true}  by pat (product owner)")
                    .contains("flags: no scheduled changes of flag \"billing-v2\" in environment \"production\"")
                    .contains("  - rule 1 \"eu canary\": not matched: conditions[1]: percentage 10%: the user's bucket is 90854 of"
                            + " 100000, and the rollout includes buckets 0 to 9999");
        }
    }
}
