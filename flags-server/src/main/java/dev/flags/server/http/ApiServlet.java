package dev.flags.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flags.core.Condition;
import dev.flags.core.Flag;
import dev.flags.core.FlagFormat;
import dev.flags.core.FlagSet;
import dev.flags.core.Rule;
import dev.flags.core.User;
import dev.flags.server.ActingToken;
import dev.flags.server.Access;
import dev.flags.server.Addresses;
import dev.flags.server.ApiException;
import dev.flags.server.EnvironmentLimits;
import dev.flags.server.EnvironmentService;
import dev.flags.server.Expiry;
import dev.flags.server.FlagService;
import dev.flags.server.HistoryService;
import dev.flags.server.Keys;
import dev.flags.server.LogText;
import dev.flags.server.Metrics;
import dev.flags.server.Playground;
import dev.flags.server.Precondition;
import dev.flags.server.RoleService;
import dev.flags.server.ScheduleService;
import dev.flags.server.SdkService;
import dev.flags.server.UsageService;
import dev.flags.server.auth.Authentication;
import dev.flags.server.auth.Principal;
import dev.flags.server.auth.Scope;
import dev.flags.server.auth.TokenInfo;
import dev.flags.server.auth.TokenService;
import dev.flags.server.journal.CanonicalJson;
import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.JournalEntry;
import dev.flags.server.journal.Schedule;
import dev.flags.server.journal.ServerState;
import dev.flags.server.usage.ApplicationUse;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.function.ToIntFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe. The admin HTTP API under {@code /api/v1}: routes each request to a service, turns
 * every failure into {@code application/problem+json} (RFC 9457) in one place, and never answers with
 * a stack trace. Documented, with curl examples, in {@code docs/api.md}.
 */
public final class ApiServlet extends HttpServlet {

    /** The header that names a flag's pending schedules a write left unable to apply. */
    public static final String SCHEDULES_BROKEN = "X-Flags-Schedules-No-Longer-Apply";
    /** A word on a write that was done but looks like a mistake, for the writer to read (the CLI prints it). */
    public static final String WARNING = "X-Flags-Warning";
    /** After a token's revocation: the pending schedules it made, which will fail at their time. */
    public static final String SCHEDULES_WILL_FAIL = "X-Flags-Schedules-Will-Fail";
    /** After a switch-off: the flag's pending schedules that will switch it on again. */
    public static final String SCHEDULES_SWITCH_ON = "X-Flags-Schedules-Switch-On";
    /** The most schedules that header names; more are counted. */
    private static final int MAX_SCHEDULES_NAMED = 20;

    /** The largest request body accepted. */
    public static final int MAX_BODY_BYTES = 1 << 20;

    private static final Logger LOG = LoggerFactory.getLogger(ApiServlet.class);
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    /** Audit entries per answer unless the request says {@code limit}. */
    private static final int DEFAULT_AUDIT_PAGE = 100;
    /** The query parameter every write takes: the journal entry's comment ({@link #comment(HttpServletRequest)}). */
    private static final String COMMENT = "comment";
    /** A request attribute: whether the request was charged to its token's change budget (a Boolean). */
    private static final String CHARGED_AS_CHANGE = "dev.flags.chargedAsChange";

    private final transient Services services;
    /**
     * Requests refused with a fault already logged where it happened (a stopped journal): the first of each minute is
     * logged, the rest counted, or a full disk's every write attempt (thousands a second) fills the log on that disk.
     */
    private final transient dev.flags.server.MinuteLog refusedForAFault = new dev.flags.server.MinuteLog(
            java.time.Clock.systemUTC(), LOG::warn, "", "more request failed so", "more requests failed so", "of other kinds");

    /**
     * Everything the API needs.
     *
     * @param openStreams how many sync streams a token (by id) has open now, for its metadata
     * @param sdks the SDKs connected now, and what they have applied
     */
    public record Services(TokenService tokens, EnvironmentService environments, FlagService flags, RoleService roles,
                           ScheduleService schedules, HistoryService history, Playground playground, Metrics metrics,
                           RequestLimits limits, UsageService usage, ToIntFunction<String> openStreams, SdkService sdks) {
        /** Checks every part. */
        public Services {
            Objects.requireNonNull(sdks, "sdks");
            Objects.requireNonNull(openStreams, "openStreams");
            Objects.requireNonNull(usage, "usage");
            Objects.requireNonNull(limits, "limits");
            Objects.requireNonNull(tokens, "tokens");
            Objects.requireNonNull(environments, "environments");
            Objects.requireNonNull(flags, "flags");
            Objects.requireNonNull(roles, "roles");
            Objects.requireNonNull(schedules, "schedules");
            Objects.requireNonNull(history, "history");
            Objects.requireNonNull(playground, "playground");
            Objects.requireNonNull(metrics, "metrics");
        }
    }

    /** @param services the services behind the API */
    public ApiServlet(Services services) {
        this.services = Objects.requireNonNull(services, "services");
    }

