package dev.flags.server.journal;

import static dev.flags.server.journal.Fixtures.createEnvironment;
import static dev.flags.server.journal.Fixtures.createFlag;
import static dev.flags.server.journal.Fixtures.json;
import static dev.flags.server.journal.Fixtures.role;
import static dev.flags.server.journal.Fixtures.updateFlag;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flags.core.User;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Limits on every input, and changes that do not fit the state, are refused with clear messages. */
class ValidationTest {

    @TempDir
    Path dir;

    final MutableClock clock = new MutableClock(Fixtures.T0);
    FileJournal journal;

    @BeforeEach
    void open() {
        journal = Fixtures.builder(dir, clock).maxActorLength(10).maxCommentLength(20)
                .maxPayloadBytes(1024).open();
        journal.append(createEnvironment("prod"));
        journal.append(createFlag("prod", "billing-v2"));
    }

    @AfterEach
    void close() {
        journal.close();
    }

    @Test
    void actorMustBePresentAndShort() {
        assertRejected(Change.of(EntryType.FLAG_UPDATED, "prod", " ",
                Fixtures.flag("billing-v2", true)), "actor must not be blank");
        assertRejected(Change.of(EntryType.FLAG_UPDATED, "prod", "a-very-long-actor",
                Fixtures.flag("billing-v2", true)), "actor must be at most 10 characters, was 17");
    }

    @Test
    void aChangeByATokenIsAppendedOnlyWhileTheTokenIsInTheTokenSet() {
        journal.append(Change.of(EntryType.TOKEN_CREATED, null, "admin", json("{\"id\":\"tok-1\",\"hash\":\"sha256:aa\"}")));
        JournalEntry byLive = journal.append(updateFlag("prod", "billing-v2", true).byToken("tok-1"));
        assertThat(byLive.version()).isEqualTo(3);
        journal.append(Change.of(EntryType.TOKEN_REVOKED, null, "admin", json("{\"id\":\"tok-1\"}")));
        long before = journal.lastSequence();
        for (String gone : new String[] {"tok-1", "tok-never"}) {
            assertThatThrownBy(() -> journal.append(updateFlag("prod", "billing-v2", false).byToken(gone)))
                    .isInstanceOf(ActingTokenGoneException.class)
                    .hasMessage("token " + gone + " was revoked while its request waited to be written: nothing was changed");
        }
        assertThat(journal.lastSequence()).as("nothing appended").isEqualTo(before);
        assertThat(journal.append(updateFlag("prod", "billing-v2", false)).version()).as("a change of no token").isEqualTo(4);
    }

    @Test
    void commentMustBeShort() {
        assertRejected(updateFlag("prod", "billing-v2", true).withComment("x".repeat(21)),
                "comment must be at most 20 characters, was 21");
    }

