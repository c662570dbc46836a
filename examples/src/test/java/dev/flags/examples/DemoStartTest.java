package dev.flags.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flags.examples.demo.Demo;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ./run-demo when it cannot start or is given ports that cannot work, in a real process: says why, as the server does. */
class DemoStartTest {

    @TempDir
    Path dir;

    /** Runs ./run-demo's main class in a process of its own with these options; it must give up at once, exit 1. */
    private String demoThatCannotStart(String... options) throws Exception {
        String said = demoRefused(options);
        assertThat(said.lines()).hasSize(1);
        return said;
    }

    /** As {@link #demoThatCannotStart}, for options it refuses: exit 2, and its message and where to find help. */
    private String demoWithBadOptions(String... options) throws Exception {
        String said = demoRefused(options);
        assertThat(said.lines()).as(said).hasSize(2).last().isEqualTo("Try 'flags-demo --help'.");
        return said.lines().findFirst().orElseThrow();
    }

    private String demoRefused(String... options) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path output = dir.resolve("output.txt");
        List<String> command = new ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"), Demo.class.getName(),
                "--data-dir", dir.resolve("demo-data").toString()));
        command.addAll(List.of(options));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile()).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("the demo gives up at once").isTrue();
        String said = Files.readString(output, StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(said).isEqualTo(said.contains("cannot start") ? 1 : 2);
        assertThat(said).doesNotContain("\tat ");
        assertThat(dir.resolve("demo-data")).as("nothing made that a next run would take for an earlier run's").doesNotExist();
        return said;
    }

    @Test
    void aPortInUseIsOneLineAndExit1() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            assertThat(demoThatCannotStart("--http-port", String.valueOf(taken.getLocalPort()), "--grpc-port", "0",
                    "--app-port", "0")).startsWith("flags-demo: cannot start: cannot listen on 127.0.0.1:" + taken.getLocalPort()
                    + " for the flag server's HTTP API: the port is in use by another process (another demo?): stop that one, or"
                    + " give another --http-port");
        }
    }

    @Test
    void theBillingServicesPortInUseIsSaidBeforeAnythingIsMade() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            assertThat(demoThatCannotStart("--http-port", "0", "--grpc-port", "0", "--app-port",
                    String.valueOf(taken.getLocalPort()))).startsWith("flags-demo: cannot start: cannot listen on 127.0.0.1:"
                    + taken.getLocalPort() + " for the billing service: the port is in use by another process (another demo?):"
                    + " stop that one, or give another --app-port");
        }
    }

    @Test
    void aPortOutOfRangeNamesItsOption() throws Exception {
        assertThat(demoWithBadOptions("--http-port", "70000", "--grpc-port", "0", "--app-port", "0"))
                .isEqualTo("flags-demo: the flag server's HTTP port must be between 0 and 65535, was 70000 (--http-port)");
        assertThat(demoWithBadOptions("--http-port", "0", "--grpc-port", "0", "--app-port", "-1"))
                .isEqualTo("flags-demo: the billing service's port must be between 0 and 65535, was -1 (--app-port)");
    }

    @Test
    void twoOptionsGivingOnePortAreRefusedBeforeAnythingIsMade() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = free.getLocalPort(); // free: each option alone would pass the check that the port is not in use
        }
        String p = String.valueOf(port);
        assertThat(demoWithBadOptions("--http-port", p, "--grpc-port", "0", "--app-port", p)).isEqualTo("flags-demo: the billing"
                + " service (--app-port) and the flag server's HTTP API (--http-port) cannot both listen on " + port + ": give each its"
                + " own port (0 picks a free one)");
        assertThat(demoWithBadOptions("--http-port", "0", "--grpc-port", p, "--app-port", p)).startsWith("flags-demo: the billing"
                + " service (--app-port) and the flag server's gRPC sync (--grpc-port) cannot both listen on " + port);
        assertThat(demoWithBadOptions("--http-port", p, "--grpc-port", p, "--app-port", "0")).startsWith("flags-demo: the flag"
                + " server's gRPC sync (--grpc-port) and its HTTP API (--http-port) cannot both listen on " + port);
    }

    @Test
    void aStartThatFailsAfterTheBillingServiceStartedClosesItToo() throws Exception {
        Path data = Files.createDirectory(dir.resolve("demo-data"), PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        Files.createDirectory(data.resolve("demo.env")); // where the env file goes: its write, the last step, fails
        int appPort;
        try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            appPort = free.getLocalPort();
        }
        assertThatThrownBy(() -> Demo.start(data, 0, 0, appPort)).isInstanceOf(IOException.class).hasMessageContaining("demo.env");
        assertThatThrownBy(() -> new Socket(InetAddress.getLoopbackAddress(), appPort).close())
                .as("the billing service's port is closed with the server").isInstanceOf(ConnectException.class);
    }
}
