package dev.flags.server.sync;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class GrpcTransportTest {

    @Test
    void onlyALinuxServerWithoutEpollIsWarnedAndTheWarningSaysWhyOnOneLine() {
        Throwable cause = new UnsatisfiedLinkError("/tmp/libnetty_transport_native_epoll.so:\nfailed to map segment");
        assertThat(GrpcTransport.fallbackWarning(true, "Linux", null)).isNull();
        assertThat(GrpcTransport.fallbackWarning(false, "Mac OS X", cause)).as("NIO is the transport there").isNull();
        assertThat(GrpcTransport.fallbackWarning(false, "Windows 11", cause)).isNull();
        assertThat(GrpcTransport.fallbackWarning(false, "Linux", cause))
                .startsWith("gRPC port: Netty's native transport (epoll) did not load, so the port runs on Java NIO")
                .contains("java.io.tmpdir").contains("-Dio.grpc.netty.shaded.io.netty.native.workdir=DIR")
                .endsWith("Why: UnsatisfiedLinkError: /tmp/libnetty_transport_native_epoll.so: failed to map segment")
                .doesNotContain("\n");
        assertThat(GrpcTransport.fallbackWarning(false, "Linux", null)).endsWith("Why: no cause given");
    }
}
