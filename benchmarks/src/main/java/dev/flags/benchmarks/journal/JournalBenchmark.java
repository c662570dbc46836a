package dev.flags.benchmarks.journal;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.FileJournal;
import dev.flags.server.journal.RecoveryReport;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Not thread-safe. The journal's benchmark harness: durable appends per second with 1 and 16
 * concurrent writers, and recovery (open) time for journals of 100,000 and 1,000,000 entries with
 * and without a checkpoint. A plain main rather than JMH: each measurement is seconds of real
 * fsyncs or one open of a large directory, where JMH's forks and iterations add little.
 *
 * <pre>{@code
 * ./mvnw -B -ntp -pl benchmarks -am package -DskipTests
 * java -cp benchmarks/target/benchmarks.jar dev.flags.benchmarks.journal.JournalBenchmark all
 * }</pre>
 *
 * <p>Arguments: {@code appends}, {@code recovery} or {@code all}; or {@code fill DIR N} (write a
 * journal of N updates and keep it) and {@code open DIR} (print how long one open takes); options {@code --dir DIR} (where
 * the journals are written; default the system temp directory), {@code --seconds N} (measured
 * seconds per append run, default 10), {@code --runs N} (append runs per writer count, default 3),
 * {@code --opens N} (opens per recovery case, default 5), {@code --entries N,M} (recovery sizes,
 * default 100000,1000000).
 *
 * <p>The workload: 10 environments of 100 flags each; every entry is a {@code FLAG_UPDATED} of a
 * realistic definition of about 300 bytes of canonical JSON, built as a Jackson tree per append,
 * as the admin API would.
 */
public final class JournalBenchmark {

    private static final JsonMapper MAPPER = JsonMapper.builder().build();
    private static final int ENVIRONMENTS = 10;
    private static final int FLAGS = 100;

    private Path base = Path.of(System.getProperty("java.io.tmpdir"));
    private int seconds = 10;
    private int runs = 3;
    private int opens = 5;
    private long[] sizes = {100_000, 1_000_000};

    private JournalBenchmark() {}

