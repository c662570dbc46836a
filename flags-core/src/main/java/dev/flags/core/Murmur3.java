package dev.flags.core;

/**
 * Immutable (stateless). MurmurHash3 x86 32-bit, seed 0, over {@code prefix ++ UTF-8(key)}, computed
 * without allocating: the key's characters are encoded to UTF-8 as they are read.
 *
 * <p>Why not a library: the libraries hash a {@code byte[]}, which would cost an allocation (the
 * encoded key) on every evaluation. The test suite checks this against commons-codec's
 * implementation on random inputs.
 */
final class Murmur3 {

    private static final int C1 = 0xcc9e2d51;
    private static final int C2 = 0x1b873593;

    private Murmur3() {
    }

    /**
     * Immutable. The hash state after a fixed prefix (a flag's {@code salt + ":"}), computed once when
     * the flag is compiled, so that an evaluation hashes only the user's key.
     */
    static final class Prefix {
        final int h;       // state after the prefix's whole 4-byte blocks
        final int block;   // the prefix's trailing bytes, little-endian
        final int pending; // how many trailing bytes (0 to 3)
        final int length;  // the prefix's length in bytes

        private Prefix(int h, int block, int pending, int length) {
            this.h = h;
            this.block = block;
            this.pending = pending;
            this.length = length;
        }
    }

    static Prefix prefix(byte[] bytes) {
        int h = 0;
        int block = 0;
        int pending = 0;
        for (byte b : bytes) {
            block |= (b & 0xff) << (pending << 3);
            if (++pending == 4) {
                h = mixBlock(h, block);
                block = 0;
                pending = 0;
            }
        }
        return new Prefix(h, block, pending, bytes.length);
    }

    static int hash(byte[] prefix, String key) {
        return hash(prefix(prefix), key);
    }

    static int hash(Prefix prefix, String key) {
        int h = prefix.h;
        int block = prefix.block; // up to four pending bytes, little-endian
        int pending = prefix.pending; // how many bytes are in block
        int length = prefix.length;

        int n = key.length();
        int i = 0;
        // Ids are mostly ASCII: take four characters (four bytes) at a time while they are. With
        // p bytes already pending, the block is those p bytes plus the first 4 - p new ones, and the
        // last p new bytes stay pending.
        int shift = pending << 3;
        while (i + 4 <= n) {
            char c0 = key.charAt(i);
            char c1 = key.charAt(i + 1);
            char c2 = key.charAt(i + 2);
            char c3 = key.charAt(i + 3);
            if ((c0 | c1 | c2 | c3) >= 0x80) {
                break;
            }
            int word = c0 | (c1 << 8) | (c2 << 16) | (c3 << 24);
            h = mixBlock(h, block | (word << shift));
            block = shift == 0 ? 0 : word >>> (32 - shift);
            length += 4;
            i += 4;
        }
        for (; i < n; i++) {
            char c = key.charAt(i);
            if (c < 0x80) { // ASCII: one byte
                block |= c << (pending << 3);
                length++;
                if (++pending == 4) {
                    h = mixBlock(h, block);
                    block = 0;
                    pending = 0;
                }
                continue;
            }
            int codePoint;
            if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(key.charAt(i + 1))) {
                codePoint = Character.toCodePoint(c, key.charAt(++i));
            } else if (Character.isSurrogate(c)) {
                codePoint = '?'; // what String.getBytes(UTF_8) writes for an unpaired surrogate
            } else {
                codePoint = c;
            }
            // Encode the code point to 1..4 UTF-8 bytes, feeding each into the block.
            int bytes;
            int encoded; // bytes packed little-endian in the order they are emitted
            if (codePoint < 0x80) {
                bytes = 1;
                encoded = codePoint;
            } else if (codePoint < 0x800) {
                bytes = 2;
                encoded = (0xC0 | (codePoint >>> 6)) | ((0x80 | (codePoint & 0x3F)) << 8);
            } else if (codePoint < 0x10000) {
                bytes = 3;
                encoded = (0xE0 | (codePoint >>> 12)) | ((0x80 | ((codePoint >>> 6) & 0x3F)) << 8)
                        | ((0x80 | (codePoint & 0x3F)) << 16);
            } else {
                bytes = 4;
                encoded = (0xF0 | (codePoint >>> 18)) | ((0x80 | ((codePoint >>> 12) & 0x3F)) << 8)
                        | ((0x80 | ((codePoint >>> 6) & 0x3F)) << 16) | ((0x80 | (codePoint & 0x3F)) << 24);
            }
            for (int k = 0; k < bytes; k++) {
                block |= ((encoded >>> (k << 3)) & 0xff) << (pending << 3);
                if (++pending == 4) {
                    h = mixBlock(h, block);
                    block = 0;
                    pending = 0;
                }
            }
            length += bytes;
        }

        return finish(h, block, pending, length);
    }

    /**
     * Hashes the prefix and the decimal text of a whole number ({@code Long.toString(value)}'s ASCII bytes), without
     * building that text: a flag's {@code bucketBy} on an account id the application gives as a {@code long}.
     *
     * @return {@code hash(prefix, Long.toString(value))}
     */
    static int hash(Prefix prefix, long value) {
        int h = prefix.h;
        int block = prefix.block;
        int pending = prefix.pending;
        int length = prefix.length;
        long n = value < 0 ? value : -value; // negative, so that Long.MIN_VALUE has its digits too
        long power = 1;
        while (n / power <= -10) {
            power *= 10;
        }
        for (int k = value < 0 ? -1 : 0; power > 0; k++) {
            int b = k < 0 ? '-' : '0' - (int) (n / power % 10); // the sign, then each digit from the most significant
            if (k >= 0) {
                power /= 10;
            }
            block |= b << (pending << 3);
            length++;
            if (++pending == 4) {
                h = mixBlock(h, block);
                block = 0;
                pending = 0;
            }
        }
        return finish(h, block, pending, length);
    }

    private static int finish(int h, int block, int pending, int length) {
        if (pending > 0) {
            int k1 = block * C1;
            k1 = Integer.rotateLeft(k1, 15);
            k1 *= C2;
            h ^= k1;
        }
        h ^= length;
        return fmix(h);
    }

    private static int mixBlock(int h, int k1) {
        k1 *= C1;
        k1 = Integer.rotateLeft(k1, 15);
        k1 *= C2;
        h ^= k1;
        h = Integer.rotateLeft(h, 13);
        return h * 5 + 0xe6546b64;
    }

    private static int fmix(int h) {
        h ^= h >>> 16;
        h *= 0x85ebca6b;
        h ^= h >>> 13;
        h *= 0xc2b2ae35;
        h ^= h >>> 16;
        return h;
    }
}
