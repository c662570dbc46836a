package dev.flags.client.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import java.security.cert.CertificateException;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;

/**
 * How {@link Syncer} words a failed stream, for the failures that TlsTest cannot make against a real
 * server: a TLS failure of no known kind, gRPC's multi-line texts, and when a hint would mislead.
 */
class SyncerDescribeTest {

    /** gRPC's description of a transport failure on a TLS channel: two lines, the second Netty's pipeline. */
    private static final String IO_EXCEPTION = "io exception\nChannel Pipeline: [SslHandler#0,"
            + " ProtocolNegotiators$ClientTlsHandler#0, WriteBufferingAndExceptionHandler#0, DefaultChannelPipeline$TailContext#0]";

    @Test
    void anOutageIsSaidToTheSecondUpToTenMinutesAndNeverLongerThanItWas() {
        assertThat(Syncer.human(java.time.Duration.ofMillis(850))).isEqualTo("850 ms");
        assertThat(Syncer.human(java.time.Duration.ofMillis(119_999))).isEqualTo("119 s");
        assertThat(Syncer.human(java.time.Duration.ofSeconds(171))).as("QA58 F1: not \"2 min\"").isEqualTo("2 min 51 s");
        assertThat(Syncer.human(java.time.Duration.ofMinutes(3))).isEqualTo("3 min");
        assertThat(Syncer.human(java.time.Duration.ofSeconds(599))).isEqualTo("9 min 59 s");
        assertThat(Syncer.human(java.time.Duration.ofSeconds(659))).isEqualTo("10 min");
        assertThat(Syncer.human(java.time.Duration.ofMinutes(119))).isEqualTo("119 min");
        assertThat(Syncer.human(java.time.Duration.ofMinutes(150))).isEqualTo("2 h 30 min");
        assertThat(Syncer.human(java.time.Duration.ofHours(49))).isEqualTo("49 h");
    }

    @Test
    void onlyAFailedNameResolutionGetsTheHintAboutGrpcsOwnLogger() {
        Status unresolved = Status.UNAVAILABLE.withDescription("Unable to resolve host flags.example.invalid")
                .withCause(new RuntimeException(new java.net.UnknownHostException("flags.example.invalid")));
        assertThat(Syncer.resolutionLogHint(unresolved)).contains("logger " + Syncer.RESOLUTION_LOGGER)
                .contains("set that logger to SEVERE");
        assertThat(Syncer.resolutionLogHint(Status.UNAVAILABLE.withCause(new java.net.UnknownHostException("x"))))
                .as("told by the cause alone").isNotNull();
        assertThat(Syncer.resolutionLogHint(Status.UNAVAILABLE.withDescription("Connection refused"))).isNull();
        assertThat(Syncer.resolutionLogHint(Status.UNAVAILABLE)).isNull();
    }

    @Test
    void aTlsFailureOfNoKnownKindNamesBothLikelyMistakes() {
        Status s = Status.UNAVAILABLE.withDescription(IO_EXCEPTION)
                .withCause(new SSLHandshakeException("Received fatal alert: handshake_failure"));
        assertThat(Syncer.describe(s, false, false)).isEqualTo("UNAVAILABLE: TLS handshake failed (Received fatal"
                + " alert: handshake_failure): the server's certificate may not be trusted (pass its CA with"
                + " trustedCertificates(...)), or the server may not speak TLS (plaintext())");
    }

    @Test
    void aHandshakeThatTimedOutIsATargetThatSentNothingNotACertificateProblem() {
        // Netty's words when a TLS server accepts the connection and never answers (its SslHandshakeTimeoutException).
        Status s = Status.UNAVAILABLE.withDescription(IO_EXCEPTION)
                .withCause(new SSLHandshakeException("handshake timed out after 10000ms"));
        assertThat(Syncer.describe(s, false, false)).isEqualTo("UNAVAILABLE: TLS handshake failed: the target sent nothing"
                + " (handshake timed out after 10000ms): a host that does not answer, a hung server, or a proxy with nothing"
                + " behind it?");
    }

