package dev.flags.server;

import dev.flags.server.auth.Principal;
import dev.flags.server.auth.Scope;
import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.Journal;
import dev.flags.server.journal.JournalEntry;
import dev.flags.server.journal.ServerState;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Thread-safe. The journal read as history: a flag's versions, the audit log, and an environment as
 * it was at a past time. Everything comes from the journal; nothing is kept elsewhere.
 */
public final class HistoryService {

    /** The most entries one audit request returns. */
    public static final int MAX_AUDIT = 1000;
    /** The most versions one history request returns; older ones come page by page. */
    public static final int MAX_HISTORY = 1000;
    /**
     * The most bytes of flag documents one page holds (a flag's history, the audit log, a list of flags; at least one
     * entry, whatever its size): 8 MiB, or a 128th of the largest heap if that is less. A page is held in the heap while
     * it is answered, and the HTTP port answers as many requests at once as it has worker threads (Undertow's default,
     * 8 per core: 16 on two cores): on a small heap, smaller pages.
     */
    static final long PAGE_BYTES = Math.min(8L << 20, Runtime.getRuntime().maxMemory() / 128);
    /** The most entries one read of the journal takes (of small documents); fewer for large ones, see {@link #nextStep}. */
    private static final int STEP = 50;
    /** The first read's entries, before their sizes are known: entries may hold documents of up to 1 MiB each. */
    private static final int FIRST_STEP = 4;

    /** How soon a request refused because another past state is being rebuilt may come again. */
    static final long PAST_STATE_RETRY_SECONDS = 2;

    private final Journal journal;
    private final Clock clock;
    private final int maxScannedPerPage;
    /**
     * One past state rebuilt at a time for the HTTP API, and the others refused at once rather than kept waiting: each is a
     * whole copy of the server's state beside the current one, where the heap is sized for about one more ({@link HeapRoom}
     * keeps the state to a third of it), and a request waiting would hold one of the HTTP port's worker threads, which a
     * kill switch may need.
     */
    private final java.util.concurrent.Semaphore pastStates = new java.util.concurrent.Semaphore(1);

    /**
     * @param journal the journal
     * @param clock the server's clock: a past state is asked for by time, and a time after now is refused
     */
    public HistoryService(Journal journal, Clock clock) {
        this(journal, clock, MAX_SCANNED_PER_PAGE);
    }

    /** With another bound on the entries an audit page reads: for tests that reach it with a few entries. */
    HistoryService(Journal journal, Clock clock, int maxScannedPerPage) {
        this.journal = Objects.requireNonNull(journal, "journal");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.maxScannedPerPage = maxScannedPerPage;
    }

    /**
     * One page of a flag's history.
     *
     * @param versions the entries, oldest first
     * @param earlier the version to ask for next ({@code before}) if older entries exist, else null
     * @param oldestRetainedSequence on the last page, if retention removed the journal's first entries:
     *     the oldest sequence number it still holds (the flag may have had versions before it); else null
     */
    public record HistoryPage(List<JournalEntry> versions, Long earlier, Long oldestRetainedSequence) {
        /** Copies the entries. */
        public HistoryPage {
            versions = List.copyOf(versions);
        }
    }

