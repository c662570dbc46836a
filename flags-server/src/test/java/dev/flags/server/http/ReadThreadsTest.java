package dev.flags.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The reads' threads shared out by sender: shares, turns, and a stop. */
@Timeout(30)
class ReadThreadsTest {

    private ReadThreads reads;

    @AfterEach
    void stop() {
        if (reads != null) {
            reads.close(Duration.ofSeconds(5));
        }
    }

    /** A read that says it began, then holds its thread until let go. */
    private static Runnable held(String name, BlockingQueue<String> began, CountDownLatch letGo) {
        return () -> {
            began.add(name);
            try {
                letGo.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
    }

    @Test
    void aSendersReadsBeyondItsShareWaitWhileAnothersRun() throws Exception {
        reads = new ReadThreads("test-read", 4, 2);
        BlockingQueue<String> began = new LinkedBlockingQueue<>();
        CountDownLatch slow = new CountDownLatch(1);
        for (int i = 1; i <= 5; i++) {
            reads.execute("leaked", held("leaked-" + i, began, slow));
        }
        assertThat(List.of(began.take(), began.take())).containsExactlyInAnyOrder("leaked-1", "leaked-2");
        assertThat(reads.running()).isEqualTo(2);
        assertThat(reads.waiting()).isEqualTo(3);

        CountDownLatch done = new CountDownLatch(1);
        reads.execute("other", done::countDown);
        assertThat(done.await(10, TimeUnit.SECONDS)).as("another token's read, while the leaked one's wait").isTrue();

        slow.countDown(); // the slow clients read at last: their waiting reads run
        assertThat(List.of(began.take(), began.take(), began.take())).containsExactlyInAnyOrder("leaked-3", "leaked-4",
                "leaked-5");
    }

    @Test
    void whenAThreadComesFreeTheWaitingSendersTakeTurns() throws Exception {
        reads = new ReadThreads("test-read", 2, 2);
        BlockingQueue<String> began = new LinkedBlockingQueue<>();
        List<CountDownLatch> letGo = new CopyOnWriteArrayList<>();
        for (int i = 0; i < 6; i++) {
            letGo.add(new CountDownLatch(1));
        }
        reads.execute("a", held("a1", began, letGo.get(0)));
        reads.execute("a", held("a2", began, letGo.get(1)));
        assertThat(List.of(began.take(), began.take())).containsExactlyInAnyOrder("a1", "a2");
        reads.execute("a", held("a3", began, letGo.get(2)));
        reads.execute("a", held("a4", began, letGo.get(3)));
        reads.execute("b", held("b1", began, letGo.get(4)));
        reads.execute("b", held("b2", began, letGo.get(5)));
        assertThat(reads.waiting()).isEqualTo(4);

        letGo.get(0).countDown();
        assertThat(began.take()).as("a's turn came first").isEqualTo("a3");
        letGo.get(1).countDown();
        assertThat(began.take()).as("then b's, though a has more waiting").isEqualTo("b1");
        letGo.get(2).countDown();
        assertThat(began.take()).isEqualTo("a4");
        letGo.get(4).countDown();
        assertThat(began.take()).isEqualTo("b2");
        assertThat(reads.waiting()).isZero();
        letGo.forEach(CountDownLatch::countDown);
    }

    @Test
    void aStopDropsTheWaitingReadsInterruptsTheRunningOnesAndTakesNoMore() throws Exception {
        reads = new ReadThreads("test-read", 1, 1);
        BlockingQueue<String> began = new LinkedBlockingQueue<>();
        CountDownLatch never = new CountDownLatch(1);
        CountDownLatch interrupted = new CountDownLatch(1);
        reads.execute("a", () -> {
            began.add("a1");
            try {
                never.await();
            } catch (InterruptedException e) {
                interrupted.countDown();
            }
        });
        assertThat(began.take()).isEqualTo("a1");
        reads.execute("b", () -> began.add("b1"));
        assertThat(reads.waiting()).isEqualTo(1);

        reads.close(Duration.ofSeconds(5));
        assertThat(interrupted.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(reads.waiting()).isZero();
        assertThat(reads.running()).isZero();
        assertThat(began).as("the waiting read never ran").isEmpty();
        assertThatThrownBy(() -> reads.execute("c", () -> { })).isInstanceOf(RejectedExecutionException.class);
    }

    @Test
    void sharesAndThreadsMustBeAtLeastOne() {
        assertThatThrownBy(() -> new ReadThreads("test-read", 0, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ReadThreads("test-read", 2, 0)).isInstanceOf(IllegalArgumentException.class);
    }
}
