package dev.flags.server.http;

import io.undertow.server.HttpHandler;
import io.undertow.server.HttpServerExchange;
import java.io.IOException;
import java.time.Duration;
import java.util.Objects;
import org.xnio.Options;

/**
 * Thread-safe (it holds no state of its own). The HTTP port's outermost handler: it gives a connection the port's read
 * timeout once a request has arrived on it.
 *
 * <p>Why: the port's sockets start with a shorter read timeout, the header deadline, so that a client that connects
 * and sends nothing is closed as soon as one that sends its headers too slowly. Undertow has one timeout for a
 * connection waiting for its first request and for a kept-alive one waiting for its next, so without this a silent
 * connection was held for the keep-alive timeout (30 s): one client with a port's worth of silent sockets held the
 * admin API and {@code /healthz} three times as long as the header deadline says. A connection that has sent a request
 * is a client's, and keeps the longer timeout while it reads a body and while it idles between requests.
 */
public final class KeptConnections implements HttpHandler {

    private final HttpHandler next;
    private final int readTimeoutMillis;

    /**
     * @param next the handler of the port's requests
     * @param readTimeout the read timeout of a connection a request has arrived on: how long a body may go without a
     *     byte, and a kept-alive connection may wait for its next request
     */
    public KeptConnections(HttpHandler next, Duration readTimeout) {
        this.next = Objects.requireNonNull(next, "next");
        this.readTimeoutMillis = Math.toIntExact(readTimeout.toMillis());
    }

    @Override
    public void handleRequest(HttpServerExchange exchange) throws Exception {
        try {
            // Read afresh at each read wait (Undertow's ReadTimeoutStreamSourceConduit), so the next wait has it.
            exchange.getConnection().setOption(Options.READ_TIMEOUT, readTimeoutMillis);
        } catch (IOException closed) {
            // The connection is gone; the request fails on its own when it is answered.
        }
        next.handleRequest(exchange);
    }
}
