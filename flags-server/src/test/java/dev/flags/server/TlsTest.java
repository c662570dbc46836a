package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TLS from PEM files on the HTTP port (the gRPC port's TLS is tested with the sync service). */
class TlsTest {

    @TempDir
    Path dir;

    @Test
    void servesTheAdminApiOverTlsWithAPemCertificateAndKey() throws Exception {
        TestCertificates certs = TestCertificates.create(dir);
        ServerConfig config = ServerFixture.config(dir.resolve("data")).withTls(certs.certificate, certs.key);
        try (FlagServer server = FlagServer.start(config)) {
            HttpClient client = HttpClient.newBuilder().sslContext(certs.clientContext()).build();
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + server.httpPort() + "/api/v1/environments"))
                    .header("Authorization", "Bearer " + ServerFixture.ADMIN).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.headers().firstValue("Strict-Transport-Security")).as("HSTS").hasValue("max-age=31536000");
            long left = client.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + server.httpPort() + "/metrics"))
                    .build(), HttpResponse.BodyHandlers.ofString()).body().lines()
                    .filter(l -> l.startsWith("flags_tls_certificate_expires_in_seconds ")).mapToLong(l -> Long.parseLong(l.split(" ")[1]))
                    .findFirst().orElseThrow();
            assertThat(left).as("the test certificate is valid for 2 days").isBetween(86_400L, 2 * 86_400L);
            HttpResponse<String> missing = client.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + server.httpPort()
                    + "/nowhere")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(missing.statusCode()).isEqualTo(404);
            assertThat(missing.headers().firstValue("Strict-Transport-Security")).as("on errors too").hasValue("max-age=31536000");
            // plaintext is not served on a TLS port
            assertThatThrownBy(() -> HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + server.httpPort() + "/healthz")).build(), HttpResponse.BodyHandlers.ofString()))
                    .isInstanceOf(java.io.IOException.class);
        }
    }

    @Test
    void aStartWarnsOfACertificateThatExpiresWithinThirtyDays() {
        java.nio.file.Path cert = java.nio.file.Path.of("/etc/flags/cert.pem");
        java.time.Instant now = java.time.Instant.parse("2026-12-05T12:00:00Z");
        assertThat(FlagServer.tlsExpiryWarning(cert, now.plus(java.time.Duration.ofDays(30)), now)).isNull();
        assertThat(FlagServer.tlsExpiryWarning(cert, now.plus(java.time.Duration.ofDays(30)).minusSeconds(1), now))
                .isEqualTo("the TLS certificate /etc/flags/cert.pem expires at 2027-01-04T11:59:59Z, in 29 days: then every"
                        + " client refuses it; renew it and start the server again (it reads the certificate at start);"
                        + " flags_tls_certificate_expires_in_seconds is what to alert on");
        assertThat(FlagServer.tlsExpiryWarning(cert, now.plus(java.time.Duration.ofHours(25)), now)).contains(", in 1 day: ");
        assertThat(FlagServer.tlsExpiryWarning(cert, now.plus(java.time.Duration.ofMinutes(150)), now)).contains(", in 2 hours: ");
        assertThat(FlagServer.tlsExpiryWarning(cert, now.plus(java.time.Duration.ofMinutes(5)), now)).contains(", in under an hour: ");
    }

    @Test
    void aPlaintextPortSaysNothingOfHsts() throws Exception {
        try (FlagServer server = FlagServer.start(ServerFixture.config(dir.resolve("data")))) {
            HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + server.httpPort() + "/healthz")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.headers().firstValue("Strict-Transport-Security")).isEmpty();
        }
    }

    @Test
    void theHttpPortTakesOnlyForwardSecretAeadSuitesAsTheGrpcPortDoes() throws Exception {
        TestCertificates certs = TestCertificates.create(dir);
        ServerConfig config = ServerFixture.config(dir.resolve("data")).withTls(certs.certificate, certs.key);
        try (FlagServer server = FlagServer.start(config)) {
            // RSA key exchange (no forward secrecy) and CBC with SHA-1: what the JDK's defaults would take
            for (String weak : java.util.List.of("TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_128_CBC_SHA",
                    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA")) {
                assertThatThrownBy(() -> handshake(certs, server.httpPort(), weak)).as(weak)
                        .isInstanceOf(javax.net.ssl.SSLHandshakeException.class);
            }
            assertThat(handshake(certs, server.httpPort(), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")).endsWith("_GCM_SHA256");
        }
    }

    @Test
    void aConnectionThatNeverStartsItsHandshakeIsClosedAtTheHeaderDeadline() throws Exception {
        TestCertificates certs = TestCertificates.create(dir);
        ServerConfig config = ServerFixture.config(dir.resolve("data")).withTls(certs.certificate, certs.key);
        try (FlagServer server = FlagServer.start(config)) {
            SlowClientsTest.silentOneClosedAtTheHeaderDeadlineKeptOneNot(server.httpPort(), certs.clientContext().getSocketFactory());
        }
    }

    /** A TLS 1.2 handshake offering only the given suites; returns the suite agreed on. */
    private static String handshake(TestCertificates certs, int port, String... suites) throws Exception {
        try (javax.net.ssl.SSLSocket socket = (javax.net.ssl.SSLSocket) certs.clientContext().getSocketFactory()
                .createSocket("127.0.0.1", port)) {
            socket.setSoTimeout(10_000);
            socket.setEnabledProtocols(new String[] {"TLSv1.2"});
            socket.setEnabledCipherSuites(suites);
            socket.startHandshake();
            return socket.getSession().getCipherSuite();
        }
    }

    @Test
    void aKeyInTheWrongFormatIsAClearError() throws Exception {
        TestCertificates certs = TestCertificates.create(dir);
        Path rsaKey = dir.resolve("old.pem");
        Files.writeString(rsaKey, Files.readString(certs.key).replace("PRIVATE KEY", "RSA PRIVATE KEY"));
        assertThatThrownBy(() -> ServerFixture.config(dir.resolve("data")).withTls(certs.certificate, rsaKey))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("PKCS#8").hasMessageContaining("openssl pkcs8");

        // A key replaced after the settings were checked fails the start, in one line too ...
        ServerConfig config = ServerFixture.config(dir.resolve("data")).withTls(certs.certificate, certs.key);
        Files.writeString(certs.key, Files.readString(rsaKey));
        assertThatThrownBy(() -> FlagServer.start(config)).isInstanceOf(java.io.IOException.class)
                .hasMessageContaining("PKCS#8").hasMessageContaining("openssl pkcs8");
        // ... and the journal was released: a correct start on the same directory works
        try (FlagServer server = FlagServer.start(ServerFixture.config(dir.resolve("data")))) {
            assertThat(server.isReady()).isTrue();
        }
    }
}
