package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A flag server in a child JVM, started through {@link Main} as operators run it (configured by
 * environment variables), and everything it logged. For the tests that need a real process.
 */
record ServerChild(Process process, List<String> log, BlockingQueue<String> lines, Thread reader) implements AutoCloseable {

    /** Waits (up to a minute) for a line of the log that contains {@code contains}, and returns it. */
    String awaitLine(String contains) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            String line = lines.poll(1, TimeUnit.SECONDS);
            if (line != null && line.contains(contains)) {
                return line;
            }
            if (line == null && !reader.isAlive() && lines.isEmpty()) {
                break; // the process ended and everything it wrote was read
            }
        }
        throw new AssertionError("the server never logged \"" + contains + "\"; it logged:\n" + String.join("\n", log));
    }

    /** Stops the server with SIGTERM, as an operator does, and waits for the last of its output. */
    String stop() throws InterruptedException {
        assertThat(process.toHandle().destroy()).isTrue();
        assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        reader.join(10_000);
        return String.join("\n", log);
    }

    @Override
    public void close() {
        process.destroyForcibly();
    }

    /** Ports handed out in this JVM: a port just closed may be the system's next answer, and a test takes two at once. */
    private static final java.util.Set<Integer> HANDED_OUT = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** A port free now, and not one this method gave before (the system may offer a port just closed again). */
    static int freePort() throws IOException {
        while (true) {
            try (ServerSocket s = new ServerSocket(0)) {
                if (HANDED_OUT.add(s.getLocalPort())) {
                    return s.getLocalPort();
                }
            }
        }
    }

    /**
     * @param wrapper a command that runs the server's command (its arguments follow), or empty
     * @param env more environment variables (FLAGS_* ones the test does not set are cleared)
     * @param adminToken FLAGS_ADMIN_TOKEN, or null for a generated one
     */
    static ServerChild start(List<String> wrapper, Map<String, String> env, Path dataDir, int httpPort, int grpcPort,
            String adminToken) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(wrapper);
        command.addAll(List.of(java, "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().keySet().removeIf(name -> name.startsWith("FLAGS_"));
        pb.environment().putAll(env);
        pb.environment().put("FLAGS_DATA_DIR", dataDir.toString());
        pb.environment().put("FLAGS_HTTP_PORT", String.valueOf(httpPort));
        pb.environment().put("FLAGS_GRPC_PORT", String.valueOf(grpcPort));
        pb.environment().put("FLAGS_BIND", "127.0.0.1");
        if (adminToken != null) {
            pb.environment().put("FLAGS_ADMIN_TOKEN", adminToken);
        }
        Process p = pb.start();
        List<String> log = new CopyOnWriteArrayList<>();
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    log.add(line);
                    lines.add(line);
                }
            } catch (IOException e) {
                // the process ended
            }
        }, "child-log");
        reader.setDaemon(true);
        reader.start();
        return new ServerChild(p, log, lines, reader);
    }
}
