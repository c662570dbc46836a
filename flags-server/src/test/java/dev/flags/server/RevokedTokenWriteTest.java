package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flags.server.auth.Principal;
import dev.flags.server.auth.Scope;
import dev.flags.server.auth.TokenService;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.FileJournal;
import dev.flags.server.journal.JournalEntry;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A write whose request was authenticated before its token was revoked, and that waited for its environment's lock
 * meanwhile, is refused (401) rather than written after the revocation was acknowledged (QA91 O1).
 */
class RevokedTokenWriteTest {

    @TempDir
    Path dir;

    @Test
    void aWriteWaitingForItsEnvironmentsLockIsNotCommittedAfterItsTokenWasRevoked() throws Exception {
        ObjectMapper json = new ObjectMapper();
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            ChangeWriter writer = new ChangeWriter(journal, new Metrics(), env -> { });
            TokenService tokens = new TokenService(journal, writer::append, TokenService.newSecret(), id -> { });
            FlagService flags = new FlagService(journal, writer);
            writer.append(Change.of(EntryType.ENVIRONMENT_CREATED, "prod", "admin", json.createObjectNode()));
            writer.append(Change.of(EntryType.FLAG_CREATED, "prod", "admin", json.readTree("{\"key\": \"f\", \"enabled\": false}")));
            String secret = tokens.create("leaked", Scope.EDITOR, Set.of("prod"), null, "admin").secret();
            Principal leaked = tokens.check(secret).principal().orElseThrow(); // authenticated: the request goes on

            ExecutorService pool = Executors.newSingleThreadExecutor();
            try {
                List<Thread> patcher = new java.util.ArrayList<>();
                Future<?> write;
                try (EnvironmentLockHeld busy = new EnvironmentLockHeld(writer, "prod")) {
                    write = pool.submit(() -> {
                        synchronized (patcher) {
                            patcher.add(Thread.currentThread());
                        }
                        ActingToken.set(leaked); // as the API does for the request's time
                        try {
                            return flags.patch(leaked, "prod", "f", json.readTree("{\"enabled\": true}"), Precondition.none(), null);
                        } finally {
                            ActingToken.clear();
                        }
                    });
                    EnvironmentLockHeld.awaitWaiting(patcher, 1, List.of(write));
                    assertThat(tokens.revoke(leaked.tokenId(), "admin")).as("revoked, and the admin is told so").isTrue();
                }
                java.util.concurrent.ExecutionException refused = org.assertj.core.api.Assertions.catchThrowableOfType(
                        () -> write.get(10, TimeUnit.SECONDS), java.util.concurrent.ExecutionException.class);
                assertThat(refused).as("the write is refused").isNotNull();
                assertThat(refused.getCause()).isInstanceOf(ApiException.class);
                assertThat(((ApiException) refused.getCause()).status()).isEqualTo(401);
                assertThat(refused.getCause().getMessage()).isEqualTo("token " + leaked.tokenId()
                        + " was revoked while its request waited to be written: nothing was changed");
            } finally {
                pool.shutdownNow();
            }
            List<JournalEntry> entries = journal.read(1, 100);
            long revokedAt = entries.stream().filter(e -> e.type() == EntryType.TOKEN_REVOKED).findFirst().orElseThrow().sequence();
            assertThat(entries).filteredOn(e -> e.sequence() > revokedAt && e.actor().contains(leaked.tokenId()))
                    .as("changes by the token committed after its revocation was acknowledged").isEmpty();
        }
    }

    @Test
    void overTheApiAWriteWhoseTokenIsRevokedWhileItWaitsIsAnswered401AndNotWritten() throws Exception {
        try (FlagServer server = ServerFixture.start(dir.resolve("data"))) {
            ApiClient api = new ApiClient(server.httpPort());
            assertThat(api.post("/api/v1/environments", ServerFixture.ADMIN, "{\"key\": \"production\"}").status())
                    .isEqualTo(201);
            assertThat(api.put("/api/v1/environments/production/flags/f", ServerFixture.ADMIN, "{\"enabled\": false}")
                    .status()).isEqualTo(201);
            ApiClient.Response made = api.post("/api/v1/tokens", ServerFixture.ADMIN, "{\"name\": \"leaked\", \"scope\":"
                    + " \"editor\", \"environments\": [\"production\"]}");
            String secret = made.json().get("token").asText();
            ExecutorService pool = Executors.newSingleThreadExecutor();
            try {
                Future<ApiClient.Response> write;
                try (EnvironmentLockHeld busy = new EnvironmentLockHeld(server.writer(), "production")) {
                    write = pool.submit(() -> api.patch("/api/v1/environments/production/flags/f", secret,
                            "{\"enabled\": true}"));
                    busy.awaitARequestWaiting(write); // authenticated, and waiting for the environment's lock
                    assertThat(api.delete("/api/v1/tokens/" + made.json().get("id").asText(), ServerFixture.ADMIN).status())
                            .isEqualTo(200);
                }
                ApiClient.Response refused = write.get(10, TimeUnit.SECONDS);
                assertThat(refused.status()).isEqualTo(401);
                assertThat(refused.json().get("detail").asText()).endsWith(
                        " was revoked while its request waited to be written: nothing was changed");
            } finally {
                pool.shutdownNow();
            }
            assertThat(api.get("/api/v1/environments/production/flags/f", ServerFixture.ADMIN).json().get("enabled")
                    .asBoolean()).as("not switched on").isFalse();
        }
    }
}
