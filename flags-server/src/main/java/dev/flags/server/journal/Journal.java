package dev.flags.server.journal;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Thread-safe. The flag server's source of truth: an append-only, durable log of every change, and
 * the state those changes add up to.
 *
 * <p>The rest of the server talks only to this interface; {@link FileJournal} is the embedded
 * implementation, and a replicated backend can be added behind it later. Every method may be called
 * from any thread. {@link #append} blocks until the change is on stable storage; the read methods
 * see exactly the committed entries, never one that has not been acknowledged. After {@link
 * #close()} every method but {@code close} throws {@link JournalException}.
 *
 * <pre>{@code
 * try (Journal journal = FileJournal.builder(Path.of("data/journal")).open()) {
 *   JournalEntry saved = journal.append(
 *       Change.of(EntryType.FLAG_UPDATED, "production", "alice@example.com", flagJson)
 *           .withComment("ramp to 10%"));
 *   ServerState now = journal.state();           // includes the change
 *   journal.history("production", "billing-v2");  // every version, who / when / why
 * }
 * }</pre>
 */
public interface Journal extends AutoCloseable {

    /**
     * Appends a change and returns it once it is durable (forced to stable storage) and applied to
     * {@link #state()}. Concurrent callers share one force (group commit).
     *
     * <p>The change is checked against the journal's limits and the current state first; a rejected
     * change appends nothing. A change that was checked and written is committed even if the calling
     * thread is interrupted while it waits (the interrupt status is kept).
     *
     * @param change the change
     * @return the committed entry, with its sequence number, new version and timestamp
     * @throws NullPointerException if change is null
     * @throws IllegalArgumentException if the change is malformed: a limit is exceeded, a required
     *     payload field is missing, a global type names an environment, or a token payload contains a
     *     secret
     * @throws ChangeConflictException if the change does not fit the current state
     * @throws JournalException if the journal is closed, or stopped after an i/o failure (nothing is
     *     acknowledged after such a failure; reopen the journal (restart the server) to recover; a change whose append
     *     failed this way may or may not be in the journal after the reopen)
     */
    JournalEntry append(Change change);

    /**
     * Returns committed entries in sequence order, starting at a sequence number.
     *
     * @param fromSequence the first sequence number wanted (1 for the beginning)
     * @param maxEntries the most entries to return
     * @return up to maxEntries entries, with consecutive sequence numbers; empty if fromSequence is past the end
     * @throws IllegalArgumentException if fromSequence is below 1, maxEntries is negative, or
     *     fromSequence is before the oldest retained entry (also when retention removes entries the read
     *     has still to return while it reads: it never returns entries with a gap)
     * @throws JournalCorruptedException if a file read is damaged
     * @throws JournalException if the journal is closed or cannot be read
     */
    List<JournalEntry> read(long fromSequence, int maxEntries);

    /**
     * Returns every committed entry of one flag in one environment, oldest first: each version with
     * who, when, why and the full definition. A clone that copied the flag into the environment is its
     * first entry there: an {@code ENVIRONMENT_CLONED} entry, whose payload holds the copy under
     * {@code flags} (or {@code archivedFlags}) and the flag's key. {@link FileJournal} reads only the flag's
     * records, through an index; its first call after an open builds that index with one scan.
     *
     * @param environment the environment's key
     * @param flagKey the flag's key
     * @return the flag's entries; empty if there are none in the retained journal
     * @throws NullPointerException if an argument is null
     * @throws JournalCorruptedException if a file read is damaged
     * @throws JournalException if the journal is closed or cannot be read
     */
    default List<JournalEntry> history(String environment, String flagKey) {
        return history(environment, flagKey, Long.MAX_VALUE, Integer.MAX_VALUE);
    }

    /**
     * Returns one page of a flag's history: the newest {@code maxEntries} of its committed entries
     * whose environment version is below {@code beforeVersion}, oldest first. Pass the first returned
     * entry's version as the next page's {@code beforeVersion} to go further back.
     *
     * @param environment the environment's key
     * @param flagKey the flag's key
     * @param beforeVersion only entries with a lower environment version; {@code Long.MAX_VALUE} for the newest
     * @param maxEntries at most this many
     * @return the entries, oldest first; empty if there are none
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if beforeVersion is below 1 or maxEntries is negative
     * @throws JournalCorruptedException if a file read is damaged
     * @throws JournalException if the journal is closed or cannot be read
     */
    List<JournalEntry> history(String environment, String flagKey, long beforeVersion, int maxEntries);

    /**
     * Returns the committed entries whose timestamps fall in a range, oldest first: the audit log.
     *
     * @param fromInclusive the start of the range
     * @param toExclusive the end of the range
     * @param maxEntries the most entries to return; to read on, call {@link #read} from the last
     *     entry's sequence number plus one
     * @return up to maxEntries entries
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if maxEntries is negative
     * @throws JournalCorruptedException if a file read is damaged
     * @throws JournalException if the journal is closed or cannot be read
     */
    List<JournalEntry> audit(Instant fromInclusive, Instant toExclusive, int maxEntries);

    /**
     * Returns the state after the last committed entry. Never blocks.
     *
     * @return the current state
     * @throws JournalException if the journal is closed
     */
    ServerState state();

    /**
     * Returns the state as it was right after an entry: time travel by sequence number.
     * A past state is rebuilt beside the current one, one at a time: a call waits for one in progress.
     *
     * @param sequence the last entry to include; 0 for the empty state
     * @return the state at that point
     * @throws IllegalArgumentException if sequence is negative or past the last committed entry, or
     *     the entries needed were removed by retention (before or during the rebuild) and no retained
     *     checkpoint is old enough
     * @throws JournalCorruptedException if a file read is damaged
     * @throws JournalException if the journal is closed or cannot be read
     */
    ServerState stateAt(long sequence);

    /**
     * Returns the state as it was at an instant: every entry with a timestamp at or before it.
     * A past state is rebuilt beside the current one, one at a time: a call waits for one in progress.
     *
     * @param time the instant
     * @return the state at that time; the empty state for a time before the first entry
     * @throws NullPointerException if time is null
     * @throws IllegalArgumentException if the entries needed were removed by retention (before or
     *     during the rebuild) and no retained checkpoint is old enough
     * @throws JournalCorruptedException if a file read is damaged
     * @throws JournalException if the journal is closed or cannot be read
     */
    ServerState stateAt(Instant time);

    /**
     * Returns the sequence number of the last committed entry.
     *
     * @return the sequence number, or 0 if the journal is empty
     * @throws JournalException if the journal is closed
     */
    long lastSequence();

    /**
     * Returns the sequence number of the oldest entry the journal still holds: 1 unless retention
     * removed older ones (history, audit and time travel then start there).
     *
     * @return the sequence number, 1 or more (one past {@link #lastSequence()} if no entry is held)
     * @throws JournalException if the journal is closed
     */
    long oldestRetainedSequence();

    /**
     * Returns why the journal stopped, if an i/o failure stopped it: from then on every {@link #append}
     * fails until the journal is reopened (for the server: until it is restarted). Never blocks, never
     * throws, and may be called after {@link #close()}; health checks call it.
     *
     * @return the failure, such as {@code java.io.IOException: No space left on device; nothing after
     *     sequence 41 is acknowledged}; empty while the journal works (or was closed without one)
     */
    Optional<String> failure();

    /**
     * Commits what was already accepted, then releases the journal's files. Idempotent; never throws
     * a checked exception. Problems while closing are logged.
     */
    @Override
    void close();
}
