package dev.flags.server.auth;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flags.server.ApiException;
import dev.flags.server.Expiry;
import dev.flags.server.LogText;
import dev.flags.server.journal.CanonicalJson;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.ChangeConflictException;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.Journal;
import dev.flags.server.journal.JournalEntry;
import dev.flags.server.journal.ServerState;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.time.temporal.TemporalAmount;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe. Creates, lists, revokes and checks bearer tokens.
 *
 * <p>A token is {@code flg_} followed by 32 random bytes (base64url): high-entropy, so a SHA-256 hash
 * is a safe way to keep it at rest (a slow password hash protects guessable secrets; these are not).
 * Only the hash reaches the journal; the secret is shown once, when the token is created, and never
 * logged. A presented token is hashed and its hash compared in constant time.
 *
 * <p>The bootstrap admin token (from {@code FLAGS_ADMIN_TOKEN} or the generated admin-token file) is
 * kept only as a hash in memory, never in the journal; an operator may turn it off once named admin
 * tokens exist, and then there is none.
 *
 * <p>A token may expire: its expiry is part of its {@code TOKEN_CREATED} entry, and from that instant
 * on {@link #check} refuses it as {@linkplain Authentication#isExpired() expired} (the token stays in
 * the list, marked expired, until it is revoked). A {@link TokenExpiry} is told each expiry, so that
 * the server closes the token's open sync streams at that moment.
 *
 * <p>What {@link #tokens()} shows besides: when and by whom each token was made, read from its
 * {@code TOKEN_CREATED} entry (the journal's state holds the payload only, so the service reads the
 * journal's token entries once, on the first listing, and keeps what it found); and when it was last
 * used, kept in memory only: recording every request in the journal would make each read a durable
 * write. That time is kept to the second and written at most once a second per token, so the check
 * costs a clock read and a comparison on the hot path.
 */
public final class TokenService implements Authenticator {

    /** The prefix of every token secret, so that secret scanners can find leaked ones. */
    public static final String PREFIX = "flg_";
    private static final Logger LOG = LoggerFactory.getLogger(TokenService.class);
    /** The longest token a request may present: anything longer is refused unread. */
    public static final int MAX_PRESENTED_LENGTH = 256;
    /** The most live tokens a server holds (revoked ones do not count); one more is refused. */
    public static final int MAX_TOKENS = 10_000;
    /** The longest token name, in characters. */
    public static final int MAX_NAME = 200;
    /** The longest user id the journal takes as a role grant's user: a tester's user must be grantable. */
    private static final int MAX_USER_ID = Change.MAX_USER_ID_LENGTH;
    /** The id of the bootstrap admin token's principal: it is in no token set (nothing revokes it but a restart without it). */
    public static final String BOOTSTRAP_ID = "admin";
    /**
     * How soon the end of all admin access is logged as a WARN; further off it is an INFO (at each start), and the
     * gauge {@code flags_admin_access_expires_in_seconds} is what to alert on.
     */
    private static final Duration ADMIN_ACCESS_WARNING = Duration.ofDays(30);
    /**
     * What the {@link TokenExpiry} is given, in place of a token's id (those start with {@code tok-}), to tell
     * {@link #expired(String)} that the end of all admin access has come within {@link #ADMIN_ACCESS_WARNING}.
     */
    public static final String ADMIN_ACCESS_CHECK = "admin-access-check";
    /** How many journal entries one read takes when looking for tokens' creations. */
    private static final int SCAN_PAGE = 1_000;

    private final Journal journal;
    /** How a token's creation or revocation is written: the server's write path, or the journal itself. */
    private final Function<Change, JournalEntry> write;
    private final byte[] bootstrapHash;
    /** Since when the bootstrap admin token is this one: see {@link #bootstrapSince(Instant)}. */
    private volatile Instant bootstrapSince = Instant.EPOCH;
    /** Requests refused for an unknown token: logged once a minute, not once each. */
    private final FailedLogins failedLogins;
    /** When this service was made: a token that expired before is not news to the log. */
    private final Instant startedAt;
    private final Consumer<String> onRevoked;
    private final Clock clock;
    /** Told each token's expiry; null for a service without a server (tools and tests): nothing to close. */
    private final TokenExpiry expiry;
    private final SecureRandom random = new SecureRandom();
    private volatile Index index = new Index(-1, Map.of(), Map.of());
    /** Each live token's last use, in epoch seconds (0: not since start), by token id; survives index rebuilds. */
    private final ConcurrentHashMap<String, AtomicLong> lastUsed = new ConcurrentHashMap<>();
    /** When and by whom each token was made, by token id, from its TOKEN_CREATED entry. */
    private final ConcurrentHashMap<String, Origin> origins = new ConcurrentHashMap<>();
    private final Object originsLock = new Object();
    /**
     * Held while the token set is read and a change to it written over what was read (a creation, counted against the
     * limit; a revocation, which must leave an admin): one at a time. Parallel creations otherwise conflicted, and a
     * retry could read the set again before the winner's entry was in it and conflict again, until the caller got a 412
     * for a precondition it never sent (QA42b F4: 12 of 16 parallel creations).
     */
    private final Object tokenSetWrites = new Object();
    /** The last journal sequence read for origins; guarded by originsLock. */
    private long originsReadTo;

    /**
     * Token hashes by hash text, and the same tokens by id, rebuilt when the journal's token set changes. By id: whether
     * a schedule's maker may still act is asked per pending schedule, and a scan of every token's payload each time made
     * a kill switch of a flag with 300 schedules take 11 s among 4,000 tokens (QA72 F1).
     */
    private record Index(long tokensVersion, Map<String, Live> byHash, Map<String, Live> byId) {
    }

    /**
     * A live token as the hot path needs it: its expiry in epoch milliseconds (rounded up; {@code
     * Long.MAX_VALUE} for none), so that the check is one clock read and a comparison, and its
     * last-use cell.
     */
    private record Live(Principal principal, long expiresAtMillis, AtomicLong lastUsedSecond) {
    }

    /** The TOKEN_CREATED entry's timestamp and actor. */
    private record Origin(Instant at, String actor) {
    }

    /**
     * A token just created: the secret is in here and nowhere else.
     *
     * @param secret the token, shown once
     * @param info its metadata, as {@link #tokens()} will list it
     */
    public record CreatedToken(String secret, TokenInfo info) {
        /** @return the token's principal */
        public Principal principal() {
            return info.principal();
        }

        @Override
        public String toString() {
            return "CreatedToken{" + info + "}"; // never the secret
        }
    }

    /**
     * A token service that appends straight to the journal: for tools and tests without a server. A
     * server writes through its write path instead, see
     * {@link #TokenService(Journal, Function, String, Consumer)}.
     *
     * @param journal where tokens are recorded (as hashes)
     * @param bootstrapAdminToken the bootstrap admin token's secret
     */
    public TokenService(Journal journal, String bootstrapAdminToken) {
        this(journal, journal::append, bootstrapAdminToken, tokenId -> { });
    }

    /**
     * A token service on the system clock whose tokens' expiries close nothing (no server, no streams):
     * see {@link #TokenService(Journal, Function, String, Consumer, Clock, TokenExpiry)}.
     */
    public TokenService(Journal journal, Function<Change, JournalEntry> write, String bootstrapAdminToken,
                        Consumer<String> onRevoked) {
        this(journal, write, bootstrapAdminToken, onRevoked, Clock.systemUTC(), null);
    }

    /**
     * @param journal where tokens are read from
     * @param write how a token's creation or revocation is appended: the server's
     *     {@link dev.flags.server.ChangeWriter#append}, so that it is refused once the server is stopping,
     *     waited for by its shutdown and counted in its metrics like every other write
     * @param bootstrapAdminToken the bootstrap admin token's secret, or null for none (the operator turned it off)
     * @param onRevoked told the id of each token revoked, once the revocation is in the journal (the
     *     server closes the token's open sync streams)
     * @param clock what "now" is for expiries and last uses
     * @param expiry told the expiry of every live token that has one (those in the journal now, and each
     *     one made later), and forgets revoked ones; null for none
     */
    public TokenService(Journal journal, Function<Change, JournalEntry> write, String bootstrapAdminToken,
                        Consumer<String> onRevoked, Clock clock, TokenExpiry expiry) {
        this.journal = Objects.requireNonNull(journal, "journal");
        this.write = Objects.requireNonNull(write, "write");
        this.bootstrapHash = bootstrapAdminToken == null ? null : sha256(bootstrapAdminToken);
        this.onRevoked = Objects.requireNonNull(onRevoked, "onRevoked");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.expiry = expiry;
        this.startedAt = clock.instant();
        this.failedLogins = new FailedLogins(clock, LOG::warn);
        if (expiry != null) {
            // Those already expired are told at once: their streams are refused at subscribe anyway.
            list().stream().filter(p -> p.expiresAt() != null).forEach(p -> expiry.schedule(p.tokenId(), p.expiresAt()));
        }
    }

    /** @return a new random token secret, for the bootstrap admin token */
    public static String newSecret() {
        byte[] bytes = new byte[32];
        new SecureRandom().nextBytes(bytes);
        return PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    @Override
    public Optional<Principal> authenticate(String presented) {
        return check(presented).principal();
    }

    @Override
    public void refusedUnknown(String where, String from) {
        failedLogins.refused(where, from);
    }

    /** @return how many requests were refused for an unknown or revoked token since the start */
    public long refusedUnknownCount() {
        return failedLogins.total();
    }

    /**
     * Checks a presented token: unknown, expired, or accepted; an accepted token's last use is now.
     *
     * @param presented the secret after "Bearer "; may be null or malformed
     * @return what the check found
     */
    @Override
    public Authentication check(String presented) {
        if (presented == null || presented.isEmpty() || presented.length() > MAX_PRESENTED_LENGTH) {
            return Authentication.unknown();
        }
        byte[] hash = sha256(presented);
        if (bootstrapHash != null && MessageDigest.isEqual(hash, bootstrapHash)) {
            return Authentication.accepted(new Principal(BOOTSTRAP_ID, "admin", Scope.ADMIN, Set.of()));
        }
        Live live = index().byHash().get(hashText(hash));
        if (live == null) {
            return Authentication.unknown();
        }
        long now = clock.millis();
        if (now >= live.expiresAtMillis()) {
            return Authentication.expired(live.principal());
        }
        // At most one write a second per token: a busy token's requests mostly only read the cell.
        long second = now / 1000;
        AtomicLong cell = live.lastUsedSecond();
        if (cell.get() < second) {
            cell.accumulateAndGet(second, Math::max);
        }
        return Authentication.accepted(live.principal());
    }

    /**
     * Creates a token and records its hash in the journal.
     *
     * @param name a name for people ("alice", "billing-service"): 1 to {@link #MAX_NAME} characters, not
     *             blank, without control characters (as a user id)
     * @param scope what it may do
     * @param environments the environments it is for (exactly one for sdk; at least one for editor and tester; none for admin)
     * @param userId for a tester token (required), the one user whose roles it may grant and revoke;
     *               null for every other scope
     * @param actor who creates it
     * @return the token, with its secret (shown once)
     * @throws IllegalArgumentException if the scope, environments and user do not fit, or there are too
     *         many tokens
     * @throws RuntimeException whatever the write path throws, such as the server's 503 once it is stopping
     */
    public CreatedToken create(String name, Scope scope, Set<String> environments, String userId, String actor) {
        return create(name, scope, environments, userId, null, actor, null);
    }

    /**
     * Creates a token, as {@link #create(String, Scope, Set, String, String)}, with why.
     *
     * @param comment why, recorded in the journal and the audit log; null for none
     */
    public CreatedToken create(String name, Scope scope, Set<String> environments, String userId, String actor,
                               String comment) {
        return create(name, scope, environments, userId, null, actor, comment);
    }

    /**
     * Creates a token that expires, as {@link #create(String, Scope, Set, String, String, String)}.
     *
     * @param expiresAt when the token stops working: after now and at most {@link Expiry#MAX_AHEAD} ahead;
     *     null for a token that never expires
     * @throws IllegalArgumentException as the other {@code create}s, and if expiresAt is not after now or
     *     is more than {@link Expiry#MAX_AHEAD} ahead
     */
    public CreatedToken create(String name, Scope scope, Set<String> environments, String userId, Instant expiresAt,
                               String actor, String comment) {
        Objects.requireNonNull(scope, "scope");
        checkName(name);
        if (expiresAt != null) {
            Expiry.check(expiresAt, clock.instant());
        }
        if (scope == Scope.TESTER && (userId == null || userId.isBlank() || userId.length() > MAX_USER_ID
                || LogText.unfitForName(userId) >= 0)) {
            throw new IllegalArgumentException("a tester token is for one user, the one whose roles it may grant and"
                    + " revoke: give \"userId\", 1 to " + MAX_USER_ID + " characters, not blank, without control characters"
                    + " (nor line separators, bidirectional controls, invisible characters or half characters)");
        }
        if (scope == Scope.TESTER && dev.flags.core.ReadableText.holdsAToken(userId)) {
            throw new IllegalArgumentException("userId " + dev.flags.core.ReadableText.HOLDS_A_TOKEN);
        }
        if (scope != Scope.TESTER && userId != null) {
            throw new IllegalArgumentException("only a tester token is for one user; " + scope.withArticle()
                    + " token takes no \"userId\"");
        }
        Set<String> envs = environments == null ? Set.of() : new LinkedHashSet<>(environments);
        if (scope == Scope.ADMIN && !envs.isEmpty()) {
            throw new IllegalArgumentException("an admin token is for every environment; give no environments");
        }
        if (scope == Scope.SDK && envs.size() != 1) {
            throw new IllegalArgumentException("an sdk token is for exactly one environment, was given " + envs.size());
        }
        if (scope != Scope.ADMIN && envs.isEmpty()) {
            throw new IllegalArgumentException(scope.withArticle() + " token needs at least one environment");
        }
        String secret = PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(randomBytes());
        String id = "tok-" + HexFormat.of().formatHex(randomBytes(), 0, 6);
        ObjectNode payload = JsonNodeFactory.instance.objectNode()
                .put("id", id)
                .put("hash", hashText(sha256(secret)))
                .put("name", name)
                .put("scope", scope.apiName());
        envs.forEach(payload.putArray("environments")::add);
        if (userId != null) {
            payload.put("userId", userId);
        }
        if (expiresAt != null) {
            payload.put("expiresAt", expiresAt.toString());
        }
        JournalEntry entry = null;
        synchronized (tokenSetWrites) {
            for (int attempt = 0; entry == null; attempt++) {
                ServerState state = journal.state();
                if (state.tokens().size() >= MAX_TOKENS) {
                    throw new IllegalArgumentException("there are already " + MAX_TOKENS + " tokens; revoke some first");
                }
                try {
                    // Written only over the token set counted: creations at once must not pass the limit together.
                    entry = write.apply(Change.of(EntryType.TOKEN_CREATED, null, actor, payload).withComment(comment)
                            .expectingVersion(state.tokensVersion()));
                } catch (ApiException | ChangeConflictException e) {
                    // Only a writer of the journal other than this service (a tool) changes the set meanwhile. The
                    // server's write path says 412; the journal itself a conflict that names the expectation.
                    boolean tokensChanged = e instanceof ApiException a ? a.status() == 412 : e.getMessage().startsWith("expected ");
                    if (!tokensChanged || attempt >= 20) {
                        throw e;
                    }
                }
            }
        }
        Principal principal = new Principal(id, name, scope, envs, userId, expiresAt);
        origins.put(id, new Origin(entry.timestamp(), entry.actor()));
        // For operators who watch the log rather than the audit log (a SIEM alerts on these): never the secret.
        LOG.info("token {} \"{}\" created by {}: {}{}{}{}", id, LogText.escape(name), LogText.escape(actor),
                scope.apiName(), envs.isEmpty() ? " of every environment" : " of " + LogText.escape(String.join(", ", envs)),
                userId == null ? "" : ", for user " + LogText.escape(userId),
                expiresAt == null ? ", never expires" : ", expires " + expiresAt);
        if (expiry != null && expiresAt != null) {
            expiry.schedule(id, expiresAt);
        }
        return new CreatedToken(secret, new TokenInfo(principal, entry.timestamp(), entry.actor(), false, null));
    }

    /**
     * @param body a token request's body
     * @return when the token the body asks for expires ({@code expiresAt} or {@code expiresIn}), or null
     * @throws dev.flags.server.ApiException 400 if that is not a sane future instant
     */
    public Instant expiryOf(com.fasterxml.jackson.databind.JsonNode body) {
        return Expiry.from(body, clock);
    }

    /**
     * A name as people read it, for the checks that it passes for no other actor: compatibility forms as their plain
     * ones (NFKC: fullwidth "（", U+00A0 NO-BREAK SPACE), every space or blank letter a space, every dash a hyphen,
     * every opening and closing bracket a parenthesis, marks drawn on a character dropped, runs of spaces as one, no
     * spaces around. (Look-alike letters of other scripts, a Cyrillic "а" for a Latin "a", are not folded: the
     * token id an actor carries tells two tokens apart.)
     */
    static String asItReads(String name) {
        String plain = java.text.Normalizer.normalize(name, java.text.Normalizer.Form.NFKC);
        StringBuilder out = new StringBuilder(plain.length());
        plain.codePoints().forEach(c -> {
            int type = Character.getType(c);
            if (type == Character.NON_SPACING_MARK || type == Character.ENCLOSING_MARK) {
                return; // drawn on the character before: "(tok-1)" with a mark after reads as "(tok-1)"
            }
            // Blank letters (the Hangul fillers, the blank braille pattern) show as spaces too.
            boolean blank = type == Character.SPACE_SEPARATOR || c == 0x3164 || c == 0x2800 || c == 0x115F || c == 0x1160
                    || c == 0xFFA0;
            int shown = blank ? ' ' : type == Character.DASH_PUNCTUATION || c == '\u2212' ? '-'
                    : type == Character.START_PUNCTUATION ? '(' : type == Character.END_PUNCTUATION ? ')' : c;
            if (shown != ' ' || out.length() == 0 || out.charAt(out.length() - 1) != ' ') {
                out.appendCodePoint(shown);
            }
        });
        return out.toString().strip();
    }

    /** A name that ends as an actor does: "alice (tok-1a2b3c4d5e6f)", "admin (admin)". */
    private static final java.util.regex.Pattern ACTOR_LIKE =
            java.util.regex.Pattern.compile("\\((?i:tok-[^()]*|admin)\\)$");

    /**
     * A name is shown in lists, the audit log's actors and the server's log: a line break in it would
     * forge log lines, and the journal refuses control characters in an actor. The same characters are
     * refused as in user ids. The audit log records an actor as {@code NAME (TOKEN ID)}, and finds one
     * token's changes by it, so a name may not end as such an actor does ("alice (tok-1a2b3c4d5e6f)" would
     * pass for another token; "pat (product owner)" is fine) nor be the server's own, {@code flags-server}, or the
     * bootstrap token's, {@code admin}.
     */
    private static void checkName(String name) {
        int bad = name == null ? -1 : LogText.unfitForName(name);
        if (name == null || name.isBlank() || name.length() > MAX_NAME || bad >= 0) {
            throw new IllegalArgumentException("name must be 1 to " + MAX_NAME + " characters, not blank, without control"
                    + " characters (nor line separators, bidirectional controls, invisible characters or half characters)"
                    + (name == null ? "" : ", was " + LogText.quoted(name, 80)
                    + (bad >= 0 ? "; character " + (name.codePointCount(0, bad) + 1) + " is " + String.format("U+%04X", name.codePointAt(bad)) : "")));
        }
        if (dev.flags.core.ReadableText.holdsAToken(name)) {
            throw new IllegalArgumentException("name " + dev.flags.core.ReadableText.HOLDS_A_TOKEN);
        }
        String reads = asItReads(name);
        if (ACTOR_LIKE.matcher(reads).find()) {
            throw new IllegalArgumentException("name must not end with a token id or \"(admin)\" in parentheses: the audit log"
                    + " records who changed something as NAME (TOKEN ID), so " + LogText.quoted(name, 80)
                    + " could pass for another token in it");
        }
        String lower = reads.toLowerCase(java.util.Locale.ROOT);
        if (lower.matches("tok-[0-9a-f]{12}")) { // QA72 F5: ?actor=tok-... found such a token's changes as the other's
            throw new IllegalArgumentException("name must not be a token id (tok- and 12 hexadecimal digits): the audit log"
                    + " finds a token's changes by its id, and " + LogText.quoted(name, 80) + " could pass for that token");
        }
        if (lower.equals("flags-server") || lower.startsWith("flags-server (")) {
            throw new IllegalArgumentException("name must not be \"flags-server\": the audit log records the server's own changes"
                    + " (expired grants, scheduled changes) under that name");
        }
        if (lower.equals("admin")) { // QA61 F9: ?actor=admin mixed such a token's changes with the bootstrap token's
            throw new IllegalArgumentException("name must not be \"admin\": the audit log records the bootstrap admin token's"
                    + " changes as admin (admin), and ?actor=admin finds them by that name");
        }
    }

    /**
     * Revokes a token.
     *
     * @param id the token's id
     * @param actor who revokes it
     * @return false if there is no such token
     */
    public boolean revoke(String id, String actor) {
        return revoke(id, actor, null);
    }

    /**
     * Revokes a token, with why.
     *
     * @param comment why, recorded in the journal and the audit log; null for none
     * @return false if there is no such token
     * @throws RuntimeException whatever the write path throws, such as the server's 503 once it is stopping
     */
    public boolean revoke(String id, String actor, String comment) {
        ServerState state = journal.state();
        CanonicalJson payload = state.tokens().get(id);
        if (payload == null) {
            return false;
        }
        Principal revoked = principal(payload.toJsonNode());
        synchronized (tokenSetWrites) {
            Change change = Change.of(EntryType.TOKEN_REVOKED, null, actor, JsonNodeFactory.instance.objectNode().put("id", id))
                    .withComment(comment);
            if (bootstrapHash == null) {
                state = journal.state();
                if (!state.tokens().containsKey(id)) {
                    return false; // revoked meanwhile
                }
                requireAnotherAdmin(revoked, state);
                // Written only over the token set read: two admins revoking each other at once would leave none.
                change = change.expectingVersion(state.tokensVersion());
            }
            write.apply(change);
        }
        LOG.info("token {} \"{}\" ({}) revoked by {}", id, LogText.escape(revoked.name()), revoked.scope().apiName(),
                LogText.escape(actor));
        if (expiry != null) {
            expiry.cancel(id);
        }
        onRevoked.accept(id);
        if (revoked.isAdmin()) {
            warnIfAdminAccessEnds(); // the admin token that never expired may have been this one
        }
        return true;
    }

    /**
     * The tester tokens made before tokens had a user: they may grant self-service roles to any user id,
     * more than a tester token should. The server logs each at start; operators revoke and replace them.
     *
     * @return those tokens' principals, sorted by id
     */
    public List<Principal> unboundTesterTokens() {
        return list().stream().filter(p -> p.scope() == Scope.TESTER && p.userId() == null).toList();
    }

    /** Logs one WARN line per {@linkplain #unboundTesterTokens() unbound tester token}, with what to do. */
    public void warnAboutUnboundTesterTokens() {
        for (Principal p : unboundTesterTokens()) {
            LOG.warn("token {} ({}) is a tester token made before tokens had a user: it may grant self-service roles"
                    + " to any user id. Revoke it (DELETE /api/v1/tokens/{}) and make a new one with \"userId\"",
                    p.tokenId(), LogText.escape(p.name()), p.tokenId());
        }
    }

    /** @return every live token's principal (never a secret or hash), expired ones included, sorted by id */
    public List<Principal> list() {
        List<Principal> out = new ArrayList<>();
        journal.state().tokens().values().forEach(payload -> out.add(principal(payload.toJsonNode())));
        out.sort((a, b) -> a.tokenId().compareTo(b.tokenId()));
        return out;
    }

    /**
     * Every live token's metadata, expired ones included: what the API lists. The first call after a
     * start reads the journal's entries once, for when and by whom the tokens were made.
     *
     * @return the tokens, sorted by id
     * @throws dev.flags.server.journal.JournalException if the journal cannot be read
     */
    public List<TokenInfo> tokens() {
        List<Principal> principals = list();
        readOrigins();
        Instant now = clock.instant();
        List<TokenInfo> out = new ArrayList<>(principals.size());
        for (Principal p : principals) {
            out.add(info(p, now));
        }
        return out;
    }

    /**
     * One live token's metadata, as {@link #tokens()} lists it.
     *
     * @param id the token's id
     * @return the token, or empty if there is no live token of that id (never made, or revoked)
     */
    public Optional<TokenInfo> token(String id) {
        Optional<Principal> principal = Optional.ofNullable(index().byId().get(id)).map(Live::principal);
        if (principal.isEmpty()) {
            return Optional.empty();
        }
        readOrigins();
        return Optional.of(info(principal.get(), clock.instant()));
    }

    /**
     * Whether a token may still act: the bootstrap admin token, or a token that is neither revoked nor
     * expired. What a token arranged to happen later (a scheduled change) happens only while it may.
     *
     * @param id the token's id, as in an actor's parentheses
     * @return true if the token is live
     */
    public boolean isLive(String id) {
        return isLiveNow(id);
    }

    /**
     * Since when the bootstrap admin token is the one it is now: what an earlier one arranged (a scheduled change)
     * no longer runs, as a revoked token's does not. Set once at start, before any request; the epoch (the default)
     * for a token not known to have changed.
     *
     * @param since when the server first started with this bootstrap admin token
     */
    public void bootstrapSince(Instant since) {
        this.bootstrapSince = Objects.requireNonNull(since, "since");
    }

    /**
     * Why a token may no longer act for what it arranged at a time, or null if it may: the bootstrap admin token
     * replaced since (its id stays {@code admin}, whatever its secret), turned off, or another token revoked, or expired
     * before the arranged thing was due.
     *
     * <p>Revocation and the bootstrap admin token's replacement or turning off are judged as things are now: what a
     * token that was revoked (its holder left, its secret leaked) arranged must not happen, even if it was due before.
     * Expiry is judged at the due time, or now if that is later: a token may only arrange what is due before its expiry,
     * so what was due while it was live still happens when it is carried out late (the server was stopped at its time,
     * its environment archived, the journal refused writes for a while).
     *
     * @param id the token's id, as in an actor's parentheses
     * @param madeAt when it arranged it
     * @param dueAt when what it arranged is due
     * @return the reason, as "is ...", or null
     */
    public String whyNoLongerActing(String id, Instant madeAt, Instant dueAt) {
        if (BOOTSTRAP_ID.equals(id)) {
            if (bootstrapHash == null) {
                return "is the bootstrap admin token, which is turned off";
            }
            return madeAt.isBefore(bootstrapSince) ? "is a bootstrap admin token replaced since (at " + bootstrapSince + ")" : null;
        }
        // The server knows which: an expired token is still listed (until revoked), a revoked one is not.
        Live live = index().byId().get(id);
        if (live == null) {
            return "was revoked";
        }
        Instant now = clock.instant();
        Instant judgedAt = dueAt.isBefore(now) ? dueAt : now;
        return live.principal().isExpiredAt(judgedAt) ? "expired at " + live.principal().expiresAt() : null;
    }

    private boolean isLiveNow(String id) {
        if (BOOTSTRAP_ID.equals(id)) {
            return bootstrapHash != null;
        }
        Live live = index().byId().get(id);
        return live != null && !live.principal().isExpiredAt(clock.instant());
    }

    /**
     * @return how many tokens of scope admin could act now, the bootstrap admin token not counted: with it
     *     off, none means nobody could manage the server
     */
    public long liveAdminTokens() {
        Instant now = clock.instant();
        return list().stream().filter(p -> p.scope() == Scope.ADMIN && !p.isExpiredAt(now)).count();
    }

    /**
     * When the first application loses its flags, if nothing else changes: an sdk token that expires has its streams
     * closed, and its SDKs serve what they hold, then stale, until someone gives them a new token.
     *
     * @return the soonest expiry of the sdk tokens that may act now, or empty if none of them expires
     */
    public Optional<Instant> soonestSdkExpiry() {
        Instant now = clock.instant();
        Instant soonest = null;
        for (Principal p : list()) {
            if (p.scope() == Scope.SDK && p.expiresAt() != null && !p.isExpiredAt(now)
                    && (soonest == null || p.expiresAt().isBefore(soonest))) {
                soonest = p.expiresAt();
            }
        }
        return Optional.ofNullable(soonest);
    }

    /**
     * When the journal's admin tokens stop being able to act, if nothing else changes: with the bootstrap admin token
     * off, nobody can manage the server from then on, and it does not start again.
     *
     * @return empty if some live admin token never expires; the latest expiry of the live admin tokens otherwise (now,
     *     if there is none)
     */
    public Optional<Instant> adminAccessEnds() {
        Instant now = clock.instant();
        Instant last = now;
        for (Principal p : list()) {
            if (p.scope() == Scope.ADMIN && !p.isExpiredAt(now)) {
                if (p.expiresAt() == null) {
                    return Optional.empty();
                }
                last = p.expiresAt().isAfter(last) ? p.expiresAt() : last;
            }
        }
        return Optional.of(last);
    }

    /**
     * With the bootstrap admin token off, says in the log when every admin token that may act expires, and when the
     * last of them does: then nobody can manage the server from that time on, and it does not start again. A WARN
     * when that is within 30 days, an INFO when it is further off (and it is looked at again once it is within 30
     * days). Nothing with it on, or while some admin token never expires.
     */
    public void warnIfAdminAccessEnds() {
        if (bootstrapHash != null) {
            return;
        }
        adminAccessEnds().ifPresent(end -> {
            // No admin token may make one that outlives it: only the bootstrap token can make one that never expires.
            String line = "every admin token that may act expires, the last at {}: after it nobody can manage this server"
                    + " (the bootstrap admin token is off), and it will not start again. No token can make one that outlives"
                    + " it, so restart once with --bootstrap-admin-token on, make an admin token without an expiry with"
                    + " the bootstrap token, and turn it off again";
            if (endsSoon(end)) {
                LOG.warn(line, end);
            } else {
                LOG.info(line, end); // far off: the gauge flags_admin_access_expires_in_seconds is what to alert on
                if (expiry != null) {
                    // Looked at again once it is near, restart or no: then a WARN, unless admin access changed.
                    expiry.schedule(ADMIN_ACCESS_CHECK, end.minus(ADMIN_ACCESS_WARNING));
                }
            }
        });
    }

    /**
     * Told that a token expired (by the {@link TokenExpiry} thread). With the bootstrap admin token off, an admin
     * token's expiry is logged with the admin access left: an error once none remains; a warning while all that
     * remains ends within 30 days; else an INFO.
     *
     * @param tokenId the token's id
     */
    public void expired(String tokenId) {
        if (bootstrapHash != null) {
            return;
        }
        if (tokenId.equals(ADMIN_ACCESS_CHECK)) {
            warnIfAdminAccessEnds(); // the end of all admin access is near now, unless it moved
            return;
        }
        Principal admin = list().stream().filter(p -> p.tokenId().equals(tokenId) && p.scope() == Scope.ADMIN).findFirst()
                .orElse(null);
        if (admin == null || admin.expiresAt() == null || !admin.expiresAt().isAfter(startedAt)) {
            return; // expired before this start: the start's own lines tell what admin access is left
        }
        long live = liveAdminTokens();
        if (live == 0) {
            LOG.error("admin token {} ({}) expired, the last admin token that could act: with the bootstrap admin token off,"
                    + " nobody can manage this server, and it will not start again with it off. Restart it with"
                    + " --bootstrap-admin-token on and make an admin token", tokenId, LogText.escape(admin.name()));
            return;
        }
        Optional<Instant> ends = adminAccessEnds();
        String line = "admin token {} ({}) expired: {} admin token{} may still act"
                + (ends.isEmpty() ? ", one of them without an expiry" : "");
        if (ends.isPresent() && endsSoon(ends.get())) {
            LOG.warn(line, tokenId, LogText.escape(admin.name()), live, live == 1 ? "" : "s");
        } else {
            LOG.info(line, tokenId, LogText.escape(admin.name()), live, live == 1 ? "" : "s"); // nothing to act on yet
        }
        warnIfAdminAccessEnds();
    }

    /** @return whether admin access that ends at {@code end} ends within {@link #ADMIN_ACCESS_WARNING}: worth a WARN */
    private boolean endsSoon(Instant end) {
        return end.isBefore(clock.instant().plus(ADMIN_ACCESS_WARNING));
    }

    /**
     * With the bootstrap admin token off, refuses to revoke the last admin token that may act: nobody
     * could make or revoke a token after it, and the server would not start again.
     */
    private void requireAnotherAdmin(Principal revoked, ServerState state) {
        Instant now = clock.instant();
        if (revoked.scope() != Scope.ADMIN || revoked.isExpiredAt(now)) {
            return;
        }
        boolean another = state.tokens().values().stream().map(t -> principal(t.toJsonNode()))
                .anyMatch(p -> p.scope() == Scope.ADMIN && !p.isExpiredAt(now) && !p.tokenId().equals(revoked.tokenId()));
        if (!another) {
            throw new ApiException(409, "last admin token", "token " + revoked.tokenId() + " is the last admin token that may act,"
                    + " and the bootstrap admin token is off: revoked, nobody could manage this server (and it would not"
                    + " start again). Make another admin token first, or restart with the bootstrap admin token on");
        }
    }

    private TokenInfo info(Principal p, Instant now) {
        Origin origin = origins.get(p.tokenId());
        AtomicLong cell = lastUsed.get(p.tokenId());
        long second = cell == null ? 0 : cell.get();
        return new TokenInfo(p, origin == null ? null : origin.at(), origin == null ? null : origin.actor(),
                p.isExpiredAt(now), second == 0 ? null : Instant.ofEpochSecond(second));
    }

    /**
     * Reads the journal's entries not read yet for the creations of tokens whose origin is not known:
     * once after a start (every retained entry), then only what was appended since, and only while some
     * live token lacks one. A token whose creation retention removed keeps none.
     */
    private void readOrigins() {
        synchronized (originsLock) {
            Set<String> live = journal.state().tokens().keySet();
            if (origins.keySet().containsAll(live)) {
                return;
            }
            long last = journal.lastSequence();
            long from = Math.max(originsReadTo + 1, journal.oldestRetainedSequence());
            while (from <= last) {
                List<JournalEntry> page;
                try {
                    page = journal.read(from, SCAN_PAGE);
                } catch (IllegalArgumentException e) {
                    // retention removed entries since oldestRetainedSequence() was asked: go on from the new oldest
                    long oldest = journal.oldestRetainedSequence();
                    if (oldest <= from) {
                        throw e;
                    }
                    from = oldest;
                    continue;
                }
                if (page.isEmpty()) {
                    break;
                }
                for (JournalEntry e : page) {
                    if (e.type() == EntryType.TOKEN_CREATED) {
                        origins.put(e.subject(), new Origin(e.timestamp(), e.actor()));
                    }
                }
                from = page.get(page.size() - 1).sequence() + 1;
            }
            originsReadTo = from - 1;
            // Revoked tokens' origins go: a token made after the state above was read is in the newer state.
            origins.keySet().retainAll(journal.state().tokens().keySet());
        }
    }

    private Index index() {
        ServerState state = journal.state();
        Index current = index;
        if (current.tokensVersion() == state.tokensVersion()) {
            return current;
        }
        return rebuild();
    }

    /**
     * One rebuild at a time, from the newest state: two at once, one from an older state, dropped the
     * last-use cell of a token the other had just added.
     */
    private synchronized Index rebuild() {
        ServerState state = journal.state();
        Index current = index;
        if (current.tokensVersion() == state.tokensVersion()) {
            return current;
        }
        Map<String, Live> byHash = new HashMap<>();
        Map<String, Live> byId = new HashMap<>();
        for (CanonicalJson payload : state.tokens().values()) {
            JsonNode node = payload.toJsonNode();
            Principal p = principal(node);
            AtomicLong cell = lastUsed.computeIfAbsent(p.tokenId(), id -> new AtomicLong());
            Live live = new Live(p, epochMillisRoundedUp(p.expiresAt()), cell);
            byHash.put(node.path("hash").asText(), live);
            byId.put(p.tokenId(), live);
        }
        lastUsed.keySet().retainAll(state.tokens().keySet()); // revoked tokens' cells go
        Index rebuilt = new Index(state.tokensVersion(), Map.copyOf(byHash), Map.copyOf(byId));
        index = rebuilt;
        return rebuilt;
    }

    /** An expiry as epoch milliseconds, rounded up so that a token is never refused early; MAX_VALUE for none. */
    private static long epochMillisRoundedUp(Instant at) {
        if (at == null) {
            return Long.MAX_VALUE;
        }
        try {
            return at.toEpochMilli() + (at.getNano() % 1_000_000 == 0 ? 0 : 1);
        } catch (ArithmeticException e) {
            return at.isBefore(Instant.EPOCH) ? Long.MIN_VALUE : Long.MAX_VALUE;
        }
    }

    private static Principal principal(JsonNode node) {
        Set<String> envs = new LinkedHashSet<>();
        node.path("environments").forEach(e -> envs.add(e.asText()));
        // Tokens recorded before tokens had a user have no "userId": null, as they were made; and tokens
        // recorded before tokens could expire have no "expiresAt": they never expire.
        String userId = node.hasNonNull("userId") ? node.get("userId").asText() : null;
        Instant expiresAt = node.hasNonNull("expiresAt") ? Instant.parse(node.get("expiresAt").asText()) : null;
        return new Principal(node.path("id").asText(), node.path("name").asText(), scope(node), envs, userId, expiresAt);
    }

    /**
     * A recorded token's scope. One this server does not know (none, or a newer server's) stops the server with a
     * line that says so, not a stack trace: the token's rights cannot be told, so it must be neither used nor dropped.
     */
    private static Scope scope(JsonNode token) {
        String scope = token.path("scope").asText();
        for (Scope s : Scope.values()) {
            if (s.apiName().equals(scope)) {
                return s;
            }
        }
        throw new dev.flags.server.journal.JournalException("the journal holds token " + LogText.quoted(token.path("id").asText(), 40)
                + " with scope " + LogText.quoted(scope, 40) + ", which this server does not know (a journal of a newer"
                + " server, or one not written by a flag server); start a server that knows it");
    }

    private byte[] randomBytes() {
        byte[] bytes = new byte[32];
        random.nextBytes(bytes);
        return bytes;
    }

    private static byte[] sha256(String secret) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }

    private static String hashText(byte[] hash) {
        return "sha256:" + HexFormat.of().formatHex(hash);
    }
}
