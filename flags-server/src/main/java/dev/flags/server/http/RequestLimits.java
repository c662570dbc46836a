package dev.flags.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.flags.server.ApiException;
import dev.flags.server.ApiLimits;
import dev.flags.server.LogText;
import dev.flags.server.TokenBucket;
import dev.flags.server.Access;
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
     * @param segments the path's segments as the router reads them, or null for a path it refuses
     * @return whether it was charged as a change
     * @throws ApiException 429, with {@code retryAfterSeconds}, if the token has no budget left
     */
    boolean admit(Principal principal, String method, java.util.List<String> segments) {
        boolean change = isChange(method, segments);
        admit(principal, change);
        return change;
    }

    /**
     * Takes a flag's PATCH from the token's budget once its body is known: a switch-off ({@code
     * {"enabled": false}} and nothing else) from the read budget, anything else from the change budget.
     * Why: the kill switch is the one change that must work in an incident, and an incident is when a
     * token's change budget is most likely spent (a runaway script, a flurry of fixes). Charged to the
     * read budget it is still bounded, and a repeated switch-off changes nothing after the first.
     *
     * @param principal who asks
     * @param body the PATCH body, as parsed
     * @return whether it was charged as a change
     * @throws ApiException 429 if the budget it is charged to is spent
     */
    boolean admitFlagPatch(Principal principal, JsonNode body) {
        boolean change = !Access.onlySwitchesOff(body);
        admit(principal, change);
        return change;
    }

    /**
     * Charges as a read a request that was charged as a change and changed nothing ({@code X-Flags-Changed: false}: a
     * PUT of the document the flag already is, a grant the user already holds). The change budget guards the journal and
     * the SDKs, and such a request wrote nothing to the one and sent nothing to the other: a GitOps pipeline that
     * re-applies a repository of 2,000 unchanged flags on every merge is not held to 600 a minute (QA45b F3). Only while
     * the token's reads are not in debt: a read charged after the fact can put them in debt, and there, bounded at a
     * period's worth, it would cost nothing; so a token whose reads are spent pays for its no-ops as changes, and is
     * refused when those are spent too (QA46a F1).
     *
     * @param principal who asked
     */
    void changedNothing(Principal principal) {
        if (reads.checkNoDebt(principal.tokenId()).admitted()) {
            changes.giveBack(principal.tokenId());
            reads.charge(principal.tokenId(), 1);
        }
    }

    /**
     * Charges a flag's PATCH that was refused before {@link #admitFlagPatch} could choose its budget (its query string,
     * or a body that is not a JSON object): as a change, into debt if the budget is spent (it is refused already).
     *
     * @param principal who asked
     */
    void refusedFlagPatch(Principal principal) {
        changes.charge(principal.tokenId(), 1);
    }

    /**
     * Charges a request whose body was refused before the API saw it ({@link BodyBuffering}: too large, or ended
     * before its length): as a change, into debt if the budget is spent, as the API charges a write it refuses for its
     * body, so that no refusal lets a token make the server read bodies without end.
     *
     * @param tokenId the token's id, or null if the request had none (then nothing is charged)
     */
    public void refusedForItsBody(String tokenId) {
        if (tokenId != null) {
            changes.charge(tokenId, 1);
        }
    }

    /**
     * Whether a request is a flag's PATCH, whose budget is chosen once its body is read ({@link #admitFlagPatch}).
     *
     * @param method the HTTP method
     * @param segments the path's segments as the router reads them ({@link PathSegments#of}), or null for a path it
     *     refuses; judged on those, so that a path the router takes for a flag's PATCH ({@code .../flags/KEY/}, with a
     *     trailing {@code /}) is not charged as another request here (QA67 F1)
     */
    static boolean isFlagPatch(String method, java.util.List<String> segments) {
        return "PATCH".equals(method) && segments != null && segments.size() == 4
                && segments.get(0).equals("environments") && segments.get(2).equals("flags");
    }

    private void admit(Principal principal, boolean change) {
        RequestBudget budget = change ? changes : reads;
        TokenBucket.Admission a = budget.take(principal.tokenId());
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

    /**
     * Charges the token's read budget for the playground's pattern work: a {@code matches} condition may take up
     * to 10,000,000 steps per flag (milliseconds; each character a pattern reads costs its compiled size), and a request
     * without {@code "flag"} evaluates every flag, so one read's worth of budget could ask for seconds of CPU. One more
     * read per {@value #PATTERN_STEPS_PER_CHARGE} steps: an evaluation that takes the most costs about a hundred reads.
     *
     * @param principal who asked
     * @param patternSteps the steps the request's patterns took
     */
    void chargePatternSteps(Principal principal, long patternSteps) {
        reads.charge(principal.tokenId(), patternSteps / PATTERN_STEPS_PER_CHARGE);
    }

    /**
     * Lets a playground request start its evaluation: one at a time per token, and only while its reads are not in
     * debt for an earlier one's pattern work. Its charge lands after its answer, so without this a token could start
     * many at once, each admitted as one read, and keep every core busy for seconds.
     *
     * @param principal who asks; {@link #leavePlayground} once the evaluation has been charged
     * @throws ApiException 429 if the token has one running, or its reads are in debt
     */
    void enterPlayground(Principal principal) {
        TokenBucket.Admission debt = reads.checkNoDebt(principal.tokenId());
        if (!debt.admitted()) {
            long seconds = Math.max(1, (debt.waitNanos() + NANOS_PER_SECOND - 1) / NANOS_PER_SECOND);
            throw new ApiException(429, "too many requests", "this token's playground requests read more than its budget"
                    + " of " + reads.perMinute() + " reads a minute pays for (their patterns' work is charged to it); the"
                    + " next one is accepted in " + seconds + " s", Map.of("retryAfterSeconds", seconds));
        }
        String id = principal.tokenId();
        if (!playgroundRunning.add(id)) {
            throw new ApiException(429, "too many requests", "this token has a playground request running: one at a"
                    + " time per token", Map.of("retryAfterSeconds", 1L));
        }
    }

    /** @param principal whose playground evaluation ended (it entered with {@link #enterPlayground}) */
    void leavePlayground(Principal principal) {
        playgroundRunning.remove(principal.tokenId());
    }

    /** The tokens with a playground evaluation running. */
    private final Set<String> playgroundRunning = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** Pattern steps per read of budget the playground charges: see {@link #chargePatternSteps}. */
    static final long PATTERN_STEPS_PER_CHARGE = 100_000;

    /**
     * The playground's POST only evaluates: it is a read.
     *
     * @param method the HTTP method
     * @param segments the path's segments as the router reads them, or null for a path it refuses (a change, if the
     *     method is one)
     */
    static boolean isChange(String method, java.util.List<String> segments) {
        boolean evaluation = method.equals("POST") && segments != null && segments.size() == 3
                && segments.get(0).equals("environments") && segments.get(2).equals("evaluate");
        return CHANGES.contains(method) && !evaluation;
    }
}
