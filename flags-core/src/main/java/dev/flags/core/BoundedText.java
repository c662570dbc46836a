package dev.flags.core;

/**
 * Not thread-safe: one per regular-expression match. The text a {@code matches} condition's regular
 * expression reads, with a budget of character reads.
 *
 * <p>Why: {@code java.util.regex} backtracks, and some patterns take time exponential in the length
 * of the value ({@code (.*a){20}$} on 40 characters runs for minutes). Every SDK evaluates every
 * flag's patterns on the application's request threads, with values that may come from end users (an
 * e-mail address, a user agent): a bad pattern, by mistake or by a stolen editor token, would hang
 * them all. A budget bounds every match instead: a match that reads more than {@link #MAX_READS}
 * characters fails ({@link TooMuchBacktrackingException}), and the evaluator answers that user with
 * the caller's default and reason {@code ERROR}, as for any rule that fails on a user. A pattern that
 * does not backtrack reads each character a few times per starting position: within the budget for
 * values of thousands of characters (see {@link #MAX_READS}).
 */
final class BoundedText implements CharSequence {

    /**
     * Character reads one match may make: some tens of milliseconds at most. A pattern that scans from
     * every starting position ({@code find()} with {@code .*foo}) reads about n² characters of an
     * n-character value: about a million for 1,024 characters, four million for 2,048, so values of
     * several thousand characters stay within the budget; an exponential pattern exceeds it on a few
     * dozen.
     */
    static final int MAX_READS = 10_000_000;

    private final CharSequence text;
    private final String pattern;
    private int readsLeft = MAX_READS;

    BoundedText(CharSequence text, String pattern) {
        this.text = text;
        this.pattern = pattern;
    }

    @Override
    public char charAt(int index) {
        if (--readsLeft < 0) {
            throw new TooMuchBacktrackingException(pattern, text.length());
        }
        return text.charAt(index);
    }

    @Override
    public int length() {
        return text.length();
    }

    @Override
    public CharSequence subSequence(int start, int end) {
        return text.subSequence(start, end); // only for groups, which conditions never read
    }

    @Override
    public String toString() {
        return text.toString();
    }

    /** A match that read more characters than the budget allows: the pattern backtracks too much. */
    static final class TooMuchBacktrackingException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        TooMuchBacktrackingException(String pattern, int length) {
            // No stack trace: it says all there is, and it may be thrown on many requests.
            super("the regular expression " + Problems.quote(pattern) + " read more than " + MAX_READS
                    + " characters of a value of " + length + " (it backtracks too much: simplify it, such as"
                    + " without nested or repeated groups around .*)", null, false, false);
        }
    }
}
