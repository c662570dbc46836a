/**
 * The gRPC sync service: streams every environment's changes to the SDKs subscribed to it. For the
 * server's wiring ({@link dev.flags.server.sync.Broadcaster}, {@link
 * dev.flags.server.sync.SyncService}, {@link dev.flags.server.sync.AuthInterceptor}); SDKs see only
 * the wire schema in {@code flags-protocol}.
 *
 * <p>The contract is the one written in {@code flag_sync.proto}: a subscriber gets exactly the
 * changes it is missing (one Delta), or a Snapshot when that cannot be computed, then every change in
 * order, without gaps or duplicates, and heartbeats on idle streams. A slow subscriber costs one
 * remembered state, never a queue: what it has not taken yet is coalesced into one Delta. Everything
 * else in the package (the per-environment topic, the per-subscriber writer, the message builder, the
 * version history) is package-private.
 */
package dev.flags.server.sync;
