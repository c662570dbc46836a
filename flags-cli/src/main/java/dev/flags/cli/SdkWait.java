package dev.flags.cli;

import static dev.flags.cli.FlagsCommand.EXIT_FAILED;
import static dev.flags.cli.FlagsCommand.EXIT_OK;
import static dev.flags.cli.FlagsCommand.oneLine;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * Not thread-safe (one command's). {@code --wait} of a change: after it is written, asks the server ({@code GET
 * .../sdks?version=N}) until every SDK connected to the environment has acknowledged the version the change made, or
 * the time is up. A kill switch thrown in an incident is then known to be in effect in every application, not only on
 * the server.
 */
final class SdkWait {

    /** The option, as a mixin of the commands that change a flag. */
    static final class WaitOption {
        @Option(names = "--wait", arity = "0..1", fallbackValue = "30s", paramLabel = "TIMEOUT",
                description = "Then wait until every SDK connected to the environment has applied the change (as the SDKs"
                        + " acknowledge it), at most TIMEOUT (default 30s, at most 1h); exit 1 if some have not by then.")
        String timeout;
    }

    /** The longest wait one may ask for. */
    static final Duration MAX = Duration.ofHours(1);
    /** How often the server is asked. */
    private static final long POLL_MILLIS = 250;
    /** How many SDKs that have not applied the change are named when the time is up. */
    private static final int NAMED = 10;

    private SdkWait() {
    }

    /**
     * @return the wait asked for by {@code --wait}, or null if it was not given
     * @throws ParameterException for anything but a positive duration of at most {@link #MAX}
     */
    static Duration timeout(CommandSpec spec, WaitOption option) {
        if (option == null || option.timeout == null) {
            return null;
        }
        String iso = FlagsCommand.isoDuration(option.timeout);
        Duration d = null;
        try {
            d = iso == null ? null : Duration.parse(iso);
        } catch (DateTimeParseException e) {
            // said below
        }
        if (d == null || d.isNegative() || d.isZero() || d.compareTo(MAX) > 0) {
            throw new ParameterException(spec.commandLine(), "--wait must be a positive duration of at most 1h, such as"
                    + " 10s, 30s or 5m; was '" + option.timeout + "'");
        }
        return d;
    }

    /**
     * Waits for the SDKs, saying on stderr how it ended.
     *
     * @param version the environment's version the change made, or -1 for its version now (the change made none: the
     *                flag already was so)
     * @return {@link FlagsCommand#EXIT_OK} once every SDK that acknowledges has applied it (or there is none),
     *     {@link FlagsCommand#EXIT_FAILED} if some have not when the time is up, or the server cannot say
     */
    static int await(CommandSpec spec, Api api, String environment, long version, Duration timeout) {
        PrintWriter err = spec.commandLine().getErr();
        String path = "/environments/" + Api.path(environment) + "/sdks?limit=" + NAMED
                + (version > 0 ? "&version=" + version : "");
        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        JsonNode answer;
        for (;;) {
            try {
                answer = api.expect(api.call("GET", path, null, null), "pending", "a list of SDKs");
            } catch (CliException e) {
                if (e.httpStatus() == 404 && e.getMessage().contains("no endpoint")) {
                    err.println("flags: the server does not list its SDKs (a release from before it): the change is made,"
                            + " and whether the SDKs have it cannot be told");
                    return EXIT_FAILED;
                }
                err.println("flags: the change is made, but cannot wait for the SDKs: " + e.getMessage());
                return EXIT_FAILED;
            }
            if (answer.path("pending").asInt() == 0 || System.nanoTime() - deadline >= 0) {
                break;
            }
            try {
                Thread.sleep(POLL_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                err.println("flags: the change is made; stopped waiting for the SDKs");
                return EXIT_FAILED;
            }
        }
        String took = String.format(Locale.ROOT, "%.1f s", (System.nanoTime() - start) / 1e9);
        long target = answer.path("target").asLong();
        int streams = answer.path("streams").asInt();
        int applied = answer.path("applied").asInt();
        int pending = answer.path("pending").asInt();
        int unconfirmed = answer.path("unconfirmed").asInt();
        String where = "environment \"" + oneLine(environment) + "\"";
        String cannotSay = unconfirmed == 0 ? "" : "; " + count(unconfirmed, "more SDK", "more SDKs")
                + " cannot say (from before acknowledgements: " + unconfirmedSdks(answer) + ")";
        if (streams == 0) {
            err.println("flags: no SDK is connected to " + where + ": none to wait for");
            return EXIT_OK;
        }
        if (pending == 0) {
            if (applied == 0) {
                err.println("flags: none of the " + count(streams, "SDK", "SDKs") + " connected to " + where
                        + " can say whether it has version " + target + " (SDKs from before acknowledgements: "
                        + unconfirmedSdks(answer) + ")");
            } else if (unconfirmed == 0) {
                err.println("flags: " + (applied == 1 ? "the SDK connected to " + where + " has"
                        : "all " + count(applied, "SDK", "SDKs") + " connected to " + where + " have")
                        + " applied version " + target + " (" + took + ")");
            } else {
                err.println("flags: " + count(applied, "SDK", "SDKs") + " connected to " + where
                        + (applied == 1 ? " has" : " have") + " applied version " + target + " (" + took + ")" + cannotSay);
            }
            return EXIT_OK;
        }
        err.println("flags: the change is made, but after " + took + ", " + pending + " of " + count(streams, "SDK", "SDKs")
                + " connected to " + where + (pending == 1 ? " has" : " have") + " not applied version " + target + ":");
        int named = 0;
        for (JsonNode sdk : answer.path("sdks")) {
            if (!"pending".equals(sdk.path("standing").asText())) {
                continue;
            }
            named++;
            err.println("  " + (sdk.hasNonNull("application") ? oneLine(sdk.get("application").asText()) : "(unnamed)")
                    + ": " + oneLine(sdk.path("sdk").asText()) + ", instance " + oneLine(sdk.path("instance").asText())
                    + ", token " + oneLine(sdk.path("token").asText()) + "; "
                    + (sdk.hasNonNull("appliedVersion") ? "has version " + sdk.get("appliedVersion").asLong()
                            : "has acknowledged none")
                    + (sdk.path("sentVersion").asLong() >= target ? " (the server has sent it version " + target + ")"
                            : " (the server has not sent it version " + target + " yet)")
                    + ", connected " + oneLine(sdk.path("connectedAt").asText()));
        }
        if (pending > named) {
            err.println("  and " + (pending - named) + " more (GET /api/v1/environments/" + oneLine(environment)
                    + "/sdks?version=" + target + " lists up to 1,000)");
        }
        if (!cannotSay.isEmpty()) {
            err.println("  " + cannotSay.substring(2));
        }
        return EXIT_FAILED;
    }

    /** The distinct SDK names among the unconfirmed streams listed. */
    private static String unconfirmedSdks(JsonNode answer) {
        java.util.Set<String> names = new java.util.TreeSet<>();
        for (JsonNode sdk : answer.path("sdks")) {
            if ("unconfirmed".equals(sdk.path("standing").asText())) {
                names.add(oneLine(sdk.path("sdk").asText()));
            }
        }
        return names.isEmpty() ? "see GET .../sdks" : String.join(", ", names);
    }

    private static String count(int n, String one, String many) {
        return String.format(Locale.ROOT, "%,d", n) + " " + (n == 1 ? one : many);
    }
}
