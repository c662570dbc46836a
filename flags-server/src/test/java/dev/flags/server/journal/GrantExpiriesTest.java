package dev.flags.server.journal;

import static dev.flags.server.journal.Fixtures.T0;
import static dev.flags.server.journal.Fixtures.createEnvironment;
import static dev.flags.server.journal.Fixtures.json;
import static dev.flags.server.journal.Fixtures.role;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A grant's expiry in the journal: stored with the grant, changed by granting again, kept by checkpoints. */
class GrantExpiriesTest {

    private static final Instant NOON = Instant.parse("2026-12-04T12:00:00Z");

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(T0);

    private static Change grantUntil(String user, String role, Instant until) {
        return Change.of(EntryType.ROLE_GRANTED, "staging", "bob",
                json("{\"user\":\"" + user + "\",\"role\":\"" + role + "\",\"expiresAt\":\"" + until + "\"}"));
    }

    private static EnvironmentState staging(FileJournal journal) {
        return journal.state().environment("staging").orElseThrow();
    }

    private static int checkpointFormat(Path checkpoint) throws Exception {
        return ByteBuffer.wrap(Files.readAllBytes(checkpoint), 8, 2).getShort();
    }

    @Test
    void anExpiringGrantIsAGrantWithItsExpiryAndGrantingAgainChangesOrRemovesTheExpiry() {
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            journal.append(createEnvironment("staging"));
            journal.append(grantUntil("tess", "beta", NOON));
            assertThat(staging(journal).roleGrants()).isEqualTo(Map.of("tess", Set.of("beta")));
            assertThat(staging(journal).grantExpiries()).isEqualTo(Map.of(new Grant("tess", "beta"), NOON));

            assertThatThrownBy(() -> journal.append(grantUntil("tess", "beta", NOON)))
                    .isInstanceOf(ChangeConflictException.class)
                    .hasMessage("user \"tess\" already has role \"beta\" until 2026-12-04T12:00:00Z in environment \"staging\"");
            Instant later = NOON.plusSeconds(3600);
            journal.append(grantUntil("tess", "beta", later));
            assertThat(staging(journal).grantExpiries()).isEqualTo(Map.of(new Grant("tess", "beta"), later));

            journal.append(role(EntryType.ROLE_GRANTED, "staging", "tess", "beta"));
            assertThat(staging(journal).grantExpiries()).as("granted for good").isEmpty();
            assertThat(staging(journal).roleGrants()).isEqualTo(Map.of("tess", Set.of("beta")));
            assertThatThrownBy(() -> journal.append(role(EntryType.ROLE_GRANTED, "staging", "tess", "beta")))
                    .isInstanceOf(ChangeConflictException.class).hasMessageContaining("already has role \"beta\" in");

            journal.append(grantUntil("tess", "beta", NOON));
            journal.append(role(EntryType.ROLE_REVOKED, "staging", "tess", "beta"));
            assertThat(staging(journal).grantExpiries()).as("gone with the grant").isEmpty();
            assertThat(staging(journal).roleGrants()).isEmpty();
        }
    }

    @Test
    void anExpiryThatIsNotAnInstantIsRefusedAndNothingIsAppended() {
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            journal.append(createEnvironment("staging"));
            assertThatThrownBy(() -> journal.append(Change.of(EntryType.ROLE_GRANTED, "staging", "bob",
                    json("{\"user\":\"tess\",\"role\":\"beta\",\"expiresAt\":\"tomorrow\"}"))))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("payload of role_granted: expiresAt must be an ISO-8601 instant in UTC, such as"
                            + " \"2027-01-31T00:00:00Z\", was \"tomorrow\"");
            assertThatThrownBy(() -> journal.append(Change.of(EntryType.ROLE_GRANTED, "staging", "bob",
                    json("{\"user\":\"tess\",\"role\":\"beta\",\"expiresAt\":1764849600}"))))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageEndingWith("was number");
            assertThat(journal.lastSequence()).isEqualTo(1);
        }
    }

    @Test
    void aSelfServiceRolesLongestGrantIsSetByMarkingItAgainCopiedByACloneAndKeptByACheckpoint() throws Exception {
        EnvironmentState cloned;
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            journal.append(createEnvironment("staging"));
            journal.append(mark("beta", "P7D"));
            assertThat(staging(journal).maxGrantDurations()).isEqualTo(Map.of("beta", Duration.ofDays(7)));
            assertThatThrownBy(() -> journal.append(mark("beta", "PT168H"))).isInstanceOf(ChangeConflictException.class)
                    .hasMessage("role \"beta\" is already self-service for at most PT168H in environment \"staging\"");
            journal.append(mark("beta", "PT8H"));
            journal.append(mark("qa", null));
            journal.append(Change.of(EntryType.ENVIRONMENT_CLONED, "production", "admin", json("{\"source\":\"staging\"}")));
            cloned = journal.state().environment("production").orElseThrow();
            assertThat(cloned.maxGrantDurations()).isEqualTo(Map.of("beta", Duration.ofHours(8)));
            assertThat(cloned.selfServiceRoles()).containsExactlyInAnyOrder("beta", "qa");
            assertThat(cloned.metadata().toJsonNode().has("maxGrantDurations")).as("what was copied is not metadata").isFalse();
            assertThatThrownBy(() -> journal.append(mark("qa", "P0D"))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("payload of role_marked_self_service: maxGrantDuration must be a positive ISO-8601 duration such as"
                            + " \"P7D\", was \"P0D\"");
        }
        assertThat(checkpointFormat(Fixtures.checkpoints(dir).get(0))).isEqualTo(2);
        try (FileJournal reopened = Fixtures.builder(dir, clock).open()) {
            assertThat(reopened.recoveryReport().checkpointSequence()).isEqualTo(5);
            assertThat(reopened.state().environment("production").orElseThrow()).isEqualTo(cloned);
            reopened.append(Change.of(EntryType.ROLE_UNMARKED_SELF_SERVICE, "staging", "bob", json("{\"role\":\"beta\"}")));
            assertThat(staging(reopened).maxGrantDurations()).isEmpty();
        }
    }

    private static Change mark(String role, String max) {
        return Change.of(EntryType.ROLE_MARKED_SELF_SERVICE, "staging", "bob",
                json("{\"role\":\"" + role + "\"" + (max == null ? "" : ",\"maxGrantDuration\":\"" + max + "\"") + "}"));
    }

    @Test
    void expiriesSurviveAReplayAndACheckpointWhichIsOfFormatTwoOnlyWhileAGrantExpires() throws Exception {
        EnvironmentState before;
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            journal.append(createEnvironment("staging"));
            journal.append(grantUntil("tess", "beta", NOON));
            journal.append(grantUntil("tess", "qa", NOON.plusNanos(123_000_000)));
            journal.append(role(EntryType.ROLE_GRANTED, "staging", "ann", "beta"));
            before = staging(journal);
        }
        Fixtures.deleteCheckpoints(dir); // the one written at close: this open replays the entries
        try (FileJournal replayed = Fixtures.builder(dir, clock).open()) {
            assertThat(replayed.recoveryReport().checkpointSequence()).isZero();
            assertThat(staging(replayed)).isEqualTo(before);
            replayed.checkpoint();
        }
        Path withExpiries = Fixtures.checkpoints(dir).get(Fixtures.checkpoints(dir).size() - 1);
        assertThat(checkpointFormat(withExpiries)).isEqualTo(2);
        try (FileJournal fromCheckpoint = Fixtures.builder(dir, clock).open()) {
            assertThat(fromCheckpoint.recoveryReport().checkpointSequence()).isEqualTo(4);
            assertThat(staging(fromCheckpoint)).isEqualTo(before);
            assertThat(staging(fromCheckpoint).grantExpiries()).containsEntry(new Grant("tess", "qa"),
                    NOON.plusNanos(123_000_000));

            fromCheckpoint.append(role(EntryType.ROLE_REVOKED, "staging", "tess", "beta"));
            fromCheckpoint.append(role(EntryType.ROLE_GRANTED, "staging", "tess", "qa"));
            fromCheckpoint.checkpoint();
        }
        Path without = Fixtures.checkpoints(dir).get(Fixtures.checkpoints(dir).size() - 1);
        assertThat(without).isNotEqualTo(withExpiries);
        assertThat(checkpointFormat(without)).as("no grant expires: the format older releases read").isEqualTo(1);
        try (FileJournal reopened = Fixtures.builder(dir, clock).open()) {
            assertThat(reopened.recoveryReport().checkpointSequence()).isEqualTo(6);
            assertThat(staging(reopened).grantExpiries()).isEmpty();
            assertThat(staging(reopened).roleGrants()).isEqualTo(Map.of("tess", Set.of("qa"), "ann", Set.of("beta")));
        }
    }
}
