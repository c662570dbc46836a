package dev.flags.protocol;

import dev.flags.core.ReadableText;

/**
 * Immutable (stateless). The rule for the names a usage report carries ({@code UsageReport.sdk} and
 * {@code application}), applied by the SDK when the application sets its name and by the server to
 * every report: a name the SDK takes is one the server takes, so no application's usage is refused
 * report after report.
 *
 * <p>A name is shown to people (the usage view, the CLI's table, logs), so it must read as what it is:
 * at most {@value #MAX_LENGTH} characters, no control characters, no bidirectional controls (which
 * reorder what follows them on screen), no line or paragraph separators, no invisible characters
 * (zero-width spaces and joiners, the byte order mark, soft hyphens, the Hangul fillers and the rest of {@link
 * ReadableText#unfitForName}), which would make two names look the same, no space at either end, and nothing that
 * looks like a flag server token ({@link ReadableText#holdsAToken}): the rule of every name people read on this platform.
 */
public final class ReportedName {

    /** The most characters of a name. */
    public static final int MAX_LENGTH = 100;
    /** What the server shows for an application that gave no name; no application may take it. */
    public static final String UNNAMED = "(unnamed)";

    private ReportedName() {
    }

    /**
     * @param name a name; empty is allowed (no name)
     * @param application true for an application's name, which must also not be blank or {@link #UNNAMED}
     * @return what is wrong with it, in words that follow the field's name ("is at most 100 characters,
     *         was 120"), or null if nothing is
     */
    public static String problem(String name, boolean application) {
        if (name.length() > MAX_LENGTH) {
            int characters = name.codePointCount(0, name.length());
            return "is at most " + MAX_LENGTH + " characters, was " + name.length() + (characters == name.length() ? ""
                    : " UTF-16 units (" + characters + " characters: one beyond the Basic Multilingual Plane, such as an"
                    + " emoji, counts as two)");
        }
        if (ReadableText.holdsAToken(name)) {
            // Kept in the server's usage file and shown to every reader of the environment's usage, as no name may be
            // (QA85 F1); the message never quotes it.
            return ReadableText.HOLDS_A_TOKEN;
        }
        int unfit = ReadableText.unfitForName(name);
        if (unfit >= 0) {
            return "must be printable text (no control, bidirectional or invisible characters), has U+"
                    + String.format("%04X", name.codePointAt(unfit)) + " at index " + unfit;
        }
        if (!name.isBlank() && !name.strip().equals(name)) {
            // "(unnamed) " would pass for the name shown for none, "checkout " for "checkout"
            return "must not begin or end with a space";
        }
        if (application && !name.isEmpty() && name.isBlank()) {
            return "must not be blank";
        }
        if (application && name.equals(UNNAMED)) {
            return "must not be \"" + UNNAMED + "\", which stands for applications without a name";
        }
        return null;
    }
}
