package dev.flags.client;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * Captures what the SDK logs during a test (slf4j-simple writes to System.err, looked up at each
 * line) so that tests can count log lines; prints it only when the test fails.
 */
final class LogCapture implements BeforeEachCallback, AfterEachCallback, TestWatcher {

    private final ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    private PrintStream original;
    private volatile Hook onLine;

    private record Hook(String text, Runnable action) {
    }

    /**
     * Runs an action once, on the logging thread, right after the first line holding some text is logged: a test can
     * act at a point of the SDK's own sequence that has no other hook (between two steps of {@code build()}, say).
     */
    void whenLogged(String text, Runnable action) {
        onLine = new Hook(text, action);
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        original = System.err;
        System.setErr(new PrintStream(new ByteArrayOutputStream() {
            @Override
            public synchronized void write(byte[] b, int off, int len) {
                synchronized (buffer) {
                    buffer.write(b, off, len);
                }
                Hook hook = onLine;
                if (hook != null && new String(b, off, len, StandardCharsets.UTF_8).contains(hook.text()) && onLine == hook) {
                    onLine = null;
                    hook.action().run(); // on the thread that logged, before its next step
                }
            }

            @Override
            public synchronized void write(int b) {
                synchronized (buffer) {
                    buffer.write(b);
                }
            }
        }, true, StandardCharsets.UTF_8));
    }

    @Override
    public void afterEach(ExtensionContext context) {
        System.setErr(original);
    }

    @Override
    public void testFailed(ExtensionContext context, Throwable cause) {
        original.println("---- log of " + context.getDisplayName() + " ----");
        original.println(text());
    }

    String text() {
        synchronized (buffer) {
            return buffer.toString(StandardCharsets.UTF_8);
        }
    }

    List<String> lines() {
        return Arrays.stream(text().split("\n")).filter(l -> !l.isBlank()).toList();
    }

    /** @return the lines that contain the text */
    List<String> lines(String containing) {
        return lines().stream().filter(l -> l.contains(containing)).toList();
    }
}
