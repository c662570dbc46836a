package dev.flags.core;

import java.util.List;
import java.util.stream.Collectors;

/**
 * Thrown when a flag document is not valid. It lists every problem, each with its JSON path, so that
 * a product owner can fix them all at once. Nothing of an invalid document is ever used.
 */
public final class FlagValidationException extends RuntimeException {

    private final List<Problem> problems;
    private final long unlisted;

    /**
     * @param problems every problem found; at least one
     */
    public FlagValidationException(List<Problem> problems) {
        this(problems, 0);
    }

    /**
     * @param problems the problems listed, the last of them one that counts the rest if {@code unlisted > 0}; at least one
     * @param unlisted how many more problems were found and not listed
     */
    FlagValidationException(List<Problem> problems, long unlisted) {
        super(describe(problems, unlisted));
        if (problems.isEmpty()) {
            throw new IllegalArgumentException("a validation failure needs at least one problem");
        }
        this.problems = List.copyOf(problems);
        this.unlisted = unlisted;
    }

    /**
     * @return every problem found, in document order; immutable. Past the first hundred, the last one says how many more
     *     there are, unlisted ({@link #count()} counts them all)
     */
    public List<Problem> problems() {
        return problems;
    }

    /** @return how many problems were found: those listed, and those only counted in the last of them */
    public long count() {
        return count(problems, unlisted);
    }

    private static long count(List<Problem> problems, long unlisted) {
        return unlisted > 0 ? problems.size() - 1 + unlisted : problems.size();
    }

    private static String describe(List<Problem> problems, long unlisted) {
        long count = count(problems, unlisted);
        String head = count == 1 ? "invalid flag document: 1 problem" : "invalid flag document: " + count + " problems";
        return problems.stream().map(Problem::toString).collect(Collectors.joining("\n  ", head + "\n  ", ""));
    }
}
