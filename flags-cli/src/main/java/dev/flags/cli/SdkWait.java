package dev.flags.cli;

import static dev.flags.cli.FlagsCommand.EXIT_FAILED;
import static dev.flags.cli.FlagsCommand.EXIT_OK;
import static dev.flags.cli.FlagsCommand.oneLine;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
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
    /** How many streams each poll lists: the pending ones among them are followed until they confirm or leave. */
    private static final int TRACKED = 100;
    /** The most streams the server lists in one answer ({@code limit}'s maximum). */
    static final int MAX_LISTED = 1_000;
    /** How long after a server's start the SDKs connected before it are all back: their longest backoff, and a margin. */
    private static final Duration RECONNECT_WITHIN = Duration.ofSeconds(35);

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
        Duration d = parse(option.timeout);
        if (d == null || !inRange(d)) {
            throw new ParameterException(spec.commandLine(), badValue(option.timeout));
        }
        return d;
    }

    /** @return the text as a duration (10s, 5m, PT30S), or null if it is none */
    static Duration parse(String text) {
        String iso = FlagsCommand.isoDuration(text);
        try {
            return iso == null ? null : Duration.parse(iso);
        } catch (DateTimeParseException e) {
            return null;
        }
    }

    /** @return whether a wait of this long may be asked for: more than zero, at most {@link #MAX} */
    static boolean inRange(Duration d) {
        return !d.isNegative() && !d.isZero() && d.compareTo(MAX) <= 0;
    }

    static String badValue(String text) {
        return "--wait must be a positive duration of at most 1h, such as 10s, 30s or 5m; was '" + text + "'";
    }

    /**
     * The version to wait for after a write of one flag: the environment's version the write made, or, if it changed
     * nothing (the flag already was so), the flag's own version, the environment's version of its last change. Not the
     * environment's version now: other writers move it on, and SDKs that have the flag as it is would be waited for
     * past it (QA50a F1).
     *
     * @param flag the flag as the write answered it
     */
    static long versionOf(Api api, JsonNode flag) {
        long made = api.lastEnvironmentVersion();
        return made > 0 ? made : flag.path("version").asLong(-1);
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
        long start = System.nanoTime();
        Polled polled;
        try {
            polled = poll(api, environment, version, start + timeout.toNanos());
        } catch (Stopped e) {
            err.println(e.getMessage());
            return EXIT_FAILED;
        }
        String took = String.format(Locale.ROOT, "%.1f s", (System.nanoTime() - start) / 1e9);
        return report(err, environment, polled, took);
    }

    /**
     * The last list of SDKs polled, with the instances seen pending in an earlier list that have left since without
     * saying they applied the version (not closed by their application, and not listed any more), and those seen pending
     * that not even the longest list the server gives shows, so that whether they applied it or left cannot be told.
     */
    private record Polled(JsonNode answer, Map<String, JsonNode> leftPending, Map<String, JsonNode> unaccounted,
                          boolean restarted) {
    }

    /** A wait that ended without a list to judge; its message says why. */
    private static final class Stopped extends Exception {
        Stopped(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * Not thread-safe. Asks for the list of SDKs; from the first answer's time on, with the instances closed by their
     * application since (QA50a F3): one seen pending that leaves has closed for good (it serves nothing), or lost its
     * connection (it may serve what it had); only the second kind is a failure.
     */
    private static final class Lister {
        private final Api api;
        private final String path;
        private final String version;
        /** The first answer's {@code at}, %-encoded; null before it, and for a server without the list of closed ones. */
        private String closedAfter;
        private boolean closedListed = true;

        Lister(Api api, String environment, long version) {
            this.api = api;
            this.path = "/environments/" + Api.path(environment) + "/sdks?limit=";
            this.version = version > 0 ? "&version=" + version : "";
        }

        /** @param limit how many streams the answer lists (the counts are always of them all) */
        JsonNode list(int limit) throws Stopped {
            for (;;) {
                try {
                    JsonNode answer = api.expect(api.call("GET", path + limit + version
                            + (closedAfter == null ? "" : "&closedAfter=" + closedAfter), null, null), "pending", "a list of SDKs");
                    if (closedAfter == null && closedListed && !answer.path("at").asText("").isEmpty()) {
                        closedAfter = Api.path(answer.get("at").asText());
                    }
                    return answer;
                } catch (CliException e) {
                    if (e.httpStatus() == 400 && closedAfter != null && e.getMessage().contains("closedAfter")) {
                        closedListed = false; // a server from before the list: asked again without it, as before it
                        closedAfter = null;
                        continue;
                    }
                    if (e.httpStatus() == 404 && e.getMessage().contains("no endpoint")) {
                        throw new Stopped("flags: the server does not list its SDKs (a release from before it): the change is"
                                + " made, and whether the SDKs have it cannot be told");
                    }
                    throw new Stopped("flags: the change is made, but cannot wait for the SDKs: " + e.getMessage());
                }
            }
        }
    }

    /**
     * Polls the list of SDKs until none is pending, the deadline, or a restart of the server.
     *
     * <p>Every instance seen pending is followed until a list shows it applied, or its application closed it: one that
     * leaves the list before has not confirmed, it has gone (QA49a F1). The server lists the pending first and the
     * applied last, {@link #TRACKED} of them a poll; so an instance missing from a list cut short ({@code more > 0}) may
     * only have applied and moved beyond it. Then the list is asked for once at its longest ({@link #MAX_LISTED}), which
     * shows it unless the environment has more streams than that (QA71 F1: clearing what was seen pending whenever the
     * list was cut made every wait on a fleet of over 100 SDKs an all-clear, whoever had left).
     */
    private static Polled poll(Api api, String environment, long version, long deadline) throws Stopped {
        api.retryUntil(deadline);
        Lister lister = new Lister(api, environment, version);
        // Seen pending, and not seen applied or closed since.
        Map<String, JsonNode> followed = new LinkedHashMap<>();
        // Of those, the ones that not even a list at its longest showed: not asked for again at that length.
        Set<String> beyondLongest = new HashSet<>();
        JsonNode answer;
        String startedAt = null;
        boolean restarted = false;
        for (;;) {
            answer = lister.list(TRACKED);
            follow(followed, answer);
            if (answer.path("more").asInt() > 0 && !missing(followed, answer, beyondLongest).isEmpty()) {
                answer = lister.list(MAX_LISTED);
                follow(followed, answer);
                if (answer.path("more").asInt() > 0) {
                    beyondLongest.addAll(missing(followed, answer, Set.of()));
                }
            }
            String started = answer.path("serverStartedAt").asText("");
            if (startedAt == null) {
                startedAt = started;
            } else if (!startedAt.equals(started)) {
                restarted = true; // its SDKs reconnect over up to 30 s: an early list would be short of them
                break;
            }
            if (answer.path("pending").asInt() == 0 || System.nanoTime() - deadline >= 0) {
                break;
            }
            try {
                Thread.sleep(POLL_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Stopped("flags: the change is made; stopped waiting for the SDKs");
            }
        }
        Map<String, JsonNode> left = new LinkedHashMap<>();
        Map<String, JsonNode> unaccounted = new LinkedHashMap<>();
        for (String instance : missing(followed, answer, Set.of())) {
            // Not listed: in a whole list, it has gone; in one cut short even at its longest, it may be beyond it.
            (answer.path("more").asInt() == 0 ? left : unaccounted).put(instance, followed.get(instance));
        }
        return new Polled(answer, left, unaccounted, restarted);
    }

    /** Follows the instances a list shows pending, and stops following those it shows applied or closed. */
    private static void follow(Map<String, JsonNode> followed, JsonNode answer) {
        for (JsonNode sdk : answer.path("sdks")) {
            if (!sdk.hasNonNull("instance")) {
                continue; // an SDK from before acknowledgements: counted as unconfirmed, never pending
            }
            String standing = sdk.path("standing").asText();
            if (standing.equals("pending")) {
                followed.put(sdk.get("instance").asText(), sdk);
            } else if (standing.equals("applied")) {
                followed.remove(sdk.get("instance").asText()); // it said it applied the version: done, even if it leaves
            }
        }
        for (JsonNode sdk : answer.path("closed")) {
            followed.remove(sdk.path("instance").asText()); // closed for good: it serves nothing, old or new
        }
    }

    /** @return the instances followed that the list does not show, but for those in {@code except} */
    private static Set<String> missing(Map<String, JsonNode> followed, JsonNode answer, Set<String> except) {
        Set<String> missing = new LinkedHashSet<>(followed.keySet());
        for (JsonNode sdk : answer.path("sdks")) {
            missing.remove(sdk.path("instance").asText());
        }
        missing.removeAll(except);
        return missing;
    }

    /** Says on stderr how the wait ended. @return the command's exit code */
    private static int report(PrintWriter err, String environment, Polled polled, String took) {
        JsonNode answer = polled.answer();
        Map<String, JsonNode> seenPending = polled.leftPending();
        Map<String, JsonNode> unaccounted = polled.unaccounted();
        boolean allAccounted = seenPending.isEmpty() && unaccounted.isEmpty(); // never an all-clear without them
        int closedByApplication = answer.path("closed").size(); // since the first answer: pending then, or not
        long target = answer.path("target").asLong();
        int streams = answer.path("streams").asInt();
        int applied = answer.path("applied").asInt();
        int pending = answer.path("pending").asInt();
        int unconfirmed = answer.path("unconfirmed").asInt();
        String where = "environment \"" + oneLine(environment) + "\"";
        String cannotSay = unconfirmed == 0 ? "" : "; " + count(unconfirmed, "more SDK", "more SDKs")
                + " cannot say (from before acknowledgements: " + unconfirmedSdks(answer) + ")";
        int result = EXIT_OK;
        if (polled.restarted()) {
            err.println("flags: the change is made, but the server restarted during the wait: the SDKs connected before"
                    + " reconnect within 30 s, and until then the list is short of them, so this cannot be confirmed; flags"
                    + " sdks --version " + target + " lists who has it");
            return EXIT_FAILED;
        }
        if (pending > 0) {
            err.println("flags: the change is made, but after " + took + ", " + pending + " of " + count(streams, "SDK", "SDKs")
                    + " connected to " + where + (pending == 1 ? " has" : " have") + " not applied version " + target + ":");
            int named = 0;
            for (JsonNode sdk : answer.path("sdks")) {
                if ("pending".equals(sdk.path("standing").asText()) && named < NAMED) {
                    named++;
                    err.println("  " + describe(sdk) + "; " + (sdk.hasNonNull("appliedVersion") ? "has version "
                            + sdk.get("appliedVersion").asLong() : "has acknowledged none")
                            + (sdk.path("sentVersion").asLong() >= target ? " (the server has sent it version " + target + ")"
                                    : " (the server has not sent it version " + target + " yet)")
                            + ", connected " + oneLine(sdk.path("connectedAt").asText()));
                }
            }
            if (pending > named) {
                err.println("  and " + (pending - named) + " more (flags sdks --version " + target + " lists them)");
            }
            if (!cannotSay.isEmpty()) {
                err.println("  " + cannotSay.substring(2));
            }
            result = EXIT_FAILED;
        } else if (streams == 0 && allAccounted) {
            err.println("flags: no SDK is connected to " + where + ": none to wait for");
        } else if (applied == 0 && allAccounted) {
            err.println("flags: none of the " + count(streams, "SDK", "SDKs") + " connected to " + where
                    + " can say whether it has version " + target + " (SDKs from before acknowledgements: "
                    + unconfirmedSdks(answer) + ")");
        } else if (allAccounted) {
            if (unconfirmed == 0) {
                err.println("flags: " + (applied == 1 ? "the SDK connected to " + where + " has"
                        : "all " + count(applied, "SDK", "SDKs") + " connected to " + where + " have")
                        + " applied version " + target + " (" + took + ")");
            } else {
                err.println("flags: " + count(applied, "SDK", "SDKs") + " connected to " + where
                        + (applied == 1 ? " has" : " have") + " applied version " + target + " (" + took + ")" + cannotSay);
            }
        }
        if (!settled(answer)) {
            // Started before the wait, but so lately that SDKs connected to it before may not be back: said, not judged
            err.println("flags: note: the server started " + serverUptime(answer) + " ago: SDKs that were connected before"
                    + " it reconnect within 30 s, and until then are not in the list (flags sdks --version " + target
                    + " shows it again)");
        }
        if (closedByApplication > 0) {
            err.println("flags: " + count(closedByApplication, "SDK", "SDKs") + " connected to " + where + " closed during"
                    + " the wait (" + (closedByApplication == 1 ? "its application closed it: it serves" : "their applications"
                    + " closed them: they serve") + " no flags any more)");
        }
        if (!seenPending.isEmpty()) {
            err.println("flags: the change is made, but " + count(seenPending.size(), "SDK", "SDKs") + " connected to " + where
                    + " left before saying " + (seenPending.size() == 1 ? "it" : "they") + " applied version " + target
                    + " (lost connections, or applications stopped without closing the SDK: while away one may answer from"
                    + " what it had; it gets the change once it is back):");
            seenPending.values().stream().limit(NAMED).forEach(sdk -> err.println("  " + describe(sdk)));
            if (seenPending.size() > NAMED) {
                err.println("  and " + (seenPending.size() - NAMED) + " more");
            }
            result = EXIT_FAILED;
        }
        if (!unaccounted.isEmpty()) {
            err.println("flags: the change is made, but " + count(unaccounted.size(), "SDK", "SDKs") + " connected to " + where
                    + " seen pending " + (unaccounted.size() == 1 ? "is" : "are") + " not among the "
                    + count(answer.path("sdks").size(), "SDK", "SDKs") + " the server lists at most, of its "
                    + String.format(Locale.ROOT, "%,d", streams) + ": whether " + (unaccounted.size() == 1 ? "it" : "they") + " applied version "
                    + target + " or left cannot be told (flags sdks --version " + target + " --limit " + MAX_LISTED
                    + " lists the others):");
            unaccounted.values().stream().limit(NAMED).forEach(sdk -> err.println("  " + describe(sdk)));
            if (unaccounted.size() > NAMED) {
                err.println("  and " + (unaccounted.size() - NAMED) + " more");
            }
            result = EXIT_FAILED;
        }
        return result;
    }

    /** An SDK of the list as a line names it: application, SDK, instance and token. */
    private static String describe(JsonNode sdk) {
        String name = sdk.path("sdk").asText();
        return (sdk.hasNonNull("application") ? oneLine(sdk.get("application").asText()) : "(unnamed)") + ": "
                + (name.isEmpty() ? "an SDK without a name" : oneLine(name)) + ", instance "
                + oneLine(sdk.path("instance").asText()) + ", token " + oneLine(sdk.path("token").asText());
    }

    /**
     * Whether the server has run long enough for the SDKs connected before it started to be back: they reconnect
     * within their backoff, 30 s at most. An answer without {@code serverStartedAt} is taken as settled.
     */
    private static boolean settled(JsonNode answer) {
        Duration up = uptime(answer);
        return up == null || up.compareTo(RECONNECT_WITHIN) >= 0;
    }

    private static Duration uptime(JsonNode answer) {
        try {
            return Duration.between(java.time.Instant.parse(answer.path("serverStartedAt").asText()),
                    java.time.Instant.parse(answer.path("at").asText()));
        } catch (java.time.format.DateTimeParseException e) {
            return null;
        }
    }

    private static String serverUptime(JsonNode answer) {
        Duration up = uptime(answer);
        return up == null ? "moments" : up.getSeconds() + " s";
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
