package dev.flags.server;

import static dev.flags.server.ServerChild.freePort;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flags.protocol.v1.FlagSyncGrpc;
import dev.flags.protocol.v1.Snapshot;
import dev.flags.protocol.v1.SnapshotRequest;
import dev.flags.server.auth.TokenService;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.FileJournal;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server as operators run it: a real child JVM started through {@link Main}, configured by
 * environment variables, stopped with SIGTERM.
 */
class ServerProcessTest {

    @TempDir
    Path dir;

    private ServerChild start(Path dataDir, int httpPort, int grpcPort, String adminToken) throws IOException {
        return start(List.of(), Map.of(), dataDir, httpPort, grpcPort, adminToken);
    }

    private ServerChild start(List<String> wrapper, Map<String, String> env, Path dataDir, int httpPort, int grpcPort,
            String adminToken) throws IOException {
        return ServerChild.start(wrapper, env, dataDir, httpPort, grpcPort, adminToken);
    }

    /** GETs every path at once (an admin's), and returns the answers, each checked to be a 200. */
    private static List<ApiClient.Response> allAtOnce(int http, List<String> paths) throws Exception {
        java.util.concurrent.ExecutorService readers = java.util.concurrent.Executors.newFixedThreadPool(paths.size());
        try {
            List<java.util.concurrent.Future<ApiClient.Response>> pending = new ArrayList<>();
            for (String path : paths) {
                pending.add(readers.submit(() -> new ApiClient(http).get(path, ServerFixture.ADMIN)));
            }
            List<ApiClient.Response> answers = new ArrayList<>();
            for (java.util.concurrent.Future<ApiClient.Response> answer : pending) {
                ApiClient.Response r = answer.get();
                assertThat(r.status()).as(r.body().length() < 1000 ? r.body() : "a large answer").isEqualTo(200);
                answers.add(r);
            }
            return answers;
        } finally {
            readers.shutdownNow();
        }
    }

    @Test
    void aCloneOrAWriteThatWouldTakeTheStatePastAThirdOfTheHeapIsRefusedButTheKillSwitchIsNot() throws Exception {
        int http = freePort();
        try (ServerChild child = start(List.of(), Map.of("JAVA_TOOL_OPTIONS", "-Xmx96m"), dir.resolve("heap"), http,
                freePort(), ServerFixture.ADMIN)) {
            child.awaitLine("flag server ready");
            ApiClient api = new ApiClient(http);
            assertThat(api.post("/api/v1/environments", ServerFixture.ADMIN, "{\"key\": \"production\"}").status()).isEqualTo(201);
            String ids = java.util.stream.IntStream.range(0, 480).mapToObj(i -> "\"" + String.format("%04d", i) + "u".repeat(996) + "\"")
                    .collect(java.util.stream.Collectors.joining(","));
            for (int f = 0; f < 8; f++) { // 8 flags of about 0.48 MB: an environment of about 3.9 MB
                ApiClient.Response put = api.put("/api/v1/environments/production/flags/f" + f, ServerFixture.ADMIN,
                        "{\"key\": \"f" + f + "\", \"enabled\": true, \"targets\": [{\"userIds\": [" + ids + "], \"serve\": true}]}");
                assertThat(put.status()).as(put.body()).isEqualTo(201);
            }
            ApiClient.Response refused = null;
            int clones = 0;
            while (refused == null && clones < 20) {
                ApiClient.Response clone = api.post("/api/v1/environments", ServerFixture.ADMIN,
                        "{\"key\": \"copy" + clones + "\", \"cloneFrom\": \"production\"}");
                if (clone.status() == 201) {
                    clones++;
                } else {
                    refused = clone;
                }
            }
            // A third of 96 MiB is 32 MiB: room for the source and 7 copies of 3.9 MB, not 8.
            assertThat(clones).isBetween(5, 8);
            assertThat(refused).isNotNull();
            assertThat(refused.status()).isEqualTo(409);
            assertThat(refused.json().get("title").asText()).isEqualTo("server full");
            assertThat(refused.json().get("detail").asText()).contains("more than a third of its largest heap")
                    .contains("start the server with a larger -Xmx").contains("or delete archived flags for good")
                    .contains("flags delete FLAG");
            ApiClient.Response grown = null;
            String refusedFlag = null;
            for (int f = 8; f < 20 && grown == null; f++) { // ordinary writes that add to the state are refused too
                refusedFlag = "{\"key\": \"f" + f + "\", \"enabled\": true, \"targets\": [{\"userIds\": [" + ids + "], \"serve\": true}]}";
                ApiClient.Response put = api.put("/api/v1/environments/production/flags/f" + f, ServerFixture.ADMIN, refusedFlag);
                if (put.status() != 201) {
                    grown = put;
                }
            }
            assertThat(grown).isNotNull();
            assertThat(grown.status()).as(grown.body()).isEqualTo(409);
            assertThat(grown.json().get("detail").asText()).contains("more than a third of its largest heap")
                    .contains("Turning flags on or off still works");
            assertThat(api.patch("/api/v1/environments/production/flags/f0", ServerFixture.ADMIN, "{\"enabled\": false}").status())
                    .as("the kill switch is never refused").isEqualTo(200);
            // The refused flag again under a longer key (so no smaller), then a kilobyte (one user id) smaller than the
            // flag deleted below.
            String again = refusedFlag.replaceFirst("\"key\": \"f[0-9]+\"", "\"key\": \"retry\"");
            String retry = again.replaceFirst("\"0000u+\",", "");
            assertThat(api.delete("/api/v1/environments/production/flags/f1", ServerFixture.ADMIN).status()).isEqualTo(200);
            assertThat(api.put("/api/v1/environments/production/flags/retry", ServerFixture.ADMIN, again).status())
                    .as("archiving frees nothing").isEqualTo(409);
            assertThat(api.delete("/api/v1/environments/production/flags/f1?archived=true", ServerFixture.ADMIN).status()).isEqualTo(200);
            ApiClient.Response afterDelete = api.put("/api/v1/environments/production/flags/retry", ServerFixture.ADMIN, retry);
            assertThat(afterDelete.status()).as("deleting an archived flag for good makes room: " + afterDelete.body()).isEqualTo(201);

            // The full server still answers sixteen lists of 3.9 MB at once, and sixteen pages of a large flag's history:
            // a page is a 128th of the heap here (0.75 MiB, one flag of 0.48 MB and no more), not 8 MiB, which sixteen
            // times over would need more than the heap left.
            List<String> lists = new ArrayList<>();
            for (int r = 0; r < 16; r++) {
                lists.add("/api/v1/environments/copy" + (r % clones) + "/flags");
            }
            for (ApiClient.Response list : allAtOnce(http, lists)) {
                assertThat(list.json().get("flags")).as("a page of one").hasSize(1);
                assertThat(list.json().get("after").asText()).isEqualTo("f0");
            }
            for (int i = 0; i < 16; i++) { // 18 versions of 0.48 MB: 8.6 MB of history
                assertThat(api.patch("/api/v1/environments/production/flags/f0", ServerFixture.ADMIN, "{\"enabled\": "
                        + (i % 2 == 0) + "}").status()).isEqualTo(200);
            }
            for (ApiClient.Response history : allAtOnce(http, java.util.Collections.nCopies(16,
                    "/api/v1/environments/production/flags/f0/history"))) {
                assertThat(history.json().get("versions")).isNotEmpty();
            }
            assertThat(api.get("/metrics", null).body()).contains("\nflags_out_of_memory_errors_total 0\n");

            // A whole environment's room comes back when an archived one is deleted for good; archiving it frees nothing.
            // (A copy of a copy: production grew above, by the flags written until one was refused.)
            String later = "{\"key\": \"later\", \"cloneFrom\": \"copy1\"}";
            ApiClient.Response full = api.post("/api/v1/environments", ServerFixture.ADMIN, later);
            assertThat(full.status()).as(full.body()).isEqualTo(409);
            assertThat(full.json().get("detail").asText()).contains("or archived environments, whole (flags environments delete ENV)");
            assertThat(api.delete("/api/v1/environments/copy0", ServerFixture.ADMIN).status()).isEqualTo(200);
            assertThat(api.post("/api/v1/environments", ServerFixture.ADMIN, later).status()).as("archived, it is still held")
                    .isEqualTo(409);
            java.time.Instant whileFull = java.time.Instant.now();
            assertThat(api.delete("/api/v1/environments/copy0?archived=true", ServerFixture.ADMIN).status()).isEqualTo(200);
            ApiClient.Response room = api.post("/api/v1/environments", ServerFixture.ADMIN, later);
            assertThat(room.status()).as("deleted for good, it is not: " + room.body()).isEqualTo(201);
            // A past state is rebuilt whole beside the current one; answered as stored, not as trees, it still fits.
            ApiClient.Response then = api.get("/api/v1/environments/copy0/state?at=" + whileFull, ServerFixture.ADMIN);
            assertThat(then.status()).as(then.body()).isEqualTo(200);
            assertThat(then.json().get("flags")).hasSize(8);
            child.stop();
        }
        // Started again with a smaller heap, the full state is over its third at once: the log says so, and what to do.
        try (ServerChild child = start(List.of(), Map.of("JAVA_TOOL_OPTIONS", "-Xmx80m"), dir.resolve("heap"), http,
                freePort(), ServerFixture.ADMIN)) {
            child.awaitLine("flag server ready");
            assertThat(String.join("\n", child.log())).contains("more than a third of this JVM's largest heap (80 MiB) allows: every write that"
                    + " adds to them is refused (409 server full) until they take less; turning flags on or off, and shrinking,"
                    + " still work. Start the server with -Xmx");
        }
    }

