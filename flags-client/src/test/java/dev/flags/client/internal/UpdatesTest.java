package dev.flags.client.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.client.Source;
import dev.flags.core.Flag;
import dev.flags.core.FlagFormat;
import dev.flags.core.User;
import dev.flags.core.FlagSet;
import dev.flags.protocol.v1.Delta;
import dev.flags.protocol.v1.FlagDocument;
import dev.flags.protocol.v1.RoleGrant;
import dev.flags.protocol.v1.RoleMemberChange;
import dev.flags.protocol.v1.Snapshot;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Wire messages to snapshots. */
class UpdatesTest {

    private final List<String> problems = new ArrayList<>();

    private static FlagDocument doc(String key, boolean on, long version) {
        Flag f = new Flag(key, null, true, null, List.of(), List.of(), List.of(), on, version);
        return FlagDocument.newBuilder().setKey(key).setJson(FlagFormat.writeFlag(f)).build();
    }

    private static RoleGrant grant(String role, String... ids) {
        return RoleGrant.newBuilder().setRole(role).addAllUserIds(List.of(ids)).build();
    }

    private FlagState snapshot() {
        return Updates.snapshot(Snapshot.newBuilder().setVersion(10).addFlags(doc("a", true, 1)).addFlags(doc("b", false, 1))
                .addRoleGrants(grant("beta", "u-1", "u-2")).addRoleGrants(grant("empty")).build(),
                (k, p) -> problems.add(k), FlagSet.empty());
    }

    @Test
    void aSnapshotIsAWholeLiveState() {
        FlagState s = snapshot();
        assertThat(s.source()).isEqualTo(Source.LIVE);
        assertThat(s.version()).isEqualTo(10);
        assertThat(s.flags().size()).isEqualTo(2);
        assertThat(s.flags().roleGrants()).isEqualTo(Map.of("beta", Set.of("u-1", "u-2")));
        assertThat(problems).isEmpty();
    }

    @Test
    void aDeltaUpsertsRemovesAndReplacesTheMembersOfTheRolesItNames() {
        FlagState s = Updates.delta(snapshot(), Delta.newBuilder().setFromVersion(10).setVersion(12)
                .addUpserted(doc("a", false, 2)).addUpserted(doc("c", true, 1)).addRemoved("b").addRemoved("never-there")
                .addRoleGrants(grant("beta", "u-3")).addRoleGrants(grant("staff", "u-9")).build(), (k, p) -> problems.add(k));
        assertThat(s.version()).isEqualTo(12);
        assertThat(s.flags().flag("a")).hasValueSatisfying(f -> assertThat(f.defaultValue()).isFalse());
        assertThat(s.flags().flag("b")).isEmpty();
        assertThat(s.flags().flag("c")).isPresent();
        assertThat(s.flags().roleGrants()).isEqualTo(Map.of("beta", Set.of("u-3"), "staff", Set.of("u-9")));

        FlagState emptied = Updates.delta(s, Delta.newBuilder().setFromVersion(12).setVersion(13)
                .addRoleGrants(grant("beta")).build(), (k, p) -> problems.add(k));
        assertThat(emptied.flags().roleGrants()).isEqualTo(Map.of("staff", Set.of("u-9")));
    }

    @Test
    void aDeltaWithMemberChangesAddsAndRemovesThoseUsersOnly() {
        FlagState s = Updates.delta(snapshot(), Delta.newBuilder().setFromVersion(10).setVersion(12)
                .addMemberChanges(RoleMemberChange.newBuilder().setRole("beta").addAddedUserIds("u-3").addRemovedUserIds("u-1")
                        .addRemovedUserIds("never-had-it"))
                .addMemberChanges(RoleMemberChange.newBuilder().setRole("staff").addAddedUserIds("u-9")).build(),
                (k, p) -> problems.add(k));
        assertThat(s.version()).isEqualTo(12);
        assertThat(s.flags().roleGrants()).isEqualTo(Map.of("beta", Set.of("u-2", "u-3"), "staff", Set.of("u-9")));
        assertThat(s.flags().roleGrants().get("beta")).as("a copy: the earlier snapshot's members did not move").isNotSameAs(
                snapshot().flags().roleGrants().get("beta"));
        assertThat(Updates.touched(Delta.newBuilder().addMemberChanges(RoleMemberChange.newBuilder().setRole("beta")
                .addAddedUserIds("u-3")).build())).as("any flag may name the role").isNull();

        FlagState emptied = Updates.delta(s, Delta.newBuilder().setFromVersion(12).setVersion(13)
                .addMemberChanges(RoleMemberChange.newBuilder().setRole("staff").addRemovedUserIds("u-9")).build(),
                (k, p) -> problems.add(k));
        assertThat(emptied.flags().roleGrants()).as("a role left with no member is gone").isEqualTo(Map.of("beta", Set.of("u-2", "u-3")));
        assertThat(problems).isEmpty();
    }

