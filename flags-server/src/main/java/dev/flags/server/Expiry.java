package dev.flags.server;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Clock;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;

/**
 * Stateless. When something a request makes should end, from the request's {@code "expiresAt"} (an
 * ISO-8601 instant) or {@code "expiresIn"} (an ISO-8601 duration from now), with a clear 400 for every
 * bad value: not text, unparseable, both given, not in the future, or further than
 * {@link #MAX_AHEAD}.
 */
public final class Expiry {

    /** The furthest ahead an expiry may be: further is a typo (or an overflow), not a plan. */
    public static final Duration MAX_AHEAD = Duration.ofDays(3_653);

    private Expiry() {}

    /**
     * @param body the request's JSON object, or null for no body
     * @param clock the server's clock
     * @return the instant (to the millisecond), or null if the body asks for none
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
        Instant expiry;
        if (hasAt) {
            expiry = instant(at);
        } else if (hasIn) {
            expiry = now.plus(duration(in));
        } else {
            return null;
        }
        if (!expiry.isAfter(now)) {
            throw ApiException.badRequest((hasAt ? "\"expiresAt\" " + expiry : "\"expiresIn\" " + in.textValue())
                    + " is not in the future (the server's time is " + now.truncatedTo(ChronoUnit.SECONDS) + ")");
        }
        if (expiry.isAfter(now.plus(MAX_AHEAD))) {
            throw ApiException.badRequest("an expiry may be at most " + MAX_AHEAD.toDays() + " days ahead (about 10 years), was "
                    + (hasAt ? "\"expiresAt\" " + expiry : "\"expiresIn\" " + in.textValue()));
        }
        return expiry.truncatedTo(ChronoUnit.MILLIS);
    }

    /**
     * @param value a self-service role's {@code "maxGrantDuration"}, or null
     * @return the duration, or null for none
     * @throws ApiException 400 if it is not a positive ISO-8601 duration of at most {@link #MAX_AHEAD}
     */
    public static Duration maxGrantDuration(JsonNode value) {
        if (value == null || value.isNull()) {
            return null;
        }
        if (value.isTextual()) {
            try {
                Duration d = Duration.parse(value.textValue());
                if (!d.isNegative() && !d.isZero() && d.compareTo(MAX_AHEAD) <= 0) {
                    return d;
                }
            } catch (DateTimeException | ArithmeticException e) {
                // the message below says what is expected
            }
        }
        throw ApiException.badRequest("\"maxGrantDuration\" must be a positive ISO-8601 duration of at most " + MAX_AHEAD.toDays()
                + " days, such as \"PT8H\" or \"P7D\" (months and years are not durations), was " + shown(value));
    }

    private static Instant instant(JsonNode at) {
        if (at.isTextual()) {
            try {
                return Instant.parse(at.textValue());
            } catch (DateTimeParseException e) {
                // the message below says what is expected
            }
        }
        throw ApiException.badRequest("\"expiresAt\" must be an ISO-8601 instant such as \"2026-12-31T18:00:00Z\", was "
                + shown(at));
    }

    private static Duration duration(JsonNode in) {
        if (in.isTextual()) {
            try {
                Duration d = Duration.parse(in.textValue());
                if (d.compareTo(MAX_AHEAD) <= 0) {
                    return d;
                }
                throw ApiException.badRequest("an expiry may be at most " + MAX_AHEAD.toDays() + " days ahead (about 10 years),"
                        + " was \"expiresIn\" " + in.textValue());
            } catch (DateTimeException | ArithmeticException e) {
                // the message below says what is expected
            }
        }
        throw ApiException.badRequest("\"expiresIn\" must be an ISO-8601 duration such as \"PT8H\" (8 hours) or \"P30D\""
                + " (30 days; months and years are not durations), was " + shown(in));
    }

    private static String shown(JsonNode value) {
        String text = value.isTextual() ? "\"" + value.textValue() + "\"" : value.toString();
        return LogText.escape(text.length() > 80 ? text.substring(0, 80) + "..." : text);
    }
}
