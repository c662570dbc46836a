package dev.flags.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code run-demo} script, run through a symbolic link (on a {@code PATH}, as {@code ./flags} may be), finds the
 * repository it belongs to. Its jars are stand-ins here, which say where they were run from: the real ones are made
 * after the tests.
 */
class RunDemoScriptTest {

    @TempDir
    Path dir;

    /** The stand-in for the demo's jar: prints its working directory and arguments. */
    public static final class SaysWhere {
        public static void main(String[] args) {
            System.out.println("ran in " + System.getProperty("user.dir") + " with " + String.join(" ", args));
        }
    }

    @Test
    void runThroughASymbolicLinkItFindsItsRepository() throws Exception {
        Path repo = Files.createDirectories(dir.resolve("repo"));
        Files.copy(Path.of("..", "run-demo"), repo.resolve("run-demo"), StandardCopyOption.COPY_ATTRIBUTES);
        standIn(Files.createDirectories(repo.resolve("examples/target")).resolve("flags-demo.jar"));
        standIn(Files.createDirectories(repo.resolve("flags-cli/target")).resolve("flags.jar"));
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Files.createSymbolicLink(bin.resolve("run-demo"), repo.resolve("run-demo"));

        Process p = new ProcessBuilder(bin.resolve("run-demo").toString(), "--help").directory(dir.toFile())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        // It ran in the link's directory before (QA90 F4): "./mvnw: not found", exit 127.
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).isEqualTo("ran in " + repo.toRealPath() + " with --help\n");
    }

    private static void standIn(Path jar) throws Exception {
        Manifest manifest = new Manifest();
        manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        manifest.getMainAttributes().put(Attributes.Name.MAIN_CLASS, SaysWhere.class.getName());
        manifest.getMainAttributes().put(Attributes.Name.CLASS_PATH,
                Path.of("target", "test-classes").toAbsolutePath().toUri().toString());
        try (OutputStream out = Files.newOutputStream(jar); JarOutputStream ignored = new JarOutputStream(out, manifest)) {
            // the manifest is the whole jar
        }
    }
}
