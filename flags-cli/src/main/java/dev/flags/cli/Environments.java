package dev.flags.cli;

import static dev.flags.cli.FlagsCommand.EXIT_OK;
import static dev.flags.cli.FlagsCommand.oneLine;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code flags environments}: the environments this token may read, and how full each is. Every SDK of an
 * environment holds all of it, so the server keeps each within limits (a flag count and a size); an operator
 * sees here which is near them before a release's new flag is refused.
 */
@Command(name = "environments", description = "The environments this token may read: version, flags and size against"
        + " the server's limits for one environment, and whether archived.",
        subcommands = {Environments.Create.class, Environments.Archive.class, Environments.Restore.class,
            Environments.Delete.class})
final class Environments implements Callable<Integer> {
    @Mixin FlagsCommand.ConnectionOptions o;
    @Mixin FlagsCommand.JsonOutput output;
    @Spec CommandSpec spec;

    @Override
    public Integer call() {
        JsonNode answer = o.api(spec).call("GET", "/environments", null, null);
        if (output.json) {
            FlagsCommand.print(spec, answer);
            return EXIT_OK;
        }
        JsonNode environments = answer.path("environments");
        if (environments.isEmpty()) {
            spec.commandLine().getErr().println("flags: no environments this token may read");
            return EXIT_OK;
        }
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"ENVIRONMENT", "VERSION", "FLAGS", "SIZE", "FULL", "STATE"});
        for (JsonNode e : environments) {
            JsonNode limits = e.path("limits");
            long flags = e.path("flags").asLong();
            long bytes = e.path("bytes").asLong();
            boolean known = limits.isObject(); // a server older than its limits says neither size nor limits
            rows.add(new String[] {
                oneLine(e.path("key").asText()),
                "v" + e.path("version").asLong(),
                known ? flags + " of " + limits.path("flags").asLong() : String.valueOf(flags),
                known ? size(bytes) + " of " + size(limits.path("bytes").asLong()) : "",
                known ? full(flags, bytes, limits) + "%" : "",
                e.path("archived").asBoolean() ? "archived" : ""});
        }
        int[] widths = new int[rows.get(0).length];
        for (String[] r : rows) {
            for (int i = 0; i < r.length; i++) {
                widths[i] = Math.max(widths[i], r[i].length());
            }
        }
        PrintWriter out = spec.commandLine().getOut();
        for (String[] r : rows) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < r.length; i++) {
                line.append(String.format("%-" + widths[i] + "s  ", r[i]));
            }
            out.println(line.toString().stripTrailing());
        }
        return EXIT_OK;
    }

    /** As the server's gauge: the larger of the two shares, in whole percent, rounded down. */
    static long full(long flags, long bytes, JsonNode limits) {
        return Math.max(100 * flags / Math.max(1, limits.path("flags").asLong()),
                100 * bytes / Math.max(1, limits.path("bytes").asLong()));
    }

    /** 512 B, 3.4 KiB, 16 MiB, 1.2 MiB: a size as people read it, to a tenth. */
    static String size(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        double value = bytes < 1 << 20 ? bytes / 1024.0 : bytes / 1048576.0;
        String unit = bytes < 1 << 20 ? " KiB" : " MiB";
        String number = String.format(java.util.Locale.ROOT, "%.1f", value);
        return (number.endsWith(".0") ? number.substring(0, number.length() - 2) : number) + unit;
    }

    /** What the commands that change an environment share: the server, the environment, why. */
    abstract static class EnvironmentChange implements Callable<Integer> {
        @Mixin FlagsCommand.ConnectionOptions o;
        @Mixin FlagsCommand.CommentOption why;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "ENV", description = "The environment's key, such as staging.") String key;

        /** @return the server's answer */
        abstract JsonNode change(Api api);

        /** @return what became of the environment, for the line on stderr */
        abstract String done();

        /** @return what became of the environment, from the server's answer; by default {@link #done()} */
        String done(JsonNode answer) {
            return done();
        }

        @Override
        public Integer call() {
            if (key.isEmpty()) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), "ENV must not be empty");
            }
            JsonNode answer = change(o.api(spec));
            spec.commandLine().getOut().println(FlagsCommand.terminalJson(answer));
            spec.commandLine().getErr().println("flags: environment \"" + oneLine(key) + "\" " + done(answer));
            return EXIT_OK;
        }

        String path() {
            return "/environments/" + Api.path(key);
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Create an environment (admin token), empty or"
            + " as a copy of another's flags and self-service roles (--clone-from; not its role grants).")
    static final class Create extends EnvironmentChange {
        @Option(names = "--name", description = "A name for people, such as \"Staging (EU)\".") String name;
        @Option(names = "--clone-from", paramLabel = "ENV", description = "Copy this environment's flags (each at version 1)"
                + " and self-service roles.") String cloneFrom;

        @Override
        JsonNode change(Api api) {
            if (cloneFrom != null && cloneFrom.isEmpty()) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--clone-from must not be empty: name the"
                        + " environment to copy, or leave it out for an empty one");
            }
            com.fasterxml.jackson.databind.node.ObjectNode body = Api.JSON.createObjectNode().put("key", key);
            if (name != null) {
                body.put("name", name);
            }
            if (cloneFrom != null) {
                body.put("cloneFrom", cloneFrom);
            }
            return api.call("POST", "/environments", body, why.comment);
        }

        @Override
        String done() {
            return "created" + (cloneFrom == null ? "" : " from \"" + oneLine(cloneFrom) + "\"");
        }
    }

    @Command(name = "archive", mixinStandardHelpOptions = true, description = "Archive an environment (admin token): its SDKs"
            + " keep serving its flags as they are, and none of them can be changed, kill switches included, until it is"
            + " restored. Refused while SDKs are connected to it (flags sdks lists them), unless --with-sdks.")
    static final class Archive extends EnvironmentChange {
        @Option(names = "--with-sdks", description = "Archive it even though SDKs are connected to it: they keep serving its"
                + " flags, and no kill switch can reach them until it is restored.")
        boolean withSdks;

        @Override
        JsonNode change(Api api) {
            return api.call("DELETE", path() + (withSdks ? "?withSdks=true" : ""), null, why.comment);
        }

        @Override
        String done() {
            return "archived: its flags take no change, kill switches included, until flags environments restore "
                    + oneLine(key);
        }
    }

    @Command(name = "restore", mixinStandardHelpOptions = true, description = "Restore an archived environment (admin"
            + " token): it takes changes again, with its flags, role grants and tokens as they were.")
    static final class Restore extends EnvironmentChange {
        @Override
        JsonNode change(Api api) {
            return api.call("POST", path() + "/restore", null, why.comment);
        }

        @Override
        String done() {
            return "restored: it takes changes again";
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Delete an archived environment for good (admin"
            + " token): the server no longer keeps its flags, archived flags, role grants or schedules, and frees the memory"
            + " they took; its SDKs are told it is gone and keep serving what they have. Its changes stay in the audit log"
            + " (flags audit -e ENV) while the journal keeps them, and its key is never used again. A served environment is"
            + " refused: archive it first (flags environments archive).")
    static final class Delete extends EnvironmentChange {
        @Override
        JsonNode change(Api api) {
            return api.call("DELETE", path() + "?archived=true", null, why.comment);
        }

        @Override
        String done() {
            return "deleted for good: flags audit -e " + oneLine(key) + " shows its changes; its key is not used again";
        }

        @Override
        String done(JsonNode answer) {
            List<String> tokens = new ArrayList<>();
            answer.path("tokens").forEach(t -> tokens.add(oneLine(t.asText())));
            int schedules = answer.path("schedules").asInt(0);
            return done() + (schedules == 0 ? "" : "; " + schedules + " pending schedule" + (schedules == 1 ? " was" : "s were")
                    + " dropped with it, never to run")
                    + (tokens.isEmpty() ? "" : "; revoke the tokens made for it, which read nothing now: "
                    + String.join(", ", tokens) + " (flags tokens revoke ID)");
        }
    }
}
