package dev.flags.cli;

import static dev.flags.cli.FlagsCommand.EXIT_FAILED;
import static dev.flags.cli.FlagsCommand.EXIT_OK;
import static dev.flags.cli.FlagsCommand.EXIT_USAGE;
import static dev.flags.cli.FlagsCommand.oneLine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flags.core.Flag;
import dev.flags.core.FlagFormat;
import dev.flags.core.FlagValidationException;
import dev.flags.core.Problem;
import dev.flags.core.UnfitFileException;
import dev.flags.core.WriteRules;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
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
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code flags apply FILE}: makes an environment's flags what a flag file says (flags as code: the file kept in git,
 * applied on every merge). It reads the environment once, prints the plan (created, restored, changed, archived with
 * {@code --prune}), and writes only the flags that differ, each on the version read, so that a change made meanwhile
 * is refused, not overwritten. A flag it may not write (switched on by the file where it is off here, created switched
 * on, changed since the file's version, refused by the server's rules) is named with why, and the others are written:
 * exit 1 if any was not. What no flag can get past (a token that may not write, an archived environment) stops it at
 * once.
 */
@Command(name = "apply", description = "Make the environment's flags as a flag file says (flags export --as-code writes"
        + " one; keep it in git): prints the plan, then writes only what differs, each flag on the version it read. A flag"
        + " the file switches on where it is off here, or creates switched on, needs --switch-on FLAG; --prune archives the"
        + " flags the file does not have (not one code evaluated lately, without --force); --dry-run prints the plan and"
        + " writes nothing.",
        footerHeading = FlagsCommand.EXAMPLES,
        footer = {"  flags apply production-flags.json -e production --dry-run",
                "  flags apply production-flags.json -e production --switch-on new-checkout \\",
                "      -m \"merge of release-42\""})
final class Apply implements Callable<Integer> {
    /** How long no SDK may have evaluated a flag that --prune archives, as flags archive's default. */
    private static final String UNUSED_FOR = "P7D";
    /** How many keys a line of the plan names before it counts the rest. */
    private static final int KEYS_NAMED = 20;

    @Mixin FlagsCommand.ServerOptions o;
    @Mixin FlagsCommand.CommentOption why;
    @Mixin SdkWait.WaitOption waitForSdks;
    @Spec CommandSpec spec;
    @Parameters(index = "0", paramLabel = "FILE", description = "A flag file (formatVersion, flags), as flags export writes it;"
            + " - for standard input.")
    String file;
    @Option(names = "--dry-run", description = "Print the plan, and write nothing (exit 1 if a flag would not be written).")
    boolean dryRun;
    /** The newest environment version the apply's writes made (or found, for a write that changed nothing); -1 before. */
    private long newestWritten = -1;
    @Option(names = "--prune", description = "Archive the environment's flags that the file does not have (a revert or a"
            + " PUT of the key brings one back); not one an SDK evaluated within 7 days, nor half the environment or more,"
            + " without --force.")
    boolean prune;
    @Option(names = "--force", description = "With --prune: archive even flags code evaluated lately, and even half the"
            + " environment or more.")
    boolean force;
    @Option(names = "--switch-on", paramLabel = "FLAG", description = "Write this flag even though it switches it on: off here"
            + " (a kill switch?) and on in the file, or created switched on (a release to its users at once). Repeat it"
            + " for each flag meant: a kill switch thrown since the file was written is not undone by another's release.")
    List<String> switchOn = new ArrayList<>();

    /**
     * One flag's step, as planned: what it does, the document to write (an archive's: the flag as served), the version
     * read, why it would not be written (null if it would), and what it changes.
     */
    private record Step(String key, String action, JsonNode document, long version, String refusal, List<String> changes) {
    }

