package dev.flags.cli;

import static dev.flags.cli.FlagsCommand.EXIT_FAILED;
import static dev.flags.cli.FlagsCommand.EXIT_OK;
import static dev.flags.cli.FlagsCommand.oneLine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flags.core.Flag;
import dev.flags.core.FlagFormat;
import dev.flags.core.FlagValidationException;
import dev.flags.core.Problem;
import dev.flags.core.UnfitFileException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code flags apply FILE}: makes an environment's flags what a flag file says (flags as code: the file kept in git,
 * applied on every merge). It reads the environment once, prints the plan (created, changed, archived with
 * {@code --prune}), and writes only the flags that differ, each on the version read, so that a change made meanwhile
 * is refused, not overwritten. A flag it may not write (switched on by the file where it is off here, created switched
 * on, changed meanwhile, refused by the server) is named with why, and the others are written: exit 1 if any was not.
 */
@Command(name = "apply", description = "Make the environment's flags as a flag file says (flags export writes one; keep it"
        + " in git): prints the plan, then writes only what differs, each flag on the version it read. Flags the file"
        + " switches on where they are off here, or creates switched on, need --switch-on; --prune archives the flags the"
        + " file does not have; --dry-run prints the plan and writes nothing.",
        footerHeading = FlagsCommand.EXAMPLES,
        footer = {"  flags apply production-flags.json -e production --dry-run",
                "  flags apply production-flags.json -e production -m \"merge of release-42\""})
final class Apply implements Callable<Integer> {
    @Mixin FlagsCommand.ServerOptions o;
    @Mixin FlagsCommand.CommentOption why;
    @Spec CommandSpec spec;
    @Parameters(index = "0", paramLabel = "FILE", description = "A flag file (formatVersion, flags), as flags export writes it.")
    Path file;
    @Option(names = "--dry-run", description = "Print the plan, and write nothing (exit 1 if a flag would not be written).")
    boolean dryRun;
    @Option(names = "--prune", description = "Archive the environment's flags that the file does not have (a revert or a"
            + " PUT of the key brings one back).")
    boolean prune;
    @Option(names = "--switch-on", description = "Write even the flags that this switches on: off here (a kill switch?)"
            + " and on in the file, or created switched on (a release to their users at once).")
    boolean switchOn;

    /** One flag's step, as planned: the document to write (an archive's: the flag as served), and the version read. */
    private record Step(String key, String action, JsonNode document, long version, String refusal, List<String> changes) {
    }

    @Override
    public Integer call() {
        FlagFormat.FlagFile wanted = read();
        Api api = o.api(spec);
        Map<String, JsonNode> served = new TreeMap<>();
        for (JsonNode f : api.flags(o.environment(), false)) {
            served.put(f.path("key").asText(), f);
        }
        List<Step> steps = plan(wanted, served);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (!wanted.roleGrants().isEmpty()) {
            err.println("flags: the file's role grants (" + wanted.roleGrants().size() + (wanted.roleGrants().size() == 1
                    ? " role" : " roles") + ") are not applied: grants are people's, not code's (flags grant, flags revoke)");
        }
        int unchanged = wanted.flags().size() - (int) steps.stream().filter(s -> !s.action().equals("archive")).count();
        steps.forEach(s -> printStep(out, s));
        out.println(unchanged + (unchanged == 1 ? " flag" : " flags") + " unchanged");
        long refused = steps.stream().filter(s -> s.refusal() != null).count();
        if (dryRun) {
            err.println("flags: dry run: nothing written" + (refused == 0 ? "" : "; " + refused + " of " + steps.size()
                    + " would not be written (above, with why)"));
            return refused == 0 ? EXIT_OK : EXIT_FAILED;
        }
        int written = 0;
        List<String> failed = new ArrayList<>();
        for (Step s : steps) {
            if (s.refusal() != null) {
                failed.add(s.key() + ": " + s.refusal());
                continue;
            }
            try {
                write(api, s);
                written++;
            } catch (CliException e) {
                if (e.exitCode() == FlagsCommand.EXIT_UNREACHABLE) {
                    throw e; // the server went away: the rest would fail alike
                }
                failed.add(s.key() + ": " + (e.httpStatus() == 412 ? "changed in \"" + oneLine(o.environment())
                        + "\" since it was read: not written; apply again to see it anew" : e.getMessage()));
            }
        }
        err.println("flags: applied to \"" + oneLine(o.environment()) + "\": " + written + " written, " + unchanged
                + " unchanged" + (failed.isEmpty() ? "" : ", " + failed.size() + " not written:"));
        failed.forEach(line -> err.println("  " + oneLine(line)));
        return failed.isEmpty() ? EXIT_OK : EXIT_FAILED;
    }

