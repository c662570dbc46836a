package dev.flags.server.sync;

import dev.flags.protocol.v1.Delta;
import dev.flags.protocol.v1.FlagDocument;
import dev.flags.protocol.v1.Heartbeat;
import dev.flags.protocol.v1.RoleGrant;
import dev.flags.protocol.v1.RoleMemberChange;
import dev.flags.protocol.v1.Snapshot;
import dev.flags.protocol.v1.SyncMessage;
import dev.flags.protocol.v1.Waiting;
import dev.flags.server.journal.CanonicalJson;
import dev.flags.server.journal.EnvironmentState;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Immutable (stateless). Turns environment states into wire messages: a whole state into a
 * Snapshot, two states into the Delta between them.
 *
 * <p>Output is deterministic (flags, removed keys, roles and members sorted), so equal inputs give
 * equal bytes. The journal keeps grants as user id to roles; the wire carries role to user ids, and a
 * Delta names only the roles whose member set changed: to an SDK that accepts member changes, with the
 * users that got and lost each; to an older SDK, with each one's complete new member list.
 */
final class Messages {

  private Messages() {}

  /** The whole state, as the first message of a stream or the answer to GetSnapshot. */
  static Snapshot snapshot(EnvironmentState state, long heartbeatIntervalMillis) {
    Snapshot.Builder b = Snapshot.newBuilder()
        .setEnvironment(state.key())
        .setVersion(state.version())
        .setHeartbeatIntervalMillis(heartbeatIntervalMillis)
        .setStateTag(StateTag.of(state));
    new TreeMap<>(state.flags()).forEach((key, json) -> b.addFlags(document(key, json)));
    membersByRole(state.roleGrants()).forEach((role, users) -> b.addRoleGrants(
        RoleGrant.newBuilder().setRole(role).addAllUserIds(users)));
    return b.build();
  }

  /**
   * The changes that take {@code from} to {@code to}: flags whose document differs or that are new,
   * keys that are no longer served, roles whose members differ. Versions that changed nothing a SDK
   * sees (an archive, a self-service mark) still give a Delta: it moves the SDK's version on.
   *
   * @param memberChanges true for an SDK that set {@code accepts_member_changes}: the roles' changes of members,
   *     not their complete member lists
   */
  static Delta delta(EnvironmentState from, EnvironmentState to, long committedAtMillis, boolean memberChanges) {
    Delta.Builder b = Delta.newBuilder()
        .setFromVersion(from.version())
        .setVersion(to.version())
        .setCommittedAtMillis(committedAtMillis)
        .setStateTag(StateTag.of(to)); // once per version an SDK comes from: the Delta is shared
    Map<String, CanonicalJson> before = from.flags();
    Map<String, CanonicalJson> after = to.flags();
    if (before != after) {
      SortedMap<String, CanonicalJson> upserted = new TreeMap<>();
      after.forEach((key, json) -> {
        CanonicalJson old = before.get(key);
        if (old != json && !json.equals(old)) {
          upserted.put(key, json);
        }
      });
      upserted.forEach((key, json) -> b.addUpserted(document(key, json)));
      SortedSet<String> removed = new TreeSet<>();
      for (String key : before.keySet()) {
        if (!after.containsKey(key)) {
          removed.add(key);
        }
      }
      b.addAllRemoved(removed);
    }
    if (from.roleGrants() != to.roleGrants()) {
      SortedMap<String, MemberChange> changes = memberChanges(from.roleGrants(), to.roleGrants());
      if (memberChanges) {
        changes.forEach((role, change) -> b.addMemberChanges(RoleMemberChange.newBuilder().setRole(role)
            .addAllAddedUserIds(change.added()).addAllRemovedUserIds(change.removed())));
      } else if (!changes.isEmpty()) {
        SortedMap<String, SortedSet<String>> members = new TreeMap<>();
        changes.keySet().forEach(role -> members.put(role, new TreeSet<>()));
        to.roleGrants().forEach((user, granted) -> {
          for (String role : granted) {
            SortedSet<String> users = members.get(role);
            if (users != null) {
              users.add(user);
            }
          }
        });
        members.forEach((role, users) -> b.addRoleGrants(
            RoleGrant.newBuilder().setRole(role).addAllUserIds(users)));
      }
    }
    return b.build();
  }

