/**
 * The SDK's implementation: not API. Applications use {@link dev.flags.client.Flags}; anything here
 * may change in any release.
 *
 * <p>The parts: {@link dev.flags.client.internal.ClientFlags} (the one implementation of
 * {@code Flags}), {@link dev.flags.client.internal.FlagStore} (the immutable snapshot behind a
 * volatile field, evaluation and change listeners), {@code Syncer} (the gRPC stream: subscribe from
 * a version, apply, watchdog, reconnect with backoff), {@code Updates} (wire messages to snapshots),
 * {@code CacheFile} (the fail-static file) and {@code OfflineFile} (offline mode and its watcher).
 */
package dev.flags.client.internal;
