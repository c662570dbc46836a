package dev.flags.benchmarks.client;

import dev.flags.server.FlagServer;
import dev.flags.server.ServerConfig;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Not thread-safe. The server side of {@link PropagationBenchmark}: the real {@link FlagServer}
 * (journal, admin HTTP API, gRPC sync) on 127.0.0.1 with ports chosen by the system and a fresh data
 * directory, in its own JVM so that its CPU, heap and GC are apart from the thousand SDK instances'.
 *
 * <p>Prints {@code ports HTTP GRPC} when ready, then answers one line per command on stdin:
 * {@code threads} (its live thread count), {@code quit} (closes the server, deletes the data, answers
 * {@code bye}). The end of stdin is {@code quit}.
 */
public final class PropagationServer {

    /** The bootstrap admin token of the benchmark's server; it exists only in the child JVM's memory and the driver's. */
    static final String ADMIN_TOKEN = "propagation-benchmark-admin-token";

    private PropagationServer() {
    }

    /**
     * Runs the server until {@code quit} or the end of stdin.
     *
     * @param args none
     * @throws Exception if the data directory or a port cannot be used
     */
    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        Path dir = Files.createTempDirectory("flags-propagation-bench");
        FlagServer server = FlagServer.start(ServerConfig.defaults().withDataDir(dir).withPorts(0, 0)
                .withBindAddress("127.0.0.1").withAdminToken(ADMIN_TOKEN));
        out.println("ports " + server.httpPort() + " " + server.grpcPort());
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        try {
            String line;
            while ((line = in.readLine()) != null && !line.trim().equals("quit")) {
                if (line.trim().equals("threads")) {
                    out.println("threads " + Thread.activeCount());
                } else {
                    out.println("error unknown command " + line);
                }
            }
        } finally {
            server.close();
            delete(dir);
            out.println("bye");
        }
    }

    private static void delete(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
