package dev.flags.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.protocol.v1.FlagSyncGrpc;
import dev.flags.protocol.v1.Snapshot;
import dev.flags.protocol.v1.SubscribeRequest;
import dev.flags.protocol.v1.SyncMessage;
import io.grpc.Attributes;
import io.grpc.Server;
import io.grpc.ServerTransportFilter;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.bootstrap.ServerBootstrap;
import io.grpc.netty.shaded.io.netty.channel.Channel;
import io.grpc.netty.shaded.io.netty.channel.ChannelInitializer;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.nio.NioEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioServerSocketChannel;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS mistakes against real loopback servers: the SDK's one log line, {@code freshness().problem()}
 * and {@code health()} say in one line what went wrong and which setting fixes it.
 */
class TlsTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    static Path certificates;
    /** A self-signed certificate for 127.0.0.1 and localhost. */
    private static Path cert;
    private static Path key;
    /** A self-signed certificate for the name "other" only. */
    private static Path otherCert;
    private static Path otherKey;

    @RegisterExtension
    final LogCapture logs = new LogCapture();

    @BeforeAll
    static void makeCertificates() throws Exception {
        cert = certificates.resolve("cert.pem");
        key = certificates.resolve("key.pem");
        openssl(cert, key, "localhost", "IP:127.0.0.1,DNS:localhost");
        otherCert = certificates.resolve("other-cert.pem");
        otherKey = certificates.resolve("other-key.pem");
        openssl(otherCert, otherKey, "other", "DNS:other");
    }

    /** Made by the real openssl command, as the server module's tests make theirs. */
    private static void openssl(Path certificate, Path privateKey, String name, String subjectAltName) throws Exception {
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", privateKey.toString(), "-out",
                certificate.toString(), "-days", "2", "-subj", "/CN=" + name, "-addext", "subjectAltName=" + subjectAltName);
    }

    private static Flags.Builder client(SyncServer server) {
        return Flags.builder().target(server.target()).sdkToken("t").environment("production")
                .initialBackoff(Duration.ofMillis(20)).maxBackoff(Duration.ofMillis(100));
    }

    /**
     * Waits until the server has closed {@code connections} connections of the SDK, so that the SDK has
     * failed (and retried) more than once, then returns the problem it reports.
     */
    private String problemAfterFailedConnections(Flags flags, SyncServer server, int connections) throws Exception {
        assertThat(server.closedConnections.tryAcquire(connections, WAIT.toMillis(), TimeUnit.MILLISECONDS))
                .as(connections + " failed connections").isTrue();
        Await.until("the SDK reports a problem", () -> flags.freshness().problem().isPresent());
        String problem = flags.freshness().problem().orElseThrow();
        assertThat(problem).doesNotContain("\n").doesNotContain("\r").doesNotContain("Channel Pipeline")
                .doesNotContainPattern("\\p{XDigit}{32}");
        assertThat(flags.health().detail()).contains(problem);
        assertThat(flags.freshness().source()).isEqualTo(Source.DEFAULTS);
        // One line for the whole outage, whatever the number of attempts; it carries the first attempt's
        // problem, whose words may differ from the latest's (a TLS server closes or resets a plaintext
        // connection, depending on timing) but whose advice is the same.
        assertThat(logs.lines("cannot reach the flag server")).as(logs.text()).hasSize(1);
        assertThat(logs.lines("cannot reach the flag server").get(0)).contains("WARN")
                .contains(problem.substring(problem.lastIndexOf("; ") + 2));
        return problem;
    }

    @Test
    void plaintextAgainstATlsServerSaysTheServerMayRequireTls() throws Exception {
        try (SyncServer server = SyncServer.start(cert, key); Flags flags = client(server).plaintext().build()) {
            // Closed or reset: the TLS server's answer to plaintext, depending on timing; the hint is the same.
            assertThat(problemAfterFailedConnections(flags, server, 3)).startsWith("UNAVAILABLE: ")
                    .endsWith("; the server may require TLS (drop plaintext()), or be at its connection cap (then its log says"
                            + " \"refused a connection\")");
        }
    }

    @Test
    void aResetFromATargetThatServedPlaintextAlreadyGetsNoTlsHint() throws Exception {
        SyncServer server = SyncServer.start(null, null);
        int port = Integer.parseInt(server.target().substring(server.target().lastIndexOf(':') + 1));
        try (Flags flags = client(server).plaintext().build()) {
            assertThat(flags.awaitReady(WAIT)).isTrue();
            server.close();
            // The same port now resets every connection, as a server does while it restarts (or dies).
            Semaphore reset = new Semaphore(0);
            try (ServerSocket resetting = new ServerSocket()) {
                resetting.setReuseAddress(true);
                resetting.bind(new InetSocketAddress("127.0.0.1", port));
                Thread resets = new Thread(() -> {
                    while (!resetting.isClosed()) {
                        try (Socket s = resetting.accept()) {
                            s.setSoLinger(true, 0); // close() sends RST
                        } catch (IOException e) {
                            return; // closed at the end of the test
                        }
                        reset.release();
                    }
                }, "resetting");
                resets.setDaemon(true);
                resets.start();
                assertThat(reset.tryAcquire(2, WAIT.toMillis(), TimeUnit.MILLISECONDS)).as("connections reset").isTrue();
                // The words of the reset, or of a connection closed before HTTP/2 began: both once got the hint.
                Await.until("a reset reported", () -> flags.freshness().problem()
                        .filter(p -> p.contains("reset by peer") || p.contains("Network closed")).isPresent());
                assertThat(flags.freshness().problem().orElseThrow()).startsWith("UNAVAILABLE")
                        .doesNotContain("TLS").doesNotContain("plaintext()");
            }
        }
    }

    @Test
    void tlsAgainstAPlaintextServerSaysTheServerDoesNotSpeakTls() throws Exception {
        try (SyncServer server = SyncServer.start(null, null); Flags flags = client(server).build()) {
            assertThat(problemAfterFailedConnections(flags, server, 3))
                    .isEqualTo("UNAVAILABLE: TLS handshake failed: the server does not speak TLS (what it sent is not a"
                            + " TLS record); if it serves plaintext, set plaintext()");
        }
    }

    @Test
    void aSelfSignedCertificateThatIsNotTrustedSaysToPassIt() throws Exception {
        try (SyncServer server = SyncServer.start(cert, key); Flags flags = client(server).build()) {
            assertThat(problemAfterFailedConnections(flags, server, 3))
                    .startsWith("UNAVAILABLE: TLS handshake failed: the server's certificate is not trusted (")
                    .contains("unable to find valid certification path")
                    .endsWith("); pass the certificate of its CA (or its own, if self-signed) with trustedCertificates(...)");
        }
    }

    @Test
    void anExpiredCertificateSaysTheServerNeedsARenewedOneNotThatItsCaBeTrusted() throws Exception {
        // A private CA, valid now, that signed a server certificate valid 2025-01-01 to 2025-02-01 (keytool, unlike openssl
        // req, dates a certificate in the past). Java checks the dates of what a CA signed, not of the CA it trusts.
        String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
        Path caStore = certificates.resolve("ca.p12");
        Path serverStore = certificates.resolve("server.p12");
        Path caCert = certificates.resolve("ca-cert.pem");
        Path request = certificates.resolve("server.csr");
        Path expiredCert = certificates.resolve("expired-cert.pem");
        Path expiredKey = certificates.resolve("expired-key.pem");
        String[] ec = {"-keyalg", "EC", "-groupname", "secp256r1", "-storetype", "PKCS12", "-storepass", "changeit"};
        run(concat(new String[] {keytool, "-genkeypair", "-alias", "ca", "-dname", "CN=test ca", "-ext", "bc:c",
                "-keystore", caStore.toString()}, ec));
        run(keytool, "-exportcert", "-rfc", "-alias", "ca", "-keystore", caStore.toString(), "-storepass", "changeit",
                "-file", caCert.toString());
        run(concat(new String[] {keytool, "-genkeypair", "-alias", "server", "-dname", "CN=localhost",
                "-keystore", serverStore.toString()}, ec));
        run(keytool, "-certreq", "-alias", "server", "-keystore", serverStore.toString(), "-storepass", "changeit",
                "-file", request.toString());
        run(keytool, "-gencert", "-alias", "ca", "-keystore", caStore.toString(), "-storepass", "changeit", "-rfc",
                "-infile", request.toString(), "-outfile", expiredCert.toString(), "-startdate", "2025/01/01 00:00:00",
                "-validity", "31", "-ext", "SAN=IP:127.0.0.1,DNS:localhost");
        run("openssl", "pkcs12", "-in", serverStore.toString(), "-nocerts", "-nodes", "-passin", "pass:changeit",
                "-out", expiredKey.toString());
        try (SyncServer server = SyncServer.start(expiredCert, expiredKey);
             Flags flags = client(server).trustedCertificates(caCert).build()) {
            assertThat(problemAfterFailedConnections(flags, server, 2))
                    .startsWith("UNAVAILABLE: TLS handshake failed: the server's certificate, or one of its chain, has expired"
                            + " (NotAfter: ")
                    .contains("2025")
                    .endsWith("); the server needs a renewed one (it reads it at start)");
        }
    }

    private static String[] concat(String[] first, String[] second) {
        String[] both = java.util.Arrays.copyOf(first, first.length + second.length);
        System.arraycopy(second, 0, both, first.length, second.length);
        return both;
    }

    private static void run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + out);
        }
    }

    @Test
    void aTrustedCertificateForAnotherNameSaysSo() throws Exception {
        try (SyncServer server = SyncServer.start(otherCert, otherKey);
             Flags flags = client(server).trustedCertificates(otherCert).build()) {
            assertThat(problemAfterFailedConnections(flags, server, 2))
                    .startsWith("UNAVAILABLE: TLS handshake failed: the server's certificate is not for this address (")
                    .contains("127.0.0.1")
                    .endsWith("); use a target with a name or address that the certificate lists");
        }
    }

    @Test
    void theServersOwnCertificateTrustedSyncs() throws Exception {
        try (SyncServer server = SyncServer.start(cert, key); Flags flags = client(server).trustedCertificates(cert).build()) {
            assertThat(flags.awaitReady(WAIT)).isTrue();
            assertThat(flags.freshness().source()).isEqualTo(Source.LIVE);
            assertThat(flags.freshness().problem()).isEmpty();
        }
    }

    @Test
    void tlsWithoutHttp2SaysTheTargetIsProbablyTheAdminHttpsPort() throws Exception {
        // An HTTPS server that offers no HTTP/2 in its handshake, as the flag server's admin port with TLS.
        SslContext tls = SslContextBuilder.forServer(cert.toFile(), key.toFile()).build();
        EventLoopGroup loop = new NioEventLoopGroup(1);
        try {
            Channel https = new ServerBootstrap()
                    .group(loop).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline().addLast(tls.newHandler(ch.alloc()));
                        }
                    })
                    .bind("127.0.0.1", 0).sync().channel();
            int port = ((InetSocketAddress) https.localAddress()).getPort();
            try (Flags flags = Flags.builder().target("127.0.0.1:" + port).sdkToken("t").environment("production")
                    .trustedCertificates(cert).initialBackoff(Duration.ofMillis(20)).maxBackoff(Duration.ofMillis(100)).build()) {
                Await.until("the SDK reports the failed connection", () -> flags.freshness().problem()
                        .filter(p -> !p.startsWith("the flag server has not answered yet")).isPresent());
                assertThat(flags.freshness().problem().orElseThrow()).contains("Failed ALPN negotiation")
                        .endsWith("; the target speaks TLS but not HTTP/2: is it the flag server's admin HTTPS port? The"
                                + " SDK needs its gRPC port (the server's --grpc-port, 9090 unless set)");
            }
            https.close().sync();
        } finally {
            loop.shutdownGracefully(0, 5, TimeUnit.SECONDS).sync();
        }
    }

    /**
     * A TEST DOUBLE of the flag server's sync service on a loopback port, with TLS or without: it answers
     * every Subscribe call with an empty snapshot, and counts the connections that ended (a failed TLS
     * or HTTP/2 handshake ends one too).
     */
    private static final class SyncServer implements AutoCloseable {
        final Semaphore closedConnections = new Semaphore(0);
        private final Server server;

        private SyncServer(Path certificate, Path privateKey) throws IOException {
            NettyServerBuilder b = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                    .addService(new FlagSyncGrpc.FlagSyncImplBase() {
                        @Override
                        public void subscribe(SubscribeRequest request, StreamObserver<SyncMessage> observer) {
                            observer.onNext(SyncMessage.newBuilder().setSnapshot(Snapshot.newBuilder()
                                    .setEnvironment(request.getEnvironment()).setVersion(3)
                                    .setHeartbeatIntervalMillis(15_000)).build());
                        }
                    })
                    .addTransportFilter(new ServerTransportFilter() {
                        @Override
                        public void transportTerminated(Attributes transportAttrs) {
                            closedConnections.release();
                        }
                    });
            if (certificate != null) {
                b.useTransportSecurity(certificate.toFile(), privateKey.toFile());
            }
            server = b.build().start();
        }

        /** @param certificate null for plaintext */
        static SyncServer start(Path certificate, Path privateKey) throws IOException {
            return new SyncServer(certificate, privateKey);
        }

        String target() {
            return "127.0.0.1:" + server.getPort();
        }

        @Override
        public void close() throws InterruptedException {
            server.shutdownNow();
            server.awaitTermination(5, TimeUnit.SECONDS);
        }
    }
}
