package dev.flags.cli;

import static dev.flags.cli.FlagsCommand.EXIT_FAILED;
import static dev.flags.cli.FlagsCommand.EXIT_OK;
import static dev.flags.cli.FlagsCommand.oneLine;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code flags promote FLAG --from staging}: the release path's step from one environment to the next. The
 * flag's whole document as it is in the source environment becomes its document in this one, with a
 * history entry that says where it came from; the output lists what that changed, and {@code --dry-run}
 * lists it without writing. The write is conditional on the version read, so a change made in between
 * is never overwritten unseen.
 */
@Command(name = "promote", description = "Copy a flag's whole document from another environment (--from) into this one,"
        + " as it is there: on/off, rules, rollouts, targets. Prints what it changes here, one line per value; --dry-run"
        + " prints it and writes nothing.",
        footerHeading = FlagsCommand.EXAMPLES,
        footer = {"  flags promote billing-v2 --from staging --dry-run",
                "  flags promote billing-v2 --from staging -m \"canary in staging looked good\""})
final class Promote implements java.util.concurrent.Callable<Integer> {
    @Mixin FlagsCommand.ServerOptions o;
    @Mixin FlagsCommand.CommentOption why;
    @Mixin SdkWait.WaitOption waitForSdks;
    @Spec CommandSpec spec;
    @Parameters(index = "0", paramLabel = "FLAG", description = "The flag's key.") String flag;
    @Option(names = "--from", required = true, paramLabel = "ENV", description = "The environment to copy the flag from.")
    String from;
    @Option(names = "--dry-run", description = "Print what would change, and write nothing.")
    boolean dryRun;
    @Option(names = "--switch-on", description = "Promote even though it switches the flag on here, where it is off or"
            + " that it creates or restores (a kill switch thrown here is not undone, nor a flag released here, by a promote"
            + " without it).")
    boolean switchOn;
    @Option(names = "--keep-off", description = "Promote everything but the switch: the flag stays off here, or is created"
            + " or restored off (ship it dark with the rules it has there).")
    boolean keepOff;