    @Override
    public Integer call() {
        if (force && !prune) {
            throw new ParameterException(spec.commandLine(), "--force goes with --prune (it lifts --prune's guards); it does"
                    + " not write flags --switch-on does not name");
        }
        Duration wait = SdkWait.timeout(spec, waitForSdks); // a bad --wait is said before anything is read or written
        if (dryRun && wait != null) {
            throw new ParameterException(spec.commandLine(), "--wait waits for the SDKs to apply a change, and --dry-run"
                    + " makes none; give one");
        }
        FlagFormat.FlagFile wanted = read();
        Set<String> inFile = new TreeSet<>();
        wanted.flags().forEach(f -> inFile.add(f.key()));
        for (String key : switchOn) {
            if (!inFile.contains(key)) {
                throw new ParameterException(spec.commandLine(), "--switch-on names \"" + oneLine(key) + "\", which "
                        + shown() + " does not have");
            }
        }
        Api api = o.api(spec);
        JsonNode environment = api.call("GET", "/environments/" + Api.path(o.environment()), null, null);
        if (environment.path("archived").asBoolean(false)) {
            throw new CliException(EXIT_FAILED, "environment \"" + oneLine(o.environment()) + "\" is archived and takes no"
                    + " changes: nothing was written (an admin restores it with flags environments restore "
                    + oneLine(o.environment()) + ")");
        }
        Map<String, JsonNode> served = new TreeMap<>();
        for (JsonNode f : api.flags(o.environment(), false)) {
            served.put(f.path("key").asText(), f);
        }
        Map<String, JsonNode> archived = new TreeMap<>();
        for (JsonNode f : api.flags(o.environment(), true)) {
            archived.put(f.path("key").asText(), f);
        }
        List<String> notInFile = served.keySet().stream().filter(k -> !inFile.contains(k)).toList();
        // Archives first: in an environment at its cap, what the file drops makes room for what it adds.
        List<Step> steps = new ArrayList<>(prune ? pruned(api, served, notInFile) : List.of());
        Set<String> archivedFirst = new TreeSet<>();
        steps.stream().filter(step -> step.refusal() == null).forEach(step -> archivedFirst.add(step.key()));
        steps.addAll(plan(wanted, served, archived, archivedFirst));
        steps = withinTheCap(steps, served.size(), environment.path("limits").path("flags").asLong(0));
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (!wanted.roleGrants().isEmpty()) {
            err.println("flags: the file's role grants (" + wanted.roleGrants().size() + (wanted.roleGrants().size() == 1
                    ? " role" : " roles") + ") are not applied: grants are people's, not code's (flags grant, flags revoke)");
        }
        int unchanged = wanted.flags().size() - (int) steps.stream().filter(s -> !s.action().equals("archive")).count();
        steps.forEach(s -> printStep(out, s));
        if (!prune && !notInFile.isEmpty()) { // drift a reviewer must see, though this apply keeps them
            out.println(notInFile.size() + (notInFile.size() == 1 ? " flag served here is" : " flags served here are")
                    + " not in the file (kept; --prune archives them): " + named(notInFile));
        }
        out.println(unchanged + (unchanged == 1 ? " flag" : " flags") + " unchanged");
        long refused = steps.stream().filter(s -> s.refusal() != null).count();
        if (dryRun) {
            String mayNot = steps.isEmpty() ? null : mayNotWrite(api);
            err.println("flags: dry run: nothing written" + (refused == 0 ? "" : "; " + refused + " of " + steps.size()
                    + " would not be written (above, with why)") + (mayNot == null ? ""
                    : mayNot.isEmpty() ? "; whether this token may write here is the server's to say at the apply"
                    : "; and the apply would be refused: " + mayNot));
            return refused == 0 && (mayNot == null || mayNot.isEmpty()) ? EXIT_OK : EXIT_FAILED;
        }
        int exit = write(api, steps, unchanged, err);
        if (wait == null) {
            return exit;
        }
        // The newest of the versions the environment is as the file says at: each write's, and each unchanged flag's own
        // (not the environment's version now, which others' writes move on: QA50a F1).
        long newest = newestWritten;
        for (String key : inFile) {
            JsonNode now = served.get(key);
            if (now != null && steps.stream().noneMatch(s -> s.key().equals(key))) {
                newest = Math.max(newest, now.path("version").asLong(-1));
            }
        }
        int waited = SdkWait.await(spec, api, o.environment(), newest, wait);
        return exit != EXIT_OK ? exit : waited;
    }