    @Override
    protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        long start = System.nanoTime();
        // Answers carry tokens (a new one), flags and audit trails: no cache keeps them, and no browser
        // guesses a type other than the one sent.
        resp.setHeader("Cache-Control", "no-store");
        resp.setHeader("X-Content-Type-Options", "nosniff");
        Principal principal = null;
        try {
            principal = authenticate(req);
            ActingToken.set(principal);
            List<String> segments = routedSegments(req);
            if (!RequestLimits.isFlagPatch(req.getMethod(), segments)) { // charged once its body is read
                req.setAttribute(CHARGED_AS_CHANGE, services.limits().admit(principal, req.getMethod(), segments));
            }
            // Parameters from the query string alone: a form body's fields would pass every check made on it.
            QueryParameters.refuseFormBody(req);
            route(headAsGet(QueryParameters.queryOnly(req)), resp, principal);
            if (Boolean.TRUE.equals(req.getAttribute(CHARGED_AS_CHANGE)) && "false".equals(resp.getHeader("X-Flags-Changed"))) {
                services.limits().changedNothing(principal);
            }
        } catch (ApiException e) {
            if (e.status() == 500) { // a fault already logged where it happened (a stopped journal)
                String method = LogText.escape(cut(req.getMethod()));
                String uri = LogText.escape(cut(req.getRequestURI()));
                refusedForAFault.add(e.title(), () -> "request " + method + " " + uri + " failed: " + e.getMessage()
                        + "; more such within a minute are counted, not logged one by one");
            }
            if (e.status() == 413) {
                resp.setHeader("Connection", "close"); // the rest of the body is not read (see bodyBytes)
            } else if (e.status() == 401 || principal == null && e.status() == 403) {
                // No token this server takes over HTTP (none, unknown, expired, an sdk token's): its connection goes, with or
                // without a body, so that clients without a token cannot hold the connections the others need, a kill
                // switch's among them, with a request now and then (QA61 F2).
                resp.setHeader("Connection", "close");
            }
            if (e.status() != 429) {
                chargeIfRefusedUncharged(req, principal);
            }
            problem(resp, e.status(), e.title(), e.getMessage(), e.extensions());
        } catch (JsonProcessingException e) {
            chargeIfRefusedUncharged(req, principal);
            problem(resp, 400, "malformed JSON", "the body is not valid JSON: " + FlagFormat.jsonErrorMessage(e)
                    + FlagFormat.jsonErrorLocation(e), Map.of());
        } catch (RuntimeException | Error e) {
            // An Error too (out of memory, most likely): answered in the API's own form, never as the servlet container's
            // page, which would show a stack trace.
            String id = UUID.randomUUID().toString();
            LOG.error("request {} {} failed (error id {})", LogText.escape(cut(req.getMethod())), LogText.escape(cut(req.getRequestURI())), id,
                    e);
            if (e instanceof OutOfMemoryError) {
                services.metrics().requestOutOfMemory();
            }
            problem(resp, 500, "internal error", "the server failed to handle this request" + (e instanceof OutOfMemoryError
                    ? ", out of memory" : "") + "; the error id is " + id, Map.of("errorId", id));
        } finally {
            ActingToken.clear();
            services.metrics().httpRequest(req.getMethod(), resp.getStatus(), System.nanoTime() - start);
        }
    }

    private Principal authenticate(HttpServletRequest req) {
        java.util.Enumeration<String> headers = req.getHeaders("Authorization");
        String header = headers.hasMoreElements() ? headers.nextElement() : null;
        if (headers.hasMoreElements()) {
            // Which one counts would be a guess that a proxy in front and this server could make differently.
            throw new ApiException(400, "bad request", "the request has more than one Authorization header: send one");
        }
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            throw new ApiException(401, "unauthorized", "send a token: Authorization: Bearer <token>");
        }
        Authentication checked = services.tokens().check(header.substring(7).trim());
        if (checked.isExpired()) {
            // Refused as an unknown token is; the words differ so that its holder asks for a new one.
            throw new ApiException(401, "unauthorized", "the token expired at " + checked.expiredToken().expiresAt()
                    + ": ask an admin for a new one");
        }
        if (checked.principal().isEmpty()) {
            services.tokens().refusedUnknown("http", Addresses.text(req.getRemoteAddr()));
        }
        Principal p = checked.principal()
                .orElseThrow(() -> new ApiException(401, "unauthorized", "the token is unknown or was revoked"));
        if (p.scope() == Scope.SDK) {
            // An SDK's token is built into applications, the most exposed place a token lives: it may
            // read its environment's stream and nothing else, not even the list of environments.
            throw new ApiException(403, "forbidden", "an sdk token may only subscribe to its environment over gRPC; the HTTP API"
                    + " needs a token of another scope (admin, editor, operator, tester or viewer)");
        }
        return p;
    }

    private void route(HttpServletRequest req, HttpServletResponse resp, Principal p) throws IOException {
        List<String> parts = PathSegments.of(req);
        String method = req.getMethod();
        int n = parts.size();
        requireNoPreconditionUnlessTaken(req, method, parts);
        if (n >= 1 && parts.get(0).equals("environments")) {
            if (n == 1) {
                switch (method) {
                    case "GET" -> {
                        QueryParameters.requireOnly(req);
                        listEnvironments(resp, p);
                    }
                    case "POST" -> {
                        QueryParameters.requireOnly(req, COMMENT);
                        createEnvironment(req, resp, p);
                    }
                    default -> throw notAllowed(method, "GET, POST");
                }
                return;
            }
            // No environment has any other key: a 400 that says so, not a 403 for a token not made for it.
            String env = Keys.environment(parts.get(1));
            if (n == 2) {
                switch (method) {
                    case "GET" -> {
                        QueryParameters.requireOnly(req);
                        write(resp, 200, environment(services.environments().get(p, env)));
                    }
                    case "DELETE" -> {
                        QueryParameters.requireOnly(req, COMMENT, "archived", "withSdks");
                        Access.requireAdmin(p); // before the body: a token that may not is told so first
                        noBody(req);
                        if (archived(req)) { // an archived environment, deleted for good
                            EnvironmentService.Deleted d = services.environments().delete(p, env, comment(req));
                            resp.setHeader("X-Flags-Changed", "true");
                            ObjectNode out = NODES.objectNode().put("key", env).put("deleted", true)
                                    .put("version", d.entry().version()).put("flags", d.last().flags().size())
                                    .put("archivedFlags", d.last().archivedFlags().size())
                                    .put("schedules", d.last().pendingSchedules().size()); // dropped, never to run
                            d.tokens().forEach(out.putArray("tokens")::add);
                            write(resp, 200, out);
                            return;
                        }
                        write(resp, 200, environment(services.environments().archive(p, env, comment(req),
                                bool(req, "withSdks"))));
                    }
                    default -> throw notAllowed(method, "GET, DELETE");
                }
                return;
            }
            String section = parts.get(2);
            if (section.equals("flags")) {
                routeFlags(req, resp, p, env, parts.subList(3, n));
                return;
            }
            if (section.equals("roles")) {
                routeRoles(req, resp, p, env, parts.subList(3, n));
                return;
            }
            if (section.equals("schedules")) {
                routeSchedules(req, resp, p, env, parts.subList(3, n));
                return;
            }
            if (section.equals("usage") && n == 3) {
                requireMethod(method, "GET");
                QueryParameters.requireOnly(req, "flag");
                String flag = req.getParameter("flag");
                usage(resp, services.usage().usage(p, env, flag), flag == null);
                return;
            }
            if (section.equals("sdks") && n == 3) {
                requireMethod(method, "GET");
                QueryParameters.requireOnly(req, "version", "limit", "closedAfter");
                sdks(resp, services.sdks().list(p, env, longParameter(req, "version"),
                        integer(req, "limit", SdkService.DEFAULT_LIMIT), instant(req, "closedAfter", null)));
                return;
            }
            if (section.equals("state") && n == 3) {
                requireMethod(method, "GET");
                QueryParameters.requireOnly(req, "at");
                state(req, resp, p, env);
                return;
            }
            if (section.equals("restore") && n == 3) {
                requireMethod(method, "POST");
                QueryParameters.requireOnly(req, COMMENT);
                Access.requireAdmin(p); // before the body: a token that may not is told so first
                // The comment comes as for the archive (DELETE) it undoes, or in a body as other POSTs take it.
                String inBody = null;
                JsonNode body = optionalBody(req); // none, an empty one too (curl -X POST -H 'Content-Type: ...')
                if (body != null) {
                    rejectUnknown(body, Set.of("comment"));
                    inBody = text(body, "comment", false);
                }
                write(resp, 200, environment(services.environments().restore(p, env, comment(req, inBody))));
                return;
            }
            if (section.equals("evaluate") && n == 3) {
                requireMethod(method, "POST");
                QueryParameters.requireOnly(req);
                evaluate(req, resp, p, env);
                return;
            }
        }
        if (n == 1 && parts.get(0).equals("audit")) {
            requireMethod(method, "GET");
            QueryParameters.requireOnly(req, "from", "to", "limit", "after", "environment", "actor");
            audit(req, resp, p);
            return;
        }
        if (n >= 1 && parts.get(0).equals("tokens")) {
            routeTokens(req, resp, p, parts);
            return;
        }
        if (n == 1 && parts.get(0).equals("whoami")) {
            requireMethod(method, "GET");
            QueryParameters.requireOnly(req);
            write(resp, 200, whoami(p));
            return;
        }
        throw noEndpoint(req);
    }

    // ---------------------------------------------------------------- environments

    private void listEnvironments(HttpServletResponse resp, Principal p) throws IOException {
        ArrayNode list = NODES.arrayNode();
        services.environments().list(p).forEach(e -> list.add(environment(e)));
        write(resp, 200, NODES.objectNode().set("environments", list));
    }

    private void createEnvironment(HttpServletRequest req, HttpServletResponse resp, Principal p) throws IOException {
        Access.requireAdmin(p);
        JsonNode body = body(req);
        rejectUnknown(body, Set.of("key", "name", "cloneFrom", "comment"));
        String key = text(body, "key", true);
        EnvironmentState created = services.environments().create(p, key, text(body, "name", false),
                text(body, "cloneFrom", false), comment(req, text(body, "comment", false)));
        resp.setHeader("Location", "/api/v1/environments/" + created.key());
        write(resp, 201, environment(created));
    }

    private ObjectNode environment(EnvironmentState e) {
        ObjectNode n = NODES.objectNode();
        n.put("key", e.key());
        JsonNode meta = e.metadata().toJsonNode();
        if (meta.hasNonNull("name")) {
            n.put("name", meta.get("name").asText());
        }
        if (meta.hasNonNull("source")) {
            n.put("clonedFrom", meta.get("source").asText());
        }
        n.put("version", e.version());
        n.put("archived", e.archived());
        n.put("flags", e.flags().size());
        n.put("bytes", EnvironmentLimits.servedBytes(e));
        EnvironmentLimits limits = services.environments().limits();
        n.putObject("limits").put("flags", limits.maxFlags()).put("bytes", limits.maxBytes());
        ArrayNode roles = n.putArray("selfServiceRoles");
        e.selfServiceRoles().stream().sorted().forEach(roles::add);
        return n;
    }

    // ---------------------------------------------------------------- flags

    private void routeFlags(HttpServletRequest req, HttpServletResponse resp, Principal p, String env, List<String> rest)
            throws IOException {
        String method = req.getMethod();
        if (rest.isEmpty()) {
            requireMethod(method, "GET");
            QueryParameters.requireOnly(req, "archived", "after", "limit");
            FlagService.FlagPage page = services.flags().page(p, env, archived(req), req.getParameter("after"),
                    integer(req, "limit", EnvironmentLimits.MOST_FLAGS));
            writeFlagPage(resp, env, page);
            return;
        }
        String key = rest.get(0);
        if (rest.size() == 1) {
            switch (method) {
                case "GET" -> {
                    QueryParameters.requireOnly(req, "archived");
                    flag(resp, 200, archived(req) ? services.flags().getArchived(p, env, key) : services.flags().get(p, env, key));
                }
                case "PUT" -> {
                    QueryParameters.requireOnly(req, COMMENT, "switchOn");
                    boolean switchOn = bool(req, "switchOn");
                    List<String> broken = services.schedules().noLongerApplyingBefore(p, env, key);
                    boolean wasArchived = services.flags().isArchived(env, key);
                    FlagService.Written w = services.flags().put(p, env, key, body(req), precondition(req), switchOn,
                            comment(req));
                    if (w.created() && wasArchived) {
                        resp.setHeader(WARNING, "flag \"" + key + "\" was archived: this write brought its key back with the"
                                + " document sent, and its history goes on from there (a revert to one of its versions brings"
                                + " back an old document instead)");
                    }
                    written(resp, w, env, key, broken);
                }
                case "PATCH" -> {
                    QueryParameters.requireOnly(req, COMMENT);
                    if (!p.canSwitchOff(env)) { // refused before its body is read, and charged as any write (QA47a F3)
                        req.setAttribute(CHARGED_AS_CHANGE, services.limits().admit(p, method, PathSegments.of(req)));
                    }
                    Access.requireSwitchOff(p, env); // before the body: an operator's token may switch flags off
                    JsonNode body = body(req);
                    // Charged before anything else is said of it: a body read is work, refused or not (QA46a F2). A
                    // switch-off works with the change budget spent.
                    req.setAttribute(CHARGED_AS_CHANGE, services.limits().admitFlagPatch(p, body));
                    Access.requirePatch(p, env, body); // an operator's token: the kill switch and nothing else
                    List<String> broken = services.schedules().noLongerApplying(env, key);
                    written(resp, services.flags().patch(p, env, key, body, precondition(req), comment(req)), env, key, broken);
                }
                case "DELETE" -> {
                    QueryParameters.requireOnly(req, "unusedFor", COMMENT, "archived");
                    if (archived(req)) { // an archived flag's last document, deleted for good
                        Access.requireAdmin(p); // before the body
                        noBody(req);
                        if (req.getParameter("unusedFor") != null) {
                            throw new ApiException(400, "bad request", "unusedFor is for archiving a served flag; an"
                                    + " archived flag is served to no SDK");
                        }
                        FlagService.DeletedForGood d = services.flags().deleteArchived(p, env, key, precondition(req),
                                comment(req));
                        resp.setHeader("X-Flags-Changed", "true");
                        ObjectNode deleted = NODES.objectNode().put("key", key).put("deleted", true)
                                .put("environmentVersion", d.entry().version());
                        // Ended with the flag (left pending, they would change a new flag of this key): named, so that
                        // whoever still wants one of these changes knows to schedule it again.
                        ArrayNode ended = deleted.putArray("endedSchedules");
                        d.endedSchedules().forEach(s -> ended.add(s.id()));
                        write(resp, 200, deleted);
                        return;
                    }
                    Access.requireWriteFlags(p, env); // before the body
                    noBody(req, "unusedFor=P7D");
                    String unusedFor = req.getParameter("unusedFor");
                    if (unusedFor != null) {
                        // No such flag is a 404 first (with the key meant): a typo that code asks for has usage too.
                        services.flags().get(p, env, key);
                        services.usage().requireUnused(p, env, key, unusedFor);
                    }
                    List<Schedule> doomed = services.schedules().pending(env, key);
                    JournalEntry e = services.flags().archive(p, env, key, precondition(req), comment(req));
                    resp.setHeader("X-Flags-Changed", "true");
                    if (!doomed.isEmpty()) { // an archived flag takes no change: each will fail at its time
                        resp.setHeader(SCHEDULES_BROKEN, named(doomed.stream().map(Schedule::id).toList(), key));
                    }
                    write(resp, 200, NODES.objectNode().put("key", key).put("archived", true).put("environmentVersion", e.version()));
                }
                default -> throw notAllowed(method, "GET, PUT, PATCH, DELETE");
            }
            return;
        }
        if (rest.size() == 2 && rest.get(1).equals("history")) {
            requireMethod(method, "GET");
            QueryParameters.requireOnly(req, "before", "limit");
            HistoryService.HistoryPage page = services.history().flagHistory(p, env, key, longParameter(req, "before"),
                    integer(req, "limit", HistoryService.MAX_HISTORY));
            ArrayNode versions = NODES.arrayNode();
            List<JournalEntry> shown = page.versions();
            for (int i = 0; i < shown.size(); i++) {
                ObjectNode entry = historyEntry(shown.get(i), key);
                if (shown.get(i).type() == EntryType.FLAG_CREATED) {
                    // A flag_created after any earlier version of the key brings an archived flag back (a PUT or a
                    // promote onto it), as a revert's "restored" says. Before the oldest retained entry: unknown.
                    boolean earlierVersion = i > 0 || page.earlier() != null;
                    if (earlierVersion || page.oldestRetainedSequence() == null) {
                        entry.put("restored", earlierVersion);
                    } else {
                        entry.putNull("restored");
                    }
                }
                versions.add(entry);
            }
            ObjectNode answer = NODES.objectNode().put("environment", env).put("flag", key);
            answer.set("versions", versions);
            if (page.earlier() != null) {
                answer.put("earlier", page.earlier());
            }
            if (page.oldestRetainedSequence() != null) {
                answer.putObject("retention").put("oldestRetainedSequence", page.oldestRetainedSequence())
                        .put("detail", "the journal's entries before sequence " + page.oldestRetainedSequence()
                                + " are no longer in it (removed by retention, --journal-retention, or set aside by a repair"
                                + " that kept a checkpoint's state): this flag may have older versions");
            }
            writeStreamed(resp, 200, answer);
            return;
        }
        if (rest.size() == 2 && rest.get(1).equals("schedules")) {
            requireMethod(method, "POST");
            QueryParameters.requireOnly(req, COMMENT);
            Access.requireWriteFlags(p, env, ScheduleService.SCHEDULE);
            JsonNode body = body(req);
            rejectUnknown(body, Set.of("at", "patch", "comment"));
            // A new one may leave a later one unable to apply (an untarget at noon before the one at five): say so now.
            List<String> brokenBefore = services.schedules().noLongerApplyingBefore(p, env, key, ScheduleService.SCHEDULE);
            Schedule s = services.schedules().create(p, env, key, body.get("at"), body.get("patch"),
                    comment(req, text(body, "comment", false)));
            List<String> broken = new ArrayList<>(services.schedules().noLongerApplying(env, key));
            broken.removeAll(brokenBefore);
            if (!broken.isEmpty()) {
                resp.setHeader(SCHEDULES_BROKEN, named(broken, key));
            }
            resp.setHeader("Location", "/api/v1/environments/" + env + "/schedules/" + s.id());
            resp.setHeader("X-Flags-Changed", "true");
            write(resp, 201, schedule(env, s, willFail(env, s.flag())));
            return;
        }
        if (rest.size() == 2 && rest.get(1).equals("revert")) {
            requireMethod(method, "POST");
            QueryParameters.requireOnly(req, COMMENT);
            Access.requireWriteFlags(p, env);
            JsonNode body = body(req);
            rejectUnknown(body, Set.of("version", "comment", "switchOn", "keepOff"));
            JsonNode v = body.get("version");
            if (v == null || !v.isIntegralNumber()) {
                throw new ApiException(400, "bad request", "the body must name the version to revert to: {\"version\": 12}");
            }
            if (!v.canConvertToLong()) {
                // asLong() would keep its low 64 bits: 18446744073709551618 would revert to version 2.
                throw new ApiException(400, "bad request", "version " + v.asText() + " is no version a flag can have: a"
                        + " whole number from 1 to " + Long.MAX_VALUE);
            }
            boolean switchOn = bool(body, "switchOn");
            boolean keepOff = bool(body, "keepOff");
            if (switchOn && keepOff) {
                throw new ApiException(400, "bad request", "\"switchOn\" and \"keepOff\" ask for opposite things; send one");
            }
            List<String> broken = services.schedules().noLongerApplyingBefore(p, env, key);
            written(resp, services.flags().revert(p, env, key, v.asLong(), precondition(req), switchOn
                    ? FlagService.SwitchOn.SWITCH_ON : keepOff ? FlagService.SwitchOn.KEEP_OFF : FlagService.SwitchOn.REFUSE,
                    comment(req, text(body, "comment", false))), env, key, broken);
            return;
        }
        throw noEndpoint(req);
    }

    /**
     * A flag's PATCH is charged once its body is read (a switch-off to the reads); one refused before that (a query
     * parameter it does not take, a body that is not JSON, a field given twice) is charged as a change here, or a token
     * could send such requests, each with a body of up to a mebibyte to read, without end (QA48a F2). Into debt if its
     * budget is spent: its next requests wait for it.
     */
    private void chargeIfRefusedUncharged(HttpServletRequest req, Principal principal) {
        if (principal != null && req.getAttribute(CHARGED_AS_CHANGE) == null
                && RequestLimits.isFlagPatch(req.getMethod(), routedSegments(req))) {
            services.limits().refusedFlagPatch(principal);
        }
    }

    /**
     * The path's segments as {@link #route} reads them, for the request budgets to judge a request as the router will
     * take it; null for a path the router refuses with a 400 (charged as any request of its method).
     */
    private static List<String> routedSegments(HttpServletRequest req) {
        try {
            return PathSegments.of(req);
        } catch (ApiException e) {
            return null;
        }
    }

    private static void flag(HttpServletResponse resp, int status, FlagService.VersionedFlag f) throws IOException {
        resp.setHeader("ETag", "\"" + f.version() + "\"");
        write(resp, status, FlagFormat.toJson(f.flag()));
    }

    /**
     * A write's answer: the flag as stored, {@code X-Flags-Changed: false} if it already was that, the pending
     * schedules of the flag that this write left unable to apply (each would fail at its time), and, after a
     * switch-off, those that will switch it on again: said now, while they can be changed. A write that changed nothing
     * and left the flag off says them too: a kill switch thrown a second time, by a second responder to the same
     * incident, who must hear it as much as the first.
     *
     * @param brokenBefore the schedules that did not apply before the write: not this write's doing, not named again
     */
    private void written(HttpServletResponse resp, FlagService.Written w, String env, String key, List<String> brokenBefore)
            throws IOException {
        resp.setHeader("X-Flags-Changed", String.valueOf(w.changed()));
        if (w.changed()) {
            // The environment's version this write made: what GET .../sdks?version= asks the SDKs about.
            resp.setHeader("X-Flags-Environment-Version", String.valueOf(w.entry().version()));
            List<String> broken = new ArrayList<>(services.schedules().noLongerApplying(env, key));
            broken.removeAll(brokenBefore);
            if (!broken.isEmpty()) {
                resp.setHeader(SCHEDULES_BROKEN, named(broken, key));
            }
        }
        if (w.switchedOff() || (!w.changed() && !w.flag().flag().enabled())) {
            // The kill switch does not cancel what is planned: say now what would undo it, while it can be cancelled.
            List<String> undo = services.schedules().switchingOn(env, key).stream().map(s -> s.id() + " at " + s.at()).toList();
            if (!undo.isEmpty()) {
                resp.setHeader(SCHEDULES_SWITCH_ON, named(undo, key));
            }
        }
        flag(resp, w.created() ? 201 : 200, w.flag());
    }

    /** Schedules named in a header: bounded, since an environment may hold 1,000 pending ones. */
    private static String named(List<String> schedules, String key) {
        return listed(schedules, "GET .../schedules?flag=" + key);
    }

    /** @param where where to find those past the first {@value #MAX_SCHEDULES_NAMED} */
    private static String listed(List<String> schedules, String where) {
        if (schedules.size() <= MAX_SCHEDULES_NAMED) {
            return String.join(", ", schedules);
        }
        return String.join(", ", schedules.subList(0, MAX_SCHEDULES_NAMED)) + ", and " + (schedules.size() - MAX_SCHEDULES_NAMED)
                + " more (" + where + ")";
    }

    private static ObjectNode historyEntry(JournalEntry e, String flagKey) {
        ObjectNode n = NODES.objectNode();
        n.put("version", e.version());
        n.put("sequence", e.sequence());
        n.put("change", e.type().name().toLowerCase(java.util.Locale.ROOT));
        n.put("actor", e.actor());
        n.put("timestamp", e.timestamp().toString());
        n.put("comment", e.comment());
        if (e.type() == EntryType.FLAG_REVERTED) {
            JsonNode payload = e.payload().toJsonNode();
            n.put("revertedTo", payload.get("revertedTo").asLong());
            n.put("restored", payload.get("restored").asBoolean());
        }
        if (e.type() == EntryType.FLAG_CREATED || e.type() == EntryType.FLAG_UPDATED) {
            // The stored document as it is (its fields by name, as its tree would have them): a page holds up to 8 MiB
            // of documents, and as trees a few pages read at once could fill a small heap.
            n.putRawValue("flag", new com.fasterxml.jackson.databind.util.RawValue(e.payload().toString()));
        } else {
            e.flagDefinition(flagKey).ifPresent(definition -> n.set("flag", definition));
        }
        return n;
    }

    // ---------------------------------------------------------------- schedules

    private void routeSchedules(HttpServletRequest req, HttpServletResponse resp, Principal p, String env, List<String> rest)
            throws IOException {
        String method = req.getMethod();
        if (rest.isEmpty()) {
            requireMethod(method, "GET");
            QueryParameters.requireOnly(req, "flag", "status");
            ArrayNode list = NODES.arrayNode();
            Map<String, Map<String, String>> willFailByFlag = new java.util.HashMap<>(); // each flag's judged once
            services.schedules().list(p, env, req.getParameter("flag"), req.getParameter("status"))
                    .forEach(s -> list.add(schedule(env, s, s.pending()
                            ? willFailByFlag.computeIfAbsent(s.flag(), f -> willFail(env, f)) : Map.of())));
            write(resp, 200, NODES.objectNode().put("environment", env).set("schedules", list));
            return;
        }
        if (rest.size() == 1) {
            String id = rest.get(0);
            switch (method) {
                case "GET" -> {
                    QueryParameters.requireOnly(req);
                    Schedule s = services.schedules().get(p, env, id);
                    write(resp, 200, schedule(env, s, s.pending() ? willFail(env, s.flag()) : Map.of()));
                }
                case "DELETE" -> {
                    QueryParameters.requireOnly(req, COMMENT);
                    Access.requireWriteFlags(p, env, ScheduleService.CANCEL); // before the body
                    noBody(req);
                    // A later schedule of the flag may have counted on this one (an untarget on its target): say so now.
                    String flag = services.schedules().get(p, env, id).flag();
                    List<String> brokenBefore = services.schedules().noLongerApplyingBefore(p, env, flag, ScheduleService.CANCEL);
                    Schedule cancelled = services.schedules().cancel(p, env, id, comment(req));
                    List<String> broken = new ArrayList<>(services.schedules().noLongerApplying(env, flag));
                    broken.removeAll(brokenBefore);
                    if (!broken.isEmpty()) {
                        resp.setHeader(SCHEDULES_BROKEN, named(broken, flag));
                    }
                    resp.setHeader("X-Flags-Changed", "true");
                    write(resp, 200, schedule(env, cancelled, Map.of()));
                }
                default -> throw notAllowed(method, "GET, DELETE");
            }
            return;
        }
        throw noEndpoint(req);
    }

    /** Why each pending schedule of a flag will fail at its time, by id (absent: it will apply). */
    private Map<String, String> willFail(String env, String flag) {
        Map<String, String> why = new java.util.HashMap<>();
        services.schedules().fates(env, flag).forEach(f -> {
            if (f.willFail() != null) {
                why.put(f.schedule().id(), f.willFail());
            }
        });
        return why;
    }

    /**
     * A schedule as the API shows it: every field always present (null when it does not apply), one shape to read.
     *
     * @param willFail why the flag's pending schedules will fail, by id: known before their time
     */
    private ObjectNode schedule(String env, Schedule s, Map<String, String> willFail) {
        ObjectNode n = NODES.objectNode().put("id", s.id()).put("environment", env).put("flag", s.flag())
                .put("at", s.at().toString());
        n.put("willFail", s.pending() ? willFail.get(s.id()) : null); // an ended one's too: one shape (QA72 F7)
        n.set("patch", s.patch().toJsonNode());
        n.put("createdBy", s.createdBy()).put("createdAt", s.createdAt().toString()).put("comment", s.comment())
                .put("status", s.status().apiName()).put("endedAt", instant(s.endedAt())).put("endedBy", s.endedBy())
                .put("reason", s.reason());
        if (s.flagVersion() > 0) {
            n.put("flagVersion", s.flagVersion());
        } else {
            n.putNull("flagVersion");
        }
        return n;
    }

    // ---------------------------------------------------------------- usage

    /**
     * Every field always present (null for never), one shape to read; {@code unknownFlags} only in the
     * environment's answer, not in one flag's.
     */
    private static void usage(HttpServletResponse resp, UsageService.Usage u, boolean withUnknown) throws IOException {
        ObjectNode n = NODES.objectNode().put("environment", u.environment()).put("at", instant(u.at()))
                .put("since", instant(u.since()))
                .put("reportInterval", u.reportInterval().toString());
        ArrayNode flags = n.putArray("flags");
        for (UsageService.FlagUsage f : u.flags()) {
            ObjectNode flag = flags.addObject().put("flag", f.flag())
                    .put("lastEvaluatedAt", instant(f.use().lastEvaluatedAt()))
                    .put("lastServedTrueAt", instant(f.use().lastServedTrueAt()))
                    .put("lastServedFalseAt", instant(f.use().lastServedFalseAt()));
            applications(flag.putArray("applications"), f.use().applications());
        }
        if (withUnknown) {
            ArrayNode unknown = n.putArray("unknownFlags");
            for (UsageService.UnknownFlagUsage f : u.unknownFlags()) {
                ObjectNode flag = unknown.addObject().put("flag", f.flag()).put("lastAskedAt", f.use().lastAskedAt().toString());
                applications(flag.putArray("applications"), f.use().applications());
            }
        }
        write(resp, 200, n);
    }

    private static void applications(ArrayNode to, List<ApplicationUse> apps) {
        apps.forEach(a -> to.addObject().put("name", a.name()).put("sdk", a.sdk()).put("lastReportAt", a.lastReportAt().toString()));
    }

    // ---------------------------------------------------------------- sdks

    /** Every field always present (null for none), one shape to read. */
    private static void sdks(HttpServletResponse resp, SdkService.Sdks s) throws IOException {
        ObjectNode n = NODES.objectNode().put("environment", s.environment()).put("version", s.version())
                .put("target", s.target()).put("at", instant(s.at())).put("serverStartedAt", instant(s.serverStartedAt()))
                .put("streams", s.streams())
                .put("applied", s.applied()).put("pending", s.pending()).put("unconfirmed", s.unconfirmed());
        ArrayNode list = n.putArray("sdks");
        for (SdkService.Sdk sdk : s.sdks()) {
            dev.flags.server.sync.SdkStream st = sdk.stream();
            list.addObject().put("instance", st.acknowledges() ? st.instanceId() : null)
                    .put("application", st.application().isEmpty() ? null : st.application())
                    .put("sdk", st.sdk()).put("token", st.tokenId()).put("connectedAt", instant(st.connectedAt()))
                    .put("sentVersion", st.sentVersion())
                    .put("appliedVersion", st.appliedVersion() < 0 ? null : st.appliedVersion())
                    .put("appliedAt", instant(st.appliedAt())).put("standing", sdk.standing().apiName());
        }
        n.put("more", s.streams() - s.sdks().size());
        if (s.closed() != null) {
            ArrayNode closed = n.putArray("closed"); // by their application: they serve nothing any more
            for (dev.flags.server.sync.SdkStream st : s.closed()) {
                closed.addObject().put("instance", st.instanceId())
                        .put("application", st.application().isEmpty() ? null : st.application())
                        .put("sdk", st.sdk()).put("token", st.tokenId())
                        .put("appliedVersion", st.appliedVersion() < 0 ? null : st.appliedVersion());
            }
        }
        write(resp, 200, n);
    }

    // ---------------------------------------------------------------- roles

    private void routeRoles(HttpServletRequest req, HttpServletResponse resp, Principal p, String env, List<String> rest)
            throws IOException {
        String method = req.getMethod();
        if (rest.isEmpty()) {
            requireMethod(method, "GET");
            QueryParameters.requireOnly(req);
            RoleService.Roles roles = services.roles().list(p, env);
            ObjectNode n = NODES.objectNode().put("environment", env).put("version", roles.version());
            if (p.scope() == Scope.TESTER && p.userId() != null) {
                n.put("onlyUser", p.userId()); // the members are this user's grants: others' are not shown, not absent
            }
            ArrayNode self = n.putArray("selfService");
            roles.selfService().forEach(self::add);
            ObjectNode members = n.putObject("members");
            roles.members().forEach((role, users) -> {
                ArrayNode a = members.putArray(role);
                users.forEach(a::add);
            });
            ObjectNode limits = n.putObject("maxGrantDuration");
            roles.maxGrantDurations().forEach((role, max) -> limits.put(role, max.toString()));
            ObjectNode expiries = n.putObject("expiresAt");
            roles.expiries().forEach((role, users) -> {
                ObjectNode byUser = expiries.putObject(role);
                users.forEach((user, at) -> byUser.put(user, at.toString()));
            });
            write(resp, 200, n);
            return;
        }
        String role = rest.get(0);
        if (rest.size() == 1) {
            requireMethod(method, "PUT");
            QueryParameters.requireOnly(req, COMMENT);
            Access.requireAdmin(p);
            JsonNode body = body(req);
            rejectUnknown(body, Set.of("selfService", "maxGrantDuration"));
            JsonNode self = body.get("selfService");
            if (self == null || !self.isBoolean()) {
                throw new ApiException(400, "bad request", "the body must say whether the role is self-service: {\"selfService\": true}");
            }
            Duration max = Expiry.maxGrantDuration(body.get("maxGrantDuration"));
            JournalEntry e = services.roles().setSelfService(p, env, role, self.asBoolean(), max, comment(req));
            resp.setHeader("X-Flags-Changed", String.valueOf(e != null));
            ObjectNode n = NODES.objectNode().put("role", role).put("selfService", self.asBoolean());
            if (self.asBoolean()) {
                n.put("maxGrantDuration", max == null ? null : max.toString());
            }
            write(resp, 200, n.put("changed", e != null));
            return;
        }
        if (rest.size() == 3 && rest.get(1).equals("members")) {
            String userId = rest.get(2);
            boolean grant = switch (method) {
                case "PUT" -> true;
                case "DELETE" -> false;
                default -> throw notAllowed(method, "PUT, DELETE");
            };
            QueryParameters.requireOnly(req, COMMENT);
            services.roles().requireMayChangeMember(p, env, role, userId, grant); // before the body
            JsonNode body = optionalBody(req);
            if (body != null && !grant) {
                throw new ApiException(400, "bad request", "a revocation takes no body: it revokes at once (to revoke later, grant"
                        + " again with {\"expiresIn\": ...})");
            }
            if (body != null) {
                rejectUnknown(body, Set.of("expiresAt", "expiresIn"));
            }
            RoleService.Membership m = services.roles().setMember(p, env, role, userId, grant, body, comment(req));
            resp.setHeader("X-Flags-Changed", String.valueOf(m.entry() != null));
            if (grant && m.entry() != null && services.roles().looksUnknown(env, role, userId)) {
                resp.setHeader(WARNING, "no flag in environment \"" + env + "\" names role \"" + role + "\", it is not"
                        + " self-service, and nobody else holds it: the grant lets the user into nothing yet (a misspelt"
                        + " role?)");
            }
            ObjectNode n = NODES.objectNode().put("role", role).put("user", userId).put("member", grant);
            if (grant) {
                n.put("expiresAt", m.expiresAt() == null ? null : m.expiresAt().toString());
            }
            write(resp, 200, n.put("changed", m.entry() != null));
            return;
        }
        throw noEndpoint(req);
    }

    // ---------------------------------------------------------------- history, state, playground

    private void audit(HttpServletRequest req, HttpServletResponse resp, Principal p) throws IOException {
        Instant from = instant(req, "from", Instant.EPOCH);
        // Without "to", everything from "from" on (not "until now" by this JVM's clock: the journal's is the server's).
        Instant to = instant(req, "to", Instant.MAX);
        int limit = integer(req, "limit", DEFAULT_AUDIT_PAGE);
        Long after = longParameter(req, "after");
        String env = req.getParameter("environment");
        ArrayNode entries = NODES.arrayNode();
        HistoryService.AuditPage found = services.history().audit(p, env, req.getParameter("actor"), from, to,
                after == null ? 0 : after, limit);
        Map<Long, String> switched = services.history().switches(found.entries(), req.getParameter("actor") != null);
        for (JournalEntry e : found.entries()) {
            entries.add(dev.flags.server.AuditEntries.json(e, switched.get(e.sequence())));
        }
        ObjectNode answer = NODES.objectNode();
        answer.set("entries", entries);
        if (found.more()) {
            // The page is full (by count, by bytes, or by the entries it may read) and the range may hold more: ask again
            // with after=<this>, which may be past the last entry shown (a page that read far and found few, or none).
            answer.put("after", found.resumeAfter());
        }
        write(resp, 200, answer);
    }

    private void state(HttpServletRequest req, HttpServletResponse resp, Principal p, String env) throws IOException {
        Instant at = instant(req, "at", null);
        if (at == null) {
            throw new ApiException(400, "bad request", "say when: ?at=2026-11-20T17:00:00Z");
        }
        ServerState state = services.history().stateAt(p, env, at);
        EnvironmentState e = state.environment(env).orElseThrow();
        // The grants then too, as GET .../roles shows them now: what a user got from a rule naming roles depended on them.
        java.util.SortedMap<String, java.util.SortedSet<String>> byRole = new java.util.TreeMap<>();
        e.roleGrants().forEach((user, roles) -> roles.forEach(r -> byRole.computeIfAbsent(r, k -> new java.util.TreeSet<>())
                .add(user)));
        java.util.SortedMap<String, java.util.SortedMap<String, String>> ends = new java.util.TreeMap<>();
        e.grantExpiries().forEach((grant, end) -> ends.computeIfAbsent(grant.role(), k -> new java.util.TreeMap<>())
                .put(grant.userId(), end.toString()));
        ObjectNode members = NODES.objectNode();
        byRole.forEach((role, users) -> {
            ArrayNode a = members.putArray(role);
            users.forEach(a::add);
        });
        ObjectNode expiries = NODES.objectNode();
        ends.forEach((role, users) -> {
            ObjectNode byUser = expiries.putObject(role);
            users.forEach(byUser::put);
        });
        // The flags as stored, one after another, never as trees: a past state is rebuilt beside the current one, and a
        // large environment's documents as trees as well could fill the heap of a server near full.
        try (com.fasterxml.jackson.core.JsonGenerator g = streamed(resp, 200)) {
            g.writeStartObject();
            g.writeStringField("environment", env);
            g.writeStringField("at", at.toString());
            g.writeNumberField("version", e.version());
            g.writeNumberField("sequence", state.sequence());
            documents(g, "flags", new java.util.TreeMap<>(e.flags()).values());
            g.writeFieldName("members");
            Json.MAPPER.writeTree(g, members);
            g.writeFieldName("expiresAt");
            Json.MAPPER.writeTree(g, expiries);
            g.writeEndObject();
        }
    }

    private void evaluate(HttpServletRequest req, HttpServletResponse resp, Principal p, String env) throws IOException {
        Access.requireRead(p, env); // before the body, and before the one-at-a-time guard: a 403, not a 429 or 400
        JsonNode body = body(req);
        rejectUnknown(body, Set.of("user", "flag", "explain"));
        // One at a time per token from here: reading the user is work too (its roles and attributes), not only its rules.
        services.limits().enterPlayground(p);
        long stepsBefore = FlagSet.patternStepsOnThisThread();
        ObjectNode n;
        try {
            n = evaluated(p, env, body);
        } finally {
            // After the answer is made, charged to the token's reads: the next request pays for what this one cost.
            services.limits().chargePatternSteps(p, FlagSet.patternStepsOnThisThread() - stepsBefore);
            services.limits().leavePlayground(p);
        }
        write(resp, 200, n);
    }

    private ObjectNode evaluated(Principal p, String env, JsonNode body) {
        User user = user(body.get("user"));
        String flagKey = text(body, "flag", false);
        JsonNode explainNode = body.get("explain");
        if (explainNode != null && !explainNode.isBoolean()) {
            throw new ApiException(400, "bad request", "explain must be true or false, was " + explainNode);
        }
        boolean explain = explainNode != null && explainNode.booleanValue();
        FlagSet set = services.playground().flagSet(p, env);
        ObjectNode n = NODES.objectNode().put("environment", env).put("version", set.version());
        boolean grantsShown = true;
        if (p.scope() == Scope.TESTER && p.userId() != null && !p.userId().equals(user.id())) {
            grantsShown = false;
            // As GET .../roles shows a tester only its own user's grants, the playground must not reveal
            // another user's ("bob" matching "beta testers" would say that bob has the role).
            set = set.withRoleGrants(Map.of(), set.version());
            n.put("note", "a tester token evaluates users other than its own (\"" + p.userId()
                    + "\") without their role grants on the server");
        }
        ArrayNode results = n.putArray("results");
        evaluate(set, results, flagKey, user, explain, grantsShown);
        if (!grantsShown) {
            for (JsonNode result : results) {
                markIfHiddenGrantsCouldDecide(set, (ObjectNode) result);
            }
        }
        if (flagKey != null && !set.has(flagKey)) {
            // The answer is the SDK's (FLAG_NOT_FOUND, the default); a person asking may have misspelt the key.
            services.flags().nearest(env, flagKey).ifPresent(near -> ((ObjectNode) results.get(0)).put("didYouMean", near));
        }
        return n;
    }

    /**
     * Marks an answer made without the user's role grants that those grants could have changed: one that fell past a
     * rule naming roles (a grant could have matched it first). Judged from the flag and the answer alone, never from
     * the grants themselves, so that the mark reveals nothing of them. An answer decided before any such rule, by the
     * switch, a target or an earlier rule, stands whatever the grants are.
     */
    private static void markIfHiddenGrantsCouldDecide(FlagSet set, ObjectNode result) {
        JsonNode reason = result.path("reason");
        String kind = reason.path("kind").asText();
        int rulesTried = switch (kind) {
            // ERROR: a rule broke on the user (a pattern past its step bound), and the answer does not say which; a
            // rule naming roles before it could have matched with the grants (QA77 F3), so every such rule counts.
            case "DEFAULT", "ERROR" -> Integer.MAX_VALUE;
            case "RULE_MATCH" -> reason.path("index").asInt(); // the rules before the one that matched
            default -> 0; // FLAG_OFF, TARGET_MATCH, FLAG_NOT_FOUND: no rule's roles were in the way
        };
        set.flag(result.path("flag").asText()).ifPresent(flag -> {
            List<Rule> rules = flag.rules();
            for (int i = 0; i < Math.min(rulesTried, rules.size()); i++) {
                if (rules.get(i).conditions().stream().anyMatch(c -> c instanceof Condition.Roles)) {
                    result.put("mayDiffer", "rule " + i + " names roles, and this token does not see the user's role"
                            + " grants on the server, which could match it");
                    return;
                }
            }
        });
    }

    private static void evaluate(FlagSet set, ArrayNode results, String flagKey, User user, boolean explain, boolean grantsShown) {
        if (explain) {
            // Step by step, for "why isn't this on for me?": off the SDK's path, so it may build sentences.
            List<String> keys = flagKey != null ? List.of(flagKey)
                    : set.flags().stream().map(Flag::key).sorted().toList();
            for (String key : keys) {
                results.add(FlagFormat.toJson(set.explain(key, user, grantsShown)));
            }
        } else if (flagKey != null) {
            results.add(FlagFormat.toJson(set.evaluate(flagKey, user)));
        } else {
            set.evaluateAll(user).values().stream().sorted((a, b) -> a.flagKey().compareTo(b.flagKey()))
                    .forEach(e -> results.add(FlagFormat.toJson(e)));
        }
    }

    private static User user(JsonNode node) {
        if (node == null) {
            throw new ApiException(400, "bad request", "the body needs a user: {\"user\": {\"id\": \"u-42\", \"roles\": [\"beta-tester\"], \"region\": \"eu-west\", \"attributes\": {\"plan\": \"pro\"}}}");
        }
        try {
            return FlagFormat.readUser(node);
        } catch (IllegalArgumentException e) {
            throw new ApiException(400, "bad request", e.getMessage());
        }
    }

    // ---------------------------------------------------------------- tokens

    private void routeTokens(HttpServletRequest req, HttpServletResponse resp, Principal p, List<String> parts) throws IOException {
        if (!p.isAdmin()) {
            throw new ApiException(403, "forbidden", "tokens are managed with an admin token; this token's scope is " + p.scope().apiName());
        }
        String method = req.getMethod();
        if (parts.size() == 1) {
            switch (method) {
                case "GET" -> {
                    QueryParameters.requireOnly(req);
                    ArrayNode list = NODES.arrayNode();
                    services.tokens().tokens().forEach(t -> list.add(token(t, services.openStreams())));
                    write(resp, 200, NODES.objectNode().set("tokens", list));
                }
                case "POST" -> {
                    QueryParameters.requireOnly(req, COMMENT);
                    JsonNode body = body(req);
                    rejectUnknown(body, Set.of("name", "scope", "environments", "userId", "expiresAt", "expiresIn", "comment"));
                    String name = text(body, "name", true); // its syntax is the token service's (a 400 below)
                    String scopeName = text(body, "scope", true);
                    Scope scope = Arrays.stream(Scope.values()).filter(s -> s.apiName().equals(scopeName)).findFirst()
                            .orElseThrow(() -> new ApiException(400, "bad request", "scope must be one of "
                                    + Scope.apiNames() + ", was \"" + scopeName + "\""));
                    Set<String> envs = new LinkedHashSet<>();
                    JsonNode envNode = body.get("environments");
                    if (envNode != null) {
                        if (!envNode.isArray()) {
                            throw new ApiException(400, "bad request", "environments must be an array of environment keys");
                        }
                        for (JsonNode e : envNode) {
                            if (!e.isTextual()) {
                                throw new ApiException(400, "bad request", "environments must hold environment keys as"
                                        + " strings, had " + LogText.quoted(e.toString(), 80));
                            }
                            // Said twice is a mistake in the request (a copy-paste), not something to guess the intent of.
                            if (!envs.add(e.asText())) {
                                throw new ApiException(400, "bad request", "environments lists "
                                        + LogText.quoted(e.asText(), 140) + " twice");
                            }
                        }
                    }
                    for (String env : envs) {
                        services.environments().get(p, env); // 404 for an unknown environment
                    }
                    Instant expiresAt = services.tokens().expiryOf(body);
                    Instant makerEnds = p.expiresAt();
                    if (makerEnds != null && expiresAt == null) {
                        expiresAt = makerEnds; // a temporary admin leaves no token behind that outlives it
                    } else if (makerEnds != null && expiresAt.isAfter(makerEnds)) {
                        throw new ApiException(403, "forbidden", "this token expires at " + makerEnds + ": a token it makes may not outlive it"
                                + " (asked until " + expiresAt + ")");
                    }
                    TokenService.CreatedToken created;
                    try {
                        created = services.tokens().create(name, scope, envs, text(body, "userId", false), expiresAt,
                                p.actor(), comment(req, text(body, "comment", false)));
                    } catch (IllegalArgumentException e) {
                        throw new ApiException(400, "bad request", e.getMessage());
                    }
                    ObjectNode n = token(created.info(), services.openStreams());
                    n.put("token", created.secret());
                    resp.setHeader("Location", "/api/v1/tokens/" + created.principal().tokenId());
                    write(resp, 201, n);
                }
                default -> throw notAllowed(method, "GET, POST");
            }
            return;
        }
        if (parts.size() == 2) {
            String id = parts.get(1);
            switch (method) {
                case "GET" -> {
                    QueryParameters.requireOnly(req);
                    // What the 201's Location names: the token's metadata, never its secret.
                    TokenInfo token = services.tokens().token(id)
                            .orElseThrow(() -> new ApiException(404, "token not found", "there is no live token \"" + id + "\""));
                    write(resp, 200, token(token, services.openStreams()));
                }
                case "DELETE" -> {
                    QueryParameters.requireOnly(req, COMMENT);
                    noBody(req);
                    boolean revoked;
                    try {
                        revoked = services.tokens().revoke(id, p.actor(), comment(req));
                    } catch (IllegalArgumentException e) {
                        throw new ApiException(400, "bad request", e.getMessage()); // a comment over the journal's limit
                    }
                    if (!revoked) {
                        throw new ApiException(404, "token not found", "there is no live token \"" + id + "\"");
                    }
                    List<String> doomed = services.schedules().madeWith(id);
                    if (!doomed.isEmpty()) { // each fails at its time: said now, while someone can make it again
                        resp.setHeader(SCHEDULES_WILL_FAIL, listed(doomed, "GET /api/v1/environments/ENV/schedules"));
                    }
                    write(resp, 200, NODES.objectNode().put("id", id).put("revoked", true));
                }
                default -> throw notAllowed(method, "GET, DELETE");
            }
            return;
        }
        throw noEndpoint(req);
    }

    /**
     * The token of the request, as {@code GET /tokens/{id}} shows one, with what it may do: for anyone to check their own
     * token's rights before they need them (an operator's kill switch during an incident), never its secret.
     */
    private ObjectNode whoami(Principal p) {
        ObjectNode n = services.tokens().token(p.tokenId()).map(info -> token(info, services.openStreams()))
                .orElseGet(() -> { // the bootstrap admin token, which the journal does not list
                    ObjectNode bootstrap = NODES.objectNode().put("id", p.tokenId()).put("name", p.name())
                            .put("scope", p.scope().apiName());
                    bootstrap.putArray("environments");
                    bootstrap.put("createdAt", (String) null).put("createdBy", (String) null)
                            .put("expiresAt", instant(p.expiresAt())).put("expired", false).put("lastUsedAt", (String) null)
                            .put("openStreams", 0);
                    return bootstrap;
                });
        // Scopes, not environments, tell the rights: the same in each of its environments (every one for an admin).
        String env = p.isAdmin() || p.environments().isEmpty() ? "" : p.environments().iterator().next();
        ArrayNode may = n.putArray("may");
        if (p.isAdmin()) {
            may.add("admin");
        }
        if (p.canRead(env)) {
            may.add("read");
        }
        if (p.canReadHistory(env)) {
            may.add("history");
        }
        if (p.canSwitchOff(env)) {
            may.add("switchOff");
        }
        if (p.canWriteFlags(env)) {
            may.add("changeFlags");
        }
        if (p.canGrantSelfServiceRoles(env)) {
            may.add(p.scope() == Scope.TESTER ? "grantSelfServiceRolesToItsUser" : "grantSelfServiceRoles");
        }
        // What it may do there, an archived environment refuses all the same, kill switches included (QA52 F2).
        // Those it may read: every environment for an admin, whose token names none (QA72 F6: it listed none).
        ArrayNode archived = n.putArray("archivedEnvironments");
        services.environments().list(p).stream().filter(EnvironmentState::archived).forEach(e -> archived.add(e.key()));
        ArrayNode deleted = n.putArray("deletedEnvironments");
        services.environments().deleted(p.environments()).forEach(deleted::add);
        return n;
    }

    private static ObjectNode token(TokenInfo info, ToIntFunction<String> openStreams) {
        Principal t = info.principal();
        ObjectNode n = NODES.objectNode().put("id", t.tokenId()).put("name", t.name()).put("scope", t.scope().apiName());
        ArrayNode envs = n.putArray("environments");
        t.environments().forEach(envs::add);
        if (t.userId() != null) {
            n.put("userId", t.userId());
        }
        // Always present (null when unknown or none), so that a script reads one shape.
        n.put("createdAt", instant(info.createdAt() == null ? null : info.createdAt().truncatedTo(ChronoUnit.SECONDS)));
        n.put("createdBy", info.createdBy());
        n.put("expiresAt", instant(t.expiresAt()));
        n.put("expired", info.expired());
        n.put("lastUsedAt", instant(info.lastUsedAt()));
        // lastUsedAt of an SDK's token is when its stream opened, days ago maybe: this says it is in use now.
        n.put("openStreams", openStreams.applyAsInt(t.tokenId()));
        return n;
    }

    private static String instant(Instant at) {
        return at == null ? null : at.toString();
    }

    // ---------------------------------------------------------------- request and response helpers

    private static JsonNode body(HttpServletRequest req) throws IOException {
        checkBodyHeaders(req);
        byte[] bytes = bodyBytes(req);
        if (bytes.length == 0) {
            throw new ApiException(400, "bad request", "the body is empty; send a JSON object");
        }
        return parsed(bytes);
    }

    /**
     * Refuses a body where the endpoint reads none: {@code {"unusedFor": "P7D"}} on a flag's DELETE would
     * otherwise be ignored, the flag archived unguarded, and a comment in it lost.
     */
    /** @param parameters the endpoint's query parameters besides the comment, each with an example: "unusedFor=P7D" */
    private static void noBody(HttpServletRequest req, String... parameters) throws IOException {
        if (bodyBytes(req).length > 0) {
            StringBuilder example = new StringBuilder("?comment=...");
            for (String parameter : parameters) {
                example.append('&').append(parameter);
            }
            throw new ApiException(400, "bad request", "this " + req.getMethod() + " takes no body: give "
                    + (parameters.length == 0 ? "the comment as ?comment= or X-Flags-Comment"
                    : "its parameters in the query string (" + example + ") and the comment as ?comment= or X-Flags-Comment"));
        }
    }

    /** The body of a request whose body is optional: null when there is none (or it is empty), else as {@link #body}. */
    private static JsonNode optionalBody(HttpServletRequest req) throws IOException {
        byte[] bytes = bodyBytes(req);
        if (bytes.length == 0) {
            return null;
        }
        checkBodyHeaders(req);
        return parsed(bytes);
    }

    private static byte[] bodyBytes(HttpServletRequest req) throws IOException {
        // A body over the limit is answered 413 before it gets here, on the I/O thread (BodyBuffering), which also
        // drops the rest of it there. These checks are for a request that came another way; neither reads past the
        // limit, nor closes the stream, which would read the rest here, on a worker thread, at the sender's pace (QA83 F1).
        long declared = req.getContentLengthLong();
        if (declared > MAX_BODY_BYTES) {
            throw tooLarge(declared);
        }
        InputStream in = req.getInputStream();
        byte[] bytes = in.readNBytes(MAX_BODY_BYTES + 1);
        if (bytes.length > MAX_BODY_BYTES) {
            throw tooLarge(-1);
        }
        in.close();
        return bytes;
    }

    private static JsonNode parsed(byte[] bytes) throws IOException {
        JsonNode node = FlagFormat.readTree(Json.MAPPER, bytes); // a nesting refusal located, as the rest are
        if (!node.isObject()) {
            throw new ApiException(400, "bad request", "the body must be a JSON object");
        }
        return node;
    }

    /**
     * One content type, JSON ({@link #checkJsonContentType}), and no content encoding: a compressed body was read as JSON
     * and refused as malformed, which said nothing of why (QA48a F9); of two content types the first was taken.
     */
    private static void checkBodyHeaders(HttpServletRequest req) {
        java.util.Enumeration<String> types = req.getHeaders("Content-Type");
        if (types != null && types.hasMoreElements()) {
            types.nextElement();
            if (types.hasMoreElements()) {
                throw new ApiException(400, "bad request", "the request has more than one Content-Type header: send one,"
                        + " Content-Type: application/json");
            }
        }
        String encoding = req.getHeader("Content-Encoding");
        if (encoding != null && !encoding.isBlank() && !encoding.trim().equalsIgnoreCase("identity")) {
            throw new ApiException(415, "unsupported media type", "content encodings are not supported: send the body"
                    + " uncompressed (it is at most 1 MiB), without Content-Encoding; was \""
                    + LogText.escape(encoding.length() > 40 ? encoding.substring(0, 37) + "..." : encoding) + "\"");
        }
        checkJsonContentType(req.getContentType());
    }

    /**
     * The body must be JSON, and JSON is UTF-8 (RFC 8259): a media type is matched without regard to
     * case, and a charset other than UTF-8 is refused rather than read wrongly.
     */
    static void checkJsonContentType(String type) {
        String[] parts = type == null ? new String[] {""} : type.split(";");
        String media = parts[0].trim().toLowerCase(java.util.Locale.ROOT);
        if (!media.equals("application/json") && !media.equals("application/merge-patch+json")) {
            throw new ApiException(415, "unsupported media type", "send the body as JSON with Content-Type: application/json, was "
                    + (type == null ? "no content type" : "\"" + type + "\""));
        }
        for (int i = 1; i < parts.length; i++) {
            String[] param = parts[i].split("=", 2);
            if (param[0].trim().equalsIgnoreCase("charset") && param.length == 2
                    && !param[1].trim().replace("\"", "").equalsIgnoreCase("utf-8")) {
                throw new ApiException(415, "unsupported media type", "JSON bodies are UTF-8; the charset was " + param[1].trim());
            }
        }
    }

    private static ApiException tooLarge(long size) {
        return new ApiException(413, "body too large", "the body may be at most " + MAX_BODY_BYTES + " bytes"
                + (size > 0 ? ", was " + size : ""));
    }

    private static void rejectUnknown(JsonNode body, Set<String> known) {
        for (Map.Entry<String, JsonNode> f : (Iterable<Map.Entry<String, JsonNode>>) body::fields) {
            if (!known.contains(f.getKey())) {
                throw new ApiException(400, "bad request", "\"" + f.getKey() + "\" is not a known field here; the fields are " + known.stream().sorted().toList());
            }
        }
    }

    private static String text(JsonNode body, String field, boolean required) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            if (required) {
                throw new ApiException(400, "bad request", "\"" + field + "\" is required");
            }
            return null;
        }
        if (!v.isTextual()) {
            String shown = v.toString(); // the caller's value, up to 1 MiB of it: cut, and escaped for the log
            throw new ApiException(400, "bad request", "\"" + field + "\" must be a string, was "
                    + LogText.escape(shown.length() > 80 ? shown.substring(0, 77) + "..." : shown));
        }
        return v.asText();
    }

    private static String comment(HttpServletRequest req) {
        return comment(req, null);
    }

    /**
     * The write's comment, from wherever the client put it: {@code ?comment=}, {@code X-Flags-Comment}, or
     * the body's {@code comment} where a body takes one. Two different ones are refused rather than one
     * silently kept: the journal keeps the comment forever.
     */
    private static String comment(HttpServletRequest req, String inBody) {
        if (java.util.Collections.list(req.getHeaders("X-Flags-Comment")).size() > 1) {
            throw new ApiException(400, "bad request", "X-Flags-Comment was given more than once: give it once");
        }
        String found = null;
        for (String given : new String[] {inBody, req.getParameter("comment"), utf8Header(req, "X-Flags-Comment")}) {
            if (given == null) {
                continue;
            }
            if (found != null && !found.equals(given)) {
                throw new ApiException(400, "bad request", "the comment was given twice, differently (in the body, as"
                        + " ?comment= or as X-Flags-Comment): give it once");
            }
            found = given;
        }
        if (found != null) {
            // Kept forever and read in terminals and audit tools: line breaks and tabs are text; other controls (a
            // NUL, an escape sequence, a carriage return that overwrites a line) and the characters that reorder or
            // break what is shown are not, as in names (LogText.unsafe).
            int bad = LogText.unfitForText(found);
            if (bad >= 0) {
                throw new ApiException(400, "bad request", "the comment may hold line breaks and tabs but no other control"
                        + " characters, line separators, bidirectional controls or half characters (lone UTF-16 surrogates);"
                        + " character " + (found.codePointCount(0, bad) + 1) + " is " + String.format("U+%04X", found.codePointAt(bad)));
            }
            if (dev.flags.core.ReadableText.holdsAToken(found)) { // QA61 F5: kept for good, read by every reader of the audit
                throw new ApiException(400, "bad request", "the comment " + dev.flags.core.ReadableText.HOLDS_A_TOKEN);
            }
            Keys.comment(found); // the same length wherever it came from (a token's body comment went to the journal's own 2,048)
        }
        return found;
    }

    /**
     * A header's value read as UTF-8. The container hands header bytes over one char per byte (HTTP's
     * old ISO-8859-1 rule); clients send comments as UTF-8, and the journal keeps them forever, so the
     * bytes are decoded as UTF-8, and bytes that are not UTF-8 are refused rather than stored garbled.
     */
    private static String utf8Header(HttpServletRequest req, String name) {
        String value = req.getHeader(name);
        if (value == null || value.chars().allMatch(c -> c < 0x80)) {
            return value;
        }
        if (value.chars().anyMatch(c -> c > 0xFF)) {
            return value; // already decoded beyond one byte per char
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(value.getBytes(StandardCharsets.ISO_8859_1))).toString();
        } catch (CharacterCodingException e) {
            throw new ApiException(400, "bad request", name + " is not UTF-8; send the text as UTF-8, or as ?comment=... in the URL");
        }
    }

    /**
     * Refuses {@code If-Match} and {@code If-None-Match} on a write that takes no precondition: only a flag's own writes
     * ({@code PUT}, {@code PATCH}, {@code DELETE} of {@code .../flags/{key}}, and its {@code revert}) check a version.
     * Elsewhere the header was ignored, and a client that sent it believed its write was guarded (QA67 F6). A read may
     * send them (a cache revalidating): it writes nothing either way.
     */
    private static void requireNoPreconditionUnlessTaken(HttpServletRequest req, String method, List<String> parts) {
        if (method.equals("GET") || method.equals("HEAD")) {
            return;
        }
        String header = req.getHeader("If-Match") != null ? "If-Match" : req.getHeader("If-None-Match") != null
                ? "If-None-Match" : null;
        if (header == null) {
            return;
        }
        int n = parts.size();
        boolean flagWrite = n >= 4 && parts.get(0).equals("environments") && parts.get(2).equals("flags")
                && (n == 4 && !method.equals("POST") || n == 5 && parts.get(4).equals("revert"));
        if (!flagWrite) {
            throw new ApiException(400, "bad request", header + " applies to a flag's writes only (PUT, PATCH or DELETE of"
                    + " .../flags/{key}, and its revert); this request takes no precondition and would ignore it: send it"
                    + " without " + header);
        }
    }

    /** If-Match ("12", W/"12" or *) and If-None-Match (* only: "create, never overwrite"). */
    private static Precondition precondition(HttpServletRequest req) {
        String match = single(req, "If-Match");
        String noneMatch = single(req, "If-None-Match");
        if (match != null && noneMatch != null) {
            throw new ApiException(400, "bad request", "send If-Match or If-None-Match, not both");
        }
        if (noneMatch != null) {
            if (!noneMatch.trim().equals("*")) {
                throw new ApiException(400, "bad request", "If-None-Match takes only *, to create a flag that does not"
                        + " exist yet; to write only over a version, use If-Match: \"12\"; was " + noneMatch);
            }
            return Precondition.absent();
        }
        if (match == null) {
            return Precondition.none();
        }
        String v = match.trim();
        if (v.equals("*")) {
            return Precondition.exists();
        }
        if (v.startsWith("W/")) {
            v = v.substring(2);
        }
        if (v.length() >= 2 && v.startsWith("\"") && v.endsWith("\"")) {
            v = v.substring(1, v.length() - 1);
        }
        try {
            return Precondition.atVersion(Long.parseLong(v));
        } catch (NumberFormatException e) {
            throw new ApiException(400, "bad request", "If-Match must be a version from an ETag, such as \"12\", or *; was " + match);
        }
    }

    /**
     * A precondition header given at most once: of If-Match: "3" and If-Match: "4", the first was checked and the second
     * ignored (QA67 F6). Which one counts would be a guess that a proxy in front and this server could make differently,
     * as for Authorization.
     */
    private static String single(HttpServletRequest req, String name) {
        java.util.Enumeration<String> headers = req.getHeaders(name);
        String value = headers.hasMoreElements() ? headers.nextElement() : null;
        if (headers.hasMoreElements()) {
            throw new ApiException(400, "bad request", "the request has more than one " + name + " header: send one");
        }
        return value;
    }

    private static Instant instant(HttpServletRequest req, String name, Instant absent) {
        String v = req.getParameter(name);
        if (v == null) {
            return absent;
        }
        try {
            return Instant.parse(v);
        } catch (DateTimeParseException e) {
            // A "+01:00" typed into a URL arrives as " 01:00": in a query string a bare + is a space.
            int space = v.lastIndexOf(' ');
            boolean offsetLost = space > v.indexOf('T') && v.indexOf('T') > 0 && v.substring(space + 1).matches("\\d\\d(:?\\d\\d)?");
            String plus = offsetLost ? "; a + in a query string reads as a space: write it %2B" : "";
            throw new ApiException(400, "bad request", name + " must be an ISO-8601 instant such as 2026-11-20T17:00:00Z, was \"" + v
                    + "\"" + plus);
        }
    }

    private static Long longParameter(HttpServletRequest req, String name) {
        String v = req.getParameter(name);
        if (v == null) {
            return null;
        }
        try {
            if (v.startsWith("+")) { // Long.parseLong takes it; every number the API writes is plain digits
                throw new NumberFormatException(v);
            }
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new ApiException(400, "bad request", name + " must be a whole number, was \"" + v + "\"");
        }
    }

    /**
     * Writes a page of flags as it goes, each document as stored (compact, its fields by name, one a line), never as a
     * tree: a page holds up to 8 MiB of documents, and as trees a few pages read at once could fill a small heap.
     */
    private static void writeFlagPage(HttpServletResponse resp, String env, FlagService.FlagPage page) throws IOException {
        try (com.fasterxml.jackson.core.JsonGenerator g = streamed(resp, 200)) {
            g.writeStartObject();
            g.writeStringField("environment", env);
            documents(g, "flags", page.documents());
            if (page.after() != null) { // as the audit log's pages say where the next one starts
                g.writeStringField("after", page.after());
            }
            g.writeEndObject();
        }
    }

    /** As {@link #write}, but written to the response as it is serialized, without a copy of the whole answer. */
    private static void writeStreamed(HttpServletResponse resp, int status, JsonNode body) throws IOException {
        try (com.fasterxml.jackson.core.JsonGenerator g = streamed(resp, status)) {
            Json.MAPPER.writeTree(g, body);
        }
    }

    /** Starts a JSON answer that is written to the response as it is generated; the caller closes the generator. */
    private static com.fasterxml.jackson.core.JsonGenerator streamed(HttpServletResponse resp, int status) throws IOException {
        resp.setStatus(status);
        resp.setContentType("application/json");
        resp.setCharacterEncoding("UTF-8");
        return Json.MAPPER.createGenerator(resp.getOutputStream());
    }

    /** An array field of documents written as stored (compact, their fields by name), one at a time. */
    private static void documents(com.fasterxml.jackson.core.JsonGenerator g, String field, Iterable<CanonicalJson> docs)
            throws IOException {
        g.writeArrayFieldStart(field);
        for (CanonicalJson doc : docs) {
            g.writeRawValue(doc.toString());
        }
        g.writeEndArray();
    }

    /** @return whether {@code ?archived=true} asks for archived flags instead of served ones */
    private static boolean archived(HttpServletRequest req) {
        return bool(req, "archived");
    }

    /** @return whether the query parameter is {@code true}: {@code false} or absent is false, anything else a 400 */
    private static boolean bool(HttpServletRequest req, String name) {
        String value = req.getParameter(name);
        if (value != null && !value.equals("true") && !value.equals("false")) {
            throw new ApiException(400, "bad request", name + " must be true or false, was \"" + value + "\"");
        }
        return "true".equals(value);
    }

    /** @return whether the body's field is {@code true}: {@code false} or absent is false, anything else a 400 */
    private static boolean bool(JsonNode body, String name) {
        JsonNode value = body.get(name);
        if (value != null && !value.isBoolean()) {
            throw new ApiException(400, "bad request", "\"" + name + "\" must be true or false, was " + value);
        }
        return value != null && value.asBoolean();
    }

    private static int integer(HttpServletRequest req, String name, int absent) {
        Long v = longParameter(req, name);
        if (v == null) {
            return absent;
        }
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw new ApiException(400, "bad request", name + " is out of range, was " + v);
        }
        return v.intValue();
    }

    private static void requireMethod(String method, String allowed) {
        if (!method.equals(allowed)) {
            throw notAllowed(method, allowed);
        }
    }

    private static ApiException notAllowed(String method, String allowed) {
        String all = allowed.replace("GET", "GET, HEAD");
        return new ApiException(405, "method not allowed", cut(method) + " is not allowed here; allowed: " + all, Map.of("allow", all));
    }

    /** @return a 404 for a path that names no endpoint, its method and path cut to {@link #SHOWN} characters */
    private static ApiException noEndpoint(HttpServletRequest req) {
        return new ApiException(404, "not found", "there is no endpoint " + cut(req.getMethod()) + " " + cut(req.getRequestURI())
                + "; see docs/api.md");
    }

    /** The most characters of a request's method or path an answer or a log line shows. */
    private static final int SHOWN = 200;

    /**
     * @return the method or path as an answer or a log line may show it: its first {@value #SHOWN} characters. A path
     *     may have hundreds of segments of 4,096 characters each (up to the 1 MiB of headers), and its 404 echoed all of
     *     it (QA83 F4)
     */
    private static String cut(String text) {
        return text.length() <= SHOWN ? text : text.substring(0, SHOWN - 3) + "...";
    }

    /** HEAD is GET without the body: routed as GET; the container sends the headers only. */
    private static HttpServletRequest headAsGet(HttpServletRequest req) {
        if (!req.getMethod().equals("HEAD")) {
            return req;
        }
        return new HttpServletRequestWrapper(req) {
            @Override
            public String getMethod() {
                return "GET";
            }
        };
    }

    static void write(HttpServletResponse resp, int status, JsonNode body) throws IOException {
        resp.setStatus(status);
        resp.setContentType("application/json");
        resp.setCharacterEncoding("UTF-8");
        resp.getOutputStream().write(Json.MAPPER.writeValueAsBytes(body));
    }

    static void problem(HttpServletResponse resp, int status, String title, String detail, Map<String, Object> extensions)
            throws IOException {
        if (resp.isCommitted()) {
            return;
        }
        resp.resetBuffer();
        ObjectNode n = NODES.objectNode();
        n.put("type", "about:blank");
        n.put("title", title);
        n.put("status", status);
        n.put("detail", LogText.escape(detail)); // a message may quote what a client sent: never a control character raw
        extensions.forEach((k, v) -> n.set(k, Json.MAPPER.valueToTree(v)));
        if (status == 401) {
            resp.setHeader("WWW-Authenticate", "Bearer");
        }
        if ((status == 429 || status == 503) && extensions.get("retryAfterSeconds") != null) {
            resp.setHeader("Retry-After", extensions.get("retryAfterSeconds").toString());
        }
        if (status == 405 && extensions.get("allow") != null) {
            resp.setHeader("Allow", extensions.get("allow").toString());
        }
        resp.setStatus(status);
        resp.setContentType("application/problem+json");
        resp.setCharacterEncoding("UTF-8");
        // A refusal may quote what was sent (a key, an id, a value, a field's name): never a token pasted there, which the
        // client would print with it (curl --fail-with-body into a CI log). A token's characters need no JSON escape, so
        // the text written is where they are (QA85 F3).
        String body = dev.flags.core.ReadableText.withTokensHidden(Json.MAPPER.writeValueAsString(n));
        resp.getOutputStream().write(body.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
}
