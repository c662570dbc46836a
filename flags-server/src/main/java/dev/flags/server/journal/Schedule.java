package dev.flags.server.journal;

import java.time.Instant;
import java.util.Locale;
import java.util.Objects;

/**
 * Immutable. A scheduled flag change as the journal's entries made it: a flag PATCH body to apply at a
 * time, who asked for it and why, and how it ended.
 *
 * <p>A schedule is made by a {@code SCHEDULE_CREATED} entry (its actor, timestamp and comment are
 * {@link #createdBy()}, {@link #createdAt()} and {@link #comment()}) and ends with exactly one of
 * {@code SCHEDULE_APPLIED} (the flag changed), {@code SCHEDULE_ENDED} (the server could not apply it,
 * or it changed nothing) or {@code SCHEDULE_CANCELLED}. Ended schedules are kept for a while (the
 * newest {@link #KEPT_ENDED} per environment) so that their outcome can be read.
 *
 * <pre>{@code
 * Schedule s = journal.state().environment("production").orElseThrow().schedules().get("sch-4f2a9c01d3e7");
 * if (s.status() == Schedule.Status.FAILED) System.out.println(s.reason());
 * }</pre>
 *
 * @param id the schedule's id, {@code sch-} and 12 hex digits
 * @param flag the key of the flag it changes
 * @param at when it is due
 * @param patch the PATCH body it applies, exactly as {@code PATCH .../flags/{key}} takes it
 * @param createdBy the actor that made it
 * @param createdAt when the journal recorded it
 * @param comment why (the empty string for none); the applied change carries it too
 * @param status where it stands
 * @param endedAt when it ended, or null while pending
 * @param endedBy who ended it (the server, or who cancelled it), or null while pending
 * @param reason why it failed, was cancelled or changed nothing; null while pending and when applied
 * @param flagVersion the flag version it made, or 0 (not applied, or applied without a change)
 */
public record Schedule(String id, String flag, Instant at, CanonicalJson patch, String createdBy, Instant createdAt,
        String comment, Status status, Instant endedAt, String endedBy, String reason, long flagVersion) {

    /** How many ended schedules an environment keeps for reading, newest first; older ones leave the state (the journal keeps them). */
    public static final int KEPT_ENDED = 100;

    /** Where a schedule stands: a closed set. */
    public enum Status {
        /** Waiting for its time. */
        PENDING,
        /** Applied: the flag changed (or already was as the change makes it: {@link #flagVersion()} 0). */
        APPLIED,
        /** The server could not apply it at its time (the flag was gone, or the result was not valid). */
        FAILED,
        /** Cancelled before its time. */
        CANCELLED;

        /** @return the lowercase name the API shows, e.g. {@code pending} */
        public String apiName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * Checks the parts.
     *
     * @throws NullPointerException if a part that every schedule has is null
     */
    public Schedule {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(flag, "flag");
        Objects.requireNonNull(at, "at");
        Objects.requireNonNull(patch, "patch");
        Objects.requireNonNull(createdBy, "createdBy");
        Objects.requireNonNull(createdAt, "createdAt");
        Objects.requireNonNull(status, "status");
        comment = comment == null ? "" : comment;
    }

    /** @return true while it waits for its time */
    public boolean pending() {
        return status == Status.PENDING;
    }

    /** @return this schedule ended as given */
    Schedule ended(Status how, Instant when, String by, String why, long version) {
        return new Schedule(id, flag, at, patch, createdBy, createdAt, comment, how, when, by, why, version);
    }
}
