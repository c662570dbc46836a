package dev.flags.core;

import java.util.Objects;

/**
 * Immutable. Why an evaluation gave its answer.
 *
 * @param kind what decided the answer
 * @param ruleIndex the index (from 0) of the rule or target that matched, or -1
 * @param ruleName the matched rule's name, or null
 * @param detail a sentence for people ("user has no id, so no partial rollout can include it"), or null
 */
public record Reason(Kind kind, int ruleIndex, String ruleName, String detail) {

    /** What decided an answer. */
    public enum Kind {
        /** No flag of that key exists; the caller's default was served. */
        FLAG_NOT_FOUND,
        /** The flag is switched off (kill switch): off for everyone. */
        FLAG_OFF,
        /** The user is individually targeted. */
        TARGET_MATCH,
        /** A rule matched. */
        RULE_MATCH,
        /** The flag is on but no target or rule matched: the flag's default was served. */
        DEFAULT,
        /** The evaluation failed; the caller's default was served. */
        ERROR
    }

    /** Checks the kind. */
    public Reason {
        Objects.requireNonNull(kind, "kind");
    }

    /** One reason without details per kind, shared: reasons are values, and flags are compiled often. */
    private static final Reason[] PLAIN = plainReasons();

    private static Reason[] plainReasons() {
        Reason[] plain = new Reason[Kind.values().length];
        for (Kind kind : Kind.values()) {
            plain[kind.ordinal()] = new Reason(kind, -1, null, null);
        }
        return plain;
    }

    static Reason of(Kind kind) {
        return PLAIN[kind.ordinal()];
    }

    static Reason of(Kind kind, String detail) {
        return new Reason(kind, -1, null, detail);
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder(kind.name());
        if (ruleIndex >= 0) {
            s.append(kind == Kind.TARGET_MATCH ? " target " : " rule ").append(ruleIndex);
        }
        if (ruleName != null) {
            s.append(" \"").append(ruleName).append('"');
        }
        if (detail != null) {
            s.append(": ").append(detail);
        }
        return s.toString();
    }
}
