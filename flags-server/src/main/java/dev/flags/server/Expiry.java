package dev.flags.server;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Clock;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.Period;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.time.temporal.TemporalAmount;

/**
 * Stateless. When something a request makes should end (a token, a role grant), from the request's
 * {@code "expiresAt"} (an ISO-8601 instant with its offset) or {@code "expiresIn"} (an ISO-8601
 * duration from now: {@code PT8H}, {@code P90D}, or calendar units {@code P2W}, {@code P6M},
 * {@code P1Y}, counted in UTC), with a 400 that says what is wrong for every bad value: not text,
 * unparseable, both given, not in the future, or more than {@link #MAX_AHEAD} ahead. Expiries are
 * kept to the second: an instant is rounded down (early rather than late), a lifetime of at least a
 * second up (it is had in full).
 */
public final class Expiry {

    /** The furthest ahead an expiry may be: further is a typo (or an overflow), not a plan. */
    public static final Period MAX_AHEAD = Period.ofYears(10);
    /** The longest {@code maxGrantDuration} of a role: {@link #MAX_AHEAD} as a duration. */
    public static final Duration MAX_DURATION = Duration.ofDays(3_653);

    private static final String DURATIONS = "such as \"PT8H\", \"P90D\" or \"P1Y\"";

    private Expiry() {}

    /**
     * @param body the request's JSON object, or null for no body
     * @param clock the server's clock
     * @return the instant (to the second), or null if the body asks for none (no field, or null)
     * @throws ApiException 400 if the body's fields say something that is not a sane future instant
     */
    public static Instant from(JsonNode body, Clock clock) {
        JsonNode at = body == null ? null : body.get("expiresAt");
        JsonNode in = body == null ? null : body.get("expiresIn");
        boolean hasAt = at != null && !at.isNull();
        boolean hasIn = in != null && !in.isNull();
        if (hasAt && hasIn) {
            throw ApiException.badRequest("give \"expiresAt\" or \"expiresIn\", not both");
        }
        Instant now = clock.instant();
        if (hasAt) {
            Instant expiresAt = instant(at).truncatedTo(ChronoUnit.SECONDS); // early rather than late
            check(expiresAt, now);
            return expiresAt;
        }
        return hasIn ? in(lifetime(in), in.textValue(), now) : null;
    }

    /**
     * Checks an expiry given as an instant.
     *
     * @throws ApiException 400 if it is not after {@code now} or is more than {@link #MAX_AHEAD} ahead
     */
    public static void check(Instant expiresAt, Instant now) {
        if (!expiresAt.isAfter(now)) {
            throw ApiException.badRequest("expiresAt must be in the future, was " + expiresAt + " (the server's time is "
                    + now.truncatedTo(ChronoUnit.SECONDS) + ")");
        }
        // Rounded up as an expiresIn's instant is: "P10Y", rounded up to the second and checked again when the token is
        // made, was refused for the fraction of a second the server's clock was past a whole second (QA72 F3).
        Instant latest = roundedUp(latest(now));
        if (expiresAt.isAfter(latest)) {
            throw ApiException.badRequest("expiresAt must be at most 10 years ahead (" + latest + "), was " + expiresAt);
        }
    }

    /**
     * @param value a self-service role's {@code "maxGrantDuration"}, or null
     * @return the duration, or null for none
     * @throws ApiException 400 if it is not a positive ISO-8601 duration of at most {@link #MAX_DURATION}
     */
    public static Duration maxGrantDuration(JsonNode value) {
        if (value == null || value.isNull()) {
            return null;
        }
        if (value.isTextual()) {
            try {
                Duration d = Duration.parse(value.textValue());
                if (!d.isNegative() && !d.isZero() && d.compareTo(MAX_DURATION) <= 0 && d.getNano() == 0) {
                    return d; // whole seconds: grants and expiries are kept to the second
                }
            } catch (DateTimeException | ArithmeticException e) {
                // the message below says what is expected
            }
        }
        throw ApiException.badRequest("\"maxGrantDuration\" must be a positive ISO-8601 duration in whole seconds, of at most "
                + MAX_DURATION.toDays() + " days, such as \"PT8H\" or \"P7D\" (months and years are not durations), was " + shown(value));
    }

