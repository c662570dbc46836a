package dev.flags.cli;

/** A failure with the exit code the command ends with and a message for the person (or script) running it. */
final class CliException extends RuntimeException {

    private final int exitCode;
    private final int httpStatus;
    private final String title;

    CliException(int exitCode, String message) {
        this(exitCode, message, 0, "");
    }

    /**
     * A failure the server answered, with its HTTP status and problem title, for a caller that acts on one
     * (a {@code 404} "flag not found" that means "not there yet", not a missing environment's).
     */
    CliException(int exitCode, String message, int httpStatus, String title) {
        super(message);
        this.exitCode = exitCode;
        this.httpStatus = httpStatus;
        this.title = title;
    }

    int exitCode() {
        return exitCode;
    }

    /** @return the server's HTTP status, or 0 if the failure was not an answer of the server's */
    int httpStatus() {
        return httpStatus;
    }

    /** @return the server's problem title, such as {@code flag not found}, or "" */
    String title() {
        return title;
    }
}
