package dev.flags.server.journal;

import static dev.flags.server.journal.Fixtures.createEnvironment;
import static dev.flags.server.journal.Fixtures.createFlag;
import static dev.flags.server.journal.Fixtures.role;
import static dev.flags.server.journal.Fixtures.updateFlag;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * States share their role grants while no grant changes: a kill switch in an environment with tens of thousands of
 * grants must not copy them all (nor make the sync layer hash and compare them all again).
 */
class GrantSharingTest {

    @TempDir
    Path dir;

    final MutableClock clock = new MutableClock(Fixtures.T0);

    @Test
    void aChangeOfAFlagKeepsTheGrantsMapAndAChangeOfAGrantMakesANewOne() {
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            journal.append(createEnvironment("production"));
            journal.append(createFlag("production", "billing-v2"));
            journal.append(role(EntryType.ROLE_GRANTED, "production", "u-1", "beta"));
            Map<String, Set<String>> afterGrant = grants(journal);

            journal.append(updateFlag("production", "billing-v2", false));
            assertThat(grants(journal)).isSameAs(afterGrant);

            journal.append(role(EntryType.ROLE_GRANTED, "production", "u-2", "beta"));
            Map<String, Set<String>> afterSecondGrant = grants(journal);
            assertThat(afterSecondGrant).isNotSameAs(afterGrant).isEqualTo(Map.of("u-1", Set.of("beta"), "u-2", Set.of("beta")));
            assertThat(afterGrant).isEqualTo(Map.of("u-1", Set.of("beta"))); // the earlier state's map did not move

            journal.append(role(EntryType.ROLE_REVOKED, "production", "u-2", "beta"));
            assertThat(grants(journal)).isNotSameAs(afterSecondGrant).isEqualTo(Map.of("u-1", Set.of("beta")));
            assertThat(afterSecondGrant).containsOnlyKeys("u-1", "u-2");
        }
    }

    @Test
    void theGrantsOfAStateSayWhichUsersChangedSinceTheGrantsBeforeThemOneStepBack() {
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            journal.append(createEnvironment("production"));
            journal.append(createFlag("production", "billing-v2"));
            journal.append(role(EntryType.ROLE_GRANTED, "production", "u-1", "beta"));
            Map<String, Set<String>> first = grants(journal);
            journal.append(role(EntryType.ROLE_GRANTED, "production", "u-2", "beta"));
            Map<String, Set<String>> second = grants(journal);

            assertThat(EnvironmentState.lastGrantChange(second)).hasValue(new EnvironmentState.GrantChange(first, Set.of("u-2")));
            assertThat(second.get("u-1")).as("an unchanged user's roles are the earlier map's").isSameAs(first.get("u-1"));
            journal.append(updateFlag("production", "billing-v2", false));
            assertThat(EnvironmentState.lastGrantChange(grants(journal))).hasValue(new EnvironmentState.GrantChange(first, Set.of("u-2")));

            journal.append(role(EntryType.ROLE_REVOKED, "production", "u-1", "beta"));
            assertThat(EnvironmentState.lastGrantChange(grants(journal))).hasValue(new EnvironmentState.GrantChange(second, Set.of("u-1")));
            assertThat(EnvironmentState.lastGrantChange(second)).as("only one step back is kept").isEmpty();
        }
    }

    @Test
    void aStatesGrantsAreTheJournalsThroughManyGrantsAndRevocationsOfUsersAllOverTheMap() {
        Map<String, Set<String>> model = new HashMap<>();
        Random random = new Random(26);
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            journal.append(createEnvironment("production"));
            for (int i = 0; i < 3_000; i++) {
                // 1,500 users over 3 roles: every shard of the map holds several, and users come and go.
                String user = "u-" + random.nextInt(1_500);
                String role = List.of("beta", "qa", "staff").get(random.nextInt(3));
                Set<String> roles = model.computeIfAbsent(user, u -> new HashSet<>());
                journal.append(role(roles.contains(role) ? EntryType.ROLE_REVOKED : EntryType.ROLE_GRANTED, "production", user, role));
                if (!roles.remove(role)) {
                    roles.add(role);
                }
                if (roles.isEmpty()) {
                    model.remove(user);
                }
                if (i % 500 == 499) {
                    assertSameGrants(grants(journal), model);
                }
            }
            assertSameGrants(grants(journal), model);
        }
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            assertSameGrants(grants(journal), model);
        }
    }

    private static void assertSameGrants(Map<String, Set<String>> grants, Map<String, Set<String>> model) {
        assertThat(grants).isEqualTo(model).hasSize(model.size()).hasSameHashCodeAs(model);
        assertThat(model).isEqualTo(grants);
        Map<String, Set<String>> iterated = new HashMap<>();
        grants.forEach(iterated::put);
        assertThat(iterated).isEqualTo(model);
        assertThat(grants.entrySet()).hasSize(model.size());
        assertThat(grants.keySet()).containsExactlyInAnyOrderElementsOf(model.keySet());
        for (String user : List.of("u-0", "u-1", "u-777", "u-1499", "nobody")) {
            assertThat(grants.containsKey(user)).isEqualTo(model.containsKey(user));
            assertThat(grants.get(user)).isEqualTo(model.get(user));
        }
        assertThat(grants.get(42)).isNull();
    }

    @Test
    void afterAReopenTheGrantsAreSharedAgainFromTheFirstState() {
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            journal.append(createEnvironment("production"));
            journal.append(createFlag("production", "billing-v2"));
            journal.append(role(EntryType.ROLE_GRANTED, "production", "u-1", "beta"));
        }
        try (FileJournal journal = Fixtures.builder(dir, clock).open()) {
            Map<String, Set<String>> opened = grants(journal);
            assertThat(opened).isEqualTo(Map.of("u-1", Set.of("beta")));
            assertThat(EnvironmentState.lastGrantChange(opened)).as("read whole").isEmpty();
            journal.append(updateFlag("production", "billing-v2", false));
            assertThat(grants(journal)).isSameAs(opened);
        }
    }

    @Test
    void aStateCopiesGrantsItIsGivenAndSharesOnlyAnotherStatesOnes() {
        Map<String, Set<String>> given = new HashMap<>();
        given.put("u-1", new HashSet<>(Set.of("beta")));
        given.put("u-2", new HashSet<>());
        EnvironmentState first = state(given);
        given.get("u-1").add("qa");
        given.put("u-3", Set.of("beta"));

        assertThat(first.roleGrants()).isEqualTo(Map.of("u-1", Set.of("beta"))); // copied, and the empty set left out
        assertThatThrownBy(() -> first.roleGrants().put("u-4", Set.of("beta"))).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> first.roleGrants().get("u-1").add("qa")).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> first.roleGrants().entrySet().clear()).isInstanceOf(UnsupportedOperationException.class);

        assertThat(state(first.roleGrants()).roleGrants()).isSameAs(first.roleGrants());
        assertThat(state(Map.copyOf(first.roleGrants())).roleGrants()).isNotSameAs(first.roleGrants())
                .isEqualTo(first.roleGrants()).hasSameHashCodeAs(first.roleGrants());
    }

    private static EnvironmentState state(Map<String, Set<String>> grants) {
        return new EnvironmentState("production", 1, false, CanonicalJson.emptyObject(), Map.of(), Map.of(), grants, Set.of());
    }

    private static Map<String, Set<String>> grants(FileJournal journal) {
        return journal.state().environment("production").orElseThrow().roleGrants();
    }
}
