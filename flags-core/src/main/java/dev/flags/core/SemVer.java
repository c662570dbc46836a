package dev.flags.core;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Immutable. A semantic version (semver.org 2.0.0) with its precedence order; build metadata is
 * ignored in comparisons, as the specification says. A leading "v" is accepted.
 */
final class SemVer implements Comparable<SemVer> {

    private static final Pattern SYNTAX = Pattern.compile(
            "v?(0|[1-9]\\d{0,9})\\.(0|[1-9]\\d{0,9})\\.(0|[1-9]\\d{0,9})"
                    + "(?:-((?:0|[1-9]\\d*|\\d*[A-Za-z-][0-9A-Za-z-]*)(?:\\.(?:0|[1-9]\\d*|\\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
                    + "(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?");

    private final long major;
    private final long minor;
    private final long patch;
    private final String[] preRelease; // empty for a release

    private SemVer(long major, long minor, long patch, String[] preRelease) {
        this.major = major;
        this.minor = minor;
        this.patch = patch;
        this.preRelease = preRelease;
    }

    /** @return the version, or null if the text is not a semantic version */
    static SemVer parse(String text) {
        if (text == null || text.length() > 256) {
            return null;
        }
        Matcher m = SYNTAX.matcher(text);
        if (!m.matches()) {
            return null;
        }
        String pre = m.group(4);
        return new SemVer(Long.parseLong(m.group(1)), Long.parseLong(m.group(2)), Long.parseLong(m.group(3)),
                pre == null ? new String[0] : pre.split("\\."));
    }

    /** What {@link #compareText} answers for a text that is no semantic version. */
    static final int UNREADABLE = Integer.MIN_VALUE;

    /**
     * Compares a version in text with this one, as {@code parse(text).compareTo(this)} does, without allocating: an
     * application's version attribute is read on every evaluation of a rule that names it (QA50b F1).
     *
     * @param text a version as the application gave it, possibly null
     * @return below, at or above 0 as the text's version is lower than, equal to or higher than this one (build metadata
     *     aside); {@link #UNREADABLE} if the text is not a semantic version
     */
    int compareText(String text) {
        if (text == null || text.length() > 256 || !valid(text)) {
            return UNREADABLE;
        }
        int i = text.charAt(0) == 'v' ? 1 : 0;
        int end = text.indexOf('.', i);
        int c = Long.compare(number(text, i, end), major);
        i = end + 1;
        end = text.indexOf('.', i);
        if (c == 0) {
            c = Long.compare(number(text, i, end), minor);
        }
        i = end + 1;
        end = i;
        while (end < text.length() && text.charAt(end) >= '0' && text.charAt(end) <= '9') {
            end++;
        }
        if (c == 0) {
            c = Long.compare(number(text, i, end), patch);
        }
        if (c != 0) {
            return c;
        }
        boolean release = end == text.length() || text.charAt(end) == '+';
        if (release || preRelease.length == 0) {
            return release == (preRelease.length == 0) ? 0 : release ? 1 : -1;
        }
        int stop = text.indexOf('+', end);
        stop = stop < 0 ? text.length() : stop;
        int n = 0;
        for (i = end + 1; i <= stop; n++) { // the identifiers after '-', each to its '.' or the end
            if (n == preRelease.length) {
                return 1; // more identifiers, the rest equal: higher
            }
            int to = i;
            while (to < stop && text.charAt(to) != '.') {
                to++;
            }
            c = compareIdentifier(text, i, to, preRelease[n]);
            if (c != 0) {
                return c;
            }
            i = to + 1;
        }
        return n == preRelease.length ? 0 : -1;
    }

