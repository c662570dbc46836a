package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.FileJournal;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Files the server may not use because another user's they are: a journal lock file, as a journal tool run as root
 * leaves it for a server that runs as a service user, and a TLS key. The server, a real child process, refuses to
 * start with one line that says whose the file is (and, for the journal, what to do).
 */
class JournalLockOwnerProcessTest {

    static final Path SETPRIV = Path.of("/usr/bin/setpriv");

    @TempDir
    Path dir;

    @Test
    void aLockFileTheServerMayNotWriteStopsItWithWhoseItIsAndWhatToDo() throws Exception {
        Path data = dir.resolve("data");
        Path journal = data.resolve("journal");
        try (FileJournal j = FileJournal.builder(journal).open()) {
            j.append(Change.of(EntryType.ENVIRONMENT_CREATED, "production", "admin",
                    JsonNodeFactory.instance.objectNode().put("name", "Production")));
        }
        Path lock = journal.resolve("journal.lock");
        boolean asNobody = "root".equals(System.getProperty("user.name"));
        String advice;
        if (asNobody) {
            // As QA found it: the service user (here nobody) owns the journal; 'verify' run as root left the lock.
            assumeTrue(Files.isExecutable(SETPRIV), "needs setpriv to run the server as another user");
            UserPrincipal nobody = dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody");
            try (Stream<Path> files = Files.walk(data)) {
                for (Path p : (Iterable<Path>) files::iterator) {
                    if (!p.equals(lock)) {
                        Files.setOwner(p, nobody);
                    }
                }
            }
            advice = "and this process runs as nobody; the server or a journal tool run as root probably left it, and maybe"
                    + " other files: give them back with 'chown -R nobody " + data + "' (do not delete them while"
                    + " anything may have the journal open), and run the server and the journal tools as nobody, the service user";
        } else {
            Files.setPosixFilePermissions(lock, PosixFilePermissions.fromString("r--r--r--"));
            advice = "but its permissions do not let its owner read and write it: 'chmod u+rw " + lock + "'";
        }
        Process p = startServer(dir, data, asNobody);
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();

        assertThat(p.exitValue()).as(out).isEqualTo(Main.EXIT_CANNOT_START);
        assertThat(out).contains("flags-server: cannot start: cannot open journal in " + journal + ": " + lock
                        + ": permission denied: it belongs to ")
                .contains(advice)
                .doesNotContain("AccessDeniedException").doesNotContain("\tat ");
        assertThat(out.split("cannot start", -1)).as("one line, the explanation said once").hasSize(2);
        assertThat(out.split("permission denied", -1)).hasSize(2);
    }

