package dev.flags.core;

import com.google.re2j.Pattern;
import com.google.re2j.PatternSyntaxException;

/**
 * Thread-safe (stateless). The regular expressions of {@code matches} conditions: RE2 syntax, compiled with RE2/J.
 *
 * <p>Why RE2/J and not {@code java.util.regex}: every SDK runs every flag's patterns on the application's request
 * threads, with values that may come from end users. {@code java.util.regex} backtracks, and some patterns take time
 * exponential in the value or even in nothing at all: {@code ^(?:|){40}a} tries 2<sup>40</sup> ways on the empty
 * value without reading a character, so no budget of characters read could stop it (QA68 F1). RE2/J's automaton
 * runs in time linear in the value for every pattern: at most the program's size in steps per character read, which
 * {@link BoundedText} charges. RE2's syntax is also the one most languages' SDKs can run as it is (Go's {@code
 * regexp}, RE2 in C++, Python and JavaScript bindings), so a pattern means the same in each.
 *
 * <p>What RE2 leaves out, and a pattern here therefore cannot use: lookaround ({@code (?=}, {@code (?!}, {@code
 * (?<=}), backreferences ({@code \1}), possessive and atomic groups, {@code \Z}, and Java's own classes ({@code
 * \p{javaLowerCase}}). A write of such a pattern is refused with RE2/J's words ({@link WriteRules#patterns}). One that
 * earlier releases took ({@code java.util.regex} syntax) is still read, so that its flag can be read, listed and changed,
 * but it matches nobody: each evaluation of its rule fails ({@link UnusablePatternException}), and the caller gets the
 * default with reason {@code ERROR}.
 *
 * <p>The size of a compiled program is bounded ({@value #MAX_PROGRAM_SIZE} instructions): counted repetitions
 * multiply ({@code (a{1000}){1000}} is a million instructions, a third of a second to compile and as many steps per
 * character), and RE2/J has no bound of its own. The bound is checked on the pattern's text before compiling ({@link
 * #sizeBound}), so that no write or file can make a server or an SDK compile a program of millions of instructions,
 * and on the compiled program after.
 */
final class Patterns {

    /** The largest compiled program a pattern may have, in instructions: an anchored e-mail pattern has 15. */
    static final int MAX_PROGRAM_SIZE = 10_000;

    private Patterns() {
    }

    /**
     * @param pattern a {@code matches} condition's value
     * @return the compiled pattern
     * @throws IllegalArgumentException if it is not valid RE2 syntax, or too large: see {@link #problem}
     */
    static Pattern compile(String pattern) {
        long bound = sizeBound(pattern);
        if (bound > MAX_PROGRAM_SIZE * 4L) { // the bound may be a few times the real size; the real one is checked below
            throw new IllegalArgumentException(tooLarge(pattern, "about " + bound));
        }
        Pattern compiled;
        try {
            compiled = Pattern.compile(pattern);
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException("must be a valid regular expression in RE2 syntax, but "
                    + Problems.quote(pattern) + " is not: " + e.getDescription() + " (RE2 has no lookaround such as"
                    + " (?! or (?=, no backreferences such as \\1, and no possessive quantifiers; see"
                    + " docs/flag-format.md)", e);
        }
        if (compiled.programSize() > MAX_PROGRAM_SIZE) {
            throw new IllegalArgumentException(tooLarge(pattern, String.valueOf(compiled.programSize())));
        }
        return compiled;
    }

    /**
     * Whether a flag document may hold a pattern: one that runs ({@link #problem} is null), or one earlier releases took
     * ({@code java.util.regex} syntax), which a stored flag may hold: read, it fails for every user it is tried on.
     *
     * @param pattern a {@code matches} condition's value
     * @return why no flag may hold it, or null
     */
    static String readProblem(String pattern) {
        String problem = problem(pattern);
        if (problem == null || pattern.length() > 1024) { // the format's own bound on a value comes first
            return problem;
        }
        try {
            java.util.regex.Pattern.compile(pattern);
            return null;
        } catch (java.util.regex.PatternSyntaxException e) {
            return problem;
        }
    }

