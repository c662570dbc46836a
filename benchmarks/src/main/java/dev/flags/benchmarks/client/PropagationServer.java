package dev.flags.benchmarks.client;

import dev.flags.server.ApiLimits;
import dev.flags.server.FlagServer;
import dev.flags.server.ServerConfig;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Not thread-safe. The server side of {@link PropagationBenchmark}: the real {@link FlagServer}
 * (journal, admin HTTP API, gRPC sync) on 127.0.0.1 with ports chosen by the system and a fresh data
 * directory, in its own JVM so that its CPU, heap and GC are apart from the thousand SDK instances'.
 *
 * <p>Prints {@code ports HTTP GRPC} when ready, then answers one line per command on stdin:
 * {@code threads} (its live thread count), {@code cpu} (its process CPU time, ns), {@code tenure} (a full collection, answering
 * {@code tenured UPTIME_MS}), {@code cpu-groups} (CPU time, ns, of its live threads by
 * name without numbers, as {@code name=ns,name=ns}), {@code quit} (closes the server, deletes the data, answers
 * {@code bye}). The end of stdin is {@code quit}.
 */
public final class PropagationServer {

    /** The bootstrap admin token of the benchmark's server; it exists only in the child JVM's memory and the driver's. */
    static final String ADMIN_TOKEN = "propagation-benchmark-admin-token";

    private PropagationServer() {
    }

    /**
     * Runs the server until {@code quit} or the end of stdin.
     *
     * @param args none
     * @throws Exception if the data directory or a port cannot be used
     */
    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        Path dir = Files.createTempDirectory("flags-propagation-bench");
        FlagServer server = FlagServer.start(ServerConfig.defaults().withDataDir(dir).withPorts(0, 0)
                .withBindAddress("127.0.0.1").withAdminToken(ADMIN_TOKEN)
                // thousands of writes as fast as the server takes them: this rig measures propagation,
                // not the per-token budget of the admin API
                .withApiLimits(ApiLimits.none()));
        out.println("jvm " + System.getProperty("java.vm.version") + ", collectors "
                + ManagementFactory.getGarbageCollectorMXBeans().stream().map(b -> b.getName()).toList());
        out.println("ports " + server.httpPort() + " " + server.grpcPort());
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        try {
            String line;
            while ((line = in.readLine()) != null && !line.trim().equals("quit")) {
                if (line.trim().equals("threads")) {
                    out.println("threads " + Thread.activeCount());
                } else if (line.trim().equals("cpu")) {
                    out.println("cpu " + ((com.sun.management.OperatingSystemMXBean)
                            ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime());
                } else if (line.trim().equals("uptime")) {
                    out.println("uptime " + ManagementFactory.getRuntimeMXBean().getUptime());
                } else if (line.trim().equals("gc")) {
                    long[] gc = gcMillisAndCount();
                    out.println("gc " + gc[0] + " " + gc[1] + " " + allocatedBytes());
                } else if (line.trim().equals("tenure")) {
                    // A full collection: G1 moves every live object to old regions, where a server that has
                    // run for a while keeps its connections' state.
                    System.gc();
                    out.println("tenured " + ManagementFactory.getRuntimeMXBean().getUptime());
                } else if (line.trim().equals("cpu-groups")) {
                    out.println("cpu-groups " + threadCpuByGroup());
                } else {
                    out.println("error unknown command " + line);
                }
            }
        } finally {
            server.close();
            delete(dir);
            out.println("bye");
        }
    }

    private static void delete(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** Milliseconds spent in collections and the number of collections of this JVM so far. */
    static long[] gcMillisAndCount() {
        long millis = 0;
        long count = 0;
        for (java.lang.management.GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            millis += Math.max(0, gc.getCollectionTime());
            count += Math.max(0, gc.getCollectionCount());
        }
        return new long[] {millis, count};
    }

    /** Bytes allocated so far by this JVM's live threads (threads that ended are not counted). */
    static long allocatedBytes() {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long[] ids = mx.getAllThreadIds();
        long total = 0;
        for (long bytes : mx.getThreadAllocatedBytes(ids)) {
            total += Math.max(0, bytes);
        }
        return total;
    }

    /** CPU time, ns, of this JVM's live threads, summed by name with the numbers removed. */
    static Map<String, Long> cpuByGroup() {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        Map<String, Long> groups = new TreeMap<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            long cpu = mx.getThreadCpuTime(t.getId());
            if (cpu > 0) {
                groups.merge(t.getName().replaceAll("[-#]?\\d+", ""), cpu, Long::sum);
            }
        }
        groups.putAll(jvmThreadCpu());
        return groups;
    }

    /**
     * CPU time, ns, of the JVM's own threads (collector, compiler, VM thread), which are not Java
     * threads, from /proc (so in steps of a clock tick, 10 ms), by name with the numbers removed and
     * marked {@code jvm:}; empty where /proc is not there.
     */
    static Map<String, Long> jvmThreadCpu() {
        Map<String, Long> groups = new TreeMap<>();
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path task : tasks.toList()) {
                String stat;
                try {
                    stat = Files.readString(task.resolve("stat"));
                } catch (IOException e) {
                    continue; // the thread ended
                }
                String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                if (!name.matches("(G1|GC|C1|C2|VM) .*")) {
                    continue;
                }
                String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                long ticks = Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
                groups.merge("jvm:" + name.replaceAll("[-#]?\\d+", "").trim(), ticks * 10_000_000L, Long::sum);
            }
        } catch (IOException e) {
            return Map.of();
        }
        return groups;
    }

    /** {@link #cpuByGroup()} as one line, {@code name=ns,name=ns}. */
    static String threadCpuByGroup() {
        StringBuilder b = new StringBuilder();
        cpuByGroup().forEach((name, ns) -> b.append(b.length() == 0 ? "" : ",").append(name.replace(' ', '_'))
                .append('=').append(ns));
        return b.toString();
    }
}
