package dev.flags.server;

import dev.flags.server.auth.Principal;
import dev.flags.server.journal.Change;

/**
 * Thread-confined (one value per thread). The stored token whose API request the current thread is handling, so that
 * every change that request appends is made {@link Change#byToken by that token}: the journal refuses it if the token
 * was revoked while the request waited for its environment's lock (QA91 O1).
 *
 * <p>Why a value of the thread rather than a parameter of every write: a request checks its token once, when it begins,
 * and its changes are made several calls down, by every service, and the server's own changes a request makes on its
 * way (a schedule ended by a delete) with them. Set here, once, no write path of a request can forget it; the server's
 * own threads set it only for a scheduled change, which is its maker's ({@link #actingAs}); their other changes (a
 * grant's expiry, a schedule's end) are nobody's token's.
 */
public final class ActingToken {

    private static final ThreadLocal<String> CURRENT = new ThreadLocal<>();

    private ActingToken() {
    }

    /**
     * Makes the principal's token the current thread's until {@link #clear}.
     *
     * @param principal who the request is, or null for a request that is nobody's
     */
    public static void set(Principal principal) {
        become(principal == null ? null : principal.tokenId());
    }

    /** Makes the token the current thread's; none for null or the bootstrap admin token's. */
    private static void become(String tokenId) {
        if (tokenId == null || tokenId.equals(dev.flags.server.auth.TokenService.BOOTSTRAP_ID)) {
            CURRENT.remove(); // the bootstrap admin token is in no token set: nothing revokes it but a restart
        } else {
            CURRENT.set(tokenId);
        }
    }

    /** Ends what {@link #set} began, whether the request was answered or failed. */
    public static void clear() {
        CURRENT.remove();
    }

    /**
     * Runs work as a stored token's, as the API runs a request's: the changes it appends are refused if that token is no
     * longer in the token set when they are. For the server's own threads acting for a token that is not there, a
     * scheduled change's maker: its check that the maker may act comes before the append, and a revocation committed in
     * between must still stop the change (QA92 F2). The thread's own token, if any, is the current one again after.
     *
     * @param tokenId the stored token's id, or null (or the bootstrap admin token's) for a change no stored token makes
     * @param work what appends the changes
     * @return what the work returns
     */
    public static <T> T actingAs(String tokenId, java.util.function.Supplier<T> work) {
        String before = CURRENT.get();
        become(tokenId);
        try {
            return work.get();
        } finally {
            become(before);
        }
    }

    /**
     * @param change a change about to be appended
     * @return the change, made by the current thread's token if it has one
     */
    public static Change stamp(Change change) {
        String tokenId = CURRENT.get();
        return tokenId == null ? change : change.byToken(tokenId);
    }
}
