package dev.flags.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.core.User;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Files within the format's bounds whose flags a small heap cannot hold (QA60 F2): an application with such a heap keeps
 * running, and says why. In a child JVM of 48 MiB, so that the heap runs out where it would in such an application.
 */
class SmallHeapTest {

    private static final String HEAP = "-Xmx48m";

    @TempDir
    Path dir;

    @Test
    void aWatchedOfflineFileTooLargeForTheHeapIsReportedAndTheNextGoodOneIsRead() throws Exception {
        Path file = dir.resolve("flags.json");
        String good = "{\"formatVersion\": 1, \"flags\": [{\"key\": \"a\", \"enabled\": true, \"default\": true}]}";
        Files.writeString(file, good);
        Process child = child(WatchingApplication.class, file);
        BlockingQueue<String> lines = lines(child);
        try {
            awaitLine(lines, "ready a=true");

            replace(file, largeFile(40 << 20)); // 40 MB of flags: within the bounds, beyond this heap once parsed
            String degraded = awaitLine(lines, "status DEGRADED");
            assertThat(degraded).contains("offline file " + file + " could not be read: the JVM ran out of memory reading it");

            // The watcher goes on: the last good file, put back as it was, is read and clears the problem (QA62 F2).
            replace(file, good);
            awaitLine(lines, "status UP");
            replace(file, "{\"formatVersion\": 1, \"flags\": [{\"key\": \"a\", \"enabled\": false}]}");
            awaitLine(lines, "changed a=false");
            child.getOutputStream().write("show\n".getBytes(StandardCharsets.UTF_8));
            child.getOutputStream().flush();
            assertThat(awaitLine(lines, "a=")).isEqualTo("a=false");
            child.getOutputStream().close(); // the application ends at the end of its input
            assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(child.exitValue()).isZero();
        } finally {
            child.destroyForcibly(); // a failed run leaves no process behind
        }
    }

    @Test
    void aCacheFileTooLargeForTheHeapIsIgnoredAndTheApplicationStarts() throws Exception {
        Path cache = dir.resolve("flags.cache");
        Files.write(cache, largeCache(60 << 20)); // more than the heap, less than the bound
        Process child = child(CachedApplication.class, cache);
        try {
            String started = awaitLine(lines(child), "started");
            assertThat(started).contains("source=DEFAULTS").contains("cache file " + cache + " was ignored")
                    .contains("the JVM ran out of memory reading it");
            assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(child.exitValue()).isZero();
        } finally {
            child.destroyForcibly();
        }
    }

    @Test
    void anOfflineFileTooLargeForTheHeapAtStartServesDefaultsAndSaysWhy() throws Exception {
        Path file = dir.resolve("flags.json");
        Files.writeString(file, largeFile(40 << 20));
        Process child = child(OfflineApplication.class, file);
        try {
            String started = awaitLine(lines(child), "started");
            assertThat(started).contains("health DOWN").contains("offline file " + file + " cannot be used")
                    .contains("the JVM ran out of memory reading it").endsWith("a=false");
            assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(child.exitValue()).isZero();
        } finally {
            child.destroyForcibly();
        }
    }

    /** Starts {@code application} in a JVM of {@link #HEAP}, with the file as its argument; its stderr in its stdout. */
    private static Process child(Class<?> application, Path file) throws IOException {
        return new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), HEAP,
                "-cp", System.getProperty("java.class.path"), application.getName(), file.toString())
                .redirectErrorStream(true).start();
    }

    /** A cache file's size of anything: the heap runs out reading it, before it is found not to be one. */
    private static byte[] largeCache(int bytes) {
        byte[] content = new byte[bytes];
        java.util.Arrays.fill(content, (byte) 'x');
        return content;
    }

    /** A valid flag file of about {@code bytes}: flags with long descriptions. */
    private static String largeFile(int bytes) {
        String description = "d".repeat(1_000);
        StringBuilder json = new StringBuilder(bytes + 2_000).append("{\"formatVersion\": 1, \"flags\": [");
        for (int i = 0; json.length() < bytes; i++) {
            json.append(i == 0 ? "" : ",").append("{\"key\": \"f-").append(i).append("\", \"description\": \"")
                    .append(description).append("\"}");
        }
        return json.append("]}").toString();
    }

    /** Replaces the file as an editor does: written beside it, then moved over it. */
    private void replace(Path file, String content) throws IOException {
        Path next = Files.writeString(dir.resolve("next.json"), content);
        Files.move(next, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static BlockingQueue<String> lines(Process child) {
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    lines.add(line);
                }
            } catch (IOException e) {
                lines.add("cannot read the child's output: " + e);
            }
        }, "child-output");
        reader.setDaemon(true);
        reader.start();
        return lines;
    }

    /** @return the first line that starts so; fails with every line read if none comes within 60 s */
    private static String awaitLine(BlockingQueue<String> lines, String start) throws InterruptedException {
        StringBuilder seen = new StringBuilder();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        for (String line; (line = lines.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS)) != null; ) {
            if (line.startsWith(start)) {
                return line;
            }
            seen.append(line).append('\n');
        }
        throw new AssertionError("no line \"" + start + "...\" within 60 s; the child said:\n" + seen);
    }

    /** An application: serves a watched offline file, says each change of its flags and health, and answers "show". */
    public static final class WatchingApplication {
        public static void main(String[] args) throws IOException {
            PrintStream out = System.out;
            User user = User.withId("u-1");
            try (Flags flags = Flags.builder().offlineFile(Path.of(args[0])).watchOfflineFile(true).build()) {
                flags.addStatusListener(f -> out.println("status " + flags.health().status() + " " + flags.health().detail()));
                flags.addListener(event -> out.println("changed a=" + flags.isEnabled("a", user)));
                out.println("ready a=" + flags.isEnabled("a", user));
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
                for (String line; (line = in.readLine()) != null; ) {
                    if (line.equals("show")) {
                        out.println("a=" + flags.isEnabled("a", user));
                    }
                }
            }
        }
    }

    /** An application that reads an offline file once, at start. */
    public static final class OfflineApplication {
        public static void main(String[] args) {
            try (Flags flags = Flags.builder().offlineFile(Path.of(args[0])).build()) {
                System.out.println("started health " + flags.health().status() + " " + flags.health().detail()
                        + " a=" + flags.isEnabled("a", User.withId("u-1")));
            }
        }
    }

    /** An application with a cache file and no server to reach. */
    public static final class CachedApplication {
        public static void main(String[] args) {
            try (Flags flags = Flags.builder().target("127.0.0.1:1").plaintext().sdkToken("flg_sdk_small-heap")
                    .environment("production").cacheFile(Path.of(args[0])).build()) {
                System.out.println("started source=" + flags.freshness().source() + " " + flags.freshness().problem().orElse(""));
            }
        }
    }
}
