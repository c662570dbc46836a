package dev.flags.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flags.core.User;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The builder: fails fast on a bad setting, and build() never waits for the network. */
class BuilderTest {

    @RegisterExtension
    final LogCapture logs = new LogCapture();

    @TempDir
    Path dir;

    @Test
    void buildReturnsAtOnceEvenWhenTheServerCannotBeReached() throws Exception {
        // A loopback port whose listener never accepts: the TCP connection is made, the HTTP/2
        // handshake never answered, so the SDK's connection hangs rather than fails.
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            long start = System.nanoTime();
            try (Flags flags = Flags.builder().target("127.0.0.1:" + silent.getLocalPort()).plaintext().sdkToken("t")
                    .environment("production").build()) {
                assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(1));
                assertThat(flags.isEnabled("a", User.withId("u"), true)).isTrue();
                assertThat(flags.evaluate("a", User.withId("u")).source()).isEqualTo(Source.DEFAULTS);
            }
        }
    }

    @Test
    void manyOpenInstancesForOneServerAndEnvironmentGetOneWarning() throws Exception {
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            String target = "127.0.0.1:" + silent.getLocalPort();
            List<Flags> open = new ArrayList<>();
            try {
                for (int i = 0; i < 9; i++) {
                    open.add(Flags.builder().target(target).plaintext().sdkToken("t").environment("production").build());
                }
                try (Flags other = Flags.builder().target(target).plaintext().sdkToken("t").environment("staging").build()) {
                    assertThat(other.isEnabled("a", User.withId("u"))).isFalse();
                }
                assertThat(logs.lines("Flags for " + target)).as("9 instances of production, 1 of staging").isEmpty();
                for (int i = 0; i < 3; i++) {
                    open.add(Flags.builder().target(target).plaintext().sdkToken("t").environment("production").build());
                }
            } finally {
                open.forEach(Flags::close);
            }
            assertThat(logs.lines("Flags for " + target)).as(logs.text()).hasSize(1);
            assertThat(logs.lines("Flags for " + target).get(0)).contains("WARN").contains("10 Flags for " + target
                    + " environment \"production\" are open in this JVM; create one Flags when the application starts and share it");
        }
    }

    @Test
    void settingsThatDoNotFitTogetherFailAtBuild() {
        assertThatThrownBy(() -> Flags.builder().build())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("target(...)").hasMessageContaining("offlineFile(...)");
        assertThatThrownBy(() -> Flags.builder().target("h:1").offlineFile(dir.resolve("f.json")).build())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("exclude each other");
        assertThatThrownBy(() -> Flags.builder().target("h:1").environment("production").build())
                .isInstanceOf(IllegalStateException.class).hasMessage("sdkToken is required with target \"h:1\"");
        assertThatThrownBy(() -> Flags.builder().target("h:1").sdkToken("t").build())
                .isInstanceOf(IllegalStateException.class).hasMessage("environment is required with target \"h:1\"");
        assertThatThrownBy(() -> Flags.builder().offlineFile(dir.resolve("f.json")).cacheFile(dir.resolve("c")).build())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("cacheFile");
        assertThatThrownBy(() -> Flags.builder().target("h:1").sdkToken("t").environment("e").watchOfflineFile(true).build())
                .isInstanceOf(IllegalStateException.class).hasMessage("watchOfflineFile needs an offlineFile");
        assertThatThrownBy(() -> Flags.builder().target("h:1").sdkToken("t").environment("e")
                .initialBackoff(Duration.ofSeconds(5)).maxBackoff(Duration.ofSeconds(2)).build())
                .isInstanceOf(IllegalStateException.class).hasMessage("maxBackoff PT2S must not be shorter than initialBackoff PT5S");
        assertThatThrownBy(() -> Flags.builder().target("h:1").sdkToken("t").environment("e").plaintext()
                .trustedCertificates(dir.resolve("ca.pem")).build())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("exclude each other");
    }

    @Test
    void badValuesFailAtTheSetterWithTheValue() {
        assertThatThrownBy(() -> Flags.builder().target(" ")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("target must not be blank, was \" \"");
        assertThatThrownBy(() -> Flags.builder().initialBackoff(Duration.ofMillis(-5)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("initialBackoff must be positive, was PT-0.005S");
        assertThatThrownBy(() -> Flags.builder().environment("prod uction"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("\"prod uction\"");
        assertThatThrownBy(() -> Flags.builder().cacheFile(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("cacheFile");
    }

    @Test
    void aBadTokenIsRefusedWithoutEchoingIt() {
        assertThatThrownBy(() -> Flags.builder().sdkToken("secret value"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("sdkToken must be printable ASCII without spaces; character 6 is not")
                .message().doesNotContain("secret");
        assertThat(Flags.builder().sdkToken("secret-value").toString()).doesNotContain("secret").contains("sdkToken=set");
    }

    @Test
    void trustedCertificatesThatCannotBeReadFailAtBuild() {
        assertThatThrownBy(() -> Flags.builder().target("h:1").sdkToken("t").environment("e")
                .trustedCertificates(dir.resolve("missing.pem")).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("missing.pem");
    }

    @Test
    void settingsCanComeFromAConfigurationMap() throws Exception {
        Path file = dir.resolve("flags.json");
        Files.writeString(file, "{\"formatVersion\": 1, \"flags\": [{\"key\": \"a\", \"enabled\": true, \"default\": true}]}");
        try (Flags flags = Flags.builder().config(Map.of("offlineFile", file.toString(), "watchOfflineFile", "false",
                "initialBackoff", "250ms", "maxBackoff", "PT1M")).build()) {
            assertThat(flags.isEnabled("a", User.withId("u"))).isTrue();
        }
        Flags.builder().config(Map.of("target", "h:1", "sdkToken", "t", "environment", "e", "plaintext", "true",
                "maxBackoff", "2m", "cacheFile", dir.resolve("c").toString())).build().close();
        assertThatThrownBy(() -> Flags.builder().config(Map.of("tagret", "h:1")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("unknown setting \"tagret\"")
                .hasMessageContaining("target");
        assertThatThrownBy(() -> Flags.builder().config(Map.of("maxBackoff", "soon")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxBackoff must be a duration such as 500ms, 30s, 2m or PT30S, was \"soon\"");
        assertThatThrownBy(() -> Flags.builder().config(Map.of("plaintext", "yes")))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("plaintext must be true or false, was \"yes\"");
    }

    @Test
    void closeIsIdempotentAndEvaluationStillAnswers() throws Exception {
        Path file = dir.resolve("flags.json");
        Files.writeString(file, "{\"formatVersion\": 1, \"flags\": [{\"key\": \"a\", \"enabled\": true, \"default\": true}]}");
        Flags flags = Flags.builder().offlineFile(file).watchOfflineFile(true).build();
        flags.close();
        flags.close();
        assertThat(flags.isEnabled("a", User.withId("u"))).isTrue();
        assertThat(flags.health()).isEqualTo(new Health(Health.Status.DOWN, "closed"));
    }

    @Test
    void sdkThreadsAreNamedDaemons() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start();
             // "localhost:port", the usual way to write a target, resolves through gRPC's DNS resolver.
             Flags flags = Flags.builder().target("localhost:" + server.port()).plaintext().sdkToken("t")
                     .environment("e").build()) {
            server.awaitSubscription();
            assertThat(Thread.getAllStackTraces().keySet()).filteredOn(t -> t.getName().startsWith("flags-sync-"))
                    .isNotEmpty().allSatisfy(t -> assertThat(t.isDaemon()).isTrue());
            assertThat(flags).isNotNull();
        }
    }
}