    @Override
    public Integer call() {
        // Empty, a segment of the URL would vanish: ".../flags/" is the list of flags, not a flag.
        if (flag.isEmpty() || from.isEmpty()) {
            throw new ParameterException(spec.commandLine(), (flag.isEmpty() ? "FLAG" : "--from") + " must not be empty");
        }
        if (switchOn && keepOff) {
            throw new ParameterException(spec.commandLine(), "--switch-on and --keep-off ask for opposite things; give one");
        }
        Duration wait = SdkWait.timeout(spec, waitForSdks); // a bad --wait is said before anything is read or written
        if (dryRun && wait != null) {
            throw new ParameterException(spec.commandLine(), "--wait waits for the SDKs to apply a change, and --dry-run"
                    + " makes none; give one");
        }
        if (from.equals(o.environment())) {
            throw new ParameterException(spec.commandLine(), "--from names the environment it would copy into (\"" + oneLine(from)
                    + "\"); name another, or set the target with -e");
        }
        Api api = o.api(spec);
        JsonNode source = api.call("GET", "/environments/" + Api.path(from) + "/flags/" + Api.path(flag), null, null);
        JsonNode target = current(api);
        // Not served here, it may be archived: compared with its last document, which the promote restores.
        JsonNode archived = target == null ? archivedHere(api) : null;
        if (keepOff && target != null && target.path("enabled").asBoolean(false)) {
            throw new CliException(EXIT_FAILED, "not promoted: \"" + oneLine(flag) + "\" is on in \"" + oneLine(o.environment())
                    + "\"; --keep-off keeps a flag that is off here off, it does not switch one off (flags off " + oneLine(flag)
                    + " does); nothing was written");
        }
        ObjectNode promoted = (ObjectNode) source.deepCopy();
        if (keepOff) {
            promoted.put("enabled", false);
        }
        ObjectNode document = promoted.deepCopy().without("version"); // the target's versions are its own
        String sourceVersion = "v" + source.path("version").asLong();
        String targetVersion = target != null ? "v" + target.path("version").asLong()
                : archived != null ? "archived v" + archived.path("version").asLong() : "new";
        JsonNode before = target != null ? target : archived != null ? archived : Api.JSON.createObjectNode().put("key", flag);
        // Every change, uncapped (a salt among them reshuffles every user's bucket): this is the review before a write.
        List<String> changes = new ArrayList<>(FlagChanges.all(before, promoted));
        if (archived != null) {
            changes.add(0, "restored: archived here, served again");
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (changes.isEmpty()) {
            err.println("flags: flag \"" + oneLine(flag) + "\" in \"" + oneLine(o.environment()) + "\" is already as in \""
                    + oneLine(from) + "\" (" + sourceVersion + ")" + (keepOff ? ", but for its switch (off here)" : "")
                    + ": nothing to promote");
            // As a flag that already was so: the SDKs are waited for at the flag's version here.
            return wait == null ? EXIT_OK : SdkWait.await(spec, api, o.environment(), target.path("version").asLong(-1), wait);
        }
        // In the sense of the lines under it, each this environment's value -> the promoted one (QA45a F2).
        String heading = oneLine(flag) + ": " + oneLine(o.environment()) + " " + targetVersion + " -> as " + oneLine(from) + " "
                + sourceVersion;
        // Off here and on there: most often a kill switch thrown here during an incident, which a promote of the rules
        // must not undo as one line among its changes. New here (or archived) and on there: the flag's first promote,
        // which must not release it to this environment's users as one line among its changes either.
        boolean switchesOn = promoted.path("enabled").asBoolean(false) && (target == null || !target.path("enabled").asBoolean(true));
        String switchNote = target != null ? "it would switch \"" + oneLine(flag) + "\" on in \"" + oneLine(o.environment())
                + "\", where it is off (its kill switch?)"
                : "it would " + (archived != null ? "restore" : "create") + " \"" + oneLine(flag) + "\" in \""
                + oneLine(o.environment()) + "\" switched on, as it is in \"" + oneLine(from) + "\" (a release to its users at once)";
        if (dryRun) {
            print(out, heading, changes);
            String full = refusalForSize(api, target, document); // the server's refusal first: no option gets past it
            if (full != null) {
                err.println("flags: dry run: nothing written; the promote would be refused: " + full);
                return EXIT_FAILED;
            }
            if (switchesOn && !switchOn) {
                // As the promote itself would exit: a pipeline checks with --dry-run before it promotes.
                err.println("flags: dry run: nothing written; " + switchNote + ": the promote needs --switch-on (or --keep-off)");
                return EXIT_FAILED;
            }
            err.println("flags: dry run: nothing written");
            return EXIT_OK;
        }
        if (switchesOn && !switchOn) {
            throw new CliException(EXIT_FAILED, "not promoted: " + switchNote + "; nothing was written. Add --switch-on to"
                    + " switch it on with the promote, or --keep-off to promote the rest and keep it off here");
        }
        // Written only over the version the changes above were read from, or only if the flag is still absent.
        Map<String, String> precondition = target == null ? Map.of("If-None-Match", "*")
                : Map.of("If-Match", "\"" + target.path("version").asLong() + "\"");
        String comment = why.comment != null && !why.comment.isBlank() ? why.comment
                : "promoted from " + from + " " + sourceVersion + (keepOff ? ", kept off" : "");
        JsonNode written;
        try {
            // --switch-on said yes to what the server asks about too (a flag restored switched on, unread by version).
            written = api.call("PUT", o.flagPath(flag) + (switchesOn ? "?switchOn=true" : ""), document, comment, precondition);
        } catch (CliException e) {
            if (e.httpStatus() == 412) {
                throw new CliException(EXIT_FAILED, "flag \"" + oneLine(flag) + "\" changed in \"" + oneLine(o.environment())
                        + "\" while it was being promoted: nothing was written; run the promote again to see the changes anew");
            }
            throw e;
        }
        print(out, heading, changes); // only now: a refused write must not print what a done one does
        err.println("flags: promoted: \"" + oneLine(flag) + "\" in \"" + oneLine(o.environment()) + "\" is now v"
                + written.path("version").asLong() + ", as " + sourceVersion + " in \"" + oneLine(from) + "\""
                + (keepOff ? " but off" : "") + (archived != null ? " (restored)" : ""));
        return wait == null ? EXIT_OK : SdkWait.await(spec, api, o.environment(), SdkWait.versionOf(api, written), wait);
    }

    private static void print(PrintWriter out, String heading, List<String> changes) {
        out.println(heading);
        changes.forEach(line -> out.println("  " + line));
    }

    /** @return the flag's last document if it is archived in this environment, else null */
    private JsonNode archivedHere(Api api) {
        return api.archivedFlag(o.environment(), flag);
    }

    /**
     * What the environment's limits would refuse the write for (the server's {@code environment full}), as far as its
     * answer tells: a flag more than it may serve, or more bytes (counted as the document's compact JSON, as the
     * server counts its canonical JSON); null if neither, or if the server does not say its limits.
     */
    private String refusalForSize(Api api, JsonNode target, ObjectNode document) {
        JsonNode env = api.call("GET", "/environments/" + Api.path(o.environment()), null, null);
        JsonNode limits = env.path("limits");
        if (!limits.isObject()) {
            return null; // a server older than its limits
        }
        if (target == null && env.path("flags").asLong() >= limits.path("flags").asLong()) {
            long flags = env.path("flags").asLong();
            return "environment \"" + oneLine(o.environment()) + "\" serves " + flags + (flags == 1 ? " flag" : " flags")
                    + "; an environment may serve at most " + limits.path("flags").asLong() + ": archive flags no code uses"
                    + " any more (flags stale lists them) first";
        }
        if (target != null && document.deepCopy().without("enabled")
                .equals(((ObjectNode) target.deepCopy()).without(List.of("version", "enabled")))) {
            return null; // turning a flag on or off is never refused, whatever the sizes
        }
        // As the server counts: a new flag whole, its version included (the environment's next); a changed one by what
        // it grows, its version number aside.
        long growth = target == null ? compactSize(document.deepCopy().put("version", env.path("version").asLong() + 1))
                : compactSize(document) - compactSize(((ObjectNode) target.deepCopy()).without("version"));
        long bytes = env.path("bytes").asLong();
        if (growth > 0 && bytes + growth > limits.path("bytes").asLong()) {
            return "environment \"" + oneLine(o.environment()) + "\" serves " + bytes + " bytes of flags and role grants; with"
                    + " this flag it would serve about " + (bytes + growth) + ", more than the " + limits.path("bytes").asLong()
                    + " it may";
        }
        return null;
    }

    private static long compactSize(JsonNode node) {
        try {
            return Api.JSON.writer().without(SerializationFeature.INDENT_OUTPUT).writeValueAsBytes(node).length;
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a JSON tree always writes", e);
        }
    }

    /** The flag in this environment, or null if it is not served here (never made, or archived: a PUT restores it). */
    private JsonNode current(Api api) {
        try {
            return api.call("GET", o.flagPath(flag), null, null);
        } catch (CliException e) {
            if (e.httpStatus() == 404 && e.title().equals("flag not found")) {
                return null;
            }
            throw e;
        }
    }
}
