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
