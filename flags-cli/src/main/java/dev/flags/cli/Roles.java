package dev.flags.cli;

import static dev.flags.cli.FlagsCommand.EXIT_OK;
import static dev.flags.cli.FlagsCommand.oneLine;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code flags roles}: the environment's roles as the server grants them: which are self-service (and for
 * how long a grant may run) and who holds each, until when. A tester sees its own user's grants only, as
 * the API shows them: "which roles do I have, and when do they end?".
 */
@Command(name = "roles", description = "The environment's roles: self-service or not (and the longest grant), and who holds"
        + " each until when (the first " + Roles.SHOWN + "; flags roles members ROLE lists them all). A tester token sees its own"
        + " user's grants only.", subcommands = {Roles.SelfService.class, Roles.Members.class})
final class Roles implements Callable<Integer> {
    /** How many members of a role the table shows; the rest are counted ({@code flags roles members ROLE} lists them). */
    static final int SHOWN = 10;

    @Mixin FlagsCommand.ServerOptions o;
    @Mixin FlagsCommand.JsonOutput output;
    @Spec CommandSpec spec;

    @Override
    public Integer call() {
        JsonNode roles = o.api(spec).call("GET", "/environments/" + Api.path(o.environment()) + "/roles", null, null);
        if (output.json) {
            FlagsCommand.print(spec, roles);
            return EXIT_OK;
        }
        TreeSet<String> names = new TreeSet<>();
        roles.path("selfService").forEach(r -> names.add(r.asText()));
        roles.path("members").fieldNames().forEachRemaining(names::add);
        if (names.isEmpty()) {
            spec.commandLine().getErr().println("flags: no self-service roles and no role grants in environment \""
                    + oneLine(o.environment()) + "\"");
            return EXIT_OK;
        }
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"ROLE", "SELF-SERVICE", "MEMBERS"});
        for (String role : names) {
            rows.add(new String[] {oneLine(role), selfService(roles, role), members(roles, role, o.environment())});
        }
        if (roles.hasNonNull("onlyUser")) {
            // "(none)" beside a role means "not you" then, not "nobody": said once, on stderr, as other notes are.
            spec.commandLine().getErr().println("flags: this tester token sees the grants of its own user only ("
                    + user(roles.get("onlyUser").asText()) + ")");
        }
        int roleWidth = rows.stream().mapToInt(r -> Columns.width(r[0])).max().orElse(4);
        int selfWidth = rows.stream().mapToInt(r -> Columns.width(r[1])).max().orElse(12);
        PrintWriter out = spec.commandLine().getOut();
        for (String[] r : rows) {
            out.println((Columns.pad(r[0], roleWidth) + "  " + Columns.pad(r[1], selfWidth) + "  " + r[2]).stripTrailing());
        }
        return EXIT_OK;
    }

    private static String selfService(JsonNode roles, String role) {
        for (JsonNode r : roles.path("selfService")) {
            if (r.asText().equals(role)) {
                JsonNode max = roles.path("maxGrantDuration").path(role);
                return max.isTextual() ? "yes, up to " + readable(max.asText()) : "yes";
            }
        }
        return "no";
    }

    /**
     * A user id as one item of the list: quoted if it holds what the list itself is made of (a space, a comma,
     * a parenthesis, a quote), so that {@code mallory (until 2026-12-05T00:00:00Z), ceo} cannot pass for two members.
     */
    static String user(String id) {
        String shown = oneLine(id);
        return shown.matches("[^\\s,()\"]+") ? shown : "\"" + shown.replace("\"", "\\\"") + "\"";
    }

    /** PT168H as 7d, PT36H as 36h: how grants are asked for ({@code flags grant ... --for 7d}); anything else as it is. */
    static String readable(String iso) {
        try {
            long seconds = java.time.Duration.parse(iso).getSeconds();
            if (seconds > 0 && seconds % 86_400 == 0) {
                return seconds / 86_400 + "d";
            }
            if (seconds > 0 && seconds % 3_600 == 0) {
                return seconds / 3_600 + "h";
            }
            if (seconds > 0 && seconds % 60 == 0) {
                return seconds / 60 + "m";
            }
            if (seconds > 0 && java.time.Duration.parse(iso).getNano() == 0) {
                return seconds + "s";
            }
        } catch (java.time.format.DateTimeParseException e) {
            // shown as the server wrote it
        }
        return oneLine(iso);
    }

    /**
     * {@code tess (until 2026-12-10T09:00:00Z), erik}: each member, with the end of a grant that has one; past {@link
     * #SHOWN}, the first ones and how many more (a role of thousands made a line of a hundred kilobytes).
     */
    private static String members(JsonNode roles, String role, String environment) {
        JsonNode members = roles.path("members").path(role);
        List<String> shown = new ArrayList<>();
        for (JsonNode user : members) {
            if (shown.size() == SHOWN) {
                break;
            }
            shown.add(user(user.asText()) + until(roles, role, user.asText(), " (until ", ")"));
        }
        if (shown.isEmpty()) {
            return "(none)";
        }
        int more = members.size() - shown.size();
        return String.join(", ", shown) + (more == 0 ? "" : String.format(java.util.Locale.ROOT, ", and %,d more (%,d in all:"
                + " flags roles members %s -e %s)", more, members.size(), user(role), user(environment)));
    }

    private static String until(JsonNode roles, String role, String user, String before, String after) {
        JsonNode until = roles.path("expiresAt").path(role).path(user);
        return until.isTextual() ? before + oneLine(until.asText()) + after : "";
    }

    /** {@code flags roles members ROLE}: every member of a role, one a line, with the end of a grant that has one. */
    @Command(name = "members", mixinStandardHelpOptions = true, description = "Every member of a role, one a line: the user"
            + " id, and the end of a grant that has one. A tester token sees its own user only.")
    static final class Members implements Callable<Integer> {
        @Mixin FlagsCommand.ServerOptions o;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "ROLE", description = "The role's name.") String role;

        @Override
        public Integer call() {
            JsonNode roles = o.api(spec).call("GET", "/environments/" + Api.path(o.environment()) + "/roles", null, null);
            JsonNode members = roles.path("members").path(role);
            if (roles.hasNonNull("onlyUser")) {
                spec.commandLine().getErr().println("flags: this tester token sees the grants of its own user only ("
                        + user(roles.get("onlyUser").asText()) + ")");
            }
            if (members.isEmpty()) {
                TreeSet<String> known = new TreeSet<>();
                roles.path("members").fieldNames().forEachRemaining(known::add);
                roles.path("selfService").forEach(r -> known.add(r.asText()));
                if (!known.contains(role) && !roles.hasNonNull("onlyUser")) {
                    o.api(spec).flags(o.environment(), false).forEach(f -> f.path("rules").forEach(rule ->
                            rule.path("conditions").forEach(c -> c.path("roles").forEach(r -> known.add(r.asText())))));
                    if (!known.contains(role)) { // a typo, most likely: a script counting members must not read it as 0
                        throw new CliException(FlagsCommand.EXIT_FAILED, "no role \"" + oneLine(role) + "\" in environment \""
                                + oneLine(o.environment()) + "\": nobody holds it, no rule names it, and it is not self-service"
                                + dev.flags.core.Suggestions.closest(role, known, 2).map(near -> "; did you mean \"" + oneLine(near)
                                + "\"?").orElse(""));
                    }
                }
                spec.commandLine().getErr().println("flags: role \"" + oneLine(role) + "\" has no members in environment \""
                        + oneLine(o.environment()) + "\"");
                return EXIT_OK;
            }
            PrintWriter out = spec.commandLine().getOut();
            for (JsonNode user : members) {
                // One a line: the id as it is (no quotes needed), its end after a tab, for cut and awk.
                out.println(oneLine(user.asText()) + until(roles, role, user.asText(), "\tuntil ", ""));
            }
            return EXIT_OK;
        }
    }

    /** {@code flags roles self-service ROLE on|off}: whether testers may grant a role to themselves, and for how long. */
    @Command(name = "self-service", mixinStandardHelpOptions = true, description = "Let testers grant a role to themselves"
            + " (on), for at most --max-grant if given, or no longer (off). Admin token.")
    static final class SelfService implements Callable<Integer> {
        @Mixin FlagsCommand.ServerOptions o;
        @Mixin FlagsCommand.CommentOption why;
        @Spec CommandSpec spec;
        @Parameters(index = "0", paramLabel = "ROLE", description = "The role's name.") String role;
        @Parameters(index = "1", paramLabel = "on|off", description = "on: testers may grant it to themselves; off: they may not.") String state;
        @Option(names = "--max-grant", paramLabel = "DURATION", description = "The longest grant anyone but an admin may"
                + " give it: 8h, 7d, 2w, or ISO-8601 such as P7D (with on only).") String maxGrant;

        @Override
        public Integer call() {
            if (!state.equals("on") && !state.equals("off")) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), "on|off must be on or off, was '" + state
                        + "'");
            }
            boolean on = state.equals("on");
            if (!on && maxGrant != null) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--max-grant goes with on only: it limits"
                        + " how long testers may grant the role to themselves");
            }
            com.fasterxml.jackson.databind.node.ObjectNode body = Api.JSON.createObjectNode().put("selfService", on);
            String longest = maxGrant == null ? null : maxGrant(spec, maxGrant);
            if (longest != null) {
                body.put("maxGrantDuration", longest);
            }
            JsonNode answer = o.api(spec).call("PUT", "/environments/" + Api.path(o.environment()) + "/roles/" + Api.path(role),
                    body, why.comment);
            spec.commandLine().getOut().println(FlagsCommand.terminalJson(answer));
            spec.commandLine().getErr().println("flags: role \"" + oneLine(role) + "\" in environment \""
                    + oneLine(o.environment()) + "\" is " + (on ? "self-service" + (longest == null ? "" : ", up to "
                    + readable(longest)) : "not self-service"));
            return EXIT_OK;
        }

        /**
         * The longest grant as the server takes it: a fixed length, so weeks become days (2w: P14D), and months and years,
         * whose length depends on when the grant starts, are refused here rather than by the server.
         */
        static String maxGrant(CommandSpec spec, String text) {
            String iso = FlagsCommand.positiveDuration(spec, "--max-grant", text); // 0h is bad usage, not a server's no
            int time = iso.indexOf('T');
            String date = time < 0 ? iso : iso.substring(0, time);
            if (date.contains("Y") || date.contains("M")) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--max-grant must be a fixed length:"
                        + " hours, days or weeks (such as 8h, 7d or 2w; a month or a year has no fixed length), was '" + text + "'");
            }
            if (date.contains("W")) {
                java.time.Period weeks = java.time.Period.parse(date);
                return "P" + weeks.getDays() + "D" + (time < 0 ? "" : iso.substring(time));
            }
            return iso;
        }
    }
}
