package dev.flags.client;

/**
 * Thread-safe (it must be: see below). Told when a flag changed.
 *
 * <p>Listeners are called on a thread of the SDK's listener executor ({@code flags-events-N} unless
 * {@link Flags.Builder#listenerExecutor} says otherwise; a direct executor runs them on the thread
 * that applied the change), one change set at a time and in order. A listener that throws is logged and does
 * not stop the others. A listener should be quick; the new answer is already served when it runs.
 *
 * <pre>{@code
 * flags.addListener("billing-v2", event -> log.info("billing-v2 changed: {}", event));
 * }</pre>
 */
@FunctionalInterface
public interface FlagChangeListener {

    /**
     * Called after a flag changed.
     *
     * @param event which flag, how, and the version of the flags that now answer; never null
     */
    void onChange(FlagChangeEvent event);
}
