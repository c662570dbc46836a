package dev.flags.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.client.testing.TestFlags;
import dev.flags.core.User;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Value listeners added and removed from inside a change listener, while another thread adds one: no deadlock. */
class ValueListenerLockTest {

    private static final User USER = User.withId("u-1");

    @Test
    void aListenerOnThePublishingThreadAddsAValueListenerWhileAnotherThreadAddsOne() throws Exception {
        TestFlags flags = TestFlags.create(); // listeners run on the thread that made the change, inside its publish
        CountDownLatch inListener = new CountDownLatch(1);
        Thread[] other = new Thread[1];
        other[0] = new Thread(() -> {
            try {
                inListener.await();
                flags.addValueListener("c", USER, event -> { });
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "adds-a-value-listener");
        other[0].setDaemon(true);
        flags.addListener("a", event -> {
            inListener.countDown();
            // The other thread holds whatever addValueListener takes first, and waits for the rest.
            Await.until("the other thread waits for a lock", () -> other[0].getState() == Thread.State.BLOCKED);
            flags.addValueListener("b", USER, e -> { });
            flags.removeValueListener(e -> { });
        });
        other[0].start();
        Thread changing = new Thread(() -> flags.enable("a"), "changes-a-flag");
        changing.setDaemon(true);
        changing.start();
        changing.join(TimeUnit.SECONDS.toMillis(10));
        other[0].join(TimeUnit.SECONDS.toMillis(10));
        assertThat(changing.isAlive()).as("the change and its listener ended").isFalse();
        assertThat(other[0].isAlive()).as("the other thread's addValueListener ended").isFalse();
        assertThat(flags.isEnabled("a", USER)).isTrue();
    }
}
