package dev.flags.core;

/**
 * Not thread-safe: one per regular-expression match. The text a {@code matches} condition's pattern reads, charging
 * the evaluating thread's budget for every character read: the compiled program's size in steps (RE2/J's automaton
 * takes at most that many per character).
 *
 * <p>Why, with an engine linear in the value ({@link Patterns}): linear is not cheap. A flag may hold thousands of
 * patterns, each of up to {@value Patterns#MAX_PROGRAM_SIZE} instructions, and a value may be megabytes long (a user
 * agent, a request body put in an attribute by mistake); every SDK evaluates them on the application's request threads.
 * So one evaluation of a flag may take at most {@link #MAX_STEPS} steps in all its patterns together (the budget is
 * per evaluation, not per pattern); past that the match fails ({@link TooMuchPatternWorkException}), and the evaluator
 * answers that user with the caller's default and reason {@code ERROR}, as for any rule that fails on a user. The
 * evaluator starts each evaluation of a flag with patterns with {@link #resetBudget()}.
 */
final class BoundedText implements CharSequence {

    /**
     * Steps one evaluation of a flag may take, in all its patterns: a few tens of milliseconds at most (55 ms measured for
     * the worst pattern found, {@code [a-z]{1000}!}, every automaton state live; most patterns take much less than their
     * size per character). An anchored e-mail pattern ({@code ^.*@corp\.com$}, 15 instructions, about three reads per
     * character) passes values of up to about 220,000 characters (21 ms at 200,000).
     */
    static final int MAX_STEPS = 10_000_000;

    /** The budget of the evaluation running on this thread (one object per thread, so no allocation per read). */
    private static final ThreadLocal<Budget> BUDGET = ThreadLocal.withInitial(Budget::new);

    /** A thread's budget: what the running evaluation may still read, and what the ended ones read. */
    private static final class Budget {
        int left = MAX_STEPS;
        long readBefore;
    }

    private final CharSequence text;
    private final String pattern;
    private final int stepsPerRead;
    private final Budget readsLeft;

    /** Gives the evaluation about to run on this thread its whole budget. */
    static void resetBudget() {
        Budget budget = BUDGET.get();
        budget.readBefore += MAX_STEPS - Math.max(0, budget.left);
        budget.left = MAX_STEPS;
    }

    /** @return every step patterns took on this thread so far: what a caller that pays for the work can charge */
    static long stepsOnThisThread() {
        Budget budget = BUDGET.get();
        return budget.readBefore + MAX_STEPS - Math.max(0, budget.left);
    }

    /**
     * @param text the value matched
     * @param pattern the pattern, for the message
     * @param stepsPerRead what each character read costs: the pattern's compiled program size
     */
    BoundedText(CharSequence text, String pattern, int stepsPerRead) {
        this.text = text;
        this.pattern = pattern;
        this.stepsPerRead = stepsPerRead;
        this.readsLeft = BUDGET.get();
    }

    @Override
    public char charAt(int index) {
        if ((readsLeft.left -= stepsPerRead) < 0) {
            throw new TooMuchPatternWorkException(pattern, text.length());
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

    /** A match that took more steps than the budget allows: too many or too large patterns on too long a value. */
    static final class TooMuchPatternWorkException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        TooMuchPatternWorkException(String pattern, int length) {
            // No stack trace: it says all there is, and it may be thrown on many requests.
            super("the flag's regular expressions took more than " + MAX_STEPS + " steps in one evaluation (each"
                    + " character read costs the pattern's compiled size), the last " + Problems.quote(pattern) + " on a"
                    + " value of " + length + " characters (fewer or smaller patterns, or shorter values)", null, false,
                    false);
        }
    }
}