    @Test
    void aDeltaThatChangesNothingVisibleStillMovesTheVersion() {
        FlagState s = Updates.delta(snapshot(), Delta.newBuilder().setFromVersion(10).setVersion(11).build(), (k, p) -> { });
        assertThat(s.version()).isEqualTo(11);
        assertThat(s.flags().size()).isEqualTo(2);
    }

    @Test
    void anUnreadableDocumentIsSetAsideAndAFixLaterTakesItsPlace() {
        FlagDocument bad = FlagDocument.newBuilder().setKey("a").setJson("{\"key\": \"a\", \"enabled\": 1}").build();
        FlagDocument wrongKey = FlagDocument.newBuilder().setKey("x").setJson(doc("y", true, 1).getJson()).build();
        FlagState s = Updates.delta(snapshot(), Delta.newBuilder().setFromVersion(10).setVersion(11)
                .addUpserted(bad).addUpserted(wrongKey).build(), (k, p) -> problems.add(k + ": " + p));
        assertThat(problems).hasSize(2);
        assertThat(problems.get(1)).contains("\"y\" is not the key it was sent under, \"x\"");
        assertThat(s.flags().flag("a")).isEmpty();
        assertThat(s.unreadable()).containsOnlyKeys("a", "x");
        assertThat(s.flags().isEnabled("a", User.withId("u"), true)).isTrue();

        FlagState fixed = Updates.delta(s, Delta.newBuilder().setFromVersion(11).setVersion(12)
                .addUpserted(doc("a", true, 3)).addRemoved("x").build(), (k, p) -> problems.add(k));
        assertThat(fixed.unreadable()).isEmpty();
        assertThat(fixed.flags().flag("a")).isPresent();
    }

    @Test
    void aLargeDeltaIsAppliedInOneGoAsTheSameChangesOneByOne() {
        Snapshot.Builder snapshot = Snapshot.newBuilder().setVersion(10);
        for (int i = 0; i < 1_000; i++) {
            snapshot.addFlags(doc("f" + i, true, 1));
        }
        FlagState held = Updates.snapshot(snapshot.build(), (k, p) -> problems.add(k), FlagSet.empty());
        Delta.Builder delta = Delta.newBuilder().setFromVersion(10).setVersion(11);
        for (int i = 0; i < 300; i++) {
            delta.addUpserted(doc("f" + (i * 3), false, 2)); // every third flag turned off
        }
        for (int i = 0; i < 50; i++) {
            delta.addUpserted(doc("new" + i, true, 1));
            delta.addRemoved("f" + (i * 3 + 1));
        }
        FlagState s = Updates.delta(held, delta.build(), (k, p) -> problems.add(k));
        assertThat(problems).isEmpty();
        assertThat(s.version()).isEqualTo(11);
        assertThat(s.flags().size()).isEqualTo(1_000 + 50 - 50);
        User u = User.withId("u");
        for (int i = 0; i < 1_000; i++) {
            String key = "f" + i;
            if (i % 3 == 1 && i < 150) {
                assertThat(s.flags().flag(key)).as(key).isEmpty();
            } else {
                assertThat(s.flags().isEnabled(key, u, true)).as(key).isEqualTo(!(i % 3 == 0 && i < 900));
            }
        }
        assertThat(s.flags().flag("new49")).isPresent();
        assertThat(held.flags().size()).isEqualTo(1_000); // untouched
    }
}
