package dev.flags.server.usage;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import dev.flags.server.journal.DurableFiles;
import dev.flags.server.journal.FileAccess;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
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
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe (its methods are synchronized). {@code <data dir>/usage.json}: the flag usage a server
 * keeps across restarts. Not part of the journal (usage is advisory, and a durable write per report would
 * cost more than it is worth); written whole and atomically ({@link DurableFiles}), so a crash leaves the
 * last file written, and readable by its owner only (mode 600): it names the applications and what they ask for.
 *
 * <p>A file the server cannot use (not JSON, not a usage file, a newer version, an i/o error) does not stop it:
 * one WARN names the file and why, the file is moved aside to {@code usage.json.unreadable-<time>} (never deleted:
 * it may be worth a look) and the server starts with no usage. If it cannot even be moved aside, this server does
 * not write usage.json at all, so as not to overwrite it. Nor does it when the file is another user's, which this
 * process may not read (left by a run as root, say): the file is not damaged, a chown mends it, so it is left as it
 * is, with a WARN that says how.
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
    private static final JsonFactory JSON = new JsonFactory();
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
     * Reads the whole file: every environment and flag in it. For tests; a server reads with {@link #read(Function)}.
     *
     * @return the usage by environment key; empty if there is none to read
     */
    synchronized Map<String, EnvironmentUsage> read() {
        return readKept(env -> flag -> true);
    }

    /**
     * Reads what the server keeps of the file: the usage of the environments it serves and of their current flags,
     * which is what its first write would keep ({@link UsageStore#retain}). Never fails: no file is no usage, and an
     * unusable one is moved aside (see the class). It is read as a stream, twice (its header, then its
     * environments), so that memory holds the usage kept and not the file's text nor a tree of it; equal names, SDKs
     * and times are one object each.
     *
     * <p>The file's size is not limited: it grows with the environments served (about 3 MB for each at 10,000 flags
     * with long keys), and what is kept of it is bounded by what the server serves, not by the file. Of an
     * environment's unknown keys, the first {@link UsageStore#MAX_UNKNOWN_FLAGS_PER_ENVIRONMENT} are read (this
     * server writes no more); of a key's applications, the first {@link UsageStore#MAX_APPLICATIONS} (the most recent).
     *
     * @param currentFlags the keys of an environment's current flags, or null if it is archived or gone (its usage
     *     is then skipped): what {@link UsageSaver} is given
     * @return the usage by environment key; empty if there is none to read
     */
    public synchronized Map<String, EnvironmentUsage> read(Function<String, Set<String>> currentFlags) {
        Objects.requireNonNull(currentFlags, "currentFlags");
        return readKept(env -> {
            Set<String> flags = currentFlags.apply(env);
            return flags == null ? null : flags::contains;
        });
    }

    /** @param kept for an environment's key, which of its flags to keep, or null to skip the environment */
    private Map<String, EnvironmentUsage> readKept(Function<String, Predicate<String>> kept) {
        String why;
        try {
            try (JsonParser header = JSON.createParser(Files.newInputStream(file))) {
                checkHeader(header);
            }
            try (JsonParser body = JSON.createParser(Files.newInputStream(file))) {
                return new BodyReader(body, kept).read();
            }
        } catch (NoSuchFileException e) {
            return Map.of();
        } catch (AccessDeniedException e) {
            // Not damaged: a file of another user (left by a run as root, say). Moved aside, its usage would be lost
            // for a mistake a chown mends; written over, too. So it is left, and this run keeps usage in memory.
            blocked = "it cannot be read: permission denied";
            String owner = FileAccess.ownerOf(file);
            String mode = FileAccess.modeOf(file);
            String user = System.getProperty("user.name", "?");
            LOG.warn("usage: {} cannot be read: permission denied{}; left as it is, and not written: this server keeps usage"
                    + " in memory only until it is restarted with the file readable", file.toAbsolutePath(),
                    owner == null ? "" : " (it belongs to " + owner + (mode == null ? "" : " (" + mode + ")")
                            + ", and this process runs as " + user + (owner.equals(user) ? ": chmod u+rw " + file.toAbsolutePath()
                            : ": give it to " + user + " with chown " + user + " " + file.toAbsolutePath()) + ")");
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
            try (JsonGenerator g = JSON.createGenerator(out)) {
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

    /**
     * Reads the root's {@code format} and {@code version} wherever they are in it, skipping the rest (which is
     * parsed, so a file that is not JSON is found here, but not kept): whether the file is one of this server's
     * is known before its environments are read by the rules of this version.
     */
    private static void checkHeader(JsonParser p) throws IOException, UnreadableException {
        String format = null;
        JsonToken versionToken = null;
        int version = 0;
        if (p.nextToken() == JsonToken.START_OBJECT) {
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                if (field.equals("format")) {
                    format = value == JsonToken.VALUE_STRING ? p.getText() : null;
                } else if (field.equals("version")) {
                    versionToken = value == JsonToken.VALUE_NUMBER_INT && p.getNumberType() == JsonParser.NumberType.INT ? value : null;
                    version = versionToken == null ? 0 : p.getIntValue();
                }
                p.skipChildren();
            }
        }
        if (!FORMAT.equals(format)) {
            throw new UnreadableException("it is not a usage file of this server (it has no \"format\": \"" + FORMAT + "\")");
        }
        if (versionToken == null || version < 1) {
            throw new UnreadableException("its \"version\" is not a version number");
        }
        if (version > VERSION) {
            throw new UnreadableException("it is of version " + version + ", newer than this server reads (" + VERSION + ")");
        }
    }

    /**
     * Not thread-safe (one per read). Reads a usage file's environments token by token. Each name, SDK and
     * time is kept once however often the file repeats it (a file of 400,000 application entries has a few
     * applications and times): the store keeps what it is given.
     */
    private static final class BodyReader {
        private final JsonParser p;
        private final Function<String, Predicate<String>> kept;
        private final Map<String, String> strings = new HashMap<>();
        private final Map<String, Instant> instants = new HashMap<>();

        BodyReader(JsonParser p, Function<String, Predicate<String>> kept) {
            this.p = p;
            this.kept = kept;
        }

        /** The root's environments; the header was checked. */
        Map<String, EnvironmentUsage> read() throws IOException, UnreadableException {
            Map<String, EnvironmentUsage> environments = null;
            p.nextToken(); // the root's START_OBJECT
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                p.nextToken();
                if (field.equals("environments")) {
                    environments = environments();
                } else {
                    p.skipChildren();
                }
            }
            if (environments == null) {
                throw new UnreadableException("environments is not an object");
            }
            return environments;
        }

        private Map<String, EnvironmentUsage> environments() throws IOException, UnreadableException {
            expectObject("environments");
            Map<String, EnvironmentUsage> out = new HashMap<>();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                p.nextToken();
                Predicate<String> flagsKept = kept.apply(key);
                if (flagsKept == null) {
                    p.skipChildren(); // parsed, not kept: the first write would drop it
                } else {
                    out.put(key, environment("environments." + key, flagsKept));
                }
            }
            return out;
        }

        private EnvironmentUsage environment(String at, Predicate<String> flagsKept) throws IOException, UnreadableException {
            expectObject(at);
            Instant since = null;
            Map<String, FlagUse> flags = null;
            Map<String, UnknownFlagUse> unknown = new HashMap<>(); // missing in a file from before unknown keys were kept
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                switch (field) {
                    case "since" -> since = instant(at, field, false);
                    case "flags" -> {
                        expectObject(at + ".flags");
                        flags = new HashMap<>();
                        while (p.nextToken() == JsonToken.FIELD_NAME) {
                            String flag = p.currentName();
                            p.nextToken();
                            if (flagsKept.test(flag)) {
                                flags.put(flag, flagUse(at + ".flags." + flag));
                            } else {
                                p.skipChildren();
                            }
                        }
                    }
                    case "unknownFlags" -> {
                        unknown.clear();
                        if (value != JsonToken.VALUE_NULL) {
                            expectObject(at + ".unknownFlags");
                            while (p.nextToken() == JsonToken.FIELD_NAME) {
                                String key = p.currentName();
                                p.nextToken();
                                if (unknown.size() < UsageStore.MAX_UNKNOWN_FLAGS_PER_ENVIRONMENT) {
                                    unknown.put(key, unknownFlagUse(at + ".unknownFlags." + key));
                                } else {
                                    p.skipChildren();
                                }
                            }
                        }
                    }
                    default -> p.skipChildren();
                }
            }
            if (since == null) {
                throw new UnreadableException(at + ".since is not an instant");
            }
            if (flags == null) {
                throw new UnreadableException(at + ".flags is not an object");
            }
            return new EnvironmentUsage(since, flags, unknown);
        }

        private FlagUse flagUse(String at) throws IOException, UnreadableException {
            expectObject(at);
            Instant evaluated = null;
            Instant servedTrue = null;
            Instant servedFalse = null;
            List<ApplicationUse> apps = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                p.nextToken();
                switch (field) {
                    case "lastEvaluatedAt" -> evaluated = instant(at, field, false);
                    case "lastServedTrueAt" -> servedTrue = instant(at, field, true);
                    case "lastServedFalseAt" -> servedFalse = instant(at, field, true);
                    case "applications" -> apps = applications(at);
                    default -> p.skipChildren();
                }
            }
            if (evaluated == null) {
                throw new UnreadableException(at + ".lastEvaluatedAt is not an instant");
            }
            if (apps == null) {
                throw new UnreadableException(at + ".applications is not a list");
            }
            return new FlagUse(evaluated, servedTrue, servedFalse, apps);
        }

        private UnknownFlagUse unknownFlagUse(String at) throws IOException, UnreadableException {
            expectObject(at);
            Instant asked = null;
            List<ApplicationUse> apps = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                p.nextToken();
                switch (field) {
                    case "lastAskedAt" -> asked = instant(at, field, false);
                    case "applications" -> apps = applications(at);
                    default -> p.skipChildren();
                }
            }
            if (asked == null) {
                throw new UnreadableException(at + ".lastAskedAt is not an instant");
            }
            if (apps == null) {
                throw new UnreadableException(at + ".applications is not a list");
            }
            return new UnknownFlagUse(asked, apps);
        }

        /** The list at the current token: every entry checked, the first {@link UsageStore#MAX_APPLICATIONS} kept. */
        private List<ApplicationUse> applications(String at) throws IOException, UnreadableException {
            if (p.currentToken() != JsonToken.START_ARRAY) {
                throw new UnreadableException(at + ".applications is not a list");
            }
            List<ApplicationUse> apps = new ArrayList<>();
            for (int i = 0; p.nextToken() != JsonToken.END_ARRAY; i++) {
                String where = at + ".applications[" + i + "]";
                String name = null;
                String sdk = null;
                String lastReportAt = null;
                boolean object = p.currentToken() == JsonToken.START_OBJECT;
                if (object) {
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String field = p.currentName();
                        JsonToken value = p.nextToken();
                        String text = value == JsonToken.VALUE_STRING ? p.getText() : null;
                        switch (field) {
                            case "name" -> name = text;
                            case "sdk" -> sdk = text;
                            case "lastReportAt" -> lastReportAt = text;
                            default -> { }
                        }
                        p.skipChildren();
                    }
                }
                if (!object || name == null || sdk == null) {
                    throw new UnreadableException(where + " is not an application with a name and an sdk");
                }
                Instant reported = lastReportAt == null ? null : instantOrNull(lastReportAt);
                if (reported == null) {
                    throw new UnreadableException(where + ".lastReportAt is not an instant");
                }
                if (apps.size() < UsageStore.MAX_APPLICATIONS) {
                    apps.add(new ApplicationUse(shared(name), shared(sdk), reported));
                }
            }
            return apps;
        }

        private void expectObject(String at) throws UnreadableException {
            if (p.currentToken() != JsonToken.START_OBJECT) {
                throw new UnreadableException(at + " is not an object");
            }
        }

        /** The instant at the current token; null only if it is JSON null and {@code nullable}. */
        private Instant instant(String at, String field, boolean nullable) throws IOException, UnreadableException {
            JsonToken token = p.currentToken();
            if (nullable && token == JsonToken.VALUE_NULL) {
                return null;
            }
            Instant instant = token == JsonToken.VALUE_STRING ? instantOrNull(p.getText()) : null;
            if (instant == null) {
                throw new UnreadableException(at + "." + field + " is not an instant");
            }
            return instant;
        }

        /** The one Instant of this text, or null if it is not an instant. */
        private Instant instantOrNull(String text) {
            Instant instant = instants.get(text);
            if (instant == null) {
                try {
                    instant = Instant.parse(text);
                } catch (DateTimeParseException e) {
                    return null;
                }
                instants.put(text, instant);
            }
            return instant;
        }

        private String shared(String text) {
            String known = strings.putIfAbsent(text, text);
            return known == null ? text : known;
        }
    }
}
