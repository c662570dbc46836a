package dev.flags.cli;

import static dev.flags.cli.FlagsCommand.EXIT_FAILED;
import static dev.flags.cli.FlagsCommand.EXIT_OK;
import static dev.flags.cli.FlagsCommand.oneLine;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * Not thread-safe (one command's). {@code flags whoami}: the token this command runs with, as the server knows it, and
 * what it may do: for an on-call engineer to check before the incident that their token can throw the kill switch.
 */
@Command(name = "whoami", description = "The token this runs with (--token, FLAGS_TOKEN), as the server knows it: id, name,"
        + " scope, environments, expiry, and what it may do. Never its secret.",
        footerHeading = FlagsCommand.EXAMPLES,
        footer = {"  flags whoami",
                "  FLAGS_TOKEN=$(cat oncall.token) flags whoami --json"})
final class Whoami implements Callable<Integer> {

    /** The server's names of rights ({@code may}), in words; one this release does not know is shown as the server names it. */
    private static final Map<String, String> RIGHTS = Map.of(
            "admin", "everything (admin: tokens, environments, every flag)",
            "read", "read flags",
            "history", "read history and audit",
            "switchOff", "switch flags off (the kill switch)",
            "changeFlags", "change flags",
            "grantSelfServiceRoles", "grant self-service roles",
            "grantSelfServiceRolesToItsUser", "grant self-service roles to its user");

    @Mixin FlagsCommand.ConnectionOptions o;
    @Mixin FlagsCommand.JsonOutput output;
    @Spec CommandSpec spec;

    @Override
    public Integer call() {
        JsonNode me = ask(o.api(spec));
        if (me == null) {
            spec.commandLine().getErr().println("flags: the server does not say who a token is (a release from before"
                    + " whoami): an admin's flags tokens show ID shows a token");
            return EXIT_FAILED;
        }
        if (output.json) {
            FlagsCommand.print(spec, me);
            return EXIT_OK;
        }
        PrintWriter out = spec.commandLine().getOut();
        List<String> envs = new ArrayList<>();
        me.path("environments").forEach(e -> envs.add(oneLine(e.asText())));
        String scope = oneLine(me.path("scope").asText());
        out.println(oneLine(me.path("id").asText()) + " \"" + oneLine(me.path("name").asText()) + "\": " + scope
                + (scope.equals("admin") ? " of every environment" : (envs.size() == 1 ? " of environment " : " of environments ")
                + String.join(", ", envs))
                + (me.hasNonNull("userId") ? ", for user \"" + oneLine(me.get("userId").asText()) + "\"" : ""));
        List<String> may = new ArrayList<>();
        me.path("may").forEach(r -> may.add(RIGHTS.getOrDefault(r.asText(), oneLine(r.asText()))));
        // An admin's other rights are in "everything": listed after it, they read as if they were all (QA56 F9).
        List<String> shown = may.contains(RIGHTS.get("admin")) ? List.of(RIGHTS.get("admin")) : may;
        out.println("may: " + (shown.isEmpty() ? "nothing" : String.join(", ", shown)));
        out.println("expires: " + (me.hasNonNull("expiresAt") ? oneLine(me.get("expiresAt").asText()) : "never"));
        for (JsonNode env : me.path("archivedEnvironments")) {
            out.println("note: environment " + oneLine(env.asText()) + " is archived: it takes no change there, kill switches"
                    + " included, until an admin restores it");
        }
        for (JsonNode env : me.path("deletedEnvironments")) {
            out.println("note: environment " + oneLine(env.asText()) + " was deleted for good: nothing there any more");
        }
        return EXIT_OK;
    }

    /** @return the server's answer for the token, or null if the server is older than {@code GET /whoami} */
    static JsonNode ask(Api api) {
        try {
            return api.expect(api.call("GET", "/whoami", null, null), "may", "what a token may do");
        } catch (CliException e) {
            if (e.httpStatus() == 404 && e.getMessage().contains("no endpoint")) {
                return null;
            }
            throw e;
        }
    }
}
