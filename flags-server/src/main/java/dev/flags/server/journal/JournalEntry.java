package dev.flags.server.journal;

import java.time.Instant;
import java.util.Objects;

/**
 * Immutable. One committed change: what happened, where, the version it produced, when, who, why,
 * and the change itself.
 *
 * <p>Entries are numbered by a global sequence (1, 2, 3, ... across all environments, without gaps).
 * For an environment entry, {@link #version()} is the environment's version after this change
 * (versions count 1, 2, 3, ... per environment); for a global entry (tokens) it is the new version
 * of the token set, and {@link #environment()} is null. Timestamps never go backwards in a journal.
 * The payload of a flag entry is the flag's full definition, so any version can be shown or diffed
 * without replaying others.
 *
 * <pre>{@code
 * for (JournalEntry e : journal.history("production", "billing-v2")) {
 *   System.out.printf("v%d %s %s by %s: %s%n", e.version(), e.timestamp(), e.type(), e.actor(),
 *       e.comment());
 * }
 * }</pre>
 *
 * @param sequence the global sequence number, from 1
 * @param type what happened
 * @param environment the environment's key; null for global types
 * @param version the environment's (or, for global types, the token set's) new version, from 1
 * @param timestamp when the journal accepted the change
 * @param actor who made the change
 * @param comment why, or the empty string
 * @param subject what the change is about within the environment: the flag key, user id, role or
 *     token id (see {@link EntryType}); the empty string for environment entries
 * @param payload the change itself, a JSON object
 */
public record JournalEntry(
        long sequence,
        EntryType type,
        String environment,
        long version,
        Instant timestamp,
        String actor,
        String comment,
        String subject,
        CanonicalJson payload) {

    /**
     * Checks the entry's shape.
     *
     * @throws NullPointerException if a part other than environment is null, or environment is null
     *     for an environment type
     * @throws IllegalArgumentException if sequence or version is below 1, or a global type names an
     *     environment
     */
    public JournalEntry {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(timestamp, "timestamp");
        Objects.requireNonNull(actor, "actor");
        Objects.requireNonNull(comment, "comment");
        Objects.requireNonNull(subject, "subject");
        Objects.requireNonNull(payload, "payload");
        if (type.isGlobal()) {
            if (environment != null) {
                throw new IllegalArgumentException(
                        type.label() + " entries are global and have no environment, was \"" + environment
                                + "\"");
            }
        } else {
            Objects.requireNonNull(environment, "environment");
        }
        if (sequence < 1) {
            throw new IllegalArgumentException("sequence must be at least 1, was " + sequence);
        }
        if (version < 1) {
            throw new IllegalArgumentException("version must be at least 1, was " + version);
        }
    }

    /**
     * The definition of a flag this entry gave it, as history shows it: the payload of a flag's
     * creation, update or revert (a scheduled update included), or the copy an environment's clone made of it.
     *
     * @param flagKey the flag
     * @return the definition (a fresh tree), or empty for other entries and flags
     */
    public java.util.Optional<com.fasterxml.jackson.databind.JsonNode> flagDefinition(String flagKey) {
        if (type == EntryType.FLAG_CREATED || type == EntryType.FLAG_UPDATED) {
            return java.util.Optional.of(payload.toJsonNode());
        }
        if (type == EntryType.SCHEDULE_APPLIED || type == EntryType.FLAG_REVERTED) {
            return java.util.Optional.ofNullable(payload.toJsonNode().get("flag"));
        }
        if (type == EntryType.ENVIRONMENT_CLONED) {
            return java.util.Optional.ofNullable(FlagHistoryIndex.copiedDefinition(this, flagKey));
        }
        return java.util.Optional.empty();
    }
}