    /**
     * Whether this token may write the environment's flags, as the server says ({@code GET /whoami}), so that a dry run
     * in a pipeline fails where the apply would.
     *
     * @return null if it may, why not if it may not, or "" if the server cannot say (a release from before whoami)
     */
    private String mayNotWrite(Api api) {
        JsonNode me = Whoami.ask(api);
        if (me == null) {
            return "";
        }
        boolean changes = false;
        for (JsonNode right : me.path("may")) {
            changes |= right.asText().equals("changeFlags");
        }
        boolean here = me.path("scope").asText().equals("admin");
        for (JsonNode env : me.path("environments")) {
            here |= env.asText().equals(o.environment());
        }
        if (changes && here) {
            return null;
        }
        return "this token (" + oneLine(me.path("id").asText()) + ", scope " + oneLine(me.path("scope").asText())
                + ") may not change flags in environment \"" + oneLine(o.environment()) + "\"" + (here ? ""
                : "; it is not for it (flags whoami)");
    }

    private int write(Api api, List<Step> steps, int unchanged, PrintWriter err) {
        int written = 0;
        List<String> failed = new ArrayList<>();
        for (Step s : steps) {
            if (s.refusal() != null) {
                failed.add(s.key() + ": " + s.refusal());
                continue;
            }
            try {
                newestWritten = Math.max(newestWritten, writeStep(api, s));
                written++;
            } catch (CliException e) {
                if (e.exitCode() == FlagsCommand.EXIT_UNREACHABLE || e.httpStatus() == 401 || e.httpStatus() == 403
                        || e.getMessage().contains("is archived and accepts no changes")) {
                    // Said once, not once a flag: what refuses one refuses them all (the server gone, the token's scope).
                    throw new CliException(e.exitCode(), e.getMessage() + "; " + written + " written before this, the rest"
                            + " not tried", e.httpStatus(), e.title());
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

    /** The file, read as the SDKs and the server would: one that does not load writes nothing. */
    private FlagFormat.FlagFile read() {
        try {
            byte[] bytes;
            if (file.equals("-")) {
                bytes = System.in.readNBytes(FlagFormat.MAX_FILE_BYTES + 1);
                if (bytes.length > FlagFormat.MAX_FILE_BYTES) {
                    throw new CliException(EXIT_FAILED, "standard input is over " + FlagFormat.MAX_FILE_BYTES + " bytes");
                }
            } else {
                bytes = UnfitFileException.readWhole(Path.of(file), FlagFormat.MAX_FILE_BYTES);
            }
            return FlagFormat.readFile(bytes, FlagFormat.MAX_FILE_BYTES, FlagFormat.MAX_FLAGS);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new CliException(EXIT_USAGE, "no such file: " + file);
        } catch (java.io.IOException e) {
            CliException notAFile = FlagsCommand.notARegularFile(Path.of(file), "a flag file");
            if (notAFile != null) {
                throw notAFile;
            }
            throw new CliException(EXIT_FAILED, "cannot read " + shown() + ": " + e.getMessage());
        } catch (FlagValidationException e) {
            StringBuilder problems = new StringBuilder(shown() + " is not a flag file this can apply, nothing was written: "
                    + e.count() + (e.count() == 1 ? " problem" : " problems"));
            for (Problem p : e.problems()) {
                problems.append("\n  ").append(oneLine(p.toString()));
            }
            if (e.problems().stream().anyMatch(p -> p.message().contains("one flag's document"))) {
                problems.append("\n(one flag's document is written with flags put FLAG FILE)");
            }
            throw new CliException(EXIT_FAILED, problems.toString());
        }
    }

    private String shown() {
        return file.equals("-") ? "standard input" : file;
    }

    /**
     * What differs, in the file's order: what a write would do, and what it would be refused for.
     *
     * @param archivedFirst the served flags this apply archives before it writes (--prune): no longer served when the
     *                      file's flags are written, so a key of the file that differs from one only in case is no twin
     *                      of it (a rename of its case: QA71 F4)
     */
    private List<Step> plan(FlagFormat.FlagFile wanted, Map<String, JsonNode> served, Map<String, JsonNode> archived,
                            Set<String> archivedFirst) {
        List<Step> steps = new ArrayList<>();
        Map<String, String> servedByCase = new HashMap<>();
        served.keySet().stream().filter(k -> !archivedFirst.contains(k))
                .forEach(k -> servedByCase.put(k.toLowerCase(Locale.ROOT), k));
        Map<String, Flag> byKey = new LinkedHashMap<>();
        wanted.flags().forEach(f -> byKey.put(f.key(), f));
        for (Flag f : byKey.values()) {
            ObjectNode document = FlagFormat.toJson(f).without("version");
            JsonNode here = served.get(f.key());
            Flag existing = here == null ? null : FlagFormat.readFlag(here);
            String refusal = serverRules(existing, f);
            if (here == null) {
                String twin = servedByCase.putIfAbsent(f.key().toLowerCase(Locale.ROOT), f.key()); // the file's own too
                if (refusal == null && f.version() > 0) { // a file of versions names what it was read from
                    refusal = "the file has it at v" + f.version() + ", and here it is " + (archived.containsKey(f.key())
                            ? "archived" : "not served") + ": changed since the file was written (flags export --as-code"
                            + " writes a file without versions, for a file kept in git)";
                }
                if (refusal == null && twin != null) {
                    refusal = "differs only in case from \"" + oneLine(twin) + "\", " + (served.containsKey(twin) ? "served here"
                            : "earlier in the file") + "; keys must differ by more";
                }
                JsonNode old = archived.get(f.key());
                if (refusal == null && f.enabled() && !switchOn.contains(f.key())) {
                    refusal = "the file " + (old != null ? "restores it" : "creates it") + " switched on (a release to its"
                            + " users at once): needs --switch-on " + oneLine(f.key()) + ", or \"enabled\": false in the"
                            + " file to ship it dark";
                }
                steps.add(old != null
                        ? new Step(f.key(), "restore", document, old.path("version").asLong(), refusal,
                                FlagChanges.all(old, document))
                        : new Step(f.key(), "create", document, 0, refusal, List.of()));
                continue;
            }
            ObjectNode now = FlagFormat.toJson(existing).without("version");
            if (now.equals(document)) {
                continue;
            }
            long version = here.path("version").asLong();
            if (refusal == null && f.version() > 0 && f.version() != version) {
                refusal = "the file has it at v" + f.version() + ", and here it is v" + version + ": changed since the file"
                        + " was written (flags export --as-code writes a file without versions, for a file kept in git)";
            }
            if (refusal == null && f.enabled() && !now.path("enabled").asBoolean() && !switchOn.contains(f.key())) {
                refusal = "the file switches it on, and here it is off (its kill switch?): needs --switch-on "
                        + oneLine(f.key()) + ", or \"enabled\": false in the file";
            }
            steps.add(new Step(f.key(), "change", document, version, refusal, FlagChanges.all(here, document)));
        }
        return steps;
    }

    /**
     * The steps, with the creates and restores past the environment's cap refused: what it serves now, less what the
     * steps archive, plus what they create, may not pass it (the apply would stop partway, in the server's words).
     *
     * @param cap the most flags the environment may serve; 0 if the server does not say
     */
    private static List<Step> withinTheCap(List<Step> steps, int served, long cap) {
        if (cap <= 0) {
            return steps;
        }
        long serving = served - steps.stream().filter(s -> s.action().equals("archive") && s.refusal() == null).count();
        List<Step> checked = new ArrayList<>(steps.size());
        for (Step s : steps) {
            boolean adds = s.action().equals("create") || s.action().equals("restore");
            if (adds && s.refusal() == null && ++serving > cap) {
                s = new Step(s.key(), s.action(), s.document(), s.version(), "the environment may serve at most " + cap
                        + " flags, and with the others of this apply it would serve more (archive flags no code uses, or"
                        + " ask for a higher --max-flags-per-environment)", s.changes());
            }
            checked.add(s);
        }
        return checked;
    }

    /** The server's own rules for a write (rule names, text fit to show), said before anything is written. */
    private static String serverRules(Flag existing, Flag next) {
        List<Problem> problems = WriteRules.added(existing, next);
        return problems.isEmpty() ? null : "the server refuses it: " + problems.get(0).message()
                + (problems.size() > 1 ? " (and " + (problems.size() - 1) + " more; flags validate lists them)" : "");
    }

    /**
     * The archives of --prune. A flag code evaluated within {@value #UNUSED_FOR} is not archived without --force (its
     * code would get its default; the server checks it again as it archives), and half the environment or more is
     * refused whole without it: a truncated file, or a file of another environment.
     */
    private List<Step> pruned(Api api, Map<String, JsonNode> served, List<String> notInFile) {
        if (!force && !notInFile.isEmpty() && notInFile.size() * 2 >= served.size()) { // one of one is all
            throw new CliException(EXIT_FAILED, "--prune would archive " + notInFile.size() + " of the " + served.size()
                    + " flags served in \"" + oneLine(o.environment()) + "\", which " + shown() + " does not have: a"
                    + " truncated file, or one of another environment? Nothing was written; add --force if it is meant");
        }
        Map<String, String> evaluated = force || notInFile.isEmpty() ? Map.of() : recentlyEvaluated(api);
        List<Step> steps = new ArrayList<>();
        for (String key : notInFile) {
            JsonNode here = served.get(key);
            String refusal = evaluated.containsKey(key) ? "code evaluated it at " + evaluated.get(key) + ": archived, it"
                    + " would get its default there; prune it once flags usage shows no evaluation for 7 days, or now with"
                    + " --force" : null;
            steps.add(new Step(key, "archive", here, here.path("version").asLong(), refusal, List.of()));
        }
        return steps;
    }

    /** The flags an SDK evaluated within {@value #UNUSED_FOR}, with when and by which applications; none if unknown. */
    private Map<String, String> recentlyEvaluated(Api api) {
        JsonNode usage;
        try {
            usage = api.call("GET", "/environments/" + Api.path(o.environment()) + "/usage", null, null);
        } catch (CliException e) {
            if (e.exitCode() == FlagsCommand.EXIT_UNREACHABLE) {
                throw e;
            }
            return Map.of(); // a server from before usage reports: the archive's own check says what it knows
        }
        Instant cutoff = Instant.now().minus(java.time.Duration.ofDays(7));
        Map<String, String> evaluated = new HashMap<>();
        for (JsonNode f : usage.path("flags")) {
            if (f.hasNonNull("lastEvaluatedAt") && Instant.parse(f.get("lastEvaluatedAt").asText()).isAfter(cutoff)) {
                String apps = FlagsCommand.Usage.applications(f.path("applications"));
                evaluated.put(f.path("flag").asText(), oneLine(f.get("lastEvaluatedAt").asText())
                        + (apps.isEmpty() ? "" : " (by " + apps + ")"));
            }
        }
        return evaluated;
    }

    private static String named(List<String> keys) {
        List<String> shown = keys.stream().limit(KEYS_NAMED).map(FlagsCommand::oneLine).toList();
        return String.join(", ", shown) + (keys.size() > KEYS_NAMED ? ", and " + (keys.size() - KEYS_NAMED) + " more" : "");
    }

    private void printStep(PrintWriter out, Step s) {
        String at = s.action().equals("create") ? "" : s.action().equals("restore") ? " (archived at v" + s.version() + ")"
                : " v" + s.version();
        String state = s.document().path("enabled").asBoolean() ? " (on)" : " (off)"; // an archive's: as it is served now
        out.println(s.action() + " " + oneLine(s.key()) + at + (s.action().equals("change") ? "" : state)
                + (s.refusal() != null ? ": not written, " + s.refusal() : ""));
        s.changes().forEach(line -> out.println("  " + line));
    }

    /** @return the environment's version the step's write made, or the flag's version if it changed nothing */
    private long writeStep(Api api, Step s) {
        String comment = why.comment != null && !why.comment.isBlank() ? why.comment : "applied from "
                + (file.equals("-") ? "standard input" : Path.of(file).getFileName());
        boolean on = switchOn.contains(s.key());
        return switch (s.action()) {
            case "create", "restore" -> // only if still not served; the server asks about a restore's switch too
                    SdkWait.versionOf(api, api.flag(api.call("PUT", o.flagPath(s.key()) + (on ? "?switchOn=true" : ""),
                            s.document(), comment, Map.of("If-None-Match", "*")), s.key()));
            case "change" -> SdkWait.versionOf(api, api.flag(api.call("PUT", o.flagPath(s.key()), s.document(), comment,
                    Map.of("If-Match", "\"" + s.version() + "\"")), s.key()));
            case "archive" -> api.expect(api.call("DELETE", o.flagPath(s.key()) + (force ? "" : "?unusedFor=" + UNUSED_FOR),
                    null, comment, Map.of("If-Match", "\"" + s.version() + "\"")), "archived", "an archive's answer")
                    .path("environmentVersion").asLong(-1);
            default -> throw new IllegalStateException("no such step: " + s.action());
        };
    }
}
