package dev.flags.server.sync;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import org.junit.jupiter.api.Test;

/** The instances closed by their application: newest first, bounded in number and in time. */
class ClosedInstancesTest {

    private static SdkStream stream(String instance) {
        return new SdkStream(instance, "tok-sdk", "flags-java/1", "checkout", Instant.EPOCH, 4, 4, Instant.EPOCH);
    }

    @Test
    void listsThoseClosedSinceATimeNewestFirstAndForgetsTheOldestOverItsBounds() {
        ClosedInstances closed = new ClosedInstances(3, 60_000);
        closed.add("tok-sdk\na", stream("a"), 1_000);
        closed.add("tok-sdk\nb", stream("b"), 2_000);
        closed.add("tok-sdk\nc", stream("c"), 3_000);
        assertThat(closed.since(2_000, 3_000)).extracting(SdkStream::instanceId).containsExactly("c", "b");
        assertThat(closed.since(0, 3_000)).extracting(SdkStream::instanceId).containsExactly("c", "b", "a");

        closed.add("tok-sdk\nd", stream("d"), 4_000); // one more than it keeps: the oldest goes
        assertThat(closed.since(0, 4_000)).extracting(SdkStream::instanceId).containsExactly("d", "c", "b");
        closed.add("tok-sdk\nb", stream("b"), 5_000); // the same instance again: once, as the newest
        assertThat(closed.since(0, 5_000)).extracting(SdkStream::instanceId).containsExactly("b", "d", "c");

        assertThat(closed.since(0, 64_500)).as("a minute on: c (3 s) and d (4 s) are too old")
                .extracting(SdkStream::instanceId).containsExactly("b");
        assertThat(closed.since(0, 65_000)).isEmpty();
    }
}
