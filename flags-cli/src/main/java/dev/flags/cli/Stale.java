package dev.flags.cli;

import static dev.flags.cli.FlagsCommand.EXIT_OK;
import static dev.flags.cli.FlagsCommand.oneLine;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code flags stale}: the clean-up list of the release path, read from the flags' usage. A flag no code
 * evaluated for the period can be archived; one that gave every user the same answer for the period is
 * done (released to everyone, or off for everyone) and its check can leave the code. A flag is judged
 * only over time the server recorded usage for: too young a record says nothing of code that runs
 * rarely, and such flags are counted apart, not listed.
 */
@Command(name = "stale", description = "The flags to clean up, as the SDKs' usage reports tell: not evaluated for --for"
        + " (archive them), or every answer the same for --for (take the check out of the code).")
final class Stale implements Callable<Integer> {
    @Mixin FlagsCommand.ServerOptions o;
    @Spec CommandSpec spec;
    @Option(names = "--for", paramLabel = "DURATION", defaultValue = "30d",
            description = "How long: 30d (the default), 2w, 8h, or ISO-8601 such as P90D.")
    String period;

    /** One flag to clean up, and why. */
    private record Finding(int order, String flag, String lastEvaluated, String advice) {
    }

    @Override
    public Integer call() {
        Instant cutoff = FlagsCommand.cutoff(spec, "--for", period);
        JsonNode usage = o.api(spec).call("GET", "/environments/" + Api.path(o.environment) + "/usage", null, null);
        PrintWriter err = spec.commandLine().getErr();
        Instant since = usage.hasNonNull("since") ? Instant.parse(usage.get("since").asText()) : null;
        if (since == null) {
            err.println("flags: no usage is recorded in environment \"" + oneLine(o.environment) + "\" yet: no flag can be"
                    + " called stale (SDKs report every " + oneLine(usage, "reportInterval") + ")");
            return EXIT_OK;
        }
        if (since.isAfter(cutoff)) {
            err.println("flags: usage in environment \"" + oneLine(o.environment) + "\" is recorded only since " + since
                    + ": too short to tell what is stale for " + period.trim() + " (a flag code evaluates once a month looks"
                    + " unused after a week)");
            return EXIT_OK;
        }
        List<Finding> findings = new ArrayList<>();
        for (JsonNode f : usage.path("flags")) {
            Finding finding = judge(f, cutoff);
            if (finding != null) {
                findings.add(finding);
            }
        }
        if (findings.isEmpty()) {
            err.println("flags: nothing stale for " + period.trim() + " in environment \"" + oneLine(o.environment)
                    + "\" (usage recorded since " + since + ")");
            return EXIT_OK;
        }
        findings.sort((a, b) -> a.order() != b.order() ? Integer.compare(a.order(), b.order()) : a.flag().compareTo(b.flag()));
        int width = Math.max(4, findings.stream().mapToInt(x -> x.flag().length()).max().orElse(4));
        PrintWriter out = spec.commandLine().getOut();
        out.println(String.format("%-" + width + "s  %-20s  %s", "FLAG", "LAST EVALUATED", "TO DO"));
        for (Finding x : findings) {
            out.println(String.format("%-" + width + "s  %-20s  %s", x.flag(), x.lastEvaluated(), x.advice()));
        }
        err.println("flags: usage recorded since " + since + "; the flags' last answers as the SDKs report them ("
                + "flags usage FLAG shows one flag's)");
        return EXIT_OK;
    }

    /** Why the flag can go, or null if it is in use with both answers (or never reported in a way that tells). */
    private Finding judge(JsonNode f, Instant cutoff) {
        String key = oneLine(f, "flag");
        Instant last = instant(f, "lastEvaluatedAt");
        String shown = last == null ? "never" : last.toString();
        if (last == null || last.isBefore(cutoff)) {
            return new Finding(0, key, shown, "not evaluated for " + period.trim() + ": archive it (flags archive " + key + ")");
        }
        Instant lastTrue = instant(f, "lastServedTrueAt");
        Instant lastFalse = instant(f, "lastServedFalseAt");
        boolean servedTrue = lastTrue != null && !lastTrue.isBefore(cutoff);
        boolean servedFalse = lastFalse != null && !lastFalse.isBefore(cutoff);
        if (servedTrue && !servedFalse) {
            return new Finding(1, key, shown, "only true for " + period.trim() + ": released to everyone; take the check out of"
                    + " the code, keeping its new path, then archive it");
        }
        if (servedFalse && !servedTrue) {
            return new Finding(2, key, shown, "only false for " + period.trim() + ": nobody gets it; take the check and its"
                    + " new path out of the code, or release it, then archive it");
        }
        return null;
    }

    private static Instant instant(JsonNode f, String field) {
        return f.hasNonNull(field) ? Instant.parse(f.get(field).asText()) : null;
    }
}
