package dev.flags.server.journal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
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
    void theLockFileSaysWhichProcessHoldsTheJournalAndWhatItIs() throws Exception {
        try (FileJournal journal = FileJournal.builder(dir).holder("flags-server").open()) {
            assertThat(Files.readString(dir.resolve(DirectoryLock.FILE_NAME)))
                    .matches("pid " + ProcessHandle.current().pid() + ", flags-server, since \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\n");
        }
        try (DirectoryLock lock = DirectoryLock.acquire(dir, "journal tool verify")) {
            assertThat(Files.readString(dir.resolve(DirectoryLock.FILE_NAME))).contains(", journal tool verify, since ");
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
                    + " is locked by another process (pid " + ProcessHandle.current().pid() + ", a journal, since ")
                    .contains("only one process at a time may open a journal, a server or a journal tool: stop the other one");
        }
        Process child = ChildJvm.start(LockChild.class, logs.resolve("child2.log"), dir.toString());
        assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8))
                .isEqualTo("opened at sequence 1\n");
    }

    @Test
    void aLockFileThisUserMayNotWriteIsExplainedWithItsOwnerAndWhatToDo() throws Exception {
        Path lock = Files.createFile(dir.resolve(DirectoryLock.FILE_NAME));
        // As QA found it: 'verify' run as root left the lock; the service user 'flags' owns the journal.
        Map<Path, String> owners = Map.of(dir, "flags", lock, "root");
        assertThat(DirectoryLock.accessDenied(dir, lock, "flags", owners::get, p -> "rw-r--r--"))
                .isEqualTo("permission denied: it belongs to root (rw-r--r--), and this process runs as flags; the server"
                        + " or a journal tool run as root probably left it, and maybe other files: give them back with 'chown -R"
                        + " flags " + dir + "' (do not delete them while anything may have the journal open), and run the"
                        + " server and the journal tools as flags, the service user");
        // The tool run as someone else on the service user's journal.
        assertThat(DirectoryLock.accessDenied(dir, lock, "alice", p -> "flags", p -> "rw-r--r--"))
                .endsWith("and this process runs as alice; run the server and the journal tools as flags, the service"
                        + " user that owns the journal");
        // The owner itself, with the permissions taken away.
        assertThat(DirectoryLock.accessDenied(dir, lock, "flags", p -> "flags", p -> "r--r--r--"))
                .endsWith("but its permissions do not let its owner read and write it: 'chmod u+rw " + lock + "'");
        // A journal root owns whole (copied or restored as root), opened by the service user.
        assertThat(DirectoryLock.accessDenied(dir, lock, "flags", p -> "root", p -> "rw-r--r--"))
                .endsWith("and this process runs as flags; a journal that root owns was probably copied or restored as root:"
                        + " give it to the user that runs the server, 'chown -R flags " + dir + "' (as root, with nothing"
                        + " running on it), or run the server and the journal tools as root");
        // No lock file yet, in a directory this user may not write.
        Files.delete(lock);
        assertThat(DirectoryLock.accessDenied(dir, lock, "alice", p -> "flags", p -> "rwxr-xr-x"))
                .isEqualTo("permission denied: cannot create it in " + dir + ", which belongs to flags (rwxr-xr-x), and"
                        + " this process runs as alice; run the server and the journal tools as flags, the user that"
                        + " owns the journal");
        // The owner itself, with the directory's write permission taken away (chmod 500: QA's case).
        assertThat(DirectoryLock.accessDenied(dir, lock, "flags", p -> "flags", p -> "r-x------"))
                .isEqualTo("permission denied: cannot create it in " + dir + ", which belongs to flags (r-x------), and"
                        + " this process runs as flags, but its permissions do not let its owner create files in it:"
                        + " 'chmod u+rwx " + dir + "'");
    }

    @Test
    void aJournalFileThisUserMayNotWriteIsExplainedByItsModeWhenItsOwnerIsThisUser() throws Exception {
        Path segment = Files.createFile(dir.resolve("00000000000000000001.seg"));
        Files.setPosixFilePermissions(segment, PosixFilePermissions.fromString("r--r--r--"));
        String user = System.getProperty("user.name");
        // As the open reports it (a root test process is not refused, so the exception is made here).
        assertThat(FileJournal.Builder.describe(new AccessDeniedException(segment.toString())))
                .isEqualTo(segment + ": permission denied: it belongs to " + user + " (r--r--r--), and this process runs as "
                        + user + ", but its permissions do not let its owner read and write it: 'chmod u+rw " + segment + "'");
    }

    @Test
    void aLockFileThisUserMayNotOpenGivesTheExplanation() throws Exception {
        // Root may open any file, so only another user sees the refusal (see the test above for the words).
        assumeFalse("root".equals(System.getProperty("user.name")), "root may write any file");
        Path lock = Files.createFile(dir.resolve(DirectoryLock.FILE_NAME));
        Files.setPosixFilePermissions(lock, PosixFilePermissions.fromString("r--r--r--"));
        assertThatThrownBy(() -> DirectoryLock.acquire(dir, "a test"))
                .isInstanceOf(AccessDeniedException.class)
                .hasMessageContaining(lock + ": permission denied: it belongs to " + System.getProperty("user.name"))
                .hasMessageContaining("'chmod u+rw " + lock + "'");
    }
}
