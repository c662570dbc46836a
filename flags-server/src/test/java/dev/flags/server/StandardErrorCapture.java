package dev.flags.server;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * What the server logs while an action runs: slf4j-simple writes to {@code System.err} as it is at each line, so
 * replacing it for the action's time catches the lines. Not thread-safe: {@code System.err} is the JVM's.
 */
public final class StandardErrorCapture {

    /** An action whose log lines are wanted. */
    @FunctionalInterface
    public interface Action {
        /** @throws Exception as the action may */
        void run() throws Exception;
    }

    private StandardErrorCapture() {
    }

    /**
     * @param action what to run
     * @return what was written to {@code System.err} meanwhile
     * @throws Exception what the action threw ({@code System.err} is put back first)
     */
    public static String during(Action action) throws Exception {
        PrintStream err = System.err;
        ByteArrayOutputStream logged = new ByteArrayOutputStream();
        System.setErr(new PrintStream(logged, true, StandardCharsets.UTF_8));
        try {
            action.run();
        } finally {
            System.setErr(err);
        }
        return logged.toString(StandardCharsets.UTF_8);
    }
}
