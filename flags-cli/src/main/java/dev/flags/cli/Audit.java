package dev.flags.cli;

import static dev.flags.cli.FlagsCommand.EXIT_FAILED;
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
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code flags audit}: the journal's audit log, one line per change, oldest first: not one flag's versions (that is
 * {@code flags history}) but everything that changed who gets what: role grants and revocations (who let a tester
 * in, until when, and why), schedules made, applied and cancelled, archives, and, for an admin, tokens.
 */
@Command(name = "audit", description = "The audit log, oldest first: every change of the environment (flags, role grants,"
        + " schedules, archives) with when, who and why; an admin with --all-environments sees every environment's and"
        + " the tokens'. Editor, operator, viewer or admin tokens.",
        footerHeading = FlagsCommand.EXAMPLES,
        footer = {"  flags audit --since 8h",
                "  flags audit --actor tok-1a2b3c4d5e6f --since 30d"})
final class Audit implements Callable<Integer> {
    /** The most entries the server answers at once: the command pages on until the range is read. */
    private static final int PAGE = 1_000;
    /** Room for an actor such as {@code flags-server (schedule sch-4f2a9c01d3e7 by alice (tok-1a2b3c4d))}. */
    private static final int MAX_ACTOR_COLUMN = 64;
    /** How much of a scheduled change's patch a line shows; the API's audit has all of it. */
    private static final int MAX_PATCH_SHOWN = 80;

    @Mixin FlagsCommand.ServerOptions o;
    @Mixin FlagsCommand.JsonOutput output;
    @Spec CommandSpec spec;
    @Option(names = "--actor", paramLabel = "ACTOR", description = "Only this actor's changes: a token's name (alice: every"
            + " token of that name) or the actor as shown (alice (tok-1a2b3c4d)).")
    String actor;
    @Option(names = "--since", paramLabel = "WHEN", description = "From this long ago (30d, 8h, 2w, or ISO-8601 such as P90D)"
            + " or this ISO-8601 instant; default: from the journal's start.")
    String since;
    @Option(names = "--until", paramLabel = "INSTANT", description = "Up to this ISO-8601 instant; default: up to now.")
    String until;
    @Option(names = "--all-environments", description = "Every environment's changes and the server's own (tokens made and"
            + " revoked); admin tokens only. Without it: the environment of -e.")
    boolean all;

    @Override
    public Integer call() {
        StringBuilder query = new StringBuilder("?limit=" + PAGE);
        if (!all) {
            query.append("&environment=").append(Api.path(o.environment()));
        }
        if (actor != null) {
            query.append("&actor=").append(Api.path(actor));
        }
        if (since != null) {
            query.append("&from=").append(Api.path(from(since)));
        }
        if (until != null) {
            query.append("&to=").append(Api.path(FlagsCommand.instant(spec, "--until", until)));
        }
        Api api = o.api(spec);
        PrintWriter out = spec.commandLine().getOut();
        // Page by page, never every entry with its whole flag document at once (QA71 F5: a log of 10,001 changes took
        // more than 64 MiB): --json writes each page's entries as it reads them, and the lines keep only what they show.
        com.fasterxml.jackson.core.JsonGenerator json = output.json ? FlagsCommand.terminalJsonGenerator(out) : null;
        List<Line> lines = new ArrayList<>();
        try {
            if (json != null) { // every page's, as one answer
                json.writeStartObject();
                json.writeArrayFieldStart("entries");
            }
            long after = -1;
            while (true) {
                JsonNode page = api.call("GET", "/audit" + query + (after < 0 ? "" : "&after=" + after), null, null);
                for (JsonNode e : page.path("entries")) {
                    if (json != null) {
                        json.writeTree(e);
                    } else {
                        lines.add(new Line(FlagsCommand.toTheSecond(oneLine(e, "timestamp")), environment(e), change(e),
                                oneLine(e, "actor"), what(e), oneLine(e, "comment")));
                    }
                }
                if (!page.hasNonNull("after")) {
                    break;
                }
                long next = page.get("after").asLong();
                if (next <= after) {
                    throw new CliException(EXIT_FAILED, "the server's audit pages do not go on (after " + next + ", then " + after + ")");
                }
                after = next;
            }
            if (json != null) {
                json.writeEndArray();
                json.writeEndObject();
                json.flush();
                out.println();
                return EXIT_OK;
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e); // a PrintWriter's own failures are kept to it: see FlagsCommand.run
        }
        if (lines.isEmpty()) {
            spec.commandLine().getErr().println("flags: no changes" + (actor == null ? "" : " by " + oneLine(actor))
                    + (all ? "" : " in environment \"" + oneLine(o.environment()) + "\"") + (since == null && until == null ? ""
                    : " in that time"));
            return EXIT_OK;
        }
        // Every column as wide as its widest value (the actor's up to a point), so that the comments line up.
        int actorWidth = 1;
        int changeWidth = 18;
        int environmentWidth = 1;
        for (Line l : lines) {
            actorWidth = Math.max(actorWidth, Math.min(MAX_ACTOR_COLUMN, Columns.width(l.actor())));
            changeWidth = Math.max(changeWidth, Columns.width(l.change()));
            environmentWidth = Math.max(environmentWidth, Columns.width(l.environment()));
        }
        for (Line l : lines) {
            String line = l.timestamp() + "  " + (all ? Columns.pad(l.environment(), environmentWidth) + "  " : "")
                    + Columns.pad(l.change(), changeWidth) + " " + Columns.pad(l.actor(), actorWidth) + "  "
                    + l.what() + (l.comment().isEmpty() ? "" : "  " + l.comment());
            out.println(line.stripTrailing());
        }
        return EXIT_OK;
    }