    @Test
    void aLargeEnvironmentsPastStateIsAnsweredByAFullServer() throws Exception {
        int http = freePort();
        try (ServerChild child = start(List.of(), Map.of("JAVA_TOOL_OPTIONS", "-Xmx96m"), dir.resolve("past"), http,
                freePort(), ServerFixture.ADMIN)) {
            child.awaitLine("flag server ready");
            ApiClient api = new ApiClient(http);
            // Flags of about 0.9 MB each (9,600 user ids of 95 characters), 16 to an environment, until the server is full.
            String ids = java.util.stream.IntStream.range(0, 9_600).mapToObj(i -> "\"" + String.format("user-%05d-", i)
                    + "x".repeat(84) + "\"").collect(java.util.stream.Collectors.joining(","));
            String big = "{\"enabled\": true, \"rules\": [{\"name\": \"r\", \"conditions\": [{\"userIds\": [" + ids + "]}]}]}";
            boolean full = false;
            for (String env : List.of("big-a", "big-b", "big-c")) {
                assertThat(api.post("/api/v1/environments", ServerFixture.ADMIN, "{\"key\": \"" + env + "\"}").status()).isEqualTo(201);
                for (int f = 0; f < 16 && !full; f++) {
                    ApiClient.Response put = api.put("/api/v1/environments/" + env + "/flags/f" + f, ServerFixture.ADMIN, big);
                    full = put.status() == 409;
                    assertThat(put.status()).as(put.body()).isIn(201, 409);
                }
            }
            assertThat(full).as("the server filled up").isTrue();
            java.time.Instant whileFull = java.time.Instant.now();
            assertThat(api.patch("/api/v1/environments/big-b/flags/f0", ServerFixture.ADMIN, "{\"enabled\": false}").status())
                    .isEqualTo(200);
            // Rebuilt whole beside the current state: its 14.6 MB of flags as trees as well ran the heap out (500).
            ApiClient.Response then = api.get("/api/v1/environments/big-b/state?at=" + whileFull, ServerFixture.ADMIN);
            assertThat(then.status()).as(then.body()).isEqualTo(200);
            assertThat(then.json().get("flags")).hasSize(16);
            assertThat(then.json().at("/flags/0/enabled").asBoolean()).as("as it was then").isTrue();
            assertThat(api.get("/metrics", null).body()).contains("\nflags_out_of_memory_errors_total 0\n");
        }
    }

