package dev.flags.server.journal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real crash test: a child JVM appends from several threads and prints every acknowledged
 * sequence number; it is killed with SIGKILL at a random moment, again and again; then every
 * acknowledged entry must be in the journal, with its content, and the journal must read cleanly.
 *
 * <p>SIGKILL ends the process, not the machine: the page cache survives, so this proves that
 * nothing is acknowledged before it is written, and that recovery copes with whatever a killed
 * process leaves (a tail cut mid-batch, a segment roll or checkpoint cut short, a kill during
 * recovery itself). Power loss (what fsync is for) is beyond a test in a VM.
 */
class CrashConsistencyTest {

    static final int KILLS = 24;
    static final int THREADS = 8;

    @TempDir
    Path dir;

    @TempDir
    Path logs;

    /** What the child printed for one acknowledged entry. */
    record Ack(String key, String mark) {}

    @Test
    void everyAcknowledgedEntrySurvivesSigkill() throws Exception {
        long seed = System.nanoTime();
        Random random = new Random(seed);
        Map<Long, Ack> acked = new HashMap<>();
        Path log = logs.resolve("children.log");
        int killedDuringRecovery = 0;

        for (int run = 0; run < KILLS; run++) {
            Process child = ChildJvm.start(CrashChild.class, log, dir.toString(),
                    String.valueOf(THREADS), "r" + run);
            BlockingQueue<String> lines = pump(child);
            expectLine(lines, "opening", child, log, seed);
            boolean duringRecovery = random.nextInt(8) == 0;
            if (duringRecovery) {
                killedDuringRecovery++;
            } else {
                expectLine(lines, "ready", child, log, seed);
                int killAfter = random.nextInt(400);
                int seen = 0;
                while (seen < killAfter) {
                    String line = next(lines, child, log, seed);
                    if (line.startsWith("ack ")) {
                        record(acked, line);
                        seen++;
                    }
                }
            }
            child.destroyForcibly(); // SIGKILL on Linux
            assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(child.exitValue()).as("exit value of a SIGKILLed child").isEqualTo(137);
            // Lines printed before the kill landed still count: they were acknowledged.
            for (String line = lines.poll(); line != null; line = lines.poll()) {
                if (line.startsWith("ack ")) {
                    record(acked, line);
                }
            }
        }

        assertThat(acked).as("seed %d", seed).hasSizeGreaterThan(KILLS * 20);
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            List<JournalEntry> all = journal.read(1, Integer.MAX_VALUE);
            assertThat(all).hasSize((int) journal.lastSequence());
            Map<Long, JournalEntry> bySequence = new HashMap<>();
            for (int i = 0; i < all.size(); i++) {
                assertThat(all.get(i).sequence()).isEqualTo(i + 1);
                bySequence.put(all.get(i).sequence(), all.get(i));
            }
            acked.forEach((sequence, ack) -> {
                JournalEntry entry = bySequence.get(sequence);
                assertThat(entry).as("acknowledged entry %d (seed %d, log %s)", sequence, seed, log)
                        .isNotNull();
                assertThat(entry.subject()).isEqualTo(ack.key());
                assertThat(entry.payload().toJsonNode().get("mark").asText()).isEqualTo(ack.mark());
            });
            MutableState replayed = new MutableState();
            all.forEach(replayed::apply);
            assertThat(journal.state()).isEqualTo(replayed.freeze());
            long tornTails = Files.readAllLines(log).stream()
                    .filter(l -> l.contains("found a torn tail")).count();
            System.out.printf("crash test: %d kills (%d during recovery), %d acknowledged entries, %d in"
                    + " the journal, %d segments, %d torn tails cut, seed %d%n", KILLS,
                    killedDuringRecovery, acked.size(), all.size(), Fixtures.segments(dir).size(),
                    tornTails, seed);
        }
        StringWriter out = new StringWriter();
        int verify = JournalTool.run(new PrintWriter(out, true), new PrintWriter(out, true), "verify",
                dir.toString());
        assertThat(verify).as(out.toString()).isZero();
        // No torn tail left: each was cut at the next open. (The "set aside" line may name the cut ones' bytes.)
        assertThat(out.toString()).doesNotContain("; torn tail at byte offset");
    }

    private static void record(Map<Long, Ack> acked, String line) {
        String[] parts = line.split(" ");
        Ack previous = acked.put(Long.parseLong(parts[1]), new Ack(parts[2], parts[3]));
        assertThat(previous).as("sequence %s acknowledged twice", parts[1]).isNull();
    }

    /** Reads the child's stdout on a thread of its own, so that the test can wait with a timeout. */
    private static BlockingQueue<String> pump(Process child) {
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(child.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    lines.add(line);
                }
            } catch (IOException e) {
                // the child died: the lines read so far are in the queue
            }
            lines.add("<eof>");
        }, "crash-test-stdout");
        reader.setDaemon(true);
        reader.start();
        return lines;
    }

    private static String next(BlockingQueue<String> lines, Process child, Path log, long seed)
            throws Exception {
        String line = lines.poll(60, TimeUnit.SECONDS);
        if (line == null || line.equals("<eof>")) {
            child.destroyForcibly();
            fail("child stopped talking (seed %d); its log:%n%s", seed, tail(log));
        }
        return line;
    }

    private static void expectLine(BlockingQueue<String> lines, String prefix, Process child,
            Path log, long seed) throws Exception {
        String line = next(lines, child, log, seed);
        if (!line.startsWith(prefix)) {
            child.destroyForcibly();
            fail("expected \"%s\" from the child but got \"%s\" (seed %d); its log:%n%s", prefix, line,
                    seed, tail(log));
        }
    }

    private static String tail(Path log) throws IOException {
        if (!Files.exists(log)) {
            return "(empty)";
        }
        List<String> all = Files.readAllLines(log);
        return String.join("\n", all.subList(Math.max(0, all.size() - 60), all.size()));
    }
}
