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
            String metrics = metricsOn(first, firstIn);
            assertThat(metrics).contains("\nflags_http_connections 2\n").contains("\nflags_http_connections_max 2\n");

            BufferedReader thirdIn = askHealth(third);
            third.setSoTimeout(1_000); // how long the test looks for an answer that must not come
            assertThatThrownBy(thirdIn::readLine).as("not accepted while two are open").isInstanceOf(SocketTimeoutException.class);

            first.close();
            third.setSoTimeout(10_000); // a guard: accepted as soon as the first has closed
            assertThat(thirdIn.readLine()).isEqualTo("HTTP/1.1 200 OK");
        }
    }

    @Test
    void aLowOpenFileLimitOrCapsSetAboveItGetAWarningAtStartNamingWhatWasSet() {
        assertThat(FlagServer.fewDescriptors(ConnectionLimits.defaults(), 1_048_576)).isEmpty();
        assertThat(FlagServer.fewDescriptors(ConnectionLimits.defaults(), 1_024)).isEmpty();
        assertThat(FlagServer.fewDescriptors(ConnectionLimits.defaults(), -1)).as("not a Unix").isEmpty();
        assertThat(FlagServer.fewDescriptors(ConnectionLimits.defaults(), 400)).singleElement().asString()
                .startsWith("this process may open only 400 files (ulimit -Hn): connections at most 144 gRPC (one per SDK"
                        + " instance) and 128 HTTP, 128 descriptors left to the journal and the JVM; raise the limit to at least 1024");
        assertThat(FlagServer.fewDescriptors(new ConnectionLimits(950, 0, 0), 1_024)).singleElement().asString()
                .startsWith("the connection caps (gRPC 950 set by --grpc-max-connections, HTTP 128) leave 0 of this process's"
                        + " 1024 file descriptors (ulimit -Hn) to the journal and the JVM, fewer than the 128 the default caps leave");
        assertThat(FlagServer.fewDescriptors(new ConnectionLimits(0, 0, 200), 1_024)).singleElement().asString()
                .startsWith("the connection caps (gRPC 768, HTTP 200 set by --http-max-connections) leave 56 of");
    }

    /**
     * Reads the rest of the answer before on {@code socket}, asks {@code /metrics} on it (kept alive) and returns the
     * metrics: at the cap, a new connection could not ask.
     */
    private static String metricsOn(Socket socket, BufferedReader in) throws IOException {
        readBody(in, skipAnswer(in));
        socket.getOutputStream().write("GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        socket.getOutputStream().flush();
        assertThat(in.readLine()).isEqualTo("HTTP/1.1 200 OK");
        return "\n" + readBody(in, skipAnswer(in));
    }

    private static String readBody(BufferedReader in, int length) throws IOException {
        char[] body = new char[length];
        for (int read = 0; read < length; ) {
            int n = in.read(body, read, length - read);
            if (n < 0) {
                throw new java.io.EOFException("the answer ended after " + read + " of " + length + " characters");
            }
            read += n;
        }
        return new String(body);
    }

    /** Reads an answer's headers (after its status line); returns its Content-Length. */
    private static int skipAnswer(BufferedReader in) throws IOException {
        int length = 0;
        for (String line = in.readLine(); !line.isEmpty(); line = in.readLine()) {
            if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(line.indexOf(':') + 1).trim());
            }
        }
        return length;
    }

    /** Sends {@code GET /healthz} on a kept-alive connection; the answer is the returned reader's to read. */
    private static BufferedReader askHealth(Socket socket) throws IOException {
        socket.setSoTimeout(10_000); // a guard
        socket.getOutputStream().write("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        socket.getOutputStream().flush();
        return new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
    }
}
