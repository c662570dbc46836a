package dev.flags.server;

import dev.flags.core.Flag;
import dev.flags.core.FlagSet;
import dev.flags.server.auth.Principal;
import dev.flags.server.journal.CanonicalJson;
import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.Journal;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Thread-safe. Compiles an environment's flags with flags-core, the same evaluator the SDK uses, so
 * that the playground gives exactly the SDK's answer. The compiled set is kept per environment until
 * its version changes; then only the flags whose documents changed are read and compiled again (as an
 * SDK applies a delta), so that the first answer after a write to one flag of thousands does not cost a
 * whole recompile.
 */
public final class Playground {

    private final Journal journal;
    private final Map<String, Compiled> compiled = new ConcurrentHashMap<>();

    /** A compiled set and the documents and grants it was compiled from: what the next state is compared with. */
    private record Compiled(FlagSet set, Map<String, CanonicalJson> flags, Map<String, Set<String>> roleGrants) {
    }

    /** @param journal the journal */
    public Playground(Journal journal) {
        this.journal = Objects.requireNonNull(journal, "journal");
    }

    /** @return the environment's flags and role grants, compiled; for a token that may read it */
    public FlagSet flagSet(Principal p, String env) {
        Access.requireRead(p, env);
        EnvironmentState state = Access.environment(journal, env);
        Compiled cached = compiled.get(env);
        if (cached != null && cached.set().version() == state.version()) {
            return cached.set();
        }
        // Another request may put a set of another version meanwhile: each is built from the documents it
        // records, so whichever is kept, the next one compares with what that set really holds.
        Compiled fresh = cached == null ? new Compiled(compile(state), state.flags(), state.roleGrants())
                : updated(cached, state);
        compiled.put(env, fresh);
        // With each compile, the sets of environments deleted for good since go: one per pull request, say, would
        // otherwise each hold its compiled flags until the server restarts. A look at each key, beside a compile.
        Map<String, EnvironmentState> environments = journal.state().environments();
        compiled.keySet().removeIf(key -> !environments.containsKey(key));
        return fresh.set();
    }

    /** @return the environments whose compiled sets are kept */
    Set<String> compiledEnvironments() {
        return Set.copyOf(compiled.keySet());
    }

    private static Compiled updated(Compiled old, EnvironmentState state) {
        List<Flag> upserted = new ArrayList<>();
        List<String> removed = new ArrayList<>();
        state.flags().forEach((key, doc) -> {
            CanonicalJson before = old.flags().get(key);
            if (before != doc && !doc.equals(before)) { // unchanged documents are the same objects from state to state
                upserted.add(FlagService.parse(doc).flag());
            }
        });
        for (String key : old.flags().keySet()) {
            if (!state.flags().containsKey(key)) {
                removed.add(key);
            }
        }
        FlagSet set = old.set().withChanges(upserted, removed, state.version());
        if (!state.roleGrants().equals(old.roleGrants())) {
            set = set.withRoleGrants(grantsByRole(state.roleGrants()), state.version());
        }
        return new Compiled(set, state.flags(), state.roleGrants());
    }

    /** Compiles one environment's state; also what an SDK builds from a snapshot. */
    static FlagSet compile(EnvironmentState state) {
        List<Flag> flags = new ArrayList<>();
        for (CanonicalJson doc : state.flags().values()) {
            flags.add(FlagService.parse(doc).flag());
        }
        return FlagSet.of(flags, grantsByRole(state.roleGrants()), state.version());
    }

    /** The journal keeps grants by user; flags-core and the wire want them by role. */
    static Map<String, Set<String>> grantsByRole(Map<String, Set<String>> byUser) {
        Map<String, Set<String>> byRole = new HashMap<>();
        byUser.forEach((user, roles) -> roles.forEach(r -> byRole.computeIfAbsent(r, k -> new LinkedHashSet<>()).add(user)));
        return byRole;
    }
}
