package dev.flags.server;

import dev.flags.server.journal.ActingTokenGoneException;
import dev.flags.server.journal.ChangeConflictException;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.Journal;
import dev.flags.server.journal.JournalException;
import dev.flags.server.journal.JournalEntry;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Thread-safe. The one way the server writes: appends a change to the journal (durable before it
 * returns), records metrics, and tells the sync fan-out which environment changed.
 *
 * <p>For graceful shutdown, {@link #drain(Duration)} stops new writes (they get 503) and waits for
 * the writes in flight to finish, so that every write that was accepted is acknowledged.
 */
public final class ChangeWriter {

    private final Journal journal;
    private final Metrics metrics;
    private final Consumer<String> environmentChanged;
    private final ReadWriteLock inFlight = new ReentrantReadWriteLock();
    /** One per existing environment written to: bounded by the environments, not by the names callers send. */
    private final Map<String, ReentrantLock> environmentLocks = new ConcurrentHashMap<>();
    private volatile boolean draining;

    /**
     * @param journal the journal
     * @param metrics where append counts and latencies go
     * @param environmentChanged called with the environment's key after each committed change to it
     */
    public ChangeWriter(Journal journal, Metrics metrics, Consumer<String> environmentChanged) {
        this.journal = Objects.requireNonNull(journal, "journal");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.environmentChanged = Objects.requireNonNull(environmentChanged, "environmentChanged");
    }

    /**
     * Appends a change and returns once it is durable.
     *
     * @param change the change
     * @return the committed entry
     * @throws ApiException 503 if the server is shutting down; 409/404 if the change does not fit; 401 if the token of
     *     the API request that makes it ({@link ActingToken}) was revoked while the request waited; 500
     *     (without a trace to log) if the journal has stopped after an i/o failure
     */
    public JournalEntry append(Change change) {
        change = ActingToken.stamp(change); // an API request's change lands only while its token is not revoked
        // Under the environment's lock, as every read-modify-write of it is (serialized): a write of the server's own
        // (a grant's expiry, a schedule's end) or a blind one (a schedule's cancel) appended between such a write's
        // read and its append made it fail with 412, a version it never asked about (QA50a F2). Reentrant: an append
        // inside serialized() takes the lock it holds.
        ReentrantLock lock = lockOf(change);
        if (lock == null) {
            return appendNow(change);
        }
        lock.lock();
        try {
            return appendNow(change);
        } finally {
            lock.unlock();
        }
    }

    /**
     * The lock of the environment a change writes to, or null for a change of none, or of one that does not exist yet
     * (its creation or clone: a clone holds its source's lock, and two clones, each of the other, must not deadlock).
     */
    private ReentrantLock lockOf(Change change) {
        String environment = change.environment();
        if (environment == null || change.type() == EntryType.ENVIRONMENT_CREATED || change.type() == EntryType.ENVIRONMENT_CLONED
                || !journal.state().environments().containsKey(environment)) {
            return null;
        }
        return environmentLocks.computeIfAbsent(environment, e -> new ReentrantLock());
    }

    private JournalEntry appendNow(Change change) {
        if (draining || !inFlight.readLock().tryLock()) {
            throw new ApiException(503, "shutting down", "the server is shutting down and accepts no changes; retry once it is back (it is the one server of its journal)");
        }
        try {
            if (draining) {
                throw new ApiException(503, "shutting down", "the server is shutting down and accepts no changes; retry once it is back (it is the one server of its journal)");
            }
            long start = System.nanoTime();
            JournalEntry entry;
            try {
                entry = journal.append(change);
            } catch (ChangeConflictException e) {
                throw translate(change, e);
            } catch (ActingTokenGoneException e) {
                // As the same request a moment later is answered: its token is unknown now.
                throw new ApiException(401, "unauthorized", e.getMessage());
            } catch (IllegalArgumentException e) {
                throw ApiException.badRequest(e.getMessage());
            } catch (JournalException e) {
                Optional<String> failure = journal.failure();
                if (failure.isPresent()) {
                    // The journal logged its stop once, with the trace; every later write fails the same way and
                    // is a line of the log, not another trace (on a full disk, a client retrying flooded the log).
                    throw new ApiException(500, "journal stopped", "journal stopped after an i/o failure: " + failure.get()
                            + "; nothing is written until the server is restarted");
                }
                throw e;
            }
            metrics.journalAppended(System.nanoTime() - start);
            if (entry.environment() != null) {
                environmentChanged.accept(entry.environment());
            }
            return entry;
        } finally {
            inFlight.readLock().unlock();
        }
    }

    /**
     * Runs a read-modify-write of one environment (read its state, compute a change, append it
     * expecting that state's version) while no other such write of the environment runs. Without
     * this, two product owners changing different flags at the same moment made one of them fail with
     * 412 for a version it never asked about; writes of other environments still run in parallel.
     *
     * @param environment the environment's key
     * @param work the read-modify-write
     * @return what {@code work} returns
     */
    public <T> T serialized(String environment, Supplier<T> work) {
        if (!journal.state().environments().containsKey(environment)) {
            return work.get(); // it will refuse the unknown environment; no lock is kept for a name nobody made
        }
        ReentrantLock lock = environmentLocks.computeIfAbsent(environment, e -> new ReentrantLock());
        lock.lock();
        try {
            return work.get();
        } finally {
            lock.unlock();
        }
    }

    private ApiException translate(Change change, ChangeConflictException e) {
        String message = e.getMessage();
        EntryType type = change.type();
        if (change.environment() != null && type != EntryType.ENVIRONMENT_CREATED && type != EntryType.ENVIRONMENT_CLONED
                && journal.state().wasDeleted(change.environment())) {
            // Lost a race with a delete: answered as the same request a moment later is (a create keeps its 409).
            return ApiException.notFound("environment", Access.deleted(change.environment()));
        }
        if (message.contains("does not exist")) {
            return new ApiException(404, "not found", message);
        }
        if (message.startsWith("expected ")) {
            return new ApiException(412, "version mismatch", message
                    + "; someone else changed it first: read it again and reapply your change");
        }
        return ApiException.conflict(message);
    }

    /**
     * Stops accepting writes and waits for those in flight.
     *
     * @param timeout how long to wait
     * @return true if every write in flight finished
     */
    public boolean drain(Duration timeout) {
        draining = true;
        try {
            boolean done = inFlight.writeLock().tryLock(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (done) {
                inFlight.writeLock().unlock();
            }
            return done;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** @return true once {@link #drain} was called */
    public boolean isDraining() {
        return draining;
    }
}
