package dev.flags.server.journal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One writer per data directory: a second journal, here or in another process, is refused. */
class LockTest {

    @TempDir
    Path dir;

    @TempDir
    Path logs;

    @Test
    void secondOpenInTheSameProcessIsRefused() {
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            assertThatThrownBy(() -> FileJournal.builder(dir).open())
                    .isInstanceOf(JournalLockedException.class)
                    .hasMessage("journal data directory " + dir.toAbsolutePath()
                            + " is already open in this process; close that journal first");
            assertThat(journal.state()).isEqualTo(ServerState.EMPTY);
        }
        try (FileJournal again = FileJournal.builder(dir).open()) {
            assertThat(again.lastSequence()).isZero();
        }
    }

    @Test
    void secondProcessIsRefusedWithAClearMessage() throws Exception {
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            journal.append(Fixtures.createEnvironment("prod"));
            Process child = ChildJvm.start(LockChild.class, logs.resolve("child.log"), dir.toString());
            assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
            String out = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);

            assertThat(child.exitValue()).as(out).isEqualTo(3);
            assertThat(out).startsWith("refused: journal data directory " + dir.toAbsolutePath()
                    + " is locked by another process (pid " + ProcessHandle.current().pid() + " since ")
                    .contains("only one server may use a journal");
        }
        Process child = ChildJvm.start(LockChild.class, logs.resolve("child2.log"), dir.toString());
        assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8))
                .isEqualTo("opened at sequence 1\n");
    }
}
