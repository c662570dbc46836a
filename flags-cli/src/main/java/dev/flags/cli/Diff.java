package dev.flags.cli;

import static dev.flags.cli.FlagsCommand.EXIT_OK;
import static dev.flags.cli.FlagsCommand.oneLine;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code flags diff --from staging}: which flags differ between another environment and this one, and
 * how: what {@code flags promote} of each would change here. Reads both environments' flags once; writes
 * nothing.
 */
@Command(name = "diff", description = "How this environment's flags differ from another's (--from): for each flag that"
        + " differs, the changes `flags promote` would make here; then the flags only one of them has.")
final class Diff implements Callable<Integer> {
    @Mixin FlagsCommand.ServerOptions o;
    @Spec CommandSpec spec;
    @Option(names = "--from", required = true, paramLabel = "ENV", description = "The environment to compare with.")
    String from;
    @Option(names = "--exit-code", description = "Exit 4 if the environments' flags differ (0 if they are the same; 1, 2 and"
            + " 3 keep their meanings): for a check in CI.")
    boolean exitCode;

    @Override
    public Integer call() {
        if (from.isEmpty()) {
            throw new ParameterException(spec.commandLine(), "--from must not be empty");
        }
        if (from.equals(o.environment())) {
            throw new ParameterException(spec.commandLine(), "--from names the environment it would compare with itself (\""
                    + oneLine(from) + "\"); name another, or set this one with -e");
        }
        Api api = o.api(spec);
        Map<String, JsonNode> theirs = flags(api, from);
        Map<String, JsonNode> ours = flags(api, o.environment());
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (FlagsCommand.archived(api, o.environment())) {
            // What a promote would change is still worth reading; that it would be refused must not come as a surprise.
            err.println("flags: environment \"" + oneLine(o.environment()) + "\" is archived: a promote into it is refused until"
                    + " an admin restores it");
        }
        int differ = 0;
        TreeSet<String> onlyTheirs = new TreeSet<>();
        TreeSet<String> onlyOurs = new TreeSet<>(ours.keySet());
        for (Map.Entry<String, JsonNode> e : theirs.entrySet()) {
            JsonNode mine = ours.get(e.getKey());
            onlyOurs.remove(e.getKey());
            if (mine == null) {
                onlyTheirs.add(e.getKey());
                continue;
            }
            List<String> changes = FlagChanges.all(mine, e.getValue());
            if (!changes.isEmpty()) {
                differ++;
                // In the sense of the lines under it, each this environment's value -> the other's (QA45a F2).
                out.println(oneLine(e.getKey()) + ": " + oneLine(o.environment()) + " v" + mine.path("version").asLong()
                        + " -> as " + oneLine(from) + " v" + e.getValue().path("version").asLong());
                changes.forEach(line -> out.println("  " + line));
            }
        }
        if (!onlyTheirs.isEmpty()) {
            // A flag archived here is not new to this environment: a promote restores it, and its history goes on.
            Set<String> archivedHere = archivedFlags(api, o.environment());
            List<String> made = onlyTheirs.stream().filter(k -> !archivedHere.contains(k)).map(FlagsCommand::oneLine).toList();
            List<String> restored = onlyTheirs.stream().filter(archivedHere::contains).map(FlagsCommand::oneLine).toList();
            if (!made.isEmpty()) {
                listed(out, "only in " + oneLine(from) + " (flags promote FLAG --from " + oneLine(from) + " makes one here,"
                        + " --keep-off to ship it dark):", made);
            }
            if (!restored.isEmpty()) {
                listed(out, "only in " + oneLine(from) + ", archived in " + oneLine(o.environment()) + " (flags promote FLAG"
                        + " --from " + oneLine(from) + " restores it here, --keep-off to keep it off):", restored);
            }
        }
        if (!onlyOurs.isEmpty()) {
            listed(out, "only in " + oneLine(o.environment()) + ":", onlyOurs.stream().map(FlagsCommand::oneLine).toList());
        }
        boolean same = differ == 0 && onlyTheirs.isEmpty() && onlyOurs.isEmpty();
        if (same) {
            err.println("flags: the flags of \"" + oneLine(o.environment()) + "\" and \"" + oneLine(from)
                    + "\" are the same (" + ours.size() + (ours.size() == 1 ? " flag" : " flags") + ")");
        }
        return exitCode && !same ? FlagsCommand.EXIT_DIFFERENT : EXIT_OK;
    }

    /** A heading, then one key a line: thousands of keys on one line could be neither read, nor grepped, nor counted. */
    private static void listed(PrintWriter out, String heading, List<String> keys) {
        out.println(heading);
        keys.forEach(key -> out.println("  " + key));
    }

    /** The keys of the environment's archived flags. */
    private static Set<String> archivedFlags(Api api, String environment) {
        Set<String> keys = new TreeSet<>();
        for (JsonNode f : api.flags(environment, true)) {
            keys.add(f.path("key").asText());
        }
        return keys;
    }

    /** The environment's served flags, by key. */
    private static Map<String, JsonNode> flags(Api api, String environment) {
        Map<String, JsonNode> byKey = new TreeMap<>();
        for (JsonNode f : api.flags(environment, false)) {
            byKey.put(f.path("key").asText(), f);
        }
        return byKey;
    }
}
