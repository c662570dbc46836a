package dev.flags.server;

import java.time.Clock;
import java.util.function.Consumer;
import java.util.function.IntSupplier;

/**
 * Thread-safe (one timer thread calls {@link #check}). Says in the log when the HTTP port holds as many connections as
 * its cap: from then on it accepts no new one until one closes, and new clients (the admin API's, the health checks')
 * wait unanswered, which nothing else shows (XNIO stops accepting without a word, unlike the gRPC port, which refuses
 * and logs). Once a minute at most while the port stays at its cap.
 */
final class HttpCapWatch {

    static final long LOG_WINDOW_MILLIS = 60_000;

    private final IntSupplier open;
    private final int cap;
    private final int port;
    private final Clock clock;
    private final Consumer<String> log;
    private long lastLogged = Long.MIN_VALUE; // guarded by this
    private long atCapSince = Long.MIN_VALUE; // guarded by this

    /**
     * @param open the HTTP port's open connections now
     * @param cap the most it holds (--http-max-connections)
     * @param port the port, for the command that lists its clients
     * @param clock the time of the checks
     * @param log where the warning goes
     */
    HttpCapWatch(IntSupplier open, int cap, int port, Clock clock, Consumer<String> log) {
        this.open = open;
        this.cap = cap;
        this.port = port;
        this.clock = clock;
        this.log = log;
    }

    /** Looks at the count now; called once a second. */
    synchronized void check() {
        int now = open.getAsInt();
        long at = clock.millis();
        if (now < cap) {
            atCapSince = Long.MIN_VALUE;
            return;
        }
        if (atCapSince == Long.MIN_VALUE) {
            atCapSince = at;
        }
        if (lastLogged != Long.MIN_VALUE && at - lastLogged < LOG_WINDOW_MILLIS) {
            return;
        }
        lastLogged = at;
        long seconds = (at - atCapSince) / 1000;
        log.accept("HTTP port: " + now + " connections are open, the most --http-max-connections allows"
                + (seconds > 0 ? ", for " + seconds + " s" : "") + ": new clients, health checks among them, wait until"
                + " one closes (an idle one is closed after 30 s, a new one that sends nothing after 10 s); raise the cap"
                + " with the process's open-file limit (ulimit -Hn), or find the clients that hold them: ss -tn '( sport = :"
                + port + " )';"
                + " said at most once a minute while it lasts");
    }
}
