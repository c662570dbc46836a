package dev.flags.server.sync;

import java.time.Instant;
import java.util.Objects;

/**
 * Immutable. One open sync stream as the server's list of SDKs shows it: who opened it, what the server has sent it,
 * and what its SDK has said it applied.
 *
 * @param instanceId the SDK instance's id ({@code SubscribeRequest.instance_id}); empty for an SDK that does not
 *     acknowledge (one from before acknowledgements)
 * @param tokenId the id of the token the stream was opened with
 * @param sdk the SDK's name and version as it gave them, cut to 100 characters
 * @param application the application's name as it gave it, cut to 100 characters; empty if none
 * @param connectedAt when the stream was opened
 * @param sentVersion the version of the last Snapshot or Delta the server wrote to the stream (or the version the SDK
 *     came with, when it was current); 0 before either
 * @param appliedVersion the newest version the SDK has acknowledged on this stream, at most {@code sentVersion}; -1
 *     if it has acknowledged none
 * @param appliedAt when it acknowledged {@code appliedVersion}; null if it has acknowledged none
 */
public record SdkStream(String instanceId, String tokenId, String sdk, String application, Instant connectedAt,
    long sentVersion, long appliedVersion, Instant appliedAt) {

  /** Checks every part. */
  public SdkStream {
    Objects.requireNonNull(instanceId, "instanceId");
    Objects.requireNonNull(tokenId, "tokenId");
    Objects.requireNonNull(sdk, "sdk");
    Objects.requireNonNull(application, "application");
    Objects.requireNonNull(connectedAt, "connectedAt");
  }

  /** @return whether its SDK sends acknowledgements (it subscribed with an instance id) */
  public boolean acknowledges() {
    return !instanceId.isEmpty();
  }
}
