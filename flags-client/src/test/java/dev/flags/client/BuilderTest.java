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
        assertThatThrownBy(() -> Flags.builder().target("h:1").sdkToken("t").environment("e")
                .initialBackoff(Duration.ofMinutes(2)).build())
                .isInstanceOf(IllegalStateException.class).hasMessage("maxBackoff PT30S must not be shorter than initialBackoff PT2M"
                        + " (maxBackoff is its default: set it too)");
        try (Flags quick = Flags.builder().target("127.0.0.1:1").plaintext().sdkToken("t").environment("e")
                .maxBackoff(Duration.ofMillis(500)).build()) {
            assertThat(quick.health()).as("built: a maxBackoff below the default initialBackoff brings it down too").isNotNull();
        }
        assertThatThrownBy(() -> Flags.builder().target("h:1").sdkToken("t").environment("e").plaintext()
                .trustedCertificates(dir.resolve("ca.pem")).build())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("exclude each other");
    }

    @Test
    void badValuesFailAtTheSetterWithTheValue() {
        assertThatThrownBy(() -> Flags.builder().target(" ")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("target must not be blank, was \" \"");
        assertThatThrownBy(() -> Flags.builder().initialBackoff(Duration.ofMillis(-5)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("initialBackoff must be between 10 ms and 1 hour, was PT-0.005S");
        // Too short a delay is a busy loop on the server (a refused SDK asks again every maxBackoff); too long one overflowed.
        assertThatThrownBy(() -> Flags.builder().initialBackoff(Duration.ofNanos(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("initialBackoff must be between 10 ms and 1 hour, was PT0.000000001S");
        assertThatThrownBy(() -> Flags.builder().maxBackoff(Duration.ofMillis(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("maxBackoff must be between 100 ms and 1 hour, was PT0.001S");
        assertThatThrownBy(() -> Flags.builder().maxBackoff(Duration.ofSeconds(Long.MAX_VALUE)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("maxBackoff must be between 100 ms and 1 hour");
        assertThatThrownBy(() -> Flags.builder().environment("prod uction"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("\"prod uction\"");
        // The server's rule for an environment's key: a name it can never accept fails here, not in the first sync.
        for (String bad : List.of("Production!", "prod/../x", "prod\u200Buction", "-prod", "p".repeat(129))) {
            assertThatThrownBy(() -> Flags.builder().environment(bad)).as(bad).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("environment must be an environment's key: an ASCII letter or digit, then ASCII"
                            + " letters, digits, '.', '_' or '-', at most 128 characters, was \"");
        }
        // QA85 F2: the token given as the environment too (one variable for both) was sent, and the server's refusal,
        // quoting it, logged; one read with its line break was quoted here.
        String token = "flg_" + "Zq9-_".repeat(8) + "abc";
        for (String environment : List.of(token, token + "\n", "x" + token + "!")) {
            assertThatThrownBy(() -> Flags.builder().environment(environment)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("environment holds what looks like a flag server token").message()
                    .doesNotContain(token.substring(4));
        }
        assertThatThrownBy(() -> Flags.builder().environment("prod\u200Buction")).hasMessageEndingWith("was \"prod\\u200buction\"");
        assertThatThrownBy(() -> Flags.builder().environment("p".repeat(129))).hasMessageEndingWith("...\" (129 characters)");
        assertThat(Flags.builder().environment("eu-west_2.staging")).isNotNull();
        assertThatThrownBy(() -> Flags.builder().sdkToken("t".repeat(257))).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("sdkToken must be at most 256 characters (no token the server makes is longer), was 257");
        assertThatThrownBy(() -> Flags.builder().cacheFile(Path.of(""))).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("cacheFile must name a file, was the empty path (an environment variable set empty?)");
        assertThatThrownBy(() -> Flags.builder().config(Map.of("offlineFile", ""))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("offlineFile must name a file, was the empty path");
        assertThatThrownBy(() -> Flags.builder().cacheFile(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("cacheFile");
        assertThatThrownBy(() -> Flags.builder().sdkToken(System.getenv("FLAGS_NO_SUCH_VARIABLE")))
                .isInstanceOf(NullPointerException.class)
                .hasMessage("sdkToken is null (read from an environment variable or setting that is not set?)");
    }

    @Test
    void aDirectoryIsNoCacheFileNorFlagFile() {
        assertThatThrownBy(() -> Flags.builder().target("h:1").sdkToken("t").environment("e").cacheFile(dir).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("cacheFile " + dir + " is a directory: name a file in it, such as " + dir.resolve("flags.cache"));
        assertThatThrownBy(() -> Flags.builder().offlineFile(dir).build()).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("offlineFile " + dir + " is a directory: name the flag file");
    }

    @Test
    void aBadTokenIsRefusedWithoutEchoingIt() {
        assertThatThrownBy(() -> Flags.builder().sdkToken("secret value"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("sdkToken must be printable ASCII without spaces; character 7 (counted from 1) is not")
                .message().doesNotContain("secret");
        assertThat(Flags.builder().sdkToken("secret-value\r\n").target("h:1").environment("e").toString())
                .as("a token file's line break is dropped, as the flags CLI drops it").contains("sdkToken=set");
        assertThat(Flags.builder().sdkToken("secret-value").toString()).doesNotContain("secret").contains("sdkToken=set");
    }

    @Test
    void trustedCertificatesThatCannotBeReadFailAtBuild() {
        assertThatThrownBy(() -> Flags.builder().target("h:1").sdkToken("t").environment("e")
                .trustedCertificates(dir.resolve("missing.pem")).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("missing.pem");
    }

    @Test
    void aPlainTargetNeedsAPortFrom1To65535() {
        String form = ": write host:port, such as flags.internal:9090 or [::1]:9090, or a gRPC target such as"
                + " dns:///flags.internal:9090";
        Map<String, String> bad = Map.ofEntries(
                Map.entry("127.0.0.1:99999", "has port 99999, outside 1..65535"),
                Map.entry("h:0", "has port 0, outside 1..65535"),
                Map.entry("h:0009090", "has port 0009090, written with a leading zero: write it without (9090)"),
                Map.entry("h:000", "has port 000, outside 1..65535"),
                Map.entry("h:099999", "has port 099999, outside 1..65535"),
                Map.entry("h:123456789012", "has port 123456789012, outside 1..65535"),
                Map.entry("127.0.0.1", "has no port"),
                Map.entry("flags.internal:", "has no port"),
                Map.entry("flags.internal:http", "has port \"http\", which is not a number"),
                Map.entry("h:+80", "has port \"+80\", which is not a number"),
                Map.entry(":9090", "has no host"),
                Map.entry("::1:9090", "looks like an IPv6 address without brackets"),
                Map.entry("[::1]", "has no port"),
                Map.entry("[::1]:", "has no port"),
                Map.entry("[::1]:70000", "has port 70000, outside 1..65535"),
                Map.entry("[::1]:x", "has port \"x\", which is not a number"),
                Map.entry("[::1]9090", "has \"9090\" after the address, where \":port\" belongs"),
                Map.entry("[::1:9090", "has no ']' after the IPv6 address"),
                Map.entry("[flags.internal]:9090", "has \"flags.internal\" in brackets, which is not an IPv6 address"),
                // gRPC would fail on these on its resolver thread, where the SDK never hears of it.
                Map.entry("dns:///127.0.0.1:99999", "has port 99999, outside 1..65535"),
                Map.entry("dns://8.8.8.8/flags.internal:x", "has port \"x\", which is not a number"),
                Map.entry("dns:///flags.internal:", "has no port"),
                Map.entry("dns:///:9090", "has no host"),
                Map.entry("dns:///[::1]:9090", "is not a valid URI (Illegal character in path at index 7)"),
                // gRPC's resolver threw these out of build(), or failed on its own thread.
                Map.entry(" 127.0.0.1:19090", "has white space around it (a line break read from a file, or an environment variable?)"),
                Map.entry("my host:19090", "has white space in its host (from an environment variable?)"),
                Map.entry("host%:19090", "has \"host%\" as its host, which is not a host name or address (Malformed escape pair)"),
                Map.entry("hoést:1", "has \"hoést\" as its host, which is not a host name or address"),
                Map.entry("user@localhost:7250", "has \"user@localhost\" as its host, which is not a host name or address"),
                Map.entry("host#x:7250", "has \"host#x\" as its host, which is not a host name or address"),
                Map.entry("host/x:7250", "has \"host/x\" as its host, which is not a host name or address"),
                Map.entry("dns:///host#x:7250", "has a '#' in it, which no host name or address has"),
                Map.entry("dns:///host?x:7250", "has a '?' in it, which no host name or address has"),
                Map.entry("dns://8.8.8.8/", "has no host"));
        bad.forEach((target, problem) -> assertThatThrownBy(() -> Flags.builder().target(target))
                .as(target).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("target \"" + target + "\" " + problem + form));
        assertThatThrownBy(() -> Flags.builder().target("127.0.0.1:19090\n")).as("read from a file").isInstanceOf(IllegalArgumentException.class)
                .hasMessage("target \"127.0.0.1:19090\\u000a\" has white space around it (a line break read from a file, or an"
                        + " environment variable?)" + form);
        for (String url : List.of("http://127.0.0.1:8080", "HTTPS://flags.example.com")) {
            assertThatThrownBy(() -> Flags.builder().target(url)).as(url).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("is an HTTP URL, like the flag server's admin API")
                    .hasMessageContaining("write the server's gRPC address, host:port");
        }
        assertThatThrownBy(() -> Flags.builder().target("grpc://flags.internal:9090")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("target \"grpc://flags.internal:9090\" has the scheme \"grpc\", which gRPC has no name resolver for" + form);
        assertThatThrownBy(() -> Flags.builder().config(Map.of("target", "127.0.0.1:99999")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("outside 1..65535");

        for (String good : List.of("h:1", "localhost:65535", "flags.internal:9090", "[::1]:9090", "[fe80::1%eth0]:9090",
                "[::ffff:127.0.0.1]:9090",
                // Other targets with a scheme are gRPC's to read and check; a dns: one's port is optional.
                "dns:///flags.internal:9090", "dns:///flags.internal", "unix:///tmp/flags.sock",
                "unix:flags.sock")) {
            assertThat(Flags.builder().target(good).toString()).as(good).contains("target=" + good);
        }
    }

    @Test
    void aTargetWithASchemeStillConnects() throws Exception {
        try (ScriptedSyncServer server = ScriptedSyncServer.start();
             Flags flags = Flags.builder().target("dns:///127.0.0.1:" + server.port()).plaintext().sdkToken("t")
                     .environment("e").build()) {
            server.awaitSubscription().snapshot(3);
            assertThat(flags.awaitReady(Duration.ofSeconds(10))).isTrue();
        }
    }

    @Test
    void trustedCertificatesWithoutACertificateFailAtBuildNamingTheFileAndWhy() throws Exception {
        Path empty = Files.writeString(dir.resolve("empty.pem"), "");
        Path text = Files.writeString(dir.resolve("notes.pem"), "the CA is on the wiki\n");
        Path key = Files.writeString(dir.resolve("key.pem"),
                "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n");
        Map<Path, String> why = Map.of(empty, "it is empty", text, "it holds no certificate that can be read",
                key, "it holds a private key");
        why.forEach((file, problem) -> assertThatThrownBy(() -> Flags.builder().target("h:1").sdkToken("t")
                .environment("e").trustedCertificates(file).build())
                .as(file.toString()).isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("cannot read trusted certificates from " + file + ": " + problem)
                .hasMessageContaining("-----BEGIN CERTIFICATE-----"));
    }

    @Test
    void settingsOfTheServerConnectionAreRefusedInOfflineMode() throws Exception {
        Path file = Files.writeString(dir.resolve("flags.json"), "{\"formatVersion\": 1, \"flags\": []}");
        String offline = " with target(...), to reach a flag server; offline mode reads offlineFile " + file;
        assertThatThrownBy(() -> Flags.builder().offlineFile(file).plaintext().build())
                .isInstanceOf(IllegalStateException.class).hasMessage("plaintext() only applies" + offline);
        assertThatThrownBy(() -> Flags.builder().offlineFile(file).trustedCertificates(dir.resolve("ca.pem")).build())
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("trustedCertificates " + dir.resolve("ca.pem") + " only applies" + offline);
        assertThatThrownBy(() -> Flags.builder().config(Map.of("offlineFile", file.toString(), "plaintext", "true",
                "trustedCertificates", dir.resolve("ca.pem").toString())).build())
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("plaintext(), trustedCertificates " + dir.resolve("ca.pem") + " only apply" + offline);
        try (Flags flags = Flags.builder().offlineFile(file).build()) {
            assertThat(flags.awaitReady(Duration.ZERO)).isTrue();
        }
        // How a server is reached and told (backoffs, the application's name, usage reports) is left alone: one
        // configuration serves both modes, a test profile swapping target for offlineFile.
        try (Flags flags = Flags.builder().config(Map.of("offlineFile", file.toString(), "maxBackoff", "2m",
                "initialBackoff", "1s", "application", "checkout", "usageReporting", "false")).build()) {
            assertThat(flags.awaitReady(Duration.ZERO)).isTrue();
        }
    }

    @Test
    void plaintextToAnotherMachineIsWarnedAboutOnBuild() {
        try (Flags flags = Flags.builder().target("192.0.2.1:9090").plaintext().sdkToken("an-sdk-token-0123456789")
                .environment("production").build()) {
            assertThat(logs.lines("in the clear")).singleElement().asString()
                    .contains("plaintext() to 192.0.2.1:9090, not on this machine: the sdk token goes in the clear")
                    .doesNotContain("an-sdk-token-0123456789");
        }
        for (String local : List.of("127.0.0.1:9090", "localhost:9090", "[::1]:9090", "dns:///localhost:9090",
                "[0:0:0:0:0:0:0:1]:9090")) {
            try (Flags flags = Flags.builder().target(local).plaintext().sdkToken("t").environment("production").build()) {
                assertThat(logs.lines("in the clear")).as(local).hasSize(1); // still only the first one's
            }
        }
    }

    @Test
    void aPathWithALineBreakOrSpacesAroundItIsRefused() {
        assertThatThrownBy(() -> Flags.builder().offlineFile(Path.of("/tmp/flags.json\n")))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("offlineFile must not have white space around it or"
                        + " control characters in it (a line break read from a file or an environment variable?), was"
                        + " \"/tmp/flags.json\\u000a\"");
        assertThatThrownBy(() -> Flags.builder().cacheFile(Path.of(" /tmp/flags.cache")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("cacheFile must not have white space");
        assertThat(Flags.builder().cacheFile(Path.of("/tmp/my flags.cache"))).as("spaces inside are a name's own").isNotNull();
        assertThatThrownBy(() -> Flags.builder().trustedCertificates(Path.of("/etc/ca.pem\n")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("trustedCertificates must not have white space");
        assertThatThrownBy(() -> Flags.builder().offlineFile(Path.of("/tmp/flags.json\u00a0")))
                .as("a no-break space").isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Flags.builder().offlineFile(Path.of("/tmp/\u202egpj.json")))
                .as("a mark that reorders what is shown").isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aCacheFileNeedsAnExistingDirectoryButNotToExistItself() throws Exception {
        Path missing = dir.resolve("no-such-dir").resolve("flags.cache");
        assertThatThrownBy(() -> Flags.builder().target("h:1").sdkToken("t").environment("e").cacheFile(missing).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("cacheFile " + missing + " cannot be written:"
                        + " directory " + dir.resolve("no-such-dir") + " does not exist; the SDK creates the file, not its"
                        + " directory");
        Path notADirectory = Files.writeString(dir.resolve("a-file"), "x");
        assertThatThrownBy(() -> Flags.builder().target("h:1").sdkToken("t").environment("e")
                .cacheFile(notADirectory.resolve("flags.cache")).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("directory " + notADirectory + " is not a directory");
        assertThat(dir.resolve("no-such-dir")).doesNotExist();

        Path fresh = dir.resolve("flags.cache");
        Flags.builder().target("h:1").sdkToken("t").environment("e").cacheFile(fresh).build().close();
        assertThat(fresh).doesNotExist();
    }

    @Test
    void settingsCanComeFromAConfigurationMap() throws Exception {
        Path file = dir.resolve("flags.json");
        Files.writeString(file, "{\"formatVersion\": 1, \"flags\": [{\"key\": \"a\", \"enabled\": true, \"default\": true}]}");
        try (Flags flags = Flags.builder().config(Map.of("offlineFile", file.toString(), "watchOfflineFile", "false",
                "plaintext", "false")).build()) {
            assertThat(flags.isEnabled("a", User.withId("u"))).isTrue();
        }
        Flags.builder().config(Map.of("target", "h:1", "sdkToken", "t", "environment", "e", "plaintext", "true",
                "initialBackoff", "250ms", "maxBackoff", "PT2M", "cacheFile", dir.resolve("c").toString())).build().close();
        assertThatThrownBy(() -> Flags.builder().config(Map.of("tagret", "h:1")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("unknown setting \"tagret\"")
                .hasMessageContaining("target");
        assertThatThrownBy(() -> Flags.builder().config(Map.of("maxBackoff", "soon")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxBackoff must be a duration such as 500ms, 30s, 2m or PT30S (a whole number of ms, s, m or h,"
                        + " or ISO-8601: PT1.5S, PT1M30S), was \"soon\"");
        for (String huge : List.of("9223372036854775807m", "9223372036854775807h")) { // more than a Duration holds (QA70 F5)
            assertThatThrownBy(() -> Flags.builder().config(Map.of("maxBackoff", huge)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("maxBackoff must be a duration");
        }
        java.util.Map<String, String> unset = new java.util.HashMap<>();
        unset.put("target", null); // System.getenv("FLAGS_TARGET") of a variable not set
        assertThatThrownBy(() -> Flags.builder().config(unset)).isInstanceOf(NullPointerException.class)
                .hasMessage("setting \"target\" is null in the configuration (read from an environment variable or a setting"
                        + " that is not set?)");
        assertThatThrownBy(() -> Flags.builder().config(Map.of("plaintext", "yes")))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("plaintext must be true or false, was \"yes\"");
        // QA98 F5: a path the file system cannot name was the JDK's "Nul character not allowed: ...", naming no setting
        for (String key : List.of("offlineFile", "cacheFile", "trustedCertificates")) {
            assertThatThrownBy(() -> Flags.builder().config(Map.of(key, "flags\u0000.json")))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(key + " must be a path, was \"flags\\u0000.json\": Nul character not allowed");
        }
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
