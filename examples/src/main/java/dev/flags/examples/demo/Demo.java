package dev.flags.examples.demo;

import dev.flags.examples.billing.BillingApp;
import dev.flags.server.FlagServer;
import dev.flags.server.ServerConfig;
import dev.flags.server.StartFailure;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The one-command demo: the flag server with its embedded journal and demo data, and the billing
 * service that uses the SDK. Prints where they listen and which tokens to use, and writes the same
 * into {@code <data-dir>/demo.env} for the walkthrough in examples/README.md.
 */
@Command(name = "flags-demo", mixinStandardHelpOptions = true, description = "Runs the flag server and the billing example together.")
public final class Demo implements Callable<Integer> {

    @Option(names = "--data-dir", defaultValue = "demo-data", description = "The server's data directory (default ${DEFAULT-VALUE}).")
    Path dataDir;

    @Option(names = "--http-port", defaultValue = "8080", description = "The flag server's HTTP port (default ${DEFAULT-VALUE}).")
    int httpPort;

    @Option(names = "--grpc-port", defaultValue = "9090", description = "The flag server's gRPC port (default ${DEFAULT-VALUE}).")
    int grpcPort;

    @Option(names = "--app-port", defaultValue = "8081", description = "The billing service's port (default ${DEFAULT-VALUE}).")
    int appPort;

    @Spec
    CommandSpec spec;

    /** A running demo: server and app. */
    public record Running(FlagServer server, BillingApp app, DemoData.Tokens tokens, Path envFile) implements AutoCloseable {
        @Override
        public void close() {
            try {
                app.close();
            } finally {
                server.close(); // whatever the billing service's close threw: the server holds the journal
            }
        }
    }

    /**
     * Starts the demo and returns at once; ports 0 pick free ones (the tests use that).
     *
     * @return the running demo
     * @throws IllegalArgumentException if a port is out of range, or two of them are the same (nothing is made then)
     */
    public static Running start(Path dataDir, int httpPort, int grpcPort, int appPort) throws IOException, InterruptedException {
        checkPorts(httpPort, grpcPort, appPort);
        requireFree(httpPort, "the flag server's HTTP API", "--http-port");
        requireFree(grpcPort, "the flag server's gRPC sync", "--grpc-port");
        requireFree(appPort, "the billing service", "--app-port");
        // The server makes the directory itself, its owner's only (it holds the admin token and the journal).
        FlagServer server = FlagServer.start(ServerConfig.defaults().withDataDir(dataDir).withPorts(httpPort, grpcPort)
                .withBindAddress("127.0.0.1").withHeartbeatInterval(Duration.ofSeconds(5)));
        BillingApp app = null;
        try {
            String admin = Files.readString(dataDir.resolve("admin-token"), StandardCharsets.UTF_8).trim();
            String httpBase = "http://127.0.0.1:" + server.httpPort();
            DemoData.Tokens tokens = new DemoData(httpBase, admin).seed(dataDir);
            app = BillingApp.start(appPort, "127.0.0.1:" + server.grpcPort(), tokens.sdk(), "production",
                    dataDir.resolve("billing-flags.cache"));
            // Not needed for correctness (the SDK serves defaults until then), but the walkthrough
            // reads better when the first request already sees the server's flags.
            app.flags().awaitReady(Duration.ofSeconds(10));
            Path env = dataDir.resolve("demo.env");
            if (!Files.exists(env)) {
                Files.createFile(env, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            }
            Files.writeString(env, String.join("\n",
                    "# the demo's addresses and tokens: . " + env,
                    "export FLAGS_SERVER=" + httpBase,
                    "export FLAGS_ENV=production",
                    "export BILLING=http://127.0.0.1:" + app.port(),
                    "export ADMIN_TOKEN=" + admin,
                    "export EDITOR_TOKEN=" + tokens.editor(),
                    "export OPERATOR_TOKEN=" + tokens.operator(),
                    "export TESTER_TOKEN=" + tokens.tester(),
                    "export SDK_TOKEN=" + tokens.sdk(),
                    "# for an application of your own (README.md's example reads these two)",
                    "export FLAGS_TARGET=127.0.0.1:" + server.grpcPort(),
                    "export FLAGS_SDK_TOKEN=" + tokens.sdk(), ""), StandardCharsets.UTF_8);
            return new Running(server, app, tokens, env);
        } catch (IOException | InterruptedException | RuntimeException e) {
            // Whatever had started: a caller that gets the exception has nothing to close, and a billing service left
            // running would keep its port and its SDK reconnecting to a server that is gone.
            if (app != null) {
                app.close();
            }
            server.close();
            throw e;
        }
    }

    /**
     * Checked before anything starts, naming the options as the server's own command line does: each port alone is free,
     * so a clash between two of them would otherwise be found only by the billing service, once the server had made and
     * seeded the data directory that the next run then calls an earlier run's.
     *
     * @throws IllegalArgumentException if a port is out of range, or two non-zero ports are the same
     */
    static void checkPorts(int httpPort, int grpcPort, int appPort) {
        checkPort(httpPort, "the flag server's HTTP port", "--http-port");
        checkPort(grpcPort, "the flag server's gRPC port", "--grpc-port");
        checkPort(appPort, "the billing service's port", "--app-port");
        checkDiffer(grpcPort, "the flag server's gRPC sync (--grpc-port)", httpPort, "its HTTP API (--http-port)");
        checkDiffer(appPort, "the billing service (--app-port)", httpPort, "the flag server's HTTP API (--http-port)");
        checkDiffer(appPort, "the billing service (--app-port)", grpcPort, "the flag server's gRPC sync (--grpc-port)");
    }

    private static void checkPort(int port, String what, String option) {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException(what + " must be between 0 and 65535, was " + port + " (" + option + ")");
        }
    }

