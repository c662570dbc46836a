package dev.flags.core;

import java.math.BigDecimal;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Immutable (stateless). Compiles conditions into matchers: sets are hashed, regular expressions
 * compiled, numbers, versions and instants parsed, once, when a flag is loaded.
 */
final class Matchers {

    private Matchers() {
    }

    static ConditionMatcher compile(Condition condition) {
        // Role and region names are interned: applications often pass them as string literals
        // (interned), and then a comparison matches by identity instead of comparing characters.
        if (condition instanceof Condition.Roles r) {
            return new RolesMatcher(r.roles().stream().map(String::intern).toArray(String[]::new));
        } else if (condition instanceof Condition.Regions r) {
            Set<String> regions = Set.copyOf(r.regions().stream().map(String::intern).toList());
            return (user, grants) -> user.region() != null && regions.contains(user.region());
        } else if (condition instanceof Condition.UserIds u) {
            Set<String> ids = FlagFormat.unmodifiableHashSet(u.userIds()); // thousands of ids: not Set.copyOf
            return (user, grants) -> user.id() != null && ids.contains(user.id());
        } else if (condition instanceof Condition.Attribute a) {
            return attribute(a);
        }
        throw new IllegalArgumentException("not a matcher condition: " + condition);
    }

    /** A user has a role if the application gave it, or if the server granted it to the user's id. */
    private record RolesMatcher(String[] roles) implements ConditionMatcher {
        @Override
        public boolean matches(User user, Map<String, Set<String>> grants) {
            for (String role : roles) {
                if (user.hasRole(role)) {
                    return true;
                }
            }
            if (user.id() == null || grants.isEmpty()) {
                return false;
            }
            Set<String> granted = grants.get(user.id());
            if (granted == null) {
                return false;
            }
            for (String role : roles) {
                if (granted.contains(role)) {
                    return true;
                }
            }
            return false;
        }
    }

    /** What an attribute condition made of a user, for explanations (never on the evaluation path). */
    enum AttributeResult {
        /** The user has no such attribute: never matches, negated or not. */
        MISSING,
        /** The value cannot be read as the operator needs (a number that is not one): treated as missing. */
        UNREADABLE,
        /** The condition holds (after negation). */
        HOLDS,
        /** The condition does not hold (after negation). */
        DOES_NOT_HOLD
    }

    static AttributeResult explain(Condition.Attribute a, User user) {
        Object value = user.attribute(a.attribute());
        if (value == null) {
            return AttributeResult.MISSING;
        }
        int result = valueTest(a).test(value);
        if (result == UNREADABLE) {
            return AttributeResult.UNREADABLE;
        }
        return (result == MATCH) != a.negate() ? AttributeResult.HOLDS : AttributeResult.DOES_NOT_HOLD;
    }

    private static ConditionMatcher attribute(Condition.Attribute a) {
        String name = a.attribute();
        boolean negate = a.negate();
        ValueTest test = valueTest(a);
        return (user, grants) -> {
            Object value = user.attribute(name);
            if (value == null) {
                return false; // a missing attribute never matches, negated or not
            }
            int result = test.test(value);
            if (result == UNREADABLE) {
                return false; // an attribute that cannot be read as the operator needs is treated as missing
            }
            return (result == MATCH) != negate;
        };
    }

    private static final int MATCH = 1;
    private static final int NO_MATCH = 0;
    private static final int UNREADABLE = -1;

    /** Tests one present attribute value: MATCH, NO_MATCH or UNREADABLE. */
    private interface ValueTest {
        int test(Object value);
    }

