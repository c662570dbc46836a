package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A server others can reach without TLS says so at start: tokens would cross the network in the clear. */
class PlaintextWarningTest {

    @TempDir
    Path dir;

    @Test
    void onlyAPlaintextServerOthersCanReachIsWarnedAbout() throws Exception {
        ServerConfig plain = ServerConfig.defaults();
        assertThat(FlagServer.plaintextWarning(plain.withBindAddress("0.0.0.0")))
                .startsWith("no TLS, and both ports listen on 0.0.0.0").contains("--tls-cert");
        assertThat(FlagServer.plaintextWarning(plain.withBindAddress("::"))).isNotNull();
        assertThat(FlagServer.plaintextWarning(plain.withBindAddress("127.0.0.1"))).isNull();
        assertThat(FlagServer.plaintextWarning(plain.withBindAddress("::1"))).isNull();
        assertThat(FlagServer.plaintextWarning(plain.withBindAddress("localhost"))).isNull();
        TestCertificates tls = TestCertificates.create(dir);
        assertThat(FlagServer.plaintextWarning(plain.withBindAddress("0.0.0.0").withTls(tls.certificate, tls.key))).isNull();
    }
}
