package dev.flags.server;

import dev.flags.server.auth.TokenService;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Immutable (stateless). Finds the bootstrap admin token: the configured one, else the one in
 * {@code <dataDir>/admin-token}, else a new one written there, readable by its owner only. The log
 * says where the file is, never what is in it.
 */
final class AdminToken {

    static final String FILE_NAME = "admin-token";
    static final int MIN_LENGTH = 16;
    /** Fewer different characters than this in an operator's token is a pattern, not a secret: said at start. */
    static final int MIN_DISTINCT = 10;
    /** Shorter operator tokens than this get the same line: a random one of 32 base64 characters is what to use. */
    static final int GOOD_LENGTH = 24;

    /**
     * What is wrong with a token an operator chose, without showing it (it is a secret), or null if it
     * can authenticate: a request carries it in an {@code Authorization} header, which holds visible
     * ASCII only (gRPC metadata too), and the server reads at most {@link TokenService#MAX_PRESENTED_LENGTH}
     * characters of it. Any other token would be accepted at start and never work.
     */
    static String problem(String token) {
        if (token.length() < MIN_LENGTH || token.length() > TokenService.MAX_PRESENTED_LENGTH) {
            return "must be " + MIN_LENGTH + " to " + TokenService.MAX_PRESENTED_LENGTH + " characters, was " + token.length();
        }
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            if (c < 0x21 || c > 0x7e) {
                return "may hold only ASCII letters, digits and punctuation, no spaces (an Authorization header carries"
                        + " nothing else); character " + (i + 1) + " of " + token.length() + " is " + describe(c);
            }
        }
        return null;
    }

    private static String describe(char c) {
        return c == ' ' ? "a space" : c == '\t' ? "a tab" : c == '\n' || c == '\r' ? "a line break"
                : Character.isISOControl(c) ? "a control character" : "not ASCII";
    }
    private static final Logger LOG = LoggerFactory.getLogger(AdminToken.class);

    private AdminToken() {
    }

    /**
     * No bootstrap admin token (the operator turned it off): a token file left from before would look
     * like a working admin token to whoever finds it, so it gets a line.
     *
     * @return null, the bootstrap token there is not
     */
    static String off(Path dataDir) {
        Path file = dataDir.resolve(FILE_NAME);
        LOG.info("admin token: no bootstrap admin token (--bootstrap-admin-token off): only admin tokens made through the API");
        if (Files.exists(file)) {
            LOG.warn("admin token: {} is not used while the bootstrap admin token is off; its token does not work: delete the file",
                    file.toAbsolutePath());
        }
        return null;
    }

    /**
     * With the bootstrap admin token off, some admin token of the journal's must be able to act, or
     * nobody could make or revoke tokens: the server refuses to start rather than run unmanageable.
     *
     * @param liveAdminTokens how many admin tokens of the journal's are neither revoked nor expired
     * @throws IOException if there is none, saying how to make one
     */
    static void requireAnotherAdmin(long liveAdminTokens) throws IOException {
        if (liveAdminTokens == 0) {
            throw new IOException("the bootstrap admin token is off and the journal holds no live admin token: nobody could"
                    + " manage this server. Start it with the bootstrap admin token on, make an admin token (flags tokens create"
                    + " NAME --scope admin), then turn the bootstrap token off");
        }
        LOG.info("admin token: {} admin token{} of the journal's may act", liveAdminTokens, liveAdminTokens == 1 ? "" : "s");
    }

    static String resolve(String configured, Path dataDir) throws IOException {
        Path file = dataDir.resolve(FILE_NAME);
        if (configured != null) {
            LOG.info("admin token: taken from FLAGS_ADMIN_TOKEN");
            long distinct = configured.chars().distinct().count();
            if (distinct < MIN_DISTINCT || configured.length() < GOOD_LENGTH) {
                // Sixteen characters is a length, not a strength: "aaaaaaaaaaaaaaaa" and "letmein-please-2026" are
                // guessed long before a random one; no check here can tell a random token from a chosen one.
                LOG.warn("admin token: FLAGS_ADMIN_TOKEN is {} character{} long with {} different: it may be easy to guess,"
                        + " and it gives everything; use a random one of at least {} characters (openssl rand -base64 32), or"
                        + " leave the variable unset and the server generates one", configured.length(),
                        configured.length() == 1 ? "" : "s", distinct, GOOD_LENGTH);
            }
            if (Files.exists(file)) {
                // Whoever reads the file would hold a token that no longer works, and wonder why.
                LOG.warn("admin token: {} is not used while FLAGS_ADMIN_TOKEN is set; its token does not work: delete the file",
                        file.toAbsolutePath());
            }
            return configured;
        }
        if (Files.isDirectory(file)) {
            throw new IOException(file + " is a directory, not the admin token file: remove it, and the server generates"
                    + " a token into a file of that name");
        }
        if (Files.exists(file)) {
            String token = read(file);
            String problem = problem(token);
            if (problem != null) {
                throw new IOException("the admin token file " + file + " holds no usable token (a token " + problem
                        + "); delete it to generate a new one");
            }
            LOG.info("admin token: read from {}", file.toAbsolutePath());
            warnIfOthersCanReadOrChange(file);
            return token;
        }
        String token = TokenService.newSecret();
        Set<PosixFilePermission> ownerOnly = PosixFilePermissions.fromString("rw-------");
        try {
            Files.createFile(file, PosixFilePermissions.asFileAttribute(ownerOnly));
        } catch (UnsupportedOperationException e) {
            Files.createFile(file); // not a POSIX file system
        } catch (FileAlreadyExistsException e) {
            return resolve(null, dataDir);
        }
        try {
            Files.writeString(file, token + "\n", StandardCharsets.UTF_8, StandardOpenOption.TRUNCATE_EXISTING);
        } catch (IOException e) {
            // An empty token file left behind would make the next start refuse it ("holds no usable token").
            try {
                Files.deleteIfExists(file);
            } catch (IOException again) {
                e.addSuppressed(again);
            }
            throw new IOException("cannot write the generated admin token to " + file.toAbsolutePath() + ": "
                    + e.getMessage() + "; nothing was kept: fix that (a full disk?), then start again", e);
        }
        LOG.info("admin token: generated and written to {} (readable by its owner only)", file.toAbsolutePath());
        return token;
    }

    /** The data directory's record of which bootstrap admin token the server runs with, and since when. */
    static final String SINCE_FILE = "admin-token-since";

    /**
     * Since when the server runs with this bootstrap admin token, kept in {@value #SINCE_FILE} as a fingerprint of
     * the token and an instant. The fingerprint is a salted PBKDF2 of the token ({@link #fingerprint}): an operator may
     * choose a short token, and an unsalted hash of it would let whoever reads the data directory try guesses at the
     * speed of SHA-256 (QA85). A record of an earlier release (16 hex digits: a hash of the token's hash) is still read,
     * and written again salted. A token that differs from the last
     * start's was replaced, most often because it leaked: what the old one arranged for later (scheduled changes)
     * must not run, and its id, {@code admin}, is the same whatever the secret. A data directory without the file
     * (a new one, or one of an older release) takes the token as it always was.
     *
     * @return when the token took effect (the epoch if it never changed), and whether it was replaced at this start
     */
    static Since since(Path dataDir, String token, java.time.Clock clock) throws IOException {
        Path file = dataDir.resolve(SINCE_FILE);
        boolean recordedAToken = false;
        if (Files.exists(file)) {
            String text = read(file);
            String[] recorded = text.split(" ");
            Instant at = recorded.length == 2 && isFingerprint(recorded[0]) ? instantOrNull(recorded[1]) : null;
            if (at == null) {
                // Emptied by a power loss, or edited: which token it names cannot be told. Taken as no record, as a
                // data directory without the file is: deciding "replaced" would fail every pending change the token made.
                LOG.warn("admin token: {} is damaged ({}); the server cannot tell whether the bootstrap admin token was"
                        + " replaced, and takes it as unchanged. If it was replaced (it leaked), cancel the scheduled"
                        + " changes made by admin (admin) that are pending (flags schedules)", file.toAbsolutePath(),
                        text.isEmpty() ? "empty" : "not a fingerprint and an instant");
            } else if (isFingerprintOf(recorded[0], token)) {
                if (LEGACY_FINGERPRINT.matcher(recorded[0]).matches()) {
                    write(file, token, at); // the same token and instant, no longer behind an unsalted hash
                }
                return new Since(at, false);
            } else {
                recordedAToken = true;
            }
        }
        Instant since = recordedAToken ? clock.instant() : Instant.EPOCH;
        write(file, token, since);
        return new Since(since, recordedAToken);
    }

    private static void write(Path file, String token, Instant since) throws IOException {
        // Durable before the start goes on: a record lost to a power loss would come back empty (see above).
        dev.flags.server.journal.DurableFiles.replace(file, (fingerprint(token) + " " + since + "\n")
                .getBytes(StandardCharsets.UTF_8));
    }

    private static Instant instantOrNull(String text) {
        try {
            return Instant.parse(text);
        } catch (java.time.format.DateTimeParseException e) {
            return null;
        }
    }

    /**
     * @param at since when the bootstrap admin token is the one it is now
     * @param replacedNow whether this start found it replaced (later starts with the same token keep {@code at})
     */
    record Since(Instant at, boolean replacedNow) {
    }

    /** PBKDF2's rounds: about 20 ms on a warm JVM here (a start pays it once), 20,000 times the work of a guess before. */
    static final int FINGERPRINT_ITERATIONS = 20_000;
    private static final java.util.regex.Pattern SALTED_FINGERPRINT =
            java.util.regex.Pattern.compile("pbkdf2-sha256:([0-9]{4,7}):([0-9a-f]{32}):([0-9a-f]{64})");
    private static final java.util.regex.Pattern LEGACY_FINGERPRINT = java.util.regex.Pattern.compile("[0-9a-f]{16}");
    private static final java.util.HexFormat HEX = java.util.HexFormat.of();

    /** @return {@code pbkdf2-sha256:<rounds>:<salt>:<hash>}, with a new random salt */
    static String fingerprint(String token) {
        byte[] salt = new byte[16];
        new java.security.SecureRandom().nextBytes(salt);
        return "pbkdf2-sha256:" + FINGERPRINT_ITERATIONS + ":" + HEX.formatHex(salt) + ":"
                + HEX.formatHex(pbkdf2(token, salt, FINGERPRINT_ITERATIONS));
    }

    private static boolean isFingerprint(String recorded) {
        java.util.regex.Matcher salted = SALTED_FINGERPRINT.matcher(recorded);
        if (salted.matches()) {
            int rounds = Integer.parseInt(salted.group(1));
            return rounds >= 1_000 && rounds <= 1_000_000; // an edited count could stall the start
        }
        return LEGACY_FINGERPRINT.matcher(recorded).matches();
    }

    /** @param recorded a fingerprint ({@link #isFingerprint}) */
    private static boolean isFingerprintOf(String recorded, String token) {
        java.util.regex.Matcher salted = SALTED_FINGERPRINT.matcher(recorded);
        if (salted.matches()) {
            byte[] hash = pbkdf2(token, HEX.parseHex(salted.group(2)), Integer.parseInt(salted.group(1)));
            return java.security.MessageDigest.isEqual(hash, HEX.parseHex(salted.group(3)));
        }
        return java.security.MessageDigest.isEqual(legacyFingerprint(token).getBytes(StandardCharsets.US_ASCII),
                recorded.getBytes(StandardCharsets.US_ASCII));
    }

    private static byte[] pbkdf2(String token, byte[] salt, int iterations) {
        javax.crypto.spec.PBEKeySpec spec = new javax.crypto.spec.PBEKeySpec(token.toCharArray(), salt, iterations, 256);
        try {
            return javax.crypto.SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException("every JVM has PBKDF2WithHmacSHA256", e);
        } finally {
            spec.clearPassword();
        }
    }

    /** The fingerprint of releases before the salted one: the first 8 bytes of SHA-256(SHA-256(token)). */
    private static String legacyFingerprint(String token) {
        try {
            java.security.MessageDigest sha = java.security.MessageDigest.getInstance("SHA-256");
            byte[] once = sha.digest(token.getBytes(StandardCharsets.UTF_8));
            return HEX.formatHex(sha.digest(once), 0, 8);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }

    /**
     * Says what a replaced bootstrap admin token arranged: its pending schedules fail at their time (as a revoked
     * token's do), and the tokens it made live on until an admin revokes them.
     */
    static void warnIfReplacedTokenArranged(Since replaced, dev.flags.server.journal.ServerState state) {
        if (!replaced.replacedNow()) {
            return; // said at the start that found it; the schedules' willFail says it every time they are listed
        }
        Instant since = replaced.at();
        long schedules = state.environments().values().stream().flatMap(e -> e.pendingSchedules().stream())
                .filter(s -> s.createdBy().endsWith(" (admin)") && s.createdAt().isBefore(since)).count();
        LOG.warn("admin token: the bootstrap admin token differs from the one this server last ran with (replaced at {}):"
                + " {} pending scheduled change{} made with an earlier one will fail at {} time, as a revoked token's do;"
                + " tokens made with it (created by \"admin (admin)\": flags tokens) still work until revoked",
                since, schedules, schedules == 1 ? "" : "s", schedules == 1 ? "its" : "their");
    }

    /** Reads the file; a failure names it (some, such as a read error, come without the path). */
    private static String read(Path file) throws IOException {
        try {
            return Files.readString(file, StandardCharsets.UTF_8).trim();
        } catch (FileSystemException e) {
            throw e; // names the file
        } catch (IOException e) {
            throw new IOException("cannot read the admin token file " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * The token gives everything: a file others may read (a copy, a restore, a umask) is worth a line,
     * and so is one they may write: they could put a token of their own in it, which the server would
     * take as the admin token at its next start.
     */
    private static void warnIfOthersCanReadOrChange(Path file) {
        warnIfOthersCanReadOrChange(file, "admin token", "they could put in a token of their own");
    }

    private static void warnIfOthersCanReadOrChange(Path file, String what, String ifWritten) {
        warnIfOthersCanReadOrChange(file, what, ifWritten, LOG);
    }

    /**
     * Warns, with the {@code chmod} that fixes it, of a secret file that users other than its owner may read or change.
     * The server's TLS key is worth the same line as the token: with it, anyone could pass for this server and read
     * every token sent to it; it is logged by the logger of what the file is for (the TLS key's is not this class's).
     *
     * @param what what the file is, such as "TLS key"
     * @param ifWritten what someone who may change it could do
     * @param log the logger the line goes to
     */
    static void warnIfOthersCanReadOrChange(Path file, String what, String ifWritten, org.slf4j.Logger log) {
        try {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
            boolean read = perms.contains(PosixFilePermission.GROUP_READ) || perms.contains(PosixFilePermission.OTHERS_READ);
            boolean write = perms.contains(PosixFilePermission.GROUP_WRITE) || perms.contains(PosixFilePermission.OTHERS_WRITE);
            if (read || write) {
                log.warn("{}: {} can be {} by users other than its owner ({}){}: chmod 600 {}", what, file.toAbsolutePath(),
                        read && write ? "read and changed" : read ? "read" : "changed", PosixFilePermissions.toString(perms),
                        write ? " (" + ifWritten + ")" : "", file.toAbsolutePath());
            }
        } catch (UnsupportedOperationException | IOException e) {
            // not a POSIX file system: nothing to check
        }
    }
}
