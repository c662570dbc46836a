package dev.flags.server;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flags.server.auth.Principal;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.Grant;
import dev.flags.server.journal.Journal;
import dev.flags.server.journal.JournalEntry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Thread-safe. Roles granted to user ids on the server, and which roles are self-service.
 *
 * <p>An admin may grant any role and mark roles self-service. A tester (or editor) token may grant
 * and revoke, in its environments, only the self-service roles, such as {@code beta-tester}: that is
 * how testers let themselves in without anyone changing a flag. A grant may expire: {@link GrantExpiry}
 * revokes it at its time.
 */
public final class RoleService {

    private final Journal journal;
    private final ChangeWriter writer;
    private final EnvironmentLimits limits;
    private final Clock clock;

    /**
     * Roles of an environment: which are self-service, who has each, and when the grants that expire
     * do.
     *
     * @param expiries by role, the users whose grant of it expires, and when; only expiring grants
     * @param maxGrantDurations the self-service roles whose grants (but an admin's) last at most so long
     */
    public record Roles(Set<String> selfService, Map<String, Set<String>> members,
                        Map<String, Map<String, Instant>> expiries, Map<String, Duration> maxGrantDurations, long version) {
    }

    /**
     * What a grant or revocation did.
     *
     * @param entry the entry written, or null if nothing changed
     * @param expiresAt when the grant expires, or null (never, or a revocation)
     */
    public record Membership(JournalEntry entry, Instant expiresAt) {
    }

    /**
     * Whether a role looks unknown in an environment: no flag names it (a rule's roles, or anywhere in a flag's
     * document: read as text, so a mention in a description counts too), it is not self-service, and nobody but
     * {@code except} holds it. A grant of such a role lets its user into nothing: most often a misspelling
     * ({@code beta-testr}), worth a word to whoever made it.
     */
    public boolean looksUnknown(String env, String role, String except) {
        EnvironmentState state = journal.state().environments().get(env);
        if (state == null || state.selfServiceRoles().contains(role)) {
            return false;
        }
        for (Map.Entry<String, Set<String>> holder : state.roleGrants().entrySet()) {
            if (holder.getValue().contains(role) && !holder.getKey().equals(except)) {
                return false;
            }
        }
        String quoted = "\"" + role + "\"";
        return state.flags().values().stream().noneMatch(flag -> flag.toString().contains(quoted));
    }

    /**
     * @param journal the journal, for reads
     * @param writer the write path
     * @param clock the time an {@code expiresIn} counts from
     */
    public RoleService(Journal journal, ChangeWriter writer, Clock clock) {
        this(journal, writer, clock, EnvironmentLimits.defaults());
    }

    /** A service whose grants keep each environment within {@code limits}. */
    public RoleService(Journal journal, ChangeWriter writer, Clock clock, EnvironmentLimits limits) {
        this.journal = Objects.requireNonNull(journal, "journal");
        this.writer = Objects.requireNonNull(writer, "writer");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.limits = Objects.requireNonNull(limits, "limits");
    }

    /**
     * @return the environment's roles, with the members the token may change: a tester token sees its
     *     own user's roles only (who else is a beta tester is not a tester's business), editors and
     *     admins see everyone
     */
    public Roles list(Principal p, String env) {
        Access.requireRead(p, env);
        EnvironmentState state = Access.environment(journal, env);
        Map<String, Set<String>> byRole = new TreeMap<>();
        state.roleGrants().forEach((user, roles) -> {
            if (p.mayChangeRolesOf(user)) {
                roles.forEach(r -> byRole.computeIfAbsent(r, k -> new TreeSet<>()).add(user));
            }
        });
        Map<String, Map<String, Instant>> expiries = new TreeMap<>();
        state.grantExpiries().forEach((grant, at) -> {
            if (p.mayChangeRolesOf(grant.userId())) {
                expiries.computeIfAbsent(grant.role(), k -> new TreeMap<>()).put(grant.userId(), at);
            }
        });
        return new Roles(new TreeSet<>(state.selfServiceRoles()), byRole, expiries, new TreeMap<>(state.maxGrantDurations()),
                state.version());
    }

