package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A server whose certificate this machine does not trust (a private CA's, a self-signed one): the message says what to do. */
class TlsTrustTest {

    @TempDir
    Path dir;

    @Test
    void aCertificateNoTrustedCaVouchesForSaysHowToTrustTheCa() throws Exception {
        // A self-signed certificate, made by the JDK's own keytool, as a private CA's would be to this machine.
        Path keyStore = dir.resolve("server.p12");
        String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
        Process p = new ProcessBuilder(keytool, "-genkeypair", "-alias", "server", "-keyalg", "EC", "-groupname", "secp256r1",
                "-dname", "CN=localhost", "-ext", "SAN=ip:127.0.0.1", "-validity", "2", "-keystore", keyStore.toString(),
                "-storetype", "PKCS12", "-storepass", "changeit").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();

        KeyStore keys = KeyStore.getInstance("PKCS12");
        try (InputStream in = java.nio.file.Files.newInputStream(keyStore)) {
            keys.load(in, "changeit".toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keys, "changeit".toCharArray());
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(kmf.getKeyManagers(), null, null);
        HttpsServer https = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        https.setHttpsConfigurator(new HttpsConfigurator(tls));
        https.createContext("/", exchange -> {
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        https.start();
        try {
            StringWriter stdout = new StringWriter();
            StringWriter stderr = new StringWriter();
            int exit = FlagsCommand.run(new String[] {"list", "--server=https://127.0.0.1:" + https.getAddress().getPort(),
                    "--token=t0ken"}, new PrintWriter(stdout, true), new PrintWriter(stderr, true));
            assertThat(exit).isEqualTo(FlagsCommand.EXIT_UNREACHABLE);
            assertThat(stderr.toString()).startsWith("flags: the flag server at https://127.0.0.1:")
                    .contains("presented a certificate this machine does not trust")
                    .contains("JAVA_TOOL_OPTIONS=\"-Djavax.net.ssl.trustStore=").contains("docs/cli.md")
                    .doesNotContain("PKIX");

            // A trust store of the server's certificate, given without its password (a process of its own: the JVM reads
            // the trust store once): Java reads no certificate from it and blames the server; the message names the cause.
            Path trust = dir.resolve("trust.p12");
            KeyStore trusted = KeyStore.getInstance("PKCS12");
            trusted.load(null, null);
            trusted.setCertificateEntry("server", keys.getCertificate("server"));
            try (var outFile = java.nio.file.Files.newOutputStream(trust)) {
                trusted.store(outFile, "changeit".toCharArray());
            }
            Process cli = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Djavax.net.ssl.trustStore=" + trust, "-cp", System.getProperty("java.class.path"),
                    FlagsCommand.class.getName(), "list", "--server=https://127.0.0.1:" + https.getAddress().getPort(),
                    "--token=t0ken").redirectErrorStream(true).start();
            String said = new String(cli.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(cli.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(cli.exitValue()).as(said).isEqualTo(FlagsCommand.EXIT_UNREACHABLE);
            assertThat(said).contains("-Djavax.net.ssl.trustStore is set (" + trust + ") without"
                    + " -Djavax.net.ssl.trustStorePassword: Java then reads no certificate from a PKCS12 trust store");
        } finally {
            https.stop(0);
        }
        // other TLS failures keep their own words
        for (Throwable other : List.of(new SSLException("Unrecognized SSL message, plaintext connection?"))) {
            assertThat(Api.untrustedCertificate(other)).isFalse();
        }
    }

    @Test
    void aCertificateOutOfItsDatesIsTheServersToRenewOrAClockToSet() {
        // Java's chain when a certificate that a trusted CA signed has expired: the validator's exception wraps the expiry.
        Throwable expired = new javax.net.ssl.SSLHandshakeException("PKIX path validation failed");
        expired.initCause(new java.security.cert.CertPathValidatorException("validity check failed",
                new java.security.cert.CertificateExpiredException("NotAfter: Sat Feb 01 00:00:00 UTC 2025")));
        assertThat(Api.certificateDates(expired)).isEqualTo("that has expired, or one of its chain has (NotAfter: Sat Feb 01"
                + " 00:00:00 UTC 2025): the"
                + " server needs a renewed one (it reads its certificate at start)");
        Throwable early = new javax.net.ssl.SSLHandshakeException("PKIX path validation failed");
        early.initCause(new java.security.cert.CertificateNotYetValidException("NotBefore: Tue Jan 01 00:00:00 UTC 2030"));
        assertThat(Api.certificateDates(early)).isEqualTo("that is not valid yet (NotBefore: Tue Jan 01 00:00:00 UTC 2030): is"
                + " this machine's clock right?");
        assertThat(Api.certificateDates(new javax.net.ssl.SSLHandshakeException("PKIX path building failed"))).isNull();
    }

    @Test
    void aCertificateForAnotherNameSaysToUseANameItLists() {
        // Java's chain when the trusted certificate does not list the name asked for.
        Throwable otherName = new javax.net.ssl.SSLHandshakeException("No subject alternative DNS name matching vm found.");
        otherName.initCause(new java.security.cert.CertificateException("No subject alternative DNS name matching vm found."));
        assertThat(Api.certificateForAnotherName(otherName)).isEqualTo("No subject alternative DNS name matching vm found.");
        assertThat(Api.certificateForAnotherName(new javax.net.ssl.SSLHandshakeException("PKIX path building failed"))).isNull();
        assertThat(Api.trustStoreWithoutPassword(null, null)).isNull();
        assertThat(Api.trustStoreWithoutPassword("ca.p12", "changeit")).isNull();
    }
}
