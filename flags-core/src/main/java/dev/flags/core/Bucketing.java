package dev.flags.core;

import java.nio.charset.StandardCharsets;

/**
 * Immutable (stateless). The documented hash that puts a user into a bucket, so that every SDK, in
 * every language, puts the same user into the same bucket.
 *
 * <pre>
 * rollout bucket = unsigned(murmur3_x86_32(UTF-8(salt + ":" + stickyKey), seed 0)) mod 100000
 * variant bucket = unsigned(murmur3_x86_32(UTF-8("variant/" + salt + ":" + stickyKey), seed 0)) mod 100000
 * </pre>
 *
 * <p>The sticky key is the user's id, or the text of the attribute the flag's {@code bucketBy} names.
 *
 * <p>A user is inside a rollout of {@code p} percent iff {@code rolloutBucket < round(p × 1000)}, so
 * raising {@code p} only adds users, and the granularity is 0.001%. The variant bucket has its own
 * input so that the variant a user gets does not depend on whether (or how early) the user entered a
 * rollout: a 10% rollout split 50/50 gives 5% and 5%. Salts follow the flag key syntax, which has no
 * '/', so the two inputs never coincide. The salt defaults to the flag key.
 *
 * <p>The implementation hashes the UTF-8 encoding of the key as it reads the characters, without
 * building a byte array, so evaluating a rollout allocates nothing. Unpaired surrogates are encoded
 * as '?', exactly as {@link String#getBytes(java.nio.charset.Charset)} does.
 */
public final class Bucketing {

    /** The number of buckets: 100,000, one per 0.001%. */
    public static final int BUCKETS = 100_000;

    /** The prefix of the variant hash's input. */
    public static final String VARIANT_PREFIX = "variant/";

    private Bucketing() {
    }

    /**
     * @param salt the flag's salt (its key unless set)
     * @param stickyKey the user's sticky key (its id)
     * @return the rollout bucket, 0 to 99,999
     */
    public static int rolloutBucket(String salt, String stickyKey) {
        return bucket(prefix(salt), stickyKey);
    }

    /**
     * @param salt the flag's salt (its key unless set)
     * @param stickyKey the user's sticky key (its id)
     * @return the variant bucket, 0 to 99,999
     */
    public static int variantBucket(String salt, String stickyKey) {
        return bucket(variantPrefix(salt), stickyKey);
    }

    /**
     * @param percentage a rollout percentage, 0 to 100
     * @return the number of buckets inside that rollout: {@code round(percentage × 1000)}
     */
    public static int threshold(double percentage) {
        return (int) Math.round(percentage * 1000.0);
    }

    /**
     * The text a user is bucketed by: the value of the flag's {@code bucketBy} attribute (as string conditions read
     * it: {@code 12.0} is {@code "12"}), or the user's id when the flag names no attribute.
     *
     * @param bucketBy the flag's {@code bucketBy}, or null
     * @param user the user
     * @return the sticky key, or null if the user has none, or only a blank value (never inside a partial rollout, the
     *     first variant weighted above 0)
     */
    static String stickyKey(String bucketBy, User user) {
        if (bucketBy == null) {
            return user.id();
        }
        Object value = user.attribute(bucketBy);
        if (value == null) {
            return null;
        }
        String text = Matchers.text(value);
        // Blank is no value: otherwise every user whose account is "" would share one bucket, all in or all out.
        return text.isBlank() ? null : text;
    }

    /**
     * The sticky key as the evaluation path hashes it: as {@link #stickyKey}, but a whole-number attribute stays a
     * {@code Long}, hashed as its decimal text without building it ({@link #bucket(Murmur3.Prefix, Object)}): an
     * account id given as a {@code long} allocated its text on every evaluation, where the docs promise nothing.
     *
     * @return a {@code String} or {@code Long}, or null if the user has no sticky key
     */
    static Object stickyValue(String bucketBy, User user) {
        if (bucketBy != null && user.attribute(bucketBy) instanceof Long l) {
            return l;
        }
        return stickyKey(bucketBy, user);
    }

    /** @return what a user without a sticky key lacks, for reasons: {@code no id}, {@code no value for "account"} */
    static String missing(String bucketBy) {
        return bucketBy == null ? "no id" : "no value for \"" + bucketBy + "\"";
    }

    /** The UTF-8 bytes of {@code salt + ":"}; computed once per flag when it is compiled. */
    static byte[] prefix(String salt) {
        return (salt + ":").getBytes(StandardCharsets.UTF_8);
    }

    /** The UTF-8 bytes of {@code "variant/" + salt + ":"}; computed once per flag when it is compiled. */
    static byte[] variantPrefix(String salt) {
        return (VARIANT_PREFIX + salt + ":").getBytes(StandardCharsets.UTF_8);
    }

    /** Hashes prefix + UTF-8(key) and reduces it to a bucket. */
    static int bucket(byte[] prefix, String key) {
        return bucket(Murmur3.prefix(prefix), key);
    }

    /** Hashes a precomputed prefix + UTF-8(key) and reduces it to a bucket: the evaluation path. */
    static int bucket(Murmur3.Prefix prefix, String key) {
        return (int) (Integer.toUnsignedLong(Murmur3.hash(prefix, key)) % BUCKETS);
    }

    /** As {@link #bucket(Murmur3.Prefix, String)}, of a {@link #stickyValue}: a {@code Long} as its decimal text. */
    static int bucket(Murmur3.Prefix prefix, Object key) {
        int hash = key instanceof Long l ? Murmur3.hash(prefix, (long) l) : Murmur3.hash(prefix, (String) key);
        return (int) (Integer.toUnsignedLong(hash) % BUCKETS);
    }
}
