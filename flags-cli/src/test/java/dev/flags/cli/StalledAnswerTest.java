package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/**
 * An answer whose status and headers came, and then nothing more (a proxy or a server stuck mid-answer, a connection
 * lost without a reset): the request's timeout ends at the headers, so the command waited as long as the connection
 * stayed open, a kill switch included (QA90 F2).
 */
class StalledAnswerTest {

    @Test
    void anAnswerThatStopsAfterItsHeadersEndsTheCommandAsUnreachable() throws Exception {
        CountDownLatch done = new CountDownLatch(1);
        try (ServerSocket listening = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Thread stuck = new Thread(() -> {
                try (Socket s = listening.accept()) {
                    InputStream in = s.getInputStream();
                    in.read(new byte[65536]); // the request (small: its headers come in one read)
                    OutputStream out = s.getOutputStream();
                    out.write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"key\"")
                            .getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    done.await(); // the rest never comes; the connection stays open
                } catch (Exception e) {
                    // the test ended
                }
            }, "stuck-server");
            stuck.setDaemon(true);
            stuck.start();
            StringWriter notices = new StringWriter();
            Api api = new Api("http://127.0.0.1:" + listening.getLocalPort(), "cli-test-token-0123456789",
                    new PrintWriter(notices, true), Duration.ofSeconds(1));
            CliException failed = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> catchThrowableOfType(
                    () -> api.call("PATCH", "/environments/production/flags/billing-v2",
                            Api.JSON.createObjectNode().put("enabled", false), null), CliException.class));
            assertThat(failed).as("the command ends, and says why").isNotNull();
            assertThat(failed.exitCode()).isEqualTo(FlagsCommand.EXIT_UNREACHABLE);
            assertThat(failed.getMessage()).isEqualTo("the flag server at http://127.0.0.1:" + listening.getLocalPort()
                    + " answered 200, then sent nothing more of its answer for 1 s (a connection lost on the way, or a proxy"
                    + " or server stuck): what it did is not known; check it (flags show, flags history) before trying again");
        } finally {
            done.countDown();
        }
    }
}
