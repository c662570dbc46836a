package dev.flags.server.sync;

import dev.flags.server.MinuteLog;
import dev.flags.server.TokenBuckets;
import io.grpc.Status;
import java.time.Clock;
import java.time.Duration;
import java.util.function.Consumer;

/**
 * Thread-safe. A limit on one kind of each token's calls to the gRPC port that have no limit of their own: the server
 * has one for {@code Acknowledge} and {@code GetSnapshot} together, and one for {@code Subscribe} ({@code ReportUsage}
 * has {@link dev.flags.server.usage.ReportRateLimit}). A token may make {@code perSecond} of them a second, and ten
 * seconds' worth at once; more get {@code RESOURCE_EXHAUSTED}.
 *
 * <p>Each call is cheap for the server's own code, but costs gRPC a new HTTP/2 stream, and nothing else bounds how many
 * one token makes: whoever holds an {@code sdk} token (they ship inside applications) could call as fast as the port
 * answers. Sized so that a fleet never meets it: an SDK instance acknowledges at most once a second (and only a new
 * version, after up to half a second of jitter), and a token has at most {@code --max-sync-streams-per-token}
 * instances, whose default rate here is a tenth of that: the ten seconds' worth the bucket holds is then the whole
 * fleet acknowledging a change at once, and its rate every instance acknowledging a change every ten seconds, for as
 * long as changes come that fast. An acknowledgement refused costs its SDK nothing but a late entry in the list of
 * SDKs: the next heartbeat that confirms the version sends it again.
 *
 * <p>{@code Subscribe} has a bucket of its own, of the same size: a whole fleet at the cap subscribing at once after a
 * server restart fits in it. A client that subscribes again and again with one instance id replaces its own stream each
 * time, so neither the stream cap nor the limit on reset streams meets it, and each subscription costs the server a
 * snapshot or a delta (QA96 F2: 4,100 a second delayed other SDKs' changes from 17 to 91 ms). A subscription refused
 * is cheap (nothing was sent), and an SDK that meets it retries with its backoff.
 *
 * <p>A refused call is counted in {@code flags_grpc_calls_refused_total} (by method, as {@code RESOURCE_EXHAUSTED}),
 * and the log says which token, a WARN a minute at most ({@link MinuteLog}: the first of a minute at once, the rest of
 * that minute counted by token in the next line). What the limit cannot do is make a client that ignores the answer
 * cheap: a refusal costs the port about what an answer does, so the line names the token to revoke.
 */
public final class CallRateLimit {

    /** How many seconds' worth of calls a token may make at once. */
    static final int BURST_SECONDS = 10;
    /** The largest rate accepted, per token and second. */
    public static final int MAX_PER_SECOND = 1_000_000;

    private final int perSecond;
    private final String calls;
    private final TokenBuckets tokens;
    private final MinuteLog log;

    /**
     * @param perSecond the calls each token may make per second, 1 to {@link #MAX_PER_SECOND}
     * @param calls which calls, for the messages: {@code "Acknowledge and GetSnapshot"}, {@code "Subscribe"}
     * @param clock the server's clock
     * @param warn where the refusals are told (a WARN of the server's log)
     * @throws IllegalArgumentException if perSecond is out of range
     */
    public CallRateLimit(int perSecond, String calls, Clock clock, Consumer<String> warn) {
        if (perSecond < 1 || perSecond > MAX_PER_SECOND) {
            throw new IllegalArgumentException("calls per token per second must be between 1 and " + MAX_PER_SECOND
                    + ", was " + perSecond);
        }
        this.perSecond = perSecond;
        this.calls = java.util.Objects.requireNonNull(calls, "calls");
        this.tokens = new TokenBuckets((long) perSecond * BURST_SECONDS, Duration.ofSeconds(BURST_SECONDS), clock);
        this.log = new MinuteLog(clock, warn, "sync: ", "more call refused for its token's rate",
                "more calls refused for their tokens' rate", "of other tokens");
    }

    /**
     * Takes a call of a token.
     *
     * @param tokenId the calling token's id (never the token itself)
     * @param method the call's method, for the log: {@code Acknowledge}
     * @return null if the call may go on, else the status it is to be answered with
     */
    Status take(String tokenId, String method) {
        if (tokens.take(tokenId).admitted()) {
            return null;
        }
        log.add(tokenId, () -> "token " + tokenId + " makes more than " + perSecond + " " + calls + " calls"
                + " a second (--grpc-calls-per-token-per-second; refused first: " + method + "): they get RESOURCE_EXHAUSTED"
                + " until it slows down. An SDK instance makes about one a second at most, so this is a client that"
                + " loops, or someone else holding the token: revoke it if it goes on");
        return Status.RESOURCE_EXHAUSTED.withDescription("this token makes more than " + perSecond + " " + calls
                + " calls a second, the most one token may make (the flag server's"
                + " --grpc-calls-per-token-per-second): call again later");
    }

    /** @return the calls each token may make per second */
    public int perSecond() {
        return perSecond;
    }

    /** @return the calls refused since the server started */
    public long refused() {
        return log.total();
    }
}
