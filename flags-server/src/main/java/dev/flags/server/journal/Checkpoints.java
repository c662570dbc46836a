package dev.flags.server.journal;

import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import java.util.zip.CheckedOutputStream;

/**
 * Not thread-safe (the static helpers are). Checkpoint files: the materialized state at one sequence
 * number, so that opening a journal replays only the entries after it. Format versions 1 to 3,
 * big-endian:
 *
 * <pre>
 * header:  "FLAGSCKP" | uint16 formatVersion | uint16 reserved | int64 sequence
 *          | int64 epochSecond | int32 nano                     (32 bytes)
 * body:    int64 tokensVersion | int32 n | n x (str id, bytes json)
 *          | int32 m | m x environment
 *          | version 3 only: int32 d | d x str key                (environments deleted for good)
 * environment: str key | int64 version | uint8 archived | bytes metadata
 *          | int32 n | n x (str flagKey, bytes json)            (flags)
 *          | int32 n | n x (str flagKey, bytes json)            (archived flags)
 *          | int32 n | n x (str userId, int32 k, k x str role)  (role grants)
 *          | int32 n | n x str role                             (self-service roles)
 *          | versions 2 and 3: int32 n | n x (str userId, str role, int64 epochSecond, int32 nano)
 *                                                               (grant expiries)
 *          |   and int32 n | n x (str role, int64 seconds, int32 nano)  (longest grants of roles)
 *          |   and int32 n | n x schedule                           (schedules, by id)
 * schedule: str id | str flag | int64 atSecond | int32 atNano | bytes patch | str createdBy
 *          | int64 createdSecond | int32 createdNano | str comment | uint8 status (0 pending, 1 applied,
 *          2 failed, 3 cancelled) | for an ended one: int64 endedSecond | int32 endedNano | str endedBy
 *          | nstr reason | int64 flagVersion
 * nstr:    str, or int32 -1 for none
 * trailer: int32 crc32c(header + body) | "FLAGSEND"
 * str, bytes: int32 length | bytes (UTF-8 for str, canonical JSON for bytes)
 * </pre>
 *
 * <p>Version 2 differs only by the grant expiries, the longest grants of self-service roles and the
 * schedules; version 3 by the keys of the environments deleted for good. (Builds of 2026-12-03 wrote version 2 without
 * the schedules, the first of them without the longest grants too: such a file is read by the layout it fits whole.) A checkpoint is written in the oldest
 * version that holds its state, so a journal that does not use them stays readable by releases before them.
 * Every collection is written in key order, so the same state gives the same bytes. Files are
 * named {@code checkpoint-<20-digit sequence>.ckpt} and written atomically: a temporary file is
 * written and forced, renamed into place, and the directory is forced.
 */
final class Checkpoints {

    static final byte[] MAGIC = "FLAGSCKP".getBytes(StandardCharsets.US_ASCII);
    static final byte[] END = "FLAGSEND".getBytes(StandardCharsets.US_ASCII);
    /** The newest format this release writes and reads; it still reads {@link #OLDEST_FORMAT_VERSION}. */
    static final int FORMAT_VERSION = 3;
    /** The format of checkpoints without deleted environments. */
    static final int EXPIRIES_FORMAT_VERSION = 2;
    /** The format of checkpoints without grant expiries. */
    static final int OLDEST_FORMAT_VERSION = 1;
    static final int HEADER_SIZE = 32;
    static final String PREFIX = "checkpoint-";
    static final String SUFFIX = ".ckpt";

    private Checkpoints() {}

    /** A checkpoint file and the sequence number its name gives. */
    record Ref(Path file, long sequence) {}

    /** A loaded checkpoint. */
    record Loaded(long sequence, Instant timestamp, MutableState state, int formatVersion) {}

    static String fileName(long sequence) {
        return String.format(java.util.Locale.ROOT, "%s%020d%s", PREFIX, sequence, SUFFIX); // ASCII digits: see Segments
    }

    /** The sequence number a checkpoint's name gives, or -1 if it is not a checkpoint's name. */
    static long sequenceOf(Path file) {
        String name = file.getFileName().toString();
        return Segments.numberedName(name, PREFIX, SUFFIX)
                ? Segments.numberOf(name.substring(PREFIX.length(), PREFIX.length() + 20)) : -1;
    }

