package dev.flags.server.journal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** Static builders for journal tests. */
final class Fixtures {

    static final JsonMapper MAPPER = JsonMapper.builder().build();
    static final Instant T0 = Instant.parse("2026-11-20T09:00:00Z");

    private Fixtures() {}

    static ObjectNode json(String text) {
        try {
            return (ObjectNode) MAPPER.readTree(text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A small flag definition; the journal does not look inside beyond "key". */
    static ObjectNode flag(String key, boolean enabled) {
        ObjectNode flag = MAPPER.createObjectNode();
        flag.put("key", key).put("enabled", enabled);
        flag.putArray("rules").addObject().put("percentage", enabled ? 10 : 0);
        return flag;
    }

    static Change createEnvironment(String env) {
        return Change.of(EntryType.ENVIRONMENT_CREATED, env, "admin", json("{\"name\":\"" + env
                + "\"}"));
    }

    static Change createFlag(String env, String key) {
        return Change.of(EntryType.FLAG_CREATED, env, "alice", flag(key, false));
    }

    static Change updateFlag(String env, String key, boolean enabled) {
        return Change.of(EntryType.FLAG_UPDATED, env, "alice", flag(key, enabled));
    }

    static Change role(EntryType type, String env, String user, String role) {
        return Change.of(type, env, "bob", json("{\"user\":\"" + user + "\",\"role\":\"" + role
                + "\"}"));
    }

    static FileJournal.Builder builder(Path dir, Clock clock) {
        return FileJournal.builder(dir).clock(clock);
    }

    static List<Path> segments(Path dir) throws IOException {
        return Segments.list(dir);
    }

    static List<Path> checkpoints(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".ckpt")).sorted()
                    .collect(Collectors.toList());
        }
    }

    static void deleteCheckpoints(Path dir) throws IOException {
        for (Path p : checkpoints(dir)) {
            Files.delete(p);
        }
    }

    static JsonNode tree(CanonicalJson json) {
        return json.toJsonNode();
    }
}
