package dev.flags.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.Scale;
import org.apache.commons.codec.digest.MurmurHash3;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The documented bucketing (docs/flag-format.md, "Bucketing"): vectors, and the hash itself. */
class BucketingTest {

    record Vector(String salt, String key, long murmur3, int rolloutBucket, int variantBucket) {
    }

    static Stream<Vector> vectors() throws IOException {
        try (InputStream in = BucketingTest.class.getResourceAsStream("bucketing-vectors.tsv")) {
            List<String> lines = new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().skip(1).toList();
            return lines.stream().map(l -> l.split("\t", -1)).map(f -> new Vector(f[0], f[1],
                    Long.parseLong(f[2]), Integer.parseInt(f[3]), Integer.parseInt(f[4]))).toList().stream();
        }
    }

    @ParameterizedTest
    @MethodSource("vectors")
    void matchesTheDocumentedVectors(Vector v) {
        assertThat(Integer.toUnsignedLong(Murmur3.hash(Bucketing.prefix(v.salt()), v.key()))).isEqualTo(v.murmur3());
        assertThat(Bucketing.rolloutBucket(v.salt(), v.key())).isEqualTo(v.rolloutBucket());
        assertThat(Bucketing.variantBucket(v.salt(), v.key())).isEqualTo(v.variantBucket());
    }

    @Test
    void theVectorsIncludeNonAsciiKeysAndAreEnough() throws IOException {
        List<Vector> all = vectors().toList();
        assertThat(all).hasSizeGreaterThanOrEqualTo(10);
        assertThat(all).anyMatch(v -> v.key().codePoints().anyMatch(c -> c > 0xFFFF)); // 4-byte UTF-8
        assertThat(all).anyMatch(v -> v.key().codePoints().anyMatch(c -> c > 0x7FF && c <= 0xFFFF)); // 3-byte
        assertThat(all).anyMatch(v -> v.key().codePoints().anyMatch(c -> c > 0x7F && c <= 0x7FF)); // 2-byte
    }

    @Property(tries = 2000)
    void streamingHashEqualsAnIndependentImplementation(@ForAll("prefixes") String prefix, @ForAll("keys") String key) {
        byte[] prefixBytes = prefix.getBytes(StandardCharsets.UTF_8);
        int expected = MurmurHash3.hash32x86((prefix + key).getBytes(StandardCharsets.UTF_8));
        assertThat(Murmur3.hash(prefixBytes, key)).isEqualTo(expected);
    }

    @Property(tries = 2_000)
    void aWholeNumberHashesAsItsDecimalText(@ForAll("prefixes") String prefix, @ForAll long value) {
        Murmur3.Prefix p = Murmur3.prefix(prefix.getBytes(StandardCharsets.UTF_8));
        assertThat(Murmur3.hash(p, value)).as("%d", value).isEqualTo(Murmur3.hash(p, Long.toString(value)));
    }

    @Test
    void aWholeNumberHashesAsItsDecimalTextAtTheEdges() {
        for (String salt : new String[] {"", "a", "ab", "abc", "abcd"}) { // each number of pending prefix bytes
            Murmur3.Prefix p = Murmur3.prefix(salt.getBytes(StandardCharsets.UTF_8));
            for (long v : new long[] {0, 1, -1, 9, 10, -10, 99, 4242, 1_000_000_000L, -999_999_999_999L,
                    Long.MAX_VALUE, Long.MIN_VALUE, Long.MIN_VALUE + 1}) {
                assertThat(Murmur3.hash(p, v)).as("%s %d", salt, v).isEqualTo(Murmur3.hash(p, Long.toString(v)));
            }
        }
        // The evaluator buckets an account id given as a long exactly as the same id given as text.
        Flag byAccount = new Flag("f", null, true, null, "accountId", List.of(new Variant("a", 50, null),
                new Variant("b", 50, null)), List.of(), List.of(Fixtures.rule("r", Fixtures.percentage(50))), false, 1);
        FlagSet flags = FlagSet.of(byAccount);
        for (long id = -500; id < 500; id++) {
            User asLong = User.withId("u").attribute("accountId", id * 7919);
            User asText = User.withId("u").attribute("accountId", Long.toString(id * 7919));
            assertThat(flags.evaluate("f", asLong)).as("%d", id * 7919).isEqualTo(flags.evaluate("f", asText));
        }
    }

    @Test
    void unpairedSurrogatesHashLikeStringGetBytes() {
        for (String key : List.of("\uD800", "a\uDC00b", "\uD83D", "x\uD83D\uD83D\uDE00")) {
            int expected = MurmurHash3.hash32x86(("s:" + key).getBytes(StandardCharsets.UTF_8));
            assertThat(Murmur3.hash(Bucketing.prefix("s"), key)).as(key).isEqualTo(expected);
        }
    }

    @Provide
    Arbitrary<String> prefixes() {
        return Arbitraries.strings().ofMinLength(0).ofMaxLength(20).alpha().numeric().withChars(":-._");
    }

    @Provide
    Arbitrary<String> keys() {
        // every kind of character, surrogates (paired or not) included
        return Arbitraries.strings().all().ofMinLength(0).ofMaxLength(40);
    }

    @Property(tries = 500)
    void aRolloutBucketIsInRangeAndTheSameEveryTime(@ForAll("keys") String key) {
        int bucket = Bucketing.rolloutBucket("flag", key);
        assertThat(bucket).isBetween(0, Bucketing.BUCKETS - 1);
        assertThat(Bucketing.rolloutBucket("flag", key)).isEqualTo(bucket);
    }

    @Property(tries = 200)
    void thresholdHasThousandthOfAPercentGranularity(@ForAll @DoubleRange(min = 0, max = 100) @Scale(3) double p) {
        assertThat(Bucketing.threshold(p)).isEqualTo(Math.round(p * 1000));
        assertThat(Bucketing.threshold(p)).isBetween(0, Bucketing.BUCKETS);
    }
}
