package dev.flags.server;

import com.fasterxml.jackson.databind.JsonNode;
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
     * flags, stop them, or watch them (editors, operators, viewers, admins), not for testers, who may read the flags
     * themselves.
     */
    static void requireHistory(Principal p, String env) {
        if (!p.canReadHistory(env)) {
            throw ApiException.forbidden("history, audit and past states of environment \"" + env + "\" need an editor,"
                    + " operator or viewer token of it or an admin token; this token's scope is " + p.scope().apiName()
                    + itsEnvironments(p, env));
        }
    }

    /**
     * What may be asked before a PATCH's body is read: at least the kill switch. A token that may not even switch the
     * environment's flags off is told so first, not about its body.
     *
     * @throws ApiException 403 unless {@code p} may switch the environment's flags off
     */
    public static void requireSwitchOff(Principal p, String env) {
        if (!p.canSwitchOff(env)) {
            requireWriteFlags(p, env);
        }
    }

    /**
     * @param body a PATCH body
     * @throws ApiException 403 unless {@code p} may change the environment's flags, or the body only switches the flag
     *     off and {@code p} may do that (an operator's token)
     */
    public static void requirePatch(Principal p, String env, JsonNode body) {
        if (p.canWriteFlags(env)) {
            return;
        }
        requireSwitchOff(p, env);
        if (!onlySwitchesOff(body)) {
            throw ApiException.forbidden("this token (scope " + p.scope().apiName() + ") may only switch flags off in"
                    + " environment \"" + env + "\": a PATCH of {\"enabled\": false} and nothing else (flags off); this one"
                    + " asks for more, which needs an editor token");
        }
    }

    /**
     * @param body a PATCH body
     * @return whether it only switches the flag off: the kill switch, which an operator may throw, and which works
     *     with a token's change budget spent
     */
    public static boolean onlySwitchesOff(JsonNode body) {
        return body != null && body.isObject() && body.size() == 1 && body.path("enabled").isBoolean()
                && !body.get("enabled").booleanValue();
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
        // A near key is named: only an admin token gets here for a key that never was (any other is refused first for
        // an environment it is not for, and is for none that never was), and an admin may list them all anyway.
        return state.environment(env).orElseThrow(() -> ApiException.notFound("environment", state.wasDeleted(env)
                ? deleted(env) : "there is no environment \"" + env + "\"" + dev.flags.core.Suggestions.closest(env,
                        new java.util.TreeSet<>(state.environments().keySet()), 2).map(near -> "; did you mean \"" + near + "\"?")
                        .orElse("")));
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
