package dev.flags.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flags.server.journal.Journal;
import dev.flags.server.journal.JournalEntry;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Immutable (static functions only). Journal entries as the audit log shows them to people and programs: the API's
 * audit pages, and the webhook.
 */
public final class AuditEntries {

    private AuditEntries() {
    }

    /**
     * @param e an entry
     * @return {@code sequence, timestamp, change, environment (if any), version, subject, actor, comment, payload}, the
     *     payload without a token's hash (hashes stay in the journal)
     */
    public static ObjectNode json(JournalEntry e) {
        return json(e, null);
    }

    /**
     * @param e an entry
     * @param switched {@code "on"} or {@code "off"} if the entry threw its flag's switch ({@link #switches}), else null
     * @return as {@link #json(JournalEntry)}, with {@code switched} when there is one
     */
    public static ObjectNode json(JournalEntry e, String switched) {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put("sequence", e.sequence());
        n.put("timestamp", e.timestamp().toString());
        n.put("change", e.type().name().toLowerCase(Locale.ROOT));
        if (e.environment() != null) {
            n.put("environment", e.environment());
        }
        n.put("version", e.version());
        n.put("subject", e.subject());
        n.put("actor", e.actor());
        n.put("comment", e.comment());
        ObjectNode payload = (ObjectNode) e.payload().toJsonNode();
        payload.remove("hash");
        n.set("payload", payload);
        if (switched != null) {
            n.put("switched", switched);
        }
        return n;
    }

    /**
     * Which of a run of entries threw a flag's switch: {@code "on"} or {@code "off"} by sequence number, for each entry
     * whose flag document is switched otherwise than the flag's version before it (earlier in the run, else its newest
     * earlier version in the journal: one read of the flag's index per flag of the run). So who turned what off reads
     * at a glance from the audit log and the webhook's deliveries, as the flag's history marks it.
     *
     * @param journal where the versions before the run are
     * @param entries entries of the audit log, oldest first
     * @param everyChangeOfTheirFlags whether the run holds every change of each of its flags in its span (no filter by
     *     actor left some out): then a flag's entry before is the one earlier in the run; else each is looked up
     * @return the entries that switched a flag on or off, by sequence number
     */
    public static Map<Long, String> switches(Journal journal, List<JournalEntry> entries, boolean everyChangeOfTheirFlags) {
        Map<String, Boolean> enabled = new HashMap<>(); // each flag's, as the run goes
        Map<Long, String> out = new HashMap<>();
        for (JournalEntry e : entries) {
            if (e.environment() == null || e.subject() == null || !e.type().isFlagChange()) {
                continue;
            }
            Optional<JsonNode> document = e.flagDefinition(e.subject());
            if (document.isEmpty()) {
                continue; // an archive or a delete switches nothing; a restore after it is compared with what came before
            }
            String flag = e.environment() + "\u0000" + e.subject();
            Boolean was = everyChangeOfTheirFlags && enabled.containsKey(flag) ? enabled.get(flag) : enabledBefore(journal, e);
            boolean is = document.get().path("enabled").asBoolean(false);
            if (was != null && was != is) {
                out.put(e.sequence(), is ? "on" : "off");
            }
            enabled.put(flag, is);
        }
        return out;
    }

    /** Whether the flag of {@code e} was on in its newest earlier version with a document; null if it has none. */
    private static Boolean enabledBefore(Journal journal, JournalEntry e) {
        List<JournalEntry> earlier = journal.history(e.environment(), e.subject(), e.version(), 3); // past an archive
        for (int i = earlier.size() - 1; i >= 0; i--) {
            Optional<JsonNode> document = earlier.get(i).flagDefinition(e.subject());
            if (document.isPresent()) {
                return document.get().path("enabled").asBoolean(false);
            }
        }
        return null;
    }
}
