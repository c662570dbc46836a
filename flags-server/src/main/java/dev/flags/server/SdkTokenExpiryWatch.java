package dev.flags.server;

import dev.flags.server.auth.Principal;
import dev.flags.server.auth.Scope;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Thread-safe (its methods are synchronized; one timer thread calls {@link #check}). Says in the log, a day apart, that
 * an sdk token expires within {@value #WARNING_DAYS} days: at its expiry its SDKs' sync streams are closed and refused,
 * and every application built with it serves the flags it holds, stale, until it is given a new token. Tokens are
 * made by people who move on; the gauge {@code flags_sdk_token_expires_in_seconds} is for those who alert on metrics,
 * this line for those who read the log.
 */
final class SdkTokenExpiryWatch {

    /** Days before an sdk token's expiry from which it is warned of. */
    static final int WARNING_DAYS = 7;
    private static final Duration EVERY = Duration.ofDays(1);

    private final Supplier<? extends Collection<Principal>> tokens;
    private final Clock clock;
    private final Consumer<String> warn;
    /** When each token was last warned of; guarded by this. Tokens no longer listed (revoked, expired) go. */
    private final Map<String, Instant> lastWarned = new HashMap<>();

    /**
     * @param tokens the tokens that may act (revoked ones are not listed)
     * @param warn where a warning goes (the log's WARN)
     */
    SdkTokenExpiryWatch(Supplier<? extends Collection<Principal>> tokens, Clock clock, Consumer<String> warn) {
        this.tokens = tokens;
        this.clock = clock;
        this.warn = warn;
    }

    /** Looks at the time and the tokens; called at start and every few minutes. */
    synchronized void check() {
        Instant now = clock.instant();
        Map<String, Instant> kept = new HashMap<>();
        for (Principal p : tokens.get()) {
            if (p.scope() != Scope.SDK || p.expiresAt() == null || p.isExpiredAt(now)
                    || !p.expiresAt().isBefore(now.plus(Duration.ofDays(WARNING_DAYS)))) {
                continue;
            }
            Instant last = lastWarned.get(p.tokenId());
            if (last == null || !now.isBefore(last.plus(EVERY))) {
                warn.accept(warning(p, now));
                last = now;
            }
            kept.put(p.tokenId(), last);
        }
        lastWarned.clear();
        lastWarned.putAll(kept);
    }

    /** The line for one token: which, when, what happens then, and what to do now. Never the secret (not held). */
    static String warning(Principal p, Instant now) {
        Duration left = Duration.between(now, p.expiresAt());
        long hours = left.toHours();
        long days = (hours + 12) / 24; // to the nearest day: a token made for 3 days is "in 3 days" minutes later
        String when = days >= 1 ? days + (days == 1 ? " day" : " days") : hours >= 1 ? hours + (hours == 1 ? " hour" : " hours")
                : "under an hour";
        String env = p.environments().isEmpty() ? "" : p.environments().iterator().next();
        return "sdk token " + p.tokenId() + " (" + LogText.quoted(p.name(), 80) + ", environment " + LogText.quoted(env, 130)
                + ") expires at " + p.expiresAt() + ", in " + when + ": then its SDKs' sync streams are closed and refused,"
                + " and the applications built with it serve the flags they hold, stale, until they are given a new token."
                + " Make one (flags tokens create NAME --scope sdk -e " + LogText.escape(env) + " --expires-in 1y), deploy it,"
                + " then revoke this one";
    }
}
