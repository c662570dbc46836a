/**
 * For maintainers: JMH benchmarks of flag evaluation, ours and the peers' SDKs side by side.
 *
 * <p>Six scenarios ({@link dev.flags.benchmarks.eval.Scenario}) are expressed once per implementation,
 * each in that implementation's own flag format ({@code src/main/resources/dev/flags/benchmarks/eval}),
 * and evaluated for a pool of 1,024 users ({@link dev.flags.benchmarks.eval.UserPool}). Every
 * implementation is a {@link dev.flags.benchmarks.eval.Fixture}: before anything is timed, its answers
 * for every user in every scenario are checked against {@link dev.flags.benchmarks.eval.Expected}, and
 * the benchmark fails loudly on a single wrong answer.
 *
 * <p>Each {@code *Benchmark} class has two concrete subclasses: {@code Latency} (average time, one
 * thread) and {@code Throughput} (operations per second, two threads). Run them all with
 * {@code java -jar benchmarks/target/benchmarks.jar -prof gc} (see {@code docs/BENCHMARKS.md}).
 */
package dev.flags.benchmarks.eval;
