package dev.flags.client;

import static dev.flags.client.Fixtures.doc;
import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.client.ScriptedSyncServer.Subscription;
import dev.flags.client.internal.HungCacheFile;
import dev.flags.core.User;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cache file on a file system that stops answering (an NFS mount whose server is gone, a frozen disk): its write
 * hangs in the force to disk ({@link HungCacheFile}), and must cost that file's writes and nothing else. Against
 * {@link ScriptedSyncServer} on a real loopback port (QA97).
 */
@Timeout(120)
class HungCacheFileTest {

    private static final String TOKEN = "flg_sdk_hung-cache-token";
    private static final User USER = User.withId("u-1");
    private static final Duration WAIT = Duration.ofSeconds(10);

    @RegisterExtension
    final LogCapture logs = new LogCapture();

    @TempDir
    Path tmp;

    private static Flags.Builder client(ScriptedSyncServer server) {
        return server.quicklyReconnectingClient(TOKEN);
    }

    // Each test declares its hold last, so that it is released first, before the Flags close: so that a build without the
    // fix, whose close waited for the hung write for good, fails its assertions instead of hanging the test run.

    @Test
    void anotherFlagsKeepsApplyingSnapshotsWhileOneFlagsCacheWriteHangs() throws Exception {
        Path cache = tmp.resolve("flags.cache");
        try (ScriptedSyncServer server = ScriptedSyncServer.start();
             ScriptedSyncServer otherServer = ScriptedSyncServer.start();
             Flags flags = client(server).cacheFile(cache).build();
             Flags other = client(otherServer).build();
             HungCacheFile hung = HungCacheFile.hold(cache)) {
            server.awaitSubscription().snapshot(1, doc("a", true, 1));
            assertThat(hung.awaitWrite(WAIT)).as("the cache write started, and hangs").isTrue();
            assertThat(flags.isEnabled("a", USER)).isTrue();

            // A snapshot is decoded on the background thread that every Flags of the JVM shares.
            otherServer.awaitSubscription().snapshot(7, doc("b", true, 1));
            assertThat(other.awaitReady(WAIT)).as("another Flags applies its snapshot while the write hangs").isTrue();
            assertThat(other.isEnabled("b", USER)).isTrue();
            assertThat(hung.writingThreads()).singleElement().asString().startsWith("flags-cache-");
        }
    }

    @Test
    void theSameFlagsReconnectsAfterAServerRestartWhileItsCacheWriteHangs() throws Exception {
        Path cache = tmp.resolve("flags.cache");
        try (ScriptedSyncServer server = ScriptedSyncServer.start();
             Flags flags = client(server).cacheFile(cache).build();
             HungCacheFile hung = HungCacheFile.hold(cache)) {
            server.awaitSubscription().snapshot(1, doc("a", true, 1));
            assertThat(hung.awaitWrite(WAIT)).isTrue();

            server.stop(); // a restart: the stream breaks, and the SDK's reconnect timer takes it from there
            server.startAgain();
            Subscription again = server.awaitSubscription();
            assertThat(again.request.getFromVersion()).as("resumed from the version held in memory").isEqualTo(1);
            again.delta(1, 2, doc("a", false, 2));
            Await.until("the change after the restart is served", () -> !flags.isEnabled("a", USER));
            assertThat(flags.evaluate("a", USER).source()).isEqualTo(Source.LIVE);
        }
    }

    @Test
    void aSilentStreamIsStillNoticedWhileTheCacheWriteHangs() throws Exception {
        Path cache = tmp.resolve("flags.cache");
        try (ScriptedSyncServer server = ScriptedSyncServer.start();
             Flags flags = client(server).cacheFile(cache).build();
             HungCacheFile hung = HungCacheFile.hold(cache)) {
            // Heartbeats due every 50 ms, and none comes: the watchdog should give the stream up after 150 ms.
            Subscription silent = server.awaitSubscription().snapshot(1, 50, java.util.List.of(doc("a", true, 1)), java.util.Map.of());
            assertThat(hung.awaitWrite(WAIT)).isTrue();
            assertThat(silent.awaitCancelled(WAIT)).as("the watchdog dropped the silent stream").isTrue();
            server.awaitSubscription().delta(1, 2, doc("a", false, 2));
            Await.until("the change on the new stream is served", () -> !flags.isEnabled("a", USER));
        }
    }

