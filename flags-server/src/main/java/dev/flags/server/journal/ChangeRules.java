package dev.flags.server.journal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Immutable. The checks a change must pass before it is appended that do not depend on the state:
 * limits on every input and the payload fields each entry type needs. Runs outside the journal's
 * lock. Messages are lowercase, carry the bad value (or its size) and never a secret.
 */
final class ChangeRules {

    /** Longest key (environment, flag, role, token id), in characters. */
    static final int MAX_KEY_LENGTH = Change.MAX_KEY_LENGTH;
    /** Longest user id (a role grant's user), in characters. */
    static final int MAX_USER_ID_LENGTH = Change.MAX_USER_ID_LENGTH;
    /** Fields the journal fills into an {@code ENVIRONMENT_CLONED} payload. */
    static final List<String> CLONE_FIELDS =
            List.of("sourceVersion", "flags", "archivedFlags", "selfServiceRoles", "maxGrantDurations");
    /** Fields a token payload must never have: they would hold the secret. */
    static final List<String> SECRET_FIELDS = List.of("secret", "token", "plaintext");

    private final int maxPayloadBytes;
    private final int maxActorLength;
    private final int maxCommentLength;

    ChangeRules(int maxPayloadBytes, int maxActorLength, int maxCommentLength) {
        this.maxPayloadBytes = maxPayloadBytes;
        this.maxActorLength = maxActorLength;
        this.maxCommentLength = maxCommentLength;
    }

    /**
     * What the checks learned from the payload.
     *
     * @param subject the entry's subject ("" for environment entries)
     * @param role the role of a grant or revocation, else null
     * @param expiresAt when a grant expires, or null (never, or not a grant)
     * @param maxGrantDuration the longest grant of a role marked self-service, or null (no limit, or
     *     not such a mark)
     * @param schedule the schedule a {@code SCHEDULE_*} entry is about, else null
     * @param tree the parsed payload (a fresh tree the caller may change)
     */
    record Shape(String subject, String role, Instant expiresAt, Duration maxGrantDuration, String schedule, ObjectNode tree) {}

