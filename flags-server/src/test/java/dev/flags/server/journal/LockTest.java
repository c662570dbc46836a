package dev.flags.server.journal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Set;
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

    // --- the lock file on a full disk (QA81 F2): verify only reads, so it must work there

    private static final String KILLED_SERVER = "pid 4711, flags-server, since 2026-12-01T10:00:00Z";

    /**
     * A lock file on a full file system: a write that needs a block the file does not have yet fails with ENOSPC's
     * message, as a write into an empty file does; one within the file's block succeeds.
     */
    private static FileChannel onAFullDisk(Path file) throws IOException {
        FileChannel real = FileChannel.open(file, Set.of(StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE));
        return new FileChannel() {
            private void needsNoNewBlock(long position, int length) throws IOException {
                if (length > 0 && (real.size() == 0 || position + length > 4096)) {
                    throw new IOException("No space left on device");
                }
            }

            @Override
            public int write(ByteBuffer src, long position) throws IOException {
                needsNoNewBlock(position, src.remaining());
                return real.write(src, position);
            }

            @Override
            public int write(ByteBuffer src) throws IOException {
                needsNoNewBlock(real.position(), src.remaining());
                return real.write(src);
            }

            @Override
            public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
                throw new IOException("No space left on device");
            }

            @Override
            public int read(ByteBuffer dst) throws IOException {
                return real.read(dst);
            }

            @Override
            public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
                return real.read(dsts, offset, length);
            }

            @Override
            public int read(ByteBuffer dst, long position) throws IOException {
                return real.read(dst, position);
            }

            @Override
            public long position() throws IOException {
                return real.position();
            }

            @Override
            public FileChannel position(long newPosition) throws IOException {
                real.position(newPosition);
                return this;
            }

            @Override
            public long size() throws IOException {
                return real.size();
            }

            @Override
            public FileChannel truncate(long size) throws IOException {
                real.truncate(size);
                return this;
            }

            @Override
            public void force(boolean metaData) throws IOException {
                real.force(metaData);
            }

            @Override
            public long transferTo(long position, long count, WritableByteChannel target) throws IOException {
                return real.transferTo(position, count, target);
            }

            @Override
            public long transferFrom(ReadableByteChannel src, long position, long count) throws IOException {
                throw new IOException("No space left on device");
            }

            @Override
            public MappedByteBuffer map(MapMode mode, long position, long size) throws IOException {
                return real.map(mode, position, size);
            }

            @Override
            public FileLock lock(long position, long size, boolean shared) throws IOException {
                return real.lock(position, size, shared);
            }

            @Override
            public FileLock tryLock(long position, long size, boolean shared) throws IOException {
                return real.tryLock(position, size, shared);
            }

            @Override
            protected void implCloseChannel() throws IOException {
                real.close();
            }
        };
    }

    @Test
    void aReadOnlyToolHoldsTheLockOnAFullDiskWithoutItsHolderLineAndSaysWhy() throws Exception {
        Path file = dir.resolve(DirectoryLock.FILE_NAME); // empty: the last holder closed the journal
        try (DirectoryLock lock = DirectoryLock.acquireForTool(dir, "journal tool verify", true, LockTest::onAFullDisk)) {
            assertThat(lock.holderLineFailure()).isEqualTo("cannot write this process's holder line into " + file
                    + ": No space left on device");
            assertThat(lock.unclosedBy()).isNull();
            assertThatThrownBy(() -> DirectoryLock.acquire(dir, "flags-server")).as("the lock is held all the same")
                    .isInstanceOf(JournalLockedException.class);
        }
        assertThat(file).isEmptyFile();
    }

    @Test
    void aToolThatWritesIsRefusedOnAFullDiskNamingTheLockFileTheCauseAndTheRemedy() throws Exception {
        Path file = dir.resolve(DirectoryLock.FILE_NAME);
        assertThatThrownBy(() -> DirectoryLock.acquireForTool(dir, "journal tool repair", false, LockTest::onAFullDisk))
                .isInstanceOf(IOException.class)
                .hasMessage("cannot write this process's holder line into " + file + ": No space left on device; if the"
                        + " file system is full, free space on it (or fix the cause), then try again; nothing in the"
                        + " journal was changed");
        try (DirectoryLock again = DirectoryLock.acquire(dir, "flags-server")) {
            assertThat(again.holderLineFailure()).as("the refused tool let the lock go").isNull();
        }
    }

    @Test
    void aKilledHoldersLineSurvivesAReadOnlyToolOnAFullDisk() throws Exception {
        Path file = dir.resolve(DirectoryLock.FILE_NAME);
        Files.writeString(file, KILLED_SERVER + "\n"); // a server killed: its close never emptied the file
        try (DirectoryLock lock = DirectoryLock.acquireForTool(dir, "journal tool verify", true, LockTest::onAFullDisk)) {
            assertThat(lock.unclosedBy()).isEqualTo(KILLED_SERVER);
        }
        assertThat(Files.readString(file)).as("the server's next start still says it was not closed")
                .isEqualTo(KILLED_SERVER + "\n");
    }
}