    private static ValueTest valueTest(Condition.Attribute a) {
        List<String> values = a.values();
        switch (a.operator()) {
            case IN:
            case NOT_IN: {
                boolean in = a.operator() == Operator.IN;
                if (a.ignoreCase()) {
                    Set<String> set = new HashSet<>();
                    values.forEach(v -> set.add(v.toLowerCase(Locale.ROOT)));
                    return v -> set.contains(text(v).toLowerCase(Locale.ROOT)) == in ? MATCH : NO_MATCH;
                }
                Set<String> set = FlagFormat.unmodifiableHashSet(values);
                return v -> set.contains(text(v)) == in ? MATCH : NO_MATCH;
            }
            case CONTAINS:
            case STARTS_WITH:
            case ENDS_WITH: {
                boolean ignoreCase = a.ignoreCase();
                String[] needles = values.stream().map(v -> ignoreCase ? v.toLowerCase(Locale.ROOT) : v).toArray(String[]::new);
                Operator op = a.operator();
                return v -> {
                    String s = ignoreCase ? text(v).toLowerCase(Locale.ROOT) : text(v);
                    for (String needle : needles) {
                        boolean hit = op == Operator.CONTAINS ? s.contains(needle)
                                : op == Operator.STARTS_WITH ? s.startsWith(needle) : s.endsWith(needle);
                        if (hit) {
                            return MATCH;
                        }
                    }
                    return NO_MATCH;
                };
            }
            case MATCHES: {
                com.google.re2j.Pattern[] patterns = new com.google.re2j.Pattern[values.size()];
                for (int i = 0; i < patterns.length; i++) {
                    try {
                        patterns[i] = Patterns.compile(values.get(i));
                    } catch (IllegalArgumentException e) { // one an earlier release took: it fails every evaluation
                        Patterns.UnusablePatternException unusable = Patterns.unusable(values.get(i), e.getMessage());
                        return v -> {
                            throw unusable;
                        };
                    }
                }
                return v -> {
                    String s = text(v);
                    for (com.google.re2j.Pattern p : patterns) {
                        // Bounded: linear in the value, and charged per character read, so that many patterns on a
                        // long value fail the match instead of holding the request thread.
                        if (p.matcher(new BoundedText(s, p.pattern(), p.programSize())).find()) {
                            return MATCH;
                        }
                    }
                    return NO_MATCH;
                };
            }
            case NUM_EQ:
            case NUM_LT:
            case NUM_LTE:
            case NUM_GT:
            case NUM_GTE: {
                // A value that is no number never holds: one nearer 0 than a double holds ("1e-400", which a write may
                // not add since QA88 F4, but an earlier release stored) compared as 0 with a double and as itself with a
                // long, so "numEq 1e-400" held for 0.0 and not for 0.
                List<String> numeric = values.stream().filter(n -> decimal(n) != null).toList();
                BigDecimal[] exact = numeric.stream().map(Matchers::decimal).toArray(BigDecimal[]::new);
                double[] numbers = numeric.stream().mapToDouble(Double::parseDouble).toArray();
                // Whether a double holds every value exactly (12, 0.5, 1e6; not 0.1, nor 2^53 + 1, a 64-bit id):
                // then a whole number up to 2^53, a double too, compares as a double, exactly and without allocating.
                boolean doublesExact = true;
                for (int i = 0; i < exact.length; i++) {
                    doublesExact &= new BigDecimal(numbers[i]).compareTo(exact[i]) == 0;
                }
                boolean fastLongs = doublesExact;
                Operator op = a.operator();
                return v -> {
                    if (v instanceof Double d) {
                        // The application gave a double: it is the nearest double to what it meant, as the value is.
                        for (double n : numbers) {
                            if (holds(op, compare(d, n))) {
                                return MATCH;
                            }
                        }
                        return NO_MATCH;
                    }
                    if (v instanceof Long l && fastLongs && Math.abs(l) <= EXACT_IN_A_DOUBLE) {
                        for (double n : numbers) {
                            if (holds(op, compare((double) l, n))) {
                                return MATCH;
                            }
                        }
                        return NO_MATCH;
                    }
                    // A long beyond 2^53 or a number in text ("1234567890123456789"), compared exactly: as doubles,
                    // two different 64-bit ids would be equal.
                    BigDecimal x = exactNumber(v);
                    if (x == null) {
                        return UNREADABLE;
                    }
                    for (BigDecimal n : exact) {
                        if (holds(op, x.compareTo(n))) {
                            return MATCH;
                        }
                    }
                    return NO_MATCH;
                };
            }
            case SEMVER_EQ:
            case SEMVER_LT:
            case SEMVER_LTE:
            case SEMVER_GT:
            case SEMVER_GTE: {
                SemVer[] versions = values.stream().map(SemVer::parse).toArray(SemVer[]::new);
                Operator op = a.operator();
                return v -> {
                    if (!(v instanceof String text)) {
                        return UNREADABLE;
                    }
                    for (SemVer version : versions) {
                        int c = version.compareText(text); // without parsing it into objects: nothing allocated
                        if (c == SemVer.UNREADABLE) {
                            return UNREADABLE;
                        }
                        if (holds(op, c)) {
                            return MATCH;
                        }
                    }
                    return NO_MATCH;
                };
            }
            case BEFORE:
            case AFTER: {
                Instant[] instants = values.stream().map(Instant::parse).toArray(Instant[]::new);
                boolean before = a.operator() == Operator.BEFORE;
                return v -> {
                    Instant t = instant(v);
                    if (t == null) {
                        return UNREADABLE;
                    }
                    for (Instant i : instants) {
                        if (before ? t.isBefore(i) : t.isAfter(i)) {
                            return MATCH;
                        }
                    }
                    return NO_MATCH;
                };
            }
            default:
                throw new IllegalArgumentException("unknown operator " + a.operator());
        }
    }

