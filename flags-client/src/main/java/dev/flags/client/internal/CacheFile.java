package dev.flags.client.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flags.core.Flag;
import dev.flags.core.FlagFormat;
import dev.flags.core.FlagSet;
import dev.flags.core.FlagValidationException;
import dev.flags.core.UnfitFileException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Thread-safe (stateless but for its settings; the SDK writes from one thread). The fail-static cache
 * file: the last snapshot from the server, written atomically after each change and read at start,
 * before the server answers.
 *
 * <p>Format version 2 is a few header lines, a blank line, and a flag file of flags-core's format
 * ({@code docs/flag-format.md}) as the body:
 * <pre>
 * flags-cache 2
 * environment: production
 * version: 42
 * written-at: 2026-11-23T10:15:30Z
 * flags: 3
 * state-tag: 5c1e0b9a2d4f7e31
 * hmac-sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
 *
 * {"formatVersion": 1, "flags": [...], "roleGrants": {...}}
 * </pre>
 * {@code state-tag} is the server's tag of that state (absent if the server sent none), sent back when
 * subscribing from the file's version. {@code hmac-sha256} authenticates everything before it and the
 * body, keyed with the SDK's token: a file is used only if its first line, its environment and its MAC
 * are right and its body is a valid flag file. Why a MAC and not a checksum: a checksum catches a torn
 * file, but whoever can write the file could recompute it, and then choose the flags the application
 * serves, even as live ones (the SDK would resume from the file's version and tag, and the server
 * would find nothing to send). Without the token, which the file does not hold, no one can make a
 * file this SDK accepts. A file written with another token (a rotated one), of format 1 (no MAC), of
 * another environment or format, torn or edited, is ignored with a warning, never trusted.
 *
 * <p>Writes go to a temporary file in the same directory, which is forced to disk and then moved over
 * the cache file with an atomic rename, so a reader sees the old file or the new one, never half. The
 * temporary file's name is short ({@value #TEMP_PREFIX}, a number, {@value #TEMP_SUFFIX}), whatever the
 * cache file's: a name derived from the cache file's would be too long for the file system when the cache
 * file's is near its limit (QA76 F4). A write that dies before its rename (a crash, a kill) leaves its
 * temporary file; the first write of each instance deletes those older than an hour.
 */
final class CacheFile {

    static final String MAGIC = "flags-cache 2";
    private static final String MAC_FIELD = "hmac-sha256";
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The header line naming the flags the writing SDK could not read (absent if none). */
    private static final String UNREADABLE_FIELD = "unreadable";
    private static final int MAX_HEADER_BYTES = 4096;
    /** The longest list of unreadable flags' keys the header names: the rest of the header must fit too. */
    static final int MAX_UNREADABLE_CHARS = 2048;
    /**
     * The most a cache file's flags may take: a flag file's bound, which holds an environment as large as a server may
     * serve (48 MiB, --max-environment-mib), indented. (A cache file read with a smaller bound than a server's largest
     * environment was written after every change and refused at the one start it was for, with the server down.)
     */
    static final int MAX_BODY_BYTES = FlagFormat.MAX_FILE_BYTES;
    /** The most flags a cache file may hold: as many as a server lets an environment serve (--max-flags-per-environment). */
    static final int MAX_FLAGS = FlagFormat.MAX_FLAGS;
    /** How a temporary file's name starts: short and fixed, so that the ones a dead write left can be told. */
    static final String TEMP_PREFIX = ".flags-cache-";
    /** How a temporary file's name ends. */
    static final String TEMP_SUFFIX = ".tmp";
    /**
     * A temporary file older than this was left by a write that died: a write takes milliseconds to seconds, and one
     * of another instance sharing the directory, still in progress, must not be deleted under it.
     */
    static final long STALE_TEMP_MILLIS = TimeUnit.HOURS.toMillis(1);

    /**
     * Tests only: called on the writing thread between writing a temporary file's bytes and forcing them to disk, where
     * a hung file system (an NFS mount that stops answering, a frozen disk) holds a write. Null otherwise.
     */
    static volatile WriteHook writeHook;

    /** Tests only: see {@link #writeHook}. */
    interface WriteHook {
        void beforeForce(Path cacheFile) throws IOException;
    }

    private final Path path;
    private final String environment;
    private final Clock clock;
    private final SecretKeySpec key;
    /** Whether this instance looked for temporary files that dead writes left: once, at its first write. */
    private final AtomicBoolean swept = new AtomicBoolean();

