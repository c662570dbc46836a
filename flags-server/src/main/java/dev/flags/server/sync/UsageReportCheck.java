package dev.flags.server.sync;

import dev.flags.core.Flag;
import dev.flags.core.ReadableText;
import dev.flags.protocol.ReportedName;
import dev.flags.protocol.v1.FlagUsage;
import dev.flags.protocol.v1.UsageReport;
import dev.flags.server.LogText;
import java.util.HashMap;
import java.util.Map;

/**
 * Immutable (stateless). The limits of a usage report (docs/server.md, "Flag usage"), and the first one a
 * report breaks, in words that say what and which. Text from the report is quoted and cut short: a
 * message never carries an unbounded input whole.
 */
final class UsageReportCheck {

    /** The most flags one report may list. */
    static final int MAX_FLAGS = 10_000;
    /** The most unknown keys one report may list. */
    static final int MAX_UNKNOWN_FLAGS = 1_000;
    /** The most characters of {@code sdk} and of {@code application}. */
    static final int MAX_NAME_LENGTH = ReportedName.MAX_LENGTH;
    /** The most characters of a client's text shown in a message. */
    private static final int SHOWN = 60;

    private UsageReportCheck() {
    }

    /**
     * @param report a report whose environment was already checked
     * @return what is wrong with it, or null if nothing is
     */
    static String problem(UsageReport report) {
        if (report.getFlagsCount() > MAX_FLAGS) {
            return "a report lists at most " + MAX_FLAGS + " flags, this one " + report.getFlagsCount()
                    + ": report more often, or fewer flags";
        }
        if (report.getUnknownFlagsCount() > MAX_UNKNOWN_FLAGS) {
            return "a report lists at most " + MAX_UNKNOWN_FLAGS + " unknown_flags, this one " + report.getUnknownFlagsCount()
                    + ": report more often, or fewer unknown keys";
        }
        String name = nameProblem("sdk", report.getSdk(), false);
        if (name != null) {
            return name;
        }
        name = nameProblem("application", report.getApplication(), true);
        if (name != null) {
            return name;
        }
        Map<String, Integer> seen = new HashMap<>();
        for (int i = 0; i < report.getFlagsCount(); i++) {
            FlagUsage f = report.getFlags(i);
            if (!Flag.isValidKey(f.getKey())) {
                return "flags[" + i + "].key " + shown(f.getKey()) + " is not a flag key: " + Flag.KEY_SYNTAX;
            }
            Integer first = seen.putIfAbsent(f.getKey(), i);
            if (first != null) {
                return "flags[" + i + "].key " + shown(f.getKey()) + " is listed twice (flags[" + first + "] too): list each"
                        + " flag once per report";
            }
            if (!f.getServedTrue() && !f.getServedFalse()) {
                return "flags[" + i + "] (" + shown(f.getKey()) + ") has neither served_true nor served_false: set the"
                        + " answers the flag gave";
            }
        }
        // A key may be in both lists: the flag was created, or archived, during the period.
        Map<String, Integer> unknown = new HashMap<>();
        for (int i = 0; i < report.getUnknownFlagsCount(); i++) {
            String key = report.getUnknownFlags(i);
            if (!Flag.isValidKey(key)) {
                return "unknown_flags[" + i + "] " + shown(key) + " is not a flag key: " + Flag.KEY_SYNTAX;
            }
            Integer first = unknown.putIfAbsent(key, i);
            if (first != null) {
                return "unknown_flags[" + i + "] " + shown(key) + " is listed twice (unknown_flags[" + first + "] too): list"
                        + " each unknown key once per report";
            }
        }
        return null;
    }

    /** The SDK's own rule ({@link ReportedName}, which the SDK applies when the application names itself). */
    private static String nameProblem(String field, String value, boolean application) {
        String problem = ReportedName.problem(value, application);
        if (problem == null) {
            return null;
        }
        // Never quoted when it may be a secret: the description goes back over the wire and into the DEBUG log (QA85 F1).
        return field + " " + problem + (ReadableText.holdsAToken(value) ? "" : ": " + shown(value));
    }

    /** Quoted, escaped, and at most {@link #SHOWN} characters of it; a token in it written {@code flg_***} (QA85 F1). */
    private static String shown(String text) {
        return LogText.quoted(ReadableText.withTokensHidden(text), SHOWN);
    }
}
