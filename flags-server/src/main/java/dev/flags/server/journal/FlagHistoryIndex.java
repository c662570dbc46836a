package dev.flags.server.journal;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Thread-safe (every method is synchronized). Where each flag's changes lie in the journal: for every
 * environment and flag key, the sequence number and byte offset (in its segment) of each flag-change
 * record, in journal order. With it a flag's history reads that flag's records and nothing else,
 * instead of scanning the whole journal; a revert, which looks its version up in the history, too.
 *
 * <p>The writer adds each record as it writes it; the changes a journal held when it opened are added
 * in front, by one scan (a {@link Collector}), when history is first read; retention drops what it
 * deletes. It costs 16 bytes per flag change (up to twice that while a flag's array grows) plus one
 * entry per flag: a journal of a million flag changes holds 16 to 32 MB here. Positions of records
 * not yet durable may be present; readers stop at the journal's durable mark.
 */
final class FlagHistoryIndex {

    private static final long[] NONE = new long[0];

    private record Key(String environment, String flag) {}

    /** Not thread-safe: guarded by the index. Pairs of (sequence, offset), ascending by sequence. */
    private static final class Positions {
        long[] pairs;
        int length;

        Positions() {
            this(2);
        }

        Positions(int changes) {
            pairs = new long[Math.max(2, changes) * 2];
        }

        void add(long sequence, long offset) {
            if (length + 2 > pairs.length) {
                pairs = Arrays.copyOf(pairs, pairs.length * 2);
            }
            pairs[length++] = sequence;
            pairs[length++] = offset;
        }

        /** Appends another's pairs, all later in the journal than these. */
        void addAll(Positions later) {
            if (length + later.length > pairs.length) {
                pairs = Arrays.copyOf(pairs, Math.max(pairs.length * 2, length + later.length));
            }
            System.arraycopy(later.pairs, 0, pairs, length, later.length);
            length += later.length;
        }
    }

    /**
     * Not thread-safe (one per scan). Collects the flag changes of records as a scan passes them,
     * without decoding a string or allocating per record: a record's environment and subject are
     * adjacent in its body, so those raw bytes are the key, looked up with one reusable probe; strings
     * are made once per flag.
     */
    static final class Collector {
        private final Map<RawKey, Positions> byRaw = new HashMap<>();
        private final Map<Key, Positions> byFlag = new HashMap<>();
        private final RawKey probe = new RawKey();
        private long changes;

        /**
         * Adds the record if it is a flag change. Records must come in journal order.
         *
         * @param v the record
         * @param offset the byte offset of its frame
         */
        void add(RecordCodec.View v, long offset) throws RecordCodec.BadRecordException {
            if (v.type() == EntryType.ENVIRONMENT_CLONED) {
                // Rare: decoded in full. The clone is the first entry of each flag it copied.
                JournalEntry clone = v.toEntry();
                for (String flag : copiedFlags(clone)) {
                    byFlag.computeIfAbsent(new Key(clone.environment(), flag), k -> new Positions()).add(v.sequence(), offset);
                    changes++;
                }
                return;
            }
            if (!v.type().isFlagChange()) {
                return;
            }
            probe.point(v.array(), v.keyFrom(), v.keyTo());
            Positions p = byRaw.get(probe);
            if (p == null) {
                // Keyed by the decoded text too: should two byte strings ever decode to one text (only
                // bytes that are not well-formed UTF-8 can, and the journal writes none), their changes
                // still go to one list, in journal order.
                Key key = new Key(v.environment(), v.subject());
                p = byFlag.computeIfAbsent(key, k -> new Positions());
                byRaw.put(probe.copy(), p);
            }
            p.add(v.sequence(), offset);
            changes++;
        }

        /** @return an index of what was collected */
        FlagHistoryIndex index() {
            FlagHistoryIndex index = new FlagHistoryIndex();
            index.byFlag.putAll(byFlag);
            index.changes = changes;
            return index;
        }
    }

    /**
     * The raw bytes of a record's environment and subject (with their length prefixes), as a map key.
     * The probe points into a record's buffer; stored keys own a copy.
     */
    private static final class RawKey {
        private byte[] bytes;
        private int from;
        private int to;
        private int hash;

        void point(byte[] array, int start, int end) {
            this.bytes = array;
            this.from = start;
            this.to = end;
            int h = 1;
            for (int i = start; i < end; i++) {
                h = 31 * h + array[i];
            }
            this.hash = h;
        }

        RawKey copy() {
            RawKey stored = new RawKey();
            stored.bytes = Arrays.copyOfRange(bytes, from, to);
            stored.from = 0;
            stored.to = to - from;
            stored.hash = hash;
            return stored;
        }

        @Override
        public int hashCode() {
            return hash;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof RawKey other && Arrays.equals(bytes, from, to, other.bytes, other.from, other.to);
        }
    }

    private final Map<Key, Positions> byFlag = new HashMap<>();
    private long changes;

    /**
     * The keys of the flags an {@code ENVIRONMENT_CLONED} entry copied, served and archived.
     *
     * @param clone the entry
     * @return the keys; empty for another type
     */
    static List<String> copiedFlags(JournalEntry clone) {
        List<String> keys = new ArrayList<>();
        if (clone.type() == EntryType.ENVIRONMENT_CLONED) {
            JsonNode payload = clone.payload().toJsonNode();
            payload.path("flags").fieldNames().forEachRemaining(keys::add);
            payload.path("archivedFlags").fieldNames().forEachRemaining(keys::add);
        }
        return keys;
    }

    /**
     * The copy of a flag an {@code ENVIRONMENT_CLONED} entry holds.
     *
     * @return its definition, or null if the entry did not copy that flag
     */
    static JsonNode copiedDefinition(JournalEntry clone, String flag) {
        // Read as a stream, taking only this flag's document as a tree: a clone's payload holds a whole environment
        // (up to 48 MiB), and a history page with it must not hold all of it as a tree.
        JsonNode served = null;
        JsonNode archived = null;
        try (JsonParser p = clone.payload().parser()) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return null;
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                boolean flags = field.equals("flags");
                if (p.nextToken() == JsonToken.START_OBJECT && (flags || field.equals("archivedFlags"))) {
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        boolean wanted = p.currentName().equals(flag);
                        p.nextToken();
                        if (!wanted) {
                            p.skipChildren();
                        } else if (flags) {
                            served = p.readValueAsTree();
                        } else {
                            archived = p.readValueAsTree();
                        }
                    }
                } else {
                    p.skipChildren();
                }
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("a clone's payload, which the journal checked, cannot be read again", e);
        }
        return served != null ? served : archived;
    }

    /**
     * Records one flag-change record. Records must be added in journal order.
     *
     * @param environment its environment
     * @param flag its subject, the flag key
     * @param sequence its sequence number
     * @param offset the byte offset of its frame in its segment
     */
    synchronized void add(String environment, String flag, long sequence, long offset) {
        byFlag.computeIfAbsent(new Key(environment, flag), k -> new Positions()).add(sequence, offset);
        changes++;
    }

    /**
     * Puts everything another index holds in front of what this one holds: all of it earlier in the
     * journal (the changes a journal held when it opened, indexed after the ones written since).
     *
     * @param earlier the index of the records before
     */
    synchronized void addAllBefore(FlagHistoryIndex earlier) {
        synchronized (earlier) {
            earlier.byFlag.forEach((key, theirs) -> {
                Positions mine = byFlag.get(key);
                Positions all = new Positions((theirs.length + (mine == null ? 0 : mine.length)) / 2);
                all.addAll(theirs);
                if (mine != null) {
                    all.addAll(mine);
                }
                byFlag.put(key, all);
            });
            changes += earlier.changes;
        }
    }

    /**
     * Where a flag's changes are.
     *
     * @param environment the environment
     * @param flag the flag key
     * @return a copy: (sequence, offset) pairs in journal order; empty if the flag has none
     */
    synchronized long[] positions(String environment, String flag) {
        Positions p = byFlag.get(new Key(environment, flag));
        return p == null ? NONE : Arrays.copyOf(p.pairs, p.length);
    }

    /**
     * Forgets every record before a sequence number (retention deleted their segments).
     *
     * @param sequence the first sequence number still in the journal
     */
    synchronized void removeBefore(long sequence) {
        Iterator<Positions> it = byFlag.values().iterator();
        while (it.hasNext()) {
            Positions p = it.next();
            int keep = 0;
            while (keep < p.length && p.pairs[keep] < sequence) {
                keep += 2;
            }
            if (keep == 0) {
                continue;
            }
            changes -= keep / 2;
            if (keep == p.length) {
                it.remove();
            } else {
                p.pairs = Arrays.copyOfRange(p.pairs, keep, Math.max(p.length, keep + 4));
                p.length -= keep;
            }
        }
    }

    /**
     * Forgets the flags of environments deleted for good: nothing reads their history, and a server that makes and
     * deletes many short-lived environments would otherwise hold their positions for as long as the journal does.
     *
     * @param environments the deleted environments' keys
     */
    synchronized void removeEnvironments(java.util.Set<String> environments) {
        if (environments.isEmpty()) {
            return;
        }
        Iterator<Map.Entry<Key, Positions>> it = byFlag.entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<Key, Positions> e = it.next();
            if (environments.contains(e.getKey().environment())) {
                changes -= e.getValue().length / 2;
                it.remove();
            }
        }
    }

    /** @return how many flag changes the index holds */
    synchronized long changes() {
        return changes;
    }
}