    /**
     * @param path the file
     * @param environment the environment whose flags it holds
     * @param clock for {@code written-at}
     * @param sdkToken the SDK's token: the key of the file's MAC (never written to the file)
     */
    CacheFile(Path path, String environment, Clock clock, String sdkToken) {
        this.path = path;
        this.environment = environment;
        this.clock = clock;
        this.key = new SecretKeySpec(sdkToken.getBytes(StandardCharsets.UTF_8), "HmacSHA256");
    }

    Path path() {
        return path;
    }

    /**
     * What reading found.
     *
     * @param flags the flags, with the environment's version; null if missing or rejected
     * @param writtenAt when the file was written, or null
     * @param problem why the file was rejected; null if it was used or is missing
     * @param stateTag the server's tag of the state, or 0 if the file has none
     * @param unreadable key to why, for the flags of the state that the file does not give: those the SDK that wrote it
     *     could not read, and left out (a newer server's format), and those this SDK cannot read (a newer SDK wrote
     *     them); the file is then not the whole state of its version
     */
    record Read(FlagSet flags, Instant writtenAt, String problem, long stateTag, Map<String, String> unreadable) {
        boolean missing() {
            return flags == null && problem == null;
        }
    }

    /** @return the flags of the file, or why not; never throws */
    Read read() {
        try {
            return readChecked();
        } catch (OutOfMemoryError e) {
            // A file within the bounds whose flags this heap cannot hold (QA60 F2): build() goes on without it, from the
            // server. What was read is garbage once this returns.
            return rejected("could not be read: " + OfflineFile.OUT_OF_MEMORY);
        }
    }

    private Read readChecked() {
        byte[] bytes;
        try {
            // Bounded, and a regular file only: a named pipe there would hang build(), a device exhaust the heap.
            bytes = UnfitFileException.readWhole(path, MAX_BODY_BYTES + MAX_HEADER_BYTES);
        } catch (NoSuchFileException e) {
            return new Read(null, null, null, 0, Map.of());
        } catch (UnfitFileException e) {
            return rejected(e.getMessage());
        } catch (IOException | RuntimeException e) {
            return rejected("cannot be read: " + e);
        }
        int split = indexOf(bytes, new byte[] {'\n', '\n'});
        if (split < 0 || split > MAX_HEADER_BYTES) {
            return rejected("is not a flags cache file (no header)");
        }
        String[] lines = new String(bytes, 0, split, StandardCharsets.UTF_8).split("\n");
        if (lines[0].equals("flags-cache 1")) {
            return rejected("is of format 1, which has no MAC (written by an earlier release of the SDK); the first"
                    + " sync with the server replaces it");
        }
        if (!lines[0].equals(MAGIC)) {
            // Not quoted: the path may lead (a link planted in a shared directory) to a file the application may
            // read and nobody else should, and this text reaches the log, health() and every evaluation's reason.
            return rejected("is not a flags cache file of format 2 (its first line is not \"" + MAGIC + "\")");
        }
        Map<String, String> header = new HashMap<>();
        StringBuilder authenticated = new StringBuilder();
        for (String line : lines) {
            int colon = line.indexOf(": ");
            if (colon > 0 && line.substring(0, colon).equals(MAC_FIELD)) {
                header.put(MAC_FIELD, line.substring(colon + 2));
                continue;
            }
            authenticated.append(line).append('\n');
            if (colon > 0) {
                header.putIfAbsent(line.substring(0, colon), line.substring(colon + 2));
            }
        }
        byte[] body = Arrays.copyOfRange(bytes, split + 2, bytes.length);
        String claimed = header.get(MAC_FIELD);
        byte[] actual = mac(authenticated.toString(), body);
        if (claimed == null || !MessageDigest.isEqual(actual, parseHex(claimed))) {
            String claimedEnvironment = header.get("environment");
            if (Flag.isValidKey(claimedEnvironment) && !claimedEnvironment.equals(environment)) {
                // Not trusted (the MAC failed), but the likeliest cause, and the one to name: one path for two SDKs.
                return rejected("says it was written for environment \"" + claimedEnvironment + "\", not \""
                        + environment + "\" (by an SDK with another token): is one cache path shared by SDKs of two environments?");
            }
            return rejected("does not carry this SDK's MAC: torn, edited, or written with another sdk token");
        }
        String env = header.get("environment");
        if (!environment.equals(env)) {
            return rejected("was written for environment \"" + env + "\", not \"" + environment + "\"");
        }
        long version;
        Instant writtenAt;
        long stateTag;
        Map<String, String> unreadable = new TreeMap<>();
        if (header.containsKey(UNREADABLE_FIELD)) {
            for (String key : header.get(UNREADABLE_FIELD).split(",")) {
                unreadable.put(key, "left out of cache file " + path + " by the SDK that wrote it, which could not read it");
            }
        }
        try {
            version = Long.parseLong(header.getOrDefault("version", "?"));
            writtenAt = header.containsKey("written-at") ? Instant.parse(header.get("written-at")) : null;
            stateTag = header.containsKey("state-tag") ? Long.parseUnsignedLong(header.get("state-tag"), 16) : 0;
        } catch (NumberFormatException | DateTimeParseException e) {
            return rejected("has a bad header: " + e.getMessage());
        }
        if (version < 0) {
            return rejected("has a negative version: " + version);
        }
        try {
            FlagFormat.FlagFile file = FlagFormat.readFile(body, MAX_BODY_BYTES, MAX_FLAGS);
            return new Read(FlagSet.of(file.flags(), file.roleGrants(), version), writtenAt, null, stateTag, unreadable);
        } catch (FlagValidationException e) {
            Read readable = readableFlagsOf(body, version, writtenAt, stateTag, unreadable);
            return readable != null ? readable : rejected("holds an invalid flag file: " + Updates.describe(e));
        } catch (RuntimeException e) {
            return rejected("holds an invalid flag file: " + Updates.describe(e));
        }
    }

