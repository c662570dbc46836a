/**
 * For the tests of applications that use the SDK: {@link dev.flags.client.testing.TestFlags}, an
 * in-memory {@link dev.flags.client.Flags} whose flags a test sets directly, with no server and no
 * file.
 */
package dev.flags.client.testing;