    Shape check(Change change) {
        Objects.requireNonNull(change, "change");
        EntryType type = change.type();
        text("actor", change.actor(), maxActorLength, false);
        // Unicode characters, not UTF-16 units: a comment of emoji is as long as it looks.
        int commentLength = change.comment().codePointCount(0, change.comment().length());
        if (commentLength > maxCommentLength) {
            throw new IllegalArgumentException("comment must be at most " + maxCommentLength
                    + " characters, was " + commentLength);
        }
        if (type.isGlobal()) {
            if (change.environment() != null) {
                throw new IllegalArgumentException(type.label()
                        + " entries are global: environment must be null, was \"" + printable(
                                change.environment()) + "\"");
            }
        } else {
            if (change.environment() == null) {
                throw new IllegalArgumentException(type.label() + " entries need an environment");
            }
            key("environment key", change.environment());
        }
        if (change.payload().size() > maxPayloadBytes) {
            throw new IllegalArgumentException("payload of " + type.label() + " must be at most "
                    + maxPayloadBytes + " bytes, was " + change.payload().size());
        }
        JsonNode node = change.payload().toJsonNode();
        if (!node.isObject()) {
            throw new IllegalArgumentException("payload of " + type.label()
                    + " must be a json object, was " + node.getNodeType().name().toLowerCase(
                            Locale.ROOT));
        }
        ObjectNode tree = (ObjectNode) node;
        String subject = "";
        if (type.subjectField() != null) {
            String value = field(type, tree, type.subjectField());
            subject = "user".equals(type.subjectField())
                    ? text(what(type), value, MAX_USER_ID_LENGTH, false)
                    : key(what(type), value);
        }
        String role = null;
        Instant expiresAt = null;
        Duration maxGrantDuration = null;
        String schedule = null;
        switch (type) {
            case SCHEDULE_CREATED:
                schedule = subject;
                key("flag key", field(type, tree, "flag"));
                instantField(type, tree, "at", true);
                JsonNode patch = tree.get("patch");
                if (patch == null || !patch.isObject() || patch.isEmpty()) {
                    throw new IllegalArgumentException("payload of schedule_created must have a non-empty object \"patch\"");
                }
                break;
            case SCHEDULE_CANCELLED:
                schedule = subject;
                break;
            case SCHEDULE_APPLIED:
                schedule = key("schedule id", field(type, tree, "schedule"));
                flagDefinition(type, tree, subject);
                break;
            case FLAG_REVERTED:
                flagDefinition(type, tree, subject);
                JsonNode revertedTo = tree.get("revertedTo");
                if (revertedTo == null || !revertedTo.canConvertToLong() || !revertedTo.isIntegralNumber() || revertedTo.asLong() < 1) {
                    throw new IllegalArgumentException("payload of flag_reverted: revertedTo must be the version reverted to, a"
                            + " whole number from 1, was " + shown(revertedTo));
                }
                JsonNode restored = tree.get("restored");
                if (restored == null || !restored.isBoolean()) {
                    throw new IllegalArgumentException("payload of flag_reverted: restored must be true or false (whether the"
                            + " flag was not served before), was " + shown(restored));
                }
                break;
            case SCHEDULE_ENDED:
                schedule = subject;
                String outcome = field(type, tree, "outcome");
                if (!outcome.equals(OUTCOME_FAILED) && !outcome.equals(OUTCOME_UNCHANGED)) {
                    throw new IllegalArgumentException("payload of schedule_ended: outcome must be \"failed\" or \"unchanged\", was \""
                            + printable(outcome) + "\"");
                }
                field(type, tree, "reason");
                break;
            case ROLE_GRANTED:
                role = key("role", field(type, tree, "role"));
                expiresAt = expiresAtField(type, tree);
                break;
            case ROLE_REVOKED:
                role = key("role", field(type, tree, "role"));
                break;
            case ROLE_MARKED_SELF_SERVICE:
                JsonNode max = tree.get("maxGrantDuration");
                try {
                    maxGrantDuration = max == null ? null : maxGrantDuration(tree);
                } catch (DateTimeParseException e) {
                    maxGrantDuration = null;
                }
                if (max != null && (maxGrantDuration == null || maxGrantDuration.isNegative() || maxGrantDuration.isZero())) {
                    throw new IllegalArgumentException("payload of role_marked_self_service: maxGrantDuration must be a positive"
                            + " ISO-8601 duration such as \"P7D\", was "
                            + (max.isTextual() ? "\"" + printable(max.textValue()) + "\"" : printable(max.toString())));
                }
                break;
            case TOKEN_CREATED:
                for (String secret : SECRET_FIELDS) {
                    if (tree.has(secret)) {
                        throw new IllegalArgumentException("payload of token_created must not contain the "
                                + "secret: remove field \"" + secret + "\" and keep only its hash");
                    }
                }
                if (field(type, tree, "hash").isBlank()) {
                    throw new IllegalArgumentException("payload of token_created: hash must not be blank");
                }
                // Optional (tokens made before expiries have none and never expire); when present, every
                // reader must be able to parse it, or the token could not be checked after a restart.
                expiresAtField(type, tree);
                break;
            case ENVIRONMENT_CLONED:
                key("source environment key", field(type, tree, "source"));
                for (String filled : CLONE_FIELDS) {
                    if (tree.has(filled)) {
                        throw new IllegalArgumentException("payload of environment_cloned must not set \""
                                + filled + "\": the journal fills it in");
                    }
                }
                break;
            default:
                break;
        }
        return new Shape(subject, role, expiresAt, maxGrantDuration, schedule, tree);
    }

    /** A payload value as a message shows it: a string in quotes, anything else as JSON, or "missing". */
    private static String shown(JsonNode value) {
        return value == null ? "missing" : value.isTextual() ? "\"" + printable(value.textValue()) + "\"" : printable(value.toString());
    }

    /** Checks that a wrapping payload's {@code flag} is a flag definition of the entry's subject. */
    private static void flagDefinition(EntryType type, ObjectNode tree, String subject) {
        JsonNode flag = tree.get("flag");
        if (flag == null || !flag.isObject() || flag.get("key") == null || !subject.equals(flag.get("key").asText())) {
            throw new IllegalArgumentException("payload of " + type.label() + " must have an object \"flag\", the flag's"
                    + " definition, whose key is \"" + printable(subject) + "\"");
        }
    }

    /** A {@code schedule_ended} outcome: the server could not apply the change. */
    static final String OUTCOME_FAILED = "failed";
    /** A {@code schedule_ended} outcome: the flag already was as the change makes it. */
    static final String OUTCOME_UNCHANGED = "unchanged";

