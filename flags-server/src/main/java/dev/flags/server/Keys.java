package dev.flags.server;

import dev.flags.core.ReadableText;
import dev.flags.server.journal.Change;
import java.util.regex.Pattern;

/** Immutable (stateless). The syntax of keys in URLs and bodies, checked before anything else. */
public final class Keys {

    /** Environment keys, flag keys, token ids: as flag keys in docs/flag-format.md. */
    static final Pattern KEY = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    /** Role names: as in docs/flag-format.md. */
    static final Pattern ROLE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:-]{0,127}");
    /** The journal's limit on a role grant's user id (an SDK user's): checked here, so the answer is a clear 400. */
    static final int MAX_USER_ID = Change.MAX_USER_ID_LENGTH;
    static final int MAX_COMMENT = 2000;
    static final int MAX_NAME = 200;

    private Keys() {
    }

    /**
     * @param key an environment key, from a path or a body
     * @return it, if it has the syntax of a key
     * @throws ApiException 400 if it does not: a path such as {@code /environments/production;x=1} names no
     *     environment that could exist, and is told so before any token's rights are weighed against it
     */
    public static String environment(String key) {
        return check(key, KEY, "environment key");
    }

    static String flag(String key) {
        return check(key, KEY, "flag key");
    }

    static String role(String role) {
        return check(role, ROLE, "role");
    }

    static String region(String region) {
        return check(region, ROLE, "region");
    }

    /**
     * A value a write adds to what is kept for good and shown to every reader (a role's name, a region, a new
     * environment's key): not one that looks like a token of this server, as a user id, a name or a comment may not be
     * (QA67 F3). Only what is written anew: a revoke or a remove of a value stored before must still work.
     *
     * @param value the value
     * @param what what it is, as the refusal names it ("role", "environment key")
     * @return the value
     * @throws ApiException 400 if it holds a token-shaped word (the value is not echoed: it may be a secret)
     */
    static String withoutToken(String value, String what) {
        if (ReadableText.holdsAToken(value)) {
            throw ApiException.badRequest(what + " " + ReadableText.HOLDS_A_TOKEN);
        }
        return value;
    }

    /**
     * A user id to grant a role to: shown in role lists and the audit log, so without control characters, line
     * separators or bidirectional controls (U+202E and its kind reorder what is shown), as a name.
     */
    static String grantedUserId(String id) {
        userId(id);
        if (ReadableText.holdsAToken(id)) {
            throw ApiException.badRequest("user id " + ReadableText.HOLDS_A_TOKEN);
        }
        int bad = LogText.unfitForName(id);
        if (bad >= 0) {
            throw ApiException.badRequest("user id must be 1 to " + MAX_USER_ID + " characters, not blank, without control"
                    + " characters (nor line separators, bidirectional controls, invisible characters or half characters), was "
                    + LogText.quoted(id, 80) + "; character " + (id.codePointCount(0, bad) + 1) + " is " + String.format("U+%04X", id.codePointAt(bad)));
        }
        return id;
    }

    /**
     * A user id whose grant is revoked: the journal's rule only, so that a grant an earlier release made to an id
     * with a bidirectional control in it can still be revoked.
     */
    static String userId(String id) {
        String wrong = null; // which of the three rules it broke: "must be 1 to 1024 characters" alone leaves that to guess
        if (id == null || id.isEmpty()) {
            wrong = "it was empty";
        } else if (id.length() > MAX_USER_ID) {
            int characters = id.codePointCount(0, id.length());
            wrong = "it was " + id.length() + (characters == id.length() ? " characters long" : " UTF-16 units long (" + characters
                    + " characters: one beyond the Basic Multilingual Plane, such as an emoji, counts as two units)");
        } else if (id.isBlank()) {
            wrong = "it was blank";
        } else {
            int control = -1;
            for (int i = 0; i < id.length() && control < 0; i++) {
                control = Character.isISOControl(id.charAt(i)) ? i : -1;
            }
            if (control >= 0) {
                wrong = "character " + (id.codePointCount(0, control) + 1) + " is " + String.format("U+%04X", (int) id.charAt(control));
            }
        }
        if (wrong != null) {
            throw ApiException.badRequest("user id must be 1 to " + MAX_USER_ID + " characters, not blank, without control"
                    + " characters; " + wrong);
        }
        return id;
    }

    /**
     * A name for people (an environment's): shown in lists and logs, so without control characters, as
     * a user id and a token's name.
     */
    static String name(String name) {
        if (ReadableText.holdsAToken(name)) {
            throw ApiException.badRequest("name " + ReadableText.HOLDS_A_TOKEN);
        }
        if (name != null && (name.isBlank() || name.length() > MAX_NAME || LogText.unfitForName(name) >= 0)) {
            throw ApiException.badRequest("name must be 1 to " + MAX_NAME + " characters, not blank, without control"
                    + " characters (nor line separators, bidirectional controls, invisible characters or half characters), was "
                    + LogText.quoted(name, 80));
        }
        return name;
    }

    /**
     * @param comment a change's "why", or null
     * @return it, if it is at most {@link #MAX_COMMENT} characters (Unicode's, not UTF-16's)
     * @throws ApiException 400 for a longer one
     */
    public static String comment(String comment) {
        // Characters as people count them: an emoji is one, not the two UTF-16 units Java's length() counts.
        if (comment != null && comment.codePointCount(0, comment.length()) > MAX_COMMENT) {
            throw ApiException.badRequest("comment must be at most " + MAX_COMMENT + " characters, was "
                    + comment.codePointCount(0, comment.length()));
        }
        return comment;
    }

    private static String check(String value, Pattern syntax, String what) {
        if (value == null || !syntax.matcher(value).matches()) {
            String shown = value == null ? "nothing" : "\"" + (value.length() > 80 ? value.substring(0, 77) + "..." : value) + "\"";
            throw ApiException.badRequest(what + " must start with a letter or digit and contain only letters, digits, "
                    + (syntax == ROLE ? "'.', '_', ':' or '-'" : "'.', '_' or '-'") + " (at most 128), was " + shown);
        }
        return value;
    }
}
