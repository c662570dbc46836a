package dev.flags.server.sync;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.protocol.v1.Delta;
import dev.flags.protocol.v1.FlagDocument;
import dev.flags.protocol.v1.RoleGrant;
import dev.flags.protocol.v1.RoleMemberChange;
import dev.flags.protocol.v1.Snapshot;
import dev.flags.server.journal.CanonicalJson;
import dev.flags.server.journal.EnvironmentState;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Snapshots and Deltas from environment states: only what changed, role grants inverted (or as member changes). */
class MessagesTest {

  private static CanonicalJson flag(String key, boolean enabled) {
    return CanonicalJson.parse("{\"key\":\"" + key + "\",\"enabled\":" + enabled + "}");
  }

  private static EnvironmentState state(long version, Map<String, CanonicalJson> flags,
      Map<String, Set<String>> grants) {
    return new EnvironmentState("production", version, false, CanonicalJson.parse("{}"), flags,
        Map.of(), grants, Set.of());
  }

  @Test
  void deltaCarriesChangedAndNewFlagsRemovedKeysAndChangedRolesOnly() {
    EnvironmentState before = state(4,
        Map.of("a", flag("a", false), "b", flag("b", false), "c", flag("c", true)),
        Map.of("u-1", Set.of("beta", "staff"), "u-2", Set.of("staff"), "u-3", Set.of("beta")));
    EnvironmentState after = state(7,
        Map.of("a", flag("a", true), "b", flag("b", false), "d", flag("d", false)),
        Map.of("u-1", Set.of("staff"), "u-2", Set.of("staff"), "u-4", Set.of("beta", "ops")));

    Delta d = Messages.delta(before, after, 1234, false);

    assertThat(d.getFromVersion()).isEqualTo(4);
    assertThat(d.getVersion()).isEqualTo(7);
    assertThat(d.getCommittedAtMillis()).isEqualTo(1234);
    assertThat(d.getUpsertedList()).extracting(FlagDocument::getKey).containsExactly("a", "d");
    assertThat(d.getUpserted(0).getJson()).isEqualTo("{\"enabled\":true,\"key\":\"a\"}");
    assertThat(d.getRemovedList()).containsExactly("c");
    // beta: u-1 and u-3 left, u-4 joined; ops: new; staff: unchanged, so not sent.
    assertThat(d.getRoleGrantsList()).containsExactly(
        RoleGrant.newBuilder().setRole("beta").addUserIds("u-4").build(),
        RoleGrant.newBuilder().setRole("ops").addUserIds("u-4").build());
  }

  @Test
  void toAnSdkThatAcceptsMemberChangesOnlyTheUsersThatGotOrLostARoleAreSent() {
    EnvironmentState before = state(4, Map.of("a", flag("a", false)),
        Map.of("u-1", Set.of("beta", "staff"), "u-2", Set.of("staff"), "u-3", Set.of("beta"), "u-5", Set.of("beta")));
    EnvironmentState after = state(7, Map.of("a", flag("a", true)),
        Map.of("u-1", Set.of("staff"), "u-2", Set.of("staff"), "u-4", Set.of("beta", "ops"), "u-5", Set.of("beta")));

    Delta d = Messages.delta(before, after, 1234, true);

    assertThat(d.getUpsertedList()).extracting(FlagDocument::getKey).containsExactly("a");
    assertThat(d.getRoleGrantsList()).as("never both forms").isEmpty();
    // beta: u-1 and u-3 left, u-4 joined, u-5 stayed (not sent); ops: u-4 joined; staff: unchanged, so not sent.
    assertThat(d.getMemberChangesList()).containsExactly(
        RoleMemberChange.newBuilder().setRole("beta").addAddedUserIds("u-4").addRemovedUserIds("u-1")
            .addRemovedUserIds("u-3").build(),
        RoleMemberChange.newBuilder().setRole("ops").addAddedUserIds("u-4").build());
    assertThat(Messages.delta(before, state(8, Map.of(), Map.of()), 0, true).getMemberChangesList())
        .as("a role left with no member").contains(RoleMemberChange.newBuilder().setRole("staff")
            .addRemovedUserIds("u-1").addRemovedUserIds("u-2").build());
    assertThat(Messages.delta(before, state(5, Map.of(), before.roleGrants()), 0, true).getMemberChangesCount())
        .as("grants the same").isZero();
  }

  @Test
  void roleWithoutMembersAnyMoreIsSentEmpty() {
    EnvironmentState before = state(1, Map.of(), Map.of("u-1", Set.of("beta")));
    EnvironmentState after = state(2, Map.of(), Map.of());

    assertThat(Messages.delta(before, after, 0, false).getRoleGrantsList())
        .containsExactly(RoleGrant.newBuilder().setRole("beta").build());
  }

  @Test
  void versionThatChangedNothingVisibleStillMovesTheVersionOn() {
    EnvironmentState before = state(3, Map.of("a", flag("a", true)), Map.of());
    EnvironmentState after = state(4, Map.of("a", flag("a", true)), Map.of());

    Delta d = Messages.delta(before, after, 0, false);

    assertThat(d.getFromVersion()).isEqualTo(3);
    assertThat(d.getVersion()).isEqualTo(4);
    assertThat(d.getUpsertedCount() + d.getRemovedCount() + d.getRoleGrantsCount()).isZero();
  }

  @Test
  void snapshotIsSortedAndComplete() {
    EnvironmentState s = state(9, Map.of("b", flag("b", true), "a", flag("a", false)),
        Map.of("u-2", Set.of("beta"), "u-1", Set.of("beta", "ops")));

    Snapshot snap = Messages.snapshot(s, 15_000);

    assertThat(snap.getEnvironment()).isEqualTo("production");
    assertThat(snap.getVersion()).isEqualTo(9);
    assertThat(snap.getHeartbeatIntervalMillis()).isEqualTo(15_000);
    assertThat(snap.getFlagsList()).extracting(FlagDocument::getKey).containsExactly("a", "b");
    assertThat(snap.getRoleGrantsList()).containsExactly(
        RoleGrant.newBuilder().setRole("beta").addUserIds("u-1").addUserIds("u-2").build(),
        RoleGrant.newBuilder().setRole("ops").addUserIds("u-1").build());
  }
}
