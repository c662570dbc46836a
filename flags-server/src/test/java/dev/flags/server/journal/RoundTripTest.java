package dev.flags.server.journal;

import static dev.flags.server.journal.Fixtures.createEnvironment;
import static dev.flags.server.journal.Fixtures.createFlag;
import static dev.flags.server.journal.Fixtures.json;
import static dev.flags.server.journal.Fixtures.role;
import static dev.flags.server.journal.Fixtures.updateFlag;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every entry type is written, read back after a reopen, and adds up to the same state. */
class RoundTripTest {

    @TempDir
    Path dir;

    final MutableClock clock = new MutableClock(Fixtures.T0);

    /**
     * One change of every entry type: those of the golden journal of format version 1, then the types
     * added since (a new type is a new code in the same format; the golden files stay as written).
     */
    static List<Change> everyType() {
        List<Change> all = new ArrayList<>(goldenTypes());
        all.add(createEnvironment("eu-back"));
        all.add(Change.of(EntryType.ENVIRONMENT_ARCHIVED, "eu-back", "admin", json("{}")));
        all.add(Change.of(EntryType.ENVIRONMENT_RESTORED, "eu-back", "admin", json("{\"reason\":\"archived by mistake\"}")));
        all.addAll(scheduleTypes("eu-back"));
        all.add(Change.of(EntryType.FLAG_REVERTED, "eu-back", "alice", json("{\"key\":\"promo\",\"revertedTo\":7,"
                + "\"restored\":false,\"flag\":{\"key\":\"promo\",\"enabled\":false,\"rules\":[{\"percentage\":0}]}}"))
                .withComment("back to before the launch"));
        all.add(createEnvironment("pr-7"));
        all.add(Change.of(EntryType.ENVIRONMENT_ARCHIVED, "pr-7", "admin", json("{}")));
        all.add(Change.of(EntryType.ENVIRONMENT_DELETED, "pr-7", "admin", json("{\"reason\":\"preview merged\"}")));
        return all;
    }

    /** Schedules of a flag "promo" in the environment: made, cancelled, applied, ended without a change. */
    static List<Change> scheduleTypes(String env) {
        return List.of(
                createFlag(env, "promo"),
                schedule(env, "sch-000000000001", "promo", "{\"enabled\":true}").withComment("launch at nine"),
                schedule(env, "sch-000000000002", "promo", "{\"enabled\":false}"),
                schedule(env, "sch-000000000003", "promo", "{\"default\":true}"),
                Change.of(EntryType.SCHEDULE_CANCELLED, env, "alice", json("{\"id\":\"sch-000000000002\"}"))
                        .withComment("not yet"),
                Change.of(EntryType.SCHEDULE_APPLIED, env, "flags-server (schedule sch-000000000001 by alice)",
                        json("{\"key\":\"promo\",\"schedule\":\"sch-000000000001\",\"flag\":{\"key\":\"promo\","
                                + "\"enabled\":true,\"rules\":[{\"percentage\":0}]}}")).withComment("launch at nine"),
                Change.of(EntryType.SCHEDULE_ENDED, env, "flags-server (schedule sch-000000000003 by alice)",
                        json("{\"id\":\"sch-000000000003\",\"outcome\":\"failed\",\"reason\":\"gone\"}")));
    }

    static Change schedule(String env, String id, String flag, String patch) {
        return Change.of(EntryType.SCHEDULE_CREATED, env, "alice", json("{\"id\":\"" + id + "\",\"flag\":\"" + flag
                + "\",\"at\":\"2026-12-07T08:00:00Z\",\"patch\":" + patch + "}"));
    }

