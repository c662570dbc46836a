package dev.flags.server.journal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The server's other files are replaced whole or not at all, and a failed write leaves nothing behind. */
class DurableFilesTest {

    @TempDir
    Path dir;

    @Test
    void aReplacementReplacesTheContentAndLeavesNoTemporaryFile() throws Exception {
        Path target = dir.resolve("usage.json");
        DurableFiles.replace(target, "old".getBytes(StandardCharsets.UTF_8));
        DurableFiles.replace(target, "new".getBytes(StandardCharsets.UTF_8));

        assertThat(target).hasContent("new");
        assertThat(dir.resolve("usage.json.tmp")).doesNotExist();
    }

    @Test
    void aWriteThatFailsHalfWayKeepsTheOldContentAndRemovesItsPartialTemporaryFile() throws Exception {
        Path target = dir.resolve("usage.json");
        DurableFiles.replace(target, "old".getBytes(StandardCharsets.UTF_8));

        assertThatThrownBy(() -> DurableFiles.replace(target, out -> {
            out.write(new byte[200_000]); // past the buffer: on disk already
            throw new IOException("No space left on device");
        })).isInstanceOf(IOException.class).hasMessage("No space left on device");
        assertThat(target).hasContent("old");
        assertThat(dir.resolve("usage.json.tmp")).as("a partial file would hold the space a full disk lacks").doesNotExist();

        assertThatThrownBy(() -> DurableFiles.replace(target, out -> {
            out.write(new byte[10]);
            throw new IllegalStateException("the content's writer failed");
        })).isInstanceOf(IllegalStateException.class);
        assertThat(target).hasContent("old");
        assertThat(dir.resolve("usage.json.tmp")).doesNotExist();
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files).containsExactly(target);
        }
    }
}