    private static Instant latest(Instant now) {
        return now.atOffset(ZoneOffset.UTC).plus(MAX_AHEAD).toInstant();
    }

    private static Instant instant(JsonNode at) {
        if (!at.isTextual()) {
            throw ApiException.badRequest("\"expiresAt\" must be an ISO-8601 instant as a string, such as"
                    + " \"2027-01-31T00:00:00Z\", was " + shown(at));
        }
        try {
            return OffsetDateTime.parse(at.textValue()).toInstant();
        } catch (DateTimeParseException e) {
            throw ApiException.badRequest("\"expiresAt\" must be an ISO-8601 instant with its offset, such as"
                    + " \"2027-01-31T00:00:00Z\" or \"2027-01-31T09:00:00+01:00\", was " + shown(at));
        }
    }

    /** A lifetime: a Duration (PT8H, P90D) or, for calendar units (P1Y, P6M, P2W), a Period. */
    private static TemporalAmount lifetime(JsonNode in) {
        if (!in.isTextual()) {
            throw ApiException.badRequest("\"expiresIn\" must be an ISO-8601 duration as a string, " + DURATIONS + ", was " + shown(in));
        }
        String text = in.textValue();
        try {
            return Duration.parse(text);
        } catch (DateTimeParseException notADuration) {
            try {
                return Period.parse(text);
            } catch (DateTimeParseException notAPeriod) {
                boolean mixed = text.matches("(?i)-?P\\d+[YMW].*T.*"); // P1YT1H: neither a Duration nor a Period
                throw ApiException.badRequest("\"expiresIn\" must be an ISO-8601 duration, " + DURATIONS
                        + (mixed ? " (not years, months or weeks together with hours)" : "") + ", was " + shown(in));
            }
        }
    }

    /** Now plus the lifetime, rounded up to the second; {@code asked} is the lifetime as the request wrote it. */
    private static Instant in(TemporalAmount lifetime, String asked, Instant now) {
        String was = LogText.escape(asked.length() > 80 ? asked.substring(0, 77) + "..." : asked);
        boolean positive = lifetime instanceof Duration d ? !d.isNegative() && !d.isZero()
                : lifetime instanceof Period p && !p.isNegative() && !p.isZero();
        if (!positive) {
            throw ApiException.badRequest("expiresIn must be a positive duration, such as PT8H, P90D or P1Y, was " + was);
        }
        Instant exact;
        try {
            exact = now.atOffset(ZoneOffset.UTC).plus(lifetime).toInstant();
        } catch (DateTimeException | ArithmeticException e) {
            throw ApiException.badRequest("expiresIn must be at most " + MAX_AHEAD + " (10 years), was " + was);
        }
        if (exact.isAfter(latest(now))) {
            throw ApiException.badRequest("expiresIn must be at most " + MAX_AHEAD + " (10 years), was " + was);
        }
        if (exact.isBefore(now.plusSeconds(1))) {
            throw ApiException.badRequest("expiresIn must be at least a second, was " + was);
        }
        // Up, so that what was asked for is had in full (and a check a moment later still finds it in the future).
        return roundedUp(exact);
    }

    /**
     * @return the duration as people write it where it is a whole number of days, hours, minutes or seconds ("7d", "8h",
     *     "90m", as the CLI's --for takes it), with its ISO-8601 form, which the API takes: "7d (PT168H)"
     */
    public static String readable(java.time.Duration d) {
        String iso = d.toString();
        if (d.isZero() || d.isNegative() || d.getNano() != 0) {
            return iso;
        }
        long s = d.getSeconds();
        String shortForm = s % 86_400 == 0 ? s / 86_400 + "d" : s % 3_600 == 0 ? s / 3_600 + "h" : s % 60 == 0 ? s / 60 + "m" : s + "s";
        return shortForm + " (" + iso + ")";
    }

    /** @return the instant rounded up to the second: a lifetime from now, had in full */
    public static Instant roundedUp(Instant exact) {
        Instant at = exact.truncatedTo(ChronoUnit.SECONDS);
        return at.isBefore(exact) ? at.plusSeconds(1) : at;
    }

    /** A JSON value from the request, for a message: escaped and cut. */
    private static String shown(JsonNode value) {
        String text = value.toString();
        return LogText.escape(text.length() > 80 ? text.substring(0, 77) + "..." : text);
    }
}
