package dev.flags.server.journal;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Locale;
import java.util.Objects;

/**
 * Immutable. A change that a caller asks the journal to append: what happened, where, who did it,
 * why, and the payload.
 *
 * <p>The journal assigns the sequence number, the new version and the timestamp. The payload is
 * held in canonical form, so a tree passed to {@link #of} may be changed afterwards without effect.
 * The comment is never null: no comment is the empty string. The environment is null exactly for
 * {@linkplain EntryType#isGlobal() global} types; the journal checks this, and every limit, when the
 * change is appended.
 *
 * <pre>{@code
 * ObjectNode flag = mapper.createObjectNode().put("key", "billing-v2").put("enabled", true);
 * JournalEntry saved = journal.append(
 *     Change.of(EntryType.FLAG_UPDATED, "production", "alice@example.com", flag)
 *         .withComment("turn billing-v2 on for everyone")
 *         .expectingVersion(41));
 * }</pre>
 *
 * @param type what happened
 * @param environment the environment's key; null for global types
 * @param actor who made the change (a user or a service), not blank
 * @param comment why, or the empty string
 * @param payload the change itself, a JSON object
 * @param expectedVersion the version the environment (or, for global types, the token set) must be
 *     at for the change to apply, or {@link #ANY_VERSION}
 * @param actingToken the id of the stored token whose request makes the change, which must still be in the token set
 *     when the change is appended (a scheduled change is its maker's); null for a change no stored token makes (the
 *     server's own, the bootstrap admin token's). Not stored: the actor names the token
 */
public record Change(
        EntryType type,
        String environment,
        String actor,
        String comment,
        CanonicalJson payload,
        long expectedVersion,
        String actingToken) {

    /** The {@link #expectedVersion()} that accepts any current version. */
    public static final long ANY_VERSION = -1;

    /**
     * The longest key the journal takes (environment, flag, role, token id), in characters; keys are
     * also not blank and have no control characters. User ids have their own limit,
     * {@link #MAX_USER_ID_LENGTH}.
     */
    public static final int MAX_KEY_LENGTH = 256;

    /**
     * The longest user id the journal takes (the user of a role grant), in characters: the same as the
     * longest id an SDK's {@code User} takes, so that every user an application evaluates can be
     * granted a role. Also not blank, no control characters.
     */
    public static final int MAX_USER_ID_LENGTH = 1_024;

    /**
     * Checks the parts that do not depend on the journal's limits.
     *
     * @throws NullPointerException if type, actor or payload is null
     * @throws IllegalArgumentException if expectedVersion is below {@link #ANY_VERSION}
     */
    public Change {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(actor, "actor");
        Objects.requireNonNull(payload, "payload");
        comment = comment == null ? "" : comment;
        if (expectedVersion < ANY_VERSION) {
            throw new IllegalArgumentException(
                    "expected version must be at least 0 (or ANY_VERSION), was " + expectedVersion);
        }
    }

    /**
     * Returns a change without a comment that applies at any version.
     *
     * @param type what happened
     * @param environment the environment's key, or null for global types
     * @param actor who made the change
     * @param payload the change itself; must be a JSON object; copied
     * @return the change
     * @throws NullPointerException if type, actor or payload is null
     * @throws IllegalArgumentException if payload is not a JSON object
     */
    public static Change of(EntryType type, String environment, String actor, JsonNode payload) {
        Objects.requireNonNull(payload, "payload");
        if (!payload.isObject()) {
            throw new IllegalArgumentException(
                    "payload must be a json object, was " + payload.getNodeType().name().toLowerCase(Locale.ROOT));
        }
        return new Change(type, environment, actor, "", CanonicalJson.of(payload), ANY_VERSION, null);
    }

    /**
     * Returns this change with a comment that says why.
     *
     * @param comment the reason; null means none
     * @return a new change
     */
    public Change withComment(String comment) {
        return new Change(type, environment, actor, comment, payload, expectedVersion, actingToken);
    }

    /**
     * Returns this change, to be applied only if the environment (or the token set, for global
     * types) is at this version; otherwise {@link Journal#append} throws
     * {@link ChangeConflictException}.
     *
     * @param version the expected current version; 0 for an environment that does not exist yet
     * @return a new change
     * @throws IllegalArgumentException if version is negative
     */
    public Change expectingVersion(long version) {
        if (version < 0) {
            throw new IllegalArgumentException("expected version must be at least 0, was " + version);
        }
        return new Change(type, environment, actor, comment, payload, version, actingToken);
    }

    /**
     * Returns this change, to be applied only while a stored token is in the token set; otherwise {@link Journal#append}
     * throws {@link ActingTokenGoneException}. Why: a request checks its token when it begins, and may wait for its
     * environment's lock (behind a clone, a slow disk) while an admin revokes that token; checked here, in the journal's
     * order, no change of a token lands after its revocation (QA91 O1).
     *
     * @param tokenId the id of the stored token whose request makes the change, or null for none
     * @return a new change
     */
    public Change byToken(String tokenId) {
        return new Change(type, environment, actor, comment, payload, expectedVersion, tokenId);
    }
}
