package dev.flags.protocol;

/**
 * Immutable (stateless). The rule for the names a usage report carries ({@code UsageReport.sdk} and
 * {@code application}), applied by the SDK when the application sets its name and by the server to
 * every report: a name the SDK takes is one the server takes, so no application's usage is refused
 * report after report.
 *
 * <p>A name is shown to people (the usage view, the CLI's table, logs), so it must read as what it is:
 * at most {@value #MAX_LENGTH} characters, no control characters, no bidirectional controls (which
 * reorder what follows them on screen), no line or paragraph separators, and no invisible characters
 * (zero-width spaces and joiners, the byte order mark), which would make two names look the same.
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
        for (int i = 0; i < name.length(); i++) {
            if (unsafe(name.charAt(i))) {
                return "must be printable text (no control, bidirectional or invisible characters), has U+"
                        + String.format("%04X", (int) name.charAt(i)) + " at index " + i;
            }
        }
        if (application && !name.isEmpty() && name.isBlank()) {
            return "must not be blank";
        }
        if (application && name.equals(UNNAMED)) {
            return "must not be \"" + UNNAMED + "\", which stands for applications without a name";
        }
        return null;
    }

    /** A character a name must not hold: see the class comment. */
    static boolean unsafe(char c) {
        return Character.isISOControl(c)
                || c == '\u2028' || c == '\u2029'                  // line and paragraph separators
                || (c >= '\u202A' && c <= '\u202E') || (c >= '\u2066' && c <= '\u2069')
                || c == '\u200E' || c == '\u200F' || c == '\u061C' // bidirectional controls and marks
                || (c >= '\u200B' && c <= '\u200D') || c == '\uFEFF' || c == '\u2060'; // invisible
    }
}
