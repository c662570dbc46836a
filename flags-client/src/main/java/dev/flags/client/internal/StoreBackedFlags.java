package dev.flags.client.internal;

import dev.flags.client.FlagChangeEvent;
import dev.flags.client.FlagChangeListener;
import dev.flags.client.FlagEvaluation;
import dev.flags.client.FlagValueChangeEvent;
import dev.flags.client.FlagValueListener;
import dev.flags.client.Flags;
import dev.flags.client.StatusListener;
import dev.flags.core.Flag;
import dev.flags.core.User;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Thread-safe. The part of every {@link Flags} that only reads a {@link FlagStore}: evaluation and
 * listener registration. The SDK ({@code ClientFlags}) and the test helper ({@code TestFlags}) differ
 * only in how flags get into the store, so they share this. Internal: not API.
 */
public abstract class StoreBackedFlags implements Flags {

    /** The snapshot holder every method reads. */
    protected final FlagStore store;

    /**
     * Each value listener's watches, one per registration; guarded by the store's lock (FlagStore's methods synchronize on
     * the store): one lock, so that a listener run inside a publish (a direct listener executor, test flags) may add or
     * remove value listeners while another thread does too. With a lock of its own taken before the store's, that was a
     * deadlock.
     */
    private final Map<FlagValueListener, List<ValueWatch>> valueWatches = new IdentityHashMap<>();

    /** @param store the snapshot holder */
    protected StoreBackedFlags(FlagStore store) {
        this.store = Objects.requireNonNull(store, "store");
    }

    @Override
    public final boolean isEnabled(String flagKey, User user) {
        return store.isEnabled(flagKey, user, false);
    }

    @Override
    public final boolean isEnabled(String flagKey, User user, boolean defaultValue) {
        return store.isEnabled(flagKey, user, defaultValue);
    }

    @Override
    public final String variant(String flagKey, User user) {
        return store.variant(flagKey, user);
    }

    @Override
    public final FlagEvaluation evaluate(String flagKey, User user) {
        return store.evaluate(flagKey, user, false);
    }

    @Override
    public final FlagEvaluation evaluate(String flagKey, User user, boolean defaultValue) {
        return store.evaluate(flagKey, user, defaultValue);
    }

    @Override
    public final Map<String, FlagEvaluation> allFlags(User user) {
        return store.allFlags(user);
    }

    @Override
    public final void addListener(String flagKey, FlagChangeListener listener) {
        checkListenable(flagKey);
        store.addListener(flagKey, listener);
    }

    private static void checkListenable(String flagKey) {
        Objects.requireNonNull(flagKey, "flagKey");
        if (!Flag.isValidKey(flagKey)) {
            // A listener for a key no flag can have would wait forever: a typo to hear of now.
            throw new IllegalArgumentException("no flag can have the key \"" + FlagStore.shown(flagKey)
                    + "\" (" + Flag.KEY_SYNTAX + "): a listener for it would never be called");
        }
    }

    @Override
    public final void addListener(FlagChangeListener listener) {
        store.addListener(null, listener);
    }

    @Override
    public final void removeListener(FlagChangeListener listener) {
        store.removeListener(listener);
    }

    @Override
    public final void addValueListener(String flagKey, User user, FlagValueListener listener) {
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(listener, "listener");
        checkListenable(flagKey);
        synchronized (store) { // with its removal: a watch never outlives removeValueListener
            // Its first answer and its registration in one step: a change in between would be judged against a stale one.
            ValueWatch watch = store.addListenerFrom(flagKey,
                    at -> new ValueWatch(flagKey, user, listener, store.evaluateForListener(at, flagKey, user)));
            valueWatches.computeIfAbsent(listener, l -> new ArrayList<>()).add(watch);
        }
    }

    @Override
    public final void removeValueListener(FlagValueListener listener) {
        synchronized (store) {
            List<ValueWatch> watches = valueWatches.remove(listener);
            if (watches != null) {
                watches.forEach(store::removeListener);
            }
        }
    }

    /**
     * A change listener that tells a value listener when one user's answer changed. Its calls come one change set at a
     * time, in order (FlagStore's promise), each with the state that change brought, so the answer it last knew is the
     * one before, and the one it compares it with is that change's, not a later change's already applied (an off
     * and an on applied before the listener's turn would otherwise look like no change at all).
     */
    private final class ValueWatch implements FlagStore.StateListener, FlagStore.Wrapper {
        private final String flagKey;
        private final User user;
        private final FlagValueListener listener;
        private final AtomicReference<FlagEvaluation> last;

        ValueWatch(String flagKey, User user, FlagValueListener listener, FlagEvaluation now) {
            this.flagKey = flagKey;
            this.user = user;
            this.listener = listener;
            this.last = new AtomicReference<>(now);
        }

        @Override
        public void onChange(FlagChangeEvent event, FlagState at) {
            FlagEvaluation now = store.evaluateForListener(at, flagKey, user);
            FlagEvaluation before = last.getAndSet(now);
            if (before.value() != now.value() || !Objects.equals(before.variant(), now.variant())
                    || !Objects.equals(before.payload(), now.payload())) {
                listener.onValueChange(new FlagValueChangeEvent(flagKey, user, before, now));
            }
        }

        @Override
        public Object wrapped() {
            return listener;
        }
    }

    @Override
    public void addStatusListener(StatusListener listener) {
        store.addStatusListener(listener);
    }

    @Override
    public final void removeStatusListener(StatusListener listener) {
        store.removeStatusListener(listener);
    }
}
