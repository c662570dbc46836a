package dev.flags.server;

import static dev.flags.server.ServerFixture.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A long path that names no endpoint (QA83): its 404 says so without echoing the path whole. */
class LongPathTest {

    @TempDir
    Path dir;

    @Test
    void aPathOfHundredsOfKilobytesThatNamesNoEndpointIsNotEchoedWhole() throws Exception {
        try (FlagServer server = ServerFixture.start(dir.resolve("data"));
             Socket s = new Socket(InetAddress.getLoopbackAddress(), server.httpPort())) {
            s.setSoTimeout(20_000);
            // Every segment within the 4,096 characters a segment may have; 500 KiB in all.
            String path = "/api/v1/whoami" + ("/" + "a".repeat(4000)).repeat(128);
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + ADMIN
                    + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(answer).startsWith("HTTP/1.1 404").contains("there is no endpoint GET /api/v1/whoami/aaa");
            assertThat(answer.length()).as("the answer's length").isLessThan(2_000);
        }
    }
}
