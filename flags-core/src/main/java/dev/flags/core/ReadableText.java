package dev.flags.core;

/**
 * Immutable (static functions only). What text people read (in lists, diffs, an audit trail, a terminal, a log)
 * may hold: the rules a flag server holds names and descriptions to ({@link WriteRules}), and the escaping that
 * shows text someone else chose without letting it pass for something else. A line break in a name would start
 * a line of its own in a log ("log forging"); a bidirectional control reorders what is shown; an invisible
 * character lets one name pass for another.
 */
public final class ReadableText {

    private ReadableText() {
    }

    /**
     * A flag server's token: {@code flg_} and 43 characters of base64url (32 random bytes), whatever follows. A token with
     * a character of a key after it (a typo, {@code _v2}) is still the secret: it used to pass as text (QA71 F8).
     */
    private static final java.util.regex.Pattern TOKEN_SHAPED = java.util.regex.Pattern.compile("flg_[A-Za-z0-9_-]{43}");

    /** What a text that {@linkplain #holdsAToken holds a token} is refused with, after the field's name. */
    public static final String HOLDS_A_TOKEN = "holds what looks like a flag server token (flg_ and 43 characters): a token is a"
            + " secret, and this text would be kept for good and shown to every reader (sent to every SDK, for a flag's); if"
            + " it is a token, revoke it";

    /**
     * Whether text holds what looks like a flag server's token: pasted where a user id, a comment or a description goes,
     * a secret would be kept for good in the journal and shown to everyone who reads the field (QA61 F5).
     *
     * @param text text, or null
     * @return true if it holds {@code flg_} and 43 characters of base64url, whatever comes before or after them
     */
    public static boolean holdsAToken(String text) {
        return text != null && text.contains("flg_") && TOKEN_SHAPED.matcher(text).find();
    }

    /**
     * Text to send back with each token-shaped run ({@link #holdsAToken}) written {@code flg_***}: a refusal that
     * quotes what was sent must not carry a token pasted in the wrong place back into a terminal or a CI log (QA85 F3).
     *
     * @param text text, or null
     * @return the text with every token hidden (null for null)
     */
    public static String withTokensHidden(String text) {
        return holdsAToken(text) ? TOKEN_SHAPED.matcher(text).replaceAll("flg_***") : text;
    }

    /**
     * @param text text someone else chose, or null
     * @return the text with the characters {@link #unsafe(char)} names, lone surrogates, invisible formatting
     *     characters and the other characters that show as nothing ({@link #invisible(int)}) written as a
     *     {@code \\u} escape of four hex digits ({@code \\u202e});
     *     everything else as it was ("null" for null)
     */
    public static String escape(String text) {
        if (text == null) {
            return "null";
        }
        StringBuilder out = null;
        for (int i = 0; i < text.length(); ) {
            char c = text.charAt(i);
            int width = Character.charCount(text.codePointAt(i)); // 2 for a whole surrogate pair
            int codePoint = text.codePointAt(i);
            if (unsafe(c) || loneSurrogate(text, i) || Character.getType(codePoint) == Character.FORMAT || invisible(codePoint)) {
                if (out == null) {
                    out = new StringBuilder(text.length() + 16).append(text, 0, i);
                }
                for (int k = i; k < i + width; k++) { // both halves of an invisible pair, as JSON writes them
                    out.append(String.format("\\u%04x", (int) text.charAt(k)));
                }
            } else if (out != null) {
                out.append(text, i, i + width);
            }
            i += width;
        }
        return out == null ? text : out.toString();
    }

    /**
     * Whether a character has no place in a name people read in a list, an audit trail or a log:
     * control characters, the Unicode line and paragraph separators (some terminals and viewers break
     * lines at them), and the bidirectional controls (which reorder what is shown: "mallory\u202e"
     * reads as something else).
     *
     * @param c a character
     * @return true for such a character
     */
    public static boolean unsafe(char c) {
        return Character.isISOControl(c) || c == '\u2028' || c == '\u2029' || (c >= '\u202A' && c <= '\u202E')
                || (c >= '\u2066' && c <= '\u2069') || c == '\u200E' || c == '\u200F' || c == '\u061C';
    }

    /**
     * Whether the character at an index is half of a character: a UTF-16 surrogate without its other
     * half. Such text is no Unicode; strict JSON readers (jq) refuse the answers that carry it, and it
     * has no UTF-8 form to put in a URL.
     *
     * @param text text
     * @param i an index in it
     * @return true for a lone surrogate
     */
    public static boolean loneSurrogate(String text, int i) {
        char c = text.charAt(i);
        if (Character.isHighSurrogate(c)) {
            return i + 1 >= text.length() || !Character.isLowSurrogate(text.charAt(i + 1));
        }
        return Character.isLowSurrogate(c) && (i == 0 || !Character.isHighSurrogate(text.charAt(i - 1)));
    }

