package dev.flags.examples.billing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flags.client.FlagEvaluation;
import dev.flags.client.Flags;
import dev.flags.core.User;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Thread-safe. {@code POST /checkout}: picks the old or the new billing path with
 * {@code flags.evaluate("billing-v2", user)}, charges on it, and says what it decided and why. The user comes from
 * request headers, as a gateway would set them: {@code X-User-Id}, {@code X-User-Roles}
 * (comma-separated, on one line or several), {@code X-User-Region}; an id or a region given twice is a 400.
 *
 * <p>A POST, because a checkout charges: GET and HEAD are safe methods that browsers prefetch, link checkers and
 * monitors send and proxies retry, and each of those would be a charge (a HEAD runs {@code doGet}).
 */
final class CheckoutServlet extends HttpServlet {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final transient Flags flags;
    private final transient LegacyBilling legacy;
    private final transient NewBilling next;

    CheckoutServlet(Flags flags, LegacyBilling legacy, NewBilling next) {
        this.flags = flags;
        this.legacy = legacy;
        this.next = next;
    }

    @Override
    protected void service(HttpServletRequest req, HttpServletResponse resp) throws ServletException, IOException {
        if (!req.getMethod().equals("POST")) {
            // As the other errors: JSON, not the container's HTML page. GET and HEAD too: they must not charge.
            resp.setHeader("Allow", "POST");
            problem(resp, 405, "method not allowed", req.getMethod() + " is not allowed on /checkout; use POST (a checkout"
                    + " charges)");
            return;
        }
        super.service(req, resp);
    }

    @Override
    protected void doPost(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        // Given twice, a one-value header is refused, not read at its first line: a gateway that adds its own X-User-Id
        // after the client's would otherwise leave the client to choose whom to charge (QA90 F3).
        int ids = Collections.list(req.getHeaders("X-User-Id")).size();
        if (ids > 1) {
            problem(resp, 400, "bad request", "X-User-Id is given " + ids + " times: a checkout charges one user (a gateway"
                    + " must replace a client's X-User-Id, not add its own)");
            return;
        }
        int regions = Collections.list(req.getHeaders("X-User-Region")).size();
        if (regions > 1) {
            problem(resp, 400, "bad request", "X-User-Region is given " + regions + " times: a user is in one region");
            return;
        }
        String id = req.getHeader("X-User-Id");
        if (id == null || id.isBlank()) {
            // Flags can be evaluated for anonymous users, but a charge needs somebody to charge.
            problem(resp, 400, "bad request", "a checkout needs a signed-in user: the X-User-Id header (a gateway sets it)");
            return;
        }
        User user;
        try {
            user = userOf(id.trim(), req);
        } catch (IllegalArgumentException e) {
            // Headers are the client's data: a value User refuses is the client's error, a 400 as a missing id is, not a
            // 500 with the container's page and an ERROR stack trace per request in the log.
            problem(resp, 400, "bad request", e.getMessage());
            return;
        }
        FlagEvaluation why = flags.evaluate("billing-v2", user); // never throws, never blocks on the network
        String receipt = why.value() ? next.charge(user.id(), 1999) : legacy.charge(user.id(), 1999);

        ObjectNode body = JSON.createObjectNode();
        body.put("billing", why.value() ? "v2" : "v1");
        body.put("receipt", receipt);
        body.put("user", user.id());
        ObjectNode flag = body.putObject("billing-v2");
        flag.put("value", why.value());
        flag.put("reason", why.reason().kind().name());
        if (why.reason().ruleName() != null) {
            flag.put("rule", why.reason().ruleName());
        }
        if (why.reason().detail() != null) {
            flag.put("detail", why.reason().detail());
        }
        flag.put("flagVersion", why.flagVersion());
        flag.put("source", why.source().name());
        resp.setContentType("application/json");
        resp.setCharacterEncoding("UTF-8");
        resp.getOutputStream().write(JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(body));
    }

    private static void problem(HttpServletResponse resp, int status, String title, String detail) throws IOException {
        resp.setStatus(status);
        resp.setContentType("application/problem+json");
        resp.setCharacterEncoding("UTF-8");
        ObjectNode problem = JSON.createObjectNode().put("status", status).put("title", title).put("detail", detail);
        resp.getOutputStream().write(JSON.writeValueAsBytes(problem));
    }

    /**
     * The user the headers describe.
     *
     * @throws IllegalArgumentException if a value is longer than {@link User} takes, with a message naming its header
     */
    private static User userOf(String id, HttpServletRequest req) {
        User user = User.withId(fits(id, "X-User-Id"));
        // A list, which HTTP lets a sender split over several lines of the header: each line's roles count.
        String roles = String.join(",", Collections.list(req.getHeaders("X-User-Roles")));
        if (!roles.isEmpty()) {
            // Added in one call: User.roles copies the roles it has, so a role at a time costs the square of their
            // number, and a header of 40,000 roles held a worker thread for 30 s (QA90 F1).
            List<String> named = new ArrayList<>();
            for (String role : roles.split(",")) {
                if (!role.isBlank()) {
                    named.add(fits(role.trim(), "a role in X-User-Roles"));
                }
            }
            user = user.roles(named.toArray(String[]::new));
        }
        String region = req.getHeader("X-User-Region");
        if (region != null && !region.isBlank()) {
            user = user.region(fits(region.trim(), "X-User-Region"));
        }
        return user;
    }

    /** Checked here, not left to User, so that the client is told which header is wrong (User says "id", "region"). */
    private static String fits(String value, String what) {
        if (value.length() > User.MAX_NAME_LENGTH) {
            throw new IllegalArgumentException(what + " must be at most " + User.MAX_NAME_LENGTH + " characters, was "
                    + value.length());
        }
        return value;
    }
}