    @Test
    void aCertificateFailureQuotesTheInnermostReason() {
        SSLHandshakeException e = new SSLHandshakeException("General OpenSslEngine problem");
        e.initCause(new CertificateException("PKIX path building failed",
                new CertificateException("unable to find valid certification path to requested target")));
        assertThat(Syncer.describe(Status.UNAVAILABLE.withDescription(IO_EXCEPTION).withCause(e), false, false))
                .isEqualTo("UNAVAILABLE: TLS handshake failed: the server's certificate is not trusted (unable to find valid"
                        + " certification path to requested target); pass the certificate of its CA (or its own, if"
                        + " self-signed) with trustedCertificates(...)");
    }

    @Test
    void anExpiredCertificateIsTheServersToRenewNotATrustProblem() throws Exception {
        // Java's chain for a certificate its trusted CA signed, once expired: the validator's exception wraps the expiry.
        SSLHandshakeException e = new SSLHandshakeException("General OpenSslEngine problem");
        e.initCause(new CertificateException("PKIX path validation failed: validity check failed",
                new java.security.cert.CertPathValidatorException("validity check failed",
                        new java.security.cert.CertificateExpiredException("NotAfter: Sat Feb 01 00:00:00 UTC 2025"))));
        assertThat(Syncer.describe(Status.UNAVAILABLE.withDescription(IO_EXCEPTION).withCause(e), false, false))
                .isEqualTo("UNAVAILABLE: TLS handshake failed: the server's certificate, or one of its chain, has expired"
                        + " (NotAfter: Sat Feb 01"
                        + " 00:00:00 UTC 2025); the server needs a renewed one (it reads it at start)");

        SSLHandshakeException early = new SSLHandshakeException("General OpenSslEngine problem");
        early.initCause(new CertificateException("PKIX path validation failed: validity check failed",
                new java.security.cert.CertificateNotYetValidException("NotBefore: Tue Jan 01 00:00:00 UTC 2030")));
        assertThat(Syncer.describe(Status.UNAVAILABLE.withDescription(IO_EXCEPTION).withCause(early), false, false))
                .isEqualTo("UNAVAILABLE: TLS handshake failed: the server's certificate is not valid yet (NotBefore: Tue Jan"
                        + " 01 00:00:00 UTC 2030); is this machine's clock right?");
    }

    @Test
    void otherFailuresKeepTheirWordsOnOneLineWithoutHexDumps() {
        Status s = Status.UNAVAILABLE.withDescription(IO_EXCEPTION).withCause(new IllegalStateException(
                "HTTP/2 client preface string missing or corrupt. Hex dump for received bytes: "
                        + "16030105a4010005a00303a8a8369fab01109cf59a7f1768\nsecond line"));
        assertThat(Syncer.describe(s, false, false)).isEqualTo("UNAVAILABLE: io exception (HTTP/2 client preface string"
                + " missing or corrupt. Hex dump for received bytes: (bytes omitted))");
        // Unchanged where there was nothing to shorten.
        assertThat(Syncer.describe(Status.UNAUTHENTICATED.withDescription("unknown token"), false, false))
                .isEqualTo("UNAUTHENTICATED: unknown token");
        assertThat(Syncer.describe(Status.UNAVAILABLE.withDescription("io exception")
                .withCause(new java.net.ConnectException("Connection refused")), false, false))
                .isEqualTo("UNAVAILABLE: io exception (Connection refused)");
    }

    @Test
    void aServerThatAnswersHttp1IsProbablyTheAdminPort() {
        // What grpc-java 1.x reports when a plaintext channel reaches an HTTP/1.1 server.
        Status s = Status.INTERNAL.withDescription("http2 exception").withCause(new IllegalStateException(
                "First received frame was not SETTINGS. Hex dump for first 5 bytes: 485454502f"));
        assertThat(Syncer.describe(s, true, false)).isEqualTo("INTERNAL: http2 exception (First received frame was not"
                + " SETTINGS. Hex dump for first 5 bytes: 485454502f); the target answers HTTP/1.x, not gRPC: is it the"
                + " flag server's admin HTTP port? The SDK needs its gRPC port (the server's --grpc-port, 9090 unless set)");
        assertThat(Syncer.describe(Status.INTERNAL.withDescription("http2 exception").withCause(new IllegalStateException(
                "First received frame was not SETTINGS. Hex dump for first 5 bytes: 0000000000")), true, false))
                .doesNotContain("HTTP/1.x");
    }

