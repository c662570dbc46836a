/**
 * The OpenFeature provider, for applications written against OpenFeature's API
 * ({@code dev.openfeature:sdk}, an optional dependency of this SDK: add it to use this package).
 * See {@link dev.flags.client.openfeature.FlagsProvider}.
 */
package dev.flags.client.openfeature;