    /**
     * A matcher for a pattern that cannot run ({@link #problem}): it fails each evaluation it is part of.
     *
     * @param pattern the pattern
     * @param why why it cannot run
     * @return the exception each evaluation throws
     */
    static UnusablePatternException unusable(String pattern, String why) {
        return new UnusablePatternException("the flag's pattern " + Problems.quote(pattern) + " cannot run: it " + why
                + "; it matches nobody until the flag is written with one that can");
    }

    /** A {@code matches} condition's pattern that an earlier release took and this one cannot run. */
    static final class UnusablePatternException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UnusablePatternException(String message) {
            super(message, null, false, false); // no stack trace: it says all there is, and it may be thrown on many requests
        }
    }

    /**
     * @param pattern a {@code matches} condition's value
     * @return why it cannot be one, or null if it can
     */
    static String problem(String pattern) {
        try {
            compile(pattern);
            return null;
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
    }

    private static String tooLarge(String pattern, String size) {
        return "must compile to at most " + MAX_PROGRAM_SIZE + " instructions, but " + Problems.quote(pattern)
                + " compiles to " + size + " (counted repetitions multiply: (a{100}){100} is 10,000; write smaller"
                + " counts, or fewer nested ones)";
    }

    /**
     * An upper bound of the instructions a pattern compiles to, read from its text without compiling it: each
     * literal, class or escape one, each group two more, each {@code |}, {@code *}, {@code +} or {@code ?} one more, and a
     * counted repetition {@code {n}}, {@code {n,}} or {@code {n,m}} its operand and one choice, times one more than its
     * largest count.
     * It follows RE2's syntax only as far as a bound needs: a {@code {} that is no repetition is a literal, as in RE2.
     *
     * @param pattern a pattern
     * @return the bound, at most {@link Long#MAX_VALUE} / 2
     */
    static long sizeBound(String pattern) {
        // A stack of open groups: for each, the sum of its finished items and the size of its last item (which a
        // repetition that follows multiplies).
        long[] sum = new long[pattern.length() + 2];
        long[] last = new long[pattern.length() + 2];
        int depth = 0;
        int i = 0;
        int n = pattern.length();
        while (i < n) {
            char c = pattern.charAt(i);
            long atom = -1; // the size of an atom read at i, if one is
            switch (c) {
                case '\\' -> {
                    if (i + 1 < n && pattern.charAt(i + 1) == 'Q') { // \Q...\E: each character a literal
                        int end = pattern.indexOf("\\E", i + 2);
                        int stop = end < 0 ? n : end;
                        sum[depth] = saturatedAdd(sum[depth], last[depth]);
                        sum[depth] = saturatedAdd(sum[depth], Math.max(0, stop - i - 3));
                        last[depth] = stop > i + 2 ? 1 : 0;
                        i = end < 0 ? n : end + 2;
                        continue;
                    }
                    i = afterEscape(pattern, i);
                    atom = 1;
                }
                case '[' -> {
                    i = afterClass(pattern, i);
                    atom = 1;
                }
                case '(' -> {
                    if (i + 1 < n && pattern.charAt(i + 1) == '?') {
                        int close = pattern.indexOf(')', i);
                        int colon = pattern.indexOf(':', i);
                        boolean flagsOnly = close >= 0 && (colon < 0 || close < colon) && pattern.indexOf('<', i) != i + 2
                                && !pattern.startsWith("(?P<", i);
                        if (flagsOnly) { // (?i): no group, no instruction
                            i = close + 1;
                            continue;
                        }
                    }
                    sum[depth] = saturatedAdd(sum[depth], last[depth]);
                    last[depth] = 0;
                    depth++;
                    sum[depth] = 0;
                    last[depth] = 0;
                    i++;
                    continue;
                }
                case ')' -> {
                    i++;
                    if (depth == 0) { // no group to close: refused by the compiler, counted as a literal here
                        atom = 1;
                    } else {
                        atom = saturatedAdd(saturatedAdd(sum[depth], last[depth]), 2);
                        depth--;
                    }
                }
                case '|' -> {
                    sum[depth] = saturatedAdd(saturatedAdd(sum[depth], last[depth]), 1);
                    last[depth] = 0;
                    i++;
                    continue;
                }
                case '*', '+', '?' -> {
                    last[depth] = saturatedAdd(last[depth], 1);
                    i++;
                    continue;
                }
                case '{' -> {
                    int end = pattern.indexOf('}', i);
                    long count = end < 0 ? -1 : largestCount(pattern.substring(i + 1, end));
                    if (count >= 0) {
                        // each copy past the first n is optional: its operand and one choice more
                        last[depth] = saturatedAdd(saturatedMultiply(saturatedAdd(last[depth], 1), count + 1), 1);
                        i = end + 1;
                        continue;
                    }
                    i++;
                    atom = 1; // a literal '{'
                }
                default -> {
                    i += Character.charCount(pattern.codePointAt(i));
                    atom = 1;
                }
            }
            sum[depth] = saturatedAdd(sum[depth], last[depth]);
            last[depth] = atom;
        }
        long total = 0;
        for (int d = depth; d >= 0; d--) { // unclosed groups (refused by the compiler) still count
            total = saturatedAdd(total, saturatedAdd(sum[d], last[d]));
        }
        return saturatedAdd(total, 3); // the program's start and match, and the unanchored search's loop
    }

    /** The index after the escape at {@code i}: {@code \p{Greek}}, {@code \x{263a}} and {@code \pL} are one escape. */
    private static int afterEscape(String pattern, int i) {
        int n = pattern.length();
        if (i + 1 >= n) {
            return n;
        }
        char kind = pattern.charAt(i + 1);
        if ((kind == 'p' || kind == 'P' || kind == 'x') && i + 2 < n && pattern.charAt(i + 2) == '{') {
            int end = pattern.indexOf('}', i + 3);
            return end < 0 ? n : end + 1;
        }
        return i + 1 + Character.charCount(pattern.codePointAt(i + 1));
    }

    /** The index after the class that starts at {@code i}: a {@code ]} first in it is a literal, escapes are skipped. */
    private static int afterClass(String pattern, int i) {
        int n = pattern.length();
        int j = i + 1;
        if (j < n && pattern.charAt(j) == '^') {
            j++;
        }
        if (j < n && pattern.charAt(j) == ']') {
            j++;
        }
        while (j < n) {
            char c = pattern.charAt(j);
            if (c == ']') {
                return j + 1;
            }
            if (c == '\\') {
                j = afterEscape(pattern, j);
            } else if (c == '[' && j + 1 < n && pattern.charAt(j + 1) == ':') { // [:alpha:]
                int end = pattern.indexOf(":]", j + 2);
                j = end < 0 ? j + 1 : end + 2;
            } else {
                j++;
            }
        }
        return n;
    }

    /** The largest count of a repetition's inside ({@code 3}, {@code 3,}, {@code 3,5}), or -1 if it is none. */
    private static long largestCount(String inside) {
        int comma = inside.indexOf(',');
        String min = comma < 0 ? inside : inside.substring(0, comma);
        String max = comma < 0 ? "" : inside.substring(comma + 1);
        if (!digits(min) || (!max.isEmpty() && !digits(max))) {
            return -1;
        }
        long low = count(min);
        return max.isEmpty() ? low : Math.max(low, count(max));
    }

    private static boolean digits(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int k = 0; k < s.length(); k++) {
            if (s.charAt(k) < '0' || s.charAt(k) > '9') {
                return false;
            }
        }
        return true;
    }

    /** A count as written, at most a billion (RE2 refuses more than 1,000 anyway). */
    private static long count(String digits) {
        return digits.length() > 9 ? 1_000_000_000L : Long.parseLong(digits);
    }

    private static long saturatedAdd(long a, long b) {
        long r = a + b;
        return r < 0 || r > Long.MAX_VALUE / 2 ? Long.MAX_VALUE / 2 : r;
    }

    private static long saturatedMultiply(long a, long b) {
        if (a == 0 || b == 0) {
            return 0;
        }
        return a > (Long.MAX_VALUE / 2) / b ? Long.MAX_VALUE / 2 : a * b;
    }
}
