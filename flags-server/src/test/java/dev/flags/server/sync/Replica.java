package dev.flags.server.sync;

import dev.flags.protocol.v1.Delta;
import dev.flags.protocol.v1.FlagDocument;
import dev.flags.protocol.v1.RoleGrant;
import dev.flags.protocol.v1.RoleMemberChange;
import dev.flags.protocol.v1.Snapshot;
import dev.flags.protocol.v1.SyncMessage;
import dev.flags.server.journal.EnvironmentState;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Not thread-safe. What an SDK would hold: an environment's flags and role members at a version,
 * kept by applying sync messages the way the protocol says, and failing on the first message that
 * breaks it (a Delta that does not start at the version held, a version that does not increase, a
 * heartbeat of another version).
 */
final class Replica {

  long version = -1;
  final Map<String, String> flags = new HashMap<>();
  final Map<String, Set<String>> members = new HashMap<>();
  int snapshots;
  int deltas;
  int heartbeats;
  /** The largest number of versions one Delta covered. */
  long largestStep;
  Delta lastDelta;

  /** A replica that holds nothing yet (version 0 for the protocol). */
  static Replica empty() {
    Replica r = new Replica();
    r.version = 0;
    return r;
  }

  /** A replica that holds exactly this state, as an SDK that synced up to it earlier would. */
  static Replica of(EnvironmentState state) {
    Replica r = new Replica();
    r.version = state.version();
    state.flags().forEach((k, v) -> r.flags.put(k, v.toString()));
    Messages.membersByRole(state.roleGrants()).forEach((role, users) ->
        r.members.put(role, new TreeSet<>(users)));
    return r;
  }

  void apply(SyncMessage m) {
    switch (m.getKindCase()) {
      case SNAPSHOT -> {
        Snapshot s = m.getSnapshot();
        flags.clear();
        members.clear();
        for (FlagDocument d : s.getFlagsList()) {
          flags.put(d.getKey(), d.getJson());
        }
        for (RoleGrant g : s.getRoleGrantsList()) {
          members.put(g.getRole(), new TreeSet<>(g.getUserIdsList()));
        }
        version = s.getVersion();
        snapshots++;
      }
      case DELTA -> {
        Delta d = m.getDelta();
        if (d.getFromVersion() != version) {
          throw new AssertionError("delta from " + d.getFromVersion() + " to " + d.getVersion()
              + " does not start at the version held, " + version);
        }
        if (d.getVersion() <= d.getFromVersion()) {
          throw new AssertionError("delta does not move forward: " + d);
        }
        for (FlagDocument doc : d.getUpsertedList()) {
          flags.put(doc.getKey(), doc.getJson());
        }
        for (String key : d.getRemovedList()) {
          if (flags.remove(key) == null) {
            throw new AssertionError("delta removes a flag not held: " + key);
          }
        }
        if (d.getRoleGrantsCount() > 0 && d.getMemberChangesCount() > 0) {
          throw new AssertionError("delta has both complete member lists and member changes: " + d);
        }
        for (RoleGrant g : d.getRoleGrantsList()) {
          if (g.getUserIdsCount() == 0) {
            members.remove(g.getRole());
          } else {
            members.put(g.getRole(), new TreeSet<>(g.getUserIdsList()));
          }
        }
        for (RoleMemberChange c : d.getMemberChangesList()) {
          Set<String> held = members.computeIfAbsent(c.getRole(), r -> new TreeSet<>());
          for (String user : c.getRemovedUserIdsList()) {
            if (!held.remove(user)) {
              throw new AssertionError("delta removes " + user + " from " + c.getRole() + ", which it is not in");
            }
          }
          for (String user : c.getAddedUserIdsList()) {
            if (!held.add(user)) {
              throw new AssertionError("delta adds " + user + " to " + c.getRole() + ", which it is already in");
            }
          }
          if (held.isEmpty()) {
            members.remove(c.getRole());
          }
        }
        largestStep = Math.max(largestStep, d.getVersion() - d.getFromVersion());
        version = d.getVersion();
        lastDelta = d;
        deltas++;
      }
      case HEARTBEAT -> {
        if (version >= 0 && m.getHeartbeat().getVersion() != version) {
          throw new AssertionError("heartbeat of version " + m.getHeartbeat().getVersion()
              + " while holding " + version);
        }
        heartbeats++;
      }
      default -> throw new AssertionError("empty sync message");
    }
  }

  /** The flags as json text by key, sorted, for comparisons. */
  Map<String, String> flags() {
    return new TreeMap<>(flags);
  }

  Map<String, Set<String>> members() {
    return new TreeMap<>(members);
  }

  /** The same view of a journal state. */
  static Map<String, String> flagsOf(EnvironmentState state) {
    Map<String, String> out = new TreeMap<>();
    state.flags().forEach((k, v) -> out.put(k, v.toString()));
    return out;
  }

  static Map<String, Set<String>> membersOf(EnvironmentState state) {
    Map<String, Set<String>> out = new TreeMap<>();
    Messages.membersByRole(state.roleGrants()).forEach((role, users) ->
        out.put(role, new TreeSet<>(users)));
    return out;
  }
}
