package dev.flags.server.usage;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flags.server.journal.DurableFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe (its methods are synchronized). {@code <data dir>/usage.json}: the flag usage a server
 * keeps across restarts. Not part of the journal (usage is advisory, and a durable write per report would
 * cost more than it is worth); written whole and atomically ({@link DurableFiles}), so a crash leaves the
 * last file written, and readable by its owner only (mode 600): it names the applications and what they ask for.
 *
 * <p>A file the server cannot use (not JSON, not a usage file, a newer version, an i/o error) does not
 * stop it: one WARN names the file and why, the file is moved aside to {@code
 * usage.json.unreadable-<time>} (never deleted: it may be worth a look) and the server starts with no
 * usage. If it cannot even be moved aside, this server does not write usage.json at all, so as not to
 * overwrite it.
 *
 * <pre>{@code
 * {"format": "flags-server usage", "version": 1, "environments": {"production": {"since": "2026-12-01T10:00:00Z",
 *   "flags": {"billing-v2": {"lastEvaluatedAt": "2026-12-03T09:14:00Z", "lastServedTrueAt": "2026-12-03T09:14:00Z",
 *     "lastServedFalseAt": null, "applications": [{"name": "checkout", "sdk": "flags-java/0.1.0",
 *     "lastReportAt": "2026-12-03T09:14:00Z"}]}},
 *   "unknownFlags": {"biling-v2": {"lastAskedAt": "2026-12-03T09:14:00Z", "applications": [{"name": "checkout",
 *     "sdk": "flags-java/0.1.0", "lastReportAt": "2026-12-03T09:14:00Z"}]}}}}}
 * }</pre>
 *
 * <p>Fields a reader does not know are ignored, and {@code unknownFlags} may be missing (a file of a server
 * from before it): a field added this way keeps the version, and a server of either side reads the other's
 * file (an older one drops what it does not know at its next write). The version goes up only for a
 * change an older reader would get wrong.
 */
public final class UsageFile {

    /** The file's name in the data directory. */
    public static final String NAME = "usage.json";
    /** What a usage file says it is, so that another JSON file of that name is not taken for one. */
    static final String FORMAT = "flags-server usage";
    static final int VERSION = 1;

    private static final Logger LOG = LoggerFactory.getLogger(UsageFile.class);
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final DateTimeFormatter ASIDE = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

    private final Path file;
    private final Clock clock;
    private final Mover mover;
    /** Guarded by this: why nothing may be written (an unreadable file that could not be moved aside), or null. */
    private String blocked;

    /**
     * @param dataDir the server's data directory
     * @param clock the server's clock: the time in the name of a file moved aside
     */
    public UsageFile(Path dataDir, Clock clock) {
        this(dataDir, clock, (from, to) -> Files.move(from, to));
    }

    /**
     * @param dataDir the server's data directory
     * @param clock the server's clock: the time in the name of a file moved aside
     * @param mover how an unusable file is moved aside: {@link Files#move} but in a test that makes it fail (no
     *              file system refuses a rename to root, which CI runs as)
     */
    public UsageFile(Path dataDir, Clock clock, Mover mover) {
        this.file = dataDir.resolve(NAME);
        this.clock = Objects.requireNonNull(clock, "clock");
        this.mover = Objects.requireNonNull(mover, "mover");
    }

    /** Moves a file to a new name in the same directory; {@link Files#move} but in tests. */
    @FunctionalInterface
    public interface Mover {
        /**
         * @param from the file
         * @param to its new name, which does not exist
         * @throws IOException if it cannot be moved (the file stays where it is)
         */
        void move(Path from, Path to) throws IOException;
    }

    /** @return the file's path */
    public Path path() {
        return file;
    }

    /** Why a file cannot be used; the message says so in words. */
    private static final class UnreadableException extends Exception {
        private static final long serialVersionUID = 1L;

        UnreadableException(String message) {
            super(message);
        }
    }

