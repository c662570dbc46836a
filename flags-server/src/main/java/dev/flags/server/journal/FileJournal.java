package dev.flags.server.journal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe. The embedded {@link Journal}: segment files of checksummed records in one data
 * directory, group commit, periodic checkpoints, and a directory lock.
 *
 * <p>{@link Builder#open()} takes the directory's lock, rebuilds the state from the newest checkpoint
 * and the journal's tail, checks every older record's checksum (cutting a torn last record,
 * refusing damage anywhere else), and starts two
 * daemon threads: {@code flags-journal-sync}, which writes and forces batches of appended records,
 * and {@code flags-journal-checkpoint}, which writes checkpoints. {@link #close()} commits what was
 * accepted, writes a final checkpoint and releases the lock. The file format and the guarantees are
 * described in {@code docs/journal.md}.
 *
 * <pre>{@code
 * FileJournal journal = FileJournal.builder(Path.of("/var/lib/flags/journal"))
 *     .segmentSize(64 << 20)
 *     .checkpointInterval(10_000)
 *     .retention(Duration.ofDays(365))
 *     .open();
 * }</pre>
 */
public final class FileJournal implements Journal {

    private static final Logger LOG = LoggerFactory.getLogger(FileJournal.class);
    private static final int WRITE_BUFFER = 1 << 20;
    /**
     * What an entry's payload may hold over a flag document's limit ({@link dev.flags.core.FlagFormat#MAX_FLAG_BYTES},
     * which the server counts without the document's version): the version's digits, and the wrapping of a revert or
     * of a scheduled change applied around the document. So a flag taken at the limit can still be switched off,
     * reverted and changed on schedule as its version grows.
     */
    public static final int PAYLOAD_HEADROOM = 4096;

    /** Package-private seams for tests; the default does nothing. */
    interface Hooks {
        Hooks NONE = new Hooks() {};

        /** Called on the appending thread once its record is queued for the next force. */
        default void enqueued(JournalEntry entry) {}

        /** Called on the sync thread just before it forces a batch. */
        default void beforeForce() {}

        /** Called on the sync thread once a batch's state is published to readers, before its appenders return. */
        default void published() {}

        /** Called on the sync thread once a batch's files were checked, just before its records are written. */
        default void beforeWrite() {}

        /** Called on an appending thread, under the journal's lock, just before its entry changes the state. */
        default void beforeApply(JournalEntry entry) {}

        /** Called on the checkpoint thread just before it writes a background checkpoint. */
        default void beforeCheckpoint() {}

        /** Called on the checkpoint thread each time it waits, with no checkpoint asked for. */
        default void checkpointWaiting() {}

        /** Called on a reading thread just before a scan opens a segment file. */
        default void beforeScanOpens(Path segment) {}
    }

    /**
     * The durable end: the last acknowledged entry, where its segment's sound records end, and the state they make.
     * One value, published with one volatile write: a state and the end its reads stop at, published one after the
     * other, showed a reader between the two a state whose newest entries no read returned (QA91 F1).
     */
    private record Mark(long sequence, Recovery.SegmentInfo segment, long offset, ServerState state) {}

    /** An appended entry waiting for its force. */
    private record Pending(JournalEntry entry, byte[] frame, CompletableFuture<JournalEntry> done) {}

    private final Path dir;
    private final Clock clock;
    private final ChangeRules rules;
    private final long segmentSize;
    private final long checkpointInterval;
    private final int checkpointsToKeep;
    private final Duration retention;
    /**
     * With a retention, how long a segment takes entries before the next write starts a new one (and asks for a
     * checkpoint): retention deletes whole segments, covered by a checkpoint, and a quiet server would otherwise fill
     * its 64 MiB segment, and keep every entry in it, for years (QA54 F1). Null without a retention.
     */
    private final Duration rollAge;
    /** A segment was started for its predecessor's age and no checkpoint asked for since (the writer thread's only). */
    private boolean rolledForAge;
    private final Hooks hooks;
    /** How long the writer waits for work before it checks its files anyway: an idle journal notices a change too. */
    private final long fileCheckNanos;
    private final DirectoryLock directoryLock;
    private final RecoveryReport recoveryReport;

    // Appenders and the sync thread meet here; the lock is held only to check, number, encode and
    // queue a change, and to take a batch.
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition workReady = lock.newCondition();
    private final MutableState working;
    private long lastAssigned;
    private Instant lastTimestamp;
    private ArrayList<Pending> queue = new ArrayList<>();
    private boolean closing;
    private JournalException failure;
    /** Why {@link #failure} was set (set with it); volatile so that health checks read it without the lock. */
    private volatile String failureReason;

    /** What readers see: {@link Mark#state()} is the committed state, and reads stop where its entries end. */
    private volatile Mark mark;
    private volatile List<Recovery.SegmentInfo> segments;
    private final Object segmentsUpdate = new Object();
    /** Flag changes after {@link #indexedAfter} from the open on; the older ones once history is first read. */
    private final FlagHistoryIndex historyIndex = new FlagHistoryIndex();
    /** The last sequence at open: the writer indexes what follows, {@link #indexOlderChanges} the rest. */
    private final long indexedAfter;
    private final Object olderIndexing = new Object();
    private volatile boolean olderIndexed;

    // Owned by the sync thread.
    private FileChannel active;
    private Recovery.SegmentInfo activeSegment;
    private long activeSize;
    /** The sequence the last failed background checkpoint was to be at (0 if none failed): the next waits for more. */
    private volatile long checkpointFailedAt;
    /** A background checkpoint is asked for or being written: batches meanwhile do not ask for another. */
    private volatile boolean checkpointPending;
    private final AtomicLong checkpointFailures = new AtomicLong();
    /** Whether the segment written and the lock file are still the ones this journal opened. */
    private final OwnedFiles ownedFiles;
    /** When the clock was last said to be behind the journal ({@link System#nanoTime()}), for one WARN an hour. */
    private long clockBehindWarnedAt;
    private boolean clockBehindWarned;
    private final ByteBuffer writeBuffer = ByteBuffer.allocateDirect(WRITE_BUFFER);

    private final AtomicLong forces = new AtomicLong();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final ReentrantLock checkpointWrite = new ReentrantLock();
    /**
     * Whether each checkpoint file is sound, by sequence: true for those this journal wrote, and for the others as one
     * check of the whole file found (a checkpoint is never changed in place). Under checkpointWrite.
     */
    private final Map<Long, Boolean> soundCheckpoints = new HashMap<>();
    /**
     * One past state rebuilt at a time (an SDK resuming from an old version, an API reader's {@code state?at=}): each is a
     * whole server state beside the current one, and the heap is sized for about one more. Fair, so none waits forever.
     */
    final ReentrantLock replays = new ReentrantLock(true);
    private final Object checkpointSignal = new Object();
    private boolean checkpointRequested;
    private boolean checkpointStop;
    private volatile long lastCheckpointSequence;
    private final Thread syncThread;
    private final Thread checkpointThread;

    private FileJournal(Builder b) throws IOException {
        long started = System.nanoTime();
        this.dir = b.directory;
        this.clock = b.clock;
        this.rules = new ChangeRules(b.maxPayloadBytes, b.maxActorLength, b.maxCommentLength);
        this.segmentSize = b.segmentSize;
        this.checkpointInterval = b.checkpointInterval;
        this.checkpointsToKeep = b.checkpointsToKeep;
        this.retention = b.retention;
        this.rollAge = b.retention == null ? null : b.segmentMaxAge != null ? b.segmentMaxAge : rollAge(b.retention);
        this.hooks = b.hooks;
        this.fileCheckNanos = b.fileCheckInterval.toNanos();
        this.directoryLock = DirectoryLock.acquire(dir, b.holder);
        try {
            this.ownedFiles = new OwnedFiles(dir.resolve(DirectoryLock.FILE_NAME));
            probeWrite(dir);
            Recovery.Result r = Recovery.run(dir);
            List<Recovery.SegmentInfo> segs = new ArrayList<>(r.segments());
            if (segs.isEmpty()) {
                segs.add(new Recovery.SegmentInfo(Segments.create(dir, 1), 1));
            }
            this.segments = List.copyOf(segs);
            this.activeSegment = segs.get(segs.size() - 1);
            this.active = FileChannel.open(activeSegment.file, StandardOpenOption.WRITE,
                    StandardOpenOption.READ);
            this.active.position(r.tailEnd());
            this.activeSize = r.tailEnd();
            ownedFiles.segmentOpened(activeSegment.file);
            this.working = r.state();
            this.lastAssigned = r.lastSequence();
            this.lastTimestamp = working.timestamp();
            Instant openedAt = clock.instant();
            if (openedAt.isBefore(lastTimestamp)) {
                warnIfClockBehind(openedAt); // said at the start too: a restart does not end it
            }
            this.mark = new Mark(r.lastSequence(), activeSegment, r.tailEnd(), working.freeze());
            this.lastCheckpointSequence = r.checkpointSequence();
            this.indexedAfter = r.lastSequence();
            List<String> notes = new ArrayList<>(r.notes());
            if (retention == null && segs.get(0).firstSequence > 1) {
                // Only retention removes segments; without it, missing first entries mean files went
                // missing (a partial restore, a deletion), and history and audit silently start later.
                String note = "the journal starts at sequence " + segs.get(0).firstSequence + " although no retention is"
                        + " set: entries 1.." + (segs.get(0).firstSequence - 1) + " are missing from " + dir
                        + " (history, audit and time travel start after them); restore the segments from a backup if"
                        + " they were not removed on purpose";
                LOG.warn("journal: {}", note);
                notes.add(note);
            }
            Duration took = Duration.ofNanos(System.nanoTime() - started);
            this.recoveryReport = new RecoveryReport(r.checkpointSequence(), r.replayed(),
                    r.verified(), r.lastSequence(), segs.size(), r.discardedBytes(), notes, took);
        } catch (IOException | RuntimeException | Error e) {
            closeQuietly();
            throw e;
        }
        LOG.info("journal opened: {} (last sequence {}, checkpoint at {}, {} replayed, {} more checked, {}, {} ms)",
                dir, recoveryReport.lastSequence(), recoveryReport.checkpointSequence(),
                count(recoveryReport.replayedEntries(), "entry", "entries"), recoveryReport.verifiedEntries(),
                count(recoveryReport.segments(), "segment", "segments"), recoveryReport.duration().toMillis());
        if (directoryLock.unclosedBy() != null) {
            LOG.warn("journal: its last holder ({}) did not close it: it was killed, crashed, or its machine stopped; every"
                    + " write it acknowledged is recovered above", directoryLock.unclosedBy());
        }
        String aside = JournalVerifier.setAsideNote(dir);
        if (aside != null) {
            LOG.info("journal: {}", aside);
        }
        syncThread = new Thread(this::syncLoop, "flags-journal-sync");
        syncThread.setDaemon(true);
        checkpointThread = new Thread(this::checkpointLoop, "flags-journal-checkpoint");
        checkpointThread.setDaemon(true);
        syncThread.start();
        checkpointThread.start();
        if (recoveryReport.replayedEntries() >= checkpointInterval) {
            requestCheckpoint();
        }
    }

    /** The file {@link #probeWrite} makes and removes; the open removes it should a crash have left it. */
    static final String WRITE_CHECK_FILE = "write-check" + Segments.TEMP_SUFFIX;

    /**
     * Makes and removes a file in the journal's directory: a directory this process may not write to would take appends
     * into the open segment, and fail only later, at the first checkpoint or new segment. Said now, at the start.
     */
    private static void probeWrite(Path dir) throws IOException {
        Path probe = dir.resolve(WRITE_CHECK_FILE);
        try {
            FileAccess.openOwnerOnly(probe, java.util.Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE)).close();
            Files.delete(probe);
        } catch (java.nio.file.AccessDeniedException e) {
            IOException explained = new java.nio.file.AccessDeniedException(dir.toString(), null, "the journal cannot"
                    + " create files in it (checkpoints, new segments): " + DirectoryLock.accessDenied(dir, probe));
            explained.initCause(e);
            throw explained;
        } catch (IOException e) {
            throw new IOException("the journal cannot create files in " + dir + " (checkpoints, new segments): "
                    + Builder.describe(e), e);
        }
    }

    /**
     * Whether the active segment's file holds exactly the bytes this journal wrote, as when an operator copied a deleted
     * segment back from {@code /proc} as the rescue line said: then the stop must not tell them to run a repair that would
     * set history aside (QA81 F4). Any doubt (another size, other bytes, a read that fails) answers false.
     */
    private boolean segmentIsBackWhole() {
        if (active == null) {
            return false;
        }
        try (FileChannel back = FileChannel.open(activeSegment.file, StandardOpenOption.READ)) {
            if (back.size() != activeSize || active.size() < activeSize) {
                return false;
            }
            ByteBuffer written = ByteBuffer.allocate(1 << 16);
            ByteBuffer found = ByteBuffer.allocate(1 << 16);
            for (long at = 0; at < activeSize; at += written.limit()) {
                int n = (int) Math.min(written.capacity(), activeSize - at);
                written.clear().limit(n);
                found.clear().limit(n);
                while (written.hasRemaining() && active.read(written, at + written.position()) >= 0) {
                    // a read may return fewer bytes than asked
                }
                while (found.hasRemaining() && back.read(found, at + found.position()) >= 0) {
                    // likewise
                }
                if (written.hasRemaining() || found.hasRemaining() || !written.flip().equals(found.flip())) {
                    return false;
                }
            }
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private void closeQuietly() {
        try {
            if (active != null) {
                active.close();
            }
        } catch (IOException e) {
            LOG.warn("journal: cannot close {}: {}", activeSegment, e.toString());
        }
        try {
            directoryLock.close();
        } catch (IOException e) {
            LOG.warn("journal: cannot release the lock of {}: {}", dir, e.toString());
        }
    }

    /**
     * Starts building a journal kept in a directory.
     *
     * @param directory the data directory; created if missing; one journal per directory
     * @return a new builder with the defaults
     * @throws NullPointerException if directory is null
     */
    public static Builder builder(Path directory) {
        return new Builder(directory);
    }

    // ---------------------------------------------------------------------------------------------
    // Appending and group commit

    @Override
    public JournalEntry append(Change change) {
        ChangeRules.Shape shape = rules.check(change);
        Pending pending;
        lock.lock();
        try {
            if (failure != null) {
                throw new JournalException(failure.getMessage(), failure);
            }
            if (closing) {
                throw new JournalException("journal is closed: " + dir);
            }
            MutableState.Prepared prepared = working.prepare(change, shape);
            Instant now = clock.instant();
            if (now.isBefore(lastTimestamp)) {
                warnIfClockBehind(now);
                now = lastTimestamp; // the clock stepped back: timestamps stay in order
            }
            JournalEntry entry = new JournalEntry(lastAssigned + 1, change.type(),
                    change.environment(), prepared.version(), now, change.actor(), change.comment(),
                    shape.subject(), prepared.payload());
            byte[] frame = RecordCodec.encode(entry);
            try {
                hooks.beforeApply(entry);
                working.apply(entry);
            } catch (RuntimeException | Error e) {
                throw stopHalfApplied(entry, e);
            }
            lastAssigned = entry.sequence();
            lastTimestamp = now;
            pending = new Pending(entry, frame, new CompletableFuture<>());
            queue.add(pending);
            workReady.signal();
        } finally {
            lock.unlock();
        }
        hooks.enqueued(pending.entry());
        try {
            return pending.done().join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof JournalException) {
                JournalException cause = (JournalException) e.getCause();
                throw new JournalException(cause.getMessage(), cause);
            }
            throw new JournalException("append failed: " + e.getCause(), e.getCause());
        }
    }

    /*
     * Group commit. Appenders only queue encoded records; this one thread takes everything queued,
     * writes it with one write call per segment, forces once, publishes the state and completes the
     * appenders. Whatever arrives during a force waits for the next one, so no appender waits behind
     * more than one force that is not its own. The state snapshot is taken together with the batch,
     * under the lock, so it holds exactly the batch's entries.
     */
    private void syncLoop() {
        while (true) {
            List<Pending> batch;
            ServerState snapshot;
            lock.lock();
            try {
                long wait = fileCheckNanos;
                while (queue.isEmpty() && !closing && wait > 0) {
                    try {
                        wait = workReady.awaitNanos(wait);
                    } catch (InterruptedException e) {
                        // Nothing interrupts this thread on purpose: close() ends it by setting closing.
                    }
                }
                if (queue.isEmpty() && closing) {
                    return;
                }
                batch = queue.isEmpty() ? List.of() : queue;
                if (!batch.isEmpty()) {
                    queue = new ArrayList<>();
                }
                snapshot = batch.isEmpty() ? null : working.freeze();
            } finally {
                lock.unlock();
            }
            if (batch.isEmpty()) { // quiet for a while: a file changed now would otherwise go unseen until a write
                try {
                    ownedFiles.check(active, activeSize);
                } catch (IOException | RuntimeException e) {
                    stop(e, batch);
                    return;
                }
                continue;
            }
            try {
                writeBatch(batch);
            } catch (IOException | RuntimeException | Error e) {
                if (!(e instanceof OwnedFiles.FileChangedException)) {
                    cutUnacknowledged();
                }
                stop(e, batch);
                return;
            }
            mark = new Mark(snapshot.sequence(), activeSegment, activeSize, snapshot);
            hooks.published();
            for (Pending p : batch) {
                if (p.entry().type() == EntryType.ENVIRONMENT_DELETED) { // durable now: nothing reads its flags' history
                    historyIndex.removeEnvironments(Set.of(p.entry().environment()));
                }
                p.done().complete(p.entry());
            }
            if (!checkpointPending && (rolledForAge
                    || snapshot.sequence() - Math.max(lastCheckpointSequence, checkpointFailedAt) >= checkpointInterval)) {
                rolledForAge = false;
                requestCheckpoint();
            }
        }
    }

    private void writeBatch(List<Pending> batch) throws IOException {
        ownedFiles.check(active, activeSize); // between two batches, the longest quiet: a cut would leave a hole
        ownedFiles.beforeBatch(active, activeSize);
        hooks.beforeWrite();
        boolean tooOld = activeSegmentTooOld();
        for (Pending p : batch) {
            byte[] frame = p.frame();
            long used = activeSize + writeBuffer.position();
            if ((used + frame.length > segmentSize || tooOld) && used > Segments.HEADER_SIZE) {
                flushBuffer();
                force();
                roll(p.entry().sequence());
                rolledForAge |= tooOld;
            }
            tooOld = false;
            if (frame.length > writeBuffer.remaining()) {
                flushBuffer();
            }
            JournalEntry entry = p.entry();
            if (entry.type().isFlagChange()) {
                historyIndex.add(entry.environment(), entry.subject(), entry.sequence(),
                        activeSize + writeBuffer.position());
            }
            if (entry.type() == EntryType.ENVIRONMENT_CLONED) { // the first entry of each flag it copied
                for (String copied : FlagHistoryIndex.copiedFlags(entry)) {
                    historyIndex.add(entry.environment(), copied, entry.sequence(), activeSize + writeBuffer.position());
                }
            }
            if (frame.length > writeBuffer.capacity()) {
                writeFully(ByteBuffer.wrap(frame));
            } else {
                writeBuffer.put(frame);
            }
        }
        flushBuffer();
        hooks.beforeForce();
        force();
        ownedFiles.afterBatch(active);
    }

    /** Whether the active segment took its first entry more than {@link #rollAge} ago. */
    private boolean activeSegmentTooOld() {
        if (rollAge == null || activeSize <= Segments.HEADER_SIZE) {
            return false;
        }
        try {
            Instant first = firstTimestamp(activeSegment);
            return first != null && first.isBefore(clock.instant().minus(rollAge));
        } catch (JournalException e) {
            return false; // unreadable now: the size rule still rolls it, and a verify says why
        }
    }

    /**
     * @param retention the journal's retention, or null
     * @return how long a segment takes entries under it: a tenth of it, from 1 hour to 1 day (a segment a day at most;
     *     with writes coming, an entry goes within about two of these after it passed the retention, at a checkpoint);
     *     null without a retention
     */
    static Duration rollAge(Duration retention) {
        if (retention == null) {
            return null;
        }
        Duration tenth = retention.dividedBy(10);
        Duration hour = Duration.ofHours(1);
        Duration day = Duration.ofDays(1);
        return tenth.compareTo(hour) < 0 ? hour : tenth.compareTo(day) > 0 ? day : tenth;
    }

    private void flushBuffer() throws IOException {
        writeBuffer.flip();
        writeFully(writeBuffer);
        writeBuffer.clear();
    }

    private void writeFully(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            activeSize += active.write(b);
        }
    }

    // force(false) is fdatasync: it also makes the file's new size durable, which is all an append
    // needs; a new segment's directory entry is forced when the segment is created.
    private void force() throws IOException {
        active.force(false);
        forces.incrementAndGet();
        ownedFiles.check(active, activeSize);
    }

    private void roll(long firstSequence) throws IOException {
        Path file = Segments.create(dir, firstSequence);
        FileChannel next = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.READ);
        next.position(Segments.HEADER_SIZE);
        FileChannel previous = active;
        Recovery.SegmentInfo info = new Recovery.SegmentInfo(file, firstSequence);
        active = next;
        activeSegment = info;
        activeSize = Segments.HEADER_SIZE;
        ownedFiles.segmentOpened(file);
        previous.close();
        synchronized (segmentsUpdate) {
            List<Recovery.SegmentInfo> list = new ArrayList<>(segments);
            list.add(info);
            segments = List.copyOf(list);
        }
        LOG.debug("journal: started segment {}", file);
    }

    /**
     * Says, once an hour, that the clock is behind the journal's last entry by more than a second: a clock stepped
     * back, or one that ran ahead before it was corrected. Entries keep that entry's time until the clock catches up,
     * which history, the audit and {@code ?at=} reads all count by.
     */
    private void warnIfClockBehind(Instant now) {
        Duration behind = Duration.between(now, lastTimestamp);
        long nanos = System.nanoTime();
        if (behind.compareTo(Duration.ofSeconds(1)) <= 0
                || clockBehindWarned && nanos - clockBehindWarnedAt < Duration.ofHours(1).toNanos()) {
            return;
        }
        clockBehindWarned = true;
        clockBehindWarnedAt = nanos;
        LOG.warn("journal: this machine's clock ({}) is {} behind the journal's last entry ({}): stepped back, or ahead"
                + " before it was set right. New entries are stamped {} (the journal keeps time in order) until the clock"
                + " passes it, so history, the audit and reads at a time show them then; check the clock (NTP)", now,
                behind.truncatedTo(java.time.temporal.ChronoUnit.SECONDS), lastTimestamp, lastTimestamp);
    }

    /**
     * After a failed batch, cuts the segment back to where its acknowledged entries end, so that the next start finds
     * no torn tail to take for a crash or for damage (a write refused on a full disk leaves part of a record). Only
     * the segment the acknowledged entries end in: a batch that failed after starting a new segment leaves that one to
     * the next start's recovery, as a crash would.
     */
    private void cutUnacknowledged() {
        Mark durable = mark;
        if (!durable.segment().file.equals(activeSegment.file)) {
            return;
        }
        try {
            if (active.size() > durable.offset()) {
                active.truncate(durable.offset());
                active.force(false);
                LOG.info("journal: cut the failed batch's unacknowledged bytes from {} (it ends at byte offset {} again, after"
                        + " sequence {})", activeSegment.file, durable.offset(), durable.sequence());
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("journal: cannot cut the failed batch's unacknowledged bytes from {} ({}); the next start sets them"
                    + " aside as a torn tail", activeSegment.file, e.toString());
        }
    }

    /**
     * An entry that failed halfway into the state in memory (out of memory, most likely) may have changed part of it:
     * nothing more may be built on it, so the journal stops as after an i/o failure. The entry was not written; what
     * was acknowledged is in the files, and a restart recovers it. Called under the lock.
     */
    private JournalException stopHalfApplied(JournalEntry entry, Throwable cause) {
        String reason = "the change that was to be sequence " + entry.sequence() + " failed while it was applied to the"
                + " state in memory (" + cause + "), which may be half-changed; it was not written, and no change after"
                + " it is acknowledged";
        JournalException failed = new JournalException("journal stopped: " + reason + "; restart the server"
                + (cause instanceof OutOfMemoryError ? " with a larger heap (-Xmx; docs/server.md, Memory)" : "")
                + " to recover every acknowledged change", cause);
        LOG.error("journal: {}", failed.getMessage(), cause);
        failure = failed;
        failureReason = reason;
        closing = true;
        List<Pending> abandoned = new ArrayList<>(queue);
        queue.clear();
        workReady.signalAll();
        for (Pending p : abandoned) {
            p.done().completeExceptionally(failed);
        }
        return failed;
    }

    /** After an i/o failure nothing more is acknowledged; reopening recovers (fail-stop). */
    private void stop(Throwable cause, List<Pending> batch) {
        // A plain IOException's class adds nothing to its words (they reach API answers); a subclass's name may say what
        // its message does not (AccessDeniedException: <file>).
        String what = (cause.getClass() == java.io.IOException.class || cause instanceof OwnedFiles.FileChangedException)
                && cause.getMessage() != null ? cause.getMessage() : cause.toString();
        String reason = what + "; nothing after sequence " + mark.sequence() + " is acknowledged";
        JournalException failed = cause instanceof OwnedFiles.FileChangedException changed
                ? new JournalException("journal stopped: " + reason + "; " + changed.remedy(), cause)
                : new JournalException("journal stopped after an i/o failure in " + activeSegment.file + ": " + reason
                        + "; restart the server (which reopens the journal) to recover, once the cause is fixed", cause);
        LOG.error("journal: {}", failed.getMessage(), cause);
        List<Pending> abandoned = new ArrayList<>(batch);
        lock.lock();
        try {
            failure = failed;
            failureReason = reason;
            closing = true;
            abandoned.addAll(queue);
            queue.clear();
        } finally {
            lock.unlock();
        }
        for (Pending p : abandoned) {
            p.done().completeExceptionally(failed);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Checkpoints and retention

    private void requestCheckpoint() {
        checkpointPending = true;
        synchronized (checkpointSignal) {
            checkpointRequested = true;
            checkpointSignal.notifyAll();
        }
    }

    private void checkpointLoop() {
        while (true) {
            synchronized (checkpointSignal) {
                while (!checkpointRequested && !checkpointStop) {
                    hooks.checkpointWaiting();
                    try {
                        checkpointSignal.wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (checkpointStop) {
                    return;
                }
                checkpointRequested = false;
            }
            long at = mark.sequence();
            try {
                hooks.beforeCheckpoint();
                writeCheckpoint();
            } catch (IOException | RuntimeException e) {
                // Tried again after as many appends as between two checkpoints, not after every one: on a full disk
                // each try would cost every write a checkpoint's work, and the log a WARN per write.
                checkpointFailedAt = at;
                checkpointFailures.incrementAndGet();
                LOG.warn("journal: checkpoint failed in {}: {}; appends go on (a later start replays more of the"
                        + " journal), and the checkpoint is tried again after {} more entries", dir, e.toString(),
                        checkpointInterval);
            } finally {
                checkpointPending = false; // asked for again only now: one checkpoint per interval, not one per batch
            }
        }
    }

    /**
     * Writes a checkpoint of the committed state now, so that the next open replays nothing before
     * it. Blocks while the file is written and forced; appends go on meanwhile.
     *
     * @return the sequence number the newest checkpoint is at
     * @throws JournalException if the journal is closed or the checkpoint cannot be written
     */
    public long checkpoint() {
        ensureOpen();
        try {
            return writeCheckpoint();
        } catch (IOException e) {
            throw new JournalException("cannot write a checkpoint in " + dir + ": " + e, e);
        }
    }

    private long writeCheckpoint() throws IOException {
        checkpointWrite.lock();
        try {
            ServerState state = mark.state();
            if (state.sequence() == 0 || state.sequence() == lastCheckpointSequence) {
                return lastCheckpointSequence;
            }
            Path file = Checkpoints.write(dir, state);
            lastCheckpointSequence = state.sequence();
            soundCheckpoints.put(state.sequence(), true);
            LOG.debug("journal: wrote checkpoint {}", file);
            // Kept: the newest sound checkpoints at or below the state just written, which is the first of them. Only
            // those count, and only they decide what retention may remove: a file that merely has a checkpoint's name
            // (damaged, or named past the journal's end) would otherwise push the sound ones out and let retention
            // remove segments that no readable checkpoint covers (QA66 F2).
            long oldestKept = state.sequence();
            int kept = 0;
            for (Checkpoints.Ref ref : Checkpoints.list(dir)) {
                if (ref.sequence() > state.sequence()) {
                    continue; // not this journal's (an open refuses a sound one): left for the operator, as the open said
                }
                if (kept < checkpointsToKeep) {
                    if (isSound(ref)) {
                        kept++;
                        oldestKept = ref.sequence();
                    }
                    // a damaged one among the kept goes once enough sound ones are newer than it
                } else {
                    Files.deleteIfExists(ref.file());
                    soundCheckpoints.remove(ref.sequence());
                }
            }
            applyRetention(oldestKept);
            return state.sequence();
        } finally {
            checkpointWrite.unlock();
        }
    }

    /**
     * Whether a checkpoint can be read back: one this journal did not write is checked once (its whole file), and the
     * answer remembered. Called under {@link #checkpointWrite}.
     */
    private boolean isSound(Checkpoints.Ref ref) throws IOException {
        Boolean known = soundCheckpoints.get(ref.sequence());
        if (known != null) {
            return known;
        }
        boolean sound;
        try {
            Checkpoints.checkSum(ref.file());
            sound = true;
        } catch (JournalCorruptedException e) {
            LOG.warn("journal: checkpoint {} is damaged ({}): it does not count as a kept checkpoint, and retention keeps"
                    + " the segments the sound ones need", ref.file(), e.getMessage());
            sound = false;
        } catch (NoSuchFileException e) {
            return false; // removed meanwhile (by the operator): nothing to remember
        }
        soundCheckpoints.put(ref.sequence(), sound);
        return sound;
    }

    /*
     * Removes the oldest segments whose entries are all older than the retention period and all
     * covered by the oldest kept checkpoint, so that every kept checkpoint can still be recovered
     * from. A segment's entries are no newer than the next segment's first entry.
     */
    private void applyRetention(long oldestCheckpoint) throws IOException {
        if (retention == null) {
            return;
        }
        Instant cutoff = clock.instant().minus(retention);
        while (true) {
            List<Recovery.SegmentInfo> segs = segments;
            if (segs.size() < 2) {
                return;
            }
            Recovery.SegmentInfo next = segs.get(1);
            Instant nextFirst = firstTimestamp(next);
            if (next.firstSequence - 1 > oldestCheckpoint || nextFirst == null
                    || !nextFirst.isBefore(cutoff)) {
                return;
            }
            synchronized (segmentsUpdate) {
                segments = List.copyOf(segments.subList(1, segments.size()));
            }
            historyIndex.removeBefore(next.firstSequence);
            Files.deleteIfExists(segs.get(0).file);
            LOG.info("journal: removed segment {} (entries {}..{}), older than the retention of {}",
                    segs.get(0).file, segs.get(0).firstSequence, next.firstSequence - 1, retention);
        }
    }

    /**
     * Returns how many times the journal forced a segment to stable storage since it opened: one per
     * batch of concurrent appends (plus one per segment roll). Appends divided by forces is the
     * group-commit batch size.
     *
     * @return the number of forces
     */
    public long forceCount() {
        return forces.get();
    }

    /**
     * Returns how many background checkpoints failed since the journal opened (a full disk, say). Appends go on
     * without them, but a later start replays more of the journal; each failure is a WARN in the log.
     *
     * @return the number of failed background checkpoints
     */
    public long checkpointFailures() {
        return checkpointFailures.get();
    }

    /**
     * Returns what happened when this journal opened.
     *
     * @return the recovery report
     */
    public RecoveryReport recoveryReport() {
        return recoveryReport;
    }

    /**
     * Returns the journal's data directory.
     *
     * @return the directory
     */
    public Path directory() {
        return dir;
    }

    // ---------------------------------------------------------------------------------------------
    // Reads

    @Override
    public ServerState state() {
        ensureOpen();
        return mark.state();
    }

    @Override
    public long lastSequence() {
        ensureOpen();
        return mark.sequence();
    }

    @Override
    public long oldestRetainedSequence() {
        ensureOpen();
        return segments.get(0).firstSequence;
    }

    @Override
    public Optional<String> failure() {
        return Optional.ofNullable(failureReason);
    }

    @Override
    public List<JournalEntry> read(long fromSequence, int maxEntries) {
        if (fromSequence < 1) {
            throw new IllegalArgumentException("from sequence must be at least 1, was " + fromSequence);
        }
        if (maxEntries < 0) {
            throw new IllegalArgumentException("max entries must be at least 0, was " + maxEntries);
        }
        ensureOpen();
        long oldest = segments.get(0).firstSequence;
        if (fromSequence < oldest) {
            throw new IllegalArgumentException("sequence " + fromSequence + " was removed by retention;"
                    + " the oldest retained entry is " + oldest);
        }
        List<JournalEntry> out = new ArrayList<>();
        if (maxEntries == 0) {
            return out;
        }
        scan(fromSequence, (v, at) -> {
            if (v.sequence() >= fromSequence) {
                out.add(v.toEntry());
            }
            return out.size() < maxEntries;
        });
        return out;
    }

    @Override
    public List<JournalEntry> history(String environment, String flagKey, long beforeVersion, int maxEntries) {
        Objects.requireNonNull(environment, "environment");
        Objects.requireNonNull(flagKey, "flagKey");
        if (beforeVersion < 1) {
            throw new IllegalArgumentException("before version must be at least 1, was " + beforeVersion);
        }
        if (maxEntries < 0) {
            throw new IllegalArgumentException("max entries must be at least 0, was " + maxEntries);
        }
        ensureOpen();
        indexOlderChanges();
        Mark end = mark;
        List<Recovery.SegmentInfo> segs = segments;
        long[] positions = historyIndex.positions(environment, flagKey);
        // Change i of the flag is at (positions[2i], positions[2i + 1]). Those from first (retention may
        // have removed older ones) to last (exclusive: the index may hold records still being written).
        int first = 0;
        while (2 * first < positions.length && positions[2 * first] < segs.get(0).firstSequence) {
            first++;
        }
        int last = positions.length / 2;
        while (last > first && positions[2 * (last - 1)] > end.sequence()) {
            last--;
        }
        List<JournalEntry> out = new ArrayList<>();
        try (IndexedReads reads = new IndexedReads(end, segs, environment, flagKey)) {
            // Versions grow with sequence numbers, so the page ends at the first change whose version is
            // at or above beforeVersion: a binary search that reads one record per step.
            int stop = last;
            if (beforeVersion != Long.MAX_VALUE) {
                int lo = first;
                int hi = last;
                while (lo < hi) {
                    int mid = (lo + hi) >>> 1;
                    JournalEntry e = reads.read(positions[2 * mid], positions[2 * mid + 1]);
                    if (e == null || e.version() < beforeVersion) {
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                stop = lo;
            }
            for (int i = Math.max(first, stop - maxEntries); i < stop; i++) {
                JournalEntry e = reads.read(positions[2 * i], positions[2 * i + 1]);
                if (e != null) {
                    out.add(e);
                }
            }
        } catch (IOException e) {
            throw new JournalException("cannot read the history of \"" + flagKey + "\" in \"" + environment
                    + "\": " + e, e);
        }
        return out;
    }

    /**
     * Not thread-safe (one per history read). Reads the records the history index points at, keeping
     * the file of the segment last read open, and checks each is a change of the flag asked for.
     */
    private final class IndexedReads implements AutoCloseable {
        private final Mark end;
        private final List<Recovery.SegmentInfo> segs;
        private final String environment;
        private final String flagKey;
        private int openSegment = -1;
        private FileChannel channel;
        private SegmentScanner scanner;

        IndexedReads(Mark end, List<Recovery.SegmentInfo> segs, String environment, String flagKey) {
            this.end = end;
            this.segs = segs;
            this.environment = environment;
            this.flagKey = flagKey;
        }

        /** The entry at a position, or null if retention removed its segment meanwhile. */
        JournalEntry read(long sequence, long offset) throws IOException {
            int s = segmentHolding(segs, sequence);
            if (s < 0) {
                return null;
            }
            Recovery.SegmentInfo seg = segs.get(s);
            if (s != openSegment) {
                close();
                try {
                    channel = FileChannel.open(seg.file, StandardOpenOption.READ);
                } catch (NoSuchFileException e) {
                    if (seg.firstSequence >= segments.get(0).firstSequence) {
                        throw new JournalException("segment " + seg.file + " disappeared: " + e, e);
                    }
                    return null; // removed by retention while we read: its entries are gone by configuration
                }
                long limit = seg == end.segment() ? end.offset() : channel.size();
                scanner = SegmentScanner.forRecordsAt(seg.file, channel, limit);
                openSegment = s;
            }
            return readIndexed(scanner, seg, sequence, offset, environment, flagKey);
        }

        @Override
        public void close() throws IOException {
            if (channel != null) {
                channel.close();
                channel = null;
                openSegment = -1;
            }
        }
    }

    /**
     * Indexes the flag changes the journal held when it opened, once: the first history read after an
     * open scans the journal (as every history read did before there was an index), and the ones after
     * it read only their flag's records. Done on demand rather than during the open, because decoding
     * every record's keys there doubled the open's time in a fresh JVM (docs/BENCHMARKS-journal.md).
     */
    private void indexOlderChanges() {
        if (olderIndexed) {
            return;
        }
        synchronized (olderIndexing) {
            if (olderIndexed) {
                return;
            }
            FlagHistoryIndex.Collector older;
            while (true) {
                older = new FlagHistoryIndex.Collector();
                if (indexedAfter == 0) {
                    break;
                }
                FlagHistoryIndex.Collector collecting = older;
                try {
                    scan(segments.get(0).firstSequence, (v, at) -> {
                        if (v.sequence() > indexedAfter) {
                            return false;
                        }
                        collecting.add(v, at);
                        return v.sequence() < indexedAfter;
                    });
                    break;
                } catch (RemovedWhileRead e) {
                    // Retention overtook the scan: index again from the oldest entry it left.
                }
            }
            historyIndex.addAllBefore(older.index());
            // Retention may have removed segments this scan had read, and their positions from the index, before they were
            // added just now (QA66 F7): reads skip them, but they would stay in memory and in the index's count for good.
            historyIndex.removeBefore(segments.get(0).firstSequence);
            historyIndex.removeEnvironments(state().deletedEnvironments()); // the older records of those deleted since
            olderIndexed = true;
        }
    }

    /** The index in {@code segs} of the segment that holds a sequence number, or -1 if none does. */
    private static int segmentHolding(List<Recovery.SegmentInfo> segs, long sequence) {
        int lo = 0;
        int hi = segs.size() - 1;
        int found = -1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (segs.get(mid).firstSequence <= sequence) {
                found = mid;
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return found;
    }

    /** Reads the flag change the history index points at, checking it is the one it should be. */
    private static JournalEntry readIndexed(SegmentScanner scanner, Recovery.SegmentInfo seg, long sequence,
            long offset, String environment, String flagKey) throws IOException {
        if (!scanner.readAt(offset, sequence)) {
            throw scanner.damage();
        }
        RecordCodec.View v = scanner.view();
        boolean clone = v.type() == EntryType.ENVIRONMENT_CLONED && environment.equals(v.environment());
        if (!clone && (!v.type().isFlagChange() || !flagKey.equals(v.subject()) || !environment.equals(v.environment()))) {
            throw new JournalCorruptedException(seg.file, offset, "the history index points at sequence "
                    + sequence + " for flag \"" + flagKey + "\" in \"" + environment + "\", but that entry is "
                    + v.type().label() + " of \"" + v.subject() + "\"");
        }
        try {
            return v.toEntry();
        } catch (RecordCodec.BadRecordException e) {
            throw new JournalCorruptedException(seg.file, offset, e.getMessage());
        }
    }

    /**
     * Scans the whole journal for a flag's changes: what {@link #history} answers from its index. For
     * tests, which hold the index to it.
     */
    List<JournalEntry> historyByScan(String environment, String flagKey) {
        ensureOpen();
        List<JournalEntry> out = new ArrayList<>();
        scan(1, (v, at) -> {
            if (v.type().isFlagChange() && flagKey.equals(v.subject())
                    && environment.equals(v.environment())) {
                out.add(v.toEntry());
            } else if (v.type() == EntryType.ENVIRONMENT_CLONED && environment.equals(v.environment())) {
                JournalEntry clone = v.toEntry();
                if (FlagHistoryIndex.copiedFlags(clone).contains(flagKey)) {
                    out.add(clone);
                }
            }
            return true;
        });
        return out;
    }

    /** @return the history index, once it holds every flag change (for tests) */
    FlagHistoryIndex completeHistoryIndex() {
        indexOlderChanges();
        return historyIndex;
    }

    @Override
    public List<JournalEntry> audit(Instant fromInclusive, Instant toExclusive, int maxEntries) {
        Objects.requireNonNull(fromInclusive, "fromInclusive");
        Objects.requireNonNull(toExclusive, "toExclusive");
        if (maxEntries < 0) {
            throw new IllegalArgumentException("max entries must be at least 0, was " + maxEntries);
        }
        ensureOpen();
        if (maxEntries == 0 || !fromInclusive.isBefore(toExclusive)) {
            return new ArrayList<>();
        }
        while (true) {
            try {
                return auditOnce(fromInclusive, toExclusive, maxEntries);
            } catch (RemovedWhileRead e) {
                // Retention removed entries this audit was reading: answer as a new call would, from the oldest left
                // (an audit range is allowed to start before the journal does; a hole inside the answer is not).
            }
        }
    }

    private List<JournalEntry> auditOnce(Instant fromInclusive, Instant toExclusive, int maxEntries) {
        List<JournalEntry> out = new ArrayList<>();
        // Timestamps never decrease, so skip segments whose successor already starts before the range.
        List<Recovery.SegmentInfo> segs = segments;
        long start = segs.get(0).firstSequence;
        for (int i = 0; i + 1 < segs.size(); i++) {
            Instant nextFirst = firstTimestamp(segs.get(i + 1));
            if (nextFirst == null || !nextFirst.isBefore(fromInclusive)) {
                break;
            }
            start = segs.get(i + 1).firstSequence;
        }
        scan(start, (v, at) -> {
            Instant t = v.timestamp();
            if (!t.isBefore(toExclusive)) {
                return false;
            }
            if (!t.isBefore(fromInclusive)) {
                out.add(v.toEntry());
            }
            return out.size() < maxEntries;
        });
        return out;
    }

    @Override
    public ServerState stateAt(long sequence) {
        ensureOpen();
        ServerState now = mark.state();
        if (sequence < 0 || sequence > now.sequence()) {
            throw new IllegalArgumentException("sequence must be between 0 and the last committed"
                    + " sequence " + now.sequence() + ", was " + sequence);
        }
        if (sequence == now.sequence()) {
            return now;
        }
        return replay(sequence, null);
    }

    @Override
    public ServerState stateAt(Instant time) {
        Objects.requireNonNull(time, "time");
        ensureOpen();
        ServerState now = mark.state();
        if (!time.isBefore(now.timestamp())) {
            return now;
        }
        return replay(now.sequence(), time);
    }

    /** Replays from the newest usable checkpoint up to a sequence number and (if given) a time. */
    private ServerState replay(long toSequence, Instant toTime) {
        replays.lock();
        try {
            return replayAlone(toSequence, toTime);
        } finally {
            replays.unlock();
        }
    }

    private ServerState replayAlone(long toSequence, Instant toTime) {
        MutableState state = null;
        try {
            for (Checkpoints.Ref ref : Checkpoints.list(dir)) {
                if (ref.sequence() > toSequence) {
                    continue;
                }
                try {
                    if (toTime != null && Checkpoints.readHeader(ref.file()).timestamp().isAfter(toTime)) {
                        continue;
                    }
                    state = Checkpoints.read(ref.file()).state();
                    break;
                } catch (NoSuchFileException e) {
                    // removed by a newer checkpoint meanwhile: try the next older one
                } catch (JournalCorruptedException e) {
                    LOG.warn("journal: skipped damaged checkpoint for time travel: {}", e.getMessage());
                }
            }
        } catch (IOException e) {
            throw new JournalException("cannot list checkpoints in " + dir + ": " + e, e);
        }
        long oldest = segments.get(0).firstSequence;
        if (state == null) {
            if (oldest > 1) {
                throw new IllegalArgumentException("the state at " + (toTime != null ? toTime : "sequence "
                        + toSequence) + " is not available: entries before sequence " + oldest
                        + " were removed by retention and no retained checkpoint is old enough");
            }
            state = new MutableState();
        } else if (state.sequence() + 1 < oldest) {
            throw new IllegalArgumentException("the state at " + (toTime != null ? toTime
                    : "sequence " + toSequence) + " is not available: entries after the checkpoint at "
                    + state.sequence() + " were removed by retention");
        }
        MutableState target = state;
        long from = state.sequence() + 1;
        if (from <= toSequence) {
            scan(from, (v, at) -> {
                if (v.sequence() > toSequence || (toTime != null && v.timestamp().isAfter(toTime))) {
                    return false;
                }
                if (v.sequence() >= from) {
                    target.apply(v.toEntry());
                }
                return true;
            });
        }
        return target.freeze();
    }

    /** Reads one record at a time; return false to stop. */
    private interface Visitor {
        boolean visit(RecordCodec.View record, long offset) throws RecordCodec.BadRecordException;
    }

    /**
     * Retention removed a segment a scan had still to read: the entries it returns or the state it rebuilds would have a
     * gap, so it fails as a read of entries removed by retention does (an IllegalArgumentException, which callers
     * take for "removed by retention"); a new scan starts from the oldest retained entry.
     */
    private static final class RemovedWhileRead extends IllegalArgumentException {
        RemovedWhileRead(String message) {
            super(message);
        }
    }

    /**
     * Visits committed records from the segment holding {@code fromSequence} on (records before it in
     * that segment are visited too: the visitor skips them), each sequence number once and none left out.
     * Stops at the durable mark; whatever lies beyond it is being written and is not read.
     *
     * @throws RemovedWhileRead if retention removed a segment before the scan could open it
     */
    private void scan(long fromSequence, Visitor visitor) {
        Mark end = mark;
        List<Recovery.SegmentInfo> segs = segments;
        int start = 0;
        for (int i = 0; i < segs.size(); i++) {
            if (segs.get(i).firstSequence <= fromSequence) {
                start = i;
            }
        }
        long expected = -1; // the sequence the next segment must start at, once one was read to its end
        for (int i = start; i < segs.size(); i++) {
            Recovery.SegmentInfo seg = segs.get(i);
            if (seg.firstSequence > end.sequence()) {
                return;
            }
            if (expected >= 0 && seg.firstSequence != expected) {
                // Each segment's scanner checks its own numbering only: one that ends early would go unnoticed.
                throw new JournalCorruptedException(seg.file, 0, Segments.gap(segs.get(i - 1).file, expected - 1,
                        seg.file, seg.firstSequence));
            }
            hooks.beforeScanOpens(seg.file);
            try (FileChannel ch = FileChannel.open(seg.file, StandardOpenOption.READ)) {
                long limit = seg == end.segment() ? end.offset() : ch.size();
                SegmentScanner scanner = new SegmentScanner(seg.file, ch, seg.firstSequence, limit);
                while (scanner.next()) {
                    RecordCodec.View v = scanner.view();
                    if (v.sequence() > end.sequence()) {
                        return;
                    }
                    try {
                        if (!visitor.visit(v, scanner.recordOffset())) {
                            return;
                        }
                    } catch (RecordCodec.BadRecordException e) {
                        throw new JournalCorruptedException(seg.file, scanner.recordOffset(), e.getMessage());
                    }
                    if (v.sequence() == end.sequence()) {
                        return;
                    }
                }
                if (scanner.problem() != null && scanner.lastSequence() < end.sequence()) {
                    throw scanner.damage();
                }
                expected = scanner.lastSequence() + 1;
            } catch (NoSuchFileException e) {
                long oldest = segments.get(0).firstSequence;
                if (seg.firstSequence >= oldest) {
                    throw new JournalException("segment " + seg.file + " disappeared: " + e, e);
                }
                // Removed by retention while we read. Going on with the next file would skip its entries: a read
                // with a hole in its sequence numbers, a past state without their changes (QA66 F1).
                throw new RemovedWhileRead("sequence " + Math.max(seg.firstSequence, fromSequence) + " was removed by"
                        + " retention while it was read; the oldest retained entry is " + oldest);
            } catch (IOException e) {
                throw new JournalException("cannot read " + seg.file + ": " + e, e);
            }
        }
    }

    /** The first entry's timestamp of a committed segment, or null if it has none yet. */
    private Instant firstTimestamp(Recovery.SegmentInfo seg) {
        Instant known = seg.firstTimestamp;
        if (known != null) {
            return known;
        }
        Mark end = mark;
        if (seg.firstSequence > end.sequence()) {
            return null;
        }
        try (FileChannel ch = FileChannel.open(seg.file, StandardOpenOption.READ)) {
            long limit = seg == end.segment() ? end.offset() : ch.size();
            SegmentScanner scanner = new SegmentScanner(seg.file, ch, seg.firstSequence, limit);
            if (scanner.next()) {
                seg.firstTimestamp = scanner.view().timestamp();
                return seg.firstTimestamp;
            }
            if (scanner.problem() != null) {
                throw scanner.damage();
            }
            return null;
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw new JournalException("cannot read " + seg.file + ": " + e, e);
        }
    }

    private void ensureOpen() {
        if (closed.get()) {
            throw new JournalException("journal is closed: " + dir);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Closing

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        lock.lock();
        try {
            closing = true;
            workReady.signalAll();
        } finally {
            lock.unlock();
        }
        boolean interrupted = joinUninterruptibly(syncThread);
        synchronized (checkpointSignal) {
            checkpointStop = true;
            checkpointSignal.notifyAll();
        }
        interrupted |= joinUninterruptibly(checkpointThread);
        if (failure == null && active != null) {
            try { // the writer's last look, now that it has stopped: a final checkpoint must not hide a changed file
                ownedFiles.check(active, activeSize);
            } catch (IOException | RuntimeException e) {
                stop(e, List.of());
            }
        }
        boolean segmentChanged = failure != null && failure.getCause() instanceof OwnedFiles.SegmentChangedException;
        long keptAt = -1;
        if (segmentChanged) {
            // What was acknowledged is in memory only (the segment is gone, replaced or cut): kept in a checkpoint, which
            // the next start finds ahead of the journal and refuses, offering the repair that keeps it.
            try {
                keptAt = writeCheckpoint();
            } catch (IOException | RuntimeException e) {
                LOG.warn("journal: cannot write a checkpoint of the acknowledged state after its segment {} changed: {}",
                        activeSegment.file, e.toString());
            }
        }
        if (failure == null) {
            try {
                writeCheckpoint();
            } catch (IOException | RuntimeException e) {
                if (Files.exists(activeSegment.file)) {
                    LOG.warn("journal: final checkpoint failed in {}: {}; the next open replays more of the"
                            + " journal", dir, e.toString());
                } else {
                    LOG.error("journal: final checkpoint failed in {}: {}; and the journal's segment {} is gone (deleted or"
                            + " moved while the server ran): restore the journal from a backup before the next start",
                            dir, e.toString(), activeSegment.file);
                }
            }
        }
        boolean segmentBack = keptAt >= 0 && segmentIsBackWhole(); // before the close: compared with the open file
        closeQuietly();
        if (failure == null) {
            LOG.info("journal closed: {} (last sequence {})", dir, mark.sequence());
        } else if (segmentBack) {
            LOG.warn("journal closed after its segment {} changed under the server: wrote a checkpoint of every"
                    + " acknowledged entry (sequence {}) in {}; the segment is back with every acknowledged byte (copied back"
                    + " as the rescue line said), so the next start recovers every entry, its history too",
                    activeSegment.file, keptAt, dir);
        } else if (keptAt >= 0) {
            LOG.error("journal closed after its segment {} changed under the server: wrote a checkpoint of every"
                    + " acknowledged entry (sequence {}) in {}; the next start refuses until the journal tool's repair"
                    + " --from-checkpoint keeps that state (docs/journal.md)", activeSegment.file, keptAt, dir);
        } else if (segmentChanged && Files.exists(activeSegment.file)) {
            LOG.error("journal closed after its segment {} was replaced or cut short under the server: {} (last"
                    + " acknowledged sequence {}); the entries acknowledged since the last checkpoint are lost unless a"
                    + " backup has them: restore the journal from a backup (docs/journal.md) before the next start",
                    activeSegment.file, dir, mark.sequence());
        } else if (failure.getCause() instanceof OwnedFiles.LockLostException lost) {
            LOG.error("journal closed after its lock file was deleted or replaced: {} (last acknowledged sequence {}; no"
                    + " checkpoint written); {} before the next start", dir, mark.sequence(), lost.remedy());
        } else if (!Files.exists(activeSegment.file)) {
            // Nothing to recover from: the next start refuses (journal-created), and only a backup has the entries.
            LOG.error("journal closed after its segment {} was deleted or moved while the server ran: {} (last acknowledged"
                    + " sequence {}); nothing here can recover it: restore the journal from a backup (docs/journal.md) before"
                    + " the next start", activeSegment.file, dir, mark.sequence());
        } else {
            LOG.warn("journal closed after it stopped: {} (last acknowledged sequence {}; no checkpoint written; the next"
                    + " open recovers what was acknowledged)", dir, mark.sequence());
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private static boolean joinUninterruptibly(Thread t) {
        boolean interrupted = false;
        while (true) {
            try {
                t.join();
                return interrupted;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
    }

    /**
     * Not thread-safe. Settings for a {@link FileJournal}; each setter checks its value at once.
     *
     * <table>
     *   <caption>settings</caption>
     *   <tr><th>setting</th><th>default</th></tr>
     *   <tr><td>{@link #clock}</td><td>{@link Clock#systemUTC()}</td></tr>
     *   <tr><td>{@link #segmentSize}</td><td>64 MiB</td></tr>
     *   <tr><td>{@link #checkpointInterval}</td><td>10,000 entries</td></tr>
     *   <tr><td>{@link #checkpointsToKeep}</td><td>2</td></tr>
     *   <tr><td>{@link #retention}</td><td>keep every segment</td></tr>
     *   <tr><td>{@link #segmentMaxAge}</td><td>with a retention: a tenth of it, 1 hour to 1 day</td></tr>
     *   <tr><td>{@link #maxPayloadBytes}</td><td>1 MiB and {@value FileJournal#PAYLOAD_HEADROOM} bytes</td></tr>
     *   <tr><td>{@link #maxActorLength}</td><td>256 characters</td></tr>
     *   <tr><td>{@link #maxCommentLength}</td><td>2,048 characters</td></tr>
     *   <tr><td>{@link #fileCheckInterval}</td><td>2 seconds</td></tr>
     * </table>
     */
    public static final class Builder {
        private final Path directory;
        private Clock clock = Clock.systemUTC();
        private long segmentSize = 64L << 20;
        private long checkpointInterval = 10_000;
        private int checkpointsToKeep = 2;
        private Duration retention;
        private Duration segmentMaxAge;
        private int maxPayloadBytes = dev.flags.core.FlagFormat.MAX_FLAG_BYTES + PAYLOAD_HEADROOM;
        private int maxActorLength = 256;
        private int maxCommentLength = 2048;
        private Hooks hooks = Hooks.NONE;
        private String holder = "a journal";
        private Duration fileCheckInterval = Duration.ofSeconds(2);

        private Builder(Path directory) {
            this.directory = Objects.requireNonNull(directory, "directory");
        }

        /**
         * Sets the clock that timestamps entries (and decides what retention removes).
         *
         * @param clock the clock
         * @return this builder
         * @throws NullPointerException if clock is null
         */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * Names what holds the journal open, as a process refused its lock is told ("locked by another process
         * (pid 4242, flags-server, since ...)"): the server, or a tool.
         *
         * @param name a short name, on one line
         * @return this builder
         * @throws IllegalArgumentException if name is blank or has a control character
         */
        public Builder holder(String name) {
            if (name == null || name.isBlank() || name.chars().anyMatch(Character::isISOControl)) {
                throw new IllegalArgumentException("holder must be a name on one line, was " + name);
            }
            this.holder = name;
            return this;
        }

        /**
         * Sets the size at which a segment file is closed and a new one started (a single larger
         * record gets a segment of its own).
         *
         * @param bytes between 4 KiB and 1 GiB
         * @return this builder
         * @throws IllegalArgumentException if bytes is out of range
         */
        public Builder segmentSize(long bytes) {
            if (bytes < 4096 || bytes > (1L << 30)) {
                throw new IllegalArgumentException(
                        "segment size must be between 4096 and 1073741824 bytes, was " + bytes);
            }
            this.segmentSize = bytes;
            return this;
        }

        /**
         * Sets how many committed entries may follow the newest checkpoint before a new one is
         * written in the background; this bounds what an open replays.
         *
         * @param entries at least 1
         * @return this builder
         * @throws IllegalArgumentException if entries is below 1
         */
        public Builder checkpointInterval(long entries) {
            if (entries < 1) {
                throw new IllegalArgumentException("checkpoint interval must be at least 1 entry, was "
                        + entries);
            }
            this.checkpointInterval = entries;
            return this;
        }

        /**
         * With a {@link #retention}, sets how long a segment takes entries before the next write starts a new one and
         * asks for a checkpoint, so that retention, which removes whole segments, can remove old entries on a journal
         * that fills its segments slowly. Without a retention it does nothing.
         *
         * @param age positive; by default a tenth of the retention, from 1 hour to 1 day
         * @return this builder
         * @throws IllegalArgumentException if age is not positive
         */
        public Builder segmentMaxAge(Duration age) {
            if (age == null || age.isNegative() || age.isZero()) {
                throw new IllegalArgumentException("segment max age must be positive, was " + age);
            }
            this.segmentMaxAge = age;
            return this;
        }

        /**
         * Sets how many checkpoint files are kept (the newest sound ones; a damaged one does not count);
         * older ones are deleted. More than one lets an open fall back when the newest is damaged.
         *
         * @param count at least 1
         * @return this builder
         * @throws IllegalArgumentException if count is below 1
         */
        public Builder checkpointsToKeep(int count) {
            if (count < 1) {
                throw new IllegalArgumentException("checkpoints to keep must be at least 1, was " + count);
            }
            this.checkpointsToKeep = count;
            return this;
        }

        /**
         * Sets how long old segments are kept for history, audit and time travel. A segment is removed
         * only when all its entries are older than this and covered by every kept checkpoint. Without
         * this setting every segment is kept forever.
         *
         * @param period a positive duration
         * @return this builder
         * @throws NullPointerException if period is null
         * @throws IllegalArgumentException if period is zero or negative
         */
        public Builder retention(Duration period) {
            Objects.requireNonNull(period, "period");
            if (period.isZero() || period.isNegative()) {
                throw new IllegalArgumentException("retention must be positive, was " + period);
            }
            this.retention = period;
            return this;
        }

        /**
         * Sets the largest payload (canonical JSON) an entry may carry.
         *
         * @param bytes between 1 KiB and 16 MiB
         * @return this builder
         * @throws IllegalArgumentException if bytes is out of range
         */
        public Builder maxPayloadBytes(int bytes) {
            if (bytes < 1024 || bytes > RecordCodec.MAX_PAYLOAD_BYTES) {
                throw new IllegalArgumentException("max payload must be between 1024 and "
                        + RecordCodec.MAX_PAYLOAD_BYTES + " bytes, was " + bytes);
            }
            this.maxPayloadBytes = bytes;
            return this;
        }

        /**
         * Sets the longest actor an entry may name.
         *
         * @param characters between 1 and 4096
         * @return this builder
         * @throws IllegalArgumentException if characters is out of range
         */
        public Builder maxActorLength(int characters) {
            if (characters < 1 || characters > 4096) {
                throw new IllegalArgumentException("max actor length must be between 1 and 4096"
                        + " characters, was " + characters);
            }
            this.maxActorLength = characters;
            return this;
        }

        /**
         * Sets the longest comment an entry may carry.
         *
         * @param characters between 0 and 4096
         * @return this builder
         * @throws IllegalArgumentException if characters is out of range
         */
        public Builder maxCommentLength(int characters) {
            if (characters < 0 || characters > 4096) {
                throw new IllegalArgumentException("max comment length must be between 0 and 4096"
                        + " characters, was " + characters);
            }
            this.maxCommentLength = characters;
            return this;
        }

        /**
         * Sets how long a journal with nothing to write waits before it checks anyway that its segment and lock file
         * are still the ones it opened (it checks at every write too): a file deleted, replaced or cut short under an
         * idle server stops the journal within this time, so that health checks tell, instead of at the next write.
         *
         * @param interval between 10 ms and 1 hour
         * @return this builder
         * @throws IllegalArgumentException if interval is out of range
         */
        public Builder fileCheckInterval(Duration interval) {
            if (interval == null || interval.compareTo(Duration.ofMillis(10)) < 0 || interval.compareTo(Duration.ofHours(1)) > 0) {
                throw new IllegalArgumentException("file check interval must be between 10 ms and 1 hour, was " + interval);
            }
            this.fileCheckInterval = interval;
            return this;
        }

        Builder hooks(Hooks hooks) {
            this.hooks = Objects.requireNonNull(hooks, "hooks");
            return this;
        }

        /**
         * Opens the journal: takes the directory's lock, recovers the state, checks every retained
         * record (older ones by checksum only, on up to 4 short-lived threads), and starts the
         * journal's threads. Blocks while it recovers; the check of older records costs about 0.06 s
         * per million retained entries with the files in the page cache, about 0.4 s from a cold disk
         * (see docs/BENCHMARKS-journal.md).
         *
         * @return the open journal
         * @throws JournalLockedException if another journal (in any process) has the directory open
         * @throws JournalCorruptedException if the journal is damaged anywhere before its tail, or a
         *     checkpoint is newer than the journal; the message names the file, the byte offset and
         *     the {@link JournalTool} command to run; nothing on disk was changed
         * @throws JournalException if the directory cannot be read or written
         */
        public FileJournal open() {
            try {
                return new FileJournal(this);
            } catch (IOException e) {
                throw new JournalException("cannot open journal in " + directory + ": " + describe(e), e);
            }
        }

        /**
         * A file problem as an operator reads it: the file and why, without the exception's class (a
         * refused lock file says whose it is and what to do, see {@link DirectoryLock}).
         */
        static String describe(IOException e) {
            if (e instanceof AccessDeniedException denied && denied.getReason() == null && denied.getFile() != null) {
                // Who owns the file, its mode and who this process is: a wrong owner and a wrong mode need different fixes.
                Path file = Path.of(denied.getFile()).toAbsolutePath();
                return denied.getFile() + ": " + DirectoryLock.accessDenied(file.getParent(), file);
            }
            if (e instanceof FileSystemException fs) {
                String reason = fs.getReason() != null ? fs.getReason()
                        : fs instanceof NoSuchFileException ? "no such file or directory"
                        : fs.getClass().getSimpleName();
                return fs.getFile() + (fs.getOtherFile() == null ? "" : " (and " + fs.getOtherFile() + ")") + ": " + reason;
            }
            return e.toString();
        }
    }

    /** "1 segment", "2 segments": for the journal's log lines and the journal tool. */
    static String count(long n, String one, String many) {
        return n + " " + (n == 1 ? one : many);
    }
}