    /** The changes the golden journal of format version 1 was written from: never to change. */
    static List<Change> goldenTypes() {
        return List.of(
                createEnvironment("staging"),
                createFlag("staging", "billing-v2"),
                updateFlag("staging", "billing-v2", true).withComment("ramp to 10% for the beta"),
                createFlag("staging", "old-banner"),
                Change.of(EntryType.FLAG_ARCHIVED, "staging", "alice", json("{\"key\":\"old-banner\"}")),
                createFlag("staging", "tmp"),
                Change.of(EntryType.FLAG_DELETED, "staging", "alice", json("{\"key\":\"tmp\"}")),
                Change.of(EntryType.ROLE_MARKED_SELF_SERVICE, "staging", "bob", json("{\"role\":\"beta\"}")),
                role(EntryType.ROLE_GRANTED, "staging", "u-1", "beta"),
                role(EntryType.ROLE_GRANTED, "staging", "u-2", "beta"),
                role(EntryType.ROLE_REVOKED, "staging", "u-2", "beta"),
                Change.of(EntryType.ROLE_MARKED_SELF_SERVICE, "staging", "bob", json("{\"role\":\"qa\"}")),
                Change.of(EntryType.ROLE_UNMARKED_SELF_SERVICE, "staging", "bob",
                        json("{\"role\":\"qa\"}")),
                Change.of(EntryType.ENVIRONMENT_CLONED, "production", "admin",
                        json("{\"source\":\"staging\",\"name\":\"Production\"}")),
                Change.of(EntryType.TOKEN_CREATED, null, "admin",
                        json("{\"id\":\"tok-1\",\"hash\":\"sha256:aa\",\"name\":\"ci\"}")),
                Change.of(EntryType.TOKEN_CREATED, null, "admin",
                        json("{\"id\":\"tok-2\",\"hash\":\"sha256:bb\",\"name\":\"old\"}")),
                Change.of(EntryType.TOKEN_REVOKED, null, "admin", json("{\"id\":\"tok-2\"}")),
                createEnvironment("eu-old"),
                Change.of(EntryType.ENVIRONMENT_ARCHIVED, "eu-old", "admin",
                        json("{\"reason\":\"region closed\"}")));
    }

