package dev.flags.server;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flags.server.journal.JournalEntry;
import java.util.Locale;

/** Journal entries as the audit log shows them to people and programs: the API's audit pages, and the webhook. */
public final class AuditEntries {

    private AuditEntries() {
    }

    /**
     * @param e an entry
     * @return {@code sequence, timestamp, change, environment (if any), version, subject, actor, comment, payload}, the
     *     payload without a token's hash (hashes stay in the journal)
     */
    public static ObjectNode json(JournalEntry e) {
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
        return n;
    }
}
