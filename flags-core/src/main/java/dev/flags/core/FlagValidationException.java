package dev.flags.core;

import java.util.List;
import java.util.stream.Collectors;

/**
 * Thrown when a flag document is not valid. It lists every problem, each with its JSON path, so that
 * a product owner can fix them all at once. Nothing of an invalid document is ever used.
 */
public final class FlagValidationException extends RuntimeException {

    private final List<Problem> problems;

    /**
     * @param problems every problem found; at least one
     */
    public FlagValidationException(List<Problem> problems) {
        super(describe(problems));
        if (problems.isEmpty()) {
            throw new IllegalArgumentException("a validation failure needs at least one problem");
        }
        this.problems = List.copyOf(problems);
    }

    /** @return every problem found, in document order; immutable */
    public List<Problem> problems() {
        return problems;
    }

    private static String describe(List<Problem> problems) {
        String head = problems.size() == 1 ? "invalid flag document: 1 problem" : "invalid flag document: " + problems.size() + " problems";
        return problems.stream().map(Problem::toString).collect(Collectors.joining("\n  ", head + "\n  ", ""));
    }
}
