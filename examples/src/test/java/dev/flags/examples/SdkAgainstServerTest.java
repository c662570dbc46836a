package dev.flags.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flags.client.FlagChangeEvent;
import dev.flags.client.FlagEvaluation;
import dev.flags.client.Flags;
import dev.flags.client.Source;
import dev.flags.core.User;
import dev.flags.server.FlagServer;
import dev.flags.server.ServerConfig;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The SDK against the real flag server over loopback: sync, live changes, restarts, outages, caches. */
class SdkAgainstServerTest {

    private static final String ADMIN = "sdk-test-admin-token-0123456789";
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();

    @TempDir
    Path dir;

    /** Ports handed out in this JVM: a port just closed may be the system's next answer, and a test takes two at once. */
    private static final java.util.Set<Integer> HANDED_OUT = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** A port free now, and not one this method gave before (the system may offer a port just closed again). */
    private static int freePort() throws Exception {
        while (true) {
            try (ServerSocket s = new ServerSocket(0)) {
                if (HANDED_OUT.add(s.getLocalPort())) {
                    return s.getLocalPort();
                }
            }
        }
    }

    private FlagServer start(int httpPort, int grpcPort) throws Exception {
        return start(dir.resolve("data"), httpPort, grpcPort);
    }

    private FlagServer start(Path data, int httpPort, int grpcPort) throws Exception {
        return FlagServer.start(ServerConfig.defaults().withDataDir(data).withPorts(httpPort, grpcPort)
                .withBindAddress("127.0.0.1").withAdminToken(ADMIN).withHeartbeatInterval(Duration.ofSeconds(1)));
    }

    private JsonNode call(FlagServer server, String method, String path, String body) throws Exception {
        return AdminCalls.call(server, ADMIN, method, path, body);
    }

    private String seed(FlagServer server) throws Exception {
        call(server, "POST", "/environments", "{\"key\": \"production\"}");
        call(server, "PUT", "/environments/production/flags/billing-v2",
                "{\"enabled\": true, \"rules\": [{\"name\": \"testers\", \"conditions\": [{\"roles\": [\"beta-tester\"]}]}]}");
        return call(server, "POST", "/tokens", "{\"name\": \"svc\", \"scope\": \"sdk\", \"environments\": [\"production\"]}")
                .get("token").asText();
    }

