package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The TLS files are checked with the other settings: a key that is not the certificate's, or in a form
 * the server cannot read, is refused in one line before either port opens. Keys are made by openssl.
 */
class PemTlsTest {

    @TempDir
    Path dir;

    @Test
    void aCertificateOutsideItsValidityIsRefusedWithItsDates() throws Exception {
        Path expired = Files.createDirectory(dir.resolve("expired"));
        Path[] files = certificateFrom(expired, "2025/01/01 00:00:00", 31); // until 2025-02-01
        assertThatThrownBy(() -> ServerConfig.defaults().withTls(files[0], files[1]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the TLS certificate " + files[0] + " expired at 2025-02-01T00:00:00Z: every client would refuse it;"
                        + " renew it (the server reads it at start: start it again after)");

        TestCertificates certs = TestCertificates.create(Files.createDirectory(dir.resolve("now")));
        java.time.Instant expiry = PemTls.expiry(certs.certificate);
        assertThat(expiry).isBetween(java.time.Instant.now().plus(java.time.Duration.ofDays(1)),
                java.time.Instant.now().plus(java.time.Duration.ofDays(2)));
        java.time.Instant early = expiry.minus(java.time.Duration.ofDays(3)).plusMillis(1500);
        assertThatThrownBy(() -> PemTls.check(certs.certificate, certs.key, early))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("the TLS certificate " + certs.certificate + " is valid only from ")
                .hasMessageEndingWith(" (this machine's clock says " + early.truncatedTo(java.time.temporal.ChronoUnit.SECONDS)
                        + "): every client would refuse it until then; check the clocks, or use a certificate valid now");
        assertThatCode(() -> PemTls.check(certs.certificate, certs.key, expiry)).as("its last moment").doesNotThrowAnyException();
        assertThatThrownBy(() -> PemTls.check(certs.certificate, certs.key, expiry.plusSeconds(1)))
                .hasMessageContaining(" expired at " + expiry + ": ");
    }

    @Test
    void anExpiredCertificateFurtherUpTheChainIsRefusedToo() throws Exception {
        TestCertificates leaf = TestCertificates.create(Files.createDirectory(dir.resolve("leaf")));
        Path[] old = certificateFrom(Files.createDirectory(dir.resolve("intermediate")), "2025/01/01 00:00:00", 31);
        Path chain = dir.resolve("chain.pem");
        Files.writeString(chain, Files.readString(leaf.certificate) + Files.readString(old[0]));
        assertThatThrownBy(() -> ServerConfig.defaults().withTls(chain, leaf.key))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("certificate 2 of the TLS certificate chain " + chain + " (CN=localhost) expired at"
                        + " 2025-02-01T00:00:00Z: every client would refuse it; renew it (the server reads it at start: start it"
                        + " again after)");
        java.time.Instant leafExpiry = PemTls.expiry(leaf.certificate);
        Path laterIntermediate = dir.resolve("chain-ok.pem");
        Path[] longer = certificateFrom(Files.createDirectory(dir.resolve("long")), "2025/01/01 00:00:00", 3650);
        Files.writeString(laterIntermediate, Files.readString(longer[0]) + Files.readString(leaf.certificate));
        assertThat(PemTls.expiry(laterIntermediate)).as("the first of the chain to expire").isEqualTo(leafExpiry);
    }

    /** A certificate and its PKCS#8 key, valid from {@code start} for {@code days}: keytool can date one in the past. */
    private static Path[] certificateFrom(Path dir, String start, int days) throws Exception {
        String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
        Path store = dir.resolve("store.p12");
        run(keytool, "-genkeypair", "-alias", "server", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=localhost",
                "-startdate", start, "-validity", String.valueOf(days), "-keystore", store.toString(), "-storetype", "PKCS12",
                "-storepass", "changeit");
        Path cert = dir.resolve("cert.pem");
        run(keytool, "-exportcert", "-rfc", "-alias", "server", "-keystore", store.toString(), "-storepass", "changeit",
                "-file", cert.toString());
        Path key = dir.resolve("key.pem");
        openssl("pkcs12", "-in", store.toString(), "-nocerts", "-nodes", "-passin", "pass:changeit", "-out", key.toString());
        return new Path[] {cert, key};
    }

    @Test
    void aKeyOfAnotherCertificateIsRefused() throws Exception {
        TestCertificates server = TestCertificates.create(Files.createDirectory(dir.resolve("server")));
        TestCertificates other = TestCertificates.create(Files.createDirectory(dir.resolve("other")));
        assertThatThrownBy(() -> ServerConfig.defaults().withTls(server.certificate, other.key))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the TLS key " + other.key + " does not belong to the certificate " + server.certificate
                        + " (its public key differs)");
        assertThatCode(() -> ServerConfig.defaults().withTls(server.certificate, server.key)).doesNotThrowAnyException();
    }