    /**
     * Reads the file. Never fails: no file is no usage, and an unusable one is moved aside (see the class).
     *
     * @return the usage by environment key; empty if there is none to read
     */
    public synchronized Map<String, EnvironmentUsage> read() {
        String why;
        try {
            return parse(MAPPER.readTree(Files.readAllBytes(file)));
        } catch (NoSuchFileException e) {
            return Map.of();
        } catch (JsonProcessingException e) {
            why = "it is not JSON (" + e.getOriginalMessage() + ")";
        } catch (IOException e) {
            why = "it cannot be read (" + e + ")";
        } catch (UnreadableException e) {
            why = e.getMessage();
        }
        Path aside = asideName();
        try {
            mover.move(file, aside);
            LOG.warn("usage: {} cannot be used: {}; moved aside to {}, starting with no usage", file.toAbsolutePath(), why,
                    aside.getFileName());
        } catch (IOException e) {
            blocked = "it could not be moved aside (" + e + ")";
            LOG.warn("usage: {} cannot be used: {}; it could not be moved aside ({}) either, so this server keeps usage in memory"
                    + " only and does not write the file: move it away and restart", file.toAbsolutePath(), why, e.toString());
        }
        return Map.of();
    }

    /** {@code usage.json.unreadable-20261201T100000Z}, with {@code -2}, {@code -3}... if one of that second exists. */
    private Path asideName() {
        String base = NAME + ".unreadable-" + ASIDE.format(clock.instant());
        Path aside = file.resolveSibling(base);
        for (int n = 2; Files.exists(aside); n++) {
            aside = file.resolveSibling(base + "-" + n);
        }
        return aside;
    }

    /**
     * Replaces the file with this usage, atomically and durably, mode 600 ({@link DurableFiles}). Written as it
     * is produced: neither a tree of the whole document nor its bytes are held in memory.
     *
     * @param usage the usage by environment key
     * @return false if nothing was written because an unusable file could not be moved aside at start
     * @throws IOException if the file cannot be written (the last one written stays)
     */
    public synchronized boolean write(Map<String, EnvironmentUsage> usage) throws IOException {
        if (blocked != null) {
            return false;
        }
        DurableFiles.replace(file, out -> {
            try (JsonGenerator g = MAPPER.getFactory().createGenerator(out)) {
                g.writeStartObject();
                g.writeStringField("format", FORMAT);
                g.writeNumberField("version", VERSION);
                g.writeObjectFieldStart("environments");
                for (Map.Entry<String, EnvironmentUsage> env : new TreeMap<>(usage).entrySet()) {
                    g.writeObjectFieldStart(env.getKey());
                    g.writeStringField("since", env.getValue().since().toString());
                    g.writeObjectFieldStart("flags");
                    for (Map.Entry<String, FlagUse> flag : new TreeMap<>(env.getValue().flags()).entrySet()) {
                        FlagUse use = flag.getValue();
                        g.writeObjectFieldStart(flag.getKey());
                        writeInstant(g, "lastEvaluatedAt", use.lastEvaluatedAt());
                        writeInstant(g, "lastServedTrueAt", use.lastServedTrueAt());
                        writeInstant(g, "lastServedFalseAt", use.lastServedFalseAt());
                        writeApplications(g, use.applications());
                        g.writeEndObject();
                    }
                    g.writeEndObject();
                    g.writeObjectFieldStart("unknownFlags");
                    for (Map.Entry<String, UnknownFlagUse> unknown : new TreeMap<>(env.getValue().unknownFlags()).entrySet()) {
                        g.writeObjectFieldStart(unknown.getKey());
                        writeInstant(g, "lastAskedAt", unknown.getValue().lastAskedAt());
                        writeApplications(g, unknown.getValue().applications());
                        g.writeEndObject();
                    }
                    g.writeEndObject();
                    g.writeEndObject();
                }
                g.writeEndObject();
                g.writeEndObject();
            }
        });
        return true;
    }

    private static void writeApplications(JsonGenerator g, List<ApplicationUse> apps) throws IOException {
        g.writeArrayFieldStart("applications");
        for (ApplicationUse a : apps) {
            g.writeStartObject();
            g.writeStringField("name", a.name());
            g.writeStringField("sdk", a.sdk());
            writeInstant(g, "lastReportAt", a.lastReportAt());
            g.writeEndObject();
        }
        g.writeEndArray();
    }

    private static void writeInstant(JsonGenerator g, String field, Instant at) throws IOException {
        if (at == null) {
            g.writeNullField(field);
        } else {
            g.writeStringField(field, at.toString());
        }
    }

