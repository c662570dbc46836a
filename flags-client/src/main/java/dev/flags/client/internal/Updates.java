package dev.flags.client.internal;

import dev.flags.client.Source;
import dev.flags.core.Flag;
import dev.flags.core.FlagFormat;
import dev.flags.core.FlagSet;
import dev.flags.protocol.v1.Delta;
import dev.flags.protocol.v1.FlagDocument;
import dev.flags.protocol.v1.RoleGrant;
import dev.flags.protocol.v1.RoleMemberChange;
import dev.flags.protocol.v1.Snapshot;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;

/**
 * Immutable (stateless). Turns the server's messages into new snapshots: a Snapshot into a whole new
 * state, a Delta applied to the state held.
 *
 * <p>A flag document this SDK cannot read (written by a newer server with a feature this release does
 * not know, say) does not spoil the rest: the flag is left out of the compiled set and remembered as
 * unreadable, so that it answers the caller's default with reason ERROR and a detail, and the
 * problem is reported once, when the document arrives.
 */
final class Updates {

    private Updates() {
    }

    /**
     * @param snapshot a whole environment
     * @param unreadable told (key, problem) about each document that cannot be read
     * @param replaced the flags the snapshot replaces: their usage marks not yet reported carry over
     * @return the new state, live
     */
    static FlagState snapshot(Snapshot snapshot, BiConsumer<String, String> unreadable, FlagSet replaced) {
        Map<String, Flag> flags = new LinkedHashMap<>();
        Map<String, String> problems = new HashMap<>();
        for (FlagDocument doc : snapshot.getFlagsList()) {
            try {
                flags.put(doc.getKey(), read(doc));
                problems.remove(doc.getKey());
            } catch (RuntimeException e) {
                flags.remove(doc.getKey());
                problems.put(doc.getKey(), describe(e));
                unreadable.accept(doc.getKey(), describe(e));
            }
        }
        Map<String, Set<String>> grants = new HashMap<>();
        for (RoleGrant g : snapshot.getRoleGrantsList()) {
            if (g.getUserIdsCount() > 0) {
                grants.put(g.getRole(), new HashSet<>(g.getUserIdsList())); // FlagSet makes its own copy
            }
        }
        // Each flag passed FlagFormat's validation, the same FlagSet applies, and the map holds one flag
        // per key: this does not throw (if a bug made it, the Syncer would log it and subscribe again).
        FlagSet set = FlagSet.of(flags.values(), grants, snapshot.getVersion(), replaced);
        return new FlagState(set, problems, Source.LIVE, null, snapshot.getStateTag());
    }

    /**
     * Applies a delta; the caller has checked that {@code delta.getFromVersion()} is the held version.
     *
     * @param held the state held
     * @param delta the changes from the held version to {@code delta.getVersion()}
     * @param unreadable told (key, problem) about each document that cannot be read
     * @return the new state, live
     */
    static FlagState delta(FlagState held, Delta delta, BiConsumer<String, String> unreadable) {
        long version = delta.getVersion();
        FlagSet set = held.flags();
        // Copied only if a flag is or was unreadable: the usual delta has no problems to carry.
        Map<String, String> problems = held.unreadable().isEmpty() ? null : new HashMap<>(held.unreadable());
        List<Flag> upserted = new ArrayList<>(delta.getUpsertedCount());
        List<String> setAside = null; // keys of unreadable documents, removed with the deleted flags
        // By index: every SDK runs this for every change, and an iterator is one more object each time.
        for (int i = 0; i < delta.getUpsertedCount(); i++) {
            FlagDocument doc = delta.getUpserted(i);
            try {
                upserted.add(read(doc));
                if (problems != null) {
                    problems.remove(doc.getKey());
                }
            } catch (RuntimeException e) {
                if (setAside == null) {
                    setAside = new ArrayList<>();
                }
                setAside.add(doc.getKey()); // an unreadable flag is not served from an older document
                if (problems == null) {
                    problems = new HashMap<>();
                }
                problems.put(doc.getKey(), describe(e));
                unreadable.accept(doc.getKey(), describe(e));
            }
        }
        if (problems != null) {
            delta.getRemovedList().forEach(problems::remove);
        }
        List<String> removed = delta.getRemovedList();
        if (setAside != null) {
            setAside.addAll(removed);
            removed = setAside;
        }
        // One copy of the set for the whole delta (a delta after a long outage may change many flags).
        // Every flag in it passed the same validation in FlagFormat, so this does not throw.
        set = set.withChanges(upserted, removed, version);
        if (delta.getRoleGrantsCount() > 0) {
            // From a server that does not send member changes: each role named carries its complete new member
            // list; an empty list: nobody has it.
            Map<String, Set<String>> grants = new HashMap<>(set.roleGrants());
            for (RoleGrant g : delta.getRoleGrantsList()) {
                if (g.getUserIdsCount() == 0) {
                    grants.remove(g.getRole());
                } else {
                    grants.put(g.getRole(), new HashSet<>(g.getUserIdsList())); // FlagSet makes its own copy
                }
            }
            set = set.withRoleGrants(grants, version);
        }
        if (delta.getMemberChangesCount() > 0) {
            // What this SDK asks for: the users that got each role and those that lost it. Only their entries of
            // the grant index are made again, not the whole index (tens of thousands of grants).
            Map<String, List<String>> gotRole = new HashMap<>();
            Map<String, List<String>> lostRole = new HashMap<>();
            for (RoleMemberChange change : delta.getMemberChangesList()) {
                gotRole.put(change.getRole(), change.getAddedUserIdsList());
                lostRole.put(change.getRole(), change.getRemovedUserIdsList());
            }
            set = set.withRoleChanges(gotRole, lostRole, version);
        }
        if (set.version() != version) {
            // A delta that changed nothing this SDK sees still moves the version on.
            set = set.withRoleGrants(set.roleGrants(), version);
        }
        return new FlagState(set, problems == null ? Map.of() : problems, Source.LIVE, null, delta.getStateTag());
    }

    /**
     * @param delta a delta
     * @return the keys of the flags it may change, or null if it changes role grants (a flag that
     *         names a role changes with its members, so any flag may)
     */
    static Set<String> touched(Delta delta) {
        if (changesGrants(delta)) {
            return null;
        }
        if (delta.getUpsertedCount() == 1 && delta.getRemovedCount() == 0) {
            return Set.of(delta.getUpserted(0).getKey());
        }
        Set<String> keys = new HashSet<>();
        delta.getUpsertedList().forEach(d -> keys.add(d.getKey()));
        keys.addAll(delta.getRemovedList());
        return keys;
    }

    /** @return whether the delta changes some role's members, in either of the forms a server sends */
    static boolean changesGrants(Delta delta) {
        return delta.getRoleGrantsCount() > 0 || delta.getMemberChangesCount() > 0;
    }

    private static Flag read(FlagDocument doc) {
        Flag flag = FlagFormat.readFlag(doc.getJson());
        if (!flag.key().equals(doc.getKey())) {
            throw new IllegalArgumentException("the document's key \"" + flag.key() + "\" is not the key it was sent"
                    + " under, \"" + doc.getKey() + "\"");
        }
        return flag;
    }

    static String describe(RuntimeException e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return String.join("; ", List.of(m.split("\n\\s*")));
    }
}