    /** Checkpoints in the directory, newest first. */
    static List<Ref> list(Path dir) throws IOException {
        List<Ref> refs = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.forEach(p -> {
                long seq = sequenceOf(p);
                if (seq >= 0 && Files.isRegularFile(p)) {
                    refs.add(new Ref(p, seq));
                }
            });
        }
        refs.sort((a, b) -> Long.compare(b.sequence(), a.sequence()));
        return refs;
    }

    /** Writes a checkpoint of the state atomically and returns its path. */
    static Path write(Path dir, ServerState state) throws IOException {
        Path target = dir.resolve(fileName(state.sequence()));
        Path temp = dir.resolve(fileName(state.sequence()) + Segments.TEMP_SUFFIX);
        Files.deleteIfExists(temp); // left by a crash, maybe by an older server with another mode: made anew
        try {
            writeFile(temp, state);
        } catch (IOException | RuntimeException e) {
            // A partial checkpoint on a full disk would hold the space the journal's own appends need.
            DurableFiles.removePartial(temp, e);
            throw e;
        }
        Segments.moveAtomically(temp, target);
        Segments.forceDirectory(dir);
        return target;
    }

    private static void writeFile(Path temp, ServerState state) throws IOException {
        try (FileChannel ch = FileAccess.openOwnerOnly(temp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))) {
            CRC32C crc = new CRC32C();
            OutputStream raw = Channels.newOutputStream(ch);
            DataOutputStream out = new DataOutputStream(
                    new CheckedOutputStream(new BufferedOutputStream(raw, 1 << 16), crc));
            writeState(out, state);
            out.flush();
            DataOutputStream trailer = new DataOutputStream(new BufferedOutputStream(raw));
            trailer.writeInt((int) crc.getValue());
            trailer.write(END);
            trailer.flush();
            ch.force(true);
        }
    }

    private static void writeState(DataOutputStream out, ServerState state) throws IOException {
        boolean deleted = !state.deletedEnvironments().isEmpty();
        boolean expiries = deleted || state.environments().values().stream()
                .anyMatch(e -> !e.grantExpiries().isEmpty() || !e.maxGrantDurations().isEmpty() || !e.schedules().isEmpty());
        out.write(MAGIC);
        out.writeShort(deleted ? FORMAT_VERSION : expiries ? EXPIRIES_FORMAT_VERSION : OLDEST_FORMAT_VERSION);
        out.writeShort(0);
        out.writeLong(state.sequence());
        out.writeLong(state.timestamp().getEpochSecond());
        out.writeInt(state.timestamp().getNano());
        out.writeLong(state.tokensVersion());
        writeJsonMap(out, state.tokens());
        out.writeInt(state.environments().size());
        for (EnvironmentState env : MutableState.sorted(state)) {
            writeString(out, env.key());
            out.writeLong(env.version());
            out.writeByte(env.archived() ? 1 : 0);
            writeBytes(out, env.metadata().bytes());
            writeJsonMap(out, env.flags());
            writeJsonMap(out, env.archivedFlags());
            out.writeInt(env.roleGrants().size());
            for (Map.Entry<String, Set<String>> grant
                    : new TreeMap<>(env.roleGrants()).entrySet()) {
                writeString(out, grant.getKey());
                writeStrings(out, grant.getValue());
            }
            writeStrings(out, env.selfServiceRoles());
            if (expiries) {
                out.writeInt(env.grantExpiries().size());
                for (Map.Entry<Grant, Instant> expiry : new TreeMap<>(env.grantExpiries()).entrySet()) {
                    writeString(out, expiry.getKey().userId());
                    writeString(out, expiry.getKey().role());
                    out.writeLong(expiry.getValue().getEpochSecond());
                    out.writeInt(expiry.getValue().getNano());
                }
                out.writeInt(env.maxGrantDurations().size());
                for (Map.Entry<String, Duration> max : new TreeMap<>(env.maxGrantDurations()).entrySet()) {
                    writeString(out, max.getKey());
                    out.writeLong(max.getValue().getSeconds());
                    out.writeInt(max.getValue().getNano());
                }
                out.writeInt(env.schedules().size());
                for (Schedule schedule : new TreeMap<>(env.schedules()).values()) {
                    writeSchedule(out, schedule);
                }
            }
        }
        if (deleted) {
            writeStrings(out, state.deletedEnvironments());
        }
    }

    private static void writeSchedule(DataOutputStream out, Schedule s) throws IOException {
        writeString(out, s.id());
        writeString(out, s.flag());
        writeInstant(out, s.at());
        writeBytes(out, s.patch().bytes());
        writeString(out, s.createdBy());
        writeInstant(out, s.createdAt());
        writeString(out, s.comment());
        out.writeByte(s.status().ordinal());
        if (!s.pending()) {
            writeInstant(out, s.endedAt());
            writeString(out, s.endedBy());
            if (s.reason() == null) {
                out.writeInt(-1);
            } else {
                writeString(out, s.reason());
            }
            out.writeLong(s.flagVersion());
        }
    }

    private static void writeInstant(DataOutputStream out, Instant at) throws IOException {
        out.writeLong(at.getEpochSecond());
        out.writeInt(at.getNano());
    }

    private static Schedule readSchedule(ByteBuffer b) {
        String id = string(b);
        String flag = string(b);
        Instant at = instant(b);
        CanonicalJson patch = json(b);
        String createdBy = string(b);
        Instant createdAt = instant(b);
        String comment = string(b);
        int status = b.get() & 0xFF;
        if (status >= Schedule.Status.values().length) {
            throw new IllegalArgumentException("schedule " + id + " has an unknown status " + status);
        }
        Schedule s = new Schedule(id, flag, at, patch, createdBy, createdAt, comment, Schedule.Status.PENDING, null, null,
                null, 0);
        if (status == Schedule.Status.PENDING.ordinal()) {
            return s;
        }
        Instant endedAt = instant(b);
        String endedBy = string(b);
        String reason = b.getInt(b.position()) == -1 ? null : string(b);
        if (reason == null) {
            b.getInt();
        }
        return s.ended(Schedule.Status.values()[status], endedAt, endedBy, reason, b.getLong());
    }

    private static Instant instant(ByteBuffer b) {
        return Instant.ofEpochSecond(b.getLong(), b.getInt());
    }

    private static void writeJsonMap(DataOutputStream out, Map<String, CanonicalJson> map)
            throws IOException {
        out.writeInt(map.size());
        for (Map.Entry<String, CanonicalJson> e : new TreeMap<>(map).entrySet()) {
            writeString(out, e.getKey());
            writeBytes(out, e.getValue().bytes());
        }
    }

    private static void writeStrings(DataOutputStream out, Set<String> values)
            throws IOException {
        out.writeInt(values.size());
        for (String v : new TreeSet<>(values)) {
            writeString(out, v);
        }
    }

    private static void writeString(DataOutputStream out, String s) throws IOException {
        writeBytes(out, s.getBytes(StandardCharsets.UTF_8));
    }

    private static void writeBytes(DataOutputStream out, byte[] b) throws IOException {
        out.writeInt(b.length);
        out.write(b);
    }

    /**
     * Reads only a checkpoint's header.
     *
     * @return the sequence number and timestamp (state empty)
     * @throws JournalCorruptedException if the header is damaged or of another version
     */
    static Loaded readHeader(Path file) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(HEADER_SIZE);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (b.hasRemaining()) {
                if (ch.read(b) < 0) {
                    throw new JournalCorruptedException(file, 0, "checkpoint header is incomplete");
                }
            }
        }
        b.flip();
        return header(file, b, null);
    }

    private static Loaded header(Path file, ByteBuffer b, MutableState state) {
        byte[] magic = new byte[MAGIC.length];
        b.get(magic);
        if (!Arrays.equals(magic, MAGIC)) {
            throw new JournalCorruptedException(file, 0, "not a checkpoint: magic is not \"FLAGSCKP\"");
        }
        int version = b.getShort() & 0xFFFF;
        if (version < OLDEST_FORMAT_VERSION) {
            throw new JournalCorruptedException(file, 8, "checkpoint format version " + version
                    + " does not exist (this release reads versions " + OLDEST_FORMAT_VERSION + " to " + FORMAT_VERSION + ")");
        }
        if (version > FORMAT_VERSION) {
            throw JournalCorruptedException.newerFormat(file, 8, "unsupported checkpoint format version "
                    + version + " (this release reads versions " + OLDEST_FORMAT_VERSION + " to " + FORMAT_VERSION + ")", null);
        }
        b.getShort();
        long sequence = b.getLong();
        Instant timestamp = Instant.ofEpochSecond(b.getLong(), b.getInt());
        if (sequence != sequenceOf(file) && sequenceOf(file) >= 0) {
            throw new JournalCorruptedException(file, 12, "header says sequence " + sequence
                    + " but the file name says " + sequenceOf(file));
        }
        return new Loaded(sequence, timestamp, state, version);
    }

    /**
     * Checks a checkpoint's header, end marker and checksum without reading its state: a few reads of
     * 64 KiB and no copy of the file in memory.
     *
     * @throws JournalCorruptedException if it is damaged or of another format version
     */
    static void checkSum(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            long bodyEnd = size - 4 - END.length;
            if (bodyEnd < HEADER_SIZE) {
                throw new JournalCorruptedException(file, size, "checkpoint is truncated (" + size + " bytes)");
            }
            ByteBuffer trailer = ByteBuffer.allocate(4 + END.length);
            readFully(ch, trailer, bodyEnd, file);
            if (!Arrays.equals(trailer.array(), 4, trailer.capacity(), END, 0, END.length)) {
                throw new JournalCorruptedException(file, bodyEnd + 4, "checkpoint is truncated: no end marker");
            }
            ByteBuffer head = ByteBuffer.allocate(HEADER_SIZE);
            readFully(ch, head, 0, file);
            header(file, head.flip(), null);
            CRC32C crc = new CRC32C();
            ByteBuffer chunk = ByteBuffer.allocate(1 << 16);
            for (long at = 0; at < bodyEnd; ) {
                chunk.clear().limit((int) Math.min(chunk.capacity(), bodyEnd - at));
                readFully(ch, chunk, at, file);
                crc.update(chunk.flip());
                at += chunk.limit();
            }
            int stored = trailer.getInt(0);
            if (stored != (int) crc.getValue()) {
                throw new JournalCorruptedException(file, bodyEnd, String.format(
                        "checkpoint checksum mismatch (stored %08x, computed %08x)", stored, (int) crc.getValue()));
            }
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer into, long at, Path file) throws IOException {
        while (into.hasRemaining()) {
            if (ch.read(into, at + into.position()) < 0) {
                throw new JournalCorruptedException(file, at + into.position(), "checkpoint ends early");
            }
        }
    }

    /**
     * Reads and checks a whole checkpoint.
     *
     * @throws JournalCorruptedException if it is damaged or of another format version
     */
    static Loaded read(Path file) throws IOException {
        // Mapped, not read into the heap: the state built from it takes about as much heap as the file, and a server
        // that holds its state must be able to start from it with the same heap (read whole, a start needed twice).
        ByteBuffer all;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size > Integer.MAX_VALUE) {
                throw new JournalCorruptedException(file, Integer.MAX_VALUE, "checkpoint is larger than 2 GiB ("
                        + size + " bytes), more than a checkpoint may be");
            }
            all = ch.map(FileChannel.MapMode.READ_ONLY, 0, size);
        }
        int length = all.capacity();
        int bodyEnd = length - 4 - END.length;
        if (bodyEnd < HEADER_SIZE) {
            throw new JournalCorruptedException(file, length, "checkpoint is truncated ("
                    + length + " bytes)");
        }
        if (!all.slice(bodyEnd + 4, END.length).equals(ByteBuffer.wrap(END))) {
            throw new JournalCorruptedException(file, bodyEnd + 4,
                    "checkpoint is truncated: no end marker");
        }
        CRC32C crc = new CRC32C();
        crc.update(all.slice(0, bodyEnd));
        int stored = all.getInt(bodyEnd);
        ByteBuffer b = all.slice(0, bodyEnd);
        if (stored != (int) crc.getValue()) {
            // A damaged header explains itself better than a checksum does.
            header(file, b.duplicate(), null);
            throw new JournalCorruptedException(file, bodyEnd, String.format(
                    "checkpoint checksum mismatch (stored %08x, computed %08x)", stored,
                    (int) crc.getValue()));
        }
        try {
            return body(file, b.duplicate(), V2_LAYOUTS);
        } catch (JournalCorruptedException e) {
            if (e.newerFormat() || header(file, b.duplicate(), null).formatVersion() != EXPIRIES_FORMAT_VERSION) {
                throw e;
            }
            // Version 2's layout grew twice without a new version number (QA89 F3): builds of 2026-12-03 between the
            // grant expiries and the scheduled changes wrote it without the schedules, and the first of them without the
            // longest grants too. Such a file is sound (its checksum holds) and read by the layout it fits whole; a file
            // that fits none is reported as the current layout found it.
            for (int layout = V2_LAYOUTS - 1; layout >= 1; layout--) {
                try {
                    return body(file, b.duplicate(), layout);
                } catch (JournalCorruptedException earlier) {
                    // not of that layout either
                }
            }
            throw e;
        }
    }

    /** The parts of an environment that version 2 holds after its self-service roles: expiries, longest grants, schedules. */
    private static final int V2_LAYOUTS = 3;

    /**
     * Reads a checkpoint's header and body, whose checksum held.
     *
     * @param layout how many of the parts after the self-service roles an environment of version 2 or 3 holds: 3 (grant
     *     expiries, longest grants, schedules: what this release writes); 2 or 1 for the earlier layouts of version 2
     */
    private static Loaded body(Path file, ByteBuffer b, int layout) {
        MutableState state = new MutableState();
        Loaded head = header(file, b, state);
        try {
            state.restore(head.sequence(), head.timestamp(), b.getLong());
            int tokens = count(b);
            for (int i = 0; i < tokens; i++) {
                state.putToken(string(b), json(b));
            }
            int envs = count(b);
            for (int i = 0; i < envs; i++) {
                MutableState.Env env = state.addEnvironment(string(b), CanonicalJson.emptyObject());
                env.version = b.getLong();
                env.archived = b.get() != 0;
                env.metadata = json(b);
                readJsonMap(b, env.flags);
                readJsonMap(b, env.archivedFlags);
                int users = count(b);
                for (int u = 0; u < users; u++) {
                    String user = string(b);
                    int roles = count(b);
                    Set<String> set = new HashSet<>();
                    for (int r = 0; r < roles; r++) {
                        set.add(string(b));
                    }
                    env.grants.put(user, set);
                }
                int selfService = count(b);
                for (int r = 0; r < selfService; r++) {
                    env.selfServiceRoles.add(string(b));
                }
                if (head.formatVersion() >= 2) {
                    int expiring = count(b);
                    for (int g = 0; g < expiring; g++) {
                        Grant grant = new Grant(string(b), string(b));
                        if (!env.grants.getOrDefault(grant.userId(), Set.of()).contains(grant.role())) {
                            throw new IllegalArgumentException("an expiry for a grant it does not hold: "
                                    + grant.role() + " of " + grant.userId());
                        }
                        env.grantExpiries.put(grant, Instant.ofEpochSecond(b.getLong(), b.getInt()));
                    }
                    int limited = layout >= 2 ? count(b) : 0;
                    for (int r = 0; r < limited; r++) {
                        String role = string(b);
                        if (!env.selfServiceRoles.contains(role)) {
                            throw new IllegalArgumentException("a longest grant for a role that is not self-service: " + role);
                        }
                        env.maxGrantDurations.put(role, Duration.ofSeconds(b.getLong(), b.getInt()));
                    }
                    int schedules = layout >= 3 ? count(b) : 0;
                    for (int k = 0; k < schedules; k++) {
                        Schedule schedule = readSchedule(b);
                        env.schedules.put(schedule.id(), schedule);
                    }
                }
            }
            if (head.formatVersion() >= 3) {
                int deleted = count(b);
                for (int d = 0; d < deleted; d++) {
                    String key = string(b);
                    if (state.hasEnvironment(key)) {
                        throw new IllegalArgumentException("environment " + key + " is both held and deleted");
                    }
                    state.addDeleted(key);
                }
            }
        } catch (BufferUnderflowException | IllegalArgumentException | java.time.DateTimeException | ArithmeticException e) {
            throw new JournalCorruptedException(file, b.position(),
                    "checkpoint body is malformed: " + e);
        }
        if (b.hasRemaining()) {
            throw new JournalCorruptedException(file, b.position(), "checkpoint has "
                    + b.remaining() + " unexpected bytes after its body");
        }
        return head;
    }

    private static void readJsonMap(ByteBuffer b, Map<String, CanonicalJson> into) {
        int n = count(b);
        for (int i = 0; i < n; i++) {
            into.put(string(b), json(b));
        }
    }

    private static int count(ByteBuffer b) {
        int n = b.getInt();
        if (n < 0 || n > b.remaining()) {
            throw new IllegalArgumentException("count " + n + " is out of range");
        }
        return n;
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[count(b)];
        b.get(out);
        return out;
    }

    private static String string(ByteBuffer b) {
        return new String(bytes(b), StandardCharsets.UTF_8);
    }

    private static CanonicalJson json(ByteBuffer b) {
        return CanonicalJson.trusted(bytes(b));
    }
}