    /** Immutable. What one entry's line shows, each part escaped: an entry without its flag document. */
    private record Line(String timestamp, String environment, String change, String actor, String what, String comment) {
    }

    /**
     * The kind of change, marked {@code (off)} or {@code (on)} where it threw the flag's switch (the server says which),
     * as {@code flags history} marks it: who turned what off must show at a glance in an incident review.
     */
    private static String change(JsonNode e) {
        return oneLine(e, "change") + (e.hasNonNull("switched") ? " (" + oneLine(e, "switched") + ")" : "");
    }

    /** The entry's environment, or "-" for a change outside any (a token's). */
    private static String environment(JsonNode e) {
        return e.hasNonNull("environment") ? oneLine(e, "environment") : "-";
    }

    /** {@code --since}: an instant as it is, a duration back from now. */
    private String from(String text) {
        if (text.trim().matches("\\d{4}-.*")) {
            return FlagsCommand.instant(spec, "--since", text);
        }
        if (FlagsCommand.isoDuration(text) == null && !text.trim().matches("\\d{1,9}\\s*M")) {
            throw new ParameterException(spec.commandLine(), "--since must be a duration back from now such as 90m, 8h, 30d, 2w"
                    + " or 1y (ISO-8601 such as PT8H too), or an instant with its offset such as 2026-12-05T10:40:00Z; was '"
                    + text + "'");
        }
        return FlagsCommand.cutoff(spec, "--since", text).toString();
    }

    /** What the change was about, in words: a role grant names the role, the user and the grant's end. */
    private static String what(JsonNode e) {
        JsonNode payload = e.path("payload");
        String change = e.path("change").asText();
        if (change.equals("role_granted")) {
            return oneLine(payload, "role") + " to " + oneLine(payload, "user")
                    + (payload.hasNonNull("expiresAt") ? " until " + oneLine(payload, "expiresAt") : "");
        }
        if (change.equals("role_revoked")) {
            return oneLine(payload, "role") + " from " + oneLine(payload, "user");
        }
        String subject = oneLine(e, "subject");
        if (change.equals("flag_reverted") && payload.path("revertedTo").asLong() > 0) {
            return subject + " (v" + e.path("version").asLong() + ", back to v" + payload.path("revertedTo").asLong() + ")";
        }
        if (change.startsWith("flag_") || change.equals("schedule_applied")) {
            return subject + (e.path("version").asLong() > 0 ? " (v" + e.path("version").asLong() + ")" : "");
        }
        if (change.equals("schedule_ended") && payload.hasNonNull("outcome")) {
            // The server could not apply it: how it ended and why, or the line reads as a schedule that simply ran out.
            return subject + " (" + oneLine(payload, "outcome") + (payload.hasNonNull("reason") ? ": " + oneLine(payload, "reason")
                    : "") + ")";
        }
        if (change.startsWith("schedule_") && payload.hasNonNull("flag")) {
            // A schedule's id alone says nothing: which flag, when, and what it will do.
            String patch = payload.has("patch") ? ": " + FlagsCommand.oneLine(payload.get("patch").toString()) : "";
            if (patch.length() > MAX_PATCH_SHOWN) {
                patch = patch.substring(0, MAX_PATCH_SHOWN - 3) + "...";
            }
            return subject + " (flag " + oneLine(payload, "flag") + (payload.hasNonNull("at") ? " at " + oneLine(payload, "at")
                    : "") + patch + ")";
        }
        return subject;
    }
}
