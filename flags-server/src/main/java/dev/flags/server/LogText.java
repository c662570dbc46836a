package dev.flags.server;

import dev.flags.core.ReadableText;

/**
 * Immutable (stateless). Makes text that a client chose (a token's name, a path, an SDK's name) safe
 * to put in a log line: a line break in it would otherwise start a line of its own, which could pass
 * for one the server wrote ("log forging"). The rules themselves are flags-core's {@link ReadableText},
 * which the command-line tool applies too.
 */
public final class LogText {

    private LogText() {
    }

    /** @see ReadableText#escape(String) */
    public static String escape(String text) {
        return ReadableText.escape(text);
    }

    /** @see ReadableText#unsafe(char) */
    public static boolean unsafe(char c) {
        return ReadableText.unsafe(c);
    }

    /** @see ReadableText#loneSurrogate(String, int) */
    public static boolean loneSurrogate(String text, int i) {
        return ReadableText.loneSurrogate(text, i);
    }

    /** @see ReadableText#unfitForText(String) */
    public static int unfitForText(String text) {
        return ReadableText.unfitForText(text);
    }

    /** @see ReadableText#unfitForName(String) */
    public static int unfitForName(String text) {
        return ReadableText.unfitForName(text);
    }

    /** @see ReadableText#quoted(String) */
    public static String quoted(String text) {
        return ReadableText.quoted(text);
    }

    /** @see ReadableText#quoted(String, int) */
    public static String quoted(String text, int max) {
        return ReadableText.quoted(text, max);
    }

    /** @see ReadableText#hasUnsafe(String) */
    public static boolean hasUnsafe(String text) {
        return ReadableText.hasUnsafe(text);
    }
}
