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
     * @return the text with control characters and Unicode line and paragraph separators written as
     *     {@code \\uXXXX}; everything else as it was ("null" for null)
     */
    public static String escape(String text) {
        if (text == null) {
            return "null";
        }
        StringBuilder out = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isISOControl(c) || c == '\u2028' || c == '\u2029') {
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
}