    @Test
    void atTraceLevelAnSdkTokenSentOverGrpcIsStillNeverLoggedNorTheWebhooksQuery() throws Exception {
        int http = freePort();
        int grpc = freePort();
        Path secret = dir.resolve("webhook-secret");
        Files.writeString(secret, "0123456789abcdef0123456789abcdef");
        Map<String, String> env = Map.of("FLAGS_LOG_LEVEL", "trace", "FLAGS_WEBHOOK_URL", "http://127.0.0.1:" + freePort()
                + "/hook?key=QUERYSECRET", "FLAGS_WEBHOOK_SECRET_FILE", secret.toString());
        try (ServerChild child = start(List.of(), env, dir.resolve("trace"), http, grpc, ServerFixture.ADMIN)) {
            child.awaitLine("flag server ready");
            ApiClient api = new ApiClient(http);
            assertThat(api.post("/api/v1/environments", ServerFixture.ADMIN, "{\"key\": \"production\"}").status()).isEqualTo(201);
            String sdk = api.post("/api/v1/tokens", ServerFixture.ADMIN,
                    "{\"name\": \"app\", \"scope\": \"sdk\", \"environments\": [\"production\"]}").json().get("token").asText();
            ManagedChannel channel = ManagedChannelBuilder.forAddress("127.0.0.1", grpc).usePlaintext().build();
            try {
                Metadata headers = new Metadata();
                headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + sdk);
                Snapshot snapshot = FlagSyncGrpc.newBlockingStub(channel)
                        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
                        .getSnapshot(SnapshotRequest.newBuilder().setEnvironment("production").build());
                assertThat(snapshot.getVersion()).isPositive();
            } finally {
                channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
            }
            child.awaitLine("webhook: a delivery to"); // the environment's creation, to a port nobody listens on
            String log = child.stop();
            assertThat(log).as("the server did log at trace").contains(" DEBUG ").contains(" TRACE ");
            assertThat(log).doesNotContain(sdk).doesNotContain(ServerFixture.ADMIN).doesNotContain("flg_");
            assertThat(log).as("the JDK's HTTP client logs each URL at debug").doesNotContain("QUERYSECRET");
        }
    }

    @Test
    void firstStartGeneratesAnOwnerOnlyAdminTokenAndNeverLogsIt() throws Exception {
        Path data = dir.resolve("data");
        int http = freePort();
        try (ServerChild child = start(data, http, freePort(), null)) {
            child.awaitLine("flag server ready");
            Path tokenFile = data.resolve("admin-token");
            assertThat(tokenFile).exists();
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(tokenFile))).isEqualTo("rw-------");
            // the audit trail (user ids, token hashes) is its owner's only too, in directories the server made
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(data))).isEqualTo("rwx------");
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(data.resolve("journal"))))
                    .isEqualTo("rwx------");
            assertThat(String.join("\n", child.log())).doesNotContain("can be read by users other than its owner");
            String token = Files.readString(tokenFile).trim();
            assertThat(token).startsWith("flg_");
            assertThat(String.join("\n", child.log())).contains(tokenFile.toAbsolutePath().toString()).doesNotContain(token);

            ApiClient api = new ApiClient(http);
            assertThat(api.post("/api/v1/environments", token, "{\"key\": \"production\"}").status()).isEqualTo(201);

            // SIGTERM, as an operator or an orchestrator sends it (Process.destroy would also close our
            // end of the child's output, so the handle's destroy is used: the same signal)
            assertThat(child.process().toHandle().destroy()).isTrue();
            assertThat(child.process().waitFor(30, TimeUnit.SECONDS)).isTrue();
            child.awaitLine("flag server stopped");
        }
        // every file it wrote is its owner's only, whatever the umask (a copy taken out of the directory keeps that)
        try (Stream<Path> files = Files.walk(data)) {
            Map<String, String> modes = new TreeMap<>();
            files.filter(f -> !f.equals(data)).forEach(f -> modes.put(data.relativize(f).toString(), mode(f)));
            assertThat(modes).as("what the server wrote").containsKey("journal/" + firstSegmentName(data.resolve("journal")));
            modes.forEach((file, mode) -> assertThat(mode).as(file)
                    .isEqualTo(Files.isDirectory(data.resolve(file)) ? "rwx------" : "rw-------"));
        }
        // the same data directory, the same token, and the change is still there
        int http2 = freePort();
        try (ServerChild again = start(data, http2, freePort(), null)) {
            again.awaitLine("flag server ready");
            String token = Files.readString(data.resolve("admin-token")).trim();
            assertThat(new ApiClient(http2).get("/api/v1/environments/production", token).status()).isEqualTo(200);
            assertThat(String.join("\n", again.log())).doesNotContain("can be read by users other than its owner");
        }
        // a token file others may read (restored from a backup with the wrong mode, say) is said at start
        Files.setPosixFilePermissions(data.resolve("admin-token"), PosixFilePermissions.fromString("rw-r--r--"));
        try (ServerChild loose = start(data, freePort(), freePort(), null)) {
            String warning = loose.awaitLine("can be read by users other than its owner");
            assertThat(warning).contains("WARN").contains("rw-r--r--").contains("chmod 600");
            loose.awaitLine("flag server ready");
        }
    }

    @Test
    void aTlsKeyOthersMayReadIsSaidAtStart() throws Exception {
        TestCertificates certs = TestCertificates.create(Files.createDirectories(dir.resolve("certs")));
        Files.setPosixFilePermissions(certs.key, PosixFilePermissions.fromString("rw-r--r--"));
        Map<String, String> tls = Map.of("FLAGS_TLS_CERT", certs.certificate.toString(), "FLAGS_TLS_KEY", certs.key.toString());
        try (ServerChild child = start(List.of(), tls, dir.resolve("tls"), freePort(), freePort(), ServerFixture.ADMIN)) {
            assertThat(child.awaitLine("TLS key: ")).contains("WARN dev.flags.server.FlagServer - TLS key: ")
                    .contains(certs.key.toAbsolutePath()
                    + " can be read by users other than its owner (rw-r--r--): chmod 600 " + certs.key.toAbsolutePath());
            child.awaitLine("flag server ready");
        }
        Files.setPosixFilePermissions(certs.key, PosixFilePermissions.fromString("rw-------"));
        try (ServerChild child = start(List.of(), tls, dir.resolve("tls"), freePort(), freePort(), ServerFixture.ADMIN)) {
            child.awaitLine("flag server ready");
            assertThat(String.join("\n", child.log())).doesNotContain("TLS key: ");
        }
    }

    @Test
    void aNewJournalInADirectoryThatWasThereIsAWarningForAVolumeNotMounted() throws Exception {
        // As a mount point looks with its volume not mounted: an empty directory, the journal's mark on the volume too.
        Path mountPoint = Files.createDirectories(dir.resolve("volume"));
        try (ServerChild child = start(mountPoint, freePort(), freePort(), ServerFixture.ADMIN)) {
            assertThat(child.awaitLine("no journal in the data directory")).contains("WARN")
                    .contains(mountPoint.toAbsolutePath() + ": started a new, empty one. If this server had flags before, this is"
                            + " not their directory, or its volume is not mounted");
            child.awaitLine("flag server ready");
            child.stop();
        }
        try (ServerChild again = start(mountPoint, freePort(), freePort(), ServerFixture.ADMIN)) {
            again.awaitLine("flag server ready");
            assertThat(String.join("\n", again.log())).as("its own journal, found").doesNotContain("new, empty");
            again.stop();
        }
        Path made = dir.resolve("not-there-yet");
        try (ServerChild fresh = start(made, freePort(), freePort(), ServerFixture.ADMIN)) {
            assertThat(fresh.awaitLine("made the data directory")).contains("INFO")
                    .endsWith("made the data directory " + made.toAbsolutePath() + ", with a new, empty journal");
            fresh.stop();
        }
        // The volume mounted at the data directory's parent, not mounted: an empty directory, the data directory not in it.
        Path parentMount = Files.createDirectories(dir.resolve("parent-volume"));
        try (ServerChild inside = start(parentMount.resolve("data"), freePort(), freePort(), ServerFixture.ADMIN)) {
            assertThat(inside.awaitLine("made the data directory")).contains("WARN").contains("made the data directory "
                    + parentMount.resolve("data").toAbsolutePath() + " in the empty directory " + parentMount.toAbsolutePath()
                    + ", with a new, empty journal. If this server had flags before");
            inside.stop();
        }
    }

    @Test
    void aTokenFileOthersMayChangeAndADataDirectoryOthersMayReadAreSaidAtStartAndLeftAsTheyWere() throws Exception {
        Path data = Files.createDirectories(dir.resolve("open"));
        Files.setPosixFilePermissions(data, PosixFilePermissions.fromString("rwxr-xr-x")); // as a umask of 022 makes it
        Path tokenFile = Files.writeString(data.resolve("admin-token"), TokenService.newSecret() + "\n");
        Files.setPosixFilePermissions(tokenFile, PosixFilePermissions.fromString("rw--w--w-"));
        try (ServerChild child = start(data, freePort(), freePort(), null)) {
            assertThat(child.awaitLine("in the data directory")).contains("WARN").contains("1 file or directory in the data directory "
                    + data.toAbsolutePath() + " can be changed by users other than its owner, such as " + tokenFile.toAbsolutePath()
                    + " (rw--w--w-)").contains("chmod -R go-w " + data.toAbsolutePath());
            assertThat(child.awaitLine("admin token: " + tokenFile.toAbsolutePath() + " can be changed")).contains("WARN")
                    .contains("rw--w--w-").contains("they could put in a token of their own")
                    .contains("chmod 600 " + tokenFile.toAbsolutePath());
            child.awaitLine("flag server ready");
            assertThat(String.join("\n", child.log())).contains("the data directory " + data.toAbsolutePath()
                    + " can be read by users other than its owner (rwxr-xr-x)").contains("chmod 700 " + data.toAbsolutePath());
        }
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(data))).isEqualTo("rwxr-xr-x");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(tokenFile))).isEqualTo("rw--w--w-");
        // Others may enter it but not list it: said as that, not as "read"; and a journal segment they may change
        Files.setPosixFilePermissions(data, PosixFilePermissions.fromString("rwx--x--x"));
        Files.setPosixFilePermissions(tokenFile, PosixFilePermissions.fromString("rw-------"));
        Path segment = data.resolve("journal").resolve(firstSegmentName(data.resolve("journal")));
        Files.setPosixFilePermissions(segment, PosixFilePermissions.fromString("rw-rw-rw-"));
        try (ServerChild child = start(data, freePort(), freePort(), null)) {
            assertThat(child.awaitLine("by users other than its owner (rwx--x--x)")).contains("can be entered by users");
            assertThat(child.awaitLine("in the data directory")).contains("such as " + segment.toAbsolutePath() + " (rw-rw-rw-)")
                    .contains("write a token of their own into the journal");
        }
    }

    @Test
    void aReplacedBootstrapTokenIsSaidAtTheStartThatFindsItOnly() throws Exception {
        Path data = dir.resolve("rotated");
        try (ServerChild child = start(data, freePort(), freePort(), "the-leaked-admin-token-0123456789")) {
            child.awaitLine("flag server ready");
            assertThat(String.join("\n", child.log())).doesNotContain("differs from the one");
        }
        try (ServerChild child = start(data, freePort(), freePort(), "the-new-admin-token-9876543210ab")) {
            assertThat(child.awaitLine("differs from the one this server last ran with")).contains("WARN")
                    .contains("0 pending scheduled changes made with an earlier one will fail").doesNotContain("admin-token-0123");
            child.awaitLine("flag server ready");
        }
        try (ServerChild child = start(data, freePort(), freePort(), "the-new-admin-token-9876543210ab")) {
            child.awaitLine("flag server ready");
            assertThat(String.join("\n", child.log())).as("the same token again: nothing new to say")
                    .doesNotContain("differs from the one");
        }
    }

    @Test
    void theAdminTokenComesFromTheEnvironmentWhenSet() throws Exception {
        Path data = dir.resolve("env-token");
        int http = freePort();
        String token = "operator-chosen-token-0123456789";
        try (ServerChild child = start(data, http, freePort(), token)) {
            child.awaitLine("flag server ready");
            assertThat(data.resolve("admin-token")).doesNotExist();
            assertThat(new ApiClient(http).get("/api/v1/environments", token).status()).isEqualTo(200);
            assertThat(String.join("\n", child.log())).doesNotContain(token).doesNotContain("is not used while FLAGS_ADMIN_TOKEN");
        }
        // a generated token's file left behind is said to be unused, not silently ignored
        Files.writeString(data.resolve("admin-token"), "flg_an-older-generated-token-0123456789\n");
        try (ServerChild child = start(data, freePort(), freePort(), token)) {
            assertThat(child.awaitLine("is not used while FLAGS_ADMIN_TOKEN is set")).contains("WARN").contains("delete the file")
                    .doesNotContain("flg_an-older");
            child.awaitLine("flag server ready");
            assertThat(String.join("\n", child.log())).as("a token of many characters").doesNotContain("easy to guess");
        }
        // sixteen characters is a length, not a strength
        Files.delete(data.resolve("admin-token"));
        try (ServerChild child = start(data, freePort(), freePort(), "abababababababab")) {
            assertThat(child.awaitLine("easy to guess")).contains("WARN").contains("FLAGS_ADMIN_TOKEN is 16 characters long"
                    + " with 2 different").contains("openssl rand -base64 32").doesNotContain("abababab");
            child.awaitLine("flag server ready");
        }
    }

    @Test
    void startWarnsAboutEachTesterTokenMadeBeforeTokensHadAUserAndNeverLogsItsSecret() throws Exception {
        Path data = dir.resolve("legacy");
        String secret = TokenService.newSecret();
        try (FileJournal journal = FileJournal.builder(data.resolve("journal")).open()) {
            journal.append(Change.of(EntryType.ENVIRONMENT_CREATED, "production", "admin",
                    JsonNodeFactory.instance.objectNode().put("name", "production")));
            // As a server before tokens had a user recorded a tester token: no "userId".
            ObjectNode payload = JsonNodeFactory.instance.objectNode().put("id", "tok-legacy").put("hash", sha256(secret))
                    .put("name", "tess").put("scope", "tester");
            payload.putArray("environments").add("production");
            journal.append(Change.of(EntryType.TOKEN_CREATED, null, "admin", payload));
        }
        try (ServerChild child = start(data, freePort(), freePort(), ServerFixture.ADMIN)) {
            String warning = child.awaitLine("tok-legacy");
            child.awaitLine("flag server ready");
            assertThat(warning).contains("WARN").contains("tess").contains("any user id")
                    .contains("DELETE /api/v1/tokens/tok-legacy").contains("\"userId\"");
            assertThat(String.join("\n", child.log())).doesNotContain(secret);
        }
    }

    @Test
    void aTokenNameWithALineBreakFromAnEarlierReleaseForgesNoLogLineAndTheTokenStillWrites() throws Exception {
        Path data = dir.resolve("forged");
        String forgedLine = "2026-12-03T00:00:00.000Z [main] ERROR fake - injected";
        String name = "evil\n" + forgedLine;
        String editor = TokenService.newSecret();
        try (FileJournal journal = FileJournal.builder(data.resolve("journal")).open()) {
            journal.append(Change.of(EntryType.ENVIRONMENT_CREATED, "production", "admin",
                    JsonNodeFactory.instance.objectNode().put("name", "production")));
            // As an earlier release recorded tokens whose names it did not check: an editor, and a tester
            // without a user (which the server warns about at start, with its name)
            for (String[] token : List.of(new String[] {"tok-evil", "editor", editor},
                    new String[] {"tok-eviltester", "tester", TokenService.newSecret()})) {
                ObjectNode payload = JsonNodeFactory.instance.objectNode().put("id", token[0]).put("hash", sha256(token[2]))
                        .put("name", name).put("scope", token[1]);
                payload.putArray("environments").add("production");
                journal.append(Change.of(EntryType.TOKEN_CREATED, null, "admin", payload));
            }
        }
        int http = freePort();
        try (ServerChild child = start(List.of(), Map.of("FLAGS_API_CHANGES_PER_MINUTE", "1"), data, http, freePort(),
                ServerFixture.ADMIN)) {
            assertThat(child.awaitLine("tok-eviltester")).contains("evil\\u000a" + forgedLine);
            child.awaitLine("flag server ready");
            ApiClient api = new ApiClient(http);
            ApiClient.Response write = api.put("/api/v1/environments/production/flags/f1", editor, "{\"enabled\": true}");
            assertThat(write.status()).as(write.body()).isEqualTo(201);
            assertThat(api.put("/api/v1/environments/production/flags/f2", editor, "{\"enabled\": true}").status())
                    .isEqualTo(429);
            assertThat(child.awaitLine("used its budget")).contains("tok-evil (evil\\u000a" + forgedLine + ")");
            assertThat(api.get("/api/v1/environments/production/flags/f1/history", ServerFixture.ADMIN).json()
                    .get("versions").get(0).get("actor").asText()).isEqualTo("evil\\u000a" + forgedLine + " (tok-evil)");
            assertThat(child.stop().lines()).as("no line of the log is the name's").noneMatch(l -> l.startsWith(forgedLine));
        }
    }

    private static String sha256(String secret) throws Exception {
        byte[] digest = MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8));
        return "sha256:" + HexFormat.of().formatHex(digest);
    }

    @Test
    void aSecondServerOnTheSameDataDirectoryRefusesToStart() throws Exception {
        Path data = dir.resolve("locked");
        try (FlagServer first = ServerFixture.start(data)) {
            try (ServerChild second = start(data, freePort(), freePort(), ServerFixture.ADMIN)) {
                assertThat(second.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
                assertThat(second.process().exitValue()).isEqualTo(Main.EXIT_CANNOT_START);
                assertThat(String.join("\n", second.log())).containsIgnoringCase("lock")
                        .contains("flags-server: cannot start: ").doesNotContain("\tat ");
            }
            assertThat(first.isReady()).isTrue();
        }
    }

    @Test
    void aSecondServerRefusedTheJournalLockChangesNothingInTheDataDirectory() throws Exception {
        Path data = dir.resolve("locked-token");
        try (FlagServer first = ServerFixture.start(data)) { // its admin token is configured: no admin-token file
            Map<String, String> before = contents(data);
            assertThat(before).doesNotContainKey(AdminToken.FILE_NAME);
            // no token configured: a second server that got past the lock would generate the file
            try (ServerChild second = start(data, freePort(), freePort(), null)) {
                assertThat(second.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
                second.reader().join(10_000);
                assertThat(second.process().exitValue()).isEqualTo(Main.EXIT_CANNOT_START);
                assertThat(String.join("\n", second.log())).contains("locked by another process (pid " + ProcessHandle.current().pid()
                        + ", flags-server, since ");
            }
            assertThat(contents(data)).isEqualTo(before);
            assertThat(first.isReady()).isTrue();
        }
    }

    /**
     * Every file and directory under a directory, each with a digest of its content; the lock file only by its
     * size and time, because closing any descriptor of it in this process would drop the running server's lock.
     */
    private static Map<String, String> contents(Path root) throws Exception {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : (Iterable<Path>) paths::iterator) {
                String what;
                if (Files.isDirectory(p)) {
                    what = "directory";
                } else if (p.getFileName().toString().equals("journal.lock")) {
                    what = Files.size(p) + " bytes, modified " + Files.getLastModifiedTime(p);
                } else {
                    what = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
                }
                out.put(root.relativize(p).toString(), what);
            }
        }
        return out;
    }

    @Test
    void aJournalStoppedByAnIoFailureFailsHealthAndReadinessAndSaysWhy() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/bin/sh")), "needs /bin/sh for ulimit");
        // A real write failure, as on a full disk: with a file size limit (RLIMIT_FSIZE) a write past it fails
        // with EFBIG, "File too large" (the JVM ignores the SIGXFSZ that comes with it). 512 blocks are 256 KiB
        // (512 KiB in bash's own units): the server starts, and about 200 flags later the journal is full.
        List<String> fileSizeLimit = List.of("/bin/sh", "-c", "ulimit -f 512 && exec \"$@\"", "sh");
        Path data = dir.resolve("full");
        int http = freePort();
        try (ServerChild child = start(fileSizeLimit, Map.of("FLAGS_API_CHANGES_PER_MINUTE", "0"), data, http, freePort(),
                ServerFixture.ADMIN)) {
            child.awaitLine("flag server ready");
            ApiClient api = new ApiClient(http);
            assertThat(api.get("/readyz", null).status()).isEqualTo(200);
            assertThat(api.get("/healthz", null).status()).isEqualTo(200);
            assertThat(api.get("/metrics", null).body()).contains("\nflags_journal_failed 0\n")
                    .contains("\nflags_journal_checkpoint_failures_total 0\n");

            assertThat(api.post("/api/v1/environments", ServerFixture.ADMIN, "{\"key\": \"production\"}").status())
                    .isEqualTo(201);
            String description = "x".repeat(2000); // the longest a flag may have, so the limit comes soon
            int status = 201;
            for (int i = 1; status == 201; i++) {
                assertThat(i).as("flags written before the journal filled up").isLessThan(5000);
                status = api.put("/api/v1/environments/production/flags/f" + i, ServerFixture.ADMIN,
                        "{\"key\": \"f" + i + "\", \"description\": \"" + description + "\"}").status();
            }
            assertThat(status).isEqualTo(500);

            for (String endpoint : List.of("/readyz", "/healthz")) {
                ApiClient.Response r = api.get(endpoint, null);
                assertThat(r.status()).as(endpoint).isEqualTo(503);
                assertThat(r.json().get("detail").asText()).as(endpoint + ": open to anyone, so no path, no exception")
                        .matches("journal stopped after an i/o failure; nothing after sequence \\d+ is acknowledged; restart"
                                + " the server \\(its log says what failed\\)");
            }
            assertThat(api.get("/metrics", null).body())
                    .contains("# HELP flags_journal_failed ")
                    .contains("# TYPE flags_journal_failed gauge\n")
                    .contains("\nflags_journal_failed 1\n");

            // Every later write is refused the same way; the log has the stop once, with its trace, and then one
            // line per refused request (each was an ERROR with a 60-line trace).
            List<ApiClient.Response> refused = List.of(
                    api.put("/api/v1/environments/production/flags/after", ServerFixture.ADMIN, "{\"enabled\": true}"),
                    api.call("PATCH", "/api/v1/environments/production/flags/f1", ServerFixture.ADMIN,
                            "{\"enabled\": true}", Map.of()),
                    api.post("/api/v1/tokens", ServerFixture.ADMIN, "{\"name\": \"ci\", \"scope\": \"admin\"}"),
                    api.delete("/api/v1/environments/production", ServerFixture.ADMIN));
            for (ApiClient.Response r : refused) {
                assertThat(r.status()).as(r.body()).isEqualTo(500);
                assertThat(r.header("Content-Type")).startsWith("application/problem+json");
                assertThat(r.json().get("detail").asText())
                        .startsWith("journal stopped after an i/o failure: File too large")
                        .endsWith("nothing is written until the server is restarted");
            }
            List<String> log = List.of(child.stop().split("\n"));
            assertThat(log.stream().filter(l -> l.contains(" ERROR ")).toList()).as(String.join("\n", log))
                    .singleElement().asString().contains("journal: journal stopped after an i/o failure");
            assertThat(log.stream().filter(l -> l.startsWith("Caused by") || l.startsWith("\tat ")).count())
                    .as("one trace, the stop's").isLessThan(40);
            assertThat(log.stream().filter(l -> l.contains("WARN") && l.contains("failed: journal stopped")).toList())
                    .as("the first refused write (the one that filled the disk) said, the next ones of the minute counted:"
                            + " a full disk's every write attempt is no line each").singleElement().asString()
                    .contains("more such within a minute are counted, not logged one by one");
        }
    }

    @Test
    void aPortInUseOrADataDirectoryThatCannotBeMadeIsOneLineNotAStackTrace() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            int port = taken.getLocalPort();
            try (ServerChild child = start(dir.resolve("busy"), port, freePort(), ServerFixture.ADMIN)) {
                assertThat(child.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
                child.reader().join(10_000);
                assertThat(child.process().exitValue()).isEqualTo(Main.EXIT_CANNOT_START);
                assertThat(String.join("\n", child.log()) + "\n")
                        .contains("flags-server: cannot start: cannot listen on 127.0.0.1:" + port + " for HTTP: the port is in use"
                                + " by another process (another flag server?): stop that one, or give another --http-port\n")
                        .doesNotContain("\tat ").doesNotContain("Address already in use");
            }
            try (ServerChild child = start(dir.resolve("busy-grpc"), freePort(), port, ServerFixture.ADMIN)) {
                assertThat(child.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
                child.reader().join(10_000);
                assertThat(child.process().exitValue()).isEqualTo(Main.EXIT_CANNOT_START);
                assertThat(String.join("\n", child.log()) + "\n").contains("for gRPC: the port is in use by another process"
                        + " (another flag server?): stop that one, or give another --grpc-port\n").doesNotContain("\tat ")
                        .doesNotContain("bind(..) failed");
            }
        }
        // 192.0.2.1 is TEST-NET-1 (RFC 5737): no machine's address
        Run elsewhere = runMain(Map.of(), "--bind", "192.0.2.1", "--http-port", "0", "--grpc-port", "0",
                "--data-dir", dir.resolve("elsewhere").toString());
        assertThat(elsewhere.exitCode()).isEqualTo(Main.EXIT_CANNOT_START);
        assertThat(elsewhere.output()).contains("flags-server: cannot start: cannot listen on 192.0.2.1:0 for ")
                .contains(": 192.0.2.1 is not an address of this machine: give one of its addresses in --bind, or 0.0.0.0 for"
                        + " all of them\n").doesNotContain("\tat ").doesNotContain("Cannot assign requested address");
        Path inTheWay = Files.writeString(dir.resolve("a-file"), "not a directory");
        try (ServerChild child = start(inTheWay.resolve("data"), freePort(), freePort(), ServerFixture.ADMIN)) {
            assertThat(child.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
            child.reader().join(10_000);
            assertThat(child.process().exitValue()).isEqualTo(Main.EXIT_CANNOT_START);
            assertThat(String.join("\n", child.log())).contains("flags-server: cannot start: cannot create the directory: " + inTheWay)
                    .doesNotContain("\tat ");
        }
    }

    @Test
    void badSettingsAreRejectedWithAClearMessage() throws Exception {
        Run port = runMain(Map.of(), "--http-port", "not-a-port", "--data-dir", dir.resolve("x").toString());
        assertThat(port.exitCode()).isEqualTo(2);
        assertThat(port.output()).contains("--http-port").contains("not-a-port").doesNotContain("FLAGS_HTTP_PORT");
        assertOneLineAndTheHelp(port);

        Run retention = runMain(Map.of(), "--journal-retention", "PT1H", "--data-dir", dir.resolve("y").toString());
        assertThat(retention.exitCode()).isEqualTo(2);
        assertThat(retention.output()).contains("'PT1H' is shorter than a day: journal retention must be at least one day")
                .doesNotContain("\tat ");
        assertOneLineAndTheHelp(retention);
        Run negative = runMain(Map.of("FLAGS_JOURNAL_RETENTION", "-P1D"), "--data-dir", dir.resolve("y").toString());
        assertThat(negative.exitCode()).isEqualTo(2);
        assertThat(negative.output()).contains("FLAGS_JOURNAL_RETENTION").contains("'-P1D' is negative: journal retention"
                + " must be at least one day").doesNotContain("PT-24H");
        assertOneLineAndTheHelp(negative);

        Run heartbeat = runMain(Map.of(), "--heartbeat", "5s", "--data-dir", dir.resolve("h").toString());
        assertThat(heartbeat.exitCode()).isEqualTo(2);
        assertThat(heartbeat.output()).contains("Invalid value for option '--heartbeat': '5s' is not an ISO-8601 duration such"
                + " as PT5S, PT15S or PT1M (5 seconds are PT5S, a minute PT1M: not 5s or 1m)").doesNotContain("java.");
        assertOneLineAndTheHelp(heartbeat);

        Run cap = runMain(Map.of("FLAGS_GRPC_MAX_CONNECTIONS", "-5"), "--data-dir", dir.resolve("c").toString());
        assertThat(cap.exitCode()).isEqualTo(2);
        assertThat(cap.output()).contains("FLAGS_GRPC_MAX_CONNECTIONS").contains("max gRPC connections must be between 0 (the"
                + " default, from the open-file limit) and 10000000, was -5");
        assertOneLineAndTheHelp(cap);

        Run tls = runMain(Map.of(), "--tls-cert", dir.resolve("missing.pem").toString(), "--tls-key",
                dir.resolve("missing.key").toString(), "--data-dir", dir.resolve("z").toString());
        assertThat(tls.exitCode()).isEqualTo(2);
        assertThat(tls.output()).contains("TLS certificate file " + dir.resolve("missing.pem") + " does not exist")
                .doesNotContain("\tat ");
        assertOneLineAndTheHelp(tls);

        // What a file holds is no usage mistake: one line, and no pointer to the help.
        TestCertificates one = TestCertificates.create(Files.createDirectories(dir.resolve("one")));
        TestCertificates other = TestCertificates.create(Files.createDirectories(dir.resolve("other")));
        Run wrongKey = runMain(Map.of(), "--tls-cert", one.certificate.toString(), "--tls-key", other.key.toString(),
                "--data-dir", dir.resolve("w").toString());
        assertThat(wrongKey.exitCode()).isEqualTo(2);
        assertThat(wrongKey.output()).isEqualTo("flags-server: the TLS key " + other.key + " does not belong to the certificate "
                + one.certificate + " (its public key differs)\n");
    }

    @Test
    void aBadSettingFromAnEnvironmentVariableNamesTheVariable() throws Exception {
        Run port = runMain(Map.of("FLAGS_HTTP_PORT", "abc"), "--data-dir", dir.resolve("x").toString());
        assertThat(port.exitCode()).isEqualTo(2);
        assertThat(port.output()).contains("--http-port").contains("'abc'")
                .contains("from the environment variable FLAGS_HTTP_PORT");
        assertOneLineAndTheHelp(port);

        Run level = runMain(Map.of("FLAGS_LOG_LEVEL", "loud"), "--data-dir", dir.resolve("y").toString());
        assertThat(level.exitCode()).isEqualTo(2);
        assertThat(level.output()).contains("--log-level must be").contains("was loud")
                .contains("from the environment variable FLAGS_LOG_LEVEL");
        assertOneLineAndTheHelp(level);

        // a value out of range, or refused by the checks of all settings, names its variable too
        Map<String, String> outOfRange = Map.of(
                "FLAGS_HTTP_PORT", "-3", "FLAGS_GRPC_PORT", "70000", "FLAGS_BIND", "nope.invalid", "FLAGS_HEARTBEAT", "PT2H",
                "FLAGS_JOURNAL_RETENTION", "PT2H", "FLAGS_API_CHANGES_PER_MINUTE", "-1", "FLAGS_API_READS_PER_MINUTE", "2000000",
                "FLAGS_MAX_SYNC_STREAMS_PER_TOKEN", "0", "FLAGS_MAX_SYNC_STREAMS_PER_CONNECTION", "0",
                "FLAGS_TLS_CERT", Files.writeString(dir.resolve("cert.pem"), "x").toString());
        for (Map.Entry<String, String> variable : outOfRange.entrySet()) {
            Run run = runMain(Map.of(variable.getKey(), variable.getValue()), "--data-dir", dir.resolve("r").toString());
            assertThat(run.exitCode()).as(run.output()).isEqualTo(2);
            assertThat(run.output().lines().findFirst().orElseThrow()).as(variable.getKey())
                    .endsWith(" (from the environment variable " + variable.getKey() + ")");
            assertOneLineAndTheHelp(run);
        }
        Run tls = runMain(Map.of("FLAGS_TLS_KEY", dir.resolve("cert.pem").toString()), "--data-dir", dir.resolve("r").toString());
        assertThat(tls.output()).contains("TLS needs both a certificate and a key, or neither; only the key is set"
                + " (from the environment variable FLAGS_TLS_KEY)");
        Run typed = runMain(Map.of(), "--http-port", "-3", "--data-dir", dir.resolve("r").toString());
        assertThat(typed.output()).contains("http port must be between 0 and 65535, was -3").doesNotContain("FLAGS_HTTP_PORT");

        // the command line wins over the environment, and then the variable is not what was wrong
        Run both = runMain(Map.of("FLAGS_HTTP_PORT", "8080"), "--http-port=abc", "--data-dir", dir.resolve("z").toString());
        assertThat(both.exitCode()).isEqualTo(2);
        assertThat(both.output()).contains("'abc'").doesNotContain("FLAGS_HTTP_PORT");
        assertOneLineAndTheHelp(both);
    }

    @Test
    void aUsageSettingOutOfRangeIsABadSettingNamedWithItsVariable() throws Exception {
        Path data = dir.resolve("usage");
        Run interval = runMain(Map.of("FLAGS_USAGE_REPORT_INTERVAL", "PT1S"), "--data-dir", data.toString());
        assertThat(interval.exitCode()).as(interval.output()).isEqualTo(2);
        assertThat(interval.output()).startsWith("flags-server: usage report interval must be between PT5S and PT1H, was PT1S"
                + " (from the environment variable FLAGS_USAGE_REPORT_INTERVAL)");
        assertOneLineAndTheHelp(interval);
        Run rate = runMain(Map.of(), "--usage-reports-per-second", "0", "--data-dir", data.toString());
        assertThat(rate.exitCode()).as(rate.output()).isEqualTo(2);
        assertThat(rate.output()).as("typed, it is named").startsWith("flags-server: usage reports per second must be between 1 and"
                + " 1000000, was 0 (--usage-reports-per-second)\n");
        assertOneLineAndTheHelp(rate);
        assertThat(data).as("nothing touched").doesNotExist();
    }

    @Test
    void aHeartbeatTooShortOrTooLongIsABadSettingBeforeAnythingIsTouched() throws Exception {
        // Both crashed with a stack trace once the journal was opened and an admin token generated.
        for (String heartbeat : List.of("PT0.000000001S", "PT0.05S", "PT99999999999H", "PT1H0.001S")) {
            Path data = dir.resolve("hb");
            Run run = runMain(Map.of(), "--heartbeat", heartbeat, "--data-dir", data.toString(), "--http-port", "0",
                    "--grpc-port", "0");
            assertThat(run.exitCode()).as(run.output()).isEqualTo(2);
            assertThat(run.output()).startsWith("flags-server: heartbeat interval must be between PT0.1S and PT1H, was ")
                    .doesNotContain("\tat ");
            assertOneLineAndTheHelp(run);
            assertThat(data).doesNotExist();
        }
        Run fromEnv = runMain(Map.of("FLAGS_HEARTBEAT", "PT2H"), "--data-dir", dir.resolve("hb").toString());
        assertThat(fromEnv.exitCode()).isEqualTo(2);
        assertThat(fromEnv.output()).contains("heartbeat interval must be between PT0.1S and PT1H, was PT2H");
        assertOneLineAndTheHelp(fromEnv);
    }

    @Test
    void anAdminTokenFromTheEnvironmentThatCouldNeverBePresentedIsABadSetting() throws Exception {
        // Each was accepted ("taken from FLAGS_ADMIN_TOKEN") and then got 401 on every request, or (blank)
        // was ignored for a generated token.
        Map<String, String> tokens = Map.of(
                "ünïcödé-admin-token-0123456789", "character 1 of 30 is not ASCII",
                "first-half-0123456789\nsecond-half-0123456789", "is a line break",
                "with a space-0123456789", "is a space",
                " ".repeat(16), "must be 16 to 256 characters, was 0",
                "", "must be 16 to 256 characters, was 0",
                "short", "must be 16 to 256 characters, was 5",
                "x".repeat(257), "must be 16 to 256 characters, was 257");
        for (Map.Entry<String, String> token : tokens.entrySet()) {
            Path data = dir.resolve("admin");
            Run run = runMain(Map.of("FLAGS_ADMIN_TOKEN", token.getKey()), "--data-dir", data.toString(), "--http-port", "0",
                    "--grpc-port", "0");
            assertThat(run.exitCode()).as(run.output()).isEqualTo(2);
            assertThat(run.output()).startsWith("flags-server: FLAGS_ADMIN_TOKEN ").contains(token.getValue())
                    .contains("unset it to have a token generated into " + data.resolve("admin-token"));
            if (token.getKey().strip().length() >= 16) {
                assertThat(run.output()).as("never the token").doesNotContain(token.getKey().strip());
            }
            assertOneLineAndTheHelp(run);
            assertThat(data).doesNotExist();
        }
        // surrounding white space, such as the line break a file ends with, is dropped
        int http = freePort();
        try (ServerChild child = start(dir.resolve("trimmed"), http, freePort(), "  operator-chosen-token-0123456789\n")) {
            child.awaitLine("flag server ready");
            assertThat(new ApiClient(http).get("/api/v1/environments", "operator-chosen-token-0123456789").status()).isEqualTo(200);
        }
    }

    @Test
    void theBootstrapAdminTokenSettingIsOnOrOffAndOffNeedsAnAdminTokenOfTheJournals() throws Exception {
        Path data = dir.resolve("bootstrap");
        Run maybe = runMain(Map.of("FLAGS_BOOTSTRAP_ADMIN_TOKEN", "maybe"), "--data-dir", data.toString());
        assertThat(maybe.exitCode()).as(maybe.output()).isEqualTo(2);
        assertThat(maybe.output()).startsWith("flags-server: --bootstrap-admin-token must be on or off, was \"maybe\" (from the"
                + " environment variable FLAGS_BOOTSTRAP_ADMIN_TOKEN)\n");
        assertOneLineAndTheHelp(maybe);
        Run both = runMain(Map.of("FLAGS_ADMIN_TOKEN", "operator-chosen-token-0123456789"), "--bootstrap-admin-token", " OFF ",
                "--data-dir", data.toString());
        assertThat(both.exitCode()).as(both.output()).isEqualTo(2);
        assertThat(both.output()).startsWith("flags-server: FLAGS_ADMIN_TOKEN is set while the bootstrap admin token is off:"
                + " unset FLAGS_ADMIN_TOKEN, or turn the bootstrap admin token on (--bootstrap-admin-token)\n")
                .doesNotContain("operator-chosen");
        assertOneLineAndTheHelp(both);
        assertThat(data).as("nothing touched").doesNotExist();

        Run none = runMain(Map.of(), "--bootstrap-admin-token", "off", "--data-dir", data.toString(), "--http-port", "0",
                "--grpc-port", "0");
        assertThat(none.exitCode()).as(none.output()).isEqualTo(1);
        assertThat(none.output()).contains("flags-server: cannot start: the bootstrap admin token is off and the journal holds"
                + " no live admin token: nobody could manage this server.").doesNotContain("\tat ");
        assertThat(data.resolve("admin-token")).doesNotExist();
    }

    @Test
    void withTheBootstrapTokenOffTheLogWarnsOnceEveryAdminTokenExpiresAndSaysWhenTheLastOneDid() throws Exception {
        Path data = dir.resolve("expiring-admins");
        String ops;
        try (FlagServer server = FlagServer.start(ServerFixture.config(data))) {
            ops = new ApiClient(server.httpPort()).post("/api/v1/tokens", ServerFixture.ADMIN, "{\"name\": \"ops\", \"scope\":"
                    + " \"admin\"}").json().get("token").asText();
        }
        int http = freePort();
        try (ServerChild child = start(List.of(), Map.of("FLAGS_BOOTSTRAP_ADMIN_TOKEN", "off"), data, http, freePort(), null)) {
            child.awaitLine("flag server ready");
            ApiClient api = new ApiClient(http);
            assertThat(adminAccessExpiresIn(api)).as("ops never expires").isEqualTo(-1);
            // While an admin token that never expires remains, another one's expiry is nothing to act on.
            assertThat(api.post("/api/v1/tokens", ops, "{\"name\": \"early\", \"scope\": \"admin\", \"expiresIn\":"
                    + " \"PT1S\"}").status()).isEqualTo(201);
            assertThat(child.awaitLine("(early) expired")).contains(" INFO ")
                    .contains("1 admin token may still act, one of them without an expiry");
            ApiClient.Response yearly = api.post("/api/v1/tokens", ops, "{\"name\": \"yearly\", \"scope\": \"admin\","
                    + " \"expiresIn\": \"P400D\"}");
            assertThat(yearly.status()).as(yearly.body()).isEqualTo(201);
            String opsId = StreamSupport.stream(api.get("/api/v1/tokens", ops).json().get("tokens").spliterator(), false)
                    .filter(t -> t.get("name").asText().equals("ops")).map(t -> t.get("id").asText()).findFirst().orElseThrow();
            assertThat(api.delete("/api/v1/tokens/" + opsId, ops).status()).isEqualTo(200);
            // Revoking the admin token that never expired leaves one that does, in 400 days: said, not warned.
            assertThat(child.awaitLine("every admin token that may act expires, the last at")).contains(" INFO ");
            assertThat(adminAccessExpiresIn(api)).isBetween(399L * 86_400, 400L * 86_400);

            // Then one that ends in seconds is all that is left: warned at once, and in the metrics.
            String year = yearly.json().get("token").asText();
            ApiClient.Response brief = api.post("/api/v1/tokens", year, "{\"name\": \"brief\", \"scope\": \"admin\","
                    + " \"expiresIn\": \"PT5S\"}");
            assertThat(brief.status()).as(brief.body()).isEqualTo(201);
            assertThat(api.delete("/api/v1/tokens/" + yearly.json().get("id").asText(), year).status()).isEqualTo(200);
            assertThat(child.awaitLine("every admin token that may act expires, the last at")).contains(" WARN ")
                    .contains("restart once with --bootstrap-admin-token on, make an admin token without an expiry");
            assertThat(adminAccessExpiresIn(api)).isBetween(0L, 5L);
            assertThat(child.awaitLine("(brief) expired, the last admin token that could act")).contains(" ERROR ")
                    .contains("Restart it with --bootstrap-admin-token on and make an admin token");
            assertThat(adminAccessExpiresIn(api)).isZero();
            assertThat(String.join("\n", child.log())).doesNotContain(ops).doesNotContain(brief.json().get("token").asText())
                    .doesNotContain(year);
        }
    }

    @Test
    void withTheBootstrapTokenOffTheEndOfAdminAccessIsWarnedWhenItComesWithin30DaysWithoutARestart() throws Exception {
        Path data = dir.resolve("monthly-admin");
        try (FlagServer server = FlagServer.start(ServerFixture.config(data))) {
            assertThat(new ApiClient(server.httpPort()).post("/api/v1/tokens", ServerFixture.ADMIN, "{\"name\": \"monthly\","
                    + " \"scope\": \"admin\", \"expiresIn\": \"P30DT8S\"}").status()).isEqualTo(201);
        }
        // 8 s: room for a child JVM to start on a busy machine. The warning may come before or after the ready line.
        try (ServerChild child = start(List.of(), Map.of("FLAGS_BOOTSTRAP_ADMIN_TOKEN", "off"), data, freePort(), freePort(), null)) {
            assertThat(child.awaitLine("every admin token that may act expires, the last at")).as("30 days and 8 s off")
                    .contains(" INFO ");
            assertThat(child.awaitLine("every admin token that may act expires, the last at")).as("8 s later, 30 days off")
                    .contains(" WARN ").contains("restart once with --bootstrap-admin-token on, make an admin token without an expiry");
        }
    }

    private static long adminAccessExpiresIn(ApiClient api) {
        return api.get("/metrics", null).body().lines().filter(l -> l.startsWith("flags_admin_access_expires_in_seconds "))
                .mapToLong(l -> Long.parseLong(l.substring(l.indexOf(' ') + 1))).findFirst().orElseThrow();
    }

    @Test
    void aFileWhereADirectoryShouldBeOrADirectoryWhereTheTokenFileShouldBeIsOneLineNamingIt() throws Exception {
        Path file = Files.writeString(dir.resolve("afile"), "not a directory");
        Run data = runMain(Map.of(), "--data-dir", file.toString(), "--http-port", "0", "--grpc-port", "0");
        assertThat(data.exitCode()).isEqualTo(Main.EXIT_CANNOT_START);
        assertThat(data.output()).isEqualTo("flags-server: cannot start: the data directory " + file + " is a file, not a"
                + " directory: give a directory (it is made if missing)\n");

        Path dd = Files.createDirectories(dir.resolve("dd1"));
        Files.writeString(dd.resolve("journal"), "not a directory");
        Run journal = runMain(Map.of(), "--data-dir", dd.toString(), "--http-port", "0", "--grpc-port", "0");
        assertThat(journal.exitCode()).isEqualTo(Main.EXIT_CANNOT_START);
        assertThat(journal.output()).isEqualTo("flags-server: cannot start: " + dd.resolve("journal") + " is a file, not a"
                + " directory: the journal is kept in a directory of that name; move the file away\n");

        Path tokenDir = Files.createDirectories(dir.resolve("dd2").resolve("admin-token"));
        Run token = runMain(Map.of(), "--data-dir", dir.resolve("dd2").toString(), "--http-port", "0", "--grpc-port", "0");
        assertThat(token.exitCode()).isEqualTo(Main.EXIT_CANNOT_START);
        assertThat(token.output()).contains("flags-server: cannot start: " + tokenDir + " is a directory, not the admin"
                + " token file: remove it, and the server generates a token into a file of that name\n").doesNotContain("\tat ");
    }

    @Test
    void aDataDirectoryThatIsTheJournalDirectoryIsRefusedAndLeftAsItWas() throws Exception {
        Path data = dir.resolve("dd");
        try (FileJournal journal = FileJournal.builder(data.resolve("journal")).open()) {
            journal.append(Change.of(EntryType.ENVIRONMENT_CREATED, "production", "admin",
                    JsonNodeFactory.instance.objectNode()));
        }
        Path journalDir = data.resolve("journal");
        Map<String, String> before = contents(journalDir);
        try (ServerChild child = start(journalDir, freePort(), freePort(), null)) {
            assertThat(child.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
            child.reader().join(10_000);
            assertThat(child.process().exitValue()).isEqualTo(Main.EXIT_CANNOT_START);
            assertThat(child.log()).as("one line").hasSize(1).first().asString()
                    .isEqualTo("flags-server: cannot start: " + journalDir + " holds journal segments itself: give its parent,"
                            + " the data directory (" + data.toAbsolutePath() + ")");
        }
        assertThat(contents(journalDir)).as("no journal/ or admin-token made in it").isEqualTo(before);
    }

    @Test
    void aStartAfterAKillSaysTheLastRunDidNotStopAndACleanStopIsNotTakenForOne() throws Exception {
        Path data = dir.resolve("killed");
        int http = freePort();
        ServerChild child = start(data, http, freePort(), ServerFixture.ADMIN);
        long killedPid = child.process().pid();
        try {
            child.awaitLine("flag server ready");
            assertThat(new ApiClient(http).post("/api/v1/environments", ServerFixture.ADMIN, "{\"key\": \"production\"}")
                    .status()).isEqualTo(201);
        } finally {
            assertThat(child.process().destroyForcibly().waitFor(30, TimeUnit.SECONDS)).as("kill -9").isTrue();
        }
        try (ServerChild again = start(data, http, freePort(), ServerFixture.ADMIN)) {
            assertThat(again.awaitLine("did not close it")).contains("WARN").contains("journal: its last holder (pid " + killedPid
                    + ", flags-server, since ").endsWith(") did not close it: it was killed, crashed, or its machine stopped;"
                    + " every write it acknowledged is recovered above");
            again.awaitLine("flag server ready");
            assertThat(new ApiClient(http).get("/api/v1/environments/production", ServerFixture.ADMIN).status()).isEqualTo(200);
            again.stop();
        }
        try (ServerChild third = start(data, http, freePort(), ServerFixture.ADMIN)) {
            third.awaitLine("flag server ready");
            assertThat(String.join("\n", third.log())).as("the last run stopped").doesNotContain("did not close it");
            third.stop();
        }
    }

    @Test
    void theHttpPortAtItsCapSaysSoInTheLog() throws Exception {
        int http = freePort();
        try (ServerChild child = start(List.of(), Map.of("FLAGS_HTTP_MAX_CONNECTIONS", "2"), dir.resolve("cap"), http, freePort(),
                ServerFixture.ADMIN)) {
            child.awaitLine("flag server ready");
            try (java.net.Socket one = new java.net.Socket("127.0.0.1", http);
                 java.net.Socket two = new java.net.Socket("127.0.0.1", http)) {
                for (java.net.Socket held : List.of(one, two)) { // kept alive: open until the server's idle close, 30 s away
                    held.getOutputStream().write("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    held.getOutputStream().flush();
                    held.setSoTimeout(10_000);
                    assertThat(new java.io.BufferedReader(new java.io.InputStreamReader(held.getInputStream(), StandardCharsets.US_ASCII))
                            .readLine()).isEqualTo("HTTP/1.1 200 OK");
                }
                assertThat(child.awaitLine("HTTP port: ")).contains("WARN").contains("HTTP port: 2 connections are open, the most"
                        + " --http-max-connections allows").contains("ss -tn '( sport = :" + http + " )'");
            }
        }
    }

    @Test
    void aJournalDeletedUnderTheRunningServerIsNotPromisedARecoveryAtStop() throws Exception {
        Path data = dir.resolve("deleted");
        int http = freePort();
        try (ServerChild child = start(data, http, freePort(), ServerFixture.ADMIN)) {
            child.awaitLine("flag server ready");
            ApiClient api = new ApiClient(http);
            assertThat(api.post("/api/v1/environments", ServerFixture.ADMIN, "{\"key\": \"production\"}").status()).isEqualTo(201);
            try (Stream<Path> files = Files.walk(data.resolve("journal"))) { // rm -rf journal/ under the running server
                for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(f);
                }
            }
            assertThat(api.post("/api/v1/environments", ServerFixture.ADMIN, "{\"key\": \"staging\"}").status()).isEqualTo(500);
            String log = child.stop();
            assertThat(log).contains("ERROR dev.flags.server.journal.FileJournal - journal closed after its segment ")
                    .contains("was deleted or moved while the server ran: " + data.resolve("journal") + " (last acknowledged"
                            + " sequence 1); nothing here can recover it: restore the journal from a backup")
                    .doesNotContain("the next open recovers what was acknowledged");
        }
    }

    @Test
    void aDataDirectoryWhoseJournalIsGoneIsRefusedRatherThanStartedEmpty() throws Exception {
        Path data = dir.resolve("lost");
        try (FlagServer server = FlagServer.start(ServerFixture.config(data))) {
            assertThat(new ApiClient(server.httpPort()).post("/api/v1/environments", ServerFixture.ADMIN,
                    "{\"key\": \"production\"}").status()).isEqualTo(201);
        }
        Path marker = data.resolve(FlagServer.JOURNAL_CREATED);
        assertThat(Files.readString(marker)).contains("refuses to start without that journal");
        assertThat(mode(marker)).isEqualTo("rw-------");
        Path checkpoint = data.resolve("journal").resolve("checkpoint-00000000000000000009.ckpt");
        Files.writeString(checkpoint, "a checkpoint"); // what the tool would keep; the start does not read it
        try (Stream<Path> segments = Files.list(data.resolve("journal"))) {
            for (Path f : segments.filter(f -> f.toString().endsWith(".seg")).toList()) {
                Files.move(f, data.resolve(f.getFileName() + ".moved"));
            }
        }
        assertThatThrownBy(() -> FlagServer.start(ServerFixture.config(data))).isInstanceOf(IOException.class)
                .hasMessage("the data directory " + data.toAbsolutePath() + " had a journal, but journal/ holds no segment"
                        + " now, only checkpoints of its state: were segments deleted or moved? Restore the journal"
                        + " (docs/journal.md, Backup), or keep the newest checkpoint's state, without the history before it:"
                        + " java -cp flags-server/target/flags-server.jar dev.flags.server.journal.JournalTool repair "
                        + data.resolve("journal").toAbsolutePath() + " --from-checkpoint (verify first says what it holds)");
        Files.delete(checkpoint);
        try (Stream<Path> files = Files.walk(data.resolve("journal"))) { // rm -rf journal/, or a volume not mounted
            for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        }
        Map<String, String> before = contents(data);

        assertThatThrownBy(() -> FlagServer.start(ServerFixture.config(data))).isInstanceOf(IOException.class)
                .hasMessage("the data directory " + data.toAbsolutePath() + " had a journal (journal-created says when it was"
                        + " made), but journal/ holds none now: was it deleted or moved, or is its volume not mounted? Starting"
                        + " would serve every SDK an empty environment. Restore the journal (docs/journal.md, Backup); to start"
                        + " an empty server here on purpose, delete " + marker.toAbsolutePath());
        assertThat(contents(data)).as("no empty journal made in its place").isEqualTo(before);

        Files.delete(marker); // on purpose: an empty server
        try (FlagServer server = FlagServer.start(ServerFixture.config(data))) {
            assertThat(new ApiClient(server.httpPort()).get("/api/v1/environments/production", ServerFixture.ADMIN).status())
                    .isEqualTo(404);
        }
        assertThat(marker).as("marked again").exists();
    }

    @Test
    void aJournalWithATokenOfAScopeTheServerDoesNotKnowStopsTheStartWithOneLine() throws Exception {
        Path data = dir.resolve("scopeless");
        try (FileJournal journal = FileJournal.builder(data.resolve("journal")).open()) {
            journal.append(Change.of(EntryType.TOKEN_CREATED, null, "admin",
                    new com.fasterxml.jackson.databind.ObjectMapper().readTree("{\"id\": \"tok-1-0\", \"hash\": \"sha256:aa\", \"name\": \"ci\"}")));
        }
        Run run = runMain(Map.of(), "--data-dir", data.toString(), "--http-port", "0", "--grpc-port", "0");
        assertThat(run.exitCode()).isEqualTo(Main.EXIT_CANNOT_START);
        assertThat(run.output()).endsWith("flags-server: cannot start: the journal holds token \"tok-1-0\" with scope \"\", which"
                + " this server does not know (a journal of a newer server, or one not written by a flag server); start a server"
                + " that knows it\n").doesNotContain("\tat ");
    }

    @Test
    void aStopAskedForWhileTheServerStartsStopsItCleanlyOnceStarted() throws Exception {
        try (ServerChild child = start(dir.resolve("early-stop"), freePort(), freePort(), ServerFixture.ADMIN)) {
            child.awaitLine("journal opened"); // the ports, the token and the services are still to come
            assertThat(child.process().toHandle().destroy()).isTrue(); // SIGTERM, as an orchestrator sends it
            assertThat(child.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
            child.reader().join(10_000);
            String log = String.join("\n", child.log());
            assertThat(log).as("a clean stop, said, not an exit without a word").contains("flag server stopping")
                    .contains("journal closed").contains("flag server stopped");
        }
    }

    @Test
    void aMisspeltSettingVariableIsSaidAtStartWithTheSettingMeant() throws Exception {
        try (ServerChild child = start(List.of(), Map.of("FLAGS_HTTPPORT", "19999", "FLAGS_LOGLEVEL", "debug",
                "FLAGS_SERVER", "http://127.0.0.1:8080", "FLAGS_TOKEN", "not-a-setting", "FLAGS_JOURNAL_RETENTION", "P30D",
                "FLAGS_SHUTDOWN_GRACE", "PT3S"), dir.resolve("typo"), freePort(), freePort(), ServerFixture.ADMIN)) {
            assertThat(child.awaitLine("flag server ready")).as("the settings an operator checks, taken from the environment")
                    .contains("data in " + dir.resolve("typo").toAbsolutePath() + ";")
                    .endsWith("; journal kept for 30d (PT720H); heartbeat PT15S, shutdown grace PT3S");
            List<String> said = child.log().stream().filter(l -> l.contains("is no setting of the flag server")).toList();
            assertThat(said).as("the CLI's own variables are not settings it could have meant").hasSize(2);
            assertThat(said.get(0)).contains("WARN").contains("FLAGS_HTTPPORT").contains("did you mean FLAGS_HTTP_PORT?");
            assertThat(said.get(1)).contains("FLAGS_LOGLEVEL").contains("did you mean FLAGS_LOG_LEVEL?");
        }
    }

    @Test
    void anEmptyEnvironmentVariableIsABadSettingNotTheCurrentDirectory() throws Exception {
        Run data = runMain(Map.of("FLAGS_DATA_DIR", "", "FLAGS_HTTP_PORT", "0", "FLAGS_GRPC_PORT", "0"));
        assertThat(data.exitCode()).isEqualTo(2);
        assertThat(data.output()).startsWith("flags-server: --data-dir must not be empty: give a value, or leave it out for the"
                + " default (from the environment variable FLAGS_DATA_DIR)");
        assertOneLineAndTheHelp(data);

        Run bind = runMain(Map.of("FLAGS_BIND", " ", "FLAGS_HTTP_PORT", "0", "FLAGS_GRPC_PORT", "0"));
        assertThat(bind.exitCode()).isEqualTo(2);
        assertThat(bind.output()).contains("--bind must not be empty").contains("FLAGS_BIND");
        assertOneLineAndTheHelp(bind);

        Run typed = runMain(Map.of(), "--data-dir=", "--http-port=0", "--grpc-port=0");
        assertThat(typed.exitCode()).isEqualTo(2);
        assertThat(typed.output()).contains("--data-dir must not be empty").doesNotContain("FLAGS_DATA_DIR");
        assertOneLineAndTheHelp(typed);
    }

    /** What a run of the command line printed (stdout and stderr together) and its exit code. */
    private record Run(int exitCode, String output) {
    }

    /**
     * Runs the command line to its end, in a working directory of its own (a setting that went unnoticed
     * would otherwise start a server in the module's directory); one that does not end is stopped.
     */
    private Run runMain(Map<String, String> env, String... args) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"),
                Main.class.getName()));
        command.addAll(List.of(args));
        Path workDir = Files.createTempDirectory(dir, "cwd");
        Path output = dir.resolve(workDir.getFileName() + ".out");
        ProcessBuilder pb = new ProcessBuilder(command).directory(workDir.toFile()).redirectErrorStream(true)
                .redirectOutput(output.toFile());
        pb.environment().keySet().removeIf(name -> name.startsWith("FLAGS_"));
        pb.environment().putAll(env);
        Process p = pb.start();
        boolean ended = p.waitFor(30, TimeUnit.SECONDS);
        if (!ended) {
            p.destroyForcibly().waitFor();
        }
        String out = Files.readString(output, StandardCharsets.UTF_8);
        assertThat(ended).as("the command line ended; it printed:\n" + out).isTrue();
        return new Run(p.exitValue(), out);
    }

    /** The message and a pointer to the help, not the whole usage text (docs/server.md). */
    private static void assertOneLineAndTheHelp(Run run) {
        assertThat(run.output().lines().toList()).as(run.output()).hasSizeLessThanOrEqualTo(2)
                .first().asString().startsWith("flags-server: ");
        assertThat(run.output()).contains("Try 'flags-server --help'.");
    }

    private static String mode(Path file) {
        try {
            return PosixFilePermissions.toString(Files.getPosixFilePermissions(file));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static String firstSegmentName(Path journal) throws IOException {
        try (Stream<Path> files = Files.list(journal)) {
            return files.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(".seg")).sorted().findFirst()
                    .orElseThrow(() -> new AssertionError("no segment in " + journal));
        }
    }
}
