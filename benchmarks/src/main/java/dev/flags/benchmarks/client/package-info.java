/**
 * For maintainers: benchmarks of the client SDK, {@code flags-client}.
 *
 * <p>{@link dev.flags.benchmarks.client.FacadeBenchmark} (JMH) times {@code isEnabled} through the
 * {@link dev.flags.client.Flags} facade beside the bare {@link dev.flags.core.FlagSet}, with the six
 * scenarios and the 1,024 users of {@link dev.flags.benchmarks.eval}; its answers are checked before
 * timing. {@link dev.flags.benchmarks.client.PropagationBenchmark} (a main) measures the time from an
 * acknowledged admin-API write until every connected SDK instance answers with the change, against a
 * real flag server in a child JVM ({@link dev.flags.benchmarks.client.PropagationServer}). Figures and
 * commands: {@code docs/BENCHMARKS-client.md}.
 */
package dev.flags.benchmarks.client;