    @Test
    void noTlsHintWhereItWouldMislead() {
        Status closed = Status.UNAVAILABLE.withDescription("Network closed for unknown reason");
        assertThat(Syncer.describe(closed, true, false))
                .isEqualTo("UNAVAILABLE: Network closed for unknown reason; the server may require TLS (drop plaintext()), or be at its connection cap (then its log says \"refused a connection\")");
        // The same server may reset the connection instead of closing it, depending on timing.
        Status reset = Status.UNAVAILABLE.withDescription("io exception").withCause(new java.io.IOException(
                "recvAddress(..) failed with error(-104): Connection reset by peer"));
        assertThat(Syncer.describe(reset, true, false)).isEqualTo("UNAVAILABLE: io exception (recvAddress(..) failed with"
                + " error(-104): Connection reset by peer); the server may require TLS (drop plaintext()), or be at its connection cap (then its log says \"refused a connection\")");
        // With TLS, or once this SDK has had a stream from the target: no TLS hint, but the cap's (a server restarted into a
        // port that others filled closes the SDK's new connection, or resets it with TLS).
        String cap = "; the server closed the connection unanswered: it may be at its connection cap (then its log says"
                + " \"refused a connection\")";
        assertThat(Syncer.describe(reset, false, false)).doesNotContain("plaintext()").endsWith(cap);
        assertThat(Syncer.describe(closed, false, false)).isEqualTo("UNAVAILABLE: Network closed for unknown reason" + cap);
        // On a stream that had delivered messages (so the connection's setup was right, and it was not refused): nothing.
        // A TLS connection the server closed before its handshake: a server at its connection cap does that.
        Status closedBeforeTls = Status.UNAVAILABLE.withDescription("Connection closed while performing TLS negotiation");
        assertThat(Syncer.describe(closedBeforeTls, false, false)).isEqualTo("UNAVAILABLE: Connection closed while"
                + " performing TLS negotiation; the server closed the connection before any TLS: it may be at its connection"
                + " cap (then its log says \"refused a connection\"), or a proxy with nothing behind it");
        assertThat(Syncer.describe(closedBeforeTls, false, true)).doesNotContain("cap");
        assertThat(Syncer.describe(closed, true, true)).isEqualTo("UNAVAILABLE: Network closed for unknown reason");
        assertThat(Syncer.describe(Status.UNAVAILABLE.withDescription("io exception")
                .withCause(new SSLException("closing inbound before receiving peer's close_notify")), false, true))
                .isEqualTo("UNAVAILABLE: io exception (closing inbound before receiving peer's close_notify)");
    }

    @org.junit.jupiter.api.Test
    void aTargetIsThisMachineOnlyByLocalhostOrALoopbackLiteralNeverByWhatANameStartsWith() {
        for (String other : java.util.List.of("127.evil.example:9090", "127.0.0.1.nip.io:9090", "flags.internal:9090",
                "10.0.0.5:9090", "dns:///flags:443")) {
            org.assertj.core.api.Assertions.assertThat(Syncer.inTheClear(other)).as(other).isTrue();
        }
        for (String local : java.util.List.of("127.0.0.1:9090", "127.1.2.3:9090", "localhost:9090", "localhost.:9090",
                "app.localhost:9090", "[::1]:9090", "[0:0:0:0:0:0:0:1]:9090", "dns:///localhost:9090")) {
            org.assertj.core.api.Assertions.assertThat(Syncer.inTheClear(local)).as(local).isFalse();
        }
    }
}