    /**
     * Whether free text people read (a comment, a flag's description) holds what has no place in it: a
     * character {@link #unsafe(char)} names other than a line break or a tab, or a {@linkplain
     * #loneSurrogate lone surrogate}.
     *
     * @param text the text
     * @return the index of the first such character, or -1 if there is none
     */
    public static int unfitForText(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if ((unsafe(c) && c != '\n' && c != '\t') || loneSurrogate(text, i)) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Whether text is unfit to name someone or something (a token, a user, an environment, a rule): it
     * holds a character {@link #unsafe(char)} names, a {@linkplain #loneSurrogate lone surrogate}, an
     * invisible formatting character (Unicode's category Cf: U+200B ZERO WIDTH SPACE, U+FEFF, U+2060...),
     * with which one name passes for another ("\ufeffalice" shows as "alice"), or one of the characters that are
     * letters or marks to Unicode but show as nothing or as a blank ({@link #invisible(int)}: "al\u3164ice").
     *
     * @param text a name
     * @return the index of the first such character, or -1 if there is none
     */
    public static int unfitForName(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            // By code point: the tag characters (U+E0001, U+E0020..U+E007F) are invisible too, beyond U+FFFF.
            int codePoint = text.codePointAt(i);
            if (unsafe(c) || loneSurrogate(text, i) || Character.getType(codePoint) == Character.FORMAT
                    || invisible(codePoint)) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Whether a character outside Unicode's category Cf still shows as nothing, or as a blank, in common fonts: the
     * Hangul fillers (U+115F, U+1160, U+3164, U+FFA0), U+2800 BRAILLE PATTERN BLANK, the Khmer inherent vowels (U+17B4,
     * U+17B5), U+034F COMBINING GRAPHEME JOINER, the variation selectors (U+FE00..U+FE0F, U+E0100..U+E01EF) and the
     * Mongolian free variation selectors (U+180B..U+180D, U+180F). Letters and marks to Unicode, they made
     * "bo\u3164b" a second "bob" in a role's members.
     *
     * @param codePoint a character
     * @return true for one of those
     */
    public static boolean invisible(int codePoint) {
        return codePoint == 0x115F || codePoint == 0x1160 || codePoint == 0x3164 || codePoint == 0xFFA0 || codePoint == 0x2800
                || codePoint == 0x17B4 || codePoint == 0x17B5 || codePoint == 0x034F
                || (codePoint >= 0xFE00 && codePoint <= 0xFE0F) || (codePoint >= 0xE0100 && codePoint <= 0xE01EF)
                || (codePoint >= 0x180B && codePoint <= 0x180D) || codePoint == 0x180F;
    }

    /**
     * @param text text someone else chose, or null
     * @return the text in double quotes, {@linkplain #escape escaped}, with its own quotes and
     *     backslashes escaped too, so that where it ends is never in doubt ({@code "a\"b"}); a token in it
     *     {@linkplain #withTokensHidden hidden}: what is quoted is someone's text shown in a log line or a message, and a
     *     token pasted there (an environment's key made before such keys were refused, a flag key an SDK asked for) must
     *     not be shown with it (QA92 note)
     */
    public static String quoted(String text) {
        return text == null ? "null"
                : "\"" + escape(withTokensHidden(text).replace("\\", "\\\\").replace("\"", "\\\"")) + "\"";
    }

    /**
     * @param text text someone else chose
     * @param max the most characters of it to show
     * @return the text {@linkplain #quoted(String) quoted}; over {@code max} characters, its first
     *     {@code max - 3} and "...", never cut inside a character (half a surrogate pair prints as '?')
     */
    public static String quoted(String text, int max) {
        String shown = withTokensHidden(text); // before the cut: a token cut short would not be hidden, and part of it shown
        if (shown == null || shown.length() <= max) {
            return quoted(shown);
        }
        int end = max - 3;
        if (Character.isHighSurrogate(shown.charAt(end - 1))) {
            end--;
        }
        return quoted(shown.substring(0, end) + "...");
    }

    /** @return whether the text holds a character {@link #unsafe(char)} names */
    public static boolean hasUnsafe(String text) {
        for (int i = 0; i < text.length(); i++) {
            if (unsafe(text.charAt(i)) || loneSurrogate(text, i)) {
                return true;
            }
        }
        return false;
    }
}
