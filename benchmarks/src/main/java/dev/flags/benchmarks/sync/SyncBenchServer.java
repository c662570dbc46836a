package dev.flags.benchmarks.sync;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flags.server.auth.Authenticator;
import dev.flags.server.auth.Principal;
import dev.flags.server.auth.Scope;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.FileJournal;
import dev.flags.server.journal.JournalEntry;
import dev.flags.server.sync.Broadcaster;
import dev.flags.server.sync.SyncService;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Not thread-safe. The server side of {@link SyncBenchmark}, run in its own JVM so that its heap
 * can be measured alone: a {@link FileJournal} in a temporary directory with one environment of 100
 * flags, a {@link Broadcaster}, and the sync service on 127.0.0.1 (port chosen by the system).
 *
 * <p>It prints {@code port N} when ready, then answers one line per command read from stdin:
 * {@code heap} (used heap bytes after full GCs, and the resident set size from {@code
 * /proc/self/status}), {@code write} (one durable flag update, then {@link
 * Broadcaster#environmentChanged}, as the admin API's write path does; answers {@code ack VERSION
 * NANOTIME} with the time the write became durable, just before {@code environmentChanged}, which is
 * itself just before the admin API would acknowledge it), {@code time} (its {@link
 * System#nanoTime()}), {@code stats} (the broadcaster's counters), {@code quit}.
 */
public final class SyncBenchServer {

  static final String ENV = "production";
  static final String TOKEN = "flg_benchmark-sdk-token";
  static final int FLAGS = 100;
  private static final JsonMapper MAPPER = JsonMapper.builder().build();

  private SyncBenchServer() {}

  /**
   * Runs the server until {@code quit} or the end of stdin.
   *
   * @param args none
   * @throws Exception if the journal or the port cannot be opened
   */
  public static void main(String[] args) throws Exception {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    Path dir = Files.createTempDirectory("flags-sync-bench");
    FileJournal journal = FileJournal.builder(dir).open();
    journal.append(Change.of(EntryType.ENVIRONMENT_CREATED, ENV, "bench",
        MAPPER.createObjectNode().put("name", ENV)));
    for (int i = 0; i < FLAGS; i++) {
      journal.append(Change.of(EntryType.FLAG_CREATED, ENV, "bench", flag(i, 0)));
    }
    Authenticator tokens = presented -> TOKEN.equals(presented)
        ? Optional.of(new Principal("tok-bench", "benchmark", Scope.SDK, Set.of(ENV)))
        : Optional.empty();
    // Every subscription of the benchmark uses one token: the per-token cap is not what it measures.
    Broadcaster broadcaster = Broadcaster.builder(journal).maxStreamsPerToken(1_000_000).build();
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(SyncService.definition(broadcaster, tokens))
        .build()
        .start();
    out.println("port " + server.getPort());

    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    int writes = 0;
    String line;
    while ((line = in.readLine()) != null) {
      switch (line.trim()) {
        case "heap" -> out.println("heap " + usedHeapAfterGc() + " " + residentBytes());
        case "write" -> {
          writes++;
          JournalEntry e = journal.append(Change.of(EntryType.FLAG_UPDATED, ENV, "bench",
              flag(writes % FLAGS, writes % 101)));
          // Durable now; the admin API acknowledges once environmentChanged returns. Reading the
          // clock before it is conservative, and safe from a preemption right after it.
          long durable = System.nanoTime();
          broadcaster.environmentChanged(ENV);
          out.println("ack " + e.version() + " " + durable);
        }
        case "time" -> out.println("time " + System.nanoTime());
        case "stats" -> out.println("stats connected=" + broadcaster.connectedStreams()
            + " deltas=" + broadcaster.deltasSent() + " snapshots=" + broadcaster.snapshotsSent()
            + " heartbeats=" + broadcaster.heartbeatsSent()
            + " threads=" + Thread.activeCount());
        case "quit" -> {
          broadcaster.shutdown();
          server.shutdown().awaitTermination(10, TimeUnit.SECONDS);
          server.shutdownNow();
          journal.close();
          delete(dir);
          out.println("bye");
          return;
        }
        default -> out.println("error unknown command " + line);
      }
    }
  }

  /** A realistic flag document of about 330 bytes: a rule with conditions and a percentage. */
  static ObjectNode flag(int index, int percentage) {
    String key = "checkout-flow-" + index;
    ObjectNode flag = MAPPER.createObjectNode()
        .put("key", key)
        .put("enabled", true)
        .put("description", "New checkout flow, ramped by region and role");
    ArrayNode rules = flag.putArray("rules");
    ObjectNode beta = rules.addObject();
    ObjectNode role = beta.putArray("conditions").addObject().put("attribute", "role")
        .put("operator", "in");
    role.putArray("values").add("beta-tester").add("staff");
    ObjectNode ramp = rules.addObject().put("percentage", percentage);
    ObjectNode region = ramp.putArray("conditions").addObject().put("attribute", "region")
        .put("operator", "in");
    region.putArray("values").add("eu-west").add("eu-central").add("us-east");
    return flag;
  }

  private static long usedHeapAfterGc() {
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  /** The process's resident set (heap pages touched, metaspace, thread stacks, direct buffers). */
  private static long residentBytes() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
      }
    }
    return -1;
  }

  private static void delete(Path dir) throws IOException {
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