    @Test
    void payloadMustBeSmall() {
        var big = Fixtures.flag("billing-v2", true).put("description", "d".repeat(2000));
        assertThatThrownBy(() -> journal.append(Change.of(EntryType.FLAG_UPDATED, "prod", "alice",
                big)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("payload of flag_updated must be at most 1024 bytes, was 20");
        assertThat(journal.lastSequence()).isEqualTo(2);
    }

    @Test
    void payloadNeedsItsFields() {
        assertRejected(Change.of(EntryType.FLAG_CREATED, "prod", "alice", json("{\"name\":\"x\"}")),
                "payload of flag_created must have a text field \"key\"");
        assertRejected(Change.of(EntryType.ROLE_GRANTED, "prod", "alice", json("{\"user\":\"u\"}")),
                "payload of role_granted must have a text field \"role\"");
        assertRejected(Change.of(EntryType.ENVIRONMENT_CLONED, "eu", "alice", json("{}")),
                "payload of environment_cloned must have a text field \"source\"");
        assertRejected(Change.of(EntryType.ENVIRONMENT_CLONED, "eu", "alice",
                json("{\"source\":\"prod\",\"flags\":{}}")),
                "payload of environment_cloned must not set \"flags\": the journal fills it in");
    }

    @Test
    void keysAreCheckedAndBadValuesShownEscaped() {
        assertRejected(Change.of(EntryType.FLAG_CREATED, "prod", "alice",
                json("{\"key\":\"a\\u0000b\"}")),
                "flag key must not contain control characters, was \"a\\u0000b\"");
        assertRejected(Change.of(EntryType.FLAG_CREATED, "prod", "alice",
                json("{\"key\":\"" + "k".repeat(257) + "\"}")),
                "flag key must be at most 256 characters, was 257");
        assertRejected(createFlag(" ", "x"), "environment key must not be blank");
        assertRejected(Change.of(EntryType.FLAG_CREATED, null, "alice", Fixtures.flag("x", true)),
                "flag_created entries need an environment");
    }

    @Test
    void aGrantTakesEveryUserIdAnSdkUserCanHaveAndKeepsItThroughACheckpointAndARestart() {
        assertThat(Change.MAX_USER_ID_LENGTH).as("an SDK user's longest id").isEqualTo(User.MAX_NAME_LENGTH);
        journal.close();
        journal = Fixtures.builder(dir, clock).open(); // default limits: this setup's payloads are small
        String longest = "\u00e9".repeat(Change.MAX_USER_ID_LENGTH); // 2 bytes each in UTF-8
        assertRejected(role(EntryType.ROLE_GRANTED, "prod", longest + "x", "beta"),
                "user id must be at most 1024 characters, was 1025");
        journal.append(role(EntryType.ROLE_GRANTED, "prod", longest, "beta"));
        journal.checkpoint();
        journal.append(role(EntryType.ROLE_GRANTED, "prod", longest, "staff"));
        journal.close();
        journal = Fixtures.builder(dir, clock).open();
        assertThat(journal.state().environments().get("prod").roleGrants())
                .containsEntry(longest, Set.of("beta", "staff"));
        assertThat(journal.stateAt(3).environments().get("prod").roleGrants())
                .containsEntry(longest, Set.of("beta"));
    }

    @Test
    void tokensAreGlobalAndNeverCarryTheSecret() {
        assertRejected(Change.of(EntryType.TOKEN_CREATED, "prod", "admin",
                json("{\"id\":\"t\",\"hash\":\"h\"}")),
                "token_created entries are global: environment must be null, was \"prod\"");
        Change withSecret = Change.of(EntryType.TOKEN_CREATED, null, "admin",
                json("{\"id\":\"t\",\"hash\":\"h\",\"secret\":\"s3cr3t-value\"}"));
        assertThatThrownBy(() -> journal.append(withSecret))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("payload of token_created must not contain the secret: remove field"
                        + " \"secret\" and keep only its hash")
                .message().doesNotContain("s3cr3t-value");
        assertRejected(Change.of(EntryType.TOKEN_CREATED, null, "admin", json("{\"id\":\"t\"}")),
                "payload of token_created must have a text field \"hash\"");
    }

    @Test
    void aTokensExpiryIsAnInstantOrAbsent() {
        assertRejected(Change.of(EntryType.TOKEN_CREATED, null, "admin",
                        json("{\"id\":\"t\",\"hash\":\"h\",\"expiresAt\":\"next week\"}")),
                "payload of token_created: expiresAt must be an ISO-8601 instant in UTC, such as \"2027-01-31T00:00:00Z\","
                        + " was \"next week\"");
        assertRejected(Change.of(EntryType.TOKEN_CREATED, null, "admin",
                        json("{\"id\":\"t\",\"hash\":\"h\",\"expiresAt\":1767225600}")),
                "payload of token_created: expiresAt must be an ISO-8601 instant in UTC, such as \"2027-01-31T00:00:00Z\","
                        + " was number");
        assertRejected(Change.of(EntryType.TOKEN_CREATED, null, "admin",
                        json("{\"id\":\"t\",\"hash\":\"h\",\"expiresAt\":null}")),
                "payload of token_created: expiresAt must be an ISO-8601 instant in UTC, such as \"2027-01-31T00:00:00Z\","
                        + " was null");
        journal.append(Change.of(EntryType.TOKEN_CREATED, null, "admin",
                json("{\"id\":\"t\",\"hash\":\"h\",\"expiresAt\":\"2027-01-31T00:00:00Z\"}")));
    }

    @Test
    void changesThatDoNotFitTheStateConflict() {
        assertConflict(createFlag("test", "x"), "environment \"test\" does not exist");
        assertConflict(createEnvironment("prod"), "environment \"prod\" already exists");
        assertConflict(createFlag("prod", "billing-v2"),
                "flag \"billing-v2\" already exists in environment \"prod\"");
        assertConflict(updateFlag("prod", "nope", true),
                "flag \"nope\" does not exist in environment \"prod\"");
        assertConflict(role(EntryType.ROLE_REVOKED, "prod", "u-1", "beta"),
                "user \"u-1\" does not have role \"beta\" in environment \"prod\"");
        journal.append(role(EntryType.ROLE_GRANTED, "prod", "u-1", "beta"));
        assertConflict(role(EntryType.ROLE_GRANTED, "prod", "u-1", "beta"),
                "user \"u-1\" already has role \"beta\" in environment \"prod\"");
        assertConflict(Change.of(EntryType.ENVIRONMENT_CLONED, "eu", "admin",
                json("{\"source\":\"nowhere\"}")),
                "cannot clone environment \"eu\": source environment \"nowhere\" does not exist");
        assertConflict(Change.of(EntryType.TOKEN_REVOKED, null, "admin", json("{\"id\":\"t\"}")),
                "token \"t\" does not exist or was already revoked");
    }

    @Test
    void archivedFlagsAndEnvironmentsRefuseUpdates() {
        journal.append(Change.of(EntryType.FLAG_ARCHIVED, "prod", "alice",
                json("{\"key\":\"billing-v2\"}")));
        assertConflict(updateFlag("prod", "billing-v2", true), "flag \"billing-v2\" is archived in"
                + " environment \"prod\"; create it again to restore it");
        journal.append(createFlag("prod", "billing-v2"));
        assertThat(journal.state().environment("prod").orElseThrow().archivedFlags()).isEmpty();

        journal.append(Change.of(EntryType.ENVIRONMENT_ARCHIVED, "prod", "admin", json("{}")));
        assertConflict(updateFlag("prod", "billing-v2", true),
                "environment \"prod\" is archived and accepts no changes");
    }

    @Test
    void expectedVersionGuardsAgainstLostUpdates() {
        JournalEntry ok = journal.append(updateFlag("prod", "billing-v2", true).expectingVersion(2));
        assertThat(ok.version()).isEqualTo(3);
        assertConflict(updateFlag("prod", "billing-v2", false).expectingVersion(2),
                "expected environment \"prod\" at version 2, but it is at version 3");
        assertConflict(createEnvironment("eu").expectingVersion(1),
                "expected environment \"eu\" at version 1, but it does not exist yet");
    }

    @Test
    void timestampsNeverGoBackwardsWhenTheClockDoes() {
        clock.advance(Duration.ofHours(1));
        JournalEntry later = journal.append(updateFlag("prod", "billing-v2", true));
        clock.set(Fixtures.T0.minus(Duration.ofDays(1)));
        JournalEntry afterStep = journal.append(updateFlag("prod", "billing-v2", false));
        assertThat(afterStep.timestamp()).isEqualTo(later.timestamp());
    }

    @Test
    void settingsAreCheckedWhenSet() {
        assertThatThrownBy(() -> FileJournal.builder(dir).segmentSize(10))
                .hasMessage("segment size must be between 4096 and 1073741824 bytes, was 10");
        assertThatThrownBy(() -> FileJournal.builder(dir).checkpointInterval(0))
                .hasMessage("checkpoint interval must be at least 1 entry, was 0");
        assertThatThrownBy(() -> FileJournal.builder(dir).retention(Duration.ZERO))
                .hasMessage("retention must be positive, was PT0S");
        assertThatThrownBy(() -> Change.of(EntryType.FLAG_CREATED, "prod", "a",
                Fixtures.MAPPER.createArrayNode()))
                .hasMessage("payload must be a json object, was array");
    }

    @Test
    void closedJournalRefusesEverything() {
        journal.close();
        journal.close();
        assertThatThrownBy(() -> journal.append(updateFlag("prod", "billing-v2", true)))
                .isInstanceOf(JournalException.class).hasMessageStartingWith("journal is closed");
        assertThatThrownBy(() -> journal.state()).isInstanceOf(JournalException.class);
    }

    private void assertRejected(Change change, String message) {
        long before = journal.lastSequence();
        assertThatThrownBy(() -> journal.append(change))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage(message);
        assertThat(journal.lastSequence()).isEqualTo(before);
    }

    private void assertConflict(Change change, String message) {
        long before = journal.lastSequence();
        assertThatThrownBy(() -> journal.append(change))
                .isInstanceOf(ChangeConflictException.class)
                .hasMessage(message);
        assertThat(journal.lastSequence()).isEqualTo(before);
    }
}