    /**
     * A page of a flag's history: its newest {@code limit} versions below {@code before}.
     *
     * @param before only versions below this one; null for the newest
     * @param limit at most this many, 1 to {@value #MAX_HISTORY}
     * @return the page (404 if the environment is unknown, or the flag never existed in it)
     */
    public HistoryPage flagHistory(Principal p, String env, String key, Long before, int limit) {
        Access.requireHistory(p, env);
        EnvironmentState state = Access.environment(journal, env);
        if (limit < 1 || limit > MAX_HISTORY) {
            throw ApiException.badRequest("limit must be between 1 and " + MAX_HISTORY + ", was " + limit);
        }
        if (before != null && before < 1) {
            throw ApiException.badRequest("before must be a version, 1 or more, was " + before);
        }
        // One more than asked for tells whether there is an earlier page.
        Newest newest = newestWithin(env, key, before == null ? Long.MAX_VALUE : before, limit + 1);
        List<JournalEntry> read = newest.entries();
        if (read.isEmpty() && !state.flags().containsKey(key) && !state.archivedFlags().containsKey(key)
                && journal.history(env, key, Long.MAX_VALUE, 1).isEmpty()) {
            java.util.TreeSet<String> known = new java.util.TreeSet<>(state.flags().keySet());
            known.addAll(state.archivedFlags().keySet());
            throw ApiException.notFound("flag", "flag \"" + key + "\" never existed in environment \"" + env + "\""
                    + dev.flags.core.Suggestions.closest(key, known, 2).map(near -> "; did you mean \"" + near + "\"?")
                    .orElse(""));
        }
        if (read.size() <= limit && !newest.moreBelow()) {
            // The last page: say if retention cut the journal here, or history looks complete when it is not.
            long oldest = journal.oldestRetainedSequence();
            return new HistoryPage(read, null, oldest > 1 ? oldest : null);
        }
        List<JournalEntry> page = read.size() > limit ? read.subList(1, read.size()) : read;
        return new HistoryPage(page, page.get(0).version(), null);
    }

    /**
     * The newest {@code max} versions below {@code before}, oldest first, but no more than {@link #PAGE_BYTES} of
     * documents (and at least one): a page of a thousand versions of a flag near the 1 MiB document limit would be a
     * gigabyte in the heap at once. Read back from the newest in small steps, so that no more is ever held.
     */
    private Newest newestWithin(String env, String key, long before, int max) {
        java.util.ArrayDeque<JournalEntry> newestFirst = new java.util.ArrayDeque<>();
        long bytes = 0;
        long below = before;
        while (newestFirst.size() < max) {
            int asked = Math.min(nextStep(bytes, newestFirst.size()), max - newestFirst.size());
            List<JournalEntry> step = journal.history(env, key, below, asked);
            for (int i = step.size() - 1; i >= 0; i--) {
                JournalEntry e = step.get(i);
                bytes += e.payload().size();
                if (bytes > PAGE_BYTES && !newestFirst.isEmpty()) {
                    return new Newest(reversed(newestFirst), true);
                }
                newestFirst.add(e);
            }
            if (step.size() < asked) {
                break; // no more below
            }
            below = step.get(0).version();
        }
        return new Newest(reversed(newestFirst), false);
    }

    /**
     * How many entries to read from the journal next: as many as a page's bytes would still take at the average size of
     * those read so far (1 to {@value #STEP}), and {@value #FIRST_STEP} before any. A read holds its entries at once, and
     * sixteen requests reading fifty documents of 1 MiB each would be 800 MiB in the heap.
     */
    static int nextStep(long bytesRead, int entriesRead) {
        if (entriesRead == 0) {
            return FIRST_STEP;
        }
        long average = Math.max(1, bytesRead / entriesRead);
        return (int) Math.max(1, Math.min(STEP, Math.max(0, PAGE_BYTES - bytesRead) / average + 1));
    }

    /** Versions read, oldest first, and whether they stopped for their bytes with more below them. */
    private record Newest(List<JournalEntry> entries, boolean moreBelow) {}

    private static List<JournalEntry> reversed(java.util.ArrayDeque<JournalEntry> newestFirst) {
        List<JournalEntry> oldestFirst = new java.util.ArrayList<>(newestFirst.size());
        newestFirst.descendingIterator().forEachRemaining(oldestFirst::add);
        return oldestFirst;
    }