    /** Whether the text has the syntax {@link #SYNTAX} says, checked by hand: a {@code Matcher} would allocate. */
    private static boolean valid(String t) {
        int i = t.startsWith("v") ? 1 : 0;
        for (int part = 0; part < 3; part++) {
            int start = i;
            while (i < t.length() && t.charAt(i) >= '0' && t.charAt(i) <= '9') {
                i++;
            }
            int digits = i - start;
            if (digits == 0 || digits > 10 || (digits > 1 && t.charAt(start) == '0')) {
                return false;
            }
            if (part < 2) {
                if (i >= t.length() || t.charAt(i) != '.') {
                    return false;
                }
                i++;
            }
        }
        if (i < t.length() && t.charAt(i) == '-') {
            i = identifiers(t, i + 1, true);
            if (i < 0) {
                return false;
            }
        }
        if (i < t.length() && t.charAt(i) == '+') {
            i = identifiers(t, i + 1, false);
            if (i < 0) {
                return false;
            }
        }
        return i == t.length();
    }

    /**
     * @param preRelease whether a numeric identifier may not have a leading zero (a pre-release's; build metadata's may)
     * @return the index after the dot-separated identifiers from {@code i}, or -1 if one is empty or malformed
     */
    private static int identifiers(String t, int i, boolean preRelease) {
        for (;;) {
            int start = i;
            boolean numeric = true;
            while (i < t.length() && identifierChar(t.charAt(i))) {
                numeric &= t.charAt(i) >= '0' && t.charAt(i) <= '9';
                i++;
            }
            if (i == start || (preRelease && numeric && i - start > 1 && t.charAt(start) == '0')) {
                return -1;
            }
            if (i < t.length() && t.charAt(i) == '.') {
                i++;
                continue;
            }
            return i;
        }
    }

    private static boolean identifierChar(char ch) {
        return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '-';
    }

    /** The digits from {@code from} to {@code to}: at most 10, so a long holds them. */
    private static long number(String t, int from, int to) {
        long n = 0;
        for (int i = from; i < to; i++) {
            n = n * 10 + (t.charAt(i) - '0');
        }
        return n;
    }

    /** As {@link #compareIdentifier(String, String)}, of the text's identifier from {@code from} to {@code to}. */
    private static int compareIdentifier(String t, int from, int to, String b) {
        boolean numericA = true;
        for (int i = from; i < to && numericA; i++) {
            numericA = t.charAt(i) >= '0' && t.charAt(i) <= '9';
        }
        boolean numericB = isNumeric(b);
        int length = to - from;
        if (numericA && numericB && length != b.length()) {
            return Integer.compare(length, b.length());
        }
        if (numericA != numericB) {
            return numericA ? -1 : 1; // numeric identifiers have lower precedence
        }
        for (int i = 0; i < Math.min(length, b.length()); i++) {
            int c = Character.compare(t.charAt(from + i), b.charAt(i));
            if (c != 0) {
                return c;
            }
        }
        return Integer.compare(length, b.length());
    }

    @Override
    public int compareTo(SemVer o) {
        int c = Long.compare(major, o.major);
        if (c == 0) {
            c = Long.compare(minor, o.minor);
        }
        if (c == 0) {
            c = Long.compare(patch, o.patch);
        }
        if (c != 0) {
            return c;
        }
        // A pre-release is lower than the release; otherwise compare identifiers left to right.
        if (preRelease.length == 0) {
            return o.preRelease.length == 0 ? 0 : 1;
        }
        if (o.preRelease.length == 0) {
            return -1;
        }
        int n = Math.min(preRelease.length, o.preRelease.length);
        for (int i = 0; i < n; i++) {
            c = compareIdentifier(preRelease[i], o.preRelease[i]);
            if (c != 0) {
                return c;
            }
        }
        return Integer.compare(preRelease.length, o.preRelease.length);
    }

    private static int compareIdentifier(String a, String b) {
        boolean numericA = isNumeric(a);
        boolean numericB = isNumeric(b);
        if (numericA && numericB) {
            return a.length() != b.length() ? Integer.compare(a.length(), b.length()) : a.compareTo(b);
        }
        if (numericA != numericB) {
            return numericA ? -1 : 1; // numeric identifiers have lower precedence
        }
        return a.compareTo(b);
    }

    private static boolean isNumeric(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SemVer v && compareTo(v) == 0;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(major * 31 * 31 + minor * 31 + patch) ^ java.util.Arrays.hashCode(preRelease);
    }
}
