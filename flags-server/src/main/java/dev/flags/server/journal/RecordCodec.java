package dev.flags.server.journal;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.zip.CRC32C;

/**
 * Not thread-safe (stateless helpers are). The record layout of format version 1 (see
 * docs/journal.md), big-endian:
 *
 * <pre>
 * frame:  int32 bodyLength | int32 crc32c(bodyLength bytes + body) | body
 * body:   int64 sequence | int64 version | int64 epochSecond | int32 nano | uint8 typeCode
 *         | str environment | str subject | str actor | str comment
 *         | int32 payloadLength | payload (canonical UTF-8 JSON)
 * str:    uint16 byteLength (0xFFFF = null) | UTF-8 bytes
 * </pre>
 *
 * <p>The checksum covers the length field too, so a flipped bit in a length is caught as damage
 * rather than read as a record of another size.
 */
final class RecordCodec {

    static final int FRAME_HEADER = 8;
    static final int MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;
    static final int MAX_STRING_BYTES = 0xFFFE;
    private static final int NULL_STRING = 0xFFFF;
    /** Fixed body part: 3 longs, an int, the type byte, 4 string lengths, the payload length. */
    static final int MIN_BODY = 8 + 8 + 8 + 4 + 1 + 4 * 2 + 4;
    static final int MAX_BODY = MIN_BODY + 4 * MAX_STRING_BYTES + MAX_PAYLOAD_BYTES;

    private RecordCodec() {}

    /** Encodes an entry as a complete frame. */
    static byte[] encode(JournalEntry e) {
        byte[] env = utf8(e.environment());
        byte[] subject = utf8(e.subject());
        byte[] actor = utf8(e.actor());
        byte[] comment = utf8(e.comment());
        byte[] payload = e.payload().bytes();
        int bodyLength = MIN_BODY + len(env) + len(subject) + len(actor) + len(comment)
                + payload.length;
        byte[] frame = new byte[FRAME_HEADER + bodyLength];
        ByteBuffer b = ByteBuffer.wrap(frame);
        b.putInt(bodyLength).putInt(0);
        b.putLong(e.sequence()).putLong(e.version());
        b.putLong(e.timestamp().getEpochSecond()).putInt(e.timestamp().getNano());
        b.put((byte) e.type().code());
        putString(b, env);
        putString(b, subject);
        putString(b, actor);
        putString(b, comment);
        b.putInt(payload.length).put(payload);
        b.putInt(4, crc(frame, 0, bodyLength));
        return frame;
    }

    /** The checksum of the frame starting at {@code frameOffset} with the given body length. */
    static int crc(byte[] array, int frameOffset, int bodyLength) {
        CRC32C crc = new CRC32C();
        crc.update(array, frameOffset, 4);
        crc.update(array, frameOffset + FRAME_HEADER, bodyLength);
        return (int) crc.getValue();
    }

    /** The checksum of the frame starting at the buffer's position (not moved). */
    static int crc(ByteBuffer frame, int bodyLength) {
        CRC32C crc = new CRC32C();
        ByteBuffer lengthPart = frame.duplicate();
        lengthPart.limit(lengthPart.position() + 4);
        crc.update(lengthPart);
        ByteBuffer body = frame.duplicate();
        body.position(body.position() + FRAME_HEADER).limit(body.position() + bodyLength);
        crc.update(body);
        return (int) crc.getValue();
    }

    private static byte[] utf8(String s) {
        return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
    }

    private static int len(byte[] s) {
        return s == null ? 0 : s.length;
    }

    private static void putString(ByteBuffer b, byte[] s) {
        if (s == null) {
            b.putShort((short) NULL_STRING);
        } else {
            if (s.length > MAX_STRING_BYTES) {
                throw new IllegalArgumentException(
                        "a text field must be at most " + MAX_STRING_BYTES + " utf-8 bytes, was " + s.length);
            }
            b.putShort((short) s.length).put(s);
        }
    }

    /** A record that passed its checksum but cannot be decoded. */
    static final class BadRecordException extends Exception {
        /** A sound record of an entry type this release does not know: a newer release's, not damage. */
        final boolean newerFormat;

        BadRecordException(String message) {
            this(message, false);
        }

        BadRecordException(String message, boolean newerFormat) {
            super(message);
            this.newerFormat = newerFormat;
        }
    }