    // ---------------------------------------------------------------- reading, every field checked

    private static Map<String, EnvironmentUsage> parse(JsonNode root) throws UnreadableException {
        if (root == null || !root.isObject() || !FORMAT.equals(root.path("format").asText(null))) {
            throw new UnreadableException("it is not a usage file of this server (it has no \"format\": \"" + FORMAT + "\")");
        }
        JsonNode version = root.get("version");
        if (version == null || !version.isInt() || version.intValue() < 1) {
            throw new UnreadableException("its \"version\" is not a version number");
        }
        if (version.intValue() > VERSION) {
            throw new UnreadableException("it is of version " + version.intValue() + ", newer than this server reads (" + VERSION + ")");
        }
        JsonNode envs = object(root, "environments", "environments");
        Map<String, EnvironmentUsage> out = new HashMap<>();
        for (Map.Entry<String, JsonNode> env : envs.properties()) {
            String at = "environments." + env.getKey();
            JsonNode e = env.getValue();
            if (!e.isObject()) {
                throw new UnreadableException(at + " is not an object");
            }
            Instant since = instant(e, "since", at, false);
            Map<String, FlagUse> flags = new HashMap<>();
            for (Map.Entry<String, JsonNode> flag : object(e, "flags", at + ".flags").properties()) {
                flags.put(flag.getKey(), flagUse(flag.getValue(), at + ".flags." + flag.getKey()));
            }
            Map<String, UnknownFlagUse> unknown = new HashMap<>();
            JsonNode unknownFlags = e.get("unknownFlags");
            if (unknownFlags != null && !unknownFlags.isNull()) { // missing in a file from before unknown keys were kept
                for (Map.Entry<String, JsonNode> u : object(e, "unknownFlags", at + ".unknownFlags").properties()) {
                    unknown.put(u.getKey(), unknownFlagUse(u.getValue(), at + ".unknownFlags." + u.getKey()));
                }
            }
            out.put(env.getKey(), new EnvironmentUsage(since, flags, unknown));
        }
        return out;
    }

    private static FlagUse flagUse(JsonNode f, String at) throws UnreadableException {
        if (!f.isObject()) {
            throw new UnreadableException(at + " is not an object");
        }
        return new FlagUse(instant(f, "lastEvaluatedAt", at, false), instant(f, "lastServedTrueAt", at, true),
                instant(f, "lastServedFalseAt", at, true), applications(f, at));
    }

    private static UnknownFlagUse unknownFlagUse(JsonNode u, String at) throws UnreadableException {
        if (!u.isObject()) {
            throw new UnreadableException(at + " is not an object");
        }
        return new UnknownFlagUse(instant(u, "lastAskedAt", at, false), applications(u, at));
    }

    private static List<ApplicationUse> applications(JsonNode f, String at) throws UnreadableException {
        List<ApplicationUse> apps = new ArrayList<>();
        JsonNode list = f.get("applications");
        if (list == null || !list.isArray()) {
            throw new UnreadableException(at + ".applications is not a list");
        }
        for (int i = 0; i < list.size(); i++) {
            JsonNode a = list.get(i);
            String where = at + ".applications[" + i + "]";
            if (!a.isObject() || !a.path("name").isTextual() || !a.path("sdk").isTextual()) {
                throw new UnreadableException(where + " is not an application with a name and an sdk");
            }
            apps.add(new ApplicationUse(a.get("name").asText(), a.get("sdk").asText(), instant(a, "lastReportAt", where, false)));
        }
        return apps;
    }

    private static JsonNode object(JsonNode parent, String field, String at) throws UnreadableException {
        JsonNode n = parent.get(field);
        if (n == null || !n.isObject()) {
            throw new UnreadableException(at + " is not an object");
        }
        return n;
    }

    private static Instant instant(JsonNode parent, String field, String at, boolean nullable) throws UnreadableException {
        JsonNode n = parent.get(field);
        if (nullable && (n == null || n.isNull())) {
            return null;
        }
        try {
            if (n != null && n.isTextual()) {
                return Instant.parse(n.asText());
            }
        } catch (DateTimeParseException e) {
            // said below
        }
        throw new UnreadableException(at + "." + field + " is not an instant");
    }
}
