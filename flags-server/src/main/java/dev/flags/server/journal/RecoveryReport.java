package dev.flags.server.journal;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Immutable. What a {@link FileJournal} did when it opened: where it started, how much it replayed,
 * and anything it had to cut or skip.
 *
 * <p>Every note is also logged at WARN level; an empty list means a clean start.
 *
 * @param checkpointSequence the sequence number of the checkpoint the state was loaded from, or 0
 *     if the whole journal was replayed
 * @param replayedEntries how many entries after the checkpoint were applied
 * @param verifiedEntries how many entries up to the checkpoint were checked (length, checksum,
 *     layout, sequence) but not applied: every retained entry is checked at open, so that damage
 *     anywhere before the tail stops it
 * @param lastSequence the sequence number of the last entry in the journal
 * @param segments how many segment files the journal has
 * @param discardedBytes how many bytes of a torn tail were cut off (0 if none)
 * @param notes human-readable lines about anything unusual: a torn tail cut, a damaged checkpoint
 *     skipped, leftover temporary files removed
 * @param duration how long opening took
 */
public record RecoveryReport(
        long checkpointSequence,
        long replayedEntries,
        long verifiedEntries,
        long lastSequence,
        int segments,
        long discardedBytes,
        List<String> notes,
        Duration duration) {

    /**
     * Copies the notes; null notes become an empty list.
     *
     * @throws NullPointerException if duration is null
     */
    public RecoveryReport {
        notes = notes == null ? List.of() : List.copyOf(notes);
        Objects.requireNonNull(duration, "duration");
    }
}