    /**
     * Not thread-safe. A view of one record's body inside a buffer; decodes fields lazily so that
     * scans can filter cheaply, and makes a {@link JournalEntry} only when asked.
     */
    static final class View {
        private byte[] a;
        private int body;
        private int end;
        private int envAt;
        private int subjectAt;
        private int actorAt;
        private int commentAt;
        private int payloadAt;
        private int payloadLength;
        private String environment;
        private String subject;
        private boolean environmentDecoded;
        private boolean subjectDecoded;

        /** Points the view at a body and checks that its fields fit in it. */
        void reset(byte[] array, int bodyOffset, int bodyLength) throws BadRecordException {
            this.a = array;
            this.body = bodyOffset;
            this.end = bodyOffset + bodyLength;
            this.environmentDecoded = false;
            this.subjectDecoded = false;
            int at = bodyOffset + 29;
            envAt = at;
            at = skipString(at);
            subjectAt = at;
            at = skipString(at);
            actorAt = at;
            at = skipString(at);
            commentAt = at;
            at = skipString(at);
            if (at + 4 > end) {
                throw new BadRecordException("malformed record: payload length runs past the record");
            }
            payloadLength = getInt(at);
            payloadAt = at + 4;
            if (payloadLength < 0 || payloadAt + payloadLength != end) {
                throw new BadRecordException("malformed record: payload length " + payloadLength
                        + " does not match the record length");
            }
            if (EntryType.fromCode(typeCode()) == null) {
                // The checksum held (this is checked after it): a sound record of a type added since.
                throw new BadRecordException("unknown entry type code " + typeCode()
                        + " (written by a newer release?)", true);
            }
        }

        private int skipString(int at) throws BadRecordException {
            if (at + 2 > end) {
                throw new BadRecordException("malformed record: text field runs past the record");
            }
            int n = getUnsignedShort(at);
            int next = at + 2 + (n == NULL_STRING ? 0 : n);
            if (next > end) {
                throw new BadRecordException("malformed record: text field runs past the record");
            }
            return next;
        }

        long sequence() {
            return getLong(body);
        }

        long version() {
            return getLong(body + 8);
        }

        Instant timestamp() {
            return Instant.ofEpochSecond(getLong(body + 16), getInt(body + 24));
        }

        int typeCode() {
            return a[body + 28] & 0xFF;
        }

        EntryType type() {
            return EntryType.fromCode(typeCode());
        }

        /** The buffer the view reads; for {@link #keyFrom()} and {@link #keyTo()}. */
        byte[] array() {
            return a;
        }

        /** Where the environment field starts in {@link #array()}: the subject follows it. */
        int keyFrom() {
            return envAt;
        }

        /** Where the subject field ends in {@link #array()} (the actor field starts). */
        int keyTo() {
            return actorAt;
        }

        String environment() {
            if (!environmentDecoded) {
                environment = string(envAt);
                environmentDecoded = true;
            }
            return environment;
        }

        String subject() {
            if (!subjectDecoded) {
                subject = string(subjectAt);
                subjectDecoded = true;
            }
            return subject;
        }

        /** Decodes the whole entry, copying everything out of the buffer. */
        JournalEntry toEntry() throws BadRecordException {
            byte[] payload = new byte[payloadLength];
            System.arraycopy(a, payloadAt, payload, 0, payloadLength);
            try {
                return new JournalEntry(sequence(), type(), environment(), version(), timestamp(),
                        string(actorAt), string(commentAt), subject(), CanonicalJson.trusted(payload));
            } catch (RuntimeException e) {
                throw new BadRecordException("malformed record: " + e.getMessage());
            }
        }

        private String string(int at) {
            int n = getUnsignedShort(at);
            return n == NULL_STRING ? null : new String(a, at + 2, n, StandardCharsets.UTF_8);
        }

        private int getUnsignedShort(int at) {
            return ((a[at] & 0xFF) << 8) | (a[at + 1] & 0xFF);
        }

        private int getInt(int at) {
            return ((a[at] & 0xFF) << 24) | ((a[at + 1] & 0xFF) << 16) | ((a[at + 2] & 0xFF) << 8)
                    | (a[at + 3] & 0xFF);
        }

        private long getLong(int at) {
            return ((long) getInt(at) << 32) | (getInt(at + 4) & 0xFFFFFFFFL);
        }
    }
}
