package dev.flags.server.auth;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flags.server.LogText;
import dev.flags.server.journal.CanonicalJson;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.Journal;
import dev.flags.server.journal.JournalEntry;
import dev.flags.server.journal.ServerState;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
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
 * kept only as a hash in memory, never in the journal.
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
    private static final String BOOTSTRAP_ID = "admin";

    private final Journal journal;
    /** How a token's creation or revocation is written: the server's write path, or the journal itself. */
    private final Function<Change, JournalEntry> write;
    private final byte[] bootstrapHash;
    private final Consumer<String> onRevoked;
    private final SecureRandom random = new SecureRandom();
    private volatile Index index = new Index(-1, Map.of());

    /** Token hashes by hash text, rebuilt when the journal's token set changes. */
    private record Index(long tokensVersion, Map<String, Principal> byHash) {
    }

    /** A token just created: the secret is in here and nowhere else. */
    public record CreatedToken(String secret, Principal principal) {
        @Override
        public String toString() {
            return "CreatedToken{" + principal + "}"; // never the secret
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
     * @param journal where tokens are read from
     * @param write how a token's creation or revocation is appended: the server's
     *     {@link dev.flags.server.ChangeWriter#append}, so that it is refused once the server is stopping,
     *     waited for by its shutdown and counted in its metrics like every other write
     * @param bootstrapAdminToken the bootstrap admin token's secret
     * @param onRevoked told the id of each token revoked, once the revocation is in the journal (the
     *     server closes the token's open sync streams)
     */
    public TokenService(Journal journal, Function<Change, JournalEntry> write, String bootstrapAdminToken,
                        Consumer<String> onRevoked) {
        this.journal = Objects.requireNonNull(journal, "journal");
        this.write = Objects.requireNonNull(write, "write");
        this.bootstrapHash = sha256(Objects.requireNonNull(bootstrapAdminToken, "bootstrapAdminToken"));
        this.onRevoked = Objects.requireNonNull(onRevoked, "onRevoked");
    }

    /** @return a new random token secret, for the bootstrap admin token */
    public static String newSecret() {
        byte[] bytes = new byte[32];
        new SecureRandom().nextBytes(bytes);
        return PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    @Override
    public Optional<Principal> authenticate(String presented) {
        if (presented == null || presented.isEmpty() || presented.length() > MAX_PRESENTED_LENGTH) {
            return Optional.empty();
        }
        byte[] hash = sha256(presented);
        if (MessageDigest.isEqual(hash, bootstrapHash)) {
            return Optional.of(new Principal(BOOTSTRAP_ID, "admin", Scope.ADMIN, Set.of()));
        }
        Principal p = index().byHash().get(hashText(hash));
        return Optional.ofNullable(p);
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
        return create(name, scope, environments, userId, actor, null);
    }

    /**
     * Creates a token, as {@link #create(String, Scope, Set, String, String)}, with why.
     *
     * @param comment why, recorded in the journal and the audit log; null for none
     */
    public CreatedToken create(String name, Scope scope, Set<String> environments, String userId, String actor,
                               String comment) {
        Objects.requireNonNull(scope, "scope");
        checkName(name);
        if (scope == Scope.TESTER && (userId == null || userId.isBlank() || userId.length() > MAX_USER_ID
                || userId.chars().anyMatch(Character::isISOControl))) {
            throw new IllegalArgumentException("a tester token is for one user, the one whose roles it may grant and"
                    + " revoke: give \"userId\", 1 to " + MAX_USER_ID + " characters, not blank, no control characters");
        }
        if (scope != Scope.TESTER && userId != null) {
            throw new IllegalArgumentException("only a tester token is for one user; an " + scope.apiName()
                    + " token takes no \"userId\"");
        }
        Set<String> envs = environments == null ? Set.of() : new LinkedHashSet<>(environments);
        if (scope == Scope.ADMIN && !envs.isEmpty()) {
            throw new IllegalArgumentException("an admin token is for every environment; give no environments");
        }
        if (scope == Scope.SDK && envs.size() != 1) {
            throw new IllegalArgumentException("an sdk token is for exactly one environment, was given " + envs.size());
        }
        if ((scope == Scope.EDITOR || scope == Scope.TESTER) && envs.isEmpty()) {
            throw new IllegalArgumentException("an " + scope.apiName() + " token needs at least one environment");
        }
        if (journal.state().tokens().size() >= MAX_TOKENS) {
            throw new IllegalArgumentException("there are already " + MAX_TOKENS + " tokens; revoke some first");
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
        write.apply(Change.of(EntryType.TOKEN_CREATED, null, actor, payload).withComment(comment));
        return new CreatedToken(secret, new Principal(id, name, scope, envs, userId));
    }

    /**
     * A name is shown in lists, the audit log's actors and the server's log: a line break in it would
     * forge log lines, and the journal refuses control characters in an actor. The same rule as for
     * user ids.
     */
    private static void checkName(String name) {
        if (name == null || name.isBlank() || name.length() > MAX_NAME || LogText.hasUnsafe(name)) {
            throw new IllegalArgumentException("name must be 1 to " + MAX_NAME + " characters, not blank, without control"
                    + " characters (nor line separators or bidirectional controls)" + (name == null ? "" : ", was \"" + LogText.escape(name.length() > 80 ? name.substring(0, 77) + "..." : name) + "\""));
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
        if (!journal.state().tokens().containsKey(id)) {
            return false;
        }
        write.apply(Change.of(EntryType.TOKEN_REVOKED, null, actor, JsonNodeFactory.instance.objectNode().put("id", id))
                .withComment(comment));
        onRevoked.accept(id);
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

    /** @return every live token's principal (never a secret or hash), sorted by id */
    public List<Principal> list() {
        List<Principal> out = new ArrayList<>();
        journal.state().tokens().values().forEach(payload -> out.add(principal(payload.toJsonNode())));
        out.sort((a, b) -> a.tokenId().compareTo(b.tokenId()));
        return out;
    }

    private Index index() {
        ServerState state = journal.state();
        Index current = index;
        if (current.tokensVersion() == state.tokensVersion()) {
            return current;
        }
        Map<String, Principal> byHash = new HashMap<>();
        for (CanonicalJson payload : state.tokens().values()) {
            JsonNode node = payload.toJsonNode();
            byHash.put(node.path("hash").asText(), principal(node));
        }
        Index rebuilt = new Index(state.tokensVersion(), Map.copyOf(byHash));
        index = rebuilt;
        return rebuilt;
    }

    private static Principal principal(JsonNode node) {
        Set<String> envs = new LinkedHashSet<>();
        node.path("environments").forEach(e -> envs.add(e.asText()));
        // Tokens recorded before tokens had a user have no "userId": null, as they were made.
        String userId = node.hasNonNull("userId") ? node.get("userId").asText() : null;
        return new Principal(node.path("id").asText(), node.path("name").asText(),
                Scope.valueOf(node.path("scope").asText().toUpperCase(java.util.Locale.ROOT)), envs, userId);
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
