package dev.flags.server.journal;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.flags.server.auth.Scope;
import dev.flags.server.auth.TokenInfo;
import dev.flags.server.auth.TokenService;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A token's expiry is part of its journal entry: it survives a restart from a checkpoint (which carries
 * it), the journal tools verify a journal that holds it, and when and by whom the token was made come
 * back from the entry after a restart.
 */
class TokenExpiryJournalTest {

    @TempDir
    Path dir;

    final MutableClock clock = new MutableClock(Fixtures.T0);

    @Test
    void anExpiryIsInTheEntryAndTheCheckpointAndComesBackAfterARestartFromTheCheckpoint() throws Exception {
        Instant expiresAt = Fixtures.T0.plus(Duration.ofMinutes(1)).plus(Duration.ofDays(90)); // made a minute after T0
        String id;
        String secret;
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            journal.append(Change.of(EntryType.ENVIRONMENT_CREATED, "production", "admin",
                    JsonNodeFactory.instance.objectNode().put("name", "production")));
            TokenService tokens = new TokenService(journal, journal::append, TokenService.newSecret(), t -> { }, clock, null);
            clock.advance(Duration.ofMinutes(1));
            TokenService.CreatedToken created = tokens.create("billing-service", Scope.SDK, Set.of("production"), null,
                    clock.instant().plus(Duration.ofDays(90)), "ops (tok-0a0b0c0d0e0f)", "rotated every quarter");
            id = created.principal().tokenId();
            secret = created.secret();
            JournalEntry entry = journal.read(2, 1).get(0);
            assertThat(entry.type()).isEqualTo(EntryType.TOKEN_CREATED);
            assertThat(entry.payload().toJsonNode().get("expiresAt").asText()).isEqualTo(expiresAt.toString());
            tokens.create("legacy-style", Scope.ADMIN, Set.of(), null, "admin");
        }
        // Closing wrote a checkpoint of the whole state: the token's payload in it has the expiry.
        Checkpoints.Ref newest = Checkpoints.list(dir).get(0);
        assertThat(newest.sequence()).isEqualTo(3);
        ServerState checkpointed = Checkpoints.read(newest.file()).state().freeze();
        assertThat(checkpointed.tokens().get(id).toJsonNode().get("expiresAt").asText()).isEqualTo(expiresAt.toString());

        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        assertThat(JournalTool.run(new PrintWriter(out, true), new PrintWriter(err, true), "verify", dir.toString()))
                .as(out + "" + err).isZero();
        assertThat(out.toString()).contains("checkpoint checkpoint-00000000000000000003.ckpt: ok, sequence 3")
                .endsWith("ok: 1 segment, 3 entries, last sequence 3\n");

        clock.advance(Duration.ofDays(1));
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            assertThat(journal.recoveryReport().checkpointSequence()).as("the state came from the checkpoint").isEqualTo(3);
            assertThat(journal.recoveryReport().replayedEntries()).isZero();
            TokenService tokens = new TokenService(journal, journal::append, TokenService.newSecret(), t -> { }, clock, null);
            TokenInfo info = tokens.token(id).orElseThrow();
            assertThat(info.principal().expiresAt()).isEqualTo(expiresAt);
            assertThat(info.expired()).isFalse();
            assertThat(info.createdAt()).isEqualTo(Fixtures.T0.plus(Duration.ofMinutes(1)));
            assertThat(info.createdBy()).isEqualTo("ops (tok-0a0b0c0d0e0f)");
            assertThat(info.lastUsedAt()).as("in memory only: not since this start").isNull();
            assertThat(tokens.tokens()).extracting(t -> t.principal().expiresAt()).containsOnly(expiresAt, null);

            clock.set(expiresAt);
            assertThat(tokens.check(secret).isExpired()).isTrue();
            assertThat(tokens.token(id).orElseThrow().expired()).isTrue();
        }
    }
}
