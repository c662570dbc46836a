package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The HTTP port's cap on open connections, as clients see it: one over it waits until another closes. */
class HttpConnectionLimitTest {

    @TempDir
    Path dir;

    @Test
    void aConnectionOverTheCapWaitsToBeAcceptedUntilAnotherCloses() throws Exception {
        ServerConfig config = ServerFixture.config(dir).withConnectionLimits(new ConnectionLimits(0, 0, 2));
        try (FlagServer server = FlagServer.start(config);
             Socket first = new Socket("127.0.0.1", server.httpPort());
             Socket second = new Socket("127.0.0.1", server.httpPort());
             Socket third = new Socket("127.0.0.1", server.httpPort())) {
            BufferedReader firstIn = askHealth(first);
            BufferedReader secondIn = askHealth(second);
            assertThat(firstIn.readLine()).isEqualTo("HTTP/1.1 200 OK");
            assertThat(secondIn.readLine()).isEqualTo("HTTP/1.1 200 OK");

            BufferedReader thirdIn = askHealth(third);
            third.setSoTimeout(1_000); // how long the test looks for an answer that must not come
            assertThatThrownBy(thirdIn::readLine).as("not accepted while two are open").isInstanceOf(SocketTimeoutException.class);

            first.close();
            third.setSoTimeout(10_000); // a guard: accepted as soon as the first has closed
            assertThat(thirdIn.readLine()).isEqualTo("HTTP/1.1 200 OK");
        }
    }

    /** Sends {@code GET /healthz} on a kept-alive connection; the answer is the returned reader's to read. */
    private static BufferedReader askHealth(Socket socket) throws IOException {
        socket.setSoTimeout(10_000); // a guard
        socket.getOutputStream().write("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        socket.getOutputStream().flush();
        return new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
    }
}
