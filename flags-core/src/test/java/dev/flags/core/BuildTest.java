package dev.flags.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class BuildTest {

    @Test
    void theBuildSaysTheCommitItWasMadeFromOrUnknownOutsideAGitWorkTree() throws Exception {
        Path root = Path.of("").toAbsolutePath();
        while (root != null && !Files.exists(root.resolve(".git"))) {
            root = root.getParent();
        }
        if (root == null) { // a source archive: nothing to read the commit from
            assertThat(Build.commit()).isEqualTo(Build.UNKNOWN);
            return;
        }
        String head = git(root, "rev-parse", "HEAD");
        assertThat(Build.commit()).matches("[0-9a-f]{10}(-dirty)?");
        assertThat(head).as("the commit checked out as this build ran").startsWith(Build.commit().replace("-dirty", ""));
        assertThat(Build.describe()).isEqualTo(Build.RELEASE + " (commit " + Build.commit() + ")");
    }

    private static String git(Path dir, String... args) throws IOException, InterruptedException {
        String[] command = new String[args.length + 1];
        command[0] = "git";
        System.arraycopy(args, 0, command, 1, args.length);
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertThat(p.waitFor()).as(out).isZero();
        return out;
    }
}
