package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A path given as a file that is no regular file (a device, a named pipe) is bad usage, exit 2, as a directory or a
 * missing file is, and is never opened: opening a named pipe blocks until a writer comes (QA90 O7).
 */
class NotARegularFileTest {

    /** Nothing listens there: a command that read its file first never gets to it. */
    private static final String NO_SERVER = "--server=http://127.0.0.1:23299";

    @TempDir
    Path dir;

    private static FlagsCommandTest.Run flags(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = FlagsCommand.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new FlagsCommandTest.Run(exit, out.toString(), err.toString());
    }

    @Test
    void aNamedPipeIsBadUsageSaidSoAndNeverOpened() throws Exception {
        Path pipe = dir.resolve("flags.json");
        Process mkfifo;
        try {
            mkfifo = new ProcessBuilder("mkfifo", pipe.toString()).redirectErrorStream(true).start();
        } catch (IOException e) {
            Assumptions.assumeTrue(false, "no mkfifo on this system: " + e.getMessage());
            return;
        }
        assertThat(mkfifo.waitFor()).as(new String(mkfifo.getInputStream().readAllBytes())).isZero();
        // Opened, the pipe would block until a writer came: bounded, so that such a change fails rather than hangs.
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            FlagsCommandTest.Run validate = flags("validate", pipe.toString());
            assertThat(validate.exit()).as(validate.err()).isEqualTo(FlagsCommand.EXIT_USAGE);
            assertThat(validate.err()).startsWith("flags: " + pipe + " is not a regular file (a named pipe); give a flag"
                    + " file\n");
            assertThat(validate.out()).isEmpty();
            assertThat(flags("eval", pipe.toString(), "f", "{}").exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
            FlagsCommandTest.Run apply = flags("apply", pipe.toString(), "--dry-run", NO_SERVER, "--token=t0ken");
            assertThat(apply.exit()).as(apply.err()).isEqualTo(FlagsCommand.EXIT_USAGE);
            assertThat(apply.err()).startsWith("flags: " + pipe + " is not a regular file (a named pipe); give a flag file\n");
            FlagsCommandTest.Run put = flags("put", "f", pipe.toString(), NO_SERVER, "--token=t0ken");
            assertThat(put.exit()).as(put.err()).isEqualTo(FlagsCommand.EXIT_USAGE);
            assertThat(put.err()).startsWith("flags: " + pipe + " is not a regular file (a named pipe); give a flag's JSON"
                    + " document\n");
        });
    }

    @Test
    void aDeviceIsBadUsageSaidSo() {
        Path devNull = Path.of("/dev/null");
        Assumptions.assumeTrue(Files.exists(devNull) && !Files.isRegularFile(devNull), "no /dev/null device here");
        FlagsCommandTest.Run validate = flags("validate", devNull.toString());
        assertThat(validate.exit()).as(validate.err()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(validate.err()).startsWith("flags: /dev/null is not a regular file (a character device); give a flag"
                + " file\n");
        assertThat(flags("eval", devNull.toString(), "f", "{}").exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
    }

    @Test
    void aDirectoryAndAMissingFileAreBadUsageAsBefore() {
        FlagsCommandTest.Run directory = flags("validate", dir.toString());
        assertThat(directory.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(directory.err()).startsWith("flags: " + dir + " is a directory; give a flag file\n");
        FlagsCommandTest.Run missing = flags("validate", dir.resolve("missing.json").toString());
        assertThat(missing.exit()).isEqualTo(FlagsCommand.EXIT_USAGE);
        assertThat(missing.err()).startsWith("flags: no such file: " + dir.resolve("missing.json") + "\n");
    }
}