    private FlagFormat.FlagFile read() {
        try {
            return FlagFormat.readFile(UnfitFileException.readWhole(file, FlagFormat.MAX_FILE_BYTES), FlagFormat.MAX_FILE_BYTES,
                    FlagFormat.MAX_FLAGS);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new CliException(FlagsCommand.EXIT_USAGE, "no such file: " + file);
        } catch (java.io.IOException e) {
            if (java.nio.file.Files.isDirectory(file)) {
                throw new CliException(FlagsCommand.EXIT_USAGE, file + " is a directory; give a flag file");
            }
            throw new CliException(EXIT_FAILED, "cannot read " + file + ": " + e.getMessage());
        } catch (FlagValidationException e) {
            StringBuilder why = new StringBuilder(file + " is not a flag file this can apply, nothing was written: "
                    + e.problems().size() + (e.problems().size() == 1 ? " problem" : " problems"));
            for (Problem p : e.problems()) {
                why.append("\n  ").append(oneLine(p.toString()));
            }
            if (e.problems().stream().anyMatch(p -> p.message().contains("one flag's document"))) {
                why.append("\n(one flag's document is written with flags put FLAG FILE)");
            }
            throw new CliException(EXIT_FAILED, why.toString());
        }
    }

    /** What differs, in the file's order, then the archives: what a write would do, and what it would be refused for. */
    private List<Step> plan(FlagFormat.FlagFile wanted, Map<String, JsonNode> served) {
        List<Step> steps = new ArrayList<>();
        Map<String, Flag> byKey = new LinkedHashMap<>();
        wanted.flags().forEach(f -> byKey.put(f.key(), f));
        for (Flag f : byKey.values()) {
            ObjectNode document = FlagFormat.toJson(f).without("version");
            JsonNode here = served.get(f.key());
            if (here == null) {
                String refusal = f.enabled() && !switchOn ? "the file creates it switched on (a release to its users at once):"
                        + " needs --switch-on, or \"enabled\": false in the file to ship it dark" : null;
                steps.add(new Step(f.key(), "create", document, 0, refusal, List.of()));
                continue;
            }
            ObjectNode now = FlagFormat.toJson(FlagFormat.readFlag(here)).without("version");
            if (now.equals(document)) {
                continue;
            }
            String refusal = f.enabled() && !now.path("enabled").asBoolean() && !switchOn ? "the file switches it on, and"
                    + " here it is off (its kill switch?): needs --switch-on, or \"enabled\": false in the file" : null;
            steps.add(new Step(f.key(), "change", document, here.path("version").asLong(), refusal,
                    FlagChanges.all(here, document)));
        }
        if (prune) {
            served.forEach((key, here) -> {
                if (!byKey.containsKey(key)) {
                    steps.add(new Step(key, "archive", here, here.path("version").asLong(), null, List.of()));
                }
            });
        }
        return steps;
    }

    private void printStep(PrintWriter out, Step s) {
        String at = s.action().equals("create") ? "" : " v" + s.version();
        String state = s.document().path("enabled").asBoolean() ? " (on)" : " (off)"; // an archive's: as it is served now
        out.println(s.action() + " " + oneLine(s.key()) + at + (s.action().equals("change") ? "" : state)
                + (s.refusal() != null ? ": not written, " + s.refusal() : ""));
        s.changes().forEach(line -> out.println("  " + line));
    }

    private void write(Api api, Step s) {
        String comment = why.comment != null && !why.comment.isBlank() ? why.comment : "applied from " + file.getFileName();
        switch (s.action()) {
            case "create" -> // only if still absent; an archived key is restored, and the server asks about its switch too
                    api.call("PUT", o.flagPath(s.key()) + (switchOn ? "?switchOn=true" : ""), s.document(), comment,
                            Map.of("If-None-Match", "*"));
            case "change" -> api.call("PUT", o.flagPath(s.key()), s.document(), comment,
                    Map.of("If-Match", "\"" + s.version() + "\""));
            case "archive" -> api.call("DELETE", o.flagPath(s.key()), null, comment,
                    Map.of("If-Match", "\"" + s.version() + "\""));
            default -> throw new IllegalStateException("no such step: " + s.action());
        }
    }
}
