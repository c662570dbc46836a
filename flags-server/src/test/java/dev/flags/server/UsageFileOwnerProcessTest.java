package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A usage.json the server may not read is another user's, not a damaged file: it is left as it is (not moved aside,
 * its usage lost, for a mistake a chown mends), and the log says whose it is. As QA found it: the service user runs
 * the server, and usage.json was left by a run as root.
 */
class UsageFileOwnerProcessTest {

    @TempDir
    Path dir;

    @Test
    void aUsageFileOfAnotherUserIsLeftAsItIsWithWhoseItIs() throws Exception {
        Path data = Files.createDirectories(dir.resolve("data"));
        Files.setPosixFilePermissions(data, PosixFilePermissions.fromString("rwx------"));
        Path usage = Files.writeString(data.resolve("usage.json"), "{\"format\": \"left by root\"}\n");
        Files.setPosixFilePermissions(usage, PosixFilePermissions.fromString("rw-------"));
        boolean asNobody = "root".equals(System.getProperty("user.name"));
        if (asNobody) {
            assumeTrue(Files.isExecutable(JournalLockOwnerProcessTest.SETPRIV), "needs setpriv to run the server as another user");
            UserPrincipal nobody = dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody");
            Files.setOwner(data, nobody); // usage.json stays root's
        } else {
            Files.setPosixFilePermissions(usage, PosixFilePermissions.fromString("---------"));
        }
        Process p = JournalLockOwnerProcessTest.startServer(dir, data, asNobody);
        List<String> log = new ArrayList<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = out.readLine()) != null; ) {
                log.add(line);
                if (line.contains("flag server ready") || line.contains("cannot start")) {
                    break;
                }
            }
            p.toHandle().destroy(); // SIGTERM: a stop writes usage.json, if it may
            for (String line; (line = out.readLine()) != null; ) {
                log.add(line);
            }
        } finally {
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
        String all = String.join("\n", log);
        assertThat(all).contains("flag server ready").contains("flag server stopped");
        assertThat(log.stream().filter(l -> l.contains("usage:")).toList()).singleElement().asString().contains("WARN")
                .contains(usage.toAbsolutePath() + " cannot be read: permission denied (it belongs to ")
                .contains("left as it is, and not written");
        assertThat(Files.readString(usage)).as("its content kept").isEqualTo("{\"format\": \"left by root\"}\n");
        try (Stream<Path> files = Files.list(data)) {
            assertThat(files.map(f -> f.getFileName().toString())).as("not moved aside").noneMatch(n -> n.contains("unreadable"));
        }
    }
}
