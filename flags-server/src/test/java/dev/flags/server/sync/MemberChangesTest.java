package dev.flags.server.sync;

import static dev.flags.server.sync.SyncFixture.ENV;
import static dev.flags.server.sync.SyncFixture.createEnvironment;
import static dev.flags.server.sync.SyncFixture.createFlag;
import static dev.flags.server.sync.SyncFixture.role;
import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.protocol.v1.Delta;
import dev.flags.protocol.v1.RoleGrant;
import dev.flags.protocol.v1.RoleMemberChange;
import dev.flags.protocol.v1.SyncMessage;
import dev.flags.server.journal.EntryType;
import org.junit.jupiter.api.Test;

/**
 * A grant reaches an SDK that accepts member changes as the one user that got the role, and an older SDK as the
 * role's complete member list, on the same stream of changes.
 */
class MemberChangesTest extends SyncFixtureTest {

  @Test
  void aGrantIsSentAsTheUserWhoGotTheRoleOrAsTheRolesWholeMemberList() throws Exception {
    f = SyncFixture.start(dir);
    f.write(createEnvironment(ENV));
    f.write(createFlag(ENV, "billing-v2"));
    for (int u = 1; u <= 3; u++) {
      f.write(role(EntryType.ROLE_GRANTED, ENV, "u-" + u, "beta"));
    }
    long start = f.version();
    Recorder changes = f.subscribe(start, true);
    Recorder lists = f.subscribe(start, false);
    assertThat(changes.next().hasHeartbeat()).isTrue();
    assertThat(lists.next().hasHeartbeat()).isTrue();

    f.write(role(EntryType.ROLE_GRANTED, ENV, "u-4", "beta"));
    Delta granted = delta(changes.next());
    assertThat(granted.getRoleGrantsCount()).isZero();
    assertThat(granted.getMemberChangesList()).containsExactly(
        RoleMemberChange.newBuilder().setRole("beta").addAddedUserIds("u-4").build());
    assertThat(delta(lists.next()).getRoleGrantsList()).containsExactly(RoleGrant.newBuilder().setRole("beta")
        .addUserIds("u-1").addUserIds("u-2").addUserIds("u-3").addUserIds("u-4").build());

    f.write(role(EntryType.ROLE_REVOKED, ENV, "u-2", "beta"));
    assertThat(delta(changes.next()).getMemberChangesList()).containsExactly(
        RoleMemberChange.newBuilder().setRole("beta").addRemovedUserIds("u-2").build());
    assertThat(delta(lists.next()).getRoleGrantsList()).containsExactly(RoleGrant.newBuilder().setRole("beta")
        .addUserIds("u-1").addUserIds("u-3").addUserIds("u-4").build());

    // An SDK that comes back from the start version gets the two versions as one change of members.
    Recorder resumed = f.subscribe(start, true);
    Delta catchUp = delta(resumed.next());
    assertThat(catchUp.getFromVersion()).isEqualTo(start);
    assertThat(catchUp.getMemberChangesList()).containsExactly(RoleMemberChange.newBuilder().setRole("beta")
        .addAddedUserIds("u-4").addRemovedUserIds("u-2").build());
  }

  private static Delta delta(SyncMessage message) {
    assertThat(message.hasDelta()).as("a delta: %s", message).isTrue();
    return message.getDelta();
  }
}
