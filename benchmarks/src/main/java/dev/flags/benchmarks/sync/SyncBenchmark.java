package dev.flags.benchmarks.sync;

import dev.flags.protocol.v1.FlagSyncGrpc;
import dev.flags.protocol.v1.SubscribeRequest;
import dev.flags.protocol.v1.SyncMessage;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Not thread-safe. The sync fan-out's benchmark harness: many concurrent subscriptions on one server
 * over loopback, the server's heap per idle subscription, and the time from an acknowledged write
 * until the last subscriber has the change. A plain main rather than JMH: each figure is one
 * end-to-end event across two processes, where JMH's forks and iterations add nothing.
 *
 * <pre>{@code
 * ./mvnw -B -ntp -pl benchmarks -am package -DskipTests
 * java -cp benchmarks/target/benchmarks.jar dev.flags.benchmarks.sync.SyncBenchmark
 * }</pre>
 *
 * <p>For each subscription count it starts a fresh {@link SyncBenchServer} in a child JVM (same
 * classpath; {@code --server-heap}, default 1g), opens the subscriptions over a few client channels
 * (HTTP/2 connections) with many streams each, all from the current version, and waits until every
 * stream got its first message. It measures the server's used heap after full GCs before and after
 * (the difference over the count is the heap per idle subscription), then makes a number of writes,
 * one at a time: each is a durable journal append plus {@code environmentChanged}, acknowledged when
 * that returns, and the latency of a write is the time from that acknowledgement until the last
 * subscriber received the Delta. Both JVMs read {@link System#nanoTime()}, which on Linux is the
 * system-wide monotonic clock; the harness checks that by asking the server for its time between
 * two of its own readings.
 *
 * <p>Options: {@code --subscribers 1000,10000}, {@code --channels 8}, {@code --warmup 100}
 * (writes before measuring, so that both JVMs run compiled code), {@code --writes 100}, {@code
 * --server-heap 1g}, {@code --server-jvm-arg ARG} (repeatable: more options for the server's JVM,
 * such as {@code -XX:StartFlightRecording=filename=server.jfr}).
 */
public final class SyncBenchmark {

  private int[] sizes = {1_000, 10_000};
  private int channels = 8;
  private int warmup = 100;
  private int writes = 100;
  private String serverHeap = "1g";
  private final List<String> serverJvmArgs = new ArrayList<>();
  private static volatile boolean fanoutDone;

  private SyncBenchmark() {}

  /**
   * Runs the benchmark and prints the results.
   *
   * @param args options, see the class description
   * @throws Exception if the server cannot be started or a step times out
   */
  public static void main(String[] args) throws Exception {
    SyncBenchmark b = new SyncBenchmark();
    for (int i = 0; i < args.length; i++) {
      String value = i + 1 < args.length ? args[i + 1] : "";
      switch (args[i]) {
        case "--subscribers" -> b.sizes = Arrays.stream(value.split(","))
            .mapToInt(s -> Integer.parseInt(s.trim())).toArray();
        case "--channels" -> b.channels = Integer.parseInt(value);
        case "--warmup" -> b.warmup = Integer.parseInt(value);
        case "--writes" -> b.writes = Integer.parseInt(value);
        case "--server-heap" -> b.serverHeap = value;
        case "--server-jvm-arg" -> b.serverJvmArgs.add(value);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
      i++;
    }
    System.out.printf(Locale.ROOT, "java %s, %d cpus, client max heap %d MiB%n",
        System.getProperty("java.version"), Runtime.getRuntime().availableProcessors(),
        Runtime.getRuntime().maxMemory() >> 20);
    List<String> rows = new ArrayList<>();
    for (int size : b.sizes) {
      rows.add(b.run(size));
    }
    System.out.println();
    System.out.println("| subscriptions | channels | connect all | server heap / idle subscription"
        + " | server RSS / subscription | write-to-last-subscriber p50 | p99 | max | server |");
    System.out.println("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    rows.forEach(System.out::println);
  }

  /** One server, one subscription count. */
  private String run(int size) throws Exception {
    System.out.printf(Locale.ROOT, "%n== %,d subscriptions over %d channels ==%n", size, channels);
    fanoutDone = false;
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    List<String> command = new ArrayList<>(List.of(java.toString(), "-Xms" + serverHeap,
        "-Xmx" + serverHeap));
    command.addAll(serverJvmArgs);
    command.addAll(List.of("-cp", System.getProperty("java.class.path"),
        SyncBenchServer.class.getName()));
    Process process = new ProcessBuilder(command)
        .redirectError(ProcessBuilder.Redirect.INHERIT)
        .start();
    ServerLink server = new ServerLink(process);
    List<ManagedChannel> open = new ArrayList<>();
    try {
      int port = Integer.parseInt(server.expect("port"));
      checkClock(server);
      String[] before = server.call("heap", "heap").split(" ");
      long heapBefore = Long.parseLong(before[0]);
      long clientHeapBefore = usedHeapAfterGc();

      Fanout fanout = new Fanout(size);
      Metadata auth = new Metadata();
      auth.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER),
          "Bearer " + SyncBenchServer.TOKEN);
      for (int c = 0; c < channels; c++) {
        open.add(NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext()
            .directExecutor().build());
      }
      long version = SyncBenchServer.FLAGS + 1;
      long started = System.nanoTime();
      for (int i = 0; i < size; i++) {
        FlagSyncGrpc.newStub(open.get(i % channels))
            .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(auth))
            .subscribe(SubscribeRequest.newBuilder().setEnvironment(SyncBenchServer.ENV)
                .setFromVersion(version).setSdk("sync-benchmark").build(), fanout.subscriber());
      }
      if (!fanout.ready.await(120, TimeUnit.SECONDS)) {
        throw new IllegalStateException("only " + (size - fanout.ready.getCount()) + " of " + size
            + " subscriptions were answered within 120 s; errors: " + fanout.errors.sum());
      }
      double connectMillis = (System.nanoTime() - started) / 1e6;
      System.out.printf(Locale.ROOT, "all %,d streams answered in %.0f ms%n", size, connectMillis);

      String[] after = server.call("heap", "heap").split(" ");
      long heapAfter = Long.parseLong(after[0]);
      long rssGrowth = Long.parseLong(after[1]) - Long.parseLong(before[1]);
      long clientHeapAfter = usedHeapAfterGc();
      double perSubscription = (heapAfter - heapBefore) / (double) size;
      System.out.printf(Locale.ROOT, "server heap: %.1f MiB -> %.1f MiB, %.0f bytes per idle"
              + " subscription (client JVM: %.0f bytes per subscription)%n",
          heapBefore / 1048576.0, heapAfter / 1048576.0, perSubscription,
          (clientHeapAfter - clientHeapBefore) / (double) size);
      System.out.printf(Locale.ROOT, "server resident set grew by %.1f MiB (%.0f bytes per"
          + " subscription, heap included)%n", rssGrowth / 1048576.0, rssGrowth / (double) size);

      long[] latencies = new long[writes];
      for (int i = 0; i < warmup + writes; i++) {
        version++;
        Fanout.Round round = fanout.expect(version);
        String[] ack = server.call("write", "ack").split(" ");
        if (Long.parseLong(ack[0]) != version) {
          throw new IllegalStateException("server wrote version " + ack[0] + ", expected "
              + version);
        }
        long acknowledged = Long.parseLong(ack[1]);
        if (!round.done.await(60, TimeUnit.SECONDS)) {
          throw new IllegalStateException(round.done.getCount() + " of " + size
              + " subscribers did not get version " + version + " within 60 s");
        }
        if (i >= warmup) {
          latencies[i - warmup] = round.last.get() - acknowledged;
        }
      }
      String stats = server.call("stats", "stats");
      System.out.println("server " + stats + "; client stream errors " + fanout.errors.sum());
      Arrays.sort(latencies);
      double p50 = percentile(latencies, 50) / 1e6;
      double p99 = percentile(latencies, 99) / 1e6;
      double max = latencies[latencies.length - 1] / 1e6;
      System.out.printf(Locale.ROOT, "write until the last subscriber has it, over %d writes"
          + " (after %d warm-up): p50 %.2f ms, p99 %.2f ms, max %.2f ms, min %.2f ms%n",
          writes, warmup, p50, p99, max, latencies[0] / 1e6);
      return String.format(Locale.ROOT, "| %,d | %d | %.0f ms | %,.0f B | %,.0f B | %.2f ms"
          + " | %.2f ms | %.2f ms | %s |", size, channels, connectMillis, perSubscription,
          rssGrowth / (double) size, p50, p99, max, stats);
    } finally {
      fanoutDone = true;
      for (ManagedChannel c : open) {
        c.shutdownNow();
      }
      server.quit();
    }
  }

  /** Checks that the server's nanoTime lies between two of ours: the clocks are comparable. */
  private static void checkClock(ServerLink server) throws IOException {
    long worst = 0;
    for (int i = 0; i < 5; i++) {
      long before = System.nanoTime();
      long theirs = Long.parseLong(server.call("time", "time"));
      long after = System.nanoTime();
      if (theirs < before || theirs > after) {
        throw new IllegalStateException("the server's nanoTime " + theirs + " is not between "
            + before + " and " + after + ": the two JVMs' clocks cannot be compared here");
      }
      worst = Math.max(worst, after - before);
    }
    System.out.printf(Locale.ROOT, "clocks comparable (server time within a %.2f ms round trip)%n",
        worst / 1e6);
  }

  /** The nearest-rank percentile of sorted values. */
  private static long percentile(long[] sorted, int p) {
    int rank = (int) Math.ceil(p / 100.0 * sorted.length);
    return sorted[Math.max(0, rank - 1)];
  }

  private static long usedHeapAfterGc() {
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  /** Thread-safe. All the subscribers of one run and the write they are waiting for. */
  private static final class Fanout {
    final int size;
    final CountDownLatch ready;
    final LongAdder errors = new LongAdder();
    private volatile Round round;

    /** Thread-safe. One write: how many subscribers still miss it, and when the last one got it. */
    static final class Round {
      final long version;
      final CountDownLatch done;
      final AtomicLong last = new AtomicLong();

      Round(long version, int size) {
        this.version = version;
        this.done = new CountDownLatch(size);
      }

      void arrived(long now) {
        last.accumulateAndGet(now, Math::max);
        done.countDown();
      }
    }

    Fanout(int size) {
      this.size = size;
      this.ready = new CountDownLatch(size);
    }

    Round expect(long version) {
      Round r = new Round(version, size);
      round = r;
      return r;
    }

    ClientResponseObserver<SubscribeRequest, SyncMessage> subscriber() {
      return new ClientResponseObserver<>() {
        private boolean answered;

        @Override
        public void beforeStart(ClientCallStreamObserver<SubscribeRequest> requestStream) {}

        @Override
        public void onNext(SyncMessage m) {
          long now = System.nanoTime();
          if (!answered) {
            answered = true;
            ready.countDown();
          }
          if (m.hasDelta()) {
            Round r = round;
            if (r != null && m.getDelta().getVersion() == r.version) {
              r.arrived(now);
            }
          }
        }

        @Override
        public void onError(Throwable t) {
          if (fanoutDone) {
            return; // the harness closed the channels
          }
          errors.increment();
          if (errors.sum() <= 3) {
            System.err.println("stream failed: " + t);
          }
        }

        @Override
        public void onCompleted() {}
      };
    }
  }

  /** Not thread-safe. The server process's stdin and stdout, one command and answer at a time. */
  private static final class ServerLink {
    private final Process process;
    private final PrintWriter in;
    private final BufferedReader out;

    ServerLink(Process process) {
      this.process = process;
      this.in = new PrintWriter(new OutputStreamWriter(process.getOutputStream(),
          StandardCharsets.UTF_8), true);
      this.out = new BufferedReader(new InputStreamReader(process.getInputStream(),
          StandardCharsets.UTF_8));
    }

    String call(String command, String answer) throws IOException {
      in.println(command);
      return expect(answer);
    }

    String expect(String answer) throws IOException {
      for (;;) {
        String line = out.readLine();
        if (line == null) {
          throw new IllegalStateException("the server process ended while waiting for " + answer);
        }
        if (line.startsWith(answer + " ")) {
          return line.substring(answer.length() + 1);
        }
        System.out.println("server: " + line);
      }
    }

    void quit() throws InterruptedException {
      in.println("quit");
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    }
  }
}
