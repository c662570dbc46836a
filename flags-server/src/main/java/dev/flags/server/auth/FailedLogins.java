package dev.flags.server.auth;

import dev.flags.server.MinuteLog;
import java.time.Clock;
import java.util.function.Consumer;

/**
 * Thread-safe. Says in the log that requests come with tokens the server does not know (someone guessing, or a
 * client left with a revoked token), without a line per request: the first of each minute is logged at once with
 * where it came from, the rest of that minute are counted, by client address, and summed up (with the minute's
 * times) when the next one comes after it ({@link MinuteLog}): a burst that stops is in {@code
 * flags_unknown_tokens_total} at once, in the log with the next refusal. A 401 costs nothing but a hash to whoever sends
 * it, so these are the only trace of a guessing run.
 */
public final class FailedLogins {

    private final MinuteLog log;

    /**
     * @param clock what "now" is, for the windows
     * @param log where the lines go (a WARN of the server's log)
     */
    public FailedLogins(Clock clock, Consumer<String> log) {
        this.log = new MinuteLog(clock, log, "authentication: ", "more request with an unknown or revoked token",
                "more requests with an unknown or revoked token", "from others");
    }

    /**
     * Counts a request refused for its token (unknown, revoked or malformed; not an expired one, whose holder
     * merely needs a new token).
     *
     * @param where the port, "http" or "grpc"
     * @param from the client's address as the port saw it (a proxy's, behind one)
     */
    public void refused(String where, String from) {
        String source = where + " from " + from;
        log.add(source, () -> "a request with an unknown or revoked token (" + source + "): the server's own tokens are never"
                + " unknown to it, so this is a client with a revoked token or someone guessing; more within a minute are"
                + " counted, not logged one by one");
    }

    /** @return every request refused for its token since the start */
    public long total() {
        return log.total();
    }
}
