package dev.flags.cli;

import static dev.flags.cli.FlagsCommand.EXIT_OK;
import static dev.flags.cli.FlagsCommand.oneLine;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code flags stale}: the clean-up list of the release path, read from the flags' usage. A flag no code
 * evaluated for the period can be archived; one that gave every user the same answer for the period is
 * done (released to everyone, or off for everyone) and its check can leave the code.
 *
 * <p>Judged only over time that tells: the server must have recorded usage for the whole period (too
 * short a record says nothing of code that runs rarely), the flag must have been served for the whole
 * period (one created or restored since has had no chance to be evaluated; its history says when), and
 * the period must span several report periods. Times are the server's ({@code at} of the usage answer),
 * not this machine's clock. A flag with variants is not judged by its answers: an experiment gives
 * everyone in it {@code true}, and which variant wins is the question, not the check.
 */
@Command(name = "stale", description = "The flags to clean up, as the SDKs' usage reports tell: not evaluated for --for"
        + " (archive them), or every answer the same for --for (take the check out of the code).")
final class Stale implements Callable<Integer> {
    /** The shortest --for, in report periods: SDKs report every 75-125% of one, so a flag in use shows within 1.25. */
    static final int MIN_REPORT_PERIODS = 3;

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
        FlagsCommand.cutoff(spec, "--for", period); // a bad value is a usage error before any request
        Api api = o.api(spec);
        String env = "/environments/" + Api.path(o.environment());
        JsonNode usage = api.call("GET", env + "/usage", null, null);
        Instant now = usage.hasNonNull("at") ? instant(usage, "at") : Instant.now();
        Instant cutoff = FlagsCommand.cutoff(spec, "--for", period, now);
        Duration interval = interval(usage);
        if (interval != null && Duration.between(cutoff, now).compareTo(interval.multipliedBy(MIN_REPORT_PERIODS)) < 0) {
            throw new ParameterException(spec.commandLine(), "--for " + period.trim() + " is shorter than " + MIN_REPORT_PERIODS
                    + " report periods (SDKs report every " + interval + "): every flag would look unused");
        }
        PrintWriter err = spec.commandLine().getErr();
        Instant since = instant(usage, "since");
        if (since == null) {
            boolean archived = api.call("GET", env, null, null).path("archived").asBoolean(false);
            err.println(archived ? "flags: environment \"" + oneLine(o.environment()) + "\" is archived: no usage is recorded while"
                    + " it is, and no flag can be called stale"
                    : "flags: no usage is recorded in environment \"" + oneLine(o.environment()) + "\" yet: no flag can be called"
                    + " stale (SDKs report every " + oneLine(usage, "reportInterval") + ")");
            return EXIT_OK;
        }
        if (since.isAfter(cutoff)) {
            err.println("flags: usage in environment \"" + oneLine(o.environment()) + "\" is recorded only since " + since
                    + ": too short to tell what is stale for " + period.trim() + " (a flag code evaluates once a month looks"
                    + " unused after a week)");
            return EXIT_OK;
        }
        Set<String> withVariants = new HashSet<>();
        Set<String> offNow = new HashSet<>();
        for (JsonNode f : api.flags(o.environment(), false)) {
            if (f.path("variants").size() > 0) {
                withVariants.add(f.path("key").asText());
            }
            if (!f.path("enabled").asBoolean(true)) {
                offNow.add(f.path("key").asText());
            }
        }
        List<Finding> findings = new ArrayList<>();
        int young = 0;
        boolean historyReadable = true;
        for (JsonNode f : usage.path("flags")) {
            Finding finding = judge(f, cutoff, withVariants.contains(f.path("flag").asText()),
                    offNow.contains(f.path("flag").asText()));
            if (finding == null) {
                continue;
            }
            Boolean old = historyReadable ? servedSince(api, f.path("flag").asText(), cutoff) : null;
            if (old == null) {
                historyReadable = false; // a tester token may read usage, not history
                findings.add(finding);
            } else if (old) {
                findings.add(finding);
            } else {
                young++;
            }
        }
        if (!historyReadable) {
            err.println("flags: this token may not read flags' history, so a flag created or restored within " + period.trim()
                    + " is listed too: check a listed flag's age with an editor token (flags history FLAG)");
        }
        if (findings.isEmpty()) {
            err.println("flags: nothing stale for " + period.trim() + " in environment \"" + oneLine(o.environment())
                    + "\" (usage recorded since " + since + ")" + youngNote(young));
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
                + "flags usage FLAG shows one flag's)" + youngNote(young));
        return EXIT_OK;
    }

    private String youngNote(int young) {
        return young == 0 ? "" : "; " + young + (young == 1 ? " flag" : " flags") + " created or restored within "
                + period.trim() + " not judged";
    }

    private static Duration interval(JsonNode usage) {
        try {
            return usage.hasNonNull("reportInterval") ? Duration.parse(usage.get("reportInterval").asText()) : null;
        } catch (DateTimeParseException e) {
            return null;
        }
    }

    /** Why the flag can go, or null if it is in use with both answers (or, with variants, in use at all). */
    private Finding judge(JsonNode f, Instant cutoff, boolean hasVariants, boolean off) {
        String key = oneLine(f, "flag");
        Instant last = instant(f, "lastEvaluatedAt");
        String shown = last == null ? "never" : last.toString();
        if (last == null || last.isBefore(cutoff)) {
            return new Finding(0, key, shown, "not evaluated for " + period.trim() + ": archive it (flags archive " + key + ")");
        }
        if (hasVariants) {
            return null;
        }
        Instant lastTrue = instant(f, "lastServedTrueAt");
        Instant lastFalse = instant(f, "lastServedFalseAt");
        boolean servedTrue = lastTrue != null && !lastTrue.isBefore(cutoff);
        boolean servedFalse = lastFalse != null && !lastFalse.isBefore(cutoff);
        if (servedTrue && !servedFalse && off) {
            // Switched off since the last report (a kill switch), or a report that is not the SDKs' own (an sdk token
            // ships in every application): never advice to keep a path that is off (QA48a F4).
            return new Finding(1, key, shown, "only true for " + period.trim() + " as reported, but off now: keep the check;"
                    + " flags history " + key + " says when it went off");
        }
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

    /**
     * Whether the flag was served for the whole period: no creation (or restore, which is one) since the
     * cutoff. Its history is read newest first until a version from before the cutoff.
     *
     * @return null if this token may not read history (a tester's)
     */
    private Boolean servedSince(Api api, String key, Instant cutoff) {
        String path = o.flagPath(key) + "/history";
        String query = "";
        long before = Long.MAX_VALUE;
        while (true) {
            JsonNode page;
            try {
                page = api.call("GET", path + query, null, null);
            } catch (CliException e) {
                if (e.httpStatus() == 403) {
                    return null;
                }
                throw e;
            }
            JsonNode versions = page.path("versions");
            for (int i = versions.size() - 1; i >= 0; i--) {
                JsonNode v = versions.get(i);
                Instant at = instant(v, "timestamp");
                if (at != null && !at.isAfter(cutoff)) {
                    return true;
                }
                // A revert that brought an archived flag back is a restore too ("restored": true).
                if ("flag_created".equals(v.path("change").asText()) || v.path("restored").asBoolean(false)) {
                    return false;
                }
            }
            if (!page.hasNonNull("earlier")) {
                // The oldest version is within the period; retention may have removed older ones, which tells
                // that the flag is older than what is left.
                return page.hasNonNull("retention");
            }
            long earlier = page.get("earlier").asLong();
            if (earlier >= before) { // a server (or something in between) that answers the same page: it would never end
                throw new CliException(FlagsCommand.EXIT_FAILED, "the server's history pages of flag "
                        + FlagsCommand.quoted(key) + " do not go back (earlier " + earlier + ", then " + before + ")");
            }
            before = earlier;
            query = "?before=" + earlier;
        }
    }

    /**
     * A time of the server's answer, or null if it has none. One that is no time is not the flag server's answer (a
     * server of another kind, or something in between): said as such, the text escaped, not as a parser's exception.
     */
    private static Instant instant(JsonNode f, String field) {
        if (!f.hasNonNull(field)) {
            return null;
        }
        try {
            return Instant.parse(f.get(field).asText());
        } catch (DateTimeParseException e) {
            throw new CliException(FlagsCommand.EXIT_FAILED, "the server's usage answer has \"" + field + "\": "
                    + FlagsCommand.quoted(f.get(field).asText()) + ", which is no time: is it a flag server's HTTP API? (check"
                    + " --server or FLAGS_SERVER)");
        }
    }
}
