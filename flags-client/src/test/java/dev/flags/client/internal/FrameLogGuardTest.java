package dev.flags.client.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class FrameLogGuardTest {

    @Test
    void aFrameLoggerAtDebugThroughEitherLoggingIsWarnedOf() {
        assertThat(FrameLogGuard.warning(false, false)).isNull();
        assertThat(FrameLogGuard.warning(true, false)).isEqualTo("flags: the logger"
                + " io.grpc.netty.shaded.io.grpc.netty.NettyClientHandler is at DEBUG: it writes every HTTP/2 frame's headers"
                + " into the log, this SDK's token among them (authorization: Bearer ...); set that logger to INFO (a root"
                + " logger at DEBUG puts it there)");
        assertThat(FrameLogGuard.warning(false, true)).contains(" is at FINE: ");
    }

    @Test
    void theNameIsTheOneGrpcsFrameLoggerUses() throws Exception {
        // Netty names the frame logger after the handler's class: a rename in a gRPC upgrade must fail here.
        assertThat(Class.forName(FrameLogGuard.FRAME_LOGGER).getName()).isEqualTo(FrameLogGuard.FRAME_LOGGER);
    }

    @Test
    void anApplicationWhoseRootLoggerIsAtDebugIsToldAtItsFirstBuild() throws Exception {
        for (String level : new String[] {"debug", "info"}) {
            Process child = new ProcessBuilder(java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Dorg.slf4j.simpleLogger.defaultLogLevel=" + level, "-cp", System.getProperty("java.class.path"),
                    Child.class.getName()).redirectErrorStream(true).start();
            String out = new String(child.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            assertThat(child.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(child.exitValue()).as(out).isZero();
            if (level.equals("debug")) {
                assertThat(out.lines().filter(l -> l.contains("it writes every HTTP/2 frame's headers"))).as(out).hasSize(1);
            } else {
                assertThat(out).doesNotContain("frame's headers");
            }
            assertThat(out).doesNotContain("t0ken-never-logged-by-the-sdk-itself");
        }
    }

    /** An application: builds one Flags (twice, for the once-per-JVM), against a port nothing listens on. */
    public static final class Child {
        public static void main(String[] args) {
            for (int i = 0; i < 2; i++) {
                dev.flags.client.Flags.builder().target("127.0.0.1:1").plaintext().sdkToken("t0ken-never-logged-by-the-sdk-itself")
                        .environment("production").build().close();
            }
        }
    }
}
