package dev.flags.benchmarks.eval;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Immutable (stateless). Reads the flag files under {@code dev/flags/benchmarks/eval/}. */
final class Resources {

    private Resources() {
    }

    /** @return the resource's text */
    static String text(String name) {
        try (InputStream in = Resources.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("missing resource " + name);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Copies the resource to a temporary file, for the SDKs that read flags from a file path. */
    static Path file(String name) {
        try {
            Path file = Files.createTempFile("flags-bench-", "-" + name);
            file.toFile().deleteOnExit();
            Files.writeString(file, text(name));
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