    /**
     * Two doubles compared as numbers: -0.0 equals 0.0, as it does as a BigDecimal (a long, a number in text) and
     * as text ("0"). Not Double.compare, which orders -0.0 below 0.0, so "numEq 0" failed for a user's -0.0. Neither
     * is NaN: a user's attribute and a condition's values are finite.
     */
    private static int compare(double a, double b) {
        return a < b ? -1 : a > b ? 1 : 0;
    }

    private static boolean holds(Operator op, int comparison) {
        switch (op) {
            case NUM_EQ:
            case SEMVER_EQ:
                return comparison == 0;
            case NUM_LT:
            case SEMVER_LT:
                return comparison < 0;
            case NUM_LTE:
            case SEMVER_LTE:
                return comparison <= 0;
            case NUM_GT:
            case SEMVER_GT:
                return comparison > 0;
            case NUM_GTE:
            case SEMVER_GTE:
                return comparison >= 0;
            default:
                throw new IllegalArgumentException("not a comparison: " + op);
        }
    }

    /** The attribute as text for string operators: numbers without a needless ".0". */
    static String text(Object value) {
        if (value instanceof String s) {
            return s;
        }
        if (value instanceof Long l) {
            return Long.toString(l);
        }
        if (value instanceof Double d) {
            return BigDecimal.valueOf(d).stripTrailingZeros().toPlainString();
        }
        return value.toString(); // Boolean, Instant (ISO-8601)
    }

    /** The largest magnitude up to which a double holds every whole number: 2^53. */
    private static final long EXACT_IN_A_DOUBLE = 1L << 53;

    /** The longest number in text read exactly; longer text is read as a double, as before (it costs less to parse). */
    static final int MAX_NUMBER_TEXT = 100;

    /** A number attribute's exact value, or null for one that is no number (text that is not one, a boolean, an instant). */
    private static BigDecimal exactNumber(Object value) {
        if (value instanceof Long l) {
            return BigDecimal.valueOf(l);
        }
        if (value instanceof String s) {
            return decimal(s);
        }
        return null;
    }