    /**
     * Grants or revokes a role. Granting a role the user already has with the same expiry (or revoking
     * one it has not) changes nothing and appends nothing; granting it with another expiry (or none)
     * changes the grant's expiry. A token limited by the role's longest grant that asks, with no expiry, for a role the
     * user holds for longer (an admin's grant) leaves that grant as it is.
     *
     * @param request a grant's request body, or null: its {@code expiresAt} or {@code expiresIn} say when the
     *     grant expires; none, never (or, for a role with a longest grant and a token that is not an
     *     admin's, that long from now); read only once the token may make the grant
     * @return what was written, and when the grant expires
     */
    public Membership setMember(Principal p, String env, String role, String userId, boolean grant,
                                com.fasterxml.jackson.databind.JsonNode request, String comment) {
        if (grant) { // a revoke still takes away a role stored before the check
            Keys.withoutToken(role, "role");
        }
        Keys.role(role);
        if (grant) {
            Keys.grantedUserId(userId);
        } else {
            Keys.userId(userId);
        }
        Keys.comment(comment);
        requireMayChangeMembers(p, env, userId, grant);
        // Serialized with the environment's other read-modify-writes: two grants checked against the size
        // limit at once would both fit alone and overshoot it together.
        return writer.serialized(env, () -> setMemberAlone(p, env, role, userId, grant, request, comment));
    }

    /**
     * The refusals of {@link #setMember} that need no request body: made by the HTTP API before it reads one, so that a
     * token that may not grant or revoke is told so, not what is wrong with its body.
     *
     * @param p who asks
     * @param env the environment
     * @param role the role
     * @param userId whose membership
     * @param grant a grant, or a revocation
     * @throws ApiException 403 if {@code p} may not change this membership
     */
    public void requireMayChangeMember(Principal p, String env, String role, String userId, boolean grant) {
        requireMayChangeMembers(p, env, userId, grant);
        EnvironmentState state = journal.state().environments().get(env);
        if (state != null) { // else the write's own 404
            requireSelfService(p, state, env, role, userId, grant);
        }
    }

    private static void requireMayChangeMembers(Principal p, String env, String userId, boolean grant) {
        if (p.isAdmin()) {
            return;
        }
        if (!p.canGrantSelfServiceRoles(env)) {
            throw ApiException.forbidden("this token (scope " + p.scope().apiName() + ") may not " + (grant ? "grant" : "revoke")
                    + " roles in environment \"" + env + "\"");
        }
        if (!p.mayChangeRolesOf(userId)) {
            throw ApiException.forbidden("this tester token is for user \"" + p.userId() + "\": it may grant and revoke"
                    + " roles of that user only, not of \"" + userId + "\"");
        }
    }

    /**
     * Revoking is no less guarded than granting: a role may keep its holders out (a rule that serves false to
     * "pricing-excluded"), so giving one up can be a gain of access, not only a loss.
     */
    private static void requireSelfService(Principal p, EnvironmentState state, String env, String role, String userId,
                                           boolean grant) {
        if (!p.isAdmin() && !state.selfServiceRoles().contains(role)) {
            boolean has = state.roleGrants().getOrDefault(userId, Set.of()).contains(role);
            throw ApiException.forbidden("role \"" + role + "\" is not self-service in environment \"" + env
                    + "\"; only an admin can " + (grant ? "grant" : "revoke") + " it (self-service roles here: " + new TreeSet<>(state.selfServiceRoles()) + ")"
                    + (!grant && has && userId.equals(p.userId()) ? "; to give it up, ask an admin: a role a rule serves false to"
                            + " keeps its holders out, and is not theirs to drop" : ""));
        }
    }