    @Test
    void everyEntryTypeRoundTripsThroughAReopen() {
        List<JournalEntry> appended = new ArrayList<>();
        ServerState before;
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            for (Change change : everyType()) {
                clock.advance(Duration.ofSeconds(1));
                appended.add(journal.append(change));
            }
            before = journal.state();
        }
        assertThat(appended.stream().map(JournalEntry::type).collect(Collectors.toSet()))
                .isEqualTo(EnumSet.allOf(EntryType.class));

        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            assertThat(journal.read(1, 1000)).containsExactlyElementsOf(appended);
            assertThat(journal.state()).isEqualTo(before);
            assertThat(journal.state().environment("eu-old").orElseThrow().archived()).isTrue();
            assertThat(journal.state().environment("eu-back").orElseThrow().archived()).isFalse();
            assertThat(journal.state().wasDeleted("pr-7")).isTrue();
            assertThat(journal.recoveryReport().checkpointSequence()).isEqualTo(appended.size());
            assertThat(journal.recoveryReport().notes()).isEmpty();
        }
    }

    @Test
    void sequenceVersionTimestampActorAndCommentAreAssignedAndKept() {
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            JournalEntry env = journal.append(createEnvironment("staging"));
            clock.advance(Duration.ofMinutes(5));
            JournalEntry flag = journal.append(createFlag("staging", "billing-v2")
                    .withComment("dark launch"));
            JournalEntry token = journal.append(Change.of(EntryType.TOKEN_CREATED, null, "admin",
                    json("{\"id\":\"tok-1\",\"hash\":\"sha256:aa\"}")));

            assertThat(env.sequence()).isEqualTo(1);
            assertThat(env.version()).isEqualTo(1);
            assertThat(env.timestamp()).isEqualTo(Fixtures.T0);
            assertThat(env.subject()).isEmpty();
            assertThat(flag.sequence()).isEqualTo(2);
            assertThat(flag.version()).isEqualTo(2);
            assertThat(flag.timestamp()).isEqualTo(Fixtures.T0.plus(Duration.ofMinutes(5)));
            assertThat(flag.actor()).isEqualTo("alice");
            assertThat(flag.comment()).isEqualTo("dark launch");
            assertThat(flag.subject()).isEqualTo("billing-v2");
            assertThat(flag.payload().toString())
                    .isEqualTo("{\"enabled\":false,\"key\":\"billing-v2\",\"rules\":[{\"percentage\":0}]}");
            assertThat(token.environment()).isNull();
            assertThat(token.version()).isEqualTo(1);
            assertThat(journal.lastSequence()).isEqualTo(3);
        }
    }

    @Test
    void stateAfterEveryTypeIsWhatTheEntriesSay() {
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            everyType().forEach(journal::append);
            ServerState state = journal.state();

            EnvironmentState staging = state.environment("staging").orElseThrow();
            assertThat(staging.version()).isEqualTo(13);
            assertThat(staging.flags()).containsOnlyKeys("billing-v2");
            assertThat(staging.flags().get("billing-v2").toJsonNode().get("enabled").asBoolean())
                    .isTrue();
            assertThat(staging.archivedFlags()).containsOnlyKeys("old-banner");
            assertThat(staging.roleGrants()).isEqualTo(Map.of("u-1", Set.of("beta")));
            assertThat(staging.selfServiceRoles()).containsExactly("beta");

            EnvironmentState production = state.environment("production").orElseThrow();
            assertThat(production.version()).isEqualTo(1);
            assertThat(production.flags()).isEqualTo(staging.flags());
            assertThat(production.archivedFlags()).isEqualTo(staging.archivedFlags());
            assertThat(production.selfServiceRoles()).containsExactly("beta");
            assertThat(production.roleGrants()).isEmpty();
            assertThat(production.metadata().toString())
                    .isEqualTo("{\"name\":\"Production\",\"source\":\"staging\"}");

            assertThat(state.environment("eu-old").orElseThrow().archived()).isTrue();
            assertThat(state.tokens()).containsOnlyKeys("tok-1");
            assertThat(state.tokensVersion()).isEqualTo(3);
            assertThat(state.sequence()).isEqualTo(everyType().size());
        }
    }

    @Test
    void cloneEntryHoldsWhatItCopied() {
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            journal.append(createEnvironment("staging"));
            journal.append(createFlag("staging", "billing-v2"));
            JournalEntry clone = journal.append(Change.of(EntryType.ENVIRONMENT_CLONED, "production",
                    "admin", json("{\"source\":\"staging\"}")));

            assertThat(clone.payload().toString()).isEqualTo("{\"archivedFlags\":{},"
                    + "\"flags\":{\"billing-v2\":{\"enabled\":false,\"key\":\"billing-v2\","
                    + "\"rules\":[{\"percentage\":0}]}},\"selfServiceRoles\":[],\"source\":\"staging\","
                    + "\"sourceVersion\":2}");
        }
    }

    @Test
    void fullReplayWithoutCheckpointGivesTheSameState() throws Exception {
        ServerState before;
        try (FileJournal journal = Fixtures.builder(dir, clock).segmentSize(4096).open()) {
            for (int round = 0; round < 5; round++) {
                for (Change change : everyType()) {
                    journal.append(renamed(change, round));
                }
            }
            before = journal.state();
        }
        assertThat(Fixtures.segments(dir)).hasSizeGreaterThan(1);
        Fixtures.deleteCheckpoints(dir);

        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            assertThat(journal.state()).isEqualTo(before);
            assertThat(journal.recoveryReport().checkpointSequence()).isZero();
            assertThat(journal.recoveryReport().replayedEntries()).isEqualTo(before.sequence());
        }
    }

    /** The same change in a separate set of environments and tokens for each round. */
    static Change renamed(Change c, int round) {
        String env = c.environment() == null ? null : c.environment() + "-" + round;
        ObjectNode payload = (ObjectNode) c.payload().toJsonNode();
        if (payload.has("source")) {
            payload.put("source", payload.get("source").asText() + "-" + round);
        }
        if (payload.has("id")) {
            payload.put("id", payload.get("id").asText() + "-" + round);
        }
        if (payload.has("schedule")) {
            payload.put("schedule", payload.get("schedule").asText() + "-" + round);
        }
        return Change.of(c.type(), env, c.actor(), payload).withComment(c.comment());
    }
}
