package dev.flags.client.internal;

import dev.flags.client.FlagChangeListener;
import dev.flags.client.FlagEvaluation;
import dev.flags.client.Flags;
import dev.flags.client.StatusListener;
import dev.flags.core.Flag;
import dev.flags.core.User;
import java.util.Map;
import java.util.Objects;

/**
 * Thread-safe. The part of every {@link Flags} that only reads a {@link FlagStore}: evaluation and
 * listener registration. The SDK ({@code ClientFlags}) and the test helper ({@code TestFlags}) differ
 * only in how flags get into the store, so they share this. Internal: not API.
 */
public abstract class StoreBackedFlags implements Flags {

    /** The snapshot holder every method reads. */
    protected final FlagStore store;

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
        Objects.requireNonNull(flagKey, "flagKey");
        if (!Flag.isValidKey(flagKey)) {
            // A listener for a key no flag can have would wait forever: a typo to hear of now.
            throw new IllegalArgumentException("no flag can have the key \"" + FlagStore.shown(flagKey)
                    + "\" (" + Flag.KEY_SYNTAX + "): a listener for it would never be called");
        }
        store.addListener(flagKey, listener);
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
    public void addStatusListener(StatusListener listener) {
        store.addStatusListener(listener);
    }

    @Override
    public final void removeStatusListener(StatusListener listener) {
        store.removeStatusListener(listener);
    }
}
