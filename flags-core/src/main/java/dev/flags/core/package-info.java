/**
 * The flag model, its JSON format and the evaluator, for applications that evaluate flags locally
 * and for the server and SDK built on top.
 *
 * <p>What applications use: {@link dev.flags.core.User} (who is asking),
 * {@link dev.flags.core.FlagSet} (a compiled, immutable set of flags that evaluates),
 * {@link dev.flags.core.Evaluation} and {@link dev.flags.core.Reason} (the answer and why).
 * What tools use: {@link dev.flags.core.FlagFormat} (read and write the JSON format, with every
 * problem reported by {@link dev.flags.core.FlagValidationException}), the model records
 * ({@link dev.flags.core.Flag}, {@link dev.flags.core.Rule}, {@link dev.flags.core.Condition},
 * {@link dev.flags.core.Target}, {@link dev.flags.core.Variant}) and
 * {@link dev.flags.core.Bucketing}, the documented hash, {@link dev.flags.core.WriteRules} (what a flag server
 * refuses beyond the format, so that a tool can say it without one) and {@link dev.flags.core.ReadableText} (what
 * names and descriptions people read may hold, and how to show text someone else chose). The other public
 * types are what these take and return ({@link dev.flags.core.Problem}, {@link dev.flags.core.Explanation} ...);
 * everything else is package-private.
 *
 * <p>This package has no network, server or client code; its only dependency is Jackson.
 */
package dev.flags.core;
