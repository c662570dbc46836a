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
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Not thread-safe (one command's). {@code flags sdks}: the SDK instances connected to an environment now, and whether
 * each has applied its version (or a given one), as {@code GET .../sdks} answers: the furthest behind first.
 */
@Command(name = "sdks", description = "The SDKs connected to the environment now, and which have applied its version (or"
        + " --version N, the version a change made): pending first, then those that cannot say, then those that have it.",
        footerHeading = FlagsCommand.EXAMPLES,
        footer = {"  flags sdks -e production",
                "  flags sdks --version 43    (who has the change that made version 43)"})
final class Sdks implements Callable<Integer> {

    @Mixin FlagsCommand.ServerOptions o;
    @Mixin FlagsCommand.JsonOutput output;
    @Spec CommandSpec spec;
    /** Its own: picocli's standard help options, added to every command, are left out where --version is taken. */
    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.") boolean help;
    @Option(names = "--version", paramLabel = "N", description = "The version to count acknowledgements of (default: the"
            + " environment's version now).") Long version;
    @Option(names = "--limit", paramLabel = "N", defaultValue = "100", description = "List at most N (0 to 1000, default"
            + " ${DEFAULT-VALUE}); the counts are of them all.") int limit;
    @Option(names = "--closed-after", paramLabel = "INSTANT", description = "Also list the instances their application"
            + " closed at or after this time (such as 2026-12-06T15:00:00Z; the server keeps them 65 minutes), standing"
            + " closed.") String closedAfter;

    @Override
    public Integer call() {
        if (version != null && version < 1) {
            throw new ParameterException(spec.commandLine(), "--version must be a version of the environment, 1 or more; was "
                    + version);
        }
        if (limit < 0 || limit > 1000) {
            throw new ParameterException(spec.commandLine(), "--limit must be from 0 to 1000; was " + limit);
        }
        if (closedAfter != null) {
            try {
                closedAfter = java.time.Instant.parse(closedAfter.strip()).toString();
            } catch (java.time.format.DateTimeParseException e) {
                throw new ParameterException(spec.commandLine(), "--closed-after must be an instant such as"
                        + " 2026-12-06T15:00:00Z; was '" + closedAfter + "'");
            }
        }
        Api api = o.api(spec);
        JsonNode answer = api.expect(api.call("GET", "/environments/" + Api.path(o.environment()) + "/sdks?limit=" + limit
                + (version == null ? "" : "&version=" + version)
                + (closedAfter == null ? "" : "&closedAfter=" + Api.path(closedAfter)), null, null), "pending", "a list of SDKs");
        if (output.json) {
            FlagsCommand.print(spec, answer);
            return EXIT_OK;
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        long target = answer.path("target").asLong();
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"APPLICATION", "SDK", "INSTANCE", "STANDING", "APPLIED", "SENT", "CONNECTED"});
        for (JsonNode s : answer.path("sdks")) {
            rows.add(new String[] {
                s.hasNonNull("application") ? oneLine(s.get("application").asText()) : "(unnamed)",
                oneLine(s.path("sdk").asText()),
                s.hasNonNull("instance") ? oneLine(s.get("instance").asText()) : "-",
                oneLine(s.path("standing").asText()),
                s.hasNonNull("appliedVersion") ? "v" + s.get("appliedVersion").asLong() : "-",
                "v" + s.path("sentVersion").asLong(),
                oneLine(s.path("connectedAt").asText())});
        }
        for (JsonNode s : answer.path("closed")) { // closed by their application: they serve nothing any more
            rows.add(new String[] {
                s.hasNonNull("application") ? oneLine(s.get("application").asText()) : "(unnamed)",
                oneLine(s.path("sdk").asText()),
                oneLine(s.path("instance").asText()),
                "closed",
                s.hasNonNull("appliedVersion") ? "v" + s.get("appliedVersion").asLong() : "-",
                "-",
                "-"});
        }
        if (rows.size() > 1) {
            int[] widths = new int[rows.get(0).length];
            for (String[] r : rows) {
                for (int i = 0; i < r.length; i++) {
                    widths[i] = Math.max(widths[i], Columns.width(r[i]));
                }
            }
            for (String[] r : rows) {
                StringBuilder line = new StringBuilder();
                for (int i = 0; i < r.length; i++) {
                    line.append(i == r.length - 1 ? r[i] : Columns.pad(r[i], widths[i]) + "  ");
                }
                out.println(line.toString().stripTrailing());
            }
        }
        int streams = answer.path("streams").asInt();
        int more = answer.path("more").asInt();
        err.println("flags: " + (streams == 0 ? "no SDK is connected to" : streams + (streams == 1 ? " SDK" : " SDKs")
                + " connected to") + " environment \"" + oneLine(o.environment()) + "\"" + (streams == 0 ? "" : ": "
                + answer.path("applied").asInt() + " applied version " + target + ", " + answer.path("pending").asInt()
                + " pending, " + answer.path("unconfirmed").asInt() + " cannot say (SDKs from before acknowledgements)")
                + (more > 0 ? "; " + more + " more not listed (--limit)" : "")
                + (closedAfter == null ? "" : "; " + answer.path("closed").size() + " closed by their application since "
                        + closedAfter));
        return EXIT_OK;
    }
}
