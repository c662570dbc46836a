package dev.flags.client.internal;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.flags.client.FlagChangeEvent;
import dev.flags.client.FlagChangeListener;
import dev.flags.client.FlagEvaluation;
import dev.flags.client.Freshness;
import dev.flags.client.Source;
import dev.flags.client.StatusListener;
import dev.flags.core.Condition;
import dev.flags.core.Evaluation;
import dev.flags.core.EvaluationFailureHandler;
import dev.flags.core.Flag;
import dev.flags.core.FlagSet;
import dev.flags.core.FlagUsage;
import dev.flags.core.ReadableText;
import dev.flags.core.Reason;
import dev.flags.core.Rule;
import dev.flags.core.Suggestions;
import dev.flags.core.User;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe. The one snapshot of flags that every evaluation reads, and the change listeners.
 *
 * <p>The snapshot is an immutable {@link FlagState} in a volatile field: an evaluation is one read of
 * that field plus flags-core's pure evaluator, with no lock, so it can never see half an update.
 * Writers ({@link #publish}) are serialized; they swap in a whole new state and then hand the flags
 * that changed to the listener executor, so listeners never run on the writer's (network) thread.
 *
 * <p>Status listeners are told when the source changes (live, stale, ...). The {@link Freshness} they
 * get is made inside {@link #publish}, under its lock, so it describes the state being published, not
 * whatever the state is by the time the executor runs; a new listener gets the current state the same
 * way, so no listener misses a change or sees one twice.
 *
 * <p>Stores given no listener executor share one daemon thread for the JVM, {@code flags-events-N}
 * (started on demand, gone after 30 s idle): in order per store, and one thread wake-up per change
 * however many {@code Flags} a process holds. A thread per store cost a thousand wake-ups per change
 * for a thousand SDK instances in one JVM (docs/BENCHMARKS-client.md); the price is that a listener
 * that blocks holds up the listeners of the process's other {@code Flags} too.
 */
public final class FlagStore implements AutoCloseable {

    /**
     * The most change deliveries that wait for a store's listeners one by one: each change's own answer, for a value
     * listener running late (a kill switch on and off again is two changes, not none). Past it, changes join the last
     * one waiting, so that what waits is bounded (each holds a state of the flags).
     */
    static final int MAX_WAITING = 100;
    /** The most flags among which an unknown key's warning looks for the one meant. */
    private static final int MAX_FLAGS_FOR_SUGGESTION = 2_000;
    /** The listener classes and exception classes whose failure was logged with a stack trace (bounded by the classes). */
    private static final java.util.Set<String> tracedListenerClasses = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private static final Logger LOG = LoggerFactory.getLogger(FlagStore.class);
    private static final int MAX_KEY_IN_LOG = 200;

    private volatile FlagState state;
    /*
     * Replaced, never changed, and only under this store's lock, as publish() runs: so publish() reads
     * the registrations of its change once, for free, and a listener registered after a change was
     * published (after awaitReady() returned, say) never hears of that change.
     */
    private volatile List<Registration> listeners = List.of();
    private final CopyOnWriteArrayList<StatusListener> statusListeners = new CopyOnWriteArrayList<>();
    private volatile Function<FlagState, Freshness> describe =
            s -> new Freshness(s.version(), s.source(), false, null, s.note());
    private static final ThreadPoolExecutor SHARED_EVENTS = sharedEvents();

    private final Executor events;
    private volatile boolean closed;
    private final boolean rethrowListenerFailures;

    /** The listener executor refused the last work handed to it: warned once until it takes work again. */
    private volatile boolean refusing;
    /**
     * The last change events handed to the executor, until it starts on them: once {@link #MAX_WAITING} deliveries
     * wait, a later change joins them instead of queueing behind. Set under this store's lock; cleared by it, or by the
     * delivery that takes them.
     */
    private final AtomicReference<PendingChanges> pending = new AtomicReference<>();
    /** The change deliveries handed to the executor that it has not started on. */
    private final AtomicInteger waiting = new AtomicInteger();
    /** Whether changes joined waiting ones since the listeners last caught up: warned once per such time. */
    private volatile boolean behind;
    private final String label;
    /*
     * Why Caffeine here: an application that asks for a flag nobody created (a typo, a flag deleted
     * too early) asks for it on every request. Every kind of evaluation warns about it once per key per
     * hour, not once per request, and the set of keys it remembers must be bounded because keys come from
     * callers. A bounded, expiring cache is exactly that. Only an unknown flag consults it, with a lookup
     * that takes no lock and allocates nothing once the key was named: isEnabled() stays allocation-free.
     */
    private final Cache<String, Boolean> warnedUnknown;
    /*
     * Flags whose rules failed on a user's data (key and version): warned once per hour each, for the
     * same reason and with the same bound. A failing rule fails on every request of the users it
     * fails on, and isEnabled() answers the default then: without this line nobody would know.
     */
    private final Cache<String, Boolean> warnedFailures =
            Caffeine.newBuilder().maximumSize(1_000).expireAfterWrite(Duration.ofHours(1)).build();
    /** The keys asked for that the store does not have, for usage reports; null if nobody reports them. */
    private volatile UnknownKeys unknownKeys;
    private volatile Consumer<List<FlagUsage>> removedFlagsUsage;
    private final EvaluationFailureHandler failures = new EvaluationFailureHandler() {
        @Override
        public void failed(String flagKey, long flagVersion, Throwable failure) {
            warnFailure(flagKey, flagVersion, failure);
        }

        @Override
        public void unmatchableAttribute(String attributeName) {
            warnUnmatchable(attributeName);
        }

        @Override
        public void unknownFlag(String flagKey) {
            UnknownKeys sink = unknownKeys;
            if (sink != null) {
                sink.asked(flagKey);
            }
            // From isEnabled() and variant() too, which application code calls: a typo there is the likeliest one.
            FlagState s = state;
            if (warnedUnknown != null && s.source() != Source.DEFAULTS && !s.unreadable().containsKey(flagKey)) {
                warnUnknown(flagKey, s);
            }
        }
    };

    /**
     * A value listener's evaluations: a rule's failure is warned of as any, a key not there is neither warned of nor
     * reported as asked for (a listener may wait for a flag that does not exist yet, and no request asked for it).
     */
    private final EvaluationFailureHandler listenerFailures = new EvaluationFailureHandler() {
        @Override
        public void failed(String flagKey, long flagVersion, Throwable failure) {
            warnFailure(flagKey, flagVersion, failure);
        }

        @Override
        public void unknownFlag(String flagKey) {
        }
    };

    /**
     * Creates a store.
     *
     * @param initial the first state
     * @param listenerExecutor the executor of change listeners, or null for the SDK's shared daemon
     *                         thread ({@code flags-events-N}, started on demand)
     * @param warnUnknownFlags true to log a warning (once per key per hour) when {@link #evaluate} is
     *                         asked for a flag that does not exist
     * @param label what these flags are, for log lines, such as {@code environment "production"}
     */
    public FlagStore(FlagState initial, Executor listenerExecutor, boolean warnUnknownFlags, String label) {
        this(initial, listenerExecutor, warnUnknownFlags, label, false);
    }

    /**
     * @param rethrowListenerFailures true to throw a listener's failure to the caller of {@link #publish}
     *     (after every listener had its call) instead of logging it: for test flags, whose listeners run on
     *     the test's thread, where an assertion that fails in a listener must fail the test
     */
    public FlagStore(FlagState initial, Executor listenerExecutor, boolean warnUnknownFlags, String label,
                     boolean rethrowListenerFailures) {
        this.rethrowListenerFailures = rethrowListenerFailures;
        this.state = Objects.requireNonNull(initial, "initial");
        this.label = Objects.requireNonNull(label, "label");
        this.events = listenerExecutor != null ? listenerExecutor : SHARED_EVENTS;
        warnedUnknown = warnUnknownFlags
                ? Caffeine.newBuilder().maximumSize(1_000).expireAfterWrite(Duration.ofHours(1)).build()
                : null;
    }

    /**
     * Hands, from now on, the usage marks of flags a new state removes (archived or deleted on the server) to
     * a sink, taken right after the swap: the next usage report still tells that they were evaluated.
     *
     * @param sink where they go; called on the publishing thread, with the store's lock held
     */
    void keepUsageOfRemovedFlags(Consumer<List<FlagUsage>> sink) {
        this.removedFlagsUsage = Objects.requireNonNull(sink, "sink");
    }

    /**
     * Records from now on the keys callers ask for that the store does not have (for usage reports).
     *
     * @param sink where they go
     */
    void recordUnknownKeys(UnknownKeys sink) {
        this.unknownKeys = Objects.requireNonNull(sink, "sink");
    }

    private static ThreadPoolExecutor sharedEvents() {
        ThreadPoolExecutor e = new ThreadPoolExecutor(1, 1, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                Threads.daemon("flags-events"));
        e.allowCoreThreadTimeOut(true);
        return e;
    }

    /**
     * Hands listener work to the executor, unless the store is closed.
     *
     * @return whether the executor took it
     */
    private boolean dispatch(Runnable delivery, String what) {
        if (closed) {
            LOG.debug("flags: store closed, {} not delivered", what);
            return false;
        }
        try {
            events.execute(delivery);
            if (refusing) {
                refusing = false; // read first: a write per change would be a store to shared memory for nothing
            }
            return true;
        } catch (RejectedExecutionException e) {
            // Usually the application shut its executor down before closing this Flags: its listeners
            // miss every change from now on, which it should hear of, once, not once per change.
            if (!refusing) {
                refusing = true;
                LOG.warn("flags: the listener executor refused {}; listeners miss changes until it takes work again"
                        + " (was it shut down before this Flags was closed?)", what);
            } else {
                LOG.debug("flags: listener executor refused {}", what);
            }
        } catch (RuntimeException e) {
            // The application's executor failed: its listeners miss this news, but the new state is
            // in place and the stream that brought it must go on.
            if (rethrowListenerFailures) {
                throw e; // test flags: the listener's own failure, from the test's thread
            }
            LOG.warn("flags: the listener executor failed to take {}; listeners miss it", what, e);
        }
        return false;
    }

    /** @return the current state */
    public FlagState state() {
        return state;
    }

    /**
     * The hot path: one volatile read and flags-core's evaluator. Allocates nothing.
     *
     * @param flagKey the flag
     * @param user the user
     * @param defaultValue the answer for an unknown flag or an error
     * @return the answer
     */
    public boolean isEnabled(String flagKey, User user, boolean defaultValue) {
        return state.flags().isEnabled(flagKey, user, defaultValue, failures);
    }

    /**
     * @param flagKey the flag
     * @param user the user
     * @return the variant served, or null
     */
    public String variant(String flagKey, User user) {
        return state.flags().evaluate(flagKey, user, false, failures).variant();
    }

    /**
     * Evaluates with the reason and the source; warns (rarely) about unknown flags.
     *
     * @param flagKey the flag
     * @param user the user
     * @param defaultValue the answer for an unknown flag or an error
     * @return the answer
     */
    public FlagEvaluation evaluate(String flagKey, User user, boolean defaultValue) {
        return evaluate(state, flagKey, user, defaultValue, failures);
    }

    /**
     * Evaluates a flag for a value listener of the SDK's own: as {@link #evaluate}, but a key not there is neither warned
     * of nor reported in usage as asked for.
     *
     * @return the answer with its reason; false for a flag not there
     */
    public FlagEvaluation evaluateForListener(String flagKey, User user) {
        return evaluateForListener(state, flagKey, user);
    }

    /**
     * As {@link #evaluateForListener(String, User)}, against a given state: the one a change brought, which is not
     * the current one when later changes were applied before the listener's turn came.
     *
     * @param at the state to evaluate against
     */
    public FlagEvaluation evaluateForListener(FlagState at, String flagKey, User user) {
        return evaluate(at, flagKey, user, false, listenerFailures);
    }

    /**
     * Evaluates every flag from one state.
     *
     * @param user the user
     * @return key to answer, sorted; immutable
     */
    public Map<String, FlagEvaluation> allFlags(User user) {
        FlagState s = state;
        if (s.source() == Source.DEFAULTS) {
            return Map.of();
        }
        Map<String, FlagEvaluation> all = new TreeMap<>();
        for (Flag flag : s.flags().flags()) {
            all.put(flag.key(), evaluate(s, flag.key(), user, false, failures));
        }
        for (String key : s.unreadable().keySet()) {
            all.put(key, evaluate(s, key, user, false, failures));
        }
        return Collections.unmodifiableMap(all);
    }

    private FlagEvaluation evaluate(FlagState s, String flagKey, User user, boolean defaultValue,
                                    EvaluationFailureHandler handler) {
        String key = flagKey == null ? "" : flagKey;
        if (s.source() == Source.DEFAULTS && flagKey != null) { // a null key is the caller's error, flags or none
            return new FlagEvaluation(key, defaultValue, null, null,
                    new Reason(Reason.Kind.FLAG_NOT_FOUND, -1, null, "no flags yet: " + s.note()),
                    -1, Source.DEFAULTS, s.version());
        }
        String problem = flagKey == null ? null : s.unreadable().get(flagKey);
        if (problem != null) {
            return new FlagEvaluation(key, defaultValue, null, null,
                    new Reason(Reason.Kind.ERROR, -1, null, "this SDK cannot read the flag's document: " + problem),
                    -1, s.source(), s.version());
        }
        Evaluation e = s.flags().evaluate(flagKey, user, defaultValue, handler); // an unknown key is warned of there
        return new FlagEvaluation(e.flagKey(), e.value(), e.variant(), e.payload(), e.reason(), e.flagVersion(),
                s.source(), s.version());
    }

    /**
     * The key with control characters escaped: keys can come from requests (a front end asking for a
     * flag by name), and a line break in one must not forge a log line. Token-shaped text is written
     * {@code flg_***} ({@link ReadableText#withTokensHidden}): an application that passes its sdk token
     * where a flag key goes (one variable for both) must not find the secret in its own logs (QA88 F1).
     */
    static String printable(String key) {
        key = ReadableText.withTokensHidden(key); // the same string when no "flg_" is in it: no allocation
        StringBuilder out = null;
        for (int i = 0; i < key.length(); i++) {
            char c = key.charAt(i);
            boolean control = ReadableText.unsafe(c); // a bidirectional control (U+202E) would reorder the line as read
            if (control && out == null) {
                out = new StringBuilder(key.length() + 16).append(key, 0, i);
            }
            if (out != null) {
                if (control) {
                    out.append(String.format("\\u%04x", (int) c));
                } else {
                    out.append(c);
                }
            }
        }
        return out == null ? key : out.toString();
    }

    /** A key from a caller as a log line or message shows it: tokens hidden, escaped, and cut if very long. */
    static String shown(String key) {
        // Tokens hidden before the cut: a cut through a token would leave its first characters, no longer token-shaped.
        key = ReadableText.withTokensHidden(key);
        return printable(key.length() > MAX_KEY_IN_LOG ? key.substring(0, MAX_KEY_IN_LOG) + "..." : key);
    }

    private void warnUnknown(String key, FlagState s) {
        // Remembered as the line shows it, cut: keys can come from requests, one of megabytes too, and the memo keeps up to
        // 1,000 of them for an hour (it held each whole: a gigabyte of keys of a megabyte). No flag has a key that long,
        // so the substring is made only for keys that are no flag's; two that share their first 200 characters, which the
        // line shows alike, are named once.
        String memo = key.length() > MAX_KEY_IN_LOG ? key.substring(0, MAX_KEY_IN_LOG) : key;
        if (warnedUnknown != null && !warnedUnknown.asMap().containsKey(memo)) {
            long quietUntil = unknownLinesQuietUntil;
            if (quietUntil != NOT_QUIET && nanoTime.getAsLong() - quietUntil < 0) {
                // The minute's lines are spent: counted without the budget's lock, which request threads asking for keys
                // from requests would otherwise all take on every evaluation (QA64 F6).
                unknownLinesLeftOut.increment();
                return;
            }
            // The budget first, and the memo only for a key named: a key left out is named if asked for in a later minute.
            String unnamed = unknownLineAllowed();
            if (unnamed == null || warnedUnknown.asMap().putIfAbsent(memo, Boolean.TRUE) != null) {
                return; // over the minute's lines (counted, and said in the next line), or named meanwhile by another thread
            }
            String shown = shown(key);
            // Once an hour per key, off the answers' path in all but this call: a typo in the code is the likeliest cause.
            // Bounded: keys can come from requests, and this runs on the caller's thread (a millisecond at 2,000 flags).
            String near = key.length() > MAX_KEY_IN_LOG || s.flags().size() > MAX_FLAGS_FOR_SUGGESTION ? null
                    : Suggestions.closest(key, s.flags().flags().stream().map(Flag::key).sorted().toList(), 2)
                            .map(k -> "; did you mean \"" + printable(k) + "\"?").orElse(null);
            LOG.warn("flags: no flag \"{}\" in {} (version {}): serving the caller's default{}; said once an hour"
                    + " per flag{}", shown, label, s.version(), near == null ? "" : near, unnamed);
        }
    }

    /**
     * The budget of unknown-flag lines: {@value #UNKNOWN_LINES_PER_MINUTE} a minute, whatever the number of keys (keys
     * can come from requests, and the once-an-hour memo holds only so many); the rest are counted.
     *
     * @return null if this line is over the budget (counted); else what the line adds about the evaluations left out
     *     since the last line ("" if none)
     */
    private String unknownLineAllowed() {
        synchronized (unknownLines) {
            long now = nanoTime.getAsLong();
            if (now - unknownLines[0] >= TimeUnit.MINUTES.toNanos(1) || unknownLines[1] == 0) {
                unknownLines[0] = now;
                unknownLines[1] = 0;
                unknownLinesQuietUntil = NOT_QUIET;
            }
            if (unknownLines[1] >= UNKNOWN_LINES_PER_MINUTE) {
                unknownLines[2]++;
                unknownLinesQuietUntil = unknownLines[0] + TimeUnit.MINUTES.toNanos(1);
                return null;
            }
            unknownLines[1]++;
            long unnamed = unknownLines[2] + unknownLinesLeftOut.sumThenReset();
            unknownLines[2] = 0;
            return unnamed == 0 ? "" : " (and " + unnamed + (unnamed == 1 ? " evaluation" : " evaluations") + " of unknown"
                    + " flags since the last such line left out: at most " + UNKNOWN_LINES_PER_MINUTE + " such lines a minute"
                    + " for this Flags; each is named when asked for again in a later minute, and the usage report has them all)";
        }
    }

    /** How many unknown-flag lines a minute at most; see {@link #unknownLineAllowed()}. */
    static final int UNKNOWN_LINES_PER_MINUTE = 20;
    /** Start of the minute (nanoTime), lines in it, evaluations left out since the last line; guarded by itself. */
    final long[] unknownLines = new long[3]; // package-private: a test holds its lock
    /** When the spent minute's budget ends (nanoTime), or {@link #NOT_QUIET}: until then, no line and no lock. */
    private volatile long unknownLinesQuietUntil = NOT_QUIET;
    private static final long NOT_QUIET = Long.MIN_VALUE;
    /** Evaluations left out while quiet, added to the next line's count. */
    private final LongAdder unknownLinesLeftOut = new LongAdder();
    /** The clock of that budget: {@link System#nanoTime()}, or a test's. */
    private volatile LongSupplier nanoTime = System::nanoTime;

    /** For tests: the clock of the unknown-flag lines' budget. */
    void nanoTime(LongSupplier clock) {
        this.nanoTime = Objects.requireNonNull(clock, "clock");
    }

    /*
     * Attribute names no flag can name, given to users by the application (QA50b F2): warned once an hour each, at most
     * MAX_UNMATCHABLE_NAMES names an hour, since names may come from request data. Called on every evaluation of a user
     * that has one: a map lookup then, nothing for any other user.
     */
    private final Cache<String, Boolean> warnedAttributes =
            Caffeine.newBuilder().maximumSize(MAX_UNMATCHABLE_NAMES).expireAfterWrite(Duration.ofHours(1)).build();
    /** How many attribute names an hour are warned of at most; see {@link #warnUnmatchable}. */
    static final int MAX_UNMATCHABLE_NAMES = 100;

    private void warnUnmatchable(String attributeName) {
        if (warnedAttributes.asMap().containsKey(attributeName)
                || warnedAttributes.estimatedSize() >= MAX_UNMATCHABLE_NAMES) {
            return;
        }
        if (warnedAttributes.asMap().putIfAbsent(attributeName, Boolean.TRUE) == null) {
            boolean last = warnedAttributes.estimatedSize() >= MAX_UNMATCHABLE_NAMES;
            LOG.warn("flags: the application gives users the attribute \"{}\", a name no flag can name (a letter or _,"
                    + " then letters, digits, _ . : or -, at most 128 characters): a condition meant for it never holds."
                    + " A typo in the code? Said once an hour per name, in {}{}", printable(attributeName), label,
                    last ? "; the " + MAX_UNMATCHABLE_NAMES + "th such name: no more are named for an hour" : "");
        }
    }

    private void warnFailure(String flagKey, long flagVersion, Throwable failure) {
        if (warnedFailures.asMap().putIfAbsent(flagKey + '@' + flagVersion, Boolean.TRUE) == null) {
            LOG.warn("flags: flag \"{}\" (version {}) in {} failed on a user's data and answered the caller's"
                    + " default: {}; said once an hour per flag version", printable(flagKey), flagVersion, label,
                    failure.toString());
        }
    }

    // ---------------------------------------------------------------- updates and listeners

    /** @return whether this thread holds the publish lock: it runs a listener called under it, say */
    public boolean heldByCurrentThread() {
        return Thread.holdsLock(this);
    }

    /**
     * Runs {@code change} under the publish lock: what it sets beside the state (the stream's status) and the
     * state it publishes are read by {@link #readTogether} as one, never the one without the other.
     *
     * @param change sets what goes with the state and publishes the state
     */
    public synchronized void changeTogether(Runnable change) {
        change.run();
    }

    /**
     * Reads under the publish lock what {@link #changeTogether} changes together; waits while a change is
     * published (its listeners included, where they run on the publishing thread).
     *
     * @param read reads the state and what goes with it
     * @param <T> what is read
     * @return what {@code read} returned
     */
    public synchronized <T> T readTogether(Supplier<T> read) {
        return read.get();
    }

    /**
     * Swaps in a new state and tells the listeners which flags changed. Serialized with other writers.
     *
     * @param next the new state
     */
    public void publish(FlagState next) {
        publish(next, null);
    }

    /**
     * Like {@link #publish(FlagState)}, when the caller knows which flags may have changed: only those
     * are compared for the listeners, so a change costs the same whatever the number of flags.
     *
     * @param next the new state
     * @param touched the keys of every flag that may differ between the current state and {@code next}
     *                (more is fine, fewer is not), or null if unknown: every flag is compared
     */
    public void publish(FlagState next, Set<String> touched) {
        publish(next, touched, null);
    }

    /**
     * Like {@link #publish(FlagState, Set)}, running {@code afterSwap} once the new state is in place and
     * before any listener hears of it: a listener that runs on the publishing thread and is told the
     * flags are live must find the SDK ready.
     *
     * @param afterSwap run after the swap, or null
     */
    public synchronized void publish(FlagState next, Set<String> touched, Runnable afterSwap) {
        Objects.requireNonNull(next, "next");
        FlagState old = state;
        List<Registration> targets = listeners;
        state = next;
        Consumer<List<FlagUsage>> usageSink = removedFlagsUsage;
        if (usageSink != null && old.flags() != next.flags() && removesFlags(old.flags(), next.flags(), touched)) {
            List<FlagUsage> removed = old.flags().takeUsageOfFlagsNotIn(next.flags());
            if (!removed.isEmpty()) {
                usageSink.accept(removed);
            }
        }
        if (afterSwap != null) {
            afterSwap.run();
        }
        if (old.source() != next.source() && !statusListeners.isEmpty()) {
            tellStatus(List.copyOf(statusListeners), describe.apply(next));
        }
        if (targets.isEmpty() || (old.flags() == next.flags() && old.unreadable().equals(next.unreadable()))) {
            return;
        }
        PendingChanges last = pending.get();
        if (last != null && waiting.get() >= MAX_WAITING && last.extend(next, touched, targets)) {
            // The listeners are far behind (one that blocks holds them up): this change joins the last one waiting, and
            // they hear of both at once. Queued one by one, each holding its state, changes behind a listener blocked for
            // good filled the application's heap.
            if (!behind) {
                behind = true;
                LOG.warn("flags: the change listeners of {} are {} changes behind (one that blocks holds them up): until"
                        + " they catch up, later changes are told as one, from the state before them to the newest", label,
                        MAX_WAITING);
            }
            return;
        }
        List<FlagChangeEvent> changes = touched == null ? changes(old, next) : changes(old, next, touched);
        if (changes.isEmpty()) {
            return;
        }
        PendingChanges fresh = new PendingChanges(old, next, touched, targets, changes);
        pending.set(fresh);
        waiting.incrementAndGet();
        if (!dispatch(() -> deliver(fresh), "change events")) {
            pending.compareAndSet(fresh, null); // never to run: the next change must not join it
            waiting.decrementAndGet();
        }
    }

    /** Delivers pending change events, those of the changes that joined them included. */
    private void deliver(PendingChanges p) {
        pending.compareAndSet(p, null);
        if (waiting.decrementAndGet() == 0 && behind) {
            behind = false;
        }
        PendingChanges.Taken taken = p.take();
        deliver(taken.changes(), taken.targets(), taken.at());
    }

    /**
     * Thread-safe (its own lock). Change events on their way to the listener executor: those of one change, until a
     * later change joins them while they wait ({@link #extend}, past {@link #MAX_WAITING}); then the events are made
     * again when they are taken, from the state before the first change to the state after the last.
     */
    private static final class PendingChanges {

        /** What a delivery takes. */
        record Taken(List<FlagChangeEvent> changes, List<Registration> targets, FlagState at) {
        }

        private final FlagState from;
        private final List<Registration> targets;
        // Guarded by this.
        private FlagState to;
        /** The keys of the flags that may differ between from and to, or null if unknown (every flag). */
        private Set<String> touched;
        /** The events of the first change, while no other joined it; null once one did. */
        private List<FlagChangeEvent> changes;
        private boolean taken;

        PendingChanges(FlagState from, FlagState to, Set<String> touched, List<Registration> targets,
                List<FlagChangeEvent> changes) {
            this.from = from;
            this.to = to;
            this.touched = touched == null ? null : new HashSet<>(touched);
            this.targets = targets;
            this.changes = changes;
        }

        /**
         * Joins a later change, unless the delivery has started, or the listeners changed since (a listener added
         * after the first change must not hear of it).
         *
         * @return whether it joined
         */
        synchronized boolean extend(FlagState next, Set<String> nextTouched, List<Registration> nextTargets) {
            if (taken || nextTargets != targets) {
                return false;
            }
            to = next;
            if (touched != null) {
                if (nextTouched == null) {
                    touched = null;
                } else {
                    touched.addAll(nextTouched);
                }
            }
            changes = null;
            return true;
        }

        synchronized Taken take() {
            taken = true;
            List<FlagChangeEvent> events = changes != null ? changes
                    : touched == null ? FlagStore.changes(from, to) : FlagStore.changes(from, to, touched);
            return new Taken(events, targets, to);
        }
    }

    /** Whether a change may have removed a flag: one of the touched keys is gone, or any may be (touched unknown). */
    private static boolean removesFlags(FlagSet old, FlagSet next, Set<String> touched) {
        if (touched == null) {
            return true;
        }
        for (String key : touched) {
            if (old.has(key) && !next.has(key)) {
                return true;
            }
        }
        return false;
    }

    /**
     * @param flagKey the flag to listen to, or null for every flag
     * @param listener the listener
     */
    public synchronized void addListener(String flagKey, FlagChangeListener listener) {
        List<Registration> more = new ArrayList<>(listeners);
        more.add(new Registration(flagKey, Objects.requireNonNull(listener, "listener")));
        listeners = List.copyOf(more);
    }

    /** @param listener a listener to remove everywhere it is registered */
    public synchronized void removeListener(FlagChangeListener listener) {
        listeners = listeners.stream().filter(r -> r.listener != listener).toList();
    }

    /**
     * Sets how a state becomes the {@link Freshness} that status listeners get; by default from the
     * state alone (no stream). Set before anything is published.
     *
     * @param describer state to freshness, called under the publish lock
     */
    public void describeStatusWith(Function<FlagState, Freshness> describer) {
        this.describe = Objects.requireNonNull(describer, "describer");
    }

    /**
     * Registers a status listener and hands it the current state.
     *
     * @param listener the listener
     */
    public synchronized void addStatusListener(StatusListener listener) {
        Objects.requireNonNull(listener, "listener");
        statusListeners.add(listener);
        tellStatus(List.of(listener), describe.apply(state));
    }

    /**
     * Tells the status listeners the current state again, for news that is not a change of source
     * (the flag server refusing the SDK, say).
     */
    public synchronized void statusChanged() {
        if (!statusListeners.isEmpty()) {
            tellStatus(List.copyOf(statusListeners), describe.apply(state));
        }
    }

    /** @param listener a status listener to remove everywhere it is registered */
    public void removeStatusListener(StatusListener listener) {
        statusListeners.removeIf(l -> l == listener);
    }

    private void tellStatus(List<StatusListener> targets, Freshness freshness) {
        pending.set(null); // a later change must not join changes queued before this news: listeners hear them in order
        dispatch(() -> {
            Throwable failed = null;
            for (StatusListener l : targets) {
                if (closed) {
                    break; // closed since, by a listener or another thread: close() ends every listener's calls
                }
                if (!statusListeners.contains(l)) {
                    continue; // removed since
                }
                try {
                    l.onStatus(freshness);
                } catch (StackOverflowError e) { // unwound by now: a listener's own recursion, as any failure of it
                    failed = failed(failed, e, "a status listener (" + l.getClass().getName() + ") failed on " + freshness, l);
                } catch (VirtualMachineError e) {
                    throw e;
                } catch (Throwable e) { // a listener must not stop the others, nor the SDK
                    failed = failed(failed, e, "a status listener (" + l.getClass().getName() + ") failed on " + freshness, l);
                }
            }
            rethrow(failed);
        }, "a status event");
    }

    private void deliver(List<FlagChangeEvent> changes, List<Registration> targets, FlagState at) {
        Throwable failed = null;
        for (FlagChangeEvent event : changes) {
            for (Registration r : targets) {
                if (closed) {
                    rethrow(failed); // closed since, by a listener or another thread: close() ends every listener's calls
                    return;
                }
                if ((r.flagKey == null || r.flagKey.equals(event.flagKey())) && isRegistered(r)) {
                    try {
                        if (r.listener instanceof StateListener stateful) {
                            stateful.onChange(event, at);
                        } else {
                            r.listener.onChange(event);
                        }
                    } catch (StackOverflowError e) { // unwound by now: a listener's own recursion, as any failure of it
                        Object named = r.listener instanceof Wrapper w ? w.wrapped() : r.listener; // the application's own
                        failed = failed(failed, e, "a change listener (" + named.getClass().getName() + ") failed on " + event,
                                named);
                    } catch (VirtualMachineError e) {
                        throw e;
                    } catch (Throwable e) { // a listener must not stop the others, nor the SDK
                        Object named = r.listener instanceof Wrapper w ? w.wrapped() : r.listener; // the application's own
                        failed = failed(failed, e, "a change listener (" + named.getClass().getName() + ") failed on " + event,
                                named);
                    }
                }
            }
        }
        rethrow(failed);
    }

    /** Logs a listener's failure, or keeps it for {@link #rethrow} (the first, with the later ones suppressed). */
    private Throwable failed(Throwable first, Throwable e, String what, Object listener) {
        if (!rethrowListenerFailures) {
            // The stack trace once per listener class: one that fails on every change would fill the log with them.
            if (tracedListenerClasses.add(listener.getClass().getName() + " " + e.getClass().getName())) {
                LOG.warn("flags: {}", what, e);
            } else {
                LOG.warn("flags: {}: {} (its stack trace was logged at its first failure of this kind)", what,
                        printable(e.toString()));
            }
            return null;
        }
        if (first == null) {
            return e;
        }
        first.addSuppressed(e);
        return first;
    }

    private static void rethrow(Throwable failed) {
        if (failed instanceof RuntimeException runtime) {
            throw runtime;
        }
        if (failed instanceof Error error) {
            throw error; // an AssertionError of a test's listener, as it was thrown
        }
        if (failed != null) {
            throw new IllegalStateException("a listener failed", failed);
        }
    }

    /** The flags that differ between two states, in key order. */
    static List<FlagChangeEvent> changes(FlagState old, FlagState next) {
        Map<String, Object> before = contents(old);
        Map<String, Object> after = contents(next);
        Set<String> rolesChanged = changedRoles(old.flags().roleGrants(), next.flags().roleGrants());
        Set<String> keys = new TreeSet<>(before.keySet());
        keys.addAll(after.keySet());
        List<FlagChangeEvent> changes = new ArrayList<>();
        for (String key : keys) {
            Object a = before.get(key);
            Object b = after.get(key);
            FlagChangeEvent.Change change = null;
            if (a == null) {
                change = FlagChangeEvent.Change.ADDED;
            } else if (b == null) {
                change = FlagChangeEvent.Change.REMOVED;
            } else if (!a.equals(b) || (b instanceof Flag f && namesAny(f, rolesChanged))) {
                change = FlagChangeEvent.Change.UPDATED;
            }
            if (change != null) {
                changes.add(new FlagChangeEvent(key, change, next.version(), next.source()));
            }
        }
        return changes;
    }

    /** The changes among some flags only, in key order; the role grants must be the same in both states. */
    static List<FlagChangeEvent> changes(FlagState old, FlagState next, Set<String> touched) {
        List<FlagChangeEvent> changes = new ArrayList<>(touched.size());
        for (String key : touched.size() > 1 ? new TreeSet<>(touched) : touched) {
            Object a = contentOf(old, key);
            Object b = contentOf(next, key);
            FlagChangeEvent.Change change = null;
            if (a == null && b != null) {
                change = FlagChangeEvent.Change.ADDED;
            } else if (a != null && b == null) {
                change = FlagChangeEvent.Change.REMOVED;
            } else if (a != null && !a.equals(b)) {
                change = FlagChangeEvent.Change.UPDATED;
            }
            if (change != null) {
                changes.add(new FlagChangeEvent(key, change, next.version(), next.source()));
            }
        }
        return changes;
    }

    /** The flag of a key, or the problem text of a flag that could not be read, or null. */
    private static Object contentOf(FlagState s, String key) {
        Object flag = s.flags().flag(key).orElse(null);
        return flag != null ? flag : s.unreadable().get(key);
    }

    /** Key to flag, or to the problem text of a flag that could not be read. */
    private static Map<String, Object> contents(FlagState s) {
        Map<String, Object> map = new HashMap<>();
        s.flags().flags().forEach(f -> map.put(f.key(), f));
        s.unreadable().forEach(map::put);
        return map;
    }

    private static Set<String> changedRoles(Map<String, Set<String>> before, Map<String, Set<String>> after) {
        if (before.equals(after)) {
            return Set.of();
        }
        Set<String> roles = new HashSet<>(before.keySet());
        roles.addAll(after.keySet());
        roles.removeIf(role -> Objects.equals(before.get(role), after.get(role)));
        return roles;
    }

    private static boolean namesAny(Flag flag, Set<String> roles) {
        if (roles.isEmpty()) {
            return false;
        }
        for (Rule rule : flag.rules()) {
            for (Condition c : rule.conditions()) {
                if (c instanceof Condition.Roles r && r.roles().stream().anyMatch(roles::contains)) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * Stops calling the listeners: no call starts after this (one running goes on), not even for events
     * already queued or one being delivered to several listeners. Idempotent.
     */
    @Override
    public void close() {
        closed = true;
    }

    /** Whether a registration is still in place: one removed since the change was published is not called. */
    private boolean isRegistered(Registration r) {
        for (Registration current : listeners) {
            if (current == r) {
                return true;
            }
        }
        return false;
    }

    /**
     * A change listener of the SDK's own that is also handed the state the change brought: with a listener executor
     * that runs behind the changes, {@link #state()} may already be a later change's when its turn comes.
     */
    interface StateListener extends FlagChangeListener {
        /**
         * @param event the change
         * @param at the state the change brought (the one that answered right after it)
         */
        void onChange(FlagChangeEvent event, FlagState at);

        @Override
        default void onChange(FlagChangeEvent event) {
            throw new UnsupportedOperationException("a StateListener is handed the change's state");
        }
    }

    /**
     * Registers a change listener made from the state it starts at, in one step with respect to {@link #publish}: it
     * hears of every change after that state, and of none before it.
     *
     * @param flagKey the flag to listen to, or null for every flag
     * @param startingAt makes the listener from the current state
     * @return the listener registered
     */
    public synchronized <L extends FlagChangeListener> L addListenerFrom(String flagKey, Function<FlagState, L> startingAt) {
        L listener = startingAt.apply(state);
        addListener(flagKey, listener);
        return listener;
    }

    /** A change listener the SDK made around an application's listener: failures are logged under the application's. */
    interface Wrapper {
        /** @return the application's listener */
        Object wrapped();
    }

    private record Registration(String flagKey, FlagChangeListener listener) {
    }
}
