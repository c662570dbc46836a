package dev.flags.server;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.ServerState;

/**
 * Thread-safe (static functions only). Whether the server's state, every environment's flags (archived ones too) and
 * role grants, has room
 * to grow in the heap. The limits per environment ({@link EnvironmentLimits}) say nothing of how many environments there
 * are, and a server whose state outgrew its heap can neither take a change nor start again with that heap: a write that
 * would take the state past a third of the largest heap is refused ({@code 409 server full}) before that. Turning a flag
 * on or off, and shrinking, are never refused.
 */
final class HeapRoom {

    /**
     * What each environment holds, by the environment state's identity (weak keys): a write changes one environment,
     * so the sum over all of them reads the others' from here instead of walking their flags again.
     */
    private static final Cache<EnvironmentState, Long> SERVED = Caffeine.newBuilder().weakKeys().maximumSize(4096).build();

    private HeapRoom() {
    }

    /**
     * @return the bytes of every environment's flags, archived ones included (the server keeps them, to restore), and
     *     role grants: what the heap holds of the state
     */
    static long stateBytes(ServerState state) {
        long bytes = 0;
        for (EnvironmentState e : state.environments().values()) {
            bytes += SERVED.get(e, HeapRoom::heldBytes);
        }
        return bytes;
    }

    private static long heldBytes(EnvironmentState e) {
        long bytes = EnvironmentLimits.servedBytes(e);
        for (dev.flags.server.journal.CanonicalJson archived : e.archivedFlags().values()) {
            bytes += archived.size();
        }
        return bytes;
    }

    /** @return the most the state may take: a third of the largest heap */
    static long room() {
        return Runtime.getRuntime().maxMemory() / 3;
    }

    /**
     * @return for a state already past {@link #room()} (a server started with a smaller heap than it had), a line that says
     *     so and what to do: every write that adds to it is refused until then; empty for one within it
     */
    static java.util.Optional<String> overRoom(ServerState state) {
        long held = stateBytes(state);
        if (held <= room()) {
            return java.util.Optional.empty();
        }
        long mib = 1024 * 1024;
        return java.util.Optional.of("the flags and role grants of all environments take " + (held + mib - 1) / mib
                + " MiB, more than a third of this JVM's largest heap (" + Runtime.getRuntime().maxMemory() / mib + " MiB)"
                + " allows: every write that adds to them is refused (409 server full) until they take less; turning flags"
                + " on or off, and shrinking, still work. Start the server with -Xmx" + (3 * held + mib - 1) / mib + "m or"
                + " more (docs/server.md, Memory), or delete archived flags or environments for good");
    }

    /**
     * @param state the server's state before the write
     * @param growth how many bytes the write adds (nothing is checked for 0 or less)
     * @param what the write, for the message, such as {@code flag "billing-v2" (5120 bytes, new)}
     * @throws ApiException 409 if the state would be past {@link #room()}
     */
    static void require(ServerState state, long growth, String what) {
        if (growth <= 0) {
            return;
        }
        long held = stateBytes(state);
        if (held + growth > room()) {
            throw new ApiException(409, "server full", "the server holds " + held + " bytes of flags and role grants in all"
                    + " its environments; with " + what + " it would hold " + (held + growth) + ", more than a third of its"
                    + " largest heap (" + Runtime.getRuntime().maxMemory() / (1024 * 1024) + " MiB) allows (the rest is for"
                    + " its work: reading the journal at a start, answering, sending to SDKs; a state that grew past it may"
                    + " not start again with that heap): start the server with a larger -Xmx (docs/server.md, Memory)"
                    + " or delete archived flags for good (archiving frees nothing: the server keeps an archived flag's last"
                    + " document, to restore it, until an admin deletes it: flags delete FLAG, docs/api.md), or archived"
                    + " environments, whole (flags environments delete ENV)."
                    + " Turning flags on or off still works");
        }
    }
}
