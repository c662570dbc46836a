package dev.flags.server.http;

import io.undertow.server.HttpHandler;
import io.undertow.server.HttpServerExchange;
import io.undertow.util.CanonicalPathUtils;
import io.undertow.util.HeaderValues;
import io.undertow.util.Headers;
import io.undertow.util.Methods;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;

/**
 * Thread-safe. Runs the reads ({@code GET} and {@code HEAD}) on threads of their own, apart from Undertow's worker
 * threads, but for the operator's: {@code /healthz}, {@code /readyz} and {@code /metrics}; and the playground's
 * evaluations ({@code POST .../evaluate}), reads whose answers are as large. The operator's reads and everything else,
 * the changes (the kill switch among them) and grants, stay on the workers.
 *
 * <p>Why: a thread writes an answer, and waits while its client's socket is full. The write timeout closes a connection
 * that reads nothing for 30 s, but not one that reads a little every 29 s: such clients held a worker each for as long
 * as their answer lasted (minutes, for a page of megabytes), and two dozen of them stopped the whole port, the kill
 * switch and the health checks with it (QA83). The API's reads are the answers that can be that large (a change
 * answers with at most one flag's document, a grant with one grant; the operator's answers are a few kilobytes, which a
 * socket's buffers hold whether the client reads or not); here such clients can only hold the threads of the reads,
 * and the reads queue for those while changes, probes and scrapes go on (a scrape then shows the reads waiting). Every connection has at most
 * one request in progress, so the queue holds at most as many requests as the port holds connections.
 *
 * <p>The reads' threads are shared out by token ({@link ReadThreads}): a quarter of them at most answer one token's
 * reads at once, so that the slow clients of one token (a leaked viewer token) hold up their own reads and a quarter of
 * the threads, not everyone's reads.
 */
public final class LargeAnswersApart implements HttpHandler {

    /** The reads whose answers are a few kilobytes at most, and which must be answered while the API's reads wait. */
    private static final Set<String> OPERATOR_READS = Set.of("/healthz", "/readyz", "/metrics");

    /** The presented tokens' longest length taken as a sender's key; longer ones are no token (refused at once). */
    private static final int LONGEST_TOKEN = 4096;

    private final HttpHandler next;
    private final ReadThreads reads;

    /**
     * @param next the handler of every request: run on the reads' threads for the API's reads, where it is called for
     *     the rest
     * @param readThreads how many reads may be answered at once; a quarter of them (at least 1) for one token's
     */
    public LargeAnswersApart(HttpHandler next, int readThreads) {
        this.next = Objects.requireNonNull(next, "next");
        this.reads = new ReadThreads("flags-http-read", readThreads, Math.max(1, readThreads / 4));
    }

    /**
     * @return the number of worker threads the HTTP port has (Undertow's default: 8 per core, at least 16), and of the
     *     reads' threads, so that reads may run as many at once as every request could before
     */
    public static int workerThreads() {
        return Math.max(Runtime.getRuntime().availableProcessors(), 2) * 8;
    }

    @Override
    public void handleRequest(HttpServerExchange exchange) throws Exception {
        if (isApiRead(exchange)) {
            String sender = sender(exchange);
            exchange.dispatch(read -> reads.execute(sender, read), next);
        } else {
            next.handleRequest(exchange);
        }
    }

    /**
     * @return the token the request presents, as the API reads it, or "" for none: a request without a token the API
     *     takes is refused with a few hundred bytes, which hold no thread, so all such share one key
     */
    static String sender(HttpServerExchange exchange) {
        HeaderValues headers = exchange.getRequestHeaders().get(Headers.AUTHORIZATION);
        if (headers == null || headers.size() != 1) {
            return "";
        }
        String header = headers.getFirst();
        if (header.length() > LONGEST_TOKEN || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return "";
        }
        // Held as a key only while the token's reads run or wait, in memory as the request's own header is.
        return header.substring(7).trim();
    }

    private static boolean isApiRead(HttpServerExchange exchange) {
        // The path as the servlets are chosen (/api/v1/../../healthz is /healthz).
        String path = CanonicalPathUtils.canonicalize(exchange.getRequestPath());
        if (exchange.getRequestMethod().equals(Methods.POST)) {
            // The playground: a read (RequestLimits.isChange) that any viewer or tester token may make, whose answer
            // (every flag, step by step with "explain") is as large as a page of flags. On the workers, four viewer
            // tokens (four small bodies at once each) held all sixteen with it, and the kill switch waited (QA92 F1).
            return isEvaluation(path);
        }
        if (!exchange.getRequestMethod().equals(Methods.GET) && !exchange.getRequestMethod().equals(Methods.HEAD)) {
            return false;
        }
        // Any read but the operator's goes to the reads' threads, whatever it asks for: no spelling of a path takes a
        // large answer to the workers.
        return !OPERATOR_READS.contains(path);
    }

    /**
     * @param path a canonical request path, decoded
     * @return whether it is the playground's, {@code /api/v1/environments/{env}/evaluate} (a trailing {@code /} too,
     *     as the API's router takes it). Any spelling the router takes for it is this path here too: the router decodes
     *     each segment of the raw path on its own, and its three names have no escape that Undertow's decoding leaves
     */
    static boolean isEvaluation(String path) {
        String p = path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
        String[] s = p.split("/", -1);
        return s.length == 6 && s[0].isEmpty() && s[1].equals("api") && s[2].equals("v1") && s[3].equals("environments")
                && !s[4].isEmpty() && s[5].equals("evaluate");
    }

    /** @return the reads being answered now */
    public int readsAnswering() {
        return reads.running();
    }

    /**
     * @return the reads waiting for a thread: they wait while every one is answering, or while their token's share is
     *     (slow clients?)
     */
    public int readsWaiting() {
        return reads.waiting();
    }

    /** @return how many reads of one token may be answered at once */
    public int readsPerToken() {
        return reads.perSender();
    }

    /**
     * Stops the threads, once every request begun was answered or the shutdown grace is over: a request still on one
     * (its client not reading) is interrupted, and one still waiting for one is dropped (the port's stop cuts its
     * connection). Idempotent; called again, it waits again.
     *
     * @param within how long to wait for them to end
     */
    public void close(Duration within) {
        reads.close(within);
    }
}
