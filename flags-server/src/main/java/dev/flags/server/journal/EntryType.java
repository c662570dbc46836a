package dev.flags.server.journal;

import java.util.Locale;

/**
 * Immutable. The kind of change a {@link JournalEntry} records: a closed set.
 *
 * <p>Each type is either scoped to an environment (the entry names the environment and carries the
 * environment's new version) or global (tokens: no environment, the entry carries the new version of
 * the token set). Each type documents the payload it expects and which payload field becomes the
 * entry's {@linkplain JournalEntry#subject() subject}. The journal stores every type under a stable
 * one-byte code, never the ordinal, so constants can be added without changing old files.
 */
public enum EntryType {

    /**
     * A flag was created (or an archived flag was restored) with this full definition; subject: the
     * flag key.
     *
     * <pre>{@code {"key": "billing-v2", "enabled": false, "rules": []}}</pre>
     */
    FLAG_CREATED(1, false, "key"),

    /**
     * A flag's full new definition; subject: the flag key.
     *
     * <pre>{@code {"key": "billing-v2", "enabled": true, "rules": [{"percentage": 10}]}}</pre>
     */
    FLAG_UPDATED(2, false, "key"),

    /**
     * A flag (active or archived) was deleted; subject: the flag key.
     *
     * <pre>{@code {"key": "billing-v2"}}</pre>
     */
    FLAG_DELETED(3, false, "key"),

    /**
     * An active flag was archived: kept, but no longer served; subject: the flag key.
     *
     * <pre>{@code {"key": "billing-v2"}}</pre>
     */
    FLAG_ARCHIVED(4, false, "key"),

    /**
     * A flag was reverted to an earlier version: its full new definition, equal to that version's but
     * for its own version number, and which version it went back to; subject: the flag key. A flag
     * change like {@link #FLAG_UPDATED}, marked so that history and audit say it was a revert whatever
     * the comment. {@code restored} is true when the flag was not served before (archived or deleted):
     * the revert brought it back, as a {@link #FLAG_CREATED} would; the journal refuses an entry whose
     * {@code restored} does not match its state.
     *
     * <pre>{@code {"key": "billing-v2", "revertedTo": 12, "restored": false,
     *  "flag": {"key": "billing-v2", "enabled": true, "version": 15, "rules": [{"percentage": 10}]}}}</pre>
     */
    FLAG_REVERTED(5, false, "key"),

    /**
     * An environment was created; the payload is its metadata; no subject.
     *
     * <pre>{@code {"name": "Production"}}</pre>
     */
    ENVIRONMENT_CREATED(10, false, null),

    /**
     * An environment was created as a copy of another one's flags, archived flags and self-service
     * roles (not its role grants); no subject. The caller gives {@code source}; the journal adds
     * {@code sourceVersion}, {@code flags}, {@code archivedFlags} and {@code selfServiceRoles} to the
     * stored payload, so that the entry alone says what was copied.
     *
     * <pre>{@code {"source": "staging", "name": "Production"}}</pre>
     */
    ENVIRONMENT_CLONED(11, false, null),

    /**
     * An environment was archived: it stays readable and accepts no further changes; no subject.
     *
     * <pre>{@code {"reason": "region closed"}}</pre>
     */
    ENVIRONMENT_ARCHIVED(12, false, null),

    /**
     * An archived environment was restored: it accepts changes again, with the flags, grants and
     * roles it had; no subject. A journal holding this entry is not readable by releases before it.
     *
     * <pre>{@code {"reason": "archived by mistake"}}</pre>
     */
    ENVIRONMENT_RESTORED(13, false, null),

    /**
     * An archived environment was deleted for good: the server no longer holds its flags, grants, roles
     * or schedules, and its key is never used again (a token scoped to it must not come to read a new
     * environment of that name, and its history stays one environment's); no subject. Its entries stay in
     * the journal, as long as retention keeps them. A journal holding this entry is not readable by
     * releases before it.
     *
     * <pre>{@code {"reason": "preview of pull request 123 merged"}}</pre>
     */
    ENVIRONMENT_DELETED(14, false, null),

    /**
     * A role was granted to a user id in the environment; subject: the user id.
     *
     * <pre>{@code {"user": "u-1234", "role": "beta-tester"}}</pre>
     */
    ROLE_GRANTED(20, false, "user"),

    /**
     * A role was taken back from a user id; subject: the user id.
     *
     * <pre>{@code {"user": "u-1234", "role": "beta-tester"}}</pre>
     */
    ROLE_REVOKED(21, false, "user"),

    /**
     * A role was marked self-service: users may grant it to themselves; subject: the role.
     *
     * <pre>{@code {"role": "beta-tester"}}</pre>
     */
    ROLE_MARKED_SELF_SERVICE(22, false, "role"),

