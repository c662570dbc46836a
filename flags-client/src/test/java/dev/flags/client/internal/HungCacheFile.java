package dev.flags.client.internal;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Thread-safe. A TEST SEAM for tests of any package: holds every write of one cache file between writing its bytes and
 * forcing them to disk, as a file system that stops answering (an NFS mount whose server is gone, a frozen disk) holds
 * it, until {@link #release()}d. Like such a write, a held one ignores interrupts. One at a time per JVM.
 */
public final class HungCacheFile implements AutoCloseable {

    private final Path path;
    private final CountDownLatch released = new CountDownLatch(1);
    private final Semaphore entered = new Semaphore(0);
    private final List<String> threads = new CopyOnWriteArrayList<>();

    private HungCacheFile(Path path) {
        this.path = path.toAbsolutePath();
    }

    /** @return a hold on every write of this cache file from now on, until released */
    public static HungCacheFile hold(Path cacheFile) {
        HungCacheFile hold = new HungCacheFile(cacheFile);
        CacheFile.writeHook = hold::beforeForce;
        return hold;
    }

    private void beforeForce(Path cacheFile) {
        if (!cacheFile.toAbsolutePath().equals(path)) {
            return;
        }
        threads.add(Thread.currentThread().getName());
        entered.release();
        boolean interrupted = false;
        while (true) {
            try {
                released.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true; // a hung file system does not return for an interrupt either
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** @return whether a write of the file came to the hold (one not awaited before) within the timeout */
    public boolean awaitWrite(Duration timeout) throws InterruptedException {
        return entered.tryAcquire(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** @return how many writes of the file have come to the hold (held or, once released, let through) */
    public int writes() {
        return threads.size();
    }

    /** @return the names of the threads that wrote the file, in order */
    public List<String> writingThreads() {
        return List.copyOf(threads);
    }

    /** Lets every held write, and every later one, go on. */
    public void release() {
        released.countDown();
    }

    /** Releases the writes and removes the hold. */
    @Override
    public void close() {
        release();
        CacheFile.writeHook = null;
    }
}