    /**
     * The audit log: changes in a time range, optionally of one environment and one actor.
     * Admins see everything; other tokens must name an environment they may read.
     *
     * @param env an environment, or null for all (admin only)
     * @param actor an exact actor, or null for all
     * @param afterSequence only entries after this sequence number (0 for all): where the previous page ended
     * @param limit at most this many, up to {@value #MAX_AUDIT}
     * @return up to {@code limit} entries, oldest first, and no more than {@link #PAGE_BYTES} of their documents (at
     *     least one entry), having read at most {@link #MAX_SCANNED_PER_PAGE} entries (so maybe none), and whether
     *     there may be more
     */
    public AuditPage audit(Principal p, String env, String actor, Instant from, Instant to, long afterSequence,
                                    int limit) {
        if (env == null) {
            if (p.scope() != Scope.ADMIN) {
                // An editor, operator or viewer may read its own environments' audit: say how, rather than only "no".
                String first = p.environments().stream().sorted().findFirst().orElse("...");
                String hint = p.canReadHistory(first)
                        ? "; " + p.scope().withArticle() + " token reads one environment's with ?environment=" + first
                        + " (flags audit -e " + first + ")"
                        : "";
                throw ApiException.forbidden("the audit log of every environment needs an admin token; this token's scope is "
                        + p.scope().apiName() + hint);
            }
        } else {
            Access.requireHistory(p, env);
            if (!journal.state().wasDeleted(env)) { // a deleted environment's changes stay readable here
                Access.environment(journal, env);
            }
        }
        if (limit < 1 || limit > MAX_AUDIT) {
            throw ApiException.badRequest("limit must be between 1 and " + MAX_AUDIT + ", was " + limit);
        }
        if (!from.isBefore(to)) {
            throw ApiException.badRequest("from (" + from + ") must be before to (" + to + ")");
        }
        if (afterSequence < 0) {
            throw ApiException.badRequest("after must be a sequence number, 0 or more, was " + afterSequence);
        }
        // Timestamps never go backwards in the journal, so after the first entry in the range the
        // rest are read in sequence order until one falls outside it.
        List<JournalEntry> out = new ArrayList<>();
        if (afterSequence == Long.MAX_VALUE) {
            return AuditPage.last(out); // nothing comes after it (and after + 1 would start over from the first)
        }
        List<JournalEntry> first = journal.audit(from, to, 1);
        if (first.isEmpty()) {
            return AuditPage.last(out);
        }
        long next = Math.max(first.get(0).sequence(), afterSequence + 1);
        long bytes = 0;
        long bytesRead = 0;
        int entriesRead = 0;
        while (true) {
            if (entriesRead >= maxScannedPerPage) {
                return new AuditPage(out, true, next - 1); // read enough for one answer: the next goes on from here
            }
            List<JournalEntry> page = journal.read(next, Math.min(nextStep(bytesRead, entriesRead),
                    maxScannedPerPage - entriesRead));
            if (page.isEmpty()) {
                return AuditPage.last(out);
            }
            for (JournalEntry e : page) {
                bytesRead += e.payload().size();
                entriesRead++;
                if (!e.timestamp().isBefore(to)) {
                    return AuditPage.last(out);
                }
                boolean envMatches = env == null ? (e.environment() == null || p.canRead(e.environment())) : env.equals(e.environment());
                if (envMatches && (actor == null || actorMatches(actor, e.actor()))) {
                    bytes += e.payload().size();
                    if (out.size() == limit || bytes > PAGE_BYTES && !out.isEmpty()) {
                        return new AuditPage(out, true, out.get(out.size() - 1).sequence());
                    }
                    out.add(e);
                }
            }
            next = page.get(page.size() - 1).sequence() + 1;
        }
    }

    /**
     * @param entries a page of the audit log, oldest first
     * @param byActor whether the page was filtered by actor (it may then lack changes of its flags between its entries)
     * @return the entries that switched a flag on or off, by sequence number ({@link AuditEntries#switches})
     */
    public java.util.Map<Long, String> switches(List<JournalEntry> entries, boolean byActor) {
        return AuditEntries.switches(journal, entries, !byActor);
    }

    /**
     * One page of the audit log.
     *
     * @param entries the entries, oldest first
     * @param more whether the range may hold more after them
     * @param resumeAfter with {@code more}, the sequence the next page starts after: the last entry's, or the last one
     *     read when the page ended at {@link #MAX_SCANNED_PER_PAGE} (entries the filter left out); else -1
     */
    public record AuditPage(List<JournalEntry> entries, boolean more, long resumeAfter) {
        /** A page that ends the range. */
        static AuditPage last(List<JournalEntry> entries) {
            return new AuditPage(entries, false, -1);
        }
    }

    /**
     * The most entries one page of the audit log reads. Filtered by an environment or an actor with few changes, a page
     * otherwise read the journal to its end to fill itself, about 25 µs an entry: 25 s of a worker for a million, which
     * any viewer could ask for again and again (QA72). A page that reads this many ends there, with what it found (maybe
     * nothing) and where the next one starts.
     */
    static final int MAX_SCANNED_PER_PAGE = 20_000;

