package dev.flags.server.sync;

import dev.flags.core.ReadableText;
import java.util.Objects;

/**
 * Immutable. What a subscription says of the SDK instance that opened it, already checked and cut to size.
 *
 * @param instanceId the instance's id, empty if it gave none
 * @param sdk the SDK's name and version, at most 100 characters, no control characters
 * @param application the application's name, at most 100 characters, no control characters; empty if none
 */
record StreamIdentity(String instanceId, String sdk, String application) {

  /** Longest sdk or application name kept; longer ones are cut. */
  static final int MAX_NAME = 100;

  /** An SDK that says nothing of itself. */
  static final StreamIdentity ANONYMOUS = new StreamIdentity("", "", "");

  StreamIdentity {
    Objects.requireNonNull(instanceId, "instanceId");
    Objects.requireNonNull(sdk, "sdk");
    Objects.requireNonNull(application, "application");
  }

  /**
   * A name as the list of SDKs shows it: control characters (a terminal's escapes among them) replaced by {@code ?},
   * cut to {@link #MAX_NAME} characters.
   */
  static String name(String given) {
    StringBuilder out = new StringBuilder(Math.min(given.length(), MAX_NAME));
    for (int i = 0; i < given.length() && out.length() < MAX_NAME; i++) {
      char c = given.charAt(i);
      // Controls, line separators, bidirectional and invisible characters: what no name people read may hold (QA49a F5)
      out.append(ReadableText.unsafe(c) || Character.getType(c) == Character.FORMAT || ReadableText.invisible(c) ? '?' : c);
    }
    if (out.length() > 0 && Character.isHighSurrogate(out.charAt(out.length() - 1))) {
      out.setLength(out.length() - 1); // cut between the two halves of a character
    }
    return out.toString();
  }
}