    private Membership setMemberAlone(Principal p, String env, String role, String userId, boolean grant,
                                      com.fasterxml.jackson.databind.JsonNode request, String comment) {
        EnvironmentState state = Access.writableEnvironment(journal, env);
        boolean has = state.roleGrants().getOrDefault(userId, Set.of()).contains(role);
        requireSelfService(p, state, env, role, userId, grant);
        if (grant && !has) {
            HeapRoom.require(journal.state(), limits.checkGrant(state, userId, role), "a grant of role \"" + role + "\"");
        }
        Instant expiry = grant ? Expiry.from(request, clock) : null;
        Duration max = state.maxGrantDurations().get(role);
        if (grant && max != null && !p.isAdmin()) {
            Instant latest = Expiry.roundedUp(clock.instant().plus(max)); // as an expiresIn of the same length is
            Instant held = state.grantExpiries().get(new Grant(userId, role));
            if (expiry == null && has && (held == null || held.isAfter(latest))) {
                // Held for longer than this token may grant (an admin's grant, forever or for longer): asking again
                // without an end means "let me keep it", not "cut it to the longest I could have asked for".
                expiry = held;
            } else if (expiry == null) {
                expiry = latest; // the role's longest grant, from now: granting again renews it
            } else if (expiry.isAfter(latest)) {
                throw ApiException.forbidden("role \"" + role + "\" in environment \"" + env + "\" may be granted for at most " + Expiry.readable(max)
                        + " by this token (scope " + p.scope().apiName() + "), until " + latest + "; asked until " + expiry
                        + ": ask for less (or no expiry, which is the longest), or ask an admin");
            }
        }
        if (has == grant && Objects.equals(expiry, state.grantExpiries().get(new Grant(userId, role)))) {
            return new Membership(null, expiry);
        }
        EntryType type = grant ? EntryType.ROLE_GRANTED : EntryType.ROLE_REVOKED;
        ObjectNode payload = JsonNodeFactory.instance.objectNode().put("user", userId).put("role", role);
        if (expiry != null) {
            payload.put("expiresAt", expiry.toString());
        }
        JournalEntry written;
        try {
            written = writer.append(Change.of(type, env, p.actor(), payload).withComment(comment));
        } catch (ApiException e) {
            if (e.status() == 409 && (e.getMessage().contains("already has role") || e.getMessage().contains("does not have role"))) {
                return new Membership(null, expiry); // a concurrent identical request won: the outcome is the one asked for
            }
            throw e;
        }
        // The next grant's size check starts from this state's size. Computed now, from the size of the state before
        // (known: this grant's check, or the previous write's), it costs the change; left to that check after a
        // revocation, it would sum every grant again.
        journal.state().environment(env).ifPresent(EnvironmentLimits::servedBytes);
        return new Membership(written, expiry);
    }

    /**
     * Marks a role self-service or not (admin only); idempotent.
     *
     * @param maxGrantDuration for a self-service role, the longest a grant of it made by anyone but an
     *     admin lasts (a grant asked for without an expiry gets it), or null for no limit
     * @return the entry written, or null if nothing changed
     */
    public JournalEntry setSelfService(Principal p, String env, String role, boolean selfService, Duration maxGrantDuration,
                                       String comment) {
        Access.requireAdmin(p);
        if (selfService) { // unmarking one stored before the check still works
            Keys.withoutToken(role, "role");
        }
        Keys.role(role);
        if (!selfService && maxGrantDuration != null) {
            throw ApiException.badRequest("\"maxGrantDuration\" limits the grants of a self-service role; a role that is not"
                    + " self-service has none (only admins grant it)");
        }
        // Read and written under the environment's lock, over the version read: two admins setting the role at once
        // were both told it changed (both had read it unchanged), and the one written last won unseen (QA91 note).
        return writer.serialized(env, () -> {
            EnvironmentState state = Access.writableEnvironment(journal, env);
            if (state.selfServiceRoles().contains(role) == selfService
                    && Objects.equals(state.maxGrantDurations().get(role), maxGrantDuration)) {
                return null;
            }
            EntryType type = selfService ? EntryType.ROLE_MARKED_SELF_SERVICE : EntryType.ROLE_UNMARKED_SELF_SERVICE;
            ObjectNode payload = JsonNodeFactory.instance.objectNode().put("role", role);
            if (maxGrantDuration != null) {
                payload.put("maxGrantDuration", maxGrantDuration.toString());
            }
            return writer.append(Change.of(type, env, p.actor(), payload).withComment(Keys.comment(comment))
                    .expectingVersion(state.version()));
        });
    }
}