    private static Flags sdk(int grpcPort, String token, Path cache) {
        Flags.Builder b = Flags.builder().target("127.0.0.1:" + grpcPort).plaintext().sdkToken(token).environment("production")
                .initialBackoff(Duration.ofMillis(20)).maxBackoff(Duration.ofMillis(200));
        if (cache != null) {
            b.cacheFile(cache);
        }
        return b.build();
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waited 20 s for: " + what).isLessThan(deadline);
            Thread.sleep(5); // polls the SDK's own state; the SDK exposes no event for "stream down"
        }
    }

    @Test
    void firstSyncThenALiveChangeArrivesWithoutAsking() throws Exception {
        int httpPort = freePort();
        int grpcPort = freePort();
        try (FlagServer server = start(httpPort, grpcPort)) {
            String token = seed(server);
            try (Flags flags = sdk(grpcPort, token, null)) {
                BlockingQueue<FlagChangeEvent> changes = new LinkedBlockingQueue<>();
                flags.addListener("billing-v2", changes::add);
                assertThat(flags.awaitReady(Duration.ofSeconds(20))).isTrue();
                User tess = User.withId("tess");
                assertThat(flags.isEnabled("billing-v2", tess)).isFalse();
                assertThat(flags.evaluate("billing-v2", tess).source()).isEqualTo(Source.LIVE);

                call(server, "PUT", "/environments/production/roles/beta-tester/members/tess", null);
                await("the grant reaches the SDK", () -> flags.isEnabled("billing-v2", tess));
                FlagEvaluation why = flags.evaluate("billing-v2", tess);
                assertThat(why.reason().ruleName()).isEqualTo("testers");
                call(server, "PUT", "/environments/production/roles/beta-tester/members/tom", null);
                call(server, "DELETE", "/environments/production/roles/beta-tester/members/tess", null);
                await("the revocation reaches the SDK", () -> !flags.isEnabled("billing-v2", tess));
                assertThat(flags.isEnabled("billing-v2", User.withId("tom"))).isTrue();
                call(server, "PUT", "/environments/production/roles/beta-tester/members/tess", null);
                await("the grant reaches the SDK again", () -> flags.isEnabled("billing-v2", tess));

                call(server, "PATCH", "/environments/production/flags/billing-v2", "{\"enabled\": false}");
                FlagChangeEvent event = changes.poll(20, TimeUnit.SECONDS);
                while (event != null && flags.isEnabled("billing-v2", tess)) {
                    event = changes.poll(20, TimeUnit.SECONDS);
                }
                assertThat(event).isNotNull();
                assertThat(event.flagKey()).isEqualTo("billing-v2");
                assertThat(flags.isEnabled("billing-v2", tess)).isFalse();
            }
        }
    }

    @Test
    void anEnvironmentDeletedForGoodLeavesItsSdkServingWhatItHadAndSayingWhy() throws Exception {
        int httpPort = freePort();
        int grpcPort = freePort();
        try (FlagServer server = start(httpPort, grpcPort)) {
            String token = seed(server);
            call(server, "PUT", "/environments/production/roles/beta-tester/members/tess", null);
            try (Flags flags = sdk(grpcPort, token, null)) {
                assertThat(flags.awaitReady(Duration.ofSeconds(20))).isTrue();
                await("the grant", () -> flags.isEnabled("billing-v2", User.withId("tess")));
                // An environment with SDKs connected is archived only when asked for even so: archived, no kill
                // switch could reach them until a restore.
                HttpResponse<String> refused = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                        + server.httpPort() + "/api/v1/environments/production")).header("Authorization", "Bearer " + ADMIN)
                        .DELETE().build(), HttpResponse.BodyHandlers.ofString());
                assertThat(refused.statusCode()).isEqualTo(409);
                assertThat(JSON.readTree(refused.body()).get("detail").asText()).startsWith("1 SDK is connected to"
                        + " environment \"production\" (applications without a name: 1): archived, its flags would stay in that"
                        + " SDK as they are, and none of them could be switched off");
                call(server, "DELETE", "/environments/production?withSdks=true", null);
                JsonNode deleted = call(server, "DELETE", "/environments/production?archived=true&comment=region%20closed", null);
                assertThat(deleted.get("tokens")).hasSize(1);

                await("the SDK hears the environment is gone", () -> flags.freshness().refused());
                assertThat(flags.health().detail()).contains("environment \"production\" was deleted for good");
                assertThat(flags.isEnabled("billing-v2", User.withId("tess"))).as("it keeps serving what it had").isTrue();
                assertThat(flags.evaluate("billing-v2", User.withId("tess")).source()).isEqualTo(Source.STALE);
            }
        }
    }

    @Test
    void usageReportsShowWhichFlagsTheApplicationEvaluatedWhatTheyAnsweredAndKeysItAsksForThatAreNoFlags() throws Exception {
        int httpPort = freePort();
        int grpcPort = freePort();
        String token;
        try (FlagServer server = start(httpPort, grpcPort)) {
            token = seed(server);
            call(server, "PUT", "/environments/production/flags/never-asked", "{\"enabled\": true}");
            JsonNode before = call(server, "GET", "/environments/production/usage?flag=billing-v2", null);
            assertThat(before.get("flags").get(0).get("lastEvaluatedAt").isNull()).isTrue();

            Flags flags = Flags.builder().target("127.0.0.1:" + grpcPort).plaintext().sdkToken(token)
                    .environment("production").application("checkout").build();
            assertThat(flags.awaitReady(Duration.ofSeconds(20))).isTrue();
            assertThat(flags.isEnabled("billing-v2", User.withId("tess").roles("beta-tester"))).isTrue();
            assertThat(flags.isEnabled("billing-v2", User.withId("erik"))).isFalse();
            flags.close(); // an application that stops before its first period still reports: close sends the rest
        }
        try (FlagServer again = start(httpPort, grpcPort)) {
            JsonNode usage = call(again, "GET", "/environments/production/usage", null);
            assertThat(usage.get("since").isNull()).isFalse();
            JsonNode billing = usage.get("flags").get(0);
            assertThat(billing.get("flag").asText()).isEqualTo("billing-v2");
            assertThat(billing.get("lastEvaluatedAt").isNull()).as("kept across the restart (usage.json)").isFalse();
            assertThat(billing.get("lastServedTrueAt").isNull()).isFalse();
            assertThat(billing.get("lastServedFalseAt").isNull()).isFalse();
            assertThat(billing.get("applications").get(0).get("name").asText()).isEqualTo("checkout");
            assertThat(billing.get("applications").get(0).get("sdk").asText()).startsWith("flags-java/");
            JsonNode neverAsked = usage.get("flags").get(1);
            assertThat(neverAsked.get("flag").asText()).isEqualTo("never-asked");
            assertThat(neverAsked.get("lastEvaluatedAt").isNull()).as("the flag the code does not ask for").isTrue();

            // Archived while the code still asks for it: the usage view names the key and who asks.
            call(again, "DELETE", "/environments/production/flags/billing-v2", null);
            try (Flags flags = Flags.builder().target("127.0.0.1:" + grpcPort).plaintext().sdkToken(token)
                    .environment("production").application("checkout").build()) {
                assertThat(flags.awaitReady(Duration.ofSeconds(20))).isTrue();
                assertThat(flags.isEnabled("billing-v2", User.withId("tess"), true)).as("the code's default").isTrue();
            }
            JsonNode unknown = call(again, "GET", "/environments/production/usage", null).get("unknownFlags");
            assertThat(unknown).hasSize(1);
            assertThat(unknown.get(0).get("flag").asText()).isEqualTo("billing-v2");
            assertThat(unknown.get(0).get("lastAskedAt").isNull()).isFalse();
            assertThat(unknown.get(0).get("applications").get(0).get("name").asText()).isEqualTo("checkout");
        }
    }

    @Test
    void aServerRestartCostsADeltaNotAFullReload() throws Exception {
        int httpPort = freePort();
        int grpcPort = freePort();
        String token;
        FlagServer server = start(httpPort, grpcPort);
        token = seed(server);
        try (Flags flags = sdk(grpcPort, token, null)) {
            assertThat(flags.awaitReady(Duration.ofSeconds(20))).isTrue();
            long version = flags.freshness().version();
            server.close();

            // the server is gone: the SDK keeps answering from what it has, and says it is stale
            await("the SDK notices the outage", () -> !flags.freshness().streamUp() && flags.freshness().source() == Source.STALE);
            assertThat(flags.isEnabled("billing-v2", User.withId("x").roles("beta-tester"))).isTrue();
            assertThat(flags.evaluate("billing-v2", User.withId("x")).source()).isEqualTo(Source.STALE);

            try (FlagServer again = start(httpPort, grpcPort)) {
                await("the SDK reconnects", () -> flags.freshness().streamUp());
                call(again, "PATCH", "/environments/production/flags/billing-v2", "{\"enabled\": false}");
                await("the change after the restart arrives", () -> !flags.isEnabled("billing-v2", User.withId("x").roles("beta-tester")));
                assertThat(flags.freshness().version()).isGreaterThan(version);
                String metrics = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + again.httpPort() + "/metrics")).build(),
                        HttpResponse.BodyHandlers.ofString()).body();
                assertThat(metrics).as("the resumed SDK got no full snapshot").contains("flags_sync_snapshots_sent_total 0");
            }
        }
    }

    @Test
    void unreachableAtStartServesTheCacheFileAndWithoutOneTheDefaults() throws Exception {
        int httpPort = freePort();
        int grpcPort = freePort();
        Path cache = dir.resolve("flags-cache.json");
        String token;
        try (FlagServer server = start(httpPort, grpcPort)) {
            token = seed(server);
            try (Flags flags = sdk(grpcPort, token, cache)) {
                assertThat(flags.awaitReady(Duration.ofSeconds(20))).isTrue();
                await("the cache file is written", () -> Files.exists(cache));
            }
        }
        // the server is down now
        User tester = User.withId("t").roles("beta-tester");
        try (Flags fromCache = sdk(grpcPort, token, cache)) {
            await("the cache file is loaded", () -> fromCache.freshness().source() == Source.CACHE_FILE);
            assertThat(fromCache.isEnabled("billing-v2", tester)).isTrue();
            assertThat(fromCache.evaluate("billing-v2", tester).source()).isEqualTo(Source.CACHE_FILE);
        }
        try (Flags nothing = sdk(grpcPort, token, null)) {
            assertThat(nothing.isEnabled("billing-v2", tester)).isFalse();
            assertThat(nothing.isEnabled("billing-v2", tester, true)).isTrue();
            assertThat(nothing.evaluate("billing-v2", tester).source()).isEqualTo(Source.DEFAULTS);
        }
        // a corrupt cache file is never trusted
        byte[] bytes = Files.readAllBytes(cache);
        bytes[bytes.length / 2] ^= 0x5A;
        Files.write(cache, bytes);
        try (Flags corrupt = sdk(grpcPort, token, cache)) {
            assertThat(corrupt.isEnabled("billing-v2", tester)).isFalse();
            assertThat(corrupt.evaluate("billing-v2", tester).source()).isEqualTo(Source.DEFAULTS);
        }
    }

    /** Creates the flag with a PUT, then changes it until the environment is past a version. */
    private void writeUntilPast(FlagServer server, String flag, long version) throws Exception {
        call(server, "PUT", "/environments/production/flags/" + flag, "{\"enabled\": true, \"default\": true}");
        boolean on = true;
        while (call(server, "GET", "/environments/production", null).get("version").asLong() <= version) {
            on = !on;
            call(server, "PATCH", "/environments/production/flags/" + flag, "{\"enabled\": " + on + "}");
        }
    }

    private String metrics(FlagServer server) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }

    @Test
    void aCacheFileOfAnotherServerIsReplacedByThisServersSnapshotNotPatchedWithADelta() throws Exception {
        Path cache = dir.resolve("flags.cache");
        String tokenA;
        long versionA;
        try (FlagServer a = start(dir.resolve("a"), 0, 0)) {
            tokenA = seed(a);
            call(a, "PUT", "/environments/production/flags/only-on-a", "{\"enabled\": true, \"default\": true}");
            try (Flags flags = sdk(a.grpcPort(), tokenA, cache)) {
                assertThat(flags.awaitReady(Duration.ofSeconds(20))).isTrue();
                versionA = flags.freshness().version();
            }
        }
        assertThat(Files.readString(cache)).contains("only-on-a").contains("state-tag: ");
        // Another server, its own "production", already past the cached version: the version number alone
        // would name a state there, and a Delta from it would keep A's flag.
        try (FlagServer b = start(dir.resolve("b"), 0, 0)) {
            String tokenB = seed(b);
            writeUntilPast(b, "only-on-b", versionA);
            try (Flags flags = sdk(b.grpcPort(), tokenB, cache)) {
                await("B's flags arrive", () -> flags.freshness().source() == Source.LIVE);
                assertThat(flags.allFlags(User.withId("u")).keySet()).containsExactlyInAnyOrder("billing-v2", "only-on-b");
                assertThat(metrics(b)).contains("flags_sync_snapshots_sent_total 1");
            }
        }
    }

    @Test
    void aVersionFromBeforeARestoreOfTheJournalGetsASnapshotOnceTheServerIsPastIt() throws Exception {
        Path data = dir.resolve("data");
        Path cache = dir.resolve("flags.cache");
        Path backup = dir.resolve("backup");
        String token;
        long had;
        try (FlagServer server = start(data, 0, 0)) {
            token = seed(server);
        }
        copyTree(data, backup); // a backup of the stopped server
        try (FlagServer server = start(data, 0, 0)) {
            call(server, "PUT", "/environments/production/flags/after-the-backup", "{\"enabled\": true, \"default\": true}");
            try (Flags flags = sdk(server.grpcPort(), token, cache)) {
                assertThat(flags.awaitReady(Duration.ofSeconds(20))).isTrue();
                assertThat(flags.isEnabled("after-the-backup", User.withId("u"))).isTrue();
                had = flags.freshness().version();
            }
        }
        // Restored from the backup: the change after it is gone, and new changes reuse its version numbers.
        deleteTree(data);
        copyTree(backup, data);
        try (FlagServer server = start(data, 0, 0)) {
            writeUntilPast(server, "since-the-restore", had);
            try (Flags flags = sdk(server.grpcPort(), token, cache)) {
                await("the restored server's flags arrive", () -> flags.freshness().source() == Source.LIVE);
                assertThat(flags.allFlags(User.withId("u")).keySet()).containsExactlyInAnyOrder("billing-v2", "since-the-restore");
                assertThat(flags.isEnabled("after-the-backup", User.withId("u"))).isFalse();
            }
        }
    }

    private static void copyTree(Path from, Path to) throws Exception {
        try (var paths = Files.walk(from)) {
            for (Path p : (Iterable<Path>) paths::iterator) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else if (!p.getFileName().toString().equals("journal.lock")) {
                    Files.copy(p, target);
                }
            }
        }
    }

    private static void deleteTree(Path root) throws Exception {
        try (var paths = Files.walk(root)) {
            for (Path p : (Iterable<Path>) paths.sorted(java.util.Comparator.reverseOrder())::iterator) {
                Files.delete(p);
            }
        }
    }

    @Test
    void syncsOverTlsWithTheServersCertificateTrusted() throws Exception {
        Path cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        Process openssl = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key.toString(),
                "-out", cert.toString(), "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost")
                .redirectErrorStream(true).start();
        openssl.getInputStream().readAllBytes();
        assertThat(openssl.waitFor(60, TimeUnit.SECONDS) && openssl.exitValue() == 0).as("openssl made a certificate").isTrue();
        try (FlagServer server = FlagServer.start(ServerConfig.defaults().withDataDir(dir.resolve("tls-data")).withPorts(0, 0)
                .withBindAddress("127.0.0.1").withAdminToken(ADMIN).withTls(cert, key))) {
            HttpClient tlsHttp = HttpClient.newBuilder().sslContext(trusting(cert)).build();
            String base = "https://127.0.0.1:" + server.httpPort() + "/api/v1";
            send(tlsHttp, "POST", base + "/environments", "{\"key\": \"production\"}");
            send(tlsHttp, "PUT", base + "/environments/production/flags/billing-v2", "{\"enabled\": true, \"default\": true}");
            String token = JSON.readTree(send(tlsHttp, "POST", base + "/tokens",
                    "{\"name\": \"svc\", \"scope\": \"sdk\", \"environments\": [\"production\"]}")).get("token").asText();
            try (Flags flags = Flags.builder().target("127.0.0.1:" + server.grpcPort()).trustedCertificates(cert)
                    .sdkToken(token).environment("production").build()) {
                assertThat(flags.awaitReady(Duration.ofSeconds(20))).isTrue();
                assertThat(flags.isEnabled("billing-v2", User.withId("u"))).isTrue();
            }
            // an SDK that does not trust the certificate never gets flags
            try (Flags untrusting = Flags.builder().target("127.0.0.1:" + server.grpcPort())
                    .sdkToken(token).environment("production").initialBackoff(Duration.ofMillis(20)).build()) {
                assertThat(untrusting.awaitReady(Duration.ofMillis(500))).isFalse();
                assertThat(untrusting.evaluate("billing-v2", User.withId("u")).source()).isEqualTo(Source.DEFAULTS);
            }
        }
    }

    private static javax.net.ssl.SSLContext trusting(Path cert) throws Exception {
        java.security.KeyStore trust = java.security.KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        try (var in = Files.newInputStream(cert)) {
            trust.setCertificateEntry("server", java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        javax.net.ssl.TrustManagerFactory tmf = javax.net.ssl.TrustManagerFactory.getInstance(javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        javax.net.ssl.SSLContext context = javax.net.ssl.SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);
        return context;
    }

    private static String send(HttpClient client, String method, String url, String body) throws Exception {
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(url)).header("Authorization", "Bearer " + ADMIN)
                .header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isLessThan(300);
        return r.body();
    }

    @Test
    void threadsEvaluatingWhileChangesStreamInAlwaysSeeWholeSnapshotsInOrder() throws Exception {
        try (FlagServer server = start(0, 0)) {
            String token = seed(server);
            String doc = "{\"enabled\": true, \"default\": true, \"variants\": [{\"key\": \"n\", \"weight\": 100, \"payload\": \"%d\"}]}";
            call(server, "PUT", "/environments/production/flags/x", doc.formatted(0));
            call(server, "PUT", "/environments/production/flags/y", doc.formatted(0));
            try (Flags flags = sdk(server.grpcPort(), token, null)) {
                assertThat(flags.awaitReady(Duration.ofSeconds(20))).isTrue();
                java.util.concurrent.atomic.AtomicBoolean writing = new java.util.concurrent.atomic.AtomicBoolean(true);
                java.util.List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
                java.util.concurrent.atomic.AtomicLong observed = new java.util.concurrent.atomic.AtomicLong();
                Thread[] readers = new Thread[4];
                for (int t = 0; t < readers.length; t++) {
                    readers[t] = new Thread(() -> {
                        int lastX = 0;
                        User user = User.withId("reader");
                        try {
                            while (writing.get()) {
                                java.util.Map<String, FlagEvaluation> all = flags.allFlags(user);
                                int x = Integer.parseInt(all.get("x").payload());
                                int y = Integer.parseInt(all.get("y").payload());
                                // x is always written before y: a whole snapshot has y == x or y == x - 1
                                assertThat(y).isBetween(x - 1, x);
                                assertThat(x).as("never backwards").isGreaterThanOrEqualTo(lastX);
                                assertThat(all.get("x").version()).isEqualTo(all.get("y").version());
                                lastX = x;
                                observed.incrementAndGet();
                            }
                        } catch (Throwable e) {
                            failures.add(e);
                        }
                    }, "reader-" + t);
                    readers[t].start();
                }
                for (int n = 1; n <= 40; n++) {
                    call(server, "PUT", "/environments/production/flags/x", doc.formatted(n));
                    call(server, "PUT", "/environments/production/flags/y", doc.formatted(n));
                }
                await("the last change arrives", () -> "40".equals(flags.evaluate("y", User.withId("r")).payload()));
                writing.set(false);
                for (Thread r : readers) {
                    r.join(10_000);
                }
                assertThat(failures).isEmpty();
                assertThat(observed.get()).isPositive();
            }
        }
    }
}
