package dev.flags.core;

import java.util.Arrays;
import java.util.Optional;

/**
 * Immutable. The operators of an attribute condition, with the names they have in the JSON format.
 *
 * <p>A condition's values are ORed: the condition holds if the operator holds for any of them
 * ({@link #NOT_IN} holds if the attribute equals none of them).
 */
public enum Operator {
    /** The attribute equals one of the values (strings). */
    IN("in", Kind.STRING),
    /** The attribute equals none of the values (strings). */
    NOT_IN("notIn", Kind.STRING),
    /** The attribute contains one of the values. */
    CONTAINS("contains", Kind.STRING),
    /** The attribute starts with one of the values. */
    STARTS_WITH("startsWith", Kind.STRING),
    /** The attribute ends with one of the values. */
    ENDS_WITH("endsWith", Kind.STRING),
    /** The attribute matches one of the regular expressions (anywhere in the value; anchor with ^ and $). */
    MATCHES("matches", Kind.REGEX),
    /** The attribute, as a number, equals one of the values. */
    NUM_EQ("numEq", Kind.NUMBER),
    /** The attribute, as a number, is less than one of the values. */
    NUM_LT("numLt", Kind.NUMBER),
    /** The attribute, as a number, is less than or equal to one of the values. */
    NUM_LTE("numLte", Kind.NUMBER),
    /** The attribute, as a number, is greater than one of the values. */
    NUM_GT("numGt", Kind.NUMBER),
    /** The attribute, as a number, is greater than or equal to one of the values. */
    NUM_GTE("numGte", Kind.NUMBER),
    /** The attribute, as a semantic version, equals one of the values. */
    SEMVER_EQ("semverEq", Kind.SEMVER),
    /** The attribute, as a semantic version, is lower than one of the values. */
    SEMVER_LT("semverLt", Kind.SEMVER),
    /** The attribute, as a semantic version, is lower than or equal to one of the values. */
    SEMVER_LTE("semverLte", Kind.SEMVER),
    /** The attribute, as a semantic version, is greater than one of the values. */
    SEMVER_GT("semverGt", Kind.SEMVER),
    /** The attribute, as a semantic version, is greater than or equal to one of the values. */
    SEMVER_GTE("semverGte", Kind.SEMVER),
    /** The attribute, as a date-time, is before one of the values (ISO-8601 instants). */
    BEFORE("before", Kind.DATE),
    /** The attribute, as a date-time, is after one of the values (ISO-8601 instants). */
    AFTER("after", Kind.DATE);

    /** What the operator's values are. */
    public enum Kind {
        /** Plain strings. */
        STRING,
        /** Regular expressions (java.util.regex syntax). */
        REGEX,
        /** Decimal numbers. */
        NUMBER,
        /** Semantic versions (semver.org 2.0.0, an optional leading "v"). */
        SEMVER,
        /** ISO-8601 instants such as 2026-12-01T00:00:00Z. */
        DATE
    }

    private final String jsonName;
    private final Kind kind;

    Operator(String jsonName, Kind kind) {
        this.jsonName = jsonName;
        this.kind = kind;
    }

    /** @return the name in the JSON format, such as {@code "notIn"} */
    public String jsonName() {
        return jsonName;
    }

    /** @return what kind of values the operator compares */
    public Kind kind() {
        return kind;
    }

    /**
     * @param jsonName a name from the JSON format
     * @return the operator, or empty if there is none of that name
     */
    public static Optional<Operator> fromJsonName(String jsonName) {
        return Arrays.stream(values()).filter(o -> o.jsonName.equals(jsonName)).findFirst();
    }
}
