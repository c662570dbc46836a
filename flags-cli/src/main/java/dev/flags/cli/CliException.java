package dev.flags.cli;

/** A failure with the exit code the command ends with and a message for the person (or script) running it. */
final class CliException extends RuntimeException {

    private final int exitCode;

    CliException(int exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    int exitCode() {
        return exitCode;
    }
}
