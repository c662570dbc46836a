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

  /** What the list of SDKs shows for a name that looks like a token: the name itself is never kept (QA85 F1). */
  static final String HIDDEN_TOKEN = "(hidden: looks like a flag server token)";

  /**
   * A name as the list of SDKs shows it: control characters (a terminal's escapes among them) replaced by {@code ?},
   * cut to {@link #MAX_NAME} characters; {@link #HIDDEN_TOKEN} for one that holds what looks like a token, which every
   * reader of the environment's SDKs would see (the stream is not refused for it: its flags matter more than its name).
   */
  static String name(String given) {
    if (ReadableText.holdsAToken(given)) {
      return HIDDEN_TOKEN;
    }
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
