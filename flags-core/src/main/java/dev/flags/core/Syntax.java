package dev.flags.core;

/**
 * Immutable (stateless). The syntax of keys, role and environment names, and attribute names
 * (docs/flag-format.md): what the regular expressions {@code [A-Za-z0-9][A-Za-z0-9._-]{0,127}},
 * {@code [A-Za-z0-9][A-Za-z0-9._:-]{0,127}} and {@code [A-Za-z_][A-Za-z0-9_.:-]{0,127}} match.
 *
 * <p>Checked by hand rather than with {@link java.util.regex.Pattern}: every flag an SDK receives is
 * validated, and a {@code Matcher} per checked name was a good part of what applying a change
 * allocated. {@code SyntaxTest} holds these methods to the regular expressions above.
 */
final class Syntax {

    static final int MAX_LENGTH = 128;

    private Syntax() {
    }

    /** @return true for a flag, variant or salt key: {@code [A-Za-z0-9][A-Za-z0-9._-]{0,127}} */
    static boolean isKey(String s) {
        return matches(s, false, "._-");
    }

    /** @return true for a role or environment name: {@code [A-Za-z0-9][A-Za-z0-9._:-]{0,127}} */
    static boolean isName(String s) {
        return matches(s, false, "._:-");
    }

    /** @return true for an attribute name: {@code [A-Za-z_][A-Za-z0-9_.:-]{0,127}} */
    static boolean isAttribute(String s) {
        if (s == null || s.isEmpty()) {
            return false;
        }
        char first = s.charAt(0);
        return (isAsciiLetter(first) || first == '_') && matches(s, true, "_.:-");
    }

    /**
     * @param s the text
     * @param anyFirst true if the first character was checked by the caller
     * @param punctuation the characters allowed besides ASCII letters and digits after the first
     */
    private static boolean matches(String s, boolean anyFirst, String punctuation) {
        if (s == null || s.isEmpty() || s.length() > MAX_LENGTH) {
            return false;
        }
        if (!anyFirst && !isAsciiLetterOrDigit(s.charAt(0))) {
            return false;
        }
        for (int i = 1; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!isAsciiLetterOrDigit(c) && punctuation.indexOf(c) < 0) {
                return false;
            }
        }
        return true;
    }

    private static boolean isAsciiLetter(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }

    private static boolean isAsciiLetterOrDigit(char c) {
        return isAsciiLetter(c) || (c >= '0' && c <= '9');
    }
}
