package dev.flags.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * Large lists of user ids (role members, targets) are held as hashed copies: the answers are those of the lists,
 * the copies cannot be changed and do not follow the caller's list, and a null id is refused as before. Their speed
 * with ids like {@code user-14700} is measured by {@code LargeListBenchmark}, not here.
 */
class LargeListsTest {

    private static final int MEMBERS = 14_700; // a size where Set.copyOf clustered such ids

    @Test
    void aRoleAndTargetsOfThousandsOfSequentialIdsAnswerForEveryoneInAndOut() {
        List<String> ids = IntStream.range(0, MEMBERS).mapToObj(i -> "user-" + i).toList();
        String targets = ids.stream().limit(10_000).map(id -> "\"" + id + "\"").collect(Collectors.joining(","));
        Flag targeted = FlagFormat.readFlag("{\"key\": \"targeted\", \"enabled\": true, \"targets\": [{\"userIds\": ["
                + targets + "]}]}");
        Flag byRole = FlagFormat.readFlag("{\"key\": \"by-role\", \"enabled\": true, \"rules\": [{\"name\": \"testers\","
                + " \"conditions\": [{\"roles\": [\"beta-tester\"]}]}]}");
        Set<String> members = new HashSet<>(ids);
        FlagSet flags = FlagSet.of(List.of(targeted, byRole), Map.of("beta-tester", members), 1);
        members.clear(); // the set holds its own copy

        for (int i = 0; i < MEMBERS + 3_000; i++) {
            User user = User.withId("user-" + i);
            assertThat(flags.isEnabled("by-role", user)).as(user.id()).isEqualTo(i < MEMBERS);
            assertThat(flags.isEnabled("targeted", user)).as(user.id()).isEqualTo(i < 10_000);
        }
        FlagSet changed = flags.withRoleChanges(Map.of("beta-tester", List.of("user-99999")), Map.of("beta-tester",
                List.of("user-7")), 2);
        assertThat(changed.isEnabled("by-role", User.withId("user-99999"))).isTrue();
        assertThat(changed.isEnabled("by-role", User.withId("user-7"))).isFalse();
        assertThat(flags.isEnabled("by-role", User.withId("user-7"))).as("the set before is unchanged").isTrue();
        assertThat(changed.roleGrants().get("beta-tester")).hasSize(MEMBERS);
    }

    @Test
    void theCopiesCannotBeChangedAndRefuseANullId() {
        FlagSet flags = FlagSet.of(List.of(), Map.of("beta-tester", Set.of("tess")), 1);
        assertThatThrownBy(() -> flags.roleGrants().get("beta-tester").add("mallory"))
                .isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> flags.roleGrants().put("admin", Set.of("mallory")))
                .isInstanceOf(UnsupportedOperationException.class);
        List<String> withNull = new ArrayList<>(List.of("tess"));
        withNull.add(null);
        assertThatThrownBy(() -> FlagSet.of(List.of(), Map.of("beta-tester", new HashSet<>(withNull)), 1))
                .isInstanceOf(NullPointerException.class).hasMessageContaining("user id");
    }
}
