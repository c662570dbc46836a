package dev.flags.server;

/**
 * Immutable (stateless). Makes text that a client chose (a token's name, a path, an SDK's name) safe
 * to put in a log line: a line break in it would otherwise start a line of its own, which could pass
 * for one the server wrote ("log forging").
 */
public final class LogText {

    private LogText() {
    }

    /**
     * @param text client-chosen text, or null
     * @return the text with the characters {@link #unsafe(char)} names written as {@code \\uXXXX};
     *     everything else as it was ("null" for null)
     */
    public static String escape(String text) {
        if (text == null) {
            return "null";
        }
        StringBuilder out = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (unsafe(c)) {
                if (out == null) {
                    out = new StringBuilder(text.length() + 16).append(text, 0, i);
                }
                out.append(String.format("\\u%04x", (int) c));
            } else if (out != null) {
                out.append(c);
            }
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
                || (c >= '\u2066' && c <= '\u2069') || c == '\u200E' || c == '\u200F';
    }

    /**
     * @param text client-chosen text, or null
     * @return the text in double quotes, {@linkplain #escape escaped}, with its own quotes and
     *     backslashes escaped too, so that where it ends is never in doubt ({@code "a\"b"})
     */
    public static String quoted(String text) {
        return text == null ? "null" : "\"" + escape(text.replace("\\", "\\\\").replace("\"", "\\\"")) + "\"";
    }

    /**
     * @param text client-chosen text
     * @param max the most characters of it to show
     * @return the text {@linkplain #quoted(String) quoted}; over {@code max} characters, its first
     *     {@code max - 3} and "...", never cut inside a character (half a surrogate pair prints as '?')
     */
    public static String quoted(String text, int max) {
        if (text == null || text.length() <= max) {
            return quoted(text);
        }
        int end = max - 3;
        if (Character.isHighSurrogate(text.charAt(end - 1))) {
            end--;
        }
        return quoted(text.substring(0, end) + "...");
    }

    /** @return whether the text holds a character {@link #unsafe(char)} names */
    public static boolean hasUnsafe(String text) {
        return text.chars().anyMatch(c -> unsafe((char) c));
    }
}
