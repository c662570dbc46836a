package dev.flags.client.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.client.Flags;
import dev.flags.client.testing.TestFlags;
import dev.flags.core.Condition;
import dev.flags.core.Flag;
import dev.flags.core.Rule;
import dev.flags.core.User;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The facade keeps flags-core's promise: {@code isEnabled} through {@link Flags} allocates nothing.
 * Counted with the JVM's per-thread allocation counter; speed is for the JMH benchmarks.
 */
class AllocationTest {

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    @TempDir
    Path dir;

    @Test
    void isEnabledThroughTheFacadeAllocatesNothing() throws Exception {
        Path file = dir.resolve("flags.json");
        Files.writeString(file, "{\"formatVersion\": 1, \"flags\": ["
                + "{\"key\": \"s1\", \"enabled\": true, \"default\": true},"
                + "{\"key\": \"s2\", \"enabled\": true, \"rules\": [{\"conditions\": [{\"percentage\": 50}]}]},"
                + "{\"key\": \"s3\", \"enabled\": true, \"rules\": [{\"conditions\": [{\"roles\": [\"beta\"]}]}]}],"
                + "\"roleGrants\": {\"beta\": [\"user-3\"]}}");
        Flag s4 = new Flag("s4", null, true, null, List.of(), List.of(),
                List.of(new Rule("eu", List.of(new Condition.Regions(List.of("eu-west"))), true, null)), false, 1);
        try (Flags offline = Flags.builder().offlineFile(file).build();
             Flags test = TestFlags.create().enable("s1").set(s4)) {
            User[] users = new User[512];
            for (int i = 0; i < users.length; i++) {
                users[i] = User.withId("user-" + i).region(i % 2 == 0 ? "eu-west" : "us-east");
            }
            String[] keys = {"s1", "s2", "s3", "s4", "unknown"};
            for (Flags flags : List.of(offline, test)) {
                int sink = run(flags, users, keys); // warm up
                long before = THREADS.getThreadAllocatedBytes(Thread.currentThread().getId());
                sink += run(flags, users, keys);
                long allocated = THREADS.getThreadAllocatedBytes(Thread.currentThread().getId()) - before;
                assertThat(sink).isPositive();
                // 51,200 calls; one allocation per call would be over 800 kB
                assertThat(allocated).as("bytes allocated by 51,200 isEnabled calls on " + flags).isLessThan(4_096);
            }
        }
    }

    private static int run(Flags flags, User[] users, String[] keys) {
        int on = 0;
        for (int round = 0; round < 20; round++) {
            for (User u : users) {
                for (String k : keys) {
                    if (flags.isEnabled(k, u)) {
                        on++;
                    }
                }
            }
        }
        return on;
    }
}