    /**
     * A number in text, exactly when it is written in plain decimal ASCII ({@code 1234567890123456789}, {@code -0.5},
     * {@code 1e3}); otherwise as {@link Double#parseDouble} reads it, as before whole numbers were compared exactly
     * (white space around it, a hex float {@code 0x1p3}, a suffix {@code 18d}, text past 100 characters); never
     * digits of other scripts, which {@code BigDecimal} alone would take. A number beyond a double's range is none,
     * however it is written ({@code 1e400}, or 400 digits), as a flag's values cannot be: {@code BigDecimal} alone
     * took {@code "1e400"} as a number, larger than any value, which the documentation says is not one. Nor is one
     * that is not 0 but nearer 0 than a double holds ({@code 1e-400}, {@code 0x1p-2000}), which a double reads as 0
     * and {@code BigDecimal} as itself: the two readings disagreed at 0 (QA88 F4); 0 is 0 however written.
     *
     * @return the number, or null for text that is none (or not finite, or not 0 but read as 0 by a double)
     */
    static BigDecimal decimal(String text) {
        String t = text.trim();
        if (!t.isEmpty() && t.length() <= MAX_NUMBER_TEXT && plainDecimal(t)) {
            try {
                BigDecimal x = new BigDecimal(t);
                return finite(x) ? x : null;
            } catch (NumberFormatException | ArithmeticException e) {
                // not a number after all ("1e", "--1"), or an exponent beyond BigDecimal's: read as a double below
            }
        }
        try {
            double d = Double.parseDouble(t);
            return Double.isFinite(d) && (d != 0 || !writtenNonZero(t)) ? new BigDecimal(d) : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /**
     * Whether a double holds the number, as Double.parseDouble reads its text: what rounds to the largest double does,
     * and what is not 0 must not round to 0 (the smallest double is about 4.9e-324).
     */
    private static boolean finite(BigDecimal x) {
        if (x.signum() == 0) {
            return true; // 0e500 and 0e-500 are 0
        }
        long exponent = (long) x.precision() - x.scale() - 1; // of the leading digit: 2 for 123, -3 for 0.00123
        if (exponent < 308 && exponent > -300) {
            return true; // the common case, without a conversion
        }
        if (exponent > 308 || exponent < -325) {
            return false; // judged before doubleValue(), which would write out 1e-2147483647's digits
        }
        double d = x.doubleValue();
        return Double.isFinite(d) && d != 0;
    }

    /**
     * Whether number text that Double.parseDouble took is not 0 as written: a digit other than 0 in its significand
     * ({@code 1e-400}, {@code 0x1p-2000}; not {@code 0.0e5}, {@code 0x0p3}, nor a suffix {@code d} or {@code f}).
     */
    private static boolean writtenNonZero(String t) {
        int x = t.toLowerCase(java.util.Locale.ROOT).indexOf("0x");
        boolean hex = x == 0 || x == 1; // after a sign, if any
        for (int i = hex ? x + 2 : 0; i < t.length(); i++) {
            char c = Character.toLowerCase(t.charAt(i));
            if (hex ? c == 'p' : c == 'e') {
                return false; // the exponent's digits say nothing of whether it is 0
            }
            if ((c >= '1' && c <= '9') || (hex && c >= 'a' && c <= 'f')) {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether a numeric operator's value, one a double reads, is not 0 as written but nearer 0 than a double holds
     * ({@code "1e-400"}): no number, which a write may not add ({@link WriteRules#numbers}).
     *
     * @param text a value Double.parseDouble takes as a finite number
     * @return true if it is such a value
     */
    static boolean nearerZeroThanADouble(String text) {
        return decimal(text) == null;
    }

    private static boolean plainDecimal(String t) {
        for (int i = 0; i < t.length(); i++) {
            char c = t.charAt(i);
            if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) {
                return false;
            }
        }
        return true;
    }

    /**
     * Milliseconds since the epoch in a double, with their fraction: cut toward 0, 1.5 ms was not after 1 ms, nor -0.5 ms
     * before the epoch. Beyond 2^53 a double has no fraction, and beyond a long it is a long's furthest milliseconds.
     */
    private static Instant instantOfMillis(double millis) {
        if (Math.abs(millis) >= EXACT_IN_A_DOUBLE) {
            return Instant.ofEpochMilli((long) millis);
        }
        long whole = (long) Math.floor(millis);
        long nanos = Math.round((millis - whole) * 1_000_000); // 0 to 1,000,000
        return Instant.ofEpochMilli(whole).plusNanos(nanos);
    }

    private static Instant instant(Object value) {
        if (value instanceof Instant i) {
            return i;
        }
        if (value instanceof Double d) {
            return instantOfMillis(d); // a number is read as milliseconds since the epoch
        }
        if (value instanceof Long l) {
            return Instant.ofEpochMilli(l);
        }
        if (value instanceof String s) {
            try {
                return Instant.parse(s);
            } catch (DateTimeParseException e) {
                return null;
            }
        }
        return null;
    }
}