    private static void checkDiffer(int port, String what, int otherPort, String other) {
        if (port != 0 && port == otherPort) { // 0: each picks a free port of its own
            throw new IllegalArgumentException(what + " and " + other + " cannot both listen on " + port
                    + ": give each its own port (0 picks a free one)");
        }
    }

    /**
     * Checked before the server starts and the data directory is made and seeded: a demo that cannot listen must not
     * leave a half-made data directory that the next run calls an earlier run's.
     */
    private static void requireFree(int port, String what, String option) throws IOException {
        if (port == 0) {
            return;
        }
        try (java.net.ServerSocket probe = new java.net.ServerSocket(port, 1, java.net.InetAddress.getLoopbackAddress())) {
            probe.getLocalPort(); // bound: free (closed again at once, so the demo can take it)
        } catch (java.net.BindException e) {
            throw new IOException("cannot listen on 127.0.0.1:" + port + " for " + what + ": the port is in use by another"
                    + " process (another demo?): stop that one, or give another " + option, e);
        }
    }

    /**
     * Runs the demo until Ctrl-C.
     *
     * @param args options; see --help
     */
    public static void main(String[] args) {
        // Timestamped as the server's own log is, so that the demo's lines can be read against it.
        System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
        System.setProperty("org.slf4j.simpleLogger.dateTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSX");
        System.setProperty("org.slf4j.simpleLogger.log.org.xnio", "warn");
        System.setProperty("org.slf4j.simpleLogger.log.io.undertow", "warn");
        System.setProperty("org.jboss.logging.provider", "slf4j");
        CommandLine cli = new CommandLine(new Demo());
        cli.setParameterExceptionHandler((e, arguments) -> {
            // As the server's command line says a bad option: its message, naming the option, and no usage dump.
            e.getCommandLine().getErr().println("flags-demo: " + e.getMessage());
            e.getCommandLine().getErr().println("Try 'flags-demo --help'.");
            return e.getCommandLine().getCommandSpec().exitCodeOnInvalidInput();
        });
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            // A port in use or a demo already running on the data directory: one line, as the server says it.
            commandLine.getErr().println("flags-demo: cannot start: " + StartFailure.describe(e));
            if (!StartFailure.isEnvironmental(e)) {
                e.printStackTrace(commandLine.getErr());
            }
            return 1;
        });
        int code = cli.execute(args);
        if (code != 0) {
            System.exit(code);
        }
    }

    @Override
    public Integer call() throws Exception {
        try {
            checkPorts(httpPort, grpcPort, appPort);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        boolean reused = Files.isDirectory(dataDir.resolve("journal"));
        AtomicReference<Running> running = new AtomicReference<>();
        CountDownLatch startEnded = new CountDownLatch(1);
        CountDownLatch stopped = new CountDownLatch(1);
        // Before the start: a Ctrl-C during it (the first start seeds for two seconds, when a user is most likely to
        // give up waiting) lets the start end, then closes everything, so that the journal is closed and the data
        // directory complete, rather than an exit that leaves both half-made.
        AtomicBoolean stopAsked = new AtomicBoolean();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stopAsked.set(true);
            try {
                if (startEnded.getCount() > 0) {
                    System.err.println("flags-demo: asked to stop while it starts: stopping once it has started");
                }
                // Bounded, as the server's own stop: a start that hangs is cut, which loses nothing acknowledged.
                startEnded.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            Running started = running.get();
            if (started != null) {
                started.close();
            }
            stopped.countDown();
        }, "demo-shutdown"));
        String banner;
        try {
            Running demo = start(dataDir, httpPort, grpcPort, appPort);
            running.set(demo);
            // Read while nothing can close it (a stop waits for startEnded): a stop during the start closes the demo
            // right after, and its ports could no longer be asked (QA73: a trace instead of a clean stop).
            banner = banner(demo, reused);
        } finally {
            startEnded.countDown();
        }
        if (!stopAsked.get()) { // stopped during the start: it is closing, and "running" would be untrue
            System.out.print(banner);
        }
        stopped.await();
        return 0;
    }

    private String banner(Running demo, boolean reused) {
        StringBuilder b = new StringBuilder(System.lineSeparator());
        if (reused) {
            // The journal is durable, which is its point; but examples/README.md expects a fresh start.
            line(b, "Reusing " + dataDir + ": its journal keeps every change of earlier runs. To start the"
                    + " walkthrough over, stop the demo and delete " + dataDir + ".");
        }
        line(b, "The demo is running.");
        line(b, "  flag server (admin API)  http://127.0.0.1:" + demo.server().httpPort());
        line(b, "  flag server (gRPC sync)  127.0.0.1:" + demo.server().grpcPort());
        line(b, "  billing service          POST http://127.0.0.1:" + demo.app().port() + "/checkout (with X-User-Id)");
        line(b, "  tokens (editor, operator, tester, sdk, admin) and addresses: " + demo.envFile());
        line(b, "In another terminal:  . " + demo.envFile() + "   then follow examples/README.md. Ctrl-C stops.");
        return b.toString();
    }

    private static void line(StringBuilder b, String text) {
        b.append(text).append(System.lineSeparator());
    }
}
