package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code flags audit} and {@code flags history} on a small heap, in a JVM of its own (QA71 F5): a log or a history whose
 * flag documents together exceed the heap is printed without holding them all, and an answer that alone does not fit is
 * said to be the memory's fault, not the server's.
 */
class AuditMemoryTest {

    /** The child JVM's heap: as the report's -Xmx64m. */
    private static final String HEAP = "-Xmx64m";

    @RegisterExtension
    final ScriptedHttpServer server = new ScriptedHttpServer();

    @TempDir
    Path dir;

    /** One page of the audit: {@code count} flag changes, each with a document {@code size} characters long. */
    private static String page(int first, int count, int size, boolean last) {
        String padding = "x".repeat(size);
        List<String> entries = new ArrayList<>();
        for (int i = first; i < first + count; i++) {
            entries.add("{\"sequence\": " + i + ", \"timestamp\": \"2026-12-06T15:00:00Z\", \"change\": \"flag_updated\","
                    + " \"environment\": \"production\", \"version\": " + i + ", \"subject\": \"big\", \"actor\": \"alice\","
                    + " \"comment\": \"\", \"payload\": {\"key\": \"big\", \"enabled\": true, \"description\": \"" + padding
                    + "\"}}");
        }
        return "{\"entries\": [" + String.join(", ", entries) + "]" + (last ? "" : ", \"after\": " + (first + count - 1)) + "}";
    }

    /** Runs {@code flags ARGS} in a JVM of {@link #HEAP}; stdout goes to a file, as a redirect would. */
    private FlagsCommandTest.Run child(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                HEAP, "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"), FlagsCommand.class.getName()));
        command.addAll(List.of(args));
        command.addAll(List.of(server.serverOption(), "--token=t0ken"));
        Path out = dir.resolve("out.txt");
        Path err = dir.resolve("err.txt");
        Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("the command ends").isTrue();
        return new FlagsCommandTest.Run(p.exitValue(), java.nio.file.Files.readString(out, StandardCharsets.UTF_8),
                java.nio.file.Files.readString(err, StandardCharsets.UTF_8));
    }

    @Test
    void aLogLargerThanTheHeapIsPrintedPageByPage() throws Exception {
        // 40 pages of 2 changes with 1 MiB documents: 80 MiB of documents, more than the heap, a page of them far less.
        int pages = 40;
        for (int i = 0; i < pages; i++) {
            server.answer(200, null, page(1 + 2 * i, 2, 1 << 20, i == pages - 1));
        }
        FlagsCommandTest.Run lines = child("audit");
        assertThat(lines.exit()).as(lines.err()).isZero();
        assertThat(lines.out().lines()).hasSize(2 * pages).last().asString().contains("flag_updated", "big (v80)");
    }

    @Test
    void aLogLargerThanTheHeapIsWrittenAsJsonPageByPage() throws Exception {
        int pages = 40;
        for (int i = 0; i < pages; i++) {
            server.answer(200, null, page(1 + 2 * i, 2, 1 << 20, i == pages - 1));
        }
        FlagsCommandTest.Run json = child("audit", "--json");
        assertThat(json.exit()).as(json.err()).isZero();
        assertThat(json.out()).startsWith("{\n  \"entries\" : [ {").endsWith("} ]\n}\n");
        assertThat(Api.JSON.readTree(json.out()).path("entries").size()).isEqualTo(2 * pages);
    }

    @Test
    void anAnswerLargerThanTheHeapIsNotTheServerBeingUnreachable() throws Exception {
        server.answer(200, null, page(1, 1, 96 << 20, true)); // one answer of 96 MiB
        FlagsCommandTest.Run r = child("audit");
        assertThat(r.exit()).as(r.err()).isEqualTo(1);
        assertThat(r.err()).contains("flags: the server's answer did not fit in this command's memory (",
                "give Java more, such as JAVA_TOOL_OPTIONS=-Xmx1g").doesNotContain("talking to", "cannot reach");
    }

    @Test
    void aHistoryLargerThanTheHeapIsPrintedWithoutHoldingEveryDocument() throws Exception {
        // The pages come newest first: 40 pages of 2 versions with 1 MiB documents, 80 MiB in all.
        int pages = 40;
        String padding = "x".repeat(1 << 20);
        for (int i = pages - 1; i >= 0; i--) {
            List<String> versions = new ArrayList<>();
            for (int v = 1 + 2 * i; v <= 2 + 2 * i; v++) {
                versions.add("{\"version\": " + v + ", \"sequence\": " + v + ", \"change\": \"flag_updated\", \"actor\":"
                        + " \"alice\", \"timestamp\": \"2026-12-06T15:00:00Z\", \"comment\": \"\", \"flag\": {\"key\": \"big\","
                        + " \"enabled\": " + (v % 2 == 0) + ", \"description\": \"" + padding + "\", \"version\": " + v + "}}");
            }
            server.answer(200, null, "{\"environment\": \"production\", \"flag\": \"big\", \"versions\": ["
                    + String.join(", ", versions) + "]" + (i == 0 ? "" : ", \"earlier\": " + (1 + 2 * i)) + "}");
        }
        FlagsCommandTest.Run r = child("history", "big");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out().lines()).hasSize(2 * pages).last().asString().startsWith("v80 ").contains("flag_updated (on)");
    }
}