    /** A token's id, as the server makes them: {@code tok-} and 12 hexadecimal digits. */
    private static final java.util.regex.Pattern TOKEN_ID = java.util.regex.Pattern.compile("tok-[0-9a-f]{12}");

    /**
     * An actor is recorded as a name and, in parentheses, which token (or part of the server) it was:
     * {@code alice (tok-1a2b3c4d)}, {@code admin (admin)} (the bootstrap token), {@code flags-server
     * (grant expiry)}. Asking for the name alone, {@code alice}, finds every token named so; the full
     * form finds one token's changes. The part in parentheses holds no parenthesis, so asking for
     * {@code alice} does not find a token named {@code alice (ops)}. The id alone, {@code tok-1a2b3c4d}, finds that
     * token's changes whatever its name. A scheduled change's actor is
     * the exception: {@code flags-server (schedule sch-4f2a9c01d3e7 by alice (tok-1a2b3c4d))} names
     * who made the schedule, parentheses and all, and {@code flags-server} finds it.
     */
    static boolean actorMatches(String asked, String recorded) {
        if (asked.equals(recorded)) {
            return true;
        }
        if (recorded != null && asked.equals("flags-server") && recorded.startsWith(ScheduleRunner.ACTOR_PREFIX)
                && recorded.endsWith(")")) {
            return true;
        }
        if (recorded != null && asked.startsWith("tok-") && recorded.endsWith(" (" + asked + ")")) {
            return true; // a token's id, as flags tokens list shows it: that token's changes, whatever its name
        }
        if (TOKEN_ID.matcher(asked).matches()) {
            return false; // that token's only: not another token named like it, before such names were refused (QA72 F5)
        }
        if (recorded == null || !recorded.startsWith(asked + " (") || !recorded.endsWith(")")) {
            return false;
        }
        String which = recorded.substring(asked.length() + 2, recorded.length() - 1);
        return which.indexOf('(') < 0 && which.indexOf(')') < 0;
    }

    /**
     * @return the whole server state at a time (the caller picks the environment)
     * @throws ApiException 503 with {@code retryAfterSeconds} while another past state is being rebuilt for the API
     */
    public ServerState stateAt(Principal p, String env, Instant at) {
        // Past versions of the flags are history: for the people who change them, as the flags' own history is.
        Access.requireHistory(p, env);
        boolean deleted = journal.state().wasDeleted(env); // what it served before is still there to read
        if (!deleted) {
            Access.environment(journal, env);
        }
        Instant now = clock.instant();
        if (at.isAfter(now)) {
            // Today's flags labelled with a later time would read as a forecast, and pending schedules may change them.
            throw ApiException.badRequest("at must not be in the future, was " + at + " (the server's time is "
                    + now.truncatedTo(ChronoUnit.SECONDS) + "): the state is known up to now; what is scheduled to change is"
                    + " at GET /api/v1/environments/" + env + "/schedules (flags schedules -e " + env + ")");
        }
        ServerState state;
        ServerState current = journal.state();
        if (!at.isBefore(current.timestamp())) {
            state = current; // nothing to rebuild, so no turn to wait for
        } else if (!pastStates.tryAcquire()) {
            throw new ApiException(503, "busy", "the server is rebuilding another past state (one at a time: each is a copy of"
                    + " the whole server's state, beside the current one); ask again in " + PAST_STATE_RETRY_SECONDS + " s",
                    java.util.Map.of("retryAfterSeconds", PAST_STATE_RETRY_SECONDS));
        } else {
            try {
                state = journal.stateAt(at);
            } catch (IllegalArgumentException e) {
                // The journal's own words: which entries retention removed. A 410, not a 500: it was there once.
                throw new ApiException(410, "gone", e.getMessage() + " (--journal-retention)");
            } finally {
                pastStates.release();
            }
        }
        if (state.environment(env).isEmpty()) {
            throw ApiException.notFound("environment", "environment \"" + env + "\" "
                    + (state.wasDeleted(env) ? "was deleted for good before " : "did not exist yet at ") + at);
        }
        return state;
    }
}
