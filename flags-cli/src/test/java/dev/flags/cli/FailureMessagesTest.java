package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.EOFException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ConnectException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.UnresolvedAddressException;
import javax.net.ssl.SSLException;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** What the command says when the server refuses a change or cannot be talked to. */
class FailureMessagesTest {

    @RegisterExtension
    final ScriptedHttpServer server = new ScriptedHttpServer();

    private FlagsCommandTest.Run rollout() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = FlagsCommand.run(new String[] {"rollout", server.serverOption(), "--token=t0ken", "billing-v2", "50", "--rule", "0"},
                new PrintWriter(out, true), new PrintWriter(err, true));
        return new FlagsCommandTest.Run(exit, out.toString(), err.toString());
    }

    @Test
    void aServerThatTookTheConnectionButDidNotAnswerIsNotCalledUnreachable() {
        assertThat(Api.unreachable("http://flags:8080", new java.net.http.HttpTimeoutException("request timed out")))
                .isEqualTo("the flag server at http://flags:8080 took the connection but did not answer within 30 s: it may be"
                        + " overloaded, or at its cap of open connections (--http-max-connections; its flags_http_connections"
                        + " metric says how many are open); try again later");
        assertThat(Api.unreachable("http://flags:8080", new java.net.http.HttpConnectTimeoutException("HTTP connect timed out")))
                .isEqualTo("cannot reach the flag server at http://flags:8080: HTTP connect timed out (set --server or FLAGS_SERVER)");
        assertThat(Api.unreachable("https://flags:8443", new java.net.http.HttpConnectTimeoutException("HTTP connect timed out")))
                .as("over https the handshake is in the connect timeout").contains("at its cap of open connections");
        assertThat(Api.unreachable("http://flags:8080", new ConnectException()))
                .isEqualTo("cannot reach the flag server at http://flags:8080: connection refused (set --server or FLAGS_SERVER)");
    }

    @Test
    void aRefusalOfWhatTheCliItselfSentSuggestsAnOlderServer() {
        server.answer(400, null, "{\"status\": 400, \"title\": \"bad request\", \"detail\": \"\\\"addTarget\\\" is not a patch"
                + " operation; the operations are [enabled, default]\"}");
        FlagsCommandTest.Run old = rollout();
        assertThat(old.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(old.err()).isEqualTo("flags: \"addTarget\" is not a patch operation; the operations are [enabled, default]\n"
                + "  (this command sent what the server does not know: is it an older release than this CLI? upgrade the"
                + " server, or use the CLI of its release; server.md, Upgrading)\n");
        assertThat(Api.olderServer(400, "unknown query parameter \"archived\": this DELETE takes unusedFor, comment")).isTrue();
        assertThat(Api.olderServer(404, "there is no endpoint DELETE /api/v1/x; see docs/api.md")).isTrue();
        assertThat(Api.olderServer(404, "there is no flag \"x\" in environment \"production\"")).as("the user's typo").isFalse();
        assertThat(Api.olderServer(400, "percentage must be a number")).isFalse();
    }

    @Test
    void anInvalidFlagsProblemsArePrintedOnceEach() {
        server.answer(422, null, """
                {"status": 422, "title": "invalid flag", "detail": "the flag is not valid: 2 problems, listed in \\"problems\\"",
                 "problems": [{"path": "enabled", "message": "must be true or false, was \\"yes\\""},
                              {"path": "rules[0].conditions[0].percentage", "message": "must be between 0 and 100, was 150"}]}""");
        FlagsCommandTest.Run many = rollout();
        assertThat(many.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(many.err()).isEqualTo("""
                flags: the flag is not valid: 2 problems, listed in "problems"
                  enabled must be true or false, was "yes"
                  rules[0].conditions[0].percentage must be between 0 and 100, was 150
                """);

        server.answer(422, null, """
                {"status": 422, "title": "invalid flag",
                 "detail": "the flag is not valid: flag \\"billing-v2\\": rules[0].conditions[0].percentage must be between 0 and 100, was 150",
                 "problems": [{"path": "rules[0].conditions[0].percentage", "message": "must be between 0 and 100, was 150"}]}""");
        FlagsCommandTest.Run one = rollout();
        assertThat(one.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(one.err()).isEqualTo("flags: the flag is not valid: flag \"billing-v2\": rules[0].conditions[0].percentage"
                + " must be between 0 and 100, was 150\n");
    }

    @Test
    void whatTheServerQuotesInAnErrorCannotDriveTheTerminal() {
        // A detail quotes names, ids and values people typed: an escape sequence, a carriage return or a bidi override
        // among them is shown escaped, in the detail and in each problem.
        server.answer(422, null, """
                {"status": 422, "title": "invalid flag", "detail": "the flag is not valid: 2 problems, value \\"\\u001b]0;pwned\\u0007\\"",
                 "problems": [{"path": "description", "message": "was \\"a\\rb\\u202ec\\""},
                              {"path": "rules[0]\\u009b2J", "message": "must be an object"}]}""");
        FlagsCommandTest.Run run = rollout();
        assertThat(run.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(run.err()).isEqualTo("""
                flags: the flag is not valid: 2 problems, value "\\u001b]0;pwned\\u0007"
                  description was "a\\rb\\u202ec"
                  rules[0]\\u009b2J must be an object
                """);
    }

    private FlagsCommandTest.Run archive(String... more) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        String[] args = new String[3 + more.length];
        args[0] = "archive";
        args[1] = server.serverOption();
        args[2] = "--token=t0ken";
        System.arraycopy(more, 0, args, 3, more.length);
        int exit = FlagsCommand.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new FlagsCommandTest.Run(exit, out.toString(), err.toString());
    }

    @Test
    void archiveLeavesTheLastWordOnUsageToTheServerWhichChecksAsItArchives() {
        // The usage read first shows no evaluation; a report comes before the archive, and the server refuses it.
        server.answer(200, null, "{\"environment\": \"production\", \"since\": \"2020-01-01T00:00:00Z\", \"reportInterval\": \"PT1M\","
                + " \"flags\": [{\"flag\": \"billing-v2\", \"lastEvaluatedAt\": null, \"applications\": []}]}");
        server.answer(409, null, "{\"status\": 409, \"title\": \"conflict\", \"detail\": \"flag \\\"billing-v2\\\" was evaluated"
                + " at 2026-12-04T01:30:00Z (by billing): code still asks for it\"}");
        FlagsCommandTest.Run refused = archive("billing-v2", "--unused-for", "2w", "-m", "v1 gone");
        assertThat(refused.exit()).isEqualTo(FlagsCommand.EXIT_FAILED);
        assertThat(refused.err()).isEqualTo("flags: flag \"billing-v2\" was evaluated at 2026-12-04T01:30:00Z (by billing): code"
                + " still asks for it\n");
        assertThat(server.requests()).containsExactly("GET /api/v1/environments/production/usage?flag=billing-v2",
                "DELETE /api/v1/environments/production/flags/billing-v2?unusedFor=P2W&comment=v1%20gone");

        server.answer(200, null, "{\"key\": \"billing-v2\", \"archived\": true, \"environmentVersion\": 9}");
        assertThat(archive("billing-v2", "--force").exit()).isZero();
        assertThat(server.requests().get(2)).as("--force: no usage read, no unusedFor")
                .isEqualTo("DELETE /api/v1/environments/production/flags/billing-v2");
    }

    @Test
    void aPortThatAnswersSomethingOtherThanHttpIsSaidInWordsNotItsBytes() throws Exception {
        try (java.net.ServerSocket notHttp = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            Thread answer = new Thread(() -> {
                try (java.net.Socket s = notHttp.accept()) {
                    s.getInputStream().read(new byte[1024]);
                    // What a gRPC port sends first: an HTTP/2 SETTINGS frame, binary, with control characters in it.
                    s.getOutputStream().write(new byte[] {0, 0, 18, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, (byte) 0xff, 27, '[', '2', 'J',
                        '\r', '\n', '\r', '\n'});
                    s.getOutputStream().flush();
                } catch (IOException e) {
                    // the test's assertions tell
                }
            });
            answer.start();
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            int exit = FlagsCommand.run(new String[] {"list", "--server=http://127.0.0.1:" + notHttp.getLocalPort(),
                "--token=cli-test-token-0123456789"}, new PrintWriter(out, true), new PrintWriter(err, true));
            answer.join(10_000);
            assertThat(exit).as(err.toString()).isEqualTo(FlagsCommand.EXIT_UNREACHABLE);
            assertThat(err.toString()).isEqualTo("flags: talking to http://127.0.0.1:" + notHttp.getLocalPort() + " failed: the"
                    + " answer is not HTTP: is this the flag server's HTTP port (not its gRPC port), and http or https as the"
                    + " server serves it?\n");
        }
    }

    @Test
    void httpsToAPortWithoutTlsIsSaidInWords() throws Exception {
        try (java.net.ServerSocket plain = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            // Every connection is answered, not only the first: a stray one (a client of an earlier test still trying the
            // port it had) must not leave the command's own unanswered until its connect timeout (seen once in CI).
            Thread answer = new Thread(() -> {
                while (!plain.isClosed()) {
                    try (java.net.Socket s = plain.accept()) {
                        s.getInputStream().read(new byte[1024]); // a TLS ClientHello, answered as a plain HTTP server does
                        s.getOutputStream().write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                                .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                        s.getOutputStream().flush();
                    } catch (IOException e) {
                        // closed at the end of the test, or one connection failed: the test's assertions tell
                    }
                }
            });
            answer.setDaemon(true);
            answer.start();
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            int exit = FlagsCommand.run(new String[] {"list", "--server=https://127.0.0.1:" + plain.getLocalPort(),
                "--token=cli-test-token-0123456789"}, new PrintWriter(out, true), new PrintWriter(err, true));
            assertThat(exit).as(err.toString()).isEqualTo(FlagsCommand.EXIT_UNREACHABLE);
            assertThat(err.toString()).isEqualTo("flags: talking to https://127.0.0.1:" + plain.getLocalPort() + " failed: the"
                    + " server does not speak TLS on this port: is it served over http (no TLS), or is this not its HTTP port?\n");
        }
    }

    @Test
    void aTokenSentInTheClearToAnotherMachineIsWarnedAbout() {
        java.io.StringWriter notices = new java.io.StringWriter();
        new Api("http://flags.example.com:8080/", "an-admin-token-0123456789", new java.io.PrintWriter(notices, true));
        assertThat(notices.toString()).isEqualTo("flags: warning: the token goes to http://flags.example.com:8080 in the clear"
                + " (http, not a loopback address): anyone on the way can read it; use https://\n")
                .doesNotContain("an-admin-token");
        assertThat(Api.inTheClear("http://127.evil.example:8080")).as("a name, not an address").isTrue();
        assertThat(Api.inTheClear("http://127.0.0.1.nip.io:8080")).isTrue();
        // QA71 F9: a name under localhost may be looked up in DNS by the system's resolver; only localhost itself is not.
        assertThat(Api.inTheClear("http://x.localhost:8080")).isTrue();
        assertThat(Api.inTheClear("http://x.localhost.:8080")).isTrue();
        assertThat(Api.inTheClear("http://localhost:8080")).isFalse();
        assertThat(Api.inTheClear("http://LOCALHOST.:8080")).isFalse();
        assertThat(Api.inTheClear("http://127.0.0.1:8080")).isFalse();
        assertThat(Api.inTheClear("http://[::1]:8080")).isFalse();
        for (String quiet : List.of("https://flags.example.com", "http://127.0.0.1:8080", "http://localhost:8080",
                "http://[::1]:8080", "http://[0:0:0:0:0:0:0:1]:8080", "http://127.1.2.3:80")) {
            java.io.StringWriter none = new java.io.StringWriter();
            new Api(quiet, "an-admin-token-0123456789", new java.io.PrintWriter(none, true));
            assertThat(none.toString()).as(quiet).isEmpty();
        }
    }

    @Test
    void failuresWithoutAMessageAreDescribedInWordsNeverAsNull() {
        // What Java 17's HTTP client throws for a refused connection, and for a host name that does not resolve.
        ConnectException refused = new ConnectException();
        refused.initCause(new ConnectException().initCause(new ClosedChannelException()));
        assertThat(Api.describe(refused)).isEqualTo("connection refused");
        ConnectException unresolved = new ConnectException();
        unresolved.initCause(new ConnectException().initCause(new UnresolvedAddressException()));
        assertThat(Api.describe(unresolved)).isEqualTo("unknown host");

        assertThat(Api.describe(new SSLException("Received fatal alert: handshake_failure")))
                .isEqualTo("Received fatal alert: handshake_failure");
        assertThat(Api.describe(new IOException("outer", new EOFException("inner")))).isEqualTo("outer");
        assertThat(Api.describe(new IOException(null, new EOFException("inner")))).isEqualTo("inner");
        // new IOException(cause) takes the cause's class name as its message: not words for a person.
        assertThat(Api.describe(new IOException(new EOFException()))).isEqualTo("EOF");
        assertThat(Api.describe(new IOException(new ClosedChannelException()))).isEqualTo("closed channel");
        assertThat(Api.inWords("HttpConnectTimeoutException")).isEqualTo("http connect timeout");
        assertThat(Api.inWords("SSLHandshakeException")).isEqualTo("SSL handshake");
    }

    @Test
    void aTokenCopiedWithItsLineEndIsSentWithoutItAndATokenWithAnotherStrayCharacterIsRefusedUnshown() {
        String token = "flg_XUpEmcAv1YY08gsLpFyawUkbvncBsD";
        server.answer(200, null, "{\"flags\": []}");
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = FlagsCommand.run(new String[] {"list", server.serverOption(), "--token", token + "\r\n"},
                new PrintWriter(out, true), new PrintWriter(err, true));
        assertThat(exit).as(err.toString()).isEqualTo(FlagsCommand.EXIT_OK);
        assertThat(server.authorizations()).containsExactly("Bearer " + token);

        for (String stray : new String[] {token.substring(0, 10) + "\r" + token.substring(10), token.substring(0, 10) + " " + token.substring(10),
                token.substring(0, 10) + "\u00e9" + token.substring(10)}) {
            StringWriter refusedErr = new StringWriter();
            int refused = FlagsCommand.run(new String[] {"list", server.serverOption(), "--token", stray},
                    new PrintWriter(new StringWriter(), true), new PrintWriter(refusedErr, true));
            assertThat(refused).isEqualTo(FlagsCommand.EXIT_USAGE);
            assertThat(refusedErr.toString()).startsWith("flags: the token (--token or FLAGS_TOKEN) has a character no token has,"
                    + " at position 11 of 35 (").doesNotContain(token.substring(0, 10)).doesNotContain(token.substring(11));
        }
        assertThat(server.requests()).as("nothing sent with a token that is not one").hasSize(1);
    }

    @Test
    void schedulesThatNoLongerApplyAreNamedWithThisCommandsPointerNotTheApis() {
        assertThat(Api.noLongerApply("sch-000000000001, and 3 more (GET .../schedules?flag=billing-v2)")).isEqualTo("flags:"
                + " pending schedules no longer apply to the flag as it will be at their time, and will fail then:"
                + " sch-000000000001, and 3 more (flags schedules shows them; flags unschedule ID, then schedule the change"
                + " again)");
        assertThat(Api.noLongerApply("sch-000000000001")).endsWith("then: sch-000000000001 (flags schedules shows them; flags"
                + " unschedule ID, then schedule the change again)");
    }
}
