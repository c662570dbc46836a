package dev.flags.benchmarks.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.flags.client.Flags;
import dev.flags.core.User;
import dev.flags.server.ApiLimits;
import dev.flags.server.FlagServer;
import dev.flags.server.ServerConfig;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.FileJournal;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Not thread-safe (one benchmark thread). The server's write path against the number of role grants
 * in the environment written to: a product owner's kill switch ({@code PATCH} of a flag, until the
 * 2xx; and until a subscribed SDK answers with it) and a tester's grant and revocation of a role
 * ({@code PUT} and {@code DELETE} of a membership, until each 2xx).
 *
 * <p>The real {@link FlagServer} in this JVM: file journal with fsync, admin HTTP API on loopback,
 * gRPC sync with one subscribed SDK ({@link Flags}, plaintext on loopback), so that every write also
 * runs the fan-out's work (the delta, the state's tag, the state history). The environment has 100
 * flags, each with a rule on role {@code beta-tester}; {@code grants} users hold that role, appended
 * straight to the journal before the server starts (through the API they would take minutes).
 * Figures and the command: {@code docs/BENCHMARKS-server.md}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
@Warmup(iterations = 3, time = 3)
@Measurement(iterations = 5, time = 3)
public class WriteBenchmark {

    private static final String ENV = "production";
    private static final String KILL_SWITCH = "billing-v2";
    private static final String ROLE = "beta-tester";
    private static final String ADMIN_TOKEN = "write-benchmark-admin-token";
    private static final int FLAGS = 100;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Users holding {@code beta-tester} in the environment written to. */
    @Param({"0", "10000", "50000"})
    public int grants;

    private Path dir;
    private FlagServer server;
    private Flags sdk;
    private HttpClient http;
    private String base;
    private boolean enabled = true;
    /** Released by the SDK's listener each time the kill switch's answer changes. */
    private final Semaphore sdkAnswered = new Semaphore(0);

    /**
     * Makes the environment through the API, appends the grants to the journal with the server stopped,
     * starts the server again and connects the SDK.
     *
     * @throws Exception if the server cannot start or a setup request fails
     */
    @Setup(Level.Trial)
    public void start() throws Exception {
        dir = Files.createTempDirectory("flags-write-bench");
        http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        String token;
        try (FlagServer first = startServer()) {
            admin("POST", "/environments", "{\"key\": \"" + ENV + "\"}");
            for (int f = 0; f < FLAGS; f++) {
                String key = f == 0 ? KILL_SWITCH : "flag-" + f;
                admin("PUT", "/environments/" + ENV + "/flags/" + key, "{\"enabled\": true, \"default\": false,"
                        + " \"description\": \"flag " + f + " of the write benchmark\","
                        + " \"rules\": [{\"name\": \"testers\", \"conditions\": [{\"roles\": [\"" + ROLE + "\"]}]}]}");
            }
            admin("PUT", "/environments/" + ENV + "/roles/" + ROLE, "{\"selfService\": true}");
            token = admin("POST", "/tokens", "{\"name\": \"write-benchmark\", \"scope\": \"sdk\", \"environments\": [\""
                    + ENV + "\"]}").get("token").asText();
        }
        appendGrants(dir.resolve("journal"), grants);
        server = startServer();
        sdk = Flags.builder().target("127.0.0.1:" + server.grpcPort()).plaintext().sdkToken(token).environment(ENV)
                .listenerExecutor(Runnable::run).build();
        if (!sdk.awaitReady(Duration.ofSeconds(60))) {
            throw new IllegalStateException("the SDK did not sync within 60 s: " + sdk.health());
        }
        sdk.addListener(KILL_SWITCH, event -> sdkAnswered.release());
    }

    private FlagServer startServer() throws IOException {
        FlagServer started = FlagServer.start(ServerConfig.defaults().withDataDir(dir).withPorts(0, 0)
                .withBindAddress("127.0.0.1").withAdminToken(ADMIN_TOKEN).withApiLimits(ApiLimits.none()));
        base = "http://127.0.0.1:" + started.httpPort() + "/api/v1";
        return started;
    }

    /** Appends from 16 threads, so that the journal forces many appends at once, as it does under load. */
    private static void appendGrants(Path journalDir, int count) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(16);
        try (FileJournal journal = FileJournal.builder(journalDir).open()) {
            List<Future<?>> appended = new ArrayList<>();
            for (int t = 0; t < 16; t++) {
                int first = t;
                appended.add(pool.submit(() -> {
                    for (int u = first; u < count; u += 16) {
                        journal.append(Change.of(EntryType.ROLE_GRANTED, ENV, "bench", JsonNodeFactory.instance.objectNode()
                                .put("user", String.format("user-%07d@example.com", u)).put("role", ROLE)));
                    }
                }));
            }
            for (Future<?> f : appended) {
                f.get();
            }
        } finally {
            pool.shutdown();
        }
    }

    /** Closes the SDK and the server and deletes the data directory. */
    @TearDown(Level.Trial)
    public void stop() throws IOException {
        sdk.close();
        server.close();
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    /**
     * A kill switch as a product owner throws it: the write is durable and answered.
     *
     * @return the answer's status
     */
    @Benchmark
    public int killSwitch() throws Exception {
        enabled = !enabled;
        // The SDK receives it meanwhile, on other threads, as a server's SDKs do: not waited for here. Its listener's
        // permits are dropped so that their count stays bounded.
        sdkAnswered.drainPermits();
        return send("PATCH", "/environments/" + ENV + "/flags/" + KILL_SWITCH, "{\"enabled\": " + enabled + "}").statusCode();
    }

    /**
     * A kill switch until the subscribed SDK answers with it: the write, then the fan-out's work (delta, state
     * tag) and the SDK's. The answer is checked: a user with the role gets the switch's state.
     *
     * @return the SDK's new answer
     */
    @Benchmark
    public boolean killSwitchUntilSdkAnswers() throws Exception {
        enabled = !enabled;
        sdkAnswered.drainPermits();
        send("PATCH", "/environments/" + ENV + "/flags/" + KILL_SWITCH, "{\"enabled\": " + enabled + "}");
        if (!sdkAnswered.tryAcquire(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("the SDK did not receive the change within 30 s");
        }
        boolean answer = sdk.isEnabled(KILL_SWITCH, User.withId("someone").roles(ROLE));
        if (answer != enabled) {
            throw new IllegalStateException("the SDK answers " + answer + " after the switch was set to " + enabled);
        }
        return answer;
    }

    /**
     * A tester grants themselves the role and revokes it: two durable writes that change the grants.
     *
     * @return the revocation's status
     */
    @Benchmark
    public int grantAndRevoke() throws Exception {
        String member = "/environments/" + ENV + "/roles/" + ROLE + "/members/bench-tester@example.com";
        send("PUT", member, "");
        return send("DELETE", member, "").statusCode();
    }

    private JsonNode admin(String method, String path, String body) throws IOException, InterruptedException {
        String answer = send(method, path, body).body();
        return answer.isEmpty() ? null : JSON.readTree(answer);
    }

    private HttpResponse<String> send(String method, String path, String body) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path))
                .header("Authorization", "Bearer " + ADMIN_TOKEN)
                .timeout(Duration.ofSeconds(30));
        if (body.isEmpty()) {
            request.method(method, HttpRequest.BodyPublishers.noBody());
        } else {
            request.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body));
        }
        HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() / 100 != 2) {
            throw new IllegalStateException(method + " " + path + " answered " + response.statusCode() + ": " + response.body());
        }
        return response;
    }
}