    @Test
    void aWriteThatDoesNotReturnIsReportedAndTheChangesMeanwhileAreWrittenOnceWhenItDoes() throws Exception {
        Path cache = tmp.resolve("flags.cache");
        BlockingQueue<Freshness> statuses = new LinkedBlockingQueue<>();
        try (ScriptedSyncServer server = ScriptedSyncServer.start();
             Flags flags = client(server).cacheFile(cache).build();
             HungCacheFile hung = HungCacheFile.hold(cache)) {
            Subscription sub = server.awaitSubscription().snapshot(1, doc("a", true, 1));
            assertThat(hung.awaitWrite(WAIT)).isTrue();
            flags.addStatusListener(statuses::add);

            Freshness told;
            do {
                told = statuses.poll(15, TimeUnit.SECONDS);
                assertThat(told).as("status listeners hear of the write that does not return").isNotNull();
            } while (told.cacheFileProblem().isEmpty());
            assertThat(told.cacheFileProblem().get()).isEqualTo("cannot write the cache file " + cache
                    + ": a write has not returned for 5 s (a hung file system?)");
            assertThat(told.source()).as("the flags are live all the same").isEqualTo(Source.LIVE);
            Health health = flags.health();
            assertThat(health.status()).isEqualTo(Health.Status.DEGRADED);
            assertThat(health.detail()).startsWith("live: version 1, stream up; cannot write the cache file")
                    .contains("a write has not returned");
            assertThat(logs.lines("has not returned for")).singleElement().asString().contains("WARN")
                    .contains("writing cache file " + cache + " has not returned for 5 s");

            // Changes while the write hangs: applied, and not queued up as writes of their own.
            for (int v = 2; v <= 20; v++) {
                sub.delta(v - 1, v, doc("a", v % 2 == 1, v));
            }
            Await.until("the changes are served", () -> flags.freshness().version() == 20);
            assertThat(hung.writes()).isEqualTo(1);

            hung.release(); // the file system answers again
            Await.until("the newest version is in the file", () -> {
                try {
                    return Files.readString(cache).contains("version: 20\n");
                } catch (java.io.IOException e) {
                    return false; // replaced while read
                }
            });
            assertThat(hung.writes()).as("the hung write, then one of the newest state").isEqualTo(2);
            Await.until("the problem is gone", () -> flags.freshness().cacheFileProblem().isEmpty());
            assertThat(flags.health().status()).isEqualTo(Health.Status.UP);
            Await.until("the log says so", () -> !logs.lines("written again").isEmpty());
            assertThat(logs.lines("written again")).singleElement().asString().contains("that write took");
            assertThat(logs.lines("cannot write cache file")).as("it did not fail").isEmpty();
        }
    }

    @Test
    void aStatusListenerRunDirectlyThatClosesOnTheCacheFilesNewsClosesTheSdk() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("cache-dir"));
        Path cache = dir.resolve("flags.cache");
        CompletableFuture<String> closedOn = new CompletableFuture<>();
        try (ScriptedSyncServer server = ScriptedSyncServer.start()) {
            Flags flags = client(server).cacheFile(cache).listenerExecutor(Runnable::run).build();
            flags.addStatusListener(f -> {
                if (f.cacheFileProblem().isPresent() && !closedOn.isDone()) {
                    flags.close(); // "no cache file, no service": on the thread that wrote, which must not wait for itself
                    closedOn.complete(Thread.currentThread().getName());
                }
            });
            Files.delete(dir); // the write fails
            server.awaitSubscription().snapshot(1, doc("a", true, 1));
            assertThat(closedOn.get(10, TimeUnit.SECONDS)).startsWith("flags-cache-");
            CompletableFuture.runAsync(flags::close).get(10, TimeUnit.SECONDS); // waits for the rest of the close
            assertThat(flags.health().status()).isEqualTo(Health.Status.DOWN);
        }
    }

    @Test
    void closeDoesNotWaitForAWriteThatDoesNotReturn() throws Exception {
        Path cache = tmp.resolve("flags.cache");
        try (ScriptedSyncServer server = ScriptedSyncServer.start();
             HungCacheFile hung = HungCacheFile.hold(cache)) {
            Flags flags = client(server).cacheFile(cache).build();
            Subscription sub = server.awaitSubscription().snapshot(1, doc("a", true, 1));
            assertThat(hung.awaitWrite(WAIT)).isTrue();
            sub.delta(1, 2, doc("a", false, 2));
            Await.until("the change is served", () -> !flags.isEnabled("a", USER));

            // On a thread of its own: without the fix, close() waited for the hung write for good.
            long start = System.nanoTime();
            CompletableFuture<Void> closing = CompletableFuture.runAsync(flags::close);
            try {
                closing.get(15, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                throw new AssertionError("close() still waits for the hung cache write after 15 s", e);
            }
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
            assertThat(logs.lines("closed without waiting for the write of cache file " + cache)).singleElement()
                    .asString().contains("WARN");
            assertThat(flags.health().status()).isEqualTo(Health.Status.DOWN);

            hung.release(); // the file system answers: the last change is written after all
            Await.until("the last change is in the file", () -> {
                try {
                    return Files.readString(cache).contains("version: 2\n");
                } catch (java.io.IOException e) {
                    return false;
                }
            });
        }
    }
}