    /**
     * Runs the benchmark and prints the results.
     *
     * @param args what to run and options; see the class comment
     * @throws Exception if a journal cannot be written or read
     */
    public static void main(String[] args) throws Exception {
        if (System.getProperty("org.slf4j.simpleLogger.log.dev.flags.server.journal") == null) {
            System.setProperty("org.slf4j.simpleLogger.log.dev.flags.server.journal", "warn");
        }
        if (args.length == 2 && args[0].equals("open")) {
            openOnce(Path.of(args[1]));
            return;
        }
        if (args.length == 3 && args[0].equals("fill")) {
            fill(Path.of(args[1]), Long.parseLong(args[2]));
            return;
        }
        JournalBenchmark b = new JournalBenchmark();
        String what = "all";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--dir":
                    b.base = Path.of(args[++i]);
                    break;
                case "--seconds":
                    b.seconds = Integer.parseInt(args[++i]);
                    break;
                case "--runs":
                    b.runs = Integer.parseInt(args[++i]);
                    break;
                case "--opens":
                    b.opens = Integer.parseInt(args[++i]);
                    break;
                case "--entries":
                    b.sizes = Stream.of(args[++i].split(",")).mapToLong(Long::parseLong).toArray();
                    break;
                default:
                    what = args[i];
            }
        }
        System.out.printf("java %s, %d cpus, journals under %s%n", System.getProperty("java.version"),
                Runtime.getRuntime().availableProcessors(), b.base);
        if (what.equals("appends") || what.equals("all")) {
            b.appends();
        }
        if (what.equals("recovery") || what.equals("all")) {
            b.recovery();
        }
    }

    // ---------------------------------------------------------------------------------------------

    private void appends() throws Exception {
        double single = appendRuns(1);
        double sixteen = appendRuns(16);
        System.out.printf(Locale.ROOT, "%n16 writers / 1 writer = %.1fx%n", sixteen / single);
    }

    /** Runs {@code runs} fresh journals with this many writers and returns the median rate. */
    private double appendRuns(int writers) throws Exception {
        List<Double> rates = new ArrayList<>();
        for (int run = 0; run < runs; run++) {
            Path dir = Files.createTempDirectory(base, "journal-bench-appends-");
            try {
                rates.add(appendRun(dir, writers, run));
            } finally {
                delete(dir);
            }
        }
        double median = median(rates);
        System.out.printf(Locale.ROOT, "appends, %2d writers: median %,.0f durable appends/s over %d"
                + " runs %s%n", writers, median, runs, rates.stream()
                .map(r -> String.format(Locale.ROOT, "%,.0f", r)).collect(Collectors.toList()));
        return median;
    }

    private double appendRun(Path dir, int writers, int run) throws Exception {
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            setUp(journal);
            LongAdder done = new LongAdder();
            AtomicBoolean stop = new AtomicBoolean();
            CountDownLatch finished = new CountDownLatch(writers);
            List<Throwable> failures = Collections.synchronizedList(new ArrayList<>());
            for (int w = 0; w < writers; w++) {
                int writer = w;
                Thread t = new Thread(() -> {
                    try {
                        for (long i = 0; !stop.get(); i++) {
                            journal.append(update(writer, i));
                            done.increment();
                        }
                    } catch (RuntimeException e) {
                        failures.add(e);
                    } finally {
                        finished.countDown();
                    }
                }, "bench-writer-" + w);
                t.start();
            }
            Thread.sleep(2_000); // warm-up: JIT, page cache, segment files
            long forces0 = journal.forceCount();
            long count0 = done.sum();
            long t0 = System.nanoTime();
            Thread.sleep(seconds * 1_000L);
            long count1 = done.sum();
            long forces1 = journal.forceCount();
            long t1 = System.nanoTime();
            stop.set(true);
            finished.await();
            if (!failures.isEmpty()) {
                throw new IllegalStateException("a writer failed", failures.get(0));
            }
            double rate = (count1 - count0) / ((t1 - t0) / 1e9);
            System.out.printf(Locale.ROOT, "  run %d, %2d writers: %,9.0f appends/s, %,.1f appends per"
                    + " force, mean latency %.2f ms%n", run + 1, writers, rate,
                    (count1 - count0) / (double) Math.max(1, forces1 - forces0),
                    writers * 1000.0 / rate);
            return rate;
        }
    }

    // ---------------------------------------------------------------------------------------------

    private void recovery() throws Exception {
        for (long entries : sizes) {
            Path dir = Files.createTempDirectory(base, "journal-bench-recovery-");
            try {
                recovery(dir, entries);
            } finally {
                delete(dir);
            }
        }
    }

    private void recovery(Path dir, long entries) throws Exception {
        long t0 = System.nanoTime();
        fill(dir, entries);
        long bytes = segmentBytes(dir);
        System.out.printf(Locale.ROOT, "%nrecovery, %,d entries: wrote %,.0f MB in %d segments in %.1f"
                + " s%n", entries, bytes / 1e6, segments(dir).size(), (System.nanoTime() - t0) / 1e9);

        // The checkpoint files as the filled journal left them: the periodic ones and the final one
        // of a clean shutdown. Each case restores the set it needs before every open, because an open
        // followed by a close writes a new final checkpoint.
        Path stash = Files.createTempDirectory(base, "journal-bench-checkpoints-");
        try {
            List<Path> checkpoints = checkpoints(dir);
            for (Path c : checkpoints) {
                Files.copy(c, stash.resolve(c.getFileName()));
            }
            List<Path> all = checkpoints(stash);
            List<Path> newestOnly = all.subList(all.size() - 1, all.size());
            List<Path> olderOnly = all.size() > 1 ? all.subList(0, all.size() - 1) : List.of();
            measure(dir, entries, "checkpoint at the end (clean shutdown)", newestOnly);
            if (!olderOnly.isEmpty()) {
                measure(dir, entries, "last periodic checkpoint + tail (crash)", olderOnly);
            }
            measure(dir, entries, "no checkpoint (full replay)", List.of());
            history(dir);
        } finally {
            delete(stash);
        }
    }

    private void measure(Path dir, long entries, String label, List<Path> keep)
            throws IOException, InterruptedException {
        List<Double> millis = new ArrayList<>();
        RecoveryReport last = null;
        for (int i = 0; i < opens; i++) {
            restore(dir, keep);
            long t0 = System.nanoTime();
            FileJournal journal = FileJournal.builder(dir).open();
            millis.add((System.nanoTime() - t0) / 1e6);
            last = journal.recoveryReport();
            if (journal.lastSequence() != entries + ENVIRONMENTS * (FLAGS + 1)) {
                throw new IllegalStateException("recovered " + journal.lastSequence() + " entries");
            }
            journal.close();
        }
        System.out.printf(Locale.ROOT, "  %-42s median %,8.1f ms (first open %,.1f ms; replayed %,d"
                + " entries, checked %,d more) %s%n", label + ":", median(millis), millis.get(0),
                last.replayedEntries(), last.verifiedEntries(), millis.stream()
                .map(m -> String.format(Locale.ROOT, "%.0f", m)).collect(Collectors.toList()));

        // Start-up as an operator sees it: a fresh JVM (cold JIT, classes to load) opens the journal.
        List<Double> fresh = new ArrayList<>();
        for (int i = 0; i < Math.min(opens, 3); i++) {
            restore(dir, keep);
            fresh.add(openInFreshJvm(dir));
        }
        System.out.printf(Locale.ROOT, "  %-42s median %,8.1f ms %s%n", "  same, open in a fresh JVM:",
                median(fresh), fresh.stream().map(m -> String.format(Locale.ROOT, "%.0f", m))
                .collect(Collectors.toList()));
    }

    /**
     * The history of one flag. The first read after an open indexes every flag change the journal
     * holds (one scan); the reads after it read only that flag's records.
     */
    private void history(Path dir) {
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            long t0 = System.nanoTime();
            int found = journal.history("env-3", "flag-17").size();
            double first = (System.nanoTime() - t0) / 1e6;
            List<Double> millis = new ArrayList<>();
            for (int i = 0; i < opens; i++) {
                t0 = System.nanoTime();
                found = journal.history("env-" + (i % ENVIRONMENTS), "flag-" + (17 + i)).size();
                millis.add((System.nanoTime() - t0) / 1e6);
            }
            System.out.printf(Locale.ROOT, "  %-42s %,8.1f ms (indexes the journal)%n",
                    "history of one flag, first after the open:", first);
            System.out.printf(Locale.ROOT, "  %-42s median %,8.1f ms (%,d versions in the last) %s%n",
                    "history of one flag, later reads:", median(millis), found, millis.stream()
                    .map(m -> String.format(Locale.ROOT, "%.1f", m)).collect(Collectors.toList()));
        }
    }

    /** Leaves exactly the given checkpoint files in the directory. */
    private static void restore(Path dir, List<Path> keep) throws IOException {
        for (Path c : checkpoints(dir)) {
            Files.delete(c);
        }
        for (Path c : keep) {
            Files.copy(c, dir.resolve(c.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static double openInFreshJvm(Path dir) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-cp", System.getProperty("java.class.path"),
                JournalBenchmark.class.getName(), "open", dir.toString())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (p.waitFor() != 0) {
            throw new IllegalStateException("open in a fresh JVM failed: " + out);
        }
        return Double.parseDouble(out);
    }

    /** In a fresh JVM: opens, prints the milliseconds the open took, closes. */
    private static void openOnce(Path dir) {
        long t0 = System.nanoTime();
        FileJournal journal = FileJournal.builder(dir).open();
        double millis = (System.nanoTime() - t0) / 1e6;
        journal.close();
        System.out.println(String.format(Locale.ROOT, "%.1f", millis));
    }

    /** Writes the set-up entries and then {@code entries} updates with 16 writers. */
    private static void fill(Path dir, long entries) throws Exception {
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            setUp(journal);
            int writers = 16;
            List<Thread> threads = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                int writer = w;
                long share = entries / writers + (w < entries % writers ? 1 : 0);
                Thread t = new Thread(() -> {
                    for (long i = 0; i < share; i++) {
                        journal.append(update(writer, i));
                    }
                }, "bench-fill-" + w);
                threads.add(t);
                t.start();
            }
            for (Thread t : threads) {
                t.join();
            }
        }
    }

    // ---------------------------------------------------------------------------------------------

    private static void setUp(FileJournal journal) {
        for (int e = 0; e < ENVIRONMENTS; e++) {
            journal.append(Change.of(EntryType.ENVIRONMENT_CREATED, "env-" + e, "bench",
                    MAPPER.createObjectNode().put("name", "Environment " + e)));
            for (int f = 0; f < FLAGS; f++) {
                journal.append(Change.of(EntryType.FLAG_CREATED, "env-" + e, "bench", flag(f, 0)));
            }
        }
    }

    private static Change update(int writer, long i) {
        int env = (int) ((writer + i) % ENVIRONMENTS);
        return Change.of(EntryType.FLAG_UPDATED, "env-" + env, "writer-" + writer + "@example.com",
                flag((int) (i % FLAGS), i)).withComment("benchmark change " + i);
    }

    /** A flag-like definition of about 300 bytes of canonical JSON (the journal does not validate it). */
    static ObjectNode flag(int index, long n) {
        ObjectNode flag = MAPPER.createObjectNode();
        flag.put("key", "flag-" + index);
        flag.put("enabled", n % 2 == 0);
        flag.put("description", "checkout flow v2 for the billing team, change " + n);
        flag.put("salt", "flag-" + index + "-salt");
        var rules = flag.putArray("rules");
        rules.addObject().put("id", "testers").putArray("roles").add("beta-tester");
        var country = rules.addObject().put("id", "canary");
        country.putArray("conditions").addObject().put("attribute", "country").put("operator", "in")
                .putArray("values").add("DE").add("FR").add("NL");
        rules.addObject().put("id", "ramp").put("percentage", (n % 1000) / 10.0);
        return flag;
    }

    private static List<Path> checkpoints(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".ckpt")).sorted()
                    .collect(Collectors.toList());
        }
    }

    private static List<Path> segments(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".seg"))
                    .collect(Collectors.toList());
        }
    }

    private static long segmentBytes(Path dir) throws IOException {
        long total = 0;
        for (Path p : segments(dir)) {
            total += Files.size(p);
        }
        return total;
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        sorted.sort(Comparator.naturalOrder());
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    private static void delete(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).collect(Collectors.toList())) {
                Files.delete(p);
            }
        }
    }
}
