package dev.flags.server.http;

import io.undertow.server.HttpHandler;
import io.undertow.server.HttpServerExchange;
import io.undertow.util.CanonicalPathUtils;
import io.undertow.util.Methods;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

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
 */
public final class LargeAnswersApart implements HttpHandler {

    /** The reads whose answers are a few kilobytes at most, and which must be answered while the API's reads wait. */
    private static final Set<String> OPERATOR_READS = Set.of("/healthz", "/readyz", "/metrics");

    private final HttpHandler next;
    private final ThreadPoolExecutor reads;

    /**
     * @param next the handler of every request: run on the reads' threads for the API's reads, where it is called for
     *     the rest
     * @param readThreads how many reads may be answered at once
     */
    public LargeAnswersApart(HttpHandler next, int readThreads) {
        this.next = Objects.requireNonNull(next, "next");
        this.reads = pool("flags-http-read", readThreads);
    }

    /**
     * @return the number of worker threads the HTTP port has (Undertow's default: 8 per core, at least 16), and of the
     *     reads' threads, so that reads may run as many at once as every request could before
     */
    public static int workerThreads() {
        return Math.max(Runtime.getRuntime().availableProcessors(), 2) * 8;
    }

    private static ThreadPoolExecutor pool(String name, int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException(name + " threads must be at least 1, was " + threads);
        }
        AtomicInteger numbers = new AtomicInteger();
        ThreadFactory factory = runnable -> {
            Thread t = new Thread(runnable, name + "-" + numbers.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        // Threads only while there is work: an idle server holds none of them.
        ThreadPoolExecutor pool = new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                factory);
        pool.allowCoreThreadTimeOut(true);
        return pool;
    }

    @Override
    public void handleRequest(HttpServerExchange exchange) throws Exception {
        if (isApiRead(exchange)) {
            exchange.dispatch(reads, next);
        } else {
            next.handleRequest(exchange);
        }
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
        return reads.getActiveCount();
    }

    /** @return the reads waiting for a thread: they wait while every one is answering (slow clients?) */
    public int readsWaiting() {
        return reads.getQueue().size();
    }

    /**
     * Stops the threads, once every request begun was answered or the shutdown grace is over: a request still on one
     * (its client not reading) is interrupted, and one still waiting for one is dropped (the port's stop cuts its
     * connection). Idempotent; called again, it waits again.
     *
     * @param within how long to wait for them to end
     */
    public void close(Duration within) {
        reads.shutdownNow();
        try {
            reads.awaitTermination(within.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
