package dev.flags.server.sync;

import dev.flags.protocol.v1.Delta;
import dev.flags.protocol.v1.FlagDocument;
import dev.flags.protocol.v1.Heartbeat;
import dev.flags.protocol.v1.RoleGrant;
import dev.flags.protocol.v1.Snapshot;
import dev.flags.protocol.v1.SyncMessage;
import dev.flags.server.journal.CanonicalJson;
import dev.flags.server.journal.EnvironmentState;
import java.util.HashMap;
import java.util.Map;
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
 * Delta names only the roles whose member set changed, each with its complete new member list.
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
   */
  static Delta delta(EnvironmentState from, EnvironmentState to, long committedAtMillis) {
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
      Set<String> roles = changedRoles(from.roleGrants(), to.roleGrants());
      if (!roles.isEmpty()) {
        SortedMap<String, SortedSet<String>> members = new TreeMap<>();
        roles.forEach(role -> members.put(role, new TreeSet<>()));
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

  static SyncMessage message(Snapshot snapshot) {
    return SyncMessage.newBuilder().setSnapshot(snapshot).build();
  }

  static SyncMessage message(Delta delta) {
    return SyncMessage.newBuilder().setDelta(delta).build();
  }

  static SyncMessage message(Heartbeat heartbeat) {
    return SyncMessage.newBuilder().setHeartbeat(heartbeat).build();
  }

  /** The roles granted to or taken from at least one user between two grant maps. */
  private static Set<String> changedRoles(
      Map<String, Set<String>> before, Map<String, Set<String>> after) {
    Set<String> roles = new TreeSet<>();
    after.forEach((user, granted) -> {
      Set<String> old = before.getOrDefault(user, Set.of());
      if (old != granted && !old.equals(granted)) {
        for (String role : granted) {
          if (!old.contains(role)) {
            roles.add(role);
          }
        }
        for (String role : old) {
          if (!granted.contains(role)) {
            roles.add(role);
          }
        }
      }
    });
    before.forEach((user, granted) -> {
      if (!after.containsKey(user)) {
        roles.addAll(granted);
      }
    });
    return roles;
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
