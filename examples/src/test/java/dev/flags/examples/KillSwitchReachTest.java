package dev.flags.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.flags.client.Flags;
import dev.flags.core.User;
import dev.flags.server.FlagServer;
import dev.flags.server.ServerConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The incident path, end to end: real SDKs of three applications against the real server, and the flags command, run
 * as a process, throwing the kill switch with {@code --wait}. When it returns 0, every application answers the new
 * value: the SDKs said so themselves.
 */
class KillSwitchReachTest {

    private static final String ADMIN = "reach-test-admin-token-0123456789";

    @TempDir
    Path dir;

    private JsonNode call(FlagServer server, String method, String path, String body) throws Exception {
        return AdminCalls.call(server, ADMIN, method, path, body);
    }

    /** Runs the built flags command as a process; stdout and stderr together. */
    private static String[] flags(FlagServer server, String token, String... args) throws Exception {
        Path jar = Path.of("..", "flags-cli", "target", "flags.jar").toAbsolutePath().normalize();
        assertThat(jar).as("the flags command is built before the examples (./mvnw verify builds it)").exists();
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", jar.toString()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put("FLAGS_SERVER", "http://127.0.0.1:" + server.httpPort());
        pb.environment().put("FLAGS_TOKEN", token);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return new String[] {String.valueOf(p.exitValue()), out};
    }

    @Test
    void afterOffWithWaitEveryApplicationAnswersOff() throws Exception {
        try (FlagServer server = FlagServer.start(ServerConfig.defaults().withDataDir(dir.resolve("data")).withPorts(0, 0)
                .withBindAddress("127.0.0.1").withAdminToken(ADMIN))) {
            call(server, "POST", "/environments", "{\"key\": \"production\"}");
            call(server, "PUT", "/environments/production/flags/billing-v2", "{\"enabled\": true, \"default\": true}");
            String sdkToken = call(server, "POST", "/tokens", "{\"name\": \"apps\", \"scope\": \"sdk\", \"environments\":"
                    + " [\"production\"]}").get("token").asText();
            String onCall = call(server, "POST", "/tokens", "{\"name\": \"olga (on call)\", \"scope\": \"operator\","
                    + " \"environments\": [\"production\"]}").get("token").asText();
            List<Flags> apps = new ArrayList<>();
            try {
                for (String name : List.of("checkout", "billing", "invoices")) {
                    Flags f = Flags.builder().target("127.0.0.1:" + server.grpcPort()).plaintext().sdkToken(sdkToken)
                            .environment("production").application(name).build();
                    apps.add(f);
                    assertThat(f.awaitReady(Duration.ofSeconds(20))).isTrue();
                    assertThat(f.isEnabled("billing-v2", User.withId("u-1"))).isTrue();
                }

                String[] off = flags(server, onCall, "off", "billing-v2", "-m", "incident 4711", "--wait", "20s");
                assertThat(off[0]).as(off[1]).isEqualTo("0");
                assertThat(off[1]).contains("billing-v2 in environment \"production\" is off",
                        "all 3 SDKs connected to environment \"production\" have applied version 3 (");
                for (Flags app : apps) { // no waiting here: --wait returned once each had said it applied it
                    assertThat(app.isEnabled("billing-v2", User.withId("u-1"))).isFalse();
                }

                JsonNode listed = call(server, "GET", "/environments/production/sdks", null);
                assertThat(listed.get("applied").asInt()).isEqualTo(3);
                List<String> names = new ArrayList<>();
                listed.get("sdks").forEach(s -> names.add(s.get("application").asText()));
                assertThat(names).containsExactly("billing", "checkout", "invoices");
                assertThat(listed.get("sdks").get(0).get("sdk").asText()).startsWith("flags-java/");

                apps.remove(2).close(); // an application that stops leaves the list
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (call(server, "GET", "/environments/production/sdks?limit=0", null).get("streams").asInt() != 2) {
                    assertThat(System.nanoTime()).as("the closed SDK's stream ends").isLessThan(deadline);
                    Thread.sleep(10); // the server's view of a closed stream: no event to await from here
                }
            } finally {
                for (Flags f : apps) {
                    f.close();
                }
            }
        }
    }
}
