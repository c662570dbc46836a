package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.Writer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A command whose standard output cannot be written (a full disk, a closed pipe) does not end as done (QA71 F3). */
class FailedOutputTest {

    @RegisterExtension
    final ScriptedHttpServer server = new ScriptedHttpServer();

    /** Standard output on a full disk: every write fails, as PrintWriter keeps to itself. */
    private static final class FullDisk extends Writer {
        @Override
        public void write(char[] chars, int offset, int length) throws IOException {
            throw new IOException("No space left on device");
        }

        @Override
        public void flush() throws IOException {
            throw new IOException("No space left on device");
        }

        @Override
        public void close() {
        }
    }

    private FlagsCommandTest.Run flags(String... args) {
        String[] all = java.util.stream.Stream.concat(java.util.Arrays.stream(args),
                java.util.stream.Stream.of(server.serverOption(), "--token=t0ken")).toArray(String[]::new);
        StringWriter err = new StringWriter();
        int exit = FlagsCommand.run(all, new PrintWriter(new FullDisk(), true), new PrintWriter(err, true));
        return new FlagsCommandTest.Run(exit, "", err.toString());
    }

    @Test
    void aListThatCannotBeWrittenIsAFailure() {
        server.answer(200, null, "{\"environment\": \"production\", \"flags\": [{\"key\": \"billing-v2\", \"enabled\": true,"
                + " \"version\": 3}]}");
        FlagsCommandTest.Run r = flags("list");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("flags: writing to standard output failed (a full disk, or a closed pipe): what the"
                + " command printed there is incomplete or missing");
    }

    @Test
    void aTokenWhoseSecretCannotBeWrittenIsSaidToBeMadeAndLost() {
        server.answer(201, null, "{\"id\": \"tok-42d14414363f\", \"name\": \"lost\", \"scope\": \"viewer\", \"environments\":"
                + " [\"production\"], \"expiresAt\": null, \"token\": \"flg_tYJs535DHMBN6I_DXcDX3nP-evgVP-7Uvhc5qMgF1Ts\"}");
        FlagsCommandTest.Run r = flags("tokens", "create", "lost", "--scope", "viewer", "-e", "production");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("flags: token tok-42d14414363f was created, but writing it to standard output failed (a"
                + " full disk, or a closed pipe): its secret is lost; revoke it (flags tokens revoke tok-42d14414363f) and"
                + " make another").doesNotContain("store it now", "flg_");
    }
}
