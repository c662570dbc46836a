package dev.flags.server.journal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Child JVM for {@link CrashConsistencyTest}: appends from several threads as fast as it can and
 * prints one line per acknowledged entry, {@code ack <sequence> <flag key> <mark>}, only after
 * {@link Journal#append} returned. It never stops by itself; the test kills it with SIGKILL.
 *
 * <p>Arguments: data directory, number of threads, run id.
 */
final class CrashChild {

    static final String ENVIRONMENT = "crash";
    static final int KEYS_PER_THREAD = 5;

    private CrashChild() {}

    public static void main(String[] args) {
        Path dir = Path.of(args[0]);
        int threads = Integer.parseInt(args[1]);
        String run = args[2];
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true,
                StandardCharsets.UTF_8);
        out.println("opening");
        FileJournal journal = FileJournal.builder(dir).segmentSize(64 * 1024)
                .checkpointInterval(300).open();
        if (journal.state().environment(ENVIRONMENT).isEmpty()) {
            journal.append(Fixtures.createEnvironment(ENVIRONMENT));
        }
        out.println("ready " + journal.lastSequence());
        for (int t = 0; t < threads; t++) {
            int thread = t;
            Thread writer = new Thread(() -> write(journal, out, run, thread), "crash-writer-" + t);
            writer.start();
        }
    }

    private static void write(FileJournal journal, PrintStream out, String run, int thread) {
        for (long i = 0; ; i++) {
            String key = "w" + thread + "-k" + (i % KEYS_PER_THREAD);
            String mark = run + ":" + thread + ":" + i;
            ObjectNode flag = Fixtures.flag(key, i % 2 == 0);
            flag.put("mark", mark).put("pad", "x".repeat((int) (i % 200)));
            boolean exists = journal.state().environment(ENVIRONMENT).orElseThrow().flags()
                    .containsKey(key);
            Change change = Change.of(exists ? EntryType.FLAG_UPDATED : EntryType.FLAG_CREATED,
                    ENVIRONMENT, "writer-" + thread, flag);
            JournalEntry entry = journal.append(change);
            out.println("ack " + entry.sequence() + " " + key + " " + mark);
        }
    }
}
