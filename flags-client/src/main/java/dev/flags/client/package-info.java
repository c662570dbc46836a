/**
 * The SDK that applications use: flags evaluated locally, in nanoseconds, from a copy of the rules
 * that the flag server keeps up to date.
 *
 * <p>What applications use: {@link dev.flags.client.Flags} (created once with
 * {@link dev.flags.client.Flags#builder()}, asked on every request), the answers
 * {@link dev.flags.client.FlagEvaluation} and {@link dev.flags.client.Source}, change listeners
 * ({@link dev.flags.client.FlagChangeListener}, {@link dev.flags.client.FlagChangeEvent}), and what
 * operators watch: {@link dev.flags.client.Freshness} and {@link dev.flags.client.Health}. Users,
 * reasons and the flag model are flags-core's ({@link dev.flags.core.User},
 * {@link dev.flags.core.Reason}).
 *
 * <p>Tests of applications use {@link dev.flags.client.testing.TestFlags}; applications written
 * against OpenFeature use {@link dev.flags.client.openfeature.FlagsProvider}. Everything in
 * {@code dev.flags.client.internal} is the implementation: it may change in any release.
 */
package dev.flags.client;