    /**
     * A role is no longer self-service; subject: the role.
     *
     * <pre>{@code {"role": "beta-tester"}}</pre>
     */
    ROLE_UNMARKED_SELF_SERVICE(23, false, "role"),

    /**
     * A change of a flag was scheduled; subject: the schedule's id. {@code at} is when it is due (an
     * ISO-8601 instant in UTC), {@code patch} the PATCH body to apply then; who asked and why are the
     * entry's actor and comment. The schedule stays pending until one of {@link #SCHEDULE_APPLIED},
     * {@link #SCHEDULE_ENDED} or {@link #SCHEDULE_CANCELLED} ends it.
     *
     * <pre>{@code {"id": "sch-4f2a9c01d3e7", "flag": "billing-v2", "at": "2026-12-07T08:00:00Z",
     *  "patch": {"percentage": {"rule": "eu canary", "value": 50}}}}</pre>
     */
    SCHEDULE_CREATED(40, false, "id"),

    /**
     * A pending schedule was cancelled; subject: the schedule's id.
     *
     * <pre>{@code {"id": "sch-4f2a9c01d3e7"}}</pre>
     */
    SCHEDULE_CANCELLED(41, false, "id"),

    /**
     * A pending schedule was applied: the flag's full new definition, and the end of the schedule, in
     * one entry, so that a crash can never leave the flag changed with the schedule still pending (it
     * would be applied twice) or the schedule ended without the change. A flag change like
     * {@link #FLAG_UPDATED} (history shows it); subject: the flag key.
     *
     * <pre>{@code {"key": "billing-v2", "schedule": "sch-4f2a9c01d3e7",
     *  "flag": {"key": "billing-v2", "enabled": true, "version": 12, "rules": [{"percentage": 50}]}}}</pre>
     */
    SCHEDULE_APPLIED(42, false, "key"),

    /**
     * The server ended a pending schedule at its time without changing the flag; subject: the
     * schedule's id. {@code outcome} is {@code failed} (the flag was gone, or the change no longer
     * fits it) or {@code unchanged} (the flag already was as the change makes it); {@code reason} says
     * which and why.
     *
     * <pre>{@code {"id": "sch-4f2a9c01d3e7", "outcome": "failed",
     *  "reason": "flag \"promo\" in environment \"production\" is archived"}}</pre>
     */
    SCHEDULE_ENDED(43, false, "id"),

    /**
     * A token was created; global (no environment); subject: the token id. The payload holds the
     * token's hash and metadata, never the secret: a field named {@code secret}, {@code token} or
     * {@code plaintext} is refused. An optional {@code expiresAt}, an ISO-8601 instant in UTC, is when
     * the token stops working (entries without one, such as those of earlier releases, never expire).
     * When and by whom the token was made are the entry's own timestamp and actor.
     *
     * <pre>{@code {"id": "tok-7", "hash": "sha256:9f86d0...", "name": "ci", "environments": ["staging"],
     *  "expiresAt": "2027-01-31T00:00:00Z"}}</pre>
     */
    TOKEN_CREATED(30, true, "id"),

    /**
     * A token was revoked; global; subject: the token id.
     *
     * <pre>{@code {"id": "tok-7"}}</pre>
     */
    TOKEN_REVOKED(31, true, "id");

    private static final EntryType[] BY_CODE = new EntryType[256];

    static {
        for (EntryType type : values()) {
            BY_CODE[type.code] = type;
        }
    }

    private final int code;
    private final boolean global;
    private final String subjectField;

    EntryType(int code, boolean global, String subjectField) {
        this.code = code;
        this.global = global;
        this.subjectField = subjectField;
    }

    /**
     * Returns whether entries of this type are global (no environment) rather than scoped to one
     * environment.
     *
     * @return true for token entries
     */
    public boolean isGlobal() {
        return global;
    }

    /**
     * Returns whether this type changes a flag.
     *
     * @return true for the {@code FLAG_*} types and {@code SCHEDULE_APPLIED}
     */
    public boolean isFlagChange() {
        return this == FLAG_CREATED || this == FLAG_UPDATED || this == FLAG_DELETED
                || this == FLAG_ARCHIVED || this == FLAG_REVERTED || this == SCHEDULE_APPLIED;
    }

    /** The payload field that names the subject, or null for environment entries. */
    String subjectField() {
        return subjectField;
    }

    /** The stable code stored in a record. */
    int code() {
        return code;
    }

    /** The type with this stored code, or null if this release does not know it. */
    static EntryType fromCode(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }

    /** The lowercase name used in messages, e.g. {@code flag_updated}. */
    String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
