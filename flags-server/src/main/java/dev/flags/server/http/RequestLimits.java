package dev.flags.server.http;

import com.github.benmanes.caffeine.cache.Ticker;
import dev.flags.server.ApiException;
import dev.flags.server.ApiLimits;
import dev.flags.server.LogText;
import dev.flags.server.auth.Principal;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe. Holds every token to its {@link ApiLimits}: one budget of changes and one of reads per
 * token, so a token over one budget can still use the other, and no token spends another's. A request
 * over budget is refused with {@code 429} and a {@code Retry-After}, before it touches anything; the
 * server logs one line when a token starts being refused, not one per refused request.
 */
public final class RequestLimits {

    private static final Logger LOG = LoggerFactory.getLogger(RequestLimits.class);
    private static final Set<String> CHANGES = Set.of("POST", "PUT", "PATCH", "DELETE");
    private static final long NANOS_PER_SECOND = 1_000_000_000L;

    private final RequestBudget changes;
    private final RequestBudget reads;

    /** @param limits the budgets per token */
    public RequestLimits(ApiLimits limits) {
        this(limits, Ticker.systemTicker());
    }

    RequestLimits(ApiLimits limits, Ticker ticker) {
        Objects.requireNonNull(limits, "limits");
        this.changes = new RequestBudget(limits.changesPerMinute(), ticker);
        this.reads = new RequestBudget(limits.readsPerMinute(), ticker);
    }

    /**
     * Takes one request from the token's budget for its kind.
     *
     * @param principal who asks
     * @param method the HTTP method
     * @param path the path under {@code /api/v1}
     * @throws ApiException 429, with {@code retryAfterSeconds}, if the token has no budget left
     */
    void admit(Principal principal, String method, String path) {
        boolean change = isChange(method, path);
        RequestBudget budget = change ? changes : reads;
        RequestBudget.Admission a = budget.take(principal.tokenId());
        if (a.admitted()) {
            return;
        }
        long seconds = Math.max(1, (a.waitNanos() + NANOS_PER_SECOND - 1) / NANOS_PER_SECOND);
        String kind = change ? "changes" : "reads";
        if (a.firstRefusal()) {
            LOG.warn("api: token {} ({}) used its budget of {} {} per minute; its {} get 429 until the budget refills",
                    principal.tokenId(), LogText.escape(principal.name()), budget.perMinute(), kind, kind);
        }
        throw new ApiException(429, "too many requests", "this token made more than " + budget.perMinute() + " " + kind
                + " in a minute; the next one is accepted in " + seconds + " s (budgets are per token: give each script"
                + " its own)", Map.of("retryAfterSeconds", seconds));
    }

    /** The playground's POST only evaluates: it is a read. */
    static boolean isChange(String method, String path) {
        return CHANGES.contains(method) && !(method.equals("POST") && path != null && path.endsWith("/evaluate"));
    }
}