    /**
     * The flags of a file the MAC vouches for whose flags this SDK cannot all read: a newer SDK wrote it, with a field
     * newer than this one. Its other flags are served, as the live stream serves those of a snapshot (the rest answer
     * ERROR), rather than none: with the server down at start, every flag would be its default.
     *
     * @return the file without those flags, or null if what fails is not only flags' documents
     */
    private Read readableFlagsOf(byte[] body, long version, Instant writtenAt, long stateTag, Map<String, String> unreadable) {
        try {
            JsonNode root = JSON.readTree(body);
            if (!root.path("flags").isArray()) {
                return null;
            }
            ArrayNode readable = JSON.createArrayNode();
            Map<String, String> left = new TreeMap<>(unreadable);
            for (JsonNode flag : root.get("flags")) {
                try {
                    FlagFormat.readFlag(flag);
                    readable.add(flag);
                } catch (FlagValidationException e) {
                    JsonNode key = flag.get("key");
                    if (key == null || !key.isTextual() || !Flag.isValidKey(key.asText())) {
                        return null;
                    }
                    left.put(key.asText(), "in cache file " + path + ", but this SDK cannot read it (written by a newer"
                            + " one?): " + Updates.describe(e));
                }
            }
            if (left.size() == unreadable.size()) {
                return null; // every flag reads: the problem is elsewhere
            }
            ((ObjectNode) root).set("flags", readable);
            FlagFormat.FlagFile file = FlagFormat.readFile(JSON.writeValueAsBytes(root), MAX_BODY_BYTES, MAX_FLAGS);
            return new Read(FlagSet.of(file.flags(), file.roleGrants(), version), writtenAt, null, stateTag, left);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /**
     * Writes the flags atomically: temporary file, force, atomic rename, then force the directory.
     *
     * @param flags the flags to keep
     * @param stateTag the server's tag of that state, or 0 if none
     * @param unreadable the keys of the flags the server sent that this SDK could not read: left out of the file, and
     *     named in it, so that an SDK that starts from it (a newer release, which may read them) takes a whole snapshot
     *     instead of resuming from a version whose state the file does not hold in full
     * @throws IOException if the file cannot be written; the old file, if any, is then untouched
     */
    void write(FlagSet flags, long stateTag, java.util.Set<String> unreadable) throws IOException {
        List<Flag> sorted = new ArrayList<>(flags.flags());
        sorted.sort(Comparator.comparing(Flag::key));
        Map<String, Set<String>> grants = new TreeMap<>();
        flags.roleGrants().forEach((role, ids) -> grants.put(role, new TreeSet<>(ids))); // same flags, same bytes
        byte[] body = FlagFormat.writeFile(sorted, grants).getBytes(StandardCharsets.UTF_8);
        // Flag keys hold no comma; sorted, so that the same state writes the same bytes.
        String left = String.join(",", new TreeSet<>(unreadable));
        // Too many to name within the header's bound: the file says version 0 instead, which no SDK resumes from (it
        // takes a whole snapshot); those flags then answer as unknown until it has, not with reason ERROR. So too for a
        // key that no flag can have (a server or proxy that sent a document under a key with a line break or a comma):
        // named in the header, it split the header, and the next start refused the file as torn (QA94 F3).
        boolean named = left.length() <= MAX_UNREADABLE_CHARS && unreadable.stream().allMatch(Flag::isValidKey);
        String authenticated = MAGIC + "\n"
                + "environment: " + environment + "\n"
                + "version: " + (named ? flags.version() : 0) + "\n"
                + "written-at: " + clock.instant() + "\n"
                + "flags: " + flags.size() + "\n"
                + (stateTag != 0 && named ? "state-tag: " + String.format("%016x", stateTag) + "\n" : "")
                + (unreadable.isEmpty() || !named ? "" : UNREADABLE_FIELD + ": " + left + "\n");
        String header = authenticated + MAC_FIELD + ": " + HexFormat.of().formatHex(mac(authenticated, body)) + "\n\n";
        Path dir = path.toAbsolutePath().getParent();
        // Created with mode 0600 (as Files.createTempFile does on POSIX): the file holds the flags before it is the cache file.
        Path tmp = Files.createTempFile(dir, TEMP_PREFIX, TEMP_SUFFIX);
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer buf = ByteBuffer.allocate(header.length() * 4 + body.length);
                buf.put(header.getBytes(StandardCharsets.UTF_8)).put(body).flip();
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
                WriteHook hook = writeHook;
                if (hook != null) {
                    hook.beforeForce(path);
                }
                ch.force(true);
            }
            Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true); // the rename itself, on file systems that need it
        } catch (IOException | UnsupportedOperationException e) {
            // Some platforms cannot open a directory; the file's own force already happened.
        }
        if (swept.compareAndSet(false, true)) {
            sweep(dir);
        }
    }

    /**
     * Deletes the temporary files that writes which died before their rename left in the directory: one per such death
     * (a crash, a kill), which would otherwise add up for good. Only names of this class's temporary files (and of those
     * of releases before QA76 F4: the cache file's name, a dot, a number, {@value #TEMP_SUFFIX}), only regular files,
     * and only those older than {@link #STALE_TEMP_MILLIS} by the file system's own clock (the cache file just
     * written), so that a write of another instance in the same directory, in progress, is left alone. Best effort,
     * never throws.
     */
    private void sweep(Path dir) {
        try {
            long staleBefore = Files.getLastModifiedTime(path, LinkOption.NOFOLLOW_LINKS).toMillis() - STALE_TEMP_MILLIS;
            String oldPrefix = path.getFileName() + ".";
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
                for (Path entry : entries) {
                    String name = entry.getFileName().toString();
                    if (!isTemporary(name, TEMP_PREFIX) && !isTemporary(name, oldPrefix)) {
                        continue;
                    }
                    try {
                        BasicFileAttributes a = Files.readAttributes(entry, BasicFileAttributes.class,
                                LinkOption.NOFOLLOW_LINKS);
                        if (a.isRegularFile() && a.lastModifiedTime().toMillis() < staleBefore) {
                            Files.deleteIfExists(entry);
                        }
                    } catch (IOException e) {
                        // Gone already (another instance swept it), or not ours to delete: the next one.
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            // Not ours to list or delete, or gone already: a left temporary file costs disk, not correctness.
        }
    }

    /** @return whether a file name is a prefix, a number (as Files.createTempFile makes) and {@value #TEMP_SUFFIX} */
    static boolean isTemporary(String name, String prefix) {
        if (!name.startsWith(prefix) || !name.endsWith(TEMP_SUFFIX)
                || name.length() <= prefix.length() + TEMP_SUFFIX.length()) {
            return false;
        }
        String number = name.substring(prefix.length(), name.length() - TEMP_SUFFIX.length());
        return number.chars().allMatch(c -> c == '-' || (c >= '0' && c <= '9'));
    }

    /**
     * A failed write as text that is the same at every retry, for the SDK's freshness and health: a file system
     * error's message names the temporary file, whose name is random, so only its kind and reason are kept.
     */
    static String describe(Exception e) {
        if (e instanceof FileSystemException f) {
            return f.getClass().getSimpleName() + (f.getReason() == null ? "" : ": " + f.getReason());
        }
        return e.toString();
    }

    private Read rejected(String why) {
        return new Read(null, null, why, 0, Map.of());
    }

    /** HMAC-SHA256, keyed with the SDK's token, of the header lines before the MAC and the body. */
    private byte[] mac(String authenticatedHeader, byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(key);
            mac.update(authenticatedHeader.getBytes(StandardCharsets.UTF_8));
            return mac.doFinal(body);
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException("every JVM has HmacSHA256", e);
        }
    }

    /** The hex SHA-256 of bytes (the offline file's watcher tells content changes by it). */
    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }

    private static byte[] parseHex(String hex) {
        try {
            return HexFormat.of().parseHex(hex);
        } catch (IllegalArgumentException e) {
            return new byte[0];
        }
    }

    private static int indexOf(byte[] bytes, byte[] what) {
        outer:
        for (int i = 0; i + what.length <= bytes.length && i <= MAX_HEADER_BYTES; i++) {
            for (int j = 0; j < what.length; j++) {
                if (bytes[i + j] != what[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
