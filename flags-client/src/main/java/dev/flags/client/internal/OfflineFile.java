package dev.flags.client.internal;

import dev.flags.client.Source;
import dev.flags.core.FlagFormat;
import dev.flags.core.FlagSet;
import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe. Offline mode: the flags of a flag file (flags-core's format), optionally reloaded when
 * the file changes.
 *
 * <p>The watcher ({@code flags-watch-N}) watches the file's directory rather than the file, so that
 * editors that save by writing a new file and renaming it, and mounted config maps that swap a
 * symbolic link, are seen too. Events are debounced (an editor's save is several events), and a
 * reload whose bytes are those already seen does nothing. A file that became invalid or disappeared
 * keeps the last good flags and logs why, once per distinct content.
 */
final class OfflineFile implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(OfflineFile.class);
    private static final long DEBOUNCE_MILLIS = 50;

    private final Path file;
    private FlagStore store;
    private Readiness readiness;
    private long version;
    private String lastSeen;
    private WatchService watchService;
    private Thread thread;
    private volatile boolean closed;
    /** Why the file on disk is not what is served (invalid, unreadable, removed), or null if it is. */
    private volatile String problem;

    OfflineFile(Path file) {
        this.file = file;
    }

    /**
     * Reads the file for the first time.
     *
     * @return its flags, or no flags with the reason, if it cannot be read
     */
    synchronized FlagState load() {
        try {
            byte[] bytes = Files.readAllBytes(file);
            lastSeen = CacheFile.sha256(bytes);
            FlagState state = parse(bytes);
            LOG.info("flags: offline mode: {} flags from {}", state.flags().size(), file);
            return state;
        } catch (NoSuchFileException e) {
            lastSeen = "missing";
            LOG.warn("flags: offline file {} does not exist: every flag is its default until it does", file);
            return FlagState.none("offline file " + file + " does not exist");
        } catch (IOException | RuntimeException e) {
            String why = e instanceof RuntimeException r ? Updates.describe(r) : e.toString();
            LOG.warn("flags: offline file {} cannot be used: every flag is its default until it is fixed: {}", file, why);
            return FlagState.none("offline file " + file + " cannot be used: " + why);
        }
    }

    private FlagState parse(byte[] bytes) {
        if (bytes.length > FlagFormat.MAX_FILE_BYTES) {
            throw new IllegalArgumentException("the file is too large: " + bytes.length + " bytes, the limit is "
                    + FlagFormat.MAX_FILE_BYTES);
        }
        FlagFormat.FlagFile parsed = FlagFormat.readFile(bytes);
        // Each good load is a new version, so that listeners and evaluations can tell them apart.
        return FlagState.of(FlagSet.of(parsed.flags(), parsed.roleGrants(), version + 1), Source.OFFLINE_FILE);
    }

    /**
     * Starts watching the file; each good change is published to the store.
     *
     * @param target the store to publish to
     * @param ready told when a good file was published
     * @throws IOException if the directory cannot be watched
     */
    synchronized void watch(FlagStore target, Readiness ready) throws IOException {
        this.store = target;
        this.readiness = ready;
        this.version = target.state().version();
        Path dir = file.toAbsolutePath().getParent();
        watchService = FileSystems.getDefault().newWatchService();
        dir.register(watchService, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
                StandardWatchEventKinds.ENTRY_DELETE);
        thread = Threads.daemon("flags-watch").newThread(this::run);
        thread.start();
    }

    private void run() {
        try {
            while (!closed) {
                WatchKey key = watchService.take();
                key.pollEvents();
                key.reset();
                WatchKey more;
                while ((more = watchService.poll(DEBOUNCE_MILLIS, TimeUnit.MILLISECONDS)) != null) {
                    more.pollEvents();
                    more.reset();
                }
                reload();
            }
        } catch (ClosedWatchServiceException | InterruptedException e) {
            // closed
        } catch (RuntimeException e) {
            LOG.warn("flags: stopped watching offline file {}: {}", file, e.toString());
        }
    }

    /** Reads the file again and publishes it if it changed and is valid. */
    synchronized void reload() {
        if (closed) {
            return;
        }
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            if (!"missing".equals(lastSeen)) {
                lastSeen = "missing";
                rejected("offline file " + file + " was removed");
                LOG.warn("flags: offline file {} was removed; keeping the last good flags (version {})", file,
                        store.state().version());
            }
            return;
        } catch (IOException e) {
            rejected("cannot read offline file " + file + ": " + e);
            LOG.warn("flags: cannot read offline file {}; keeping the last good flags: {}", file, e.toString());
            return;
        }
        String hash = CacheFile.sha256(bytes);
        if (hash.equals(lastSeen)) {
            return;
        }
        lastSeen = hash;
        FlagState next;
        try {
            next = parse(bytes);
        } catch (RuntimeException e) {
            // Said to status readers before the log, so that whoever reads the log line finds it there too.
            rejected("offline file " + file + " is invalid: " + Updates.describe(e));
            LOG.warn("flags: offline file {} is invalid; keeping the last good flags (version {}): {}", file,
                    store.state().version(), Updates.describe(e));
            return;
        }
        version = next.version();
        boolean recovered = problem != null && store.state().source() == next.source();
        problem = null; // before publishing: status listeners read it from the new state's description
        store.publish(next);
        if (recovered) {
            store.statusChanged(); // the source stays the same, so publish alone would not tell status listeners
        }
        readiness.ready();
        LOG.info("flags: reloaded offline file {}: {} flags", file, next.flags().size());
    }

    /** The file on disk is not being served: say so to status readers, not only in the log. */
    private void rejected(String why) {
        problem = why + "; serving the last good flags (version " + store.state().version() + ")";
        store.statusChanged();
    }

    /** @return why the file on disk is not what is served (it is invalid, unreadable or gone), or null */
    String problem() {
        return problem;
    }

    @Override
    public void close() {
        closed = true;
        WatchService ws;
        synchronized (this) {
            ws = watchService;
        }
        if (ws != null) {
            try {
                ws.close();
            } catch (IOException e) {
                LOG.debug("flags: closing the watch service failed", e);
            }
        }
    }
}