    @Test
    void anEcKeyMustBeItsCertificatesToo() throws Exception {
        Path cert = dir.resolve("ec-cert.pem");
        Path key = dir.resolve("ec-key.pem");
        ecCertificate(cert, key);
        Path otherKey = dir.resolve("other-ec-key.pem");
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", otherKey.toString());
        assertThatCode(() -> ServerConfig.defaults().withTls(cert, key)).doesNotThrowAnyException();
        assertThatThrownBy(() -> ServerConfig.defaults().withTls(cert, otherKey))
                .hasMessage("the TLS key " + otherKey + " does not belong to the certificate " + cert + " (its public key differs)");

        TestCertificates rsa = TestCertificates.create(dir);
        assertThatThrownBy(() -> ServerConfig.defaults().withTls(rsa.certificate, key))
                .hasMessage("the TLS key " + key + " does not belong to the certificate " + rsa.certificate
                        + " (its public key is RSA, the key EC)");
    }

    @Test
    void aPkcs1RsaKeySaysHowToConvertIt() throws Exception {
        TestCertificates certs = TestCertificates.create(dir);
        Path pkcs1 = dir.resolve("k.pem");
        openssl("rsa", "-in", certs.key.toString(), "-traditional", "-out", pkcs1.toString());
        assertThat(Files.readString(pkcs1)).startsWith("-----BEGIN RSA PRIVATE KEY-----");

        String converted = dir.resolve("k-pkcs8.pem").toString();
        assertThatThrownBy(() -> ServerConfig.defaults().withTls(certs.certificate, pkcs1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the TLS key " + pkcs1 + " is a PKCS#1 RSA key (\"BEGIN RSA PRIVATE KEY\"); the server reads PKCS#8: "
                        + "openssl pkcs8 -topk8 -nocrypt -in " + pkcs1 + " -out " + converted);
        // the advice works
        openssl("pkcs8", "-topk8", "-nocrypt", "-in", pkcs1.toString(), "-out", converted);
        assertThatCode(() -> ServerConfig.defaults().withTls(certs.certificate, Path.of(converted))).doesNotThrowAnyException();
    }

    @Test
    void anSec1EcKeySaysHowToConvertIt() throws Exception {
        Path cert = dir.resolve("cert.pem");
        Path pkcs8 = dir.resolve("key.pem");
        ecCertificate(cert, pkcs8);
        Path sec1 = dir.resolve("ec.key");
        openssl("ec", "-in", pkcs8.toString(), "-out", sec1.toString());
        assertThat(Files.readString(sec1)).startsWith("-----BEGIN EC PRIVATE KEY-----");

        String converted = dir.resolve("ec-pkcs8.pem").toString();
        assertThatThrownBy(() -> ServerConfig.defaults().withTls(cert, sec1))
                .hasMessage("the TLS key " + sec1 + " is an SEC1 EC key (\"BEGIN EC PRIVATE KEY\"); the server reads PKCS#8: "
                        + "openssl pkcs8 -topk8 -nocrypt -in " + sec1 + " -out " + converted);
        openssl("pkcs8", "-topk8", "-nocrypt", "-in", sec1.toString(), "-out", converted);
        assertThatCode(() -> ServerConfig.defaults().withTls(cert, Path.of(converted))).doesNotThrowAnyException();
    }

    @Test
    void anEncryptedKeySaysHowToDecryptIt() throws Exception {
        TestCertificates certs = TestCertificates.create(dir);
        Path encrypted = dir.resolve("secret.pem");
        openssl("pkcs8", "-topk8", "-in", certs.key.toString(), "-passout", "pass:passphrase", "-out", encrypted.toString());
        assertThat(Files.readString(encrypted)).startsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----");

        String converted = dir.resolve("secret-pkcs8.pem").toString();
        assertThatThrownBy(() -> ServerConfig.defaults().withTls(certs.certificate, encrypted))
                .hasMessage("the TLS key " + encrypted + " is encrypted; the server reads an unencrypted PKCS#8 key: "
                        + "openssl pkcs8 -topk8 -nocrypt -in " + encrypted + " -out " + converted + " (asks for the passphrase)");
        openssl("pkcs8", "-topk8", "-nocrypt", "-in", encrypted.toString(), "-out", converted, "-passin", "pass:passphrase");
        assertThatCode(() -> ServerConfig.defaults().withTls(certs.certificate, Path.of(converted))).doesNotThrowAnyException();

        // an old-style encrypted PKCS#1 key: the same command, which asks for the passphrase
        Path oldStyle = dir.resolve("old.pem");
        openssl("rsa", "-in", certs.key.toString(), "-traditional", "-aes256", "-passout", "pass:passphrase", "-out", oldStyle.toString());
        assertThatThrownBy(() -> ServerConfig.defaults().withTls(certs.certificate, oldStyle))
                .hasMessageStartingWith("the TLS key " + oldStyle + " is a PKCS#1 RSA key")
                .hasMessageEndingWith(" (it is encrypted: asks for the passphrase)");
    }

    @Test
    void aFileWithNoPemKeySaysSo() throws Exception {
        TestCertificates certs = TestCertificates.create(dir);
        Path text = Files.writeString(dir.resolve("notes.txt"), "not a key\n");
        assertThatThrownBy(() -> ServerConfig.defaults().withTls(certs.certificate, text))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the TLS key " + text + " holds no PEM private key (\"BEGIN PRIVATE KEY\")");
        // a DER key is binary: still "no PEM", not a character decoding error
        Path der = dir.resolve("key.der");
        openssl("pkey", "-in", certs.key.toString(), "-outform", "DER", "-out", der.toString());
        assertThatThrownBy(() -> ServerConfig.defaults().withTls(certs.certificate, der))
                .hasMessage("the TLS key " + der + " holds no PEM private key (\"BEGIN PRIVATE KEY\")");
        // the two files given the other way round
        assertThatThrownBy(() -> ServerConfig.defaults().withTls(certs.key, certs.certificate))
                .hasMessage("the TLS certificate " + certs.key + " holds no PEM certificate (\"BEGIN CERTIFICATE\")"
                        + " but a private key: are the certificate and the key swapped?");
    }

    @Test
    void anEd25519KeyIsRefusedForTheGrpcPortCannotUseIt() throws Exception {
        Path cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        openssl("req", "-x509", "-newkey", "ed25519", "-nodes", "-keyout", key.toString(), "-out", cert.toString(),
                "-days", "2", "-subj", "/CN=localhost");
        assertThatThrownBy(() -> ServerConfig.defaults().withTls(cert, key))
                .hasMessage("the TLS key " + key + " is neither an RSA nor an EC key, the kinds the server serves TLS with");
    }

    @Test
    void theServerRefusesToStartWithABadKeyAsABadSetting() throws Exception {
        TestCertificates server = TestCertificates.create(Files.createDirectory(dir.resolve("server")));
        TestCertificates other = TestCertificates.create(Files.createDirectory(dir.resolve("other")));
        // Output to a file: a server that starts after all must fail the test, not block a read.
        Path output = dir.resolve("server.out");
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "--tls-cert", server.certificate.toString(), "--tls-key", other.key.toString(),
                "--data-dir", dir.resolve("data").toString(), "--bind", "127.0.0.1", "--http-port", "0", "--grpc-port", "0")
                .redirectErrorStream(true).redirectOutput(output.toFile()).start();
        try {
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).as(() -> "the server exited; it wrote:\n" + read(output)).isTrue();
        } finally {
            p.destroyForcibly();
        }
        String out = read(output);
        assertThat(p.exitValue()).as(out).isEqualTo(2);
        assertThat(out).contains("the TLS key " + other.key + " does not belong to the certificate " + server.certificate)
                .doesNotContain("flag server ready").doesNotContain("\tat ");
        assertThat(dir.resolve("data")).doesNotExist(); // refused before anything was started
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return e.toString();
        }
    }

    /** A self-signed P-256 certificate for localhost and its PKCS#8 key, as openssl writes them. */
    private static void ecCertificate(Path cert, Path key) throws IOException, InterruptedException {
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key.toString(),
                "-out", cert.toString(), "-days", "2", "-subj", "/CN=localhost");
    }

    @Test
    void aChainWithTheServersCertificateNotFirstIsToldToBeReordered() throws Exception {
        // QA75 F3: `cat intermediate.pem server.pem` was told that the key does not belong to the certificate.
        TestCertificates server = TestCertificates.create(Files.createDirectory(dir.resolve("server")));
        TestCertificates other = TestCertificates.create(Files.createDirectory(dir.resolve("other")));
        Path wrongOrder = dir.resolve("wrong-order.pem");
        Files.writeString(wrongOrder, Files.readString(other.certificate) + Files.readString(server.certificate));
        assertThatThrownBy(() -> ServerConfig.defaults().withTls(wrongOrder, server.key))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the TLS key " + server.key + " belongs to certificate 2 of " + wrongOrder + " (CN=localhost), not"
                        + " to its first: the server's own certificate comes first in the file, then the intermediates that"
                        + " issued it; reorder the file");
    }

    @Test
    void aCertificateMadeForClientsOnlyIsRefused() throws Exception {
        // QA75 F2: accepted, and the server said it was ready while every client refused the certificate's purpose.
        Path cert = dir.resolve("client-only.pem");
        Path key = dir.resolve("client-only.key");
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key.toString(), "-out", cert.toString(),
                "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-addext", "extendedKeyUsage=clientAuth");
        assertThatThrownBy(() -> ServerConfig.defaults().withTls(cert, key))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("the TLS certificate " + cert + " (CN=localhost) is not made for a server: its extended key usage"
                        + " is [1.3.6.1.5.5.7.3.2], without TLS server authentication (1.3.6.1.5.5.7.3.1): every client would"
                        + " refuse it; issue one with extendedKeyUsage=serverAuth");
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key.toString(), "-out", cert.toString(),
                "-days", "2", "-subj", "/CN=localhost", "-addext", "extendedKeyUsage=serverAuth,clientAuth");
        assertThatCode(() -> ServerConfig.defaults().withTls(cert, key)).as("server and client").doesNotThrowAnyException();
    }

    private static void openssl(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("openssl"));
        command.addAll(Arrays.asList(args));
        run(command.toArray(String[]::new));
    }

    private static void run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + out);
        }
    }
}