  static Heartbeat heartbeat(long version, long serverTimeMillis, long intervalMillis) {
    return Heartbeat.newBuilder()
        .setVersion(version)
        .setServerTimeMillis(serverTimeMillis)
        .setHeartbeatIntervalMillis(intervalMillis)
        .build();
  }

  static SyncMessage waiting(long serverTimeMillis, long intervalMillis) {
    return SyncMessage.newBuilder().setWaiting(Waiting.newBuilder()
        .setServerTimeMillis(serverTimeMillis)
        .setHeartbeatIntervalMillis(intervalMillis)).build();
  }

  static SyncMessage message(Snapshot snapshot) {
    return SyncMessage.newBuilder().setSnapshot(snapshot).build();
  }

  static SyncMessage message(Delta delta) {
    return SyncMessage.newBuilder().setDelta(delta).build();
  }

  static SyncMessage message(Heartbeat heartbeat) {
    return SyncMessage.newBuilder().setHeartbeat(heartbeat).build();
  }

  /** The users that got a role and those that lost it, each list sorted. */
  private record MemberChange(SortedSet<String> added, SortedSet<String> removed) {
    MemberChange() {
      this(new TreeSet<>(), new TreeSet<>());
    }
  }

  /** For each role granted to or taken from at least one user between two grant maps, who got it and who lost it. */
  private static SortedMap<String, MemberChange> memberChanges(
      Map<String, Set<String>> before, Map<String, Set<String>> after) {
    SortedMap<String, MemberChange> changes = new TreeMap<>();
    Optional<EnvironmentState.GrantChange> last = EnvironmentState.lastGrantChange(after);
    if (last.isPresent() && last.get().before() == before) {
      // The common case, one grant after another: only the users it names, not every grant.
      for (String user : last.get().users()) {
        compare(user, before.getOrDefault(user, Set.of()), after.getOrDefault(user, Set.of()), changes);
      }
      return changes;
    }
    after.forEach((user, granted) -> compare(user, before.getOrDefault(user, Set.of()), granted, changes));
    before.forEach((user, granted) -> {
      if (!after.containsKey(user)) {
        compare(user, granted, Set.of(), changes);
      }
    });
    return changes;
  }

  /** Adds to {@code changes} the roles a user got and lost. */
  private static void compare(String user, Set<String> old, Set<String> granted, Map<String, MemberChange> changes) {
    if (old == granted || old.equals(granted)) {
      return;
    }
    for (String role : granted) {
      if (!old.contains(role)) {
        changes.computeIfAbsent(role, r -> new MemberChange()).added().add(user);
      }
    }
    for (String role : old) {
      if (!granted.contains(role)) {
        changes.computeIfAbsent(role, r -> new MemberChange()).removed().add(user);
      }
    }
  }

  /** Inverts user id to roles into role to sorted user ids, roles sorted. */
  static SortedMap<String, SortedSet<String>> membersByRole(Map<String, Set<String>> grants) {
    SortedMap<String, SortedSet<String>> byRole = new TreeMap<>();
    Map<String, SortedSet<String>> index = new HashMap<>();
    grants.forEach((user, roles) -> {
      for (String role : roles) {
        index.computeIfAbsent(role, r -> new TreeSet<>()).add(user);
      }
    });
    byRole.putAll(index);
    return byRole;
  }

  private static FlagDocument document(String key, CanonicalJson json) {
    return FlagDocument.newBuilder().setKey(key).setJson(json.toString()).build();
  }
}
