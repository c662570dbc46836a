package dev.flags.server.journal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * Immutable. A JSON value in canonical form: compact UTF-8 with every object's properties sorted by
 * name, so that equal documents have equal bytes.
 *
 * <p>This is how the journal holds payloads and how the materialized state holds flag definitions:
 * as bytes that can be sent or stored as they are, and turned into a fresh Jackson tree on demand.
 * Changing a tree returned by {@link #toJsonNode()} changes nothing here.
 *
 * <pre>{@code
 * CanonicalJson flag = CanonicalJson.parse("{\"key\":\"billing-v2\",\"enabled\":true}");
 * flag.toString();  // {"enabled":true,"key":"billing-v2"}
 * }</pre>
 */
public final class CanonicalJson {

    /**
     * Shared, thread-safe mapper: sorted properties on write, duplicate names refused on read, decimals read as written.
     * Not as doubles: a flag's number with more digits than a double holds is stored as written, and the SDKs read it
     * so; read as a double here, the playground answered otherwise than the SDKs, and any change of the flag (its
     * description) wrote the rounded number back for every SDK (QA77 F2).
     */
    static final JsonMapper MAPPER = JsonMapper.builder()
            .enable(JsonNodeFeature.WRITE_PROPERTIES_SORTED)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .build();

    private static final CanonicalJson EMPTY_OBJECT = new CanonicalJson(
            "{}".getBytes(StandardCharsets.UTF_8));

    private final byte[] utf8;
    /** {@link #digest()}, once computed; 0 before (volatile: a long may tear otherwise). */
    private volatile long digest;

    private CanonicalJson(byte[] utf8) {
        this.utf8 = utf8;
    }

    /**
     * Returns the canonical form of a Jackson tree.
     *
     * @param node the value; not changed
     * @return its canonical form
     * @throws NullPointerException if node is null
     * @throws IllegalArgumentException if node is a missing node
     */
    public static CanonicalJson of(JsonNode node) {
        Objects.requireNonNull(node, "node");
        if (node.isMissingNode()) {
            throw new IllegalArgumentException("json value must not be a missing node");
        }
        try {
            return new CanonicalJson(MAPPER.writeValueAsBytes(node));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("json value cannot be written: " + e.getOriginalMessage(),
                    e);
        }
    }

    /**
     * Parses JSON text and returns its canonical form.
     *
     * @param json the text
     * @return its canonical form
     * @throws NullPointerException if json is null
     * @throws IllegalArgumentException if json is not one valid JSON value (for example a duplicate
     *     property name)
     */
    public static CanonicalJson parse(String json) {
        Objects.requireNonNull(json, "json");
        JsonNode node;
        try {
            node = MAPPER.readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("json is not valid: " + e.getOriginalMessage(), e);
        }
        if (node == null || node.isMissingNode()) {
            throw new IllegalArgumentException("json is not valid: no value");
        }
        return of(node);
    }

    /** The canonical empty object {@code {}}. */
    static CanonicalJson emptyObject() {
        return EMPTY_OBJECT;
    }

    /** Wraps bytes already known to be canonical (read back from a checksummed record); no copy. */
    static CanonicalJson trusted(byte[] canonicalUtf8) {
        return new CanonicalJson(canonicalUtf8);
    }

    /**
     * Returns a fresh Jackson tree of this value.
     *
     * @return a new tree on every call; the caller may change it
     */
    public JsonNode toJsonNode() {
        try {
            return MAPPER.readTree(utf8);
        } catch (IOException e) {
            throw new UncheckedIOException("canonical json cannot be read back", e);
        }
    }

    /**
     * Returns a copy of the canonical UTF-8 bytes.
     *
     * @return a new array on every call
     */
    public byte[] toByteArray() {
        return utf8.clone();
    }

    /** @return a parser over the bytes themselves (no copy), for reading one part of a large value */
    com.fasterxml.jackson.core.JsonParser parser() throws IOException {
        return MAPPER.createParser(utf8);
    }

    /**
     * Returns the size of the canonical form.
     *
     * @return the number of UTF-8 bytes
     */
    public int size() {
        return utf8.length;
    }

    /**
     * Returns a 64-bit digest of the canonical bytes (the first 8 bytes of their SHA-256), computed once
     * per instance: equal documents have equal digests, and a state's digest sums its documents'.
     *
     * @return the digest; never 0
     */
    public long digest() {
        long d = digest;
        if (d == 0) {
            try {
                d = java.nio.ByteBuffer.wrap(java.security.MessageDigest.getInstance("SHA-256").digest(utf8)).getLong();
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException("every JVM has SHA-256", e);
            }
            d = d == 0 ? 1 : d;
            digest = d;
        }
        return d;
    }

    /** The bytes themselves; callers inside the package never change them. */
    byte[] bytes() {
        return utf8;
    }

    /**
     * Returns the canonical JSON text.
     *
     * @return compact JSON with sorted properties
     */
    @Override
    public String toString() {
        return new String(utf8, StandardCharsets.UTF_8);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CanonicalJson && Arrays.equals(utf8, ((CanonicalJson) o).utf8);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(utf8);
    }
}
