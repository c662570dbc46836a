package dev.flags.client.internal;

import dev.flags.client.Source;
import dev.flags.core.FlagFormat;
import dev.flags.core.FlagSet;
import dev.flags.core.UnfitFileException;
import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;
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
 *
 * <p>A watch follows the directory, not its path. When the directory is removed the watch ends; when it
 * is renamed away the watch follows it, silently. So the watcher also checks every
 * {@link #RECHECK_MILLIS} that the directory at the path is the one it watches. When the watch is lost
 * it reloads once (a file gone with its directory is reported as removed), then checks at that interval
 * for a directory at the path, watches it, and reloads at once. A directory missing at start is waited
 * for the same way. Losing and resuming are logged once each, not once per check.
 */
final class OfflineFile implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(OfflineFile.class);
    private static final long DEBOUNCE_MILLIS = 50;
    /**
     * The longest the events after a first one are gathered before the file is read: another file of the directory
     * written more often than every {@link #DEBOUNCE_MILLIS} (a log) must not hold the read back for good (QA70 F1).
     */
    private static final long DEBOUNCE_MAX_MILLIS = 500;
    /** Why a file within the format's bounds could not be read: its flags take more heap than the JVM has. */
    static final String OUT_OF_MEMORY = "the JVM ran out of memory reading it (give the application's JVM more heap, or"
            + " serve fewer or smaller flags)";
    /**
     * How long a file that does not parse must stay unchanged before it is called invalid: a writer that writes in
     * place in chunks (64 KiB every 50 ms, say) leaves it half-written between its writes.
     */
    static final long SETTLE_MILLIS = 500;
    /** The longest a file that does not parse waits to settle before it is called invalid: a writer that never stops. */
    static final long SETTLE_MAX_MILLIS = 5_000;
    /**
     * How often the watcher checks that the directory it watches is still the one at the file's path,
     * and, while none is watched, whether one is there again: no event says either (a removed directory
     * ends its watch, one made later at the path is not watched; a renamed one takes its watch along).
     * One stat a second costs nothing, and a second is soon enough for a file edited or deployed by hand.
     */
    private static final long RECHECK_MILLIS = 1000;

    private final Path file;
    private final Path dir;
    private FlagStore store;
    private Readiness readiness;
    private long version;
    private String lastSeen;
    private WatchService watchService;
    private Thread thread;
    private volatile boolean closed;
    /** Why the file on disk is not what is served (invalid, unreadable, removed), or null if it is. */
    private volatile String problem;
    // Set by watch() before it starts the watcher thread, then only that thread's: no lock needed.
    /** The registration of the directory, or null while none is watched. */
    private WatchKey key;
    /** The file system's identity of the watched directory ({@code fileKey()}; null where there is none). */
    private Object watchedIdentity;
    /** When ({@link System#nanoTime()}) to check next that the directory at the path is the one watched. */
    private long nextCheck;
    /** Why the last registration failed. */
    private IOException registerFailure;
    /** Said when a directory is watched after a wait: "again" after a loss, "now" when missing at start. */
    private String resumed;

    OfflineFile(Path file) {
        this.file = file;
        this.dir = file.toAbsolutePath().getParent();
    }

    /**
     * Reads the file for the first time.
     *
     * @return its flags, or no flags with the reason, if it cannot be read
     */
    synchronized FlagState load(boolean watched) {
        // Unwatched, the file is read this once: "until it is fixed" would promise a read that never comes.
        String until = watched ? "until it does" : "from now on: the file is read only at start (restart, or"
                + " watchOfflineFile(true) to read it whenever it changes)";
        try {
            byte[] bytes = UnfitFileException.readWhole(file, FlagFormat.MAX_FILE_BYTES);
            lastSeen = CacheFile.sha256(bytes);
            FlagState state = parse(bytes);
            LOG.info("flags: offline mode: {} from {}", count(state.flags().size()), file);
            return state;
        } catch (NoSuchFileException e) {
            lastSeen = "missing";
            LOG.warn("flags: offline file {} does not exist: every flag is its default {}", file, until);
            return FlagState.none("offline file " + file + " does not exist");
        } catch (IOException | RuntimeException | OutOfMemoryError e) {
            String why = e instanceof RuntimeException r ? Updates.describe(r)
                    : e instanceof UnfitFileException ? "it " + e.getMessage()
                    : e instanceof OutOfMemoryError ? OUT_OF_MEMORY : e.toString(); // never to take build() down
            LOG.warn("flags: offline file {} cannot be used: every flag is its default {}: {}", file,
                    watched ? "until it is fixed" : until, why);
            return FlagState.none("offline file " + file + " cannot be used: " + why);
        }
    }

    private FlagState parse(byte[] bytes) {
        FlagFormat.FlagFile parsed = FlagFormat.readFile(bytes);
        // Each good load is a new version, so that listeners and evaluations can tell them apart.
        return FlagState.of(FlagSet.of(parsed.flags(), parsed.roleGrants(), version + 1), Source.OFFLINE_FILE);
    }

    /**
     * Starts watching the file; each good change is published to the store. A directory that does not
     * exist (or cannot be watched) yet is checked for every {@link #RECHECK_MILLIS} and watched once it
     * is there.
     *
     * @param target the store to publish to
     * @param ready told when a good file was published
     * @throws IOException if no watch service can be had
     */
    synchronized void watch(FlagStore target, Readiness ready) throws IOException {
        this.store = target;
        this.readiness = ready;
        this.version = target.state().version();
        watchService = FileSystems.getDefault().newWatchService();
        if (!register()) {
            resumed = "now";
            LOG.warn("flags: cannot watch offline file {} yet: {}; watching starts when the directory is there", file,
                    registerProblem("its directory " + dir + " does not exist"));
        }
        thread = Threads.daemon("flags-watch").newThread(this::run);
        thread.start();
    }

    private void run() {
        try {
            if (key != null) {
                // A save between build()'s read and the watch's registration made no event this watch sees (QA70 F2):
                // read once now (nothing is published if the content is the one read at build()).
                reloadSettled();
            }
            while (!closed) {
                if (key == null) {
                    awaitDirectory();
                    continue;
                }
                WatchKey signalled = watchService.poll(untilNextCheck(), TimeUnit.MILLISECONDS);
                if (signalled != null) {
                    drain(signalled);
                    long gatherUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DEBOUNCE_MAX_MILLIS);
                    WatchKey more;
                    long left;
                    while ((left = gatherUntil - System.nanoTime()) > 0
                            && (more = watchService.poll(Math.min(left, TimeUnit.MILLISECONDS.toNanos(DEBOUNCE_MILLIS)),
                                    TimeUnit.NANOSECONDS)) != null) {
                        drain(more);
                    }
                    reloadSettled();
                }
                if (!key.isValid()) {
                    lost("was removed"); // its removal ended the watch (after the events of the files in it)
                } else if (System.nanoTime() - nextCheck >= 0) {
                    nextCheck = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(RECHECK_MILLIS);
                    String moved = moved();
                    if (moved != null) {
                        lost(moved);
                    }
                }
            }
        } catch (ClosedWatchServiceException | InterruptedException e) {
            // closed
        } catch (RuntimeException | Error e) {
            // Not silently: health and the reasons say the file is no longer read (QA60 F2).
            rejected("offline file " + file + " is no longer watched: " + e);
            LOG.error("flags: stopped watching offline file {}: its changes are no longer read", file, e);
        }
    }

    /** Reads the file again; content that does not parse is read once more when the file has been quiet a while. */
    private void reloadSettled() throws InterruptedException {
        if (key.isValid() && !reload(true)) {
            // Invalid: most often a writer still at it (an editor or a generator writing in place, a copy over a
            // network file system). Read again once the file has been quiet for a while, and report it only if it is
            // still invalid then.
            awaitFileQuiet();
            if (key.isValid()) {
                reload();
            }
        }
    }

    /**
     * Waits until the file itself has had no event for {@link #SETTLE_MILLIS}, at most {@link #SETTLE_MAX_MILLIS} in
     * all: other files of the directory (a log appended to, another generator's output) keep changing, and must
     * neither hold back a good save nor stop a file that stays invalid from being reported.
     */
    private void awaitFileQuiet() throws InterruptedException {
        long start = System.nanoTime();
        long lastTouched = start;
        while (true) {
            long now = System.nanoTime();
            long waitNanos = Math.min(lastTouched + TimeUnit.MILLISECONDS.toNanos(SETTLE_MILLIS) - now,
                    start + TimeUnit.MILLISECONDS.toNanos(SETTLE_MAX_MILLIS) - now);
            if (waitNanos <= 0) {
                return;
            }
            WatchKey more = watchService.poll(waitNanos, TimeUnit.NANOSECONDS);
            if (more != null && drainTouching(more)) {
                lastTouched = System.nanoTime();
            }
        }
    }

    /** Drains a key's events; true if one was the file's (or events were lost, which may have been). */
    private boolean drainTouching(WatchKey signalled) {
        boolean touched = false;
        for (java.nio.file.WatchEvent<?> event : signalled.pollEvents()) {
            touched |= event.kind() == StandardWatchEventKinds.OVERFLOW || file.getFileName().equals(event.context());
        }
        signalled.reset();
        return touched;
    }

    private static void drain(WatchKey signalled) {
        signalled.pollEvents();
        signalled.reset(); // false if its directory is gone: the loop asks the watched key itself
    }

    private long untilNextCheck() {
        return Math.max(1, TimeUnit.NANOSECONDS.toMillis(nextCheck - System.nanoTime()));
    }

    /**
     * Registers the directory at the file's path.
     *
     * @return whether it is watched now; if not, {@link #registerFailure} says why
     */
    private boolean register() {
        try {
            // The identity first: a directory swapped in between is then seen as a change at the next check.
            Object identity = identity();
            key = dir.register(watchService, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
                    StandardWatchEventKinds.ENTRY_DELETE);
            watchedIdentity = identity;
            nextCheck = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(RECHECK_MILLIS);
            registerFailure = null;
            return true;
        } catch (IOException e) {
            key = null;
            registerFailure = e;
            return false;
        }
    }

    private Object identity() throws IOException {
        return Files.readAttributes(dir, BasicFileAttributes.class).fileKey();
    }

    /** @return how the directory at the path is not the one watched any more, or null if it is */
    private String moved() {
        try {
            return Objects.equals(identity(), watchedIdentity) ? null : "was replaced";
        } catch (NoSuchFileException e) {
            return "was moved or removed";
        } catch (IOException e) {
            return null; // cannot tell; the watch goes on, and a reload says whether the file can be read
        }
    }

    /** Why {@link #register()} failed, in words: the usual case plainly, any other with its exception. */
    private String registerProblem(String missing) {
        return registerFailure instanceof NoSuchFileException ? missing : "cannot watch " + dir + ": " + registerFailure;
    }

    /**
     * The watched directory is gone (or is not the one at the path): report what that did to the file,
     * then watch the directory at the path, at once if there is one, else once there is.
     */
    private void lost(String how) {
        key.cancel();
        key = null;
        reload(); // the file went with its directory: reported as removed, the last good flags stay
        if (register()) {
            LOG.info("flags: the directory {} of offline file {} {}; watching the one there now", dir, file, how);
            reload(); // what changed before the new watch began
            return;
        }
        resumed = "again";
        LOG.warn("flags: stopped watching offline file {}: its directory {} {}; watching resumes when the directory is back",
                file, dir, registerFailure instanceof NoSuchFileException ? how : how + " (" + registerProblem("") + ")");
    }

    /** Waits for a directory at the path, checking every {@link #RECHECK_MILLIS}, then watches and reloads. */
    private void awaitDirectory() throws InterruptedException {
        do {
            // No key is registered, so this waits out the interval; close() ends it at once.
            WatchKey stale = watchService.poll(RECHECK_MILLIS, TimeUnit.MILLISECONDS);
            if (stale != null) {
                drain(stale);
            }
        } while (!closed && !register());
        if (key == null) {
            return; // closed
        }
        LOG.info("flags: watching offline file {} {}: its directory {} is there", file, resumed, dir);
        reload(); // the file may be there already: no event will say so
    }

    /** Reads the file again and publishes it if it changed and is valid; says why if it cannot be used. */
    synchronized void reload() {
        reload(false);
    }

    /**
     * Reads the file again and publishes it if it changed and is valid.
     *
     * @param mayBeHalfWritten whether the file may be in the middle of a write: then content that does not parse is
     *     neither reported nor remembered, and the caller reads it again once the file is quiet
     * @return false if the content did not parse and was left for a later read; true otherwise
     */
    private synchronized boolean reload(boolean mayBeHalfWritten) {
        if (closed) {
            return true;
        }
        try {
            return readAndPublish(mayBeHalfWritten);
        } catch (OutOfMemoryError e) {
            // A file within the bounds, too large for this heap (QA60 F2): the watcher goes on, and health says so. What
            // was read is garbage once this returns.
            lastSeen = null; // the last good file, put back, is read again and clears this (QA62 F2)
            rejected("offline file " + file + " could not be read: " + OUT_OF_MEMORY);
            LOG.error("flags: offline file {} could not be read: {}; keeping the last good flags (version {})", file,
                    OUT_OF_MEMORY, store.state().version());
            return true;
        }
    }

    private boolean readAndPublish(boolean mayBeHalfWritten) {
        byte[] bytes;
        try {
            bytes = UnfitFileException.readWhole(file, FlagFormat.MAX_FILE_BYTES);
        } catch (NoSuchFileException e) {
            if (!"missing".equals(lastSeen)) {
                lastSeen = "missing";
                rejected("offline file " + file + " was removed");
                LOG.warn("flags: offline file {} was removed; keeping the last good flags (version {})", file,
                        store.state().version());
            }
            return true;
        } catch (IOException e) {
            lastSeen = null; // as for a removed file: the last good one, put back, is read again and clears the problem
            if (e instanceof UnfitFileException) {
                rejected("offline file " + file + " " + e.getMessage());
                LOG.warn("flags: offline file {} {}; keeping the last good flags", file, e.getMessage());
                return true;
            }
            rejected("cannot read offline file " + file + ": " + e);
            LOG.warn("flags: cannot read offline file {}; keeping the last good flags: {}", file, e.toString());
            return true;
        }
        String hash = CacheFile.sha256(bytes);
        if (hash.equals(lastSeen)) {
            return true;
        }
        FlagState next;
        try {
            next = parse(bytes);
        } catch (RuntimeException e) {
            if (mayBeHalfWritten) {
                return false; // not remembered: the same bytes read again once the file is quiet are judged then
            }
            lastSeen = hash;
            // Said to status readers before the log, so that whoever reads the log line finds it there too.
            rejected("offline file " + file + " is invalid: " + Updates.describe(e));
            LOG.warn("flags: offline file {} is invalid; keeping the last good flags (version {}): {}", file,
                    store.state().version(), Updates.describe(e));
            return true;
        }
        lastSeen = hash;
        version = next.version();
        boolean first = store.state().source() == Source.DEFAULTS; // missing or unusable until now: nothing to reload
        boolean recovered = problem != null && store.state().source() == next.source();
        problem = null; // before publishing: status listeners read it from the new state's description
        store.publish(next);
        if (recovered) {
            store.statusChanged(); // the source stays the same, so publish alone would not tell status listeners
        }
        readiness.ready();
        if (first) {
            LOG.info("flags: offline mode: {} from {}, read now that it can be", count(next.flags().size()), file);
        } else {
            LOG.info("flags: reloaded offline file {}: {}", file, count(next.flags().size()));
        }
        return true;
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

    private static String count(int flags) {
        return flags == 1 ? "1 flag" : flags + " flags";
    }
}