    /** A payload's ISO-8601 instant in UTC; null if absent and not required. */
    private static Instant instantField(EntryType type, ObjectNode tree, String name, boolean required) {
        JsonNode value = tree.get(name);
        if (value == null && !required) {
            return null;
        }
        if (value != null && value.isTextual()) {
            try {
                return Instant.parse(value.textValue());
            } catch (DateTimeParseException e) {
                // the message below says what is expected
            }
        }
        throw new IllegalArgumentException("payload of " + type.label() + ": " + name + " must be an ISO-8601 instant in UTC,"
                + " such as \"2027-01-31T00:00:00Z\", was " + (value == null ? "missing" : value.isTextual()
                        ? "\"" + printable(value.textValue()) + "\"" : value.getNodeType().name().toLowerCase(Locale.ROOT)));
    }

    /** The payload's optional {@code expiresAt}: null if absent, else it must be an ISO-8601 instant in UTC. */
    private static Instant expiresAtField(EntryType type, ObjectNode tree) {
        JsonNode expiry = tree.get("expiresAt");
        if (expiry == null) {
            return null;
        }
        if (expiry.isTextual()) {
            try {
                return Instant.parse(expiry.textValue());
            } catch (DateTimeParseException e) {
                // the message below says what is expected
            }
        }
        throw new IllegalArgumentException("payload of " + type.label() + ": expiresAt must be an ISO-8601 instant in UTC,"
                + " such as \"2027-01-31T00:00:00Z\", was " + (expiry.isTextual() ? "\"" + printable(expiry.textValue()) + "\""
                        : expiry.getNodeType().name().toLowerCase(Locale.ROOT)));
    }

    /**
     * When a {@code role_granted} payload says the grant expires.
     *
     * @return the instant, or null if the grant does not expire
     * @throws DateTimeParseException if {@code expiresAt} is not an ISO-8601 instant
     */
    static Instant expiresAt(JsonNode grantPayload) {
        JsonNode expiry = grantPayload.get("expiresAt");
        return expiry == null || !expiry.isTextual() ? null : Instant.parse(expiry.textValue());
    }

    /**
     * The longest grant a {@code role_marked_self_service} payload allows.
     *
     * @return the duration, or null if there is no limit (or the field is not text)
     * @throws DateTimeParseException if {@code maxGrantDuration} is not an ISO-8601 duration
     */
    static Duration maxGrantDuration(JsonNode markPayload) {
        JsonNode max = markPayload.get("maxGrantDuration");
        return max == null || !max.isTextual() ? null : Duration.parse(max.textValue());
    }

    private static String what(EntryType type) {
        switch (type.subjectField()) {
            case "key":
                return "flag key";
            case "user":
                return "user id";
            case "id":
                return "token id";
            default:
                return type.subjectField();
        }
    }

    private static String field(EntryType type, ObjectNode tree, String name) {
        JsonNode value = tree.get(name);
        if (value == null || !value.isTextual()) {
            throw new IllegalArgumentException("payload of " + type.label()
                    + " must have a text field \"" + name + "\"");
        }
        return value.textValue();
    }

    static String key(String what, String value) {
        return text(what, value, MAX_KEY_LENGTH, false);
    }

    private static String text(String what, String value, int max, boolean blankAllowed) {
        Objects.requireNonNull(value, what);
        if (!blankAllowed && value.isBlank()) {
            throw new IllegalArgumentException(what + " must not be blank");
        }
        if (value.length() > max) {
            throw new IllegalArgumentException(what + " must be at most " + max + " characters, was "
                    + value.length());
        }
        for (int i = 0; i < value.length(); i++) {
            if (Character.isISOControl(value.charAt(i))) {
                throw new IllegalArgumentException(what + " must not contain control characters, was \""
                        + printable(value) + "\"");
            }
        }
        return value;
    }

    /** The value with control characters escaped and cut to a readable length, for messages. */
    static String printable(String value) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < value.length() && sb.length() < 80; i++) {
            char c = value.charAt(i);
            if (Character.isISOControl(c)) {
                sb.append(String.format("\\u%04x", (int) c));
            } else if (c == '"' || c == '\\') {
                sb.append('\\').append(c);
            } else {
                sb.append(c);
            }
        }
        return sb.length() < 80 ? sb.toString() : sb + "...";
    }
}
