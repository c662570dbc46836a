package dev.flags.server;

import dev.flags.server.auth.Principal;
import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.Journal;
import dev.flags.server.journal.ServerState;

/**
 * Immutable (stateless). Authorization checks shared by the services: 403 with a clear reason. The HTTP API makes them
 * too, before it reads a request's body, so that a token that may not do a thing is told so first, not about its body.
 */
public final class Access {

    private Access() {
    }

    /**
     * @param p who asks
     * @throws ApiException 403 unless {@code p} is an admin token
     */
    public static void requireAdmin(Principal p) {
        if (!p.isAdmin()) {
            throw ApiException.forbidden("this needs an admin token; this token's scope is " + p.scope().apiName());
        }
    }

    /**
     * @param p who asks
     * @param env the environment
     * @throws ApiException 403 unless {@code p} may read the environment's flags
     */
    public static void requireRead(Principal p, String env) {
        if (!p.canRead(env)) {
            throw ApiException.forbidden("this token (scope " + p.scope().apiName() + ") may not read environment \"" + env + "\""
                    + itsEnvironments(p, env));
        }
    }

    /**
     * The environments the token is for, when the one asked for is not among them: a mistyped name then
     * reads as one, not as a missing permission. Only the token's own environments are named.
     */
    private static String itsEnvironments(Principal p, String env) {
        if (p.isAdmin() || p.environments().contains(env) || p.environments().isEmpty()) {
            return "";
        }
        return "; it is for " + (p.environments().size() == 1 ? "environment " : "environments ")
                + p.environments().stream().sorted().map(e -> "\"" + e + "\"").collect(java.util.stream.Collectors.joining(", "));
    }

    /**
     * History and audit name who changed what and who holds which role: for the people who change
     * flags (editors and admins), not for testers, who may read the flags themselves.
     */
    static void requireHistory(Principal p, String env) {
        if (!p.canWriteFlags(env)) {
            throw ApiException.forbidden("history, audit and past states of environment \"" + env + "\" need an editor token of"
                    + " it or an admin token; this token's scope is " + p.scope().apiName() + itsEnvironments(p, env));
        }
    }

    /**
     * @param p who asks
     * @param env the environment
     * @throws ApiException 403 unless {@code p} may change the environment's flags
     */
    public static void requireWriteFlags(Principal p, String env) {
        requireWriteFlags(p, env, "change flags");
    }

    /**
     * As {@link #requireWriteFlags(Principal, String)}, with the refusal naming what was asked ("schedule changes of
     * flags", "cancel scheduled changes"): a tester cancelling a schedule is not told they may not "change flags".
     */
    public static void requireWriteFlags(Principal p, String env, String action) {
        if (!p.canWriteFlags(env)) {
            throw ApiException.forbidden("this token (scope " + p.scope().apiName() + ") may not " + action + " in environment \""
                    + env + "\"" + itsEnvironments(p, env));
        }
    }

    /** The environment, or 404. Checked after authorization, so that existence does not leak to strangers. */
    static EnvironmentState environment(Journal journal, String env) {
        ServerState state = journal.state();
        return state.environment(env).orElseThrow(() -> ApiException.notFound("environment", state.wasDeleted(env)
                ? deleted(env) : "there is no environment \"" + env + "\""));
    }

    /** What a 404 says of an environment deleted for good: gone, and where its history is. */
    static String deleted(String env) {
        return "environment \"" + env + "\" was deleted for good; its changes remain in the audit log (GET"
                + " /api/v1/audit?environment=" + env + ", flags audit -e " + env + "), and its key is not used again";
    }

    static EnvironmentState writableEnvironment(Journal journal, String env) {
        EnvironmentState state = environment(journal, env);
        if (state.archived()) {
            throw ApiException.conflict("environment \"" + env + "\" is archived and accepts no changes; an admin restores it"
                    + " with POST /api/v1/environments/" + env + "/restore (flags environments restore " + env + ")");
        }
        return state;
    }
}
