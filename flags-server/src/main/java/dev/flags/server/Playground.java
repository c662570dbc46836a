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
 * its version changes.
 */
public final class Playground {

    private final Journal journal;
    private final Map<String, FlagSet> compiled = new ConcurrentHashMap<>();

    /** @param journal the journal */
    public Playground(Journal journal) {
        this.journal = Objects.requireNonNull(journal, "journal");
    }

    /** @return the environment's flags and role grants, compiled; for a token that may read it */
    public FlagSet flagSet(Principal p, String env) {
        Access.requireRead(p, env);
        EnvironmentState state = Access.environment(journal, env);
        FlagSet cached = compiled.get(env);
        if (cached != null && cached.version() == state.version()) {
            return cached;
        }
        FlagSet fresh = compile(state);
        compiled.put(env, fresh);
        return fresh;
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
