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
import picocli.CommandLine.Spec;

/**
 * {@code flags environments}: the environments this token may read, and how full each is. Every SDK of an
 * environment holds all of it, so the server keeps each within limits (a flag count and a size); an operator
 * sees here which is near them before a release's new flag is refused.
 */
@Command(name = "environments", description = "The environments this token may read: version, flags and size against"
        + " the server's limits for one environment, and whether archived.")
final class Environments implements Callable<Integer> {
    @Mixin FlagsCommand.ConnectionOptions o;
    @Spec CommandSpec spec;

    @Override
    public Integer call() {
        JsonNode environments = o.api(spec).call("GET", "/environments", null, null).path("environments");
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
}
