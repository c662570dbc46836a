package dev.flags.server.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flags.server.ChangeWriter;
import dev.flags.server.Metrics;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.FileJournal;
import dev.flags.server.journal.JournalEntry;
import dev.flags.server.journal.MutableClock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tester tokens are for one user, that user survives a restart, and tokens recorded without one keep their power. */
class TokenServiceTest {

    @TempDir
    Path dir;

    @Test
    void aTesterTokenChangesTheRolesOfItsOwnUserOnlyAndKeepsItsUserAcrossARestart() {
        String secret;
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            journal.append(environment("production"));
            TokenService tokens = new TokenService(journal, TokenService.newSecret());
            TokenService.CreatedToken created = tokens.create("tess", Scope.TESTER, Set.of("production"), "tess", "admin");
            secret = created.secret();
            assertThat(created.principal().userId()).isEqualTo("tess");
            assertThatThrownBy(() -> tokens.create("x", Scope.TESTER, Set.of("production"), null, "admin"))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("a tester token is for one user");
            assertThatThrownBy(() -> tokens.create("x", Scope.TESTER, Set.of("production"), "u".repeat(1025), "admin"))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1 to 1024 characters");
            assertThatThrownBy(() -> tokens.create("x", Scope.TESTER, Set.of("production"), "tess\n", "admin"))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("without control characters");
            // A bidirectional control would make the id read as another in role lists and the audit log.
            assertThatThrownBy(() -> tokens.create("x", Scope.TESTER, Set.of("production"), "\u202Etset", "admin"))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("nor line separators, bidirectional controls");
            assertThatThrownBy(() -> tokens.create("x", Scope.SDK, Set.of("production"), "tess", "admin"))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("an sdk token takes no \"userId\"");
        }
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            Principal tess = new TokenService(journal, TokenService.newSecret()).authenticate(secret).orElseThrow();
            assertThat(tess.userId()).isEqualTo("tess");
            assertThat(tess.mayChangeRolesOf("tess")).isTrue();
            assertThat(tess.mayChangeRolesOf("customer-42")).isFalse();
        }
    }

    @Test
    void creatingAndRevokingATokenIsOneLogLineEachWithoutTheSecret() throws Exception {
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            journal.append(environment("production"));
            TokenService tokens = new TokenService(journal, TokenService.newSecret());
            AtomicReference<TokenService.CreatedToken> created = new AtomicReference<>();
            String log = dev.flags.server.StandardErrorCapture.during(() -> {
                created.set(tokens.create("billing-service", Scope.SDK, Set.of("production"), null, "alice (tok-a11ce)"));
                tokens.revoke(created.get().principal().tokenId(), "bob (tok-b0b)", "leaked in a build log");
            });
            String id = created.get().principal().tokenId();
            String logger = " INFO dev.flags.server.auth.TokenService - ";
            assertThat(log.lines().filter(l -> l.contains(id)).map(l -> l.substring(l.indexOf(logger) + logger.length())))
                    .containsExactly("token " + id + " \"billing-service\" created by alice (tok-a11ce): sdk of production,"
                            + " never expires", "token " + id + " \"billing-service\" (sdk) revoked by bob (tok-b0b)");
            assertThat(log).doesNotContain(created.get().secret());
        }
    }

    @Test
    void aTokenIsWrittenOnlyOverTheTokenSetItWasCountedInSoCreationsAtOnceCannotPassTheLimitTogether() {
        // Through the journal itself (its conflict) and through the server's write path (its 412).
        for (boolean serversWritePath : new boolean[] {false, true}) {
            try (FileJournal journal = FileJournal.builder(dir.resolve(serversWritePath ? "server" : "journal")).open()) {
                journal.append(environment("production"));
                Function<Change, JournalEntry> append = serversWritePath
                        ? new ChangeWriter(journal, new Metrics(), env -> { })::append : journal::append;
                List<Change> written = new ArrayList<>();
                TokenService tokens = new TokenService(journal, change -> {
                    written.add(change);
                    if (written.size() == 1) { // another creation lands between the count and this write
                        ObjectNode other = JsonNodeFactory.instance.objectNode().put("id", "tok-other")
                                .put("hash", "ab".repeat(32)).put("name", "other").put("scope", "admin");
                        other.putArray("environments");
                        journal.append(Change.of(EntryType.TOKEN_CREATED, null, "admin", other));
                    }
                    return append.apply(change);
                }, TokenService.newSecret(), id -> { });
                tokens.create("ed", Scope.EDITOR, Set.of("production"), null, "admin");
                assertThat(written).as("refused over the changed set, then counted and written again").hasSize(2);
                assertThat(written).allSatisfy(c -> assertThat(c.expectedVersion()).isNotEqualTo(Change.ANY_VERSION));
                assertThat(journal.state().tokens()).hasSize(2);
            }
        }
    }

    @Test
    void creationsAtOnceThroughTheServersWritePathAllSucceed() throws Exception {
        // Provisioning scripts create a token per service in parallel: none may get a 412 it never asked for (QA42b F4).
        try (FileJournal journal = FileJournal.builder(dir.resolve("parallel")).open()) {
            journal.append(environment("production"));
            TokenService tokens = new TokenService(journal, new ChangeWriter(journal, new Metrics(), env -> { })::append,
                    TokenService.newSecret(), id -> { });
            int parallel = 16;
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(parallel);
            try {
                java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
                List<java.util.concurrent.Future<?>> created = new ArrayList<>();
                for (int i = 0; i < parallel; i++) {
                    String name = "service-" + i;
                    created.add(pool.submit(() -> {
                        go.await();
                        return tokens.create(name, Scope.SDK, Set.of("production"), null, "admin");
                    }));
                }
                go.countDown();
                for (java.util.concurrent.Future<?> f : created) {
                    f.get(60, java.util.concurrent.TimeUnit.SECONDS); // throws if the creation failed
                }
            } finally {
                pool.shutdownNow();
            }
            assertThat(journal.state().tokens()).hasSize(parallel);
        }
    }

    @Test
    void aTesterTokenRecordedWithoutAUserMayStillChangeAnyonesRoles() throws Exception {
        String secret = TokenService.newSecret();
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            journal.append(environment("production"));
            // As a server before tokens had a user recorded it.
            ObjectNode payload = JsonNodeFactory.instance.objectNode().put("id", "tok-old").put("hash", hash(secret))
                    .put("name", "tess").put("scope", "tester");
            payload.putArray("environments").add("production");
            journal.append(Change.of(EntryType.TOKEN_CREATED, null, "admin", payload));

            TokenService tokens = new TokenService(journal, TokenService.newSecret());
            Principal old = tokens.authenticate(secret).orElseThrow();
            assertThat(old.scope()).isEqualTo(Scope.TESTER);
            assertThat(old.userId()).isNull();
            assertThat(old.mayChangeRolesOf("customer-42")).isTrue();

            tokens.create("tess", Scope.TESTER, Set.of("production"), "tess", "admin");
            tokens.create("ed", Scope.EDITOR, Set.of("production"), null, "admin");
            assertThat(tokens.unboundTesterTokens()).as("the ones the server warns about at start")
                    .extracting(Principal::tokenId).containsExactly("tok-old");
        }
    }

    @Test
    void aTokensLastUseIsKeptToTheSecondAndWrittenAtMostOnceASecond() {
        MutableClock clock = new MutableClock(Instant.parse("2026-12-01T09:00:00.250Z"));
        try (FileJournal journal = FileJournal.builder(dir).clock(clock).open()) {
            journal.append(environment("production"));
            TokenService tokens = new TokenService(journal, journal::append, TokenService.newSecret(), id -> { }, clock, null);
            TokenService.CreatedToken made = tokens.create("ed", Scope.EDITOR, Set.of("production"), null, "admin");
            String id = made.principal().tokenId();
            assertThat(tokens.token(id).orElseThrow().lastUsedAt()).isNull();

            assertThat(tokens.check(made.secret()).principal()).isPresent();
            assertThat(tokens.token(id).orElseThrow().lastUsedAt()).isEqualTo(Instant.parse("2026-12-01T09:00:00Z"));
            clock.advance(Duration.ofMillis(700)); // 09:00:00.950: the same second, nothing to write
            tokens.check(made.secret());
            assertThat(tokens.token(id).orElseThrow().lastUsedAt()).isEqualTo(Instant.parse("2026-12-01T09:00:00Z"));
            clock.advance(Duration.ofMillis(100)); // 09:00:01.050
            tokens.authenticate(made.secret());
            assertThat(tokens.token(id).orElseThrow().lastUsedAt()).isEqualTo(Instant.parse("2026-12-01T09:00:01Z"));

            tokens.check("flg_wrong");
            tokens.revoke(id, "admin");
            assertThat(tokens.token(id)).isEmpty();
        }
    }

    @Test
    void aTokenRecordedWithoutAnExpiryNeverExpiresAndItsCreationIsReadFromTheJournal() throws Exception {
        String secret = TokenService.newSecret();
        MutableClock clock = new MutableClock(Instant.parse("2026-12-01T09:00:00Z"));
        try (FileJournal journal = FileJournal.builder(dir).clock(clock).open()) {
            // As a server before tokens could expire recorded it, and without this service.
            ObjectNode payload = JsonNodeFactory.instance.objectNode().put("id", "tok-old").put("hash", hash(secret))
                    .put("name", "ci").put("scope", "admin");
            journal.append(Change.of(EntryType.TOKEN_CREATED, null, "admin", payload));
            clock.advance(Duration.ofDays(365 * 50));
            TokenService tokens = new TokenService(journal, journal::append, TokenService.newSecret(), id -> { }, clock, null);
            assertThat(tokens.check(secret).principal()).isPresent();
            TokenInfo old = tokens.token("tok-old").orElseThrow();
            assertThat(old.principal().expiresAt()).isNull();
            assertThat(old.expired()).isFalse();
            assertThat(old.createdAt()).isEqualTo(Instant.parse("2026-12-01T09:00:00Z"));
            assertThat(old.createdBy()).isEqualTo("admin");
        }
    }

    @Test
    void whyATokenNoLongerActsSaysWhetherItWasRevokedOrExpiredAndWhenJudgingExpiryAtTheDueTime() throws Exception {
        MutableClock clock = new MutableClock(Instant.parse("2026-12-01T09:00:00Z"));
        try (FileJournal journal = FileJournal.builder(dir).clock(clock).open()) {
            journal.append(environment("production"));
            TokenService tokens = new TokenService(journal, journal::append, TokenService.newSecret(), id -> { }, clock, null);
            String temp = tokens.create("temp", Scope.EDITOR, Set.of("production"), null,
                    Instant.parse("2026-12-01T10:00:00Z"), "admin", null).principal().tokenId();
            String gone = tokens.create("gone", Scope.EDITOR, Set.of("production"), null, "admin").principal().tokenId();
            Instant madeAt = clock.instant();
            Instant dueBefore = Instant.parse("2026-12-01T09:30:00Z");
            Instant dueAfter = Instant.parse("2026-12-01T10:30:00Z");
            assertThat(tokens.whyNoLongerActing(temp, madeAt, dueAfter)).as("not expired yet").isNull();
            tokens.revoke(gone, "admin");
            clock.advance(Duration.ofHours(2));
            assertThat(tokens.whyNoLongerActing(temp, madeAt, dueAfter)).isEqualTo("expired at 2026-12-01T10:00:00Z");
            assertThat(tokens.whyNoLongerActing(temp, madeAt, dueBefore)).as("expiry is judged at the due time: it was live then")
                    .isNull();
            assertThat(tokens.whyNoLongerActing(gone, madeAt, dueBefore)).as("revocation is judged now, whatever was due")
                    .isEqualTo("was revoked");
        }
    }

    @Test
    void onlyTesterTokensAreLimitedToAUser() {
        assertThat(new Principal("t", "alice", Scope.EDITOR, Set.of("production")).mayChangeRolesOf("anyone")).isTrue();
        assertThat(new Principal("t", "admin", Scope.ADMIN, Set.of()).mayChangeRolesOf("anyone")).isTrue();
    }

    private static Change environment(String key) {
        return Change.of(EntryType.ENVIRONMENT_CREATED, key, "admin", JsonNodeFactory.instance.objectNode().put("name", key));
    }

    private static String hash(String secret) throws Exception {
        byte[] digest = MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8));
        return "sha256:" + HexFormat.of().formatHex(digest);
    }

}
