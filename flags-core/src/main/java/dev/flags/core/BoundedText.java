package dev.flags.core;

/**
 * Not thread-safe: one per regular-expression match. The text a {@code matches} condition's regular
 * expression reads, charging every character read to the evaluating thread's budget.
 *
 * <p>Why: {@code java.util.regex} backtracks, and some patterns take time exponential in the length
 * of the value ({@code (.*a){20}$} on 40 characters runs for minutes). Every SDK evaluates every
 * flag's patterns on the application's request threads, with values that may come from end users (an
 * e-mail address, a user agent): a bad pattern, by mistake or by a stolen editor token, would hang
 * them all. So one evaluation of a flag may read at most {@link #MAX_READS} characters in all its
 * patterns together (the budget is per evaluation, not per pattern: a flag may hold thousands of
 * patterns); past that the match fails ({@link TooMuchBacktrackingException}), and the evaluator
 * answers that user with the caller's default and reason {@code ERROR}, as for any rule that fails on
 * a user. The evaluator starts each evaluation of a flag with patterns with {@link #resetBudget()}.
 */
final class BoundedText implements CharSequence {

    /**
     * Character reads one evaluation of a flag may make, in all its patterns: some tens of
     * milliseconds at most. An anchored pattern ({@code ^.*@corp\.com$}) reads each character of the
     * value about twice; an unanchored one that starts with {@code .*} is tried from every position and
     * reads a number of characters that grows with the square of the value's length, so such a pattern
     * fails on values of about 2,600 characters or more (measured; docs/flag-format.md: anchor patterns).
     */
    static final int MAX_READS = 10_000_000;

    /** The budget of the evaluation running on this thread (one object per thread, so no allocation per read). */
    private static final ThreadLocal<Budget> BUDGET = ThreadLocal.withInitial(Budget::new);

    /** A thread's budget: what the running evaluation may still read, and what the ended ones read. */
    private static final class Budget {
        int left = MAX_READS;
        long readBefore;
    }

    private final CharSequence text;
    private final String pattern;
    private final Budget readsLeft;

    /** Gives the evaluation about to run on this thread its whole budget. */
    static void resetBudget() {
        Budget budget = BUDGET.get();
        budget.readBefore += MAX_READS - Math.max(0, budget.left);
        budget.left = MAX_READS;
    }

    /** @return every character patterns read on this thread so far: what a caller that pays for the work can charge */
    static long readOnThisThread() {
        Budget budget = BUDGET.get();
        return budget.readBefore + MAX_READS - Math.max(0, budget.left);
    }

    BoundedText(CharSequence text, String pattern) {
        this.text = text;
        this.pattern = pattern;
        this.readsLeft = BUDGET.get();
    }

    @Override
    public char charAt(int index) {
        if (--readsLeft.left < 0) {
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
            super("the flag's regular expressions read more than " + MAX_READS + " characters in one evaluation,"
                    + " the last " + Problems.quote(pattern) + " on a value of " + length + " characters (anchor"
                    + " patterns with ^, and avoid nested or repeated groups around .*)", null, false, false);
        }
    }
}
