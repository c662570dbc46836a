package dev.flags.server.journal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The backup commands of docs/journal.md work as written, pasted into bash with errors on: with no
 * checkpoint yet and no admin-token file (a young journal, a configured token), and with both, while
 * the journal is open, as for a running server.
 */
class DocsBackupTest {

    @TempDir
    Path dir;

    private static String backupCommands() throws Exception {
        String doc = Files.readString(Path.of("..", "docs", "journal.md"));
        Matcher m = Pattern.compile("```bash\\n(.*?)```", Pattern.DOTALL).matcher(doc);
        while (m.find()) {
            if (m.group(1).contains("backup=")) {
                return m.group(1);
            }
        }
        throw new AssertionError("no backup commands in docs/journal.md");
    }

    private Path backUp() throws Exception {
        Path script = dir.resolve("backup.sh");
        Files.writeString(script, "set -euo pipefail\n" + backupCommands());
        Process p = new ProcessBuilder("bash", script.toString()).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(f -> f.getFileName().toString().startsWith("backup-")).findFirst().orElseThrow();
        }
    }

    private static List<String> names(Path directory) throws Exception {
        try (Stream<Path> s = Files.list(directory)) {
            return s.map(f -> f.getFileName().toString()).sorted().toList();
        }
    }

    private static void assertVerifies(Path journal) {
        StringWriter out = new StringWriter();
        assertThat(JournalTool.run(new PrintWriter(out, true), new PrintWriter(out, true), "verify", journal.toString()))
                .as(out.toString()).isZero();
    }

    @Test
    void aJournalWithoutACheckpointOrAnAdminTokenFileIsBackedUp() throws Exception {
        Path journal = dir.resolve("data/journal");
        try (FileJournal open = FileJournal.builder(journal).segmentSize(4096).open()) {
            open.append(Fixtures.createEnvironment("prod"));
            open.append(Fixtures.createFlag("prod", "billing-v2"));
            assertThat(Fixtures.checkpoints(journal)).as("no checkpoint yet").isEmpty();

            Path backup = backUp();

            assertThat(names(backup)).containsExactly("journal");
            assertThat(names(backup.resolve("journal"))).containsExactly(Segments.fileName(1));
        }
        assertVerifies(dir.resolve(names(dir).stream().filter(n -> n.startsWith("backup-")).findFirst().orElseThrow())
                .resolve("journal"));
    }

    @Test
    void checkpointsSegmentsAndTheFilesBesideTheJournalAreBackedUp() throws Exception {
        Path journal = dir.resolve("data/journal");
        Files.createDirectories(journal);
        Files.writeString(dir.resolve("data/admin-token"), "flg_a-generated-token-0123456789\n");
        Files.writeString(dir.resolve("data/admin-token-since"), "sha256:0000 2026-12-01T00:00:00Z\n");
        Files.writeString(dir.resolve("data/usage.json"), "{}\n");
        Files.writeString(dir.resolve("data/journal-created"), "made\n");
        Files.writeString(dir.resolve("data/webhook-cursor"), "40\n");
        Path backup;
        try (FileJournal open = FileJournal.builder(journal).segmentSize(4096).open()) {
            open.append(Fixtures.createEnvironment("prod"));
            open.append(Fixtures.createFlag("prod", "billing-v2"));
            for (int i = 0; i < 60; i++) {
                open.append(Fixtures.updateFlag("prod", "billing-v2", i % 2 == 0));
            }
            open.checkpoint();

            backup = backUp();
        }
        assertThat(names(backup)).containsExactly("admin-token", "admin-token-since", "journal", "journal-created", "usage.json",
                "webhook-cursor");
        List<String> copied = names(backup.resolve("journal"));
        assertThat(copied).contains(Checkpoints.fileName(62)).doesNotContain(DirectoryLock.FILE_NAME);
        for (Path segment : Fixtures.segments(journal)) {
            assertThat(copied).contains(segment.getFileName().toString());
        }
        assertVerifies(backup.resolve("journal"));
    }
}
