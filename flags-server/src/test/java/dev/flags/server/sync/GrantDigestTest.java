package dev.flags.server.sync;

import static dev.flags.server.sync.SyncFixture.ENV;
import static dev.flags.server.sync.SyncFixture.createEnvironment;
import static dev.flags.server.sync.SyncFixture.createFlag;
import static dev.flags.server.sync.SyncFixture.role;
import static dev.flags.server.sync.SyncFixture.updateFlag;
import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.server.EnvironmentLimits;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.FileJournal;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The state tag and the served size of grants, each updated by the users a grant changed (from what was computed for
 * the grants before), are what they are when computed over every grant.
 */
class GrantDigestTest {

  @TempDir
  Path dir;

  @Test
  void aTagAndASizeUpdatedByTheChangedUsersAreThoseComputedWhole() {
    try (FileJournal journal = FileJournal.builder(dir).open()) {
      journal.append(createEnvironment(ENV));
      journal.append(createFlag(ENV, "billing-v2"));
      for (int u = 1; u <= 5; u++) {
        journal.append(role(EntryType.ROLE_GRANTED, ENV, "u-" + u, "beta"));
      }
      check(journal.state().environment(ENV).orElseThrow());
      List<Change> changes = List.of(
          role(EntryType.ROLE_GRANTED, ENV, "u-6", "beta"),
          role(EntryType.ROLE_GRANTED, ENV, "u-1", "staff"),
          updateFlag(ENV, "billing-v2", true, 50),
          role(EntryType.ROLE_REVOKED, ENV, "u-2", "beta"),
          role(EntryType.ROLE_REVOKED, ENV, "u-1", "beta"),
          role(EntryType.ROLE_REVOKED, ENV, "u-1", "staff"),
          role(EntryType.ROLE_GRANTED, ENV, "ü-ñ", "beta")); // bytes of UTF-8, not chars
      for (Change change : changes) {
        journal.append(change);
        EnvironmentState state = journal.state().environment(ENV).orElseThrow();
        if (change.type() != EntryType.FLAG_UPDATED) {
          assertThat(EnvironmentState.lastGrantChange(state.roleGrants())).as("updated, not computed whole").isPresent();
        }
        check(state);
      }
    }
  }

  /** Computes the tag and the size of the state (updating the last ones), and again over a copy of every grant. */
  private static void check(EnvironmentState state) {
    EnvironmentState whole = new EnvironmentState(state.key(), state.version(), false, state.metadata(), state.flags(),
        state.archivedFlags(), new HashMap<>(state.roleGrants()), state.selfServiceRoles());
    assertThat(EnvironmentState.lastGrantChange(whole.roleGrants())).isEmpty();
    assertThat(StateTag.of(state)).isEqualTo(StateTag.of(whole));
    assertThat(EnvironmentLimits.servedBytes(state)).isEqualTo(EnvironmentLimits.servedBytes(whole));
    Map<String, Set<String>> grants = state.roleGrants();
    assertThat(grants).isEqualTo(whole.roleGrants());
  }
}
