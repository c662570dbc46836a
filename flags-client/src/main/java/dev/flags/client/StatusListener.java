package dev.flags.client;

/**
 * Thread-safe (it must be: see below). Told when the state of the SDK changed: where its flags come
 * from ({@link Freshness#source()}), and so whether they are live, stale, cached or defaults.
 *
 * <p>A listener is called once soon after it is registered, with the state at that moment, and then
 * after each change of source: the first sync ({@code DEFAULTS} or {@code CACHE_FILE} to
 * {@code LIVE}), a lost stream ({@code LIVE} to {@code STALE}), a recovery ({@code STALE} to
 * {@code LIVE}), the first good read of an offline file; and when the flag server starts or stops
 * refusing the SDK ({@link Freshness#refused()}) or the cache file starts or stops failing to be
 * written ({@link Freshness#cacheFileProblem()}). Not on every change of flags: that is
 * {@link FlagChangeListener}'s job.
 *
 * <p>Listeners are called like change listeners: on a thread of the SDK's listener executor
 * ({@code flags-events-N} unless {@link Flags.Builder#listenerExecutor} says otherwise; a direct
 * executor runs them on the thread that applied the change), in order (with a single-threaded
 * executor), and
 * {@link dev.flags.client.testing.TestFlags} calls them on the calling thread. A listener that throws
 * is logged and does not stop the others nor the SDK.
 *
 * <pre>{@code
 * flags.addStatusListener(f -> metrics.gauge("flags_live", f.source() == Source.LIVE ? 1 : 0));
 * }</pre>
 */
@FunctionalInterface
public interface StatusListener {

    /**
     * Called when the state of the SDK changed (and once at registration).
     *
     * @param freshness the state: version, source, stream state, last contact, problem; never null
     */
    void onStatus(Freshness freshness);
}