    /**
     * Starts a server process on a data directory, as {@code nobody} (through setpriv, with a classpath nobody may read)
     * or as this user, on free loopback ports, without the FLAGS_* variables of this process; its output and errors
     * together on its input stream.
     *
     * @param dir the test's directory, which nobody must be able to enter
     */
    @Test
    void aTlsKeyTheServerMayNotReadIsABadSettingThatSaysWhoseItIs() throws Exception {
        Path certs = Files.createDirectories(dir.resolve("certs"));
        TestCertificates tls = TestCertificates.create(certs);
        Files.setPosixFilePermissions(tls.key, PosixFilePermissions.fromString("rw-------"));
        boolean asNobody = "root".equals(System.getProperty("user.name"));
        if (asNobody) {
            assumeTrue(Files.isExecutable(SETPRIV), "needs setpriv to run the server as another user");
            Files.setPosixFilePermissions(certs, PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.setPosixFilePermissions(tls.certificate, PosixFilePermissions.fromString("rw-r--r--"));
        } else {
            Files.setPosixFilePermissions(tls.key, PosixFilePermissions.fromString("-w-------"));
        }
        String user = asNobody ? "nobody" : System.getProperty("user.name");
        String owner = dev.flags.server.journal.FileAccess.ownerOf(tls.key);
        Process p = startServer(dir, dir.resolve("data"), asNobody, "--tls-cert", tls.certificate.toString(), "--tls-key",
                tls.key.toString());
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isEqualTo(2);
        assertThat(out).startsWith("flags-server: TLS key file " + tls.key + " cannot be read: it belongs to " + owner + " ("
                + (asNobody ? "rw-------" : "-w-------") + "), and this process runs as " + user);
    }

    @Test
    void aTlsFileBehindADirectoryItMayNotEnterAndAPrivilegedPortSayWhy() throws Exception {
        boolean asNobody = "root".equals(System.getProperty("user.name"));
        assumeTrue(!asNobody || Files.isExecutable(SETPRIV), "needs setpriv to run the server as another user");
        Path closed = Files.createDirectories(dir.resolve("private"));
        TestCertificates tls = TestCertificates.create(closed);
        Files.setPosixFilePermissions(closed, PosixFilePermissions.fromString(asNobody ? "rwx------" : "rw-------"));
        String user = asNobody ? "nobody" : System.getProperty("user.name");
        try {
            Process p = startServer(dir, dir.resolve("data"), asNobody, "--tls-cert", tls.certificate.toString(), "--tls-key",
                    tls.key.toString());
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(out).startsWith("flags-server: TLS certificate file " + tls.certificate + " cannot be reached: the"
                    + " directory " + closed + " belongs to " + dev.flags.server.journal.FileAccess.ownerOf(closed) + " ("
                    + (asNobody ? "rwx------" : "rw-------") + "), and this process runs as " + user);
        } finally {
            Files.setPosixFilePermissions(closed, PosixFilePermissions.fromString("rwx------"));
        }

        Path again = Files.createDirectories(dir.resolve("again")); // its own classpath copy
        Path data = Files.createDirectories(again.resolve("data"));
        if (asNobody) {
            Files.setOwner(data, dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody"));
        }
        Process p = startServer(again, data, asNobody, "--http-port", "80");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(out).contains("flags-server: cannot start: cannot listen on 127.0.0.1:80 for HTTP: ports below 1024 need"
                + " root or the CAP_NET_BIND_SERVICE capability: give --http-port 1024 or more, or grant the capability\n")
                .doesNotContain("BindException");
    }

    static Process startServer(Path dir, Path data, boolean asNobody, String... more) throws IOException {
        List<String> command = new ArrayList<>();
        String classpath = System.getProperty("java.class.path");
        if (asNobody) {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
            classpath = readableByEveryone(classpath, Files.createDirectories(dir.resolve("classpath")));
            command.addAll(List.of(SETPRIV.toString(), "--reuid=nobody", "--regid=nogroup", "--clear-groups"));
        }
        command.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", classpath,
                Main.class.getName(), "--data-dir", data.toString(), "--bind", "127.0.0.1",
                "--grpc-port", String.valueOf(ServerChild.freePort())));
        if (!List.of(more).contains("--http-port")) {
            command.addAll(List.of("--http-port", String.valueOf(ServerChild.freePort())));
        }
        command.addAll(List.of(more));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().keySet().removeIf(name -> name.startsWith("FLAGS_"));
        return pb.start();
    }

    /**
     * The test classpath, linked (or copied) under a directory every user may read: the build's own
     * files may be under a home directory only its owner may enter.
     */
    static String readableByEveryone(String classpath, Path into) throws IOException {
        List<String> entries = new ArrayList<>();
        int n = 0;
        for (String entry : classpath.split(File.pathSeparator)) {
            Path source = Path.of(entry);
            if (!Files.exists(source)) {
                continue;
            }
            Path target = into.resolve(n++ + "-" + source.getFileName());
            if (Files.isDirectory(source)) {
                try (Stream<Path> files = Files.walk(source)) {
                    for (Path f : (Iterable<Path>) files::iterator) {
                        Path copy = target.resolve(source.relativize(f).toString());
                        if (Files.isDirectory(f)) {
                            Files.createDirectories(copy);
                        } else {
                            Files.copy(f, copy);
                        }
                    }
                }
            } else if (Files.getPosixFilePermissions(source).contains(PosixFilePermission.OTHERS_READ)) {
                try {
                    Files.createLink(target, source); // the same file, reached without the home directory
                } catch (FileSystemException | UnsupportedOperationException e) {
                    Files.copy(source, target);
                }
            } else {
                Files.copy(source, target);
            }
            entries.add(target.toString());
        }
        // Only what this test made: a link shares its mode with the original, which is not this test's to change.
        try (Stream<Path> files = Files.walk(into)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (Files.isDirectory(f)) {
                    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rwxr-xr-x"));
                } else if (!Files.getPosixFilePermissions(f).contains(PosixFilePermission.OTHERS_READ)) {
                    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--")); // a copy
                }
            }
        }
        return String.join(File.pathSeparator, entries);
    }
}
