package dev.flags.server.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The send budget's rules, on its own: what is held, who waits, and in which order they are let through. */
class SendBudgetTest {

  /** A borrower that counts how often it was told its bytes are held. */
  private static final class Stream implements SendBudget.Borrower {
    final String token;
    final AtomicInteger granted = new AtomicInteger();

    Stream(String token) {
      this.token = token;
    }

    @Override
    public String tokenId() {
      return token;
    }

    @Override
    public void granted() {
      granted.incrementAndGet();
    }

    @Override
    public void cut(String why) {
      throw new AssertionError("the budget only names whom to cut; the broadcaster cuts them");
    }
  }

  /** The budget's clock, in nanoseconds: moved by the tests. */
  private final AtomicLong clock = new AtomicLong(1_000);

  @Test
  void aTokenHoldsAtMostHalfAndItsNextStreamWaitsUntilTheFirstGivesBack() {
    SendBudget budget = new SendBudget(100, clock::get);
    Stream first = new Stream("a");
    Stream second = new Stream("a");
    Stream other = new Stream("b");

    assertThat(budget.take(first, 40)).isTrue();
    assertThat(budget.take(second, 40)).as("40 + 40 is over token a's half of 100").isFalse();
    assertThat(budget.take(other, 40)).as("another token is not held back").isTrue();
    assertThat(budget.held()).isEqualTo(80);
    assertThat(budget.waiting()).isEqualTo(1);
    assertThat(second.granted).hasValue(0);

    budget.giveBack(first);

    assertThat(second.granted).as("told once its bytes are held").hasValue(1);
    assertThat(budget.heldBy("a")).isEqualTo(40);
    assertThat(budget.waiting()).isZero();
    assertThat(budget.take(second, 40)).as("the grant is its to use").isTrue();
    assertThat(budget.held()).isEqualTo(80);
  }

  @Test
  void aMessageLargerThanABoundIsSentWhenNothingElseHoldsThatBound() {
    SendBudget budget = new SendBudget(100, clock::get);
    Stream big = new Stream("a");
    Stream bigger = new Stream("b");

    assertThat(budget.take(big, 70)).as("over token a's half, but token a holds nothing").isTrue();
    assertThat(budget.take(bigger, 150)).as("over the whole budget, and the budget is not empty").isFalse();

    budget.giveBack(big);

    assertThat(bigger.granted).hasValue(1);
    assertThat(budget.held()).isEqualTo(150);
  }

  @Test
  void waitersAreLetThroughInOrderSoThatALargeOneIsNotStarvedBySmallOnes() {
    SendBudget budget = new SendBudget(100, clock::get);
    Stream holder = new Stream("a");
    Stream large = new Stream("b");
    Stream small = new Stream("c");
    assertThat(budget.take(holder, 40)).isTrue();

    assertThat(budget.take(large, 70)).as("40 + 70 is over 100").isFalse();
    assertThat(budget.take(small, 5)).as("40 + 5 would fit, but it is behind the large one").isFalse();
    assertThat(small.granted).hasValue(0);

    budget.giveBack(holder);

    assertThat(large.granted).hasValue(1);
    assertThat(small.granted).as("70 + 5 fits").hasValue(1);
    assertThat(budget.held()).isEqualTo(75);
  }

  @Test
  void aWaiterWhoseTokenIsAtItsShareLetsTheOnesBehindItPass() {
    SendBudget budget = new SendBudget(100, clock::get);
    Stream a1 = new Stream("a");
    Stream a2 = new Stream("a");
    Stream b = new Stream("b");
    assertThat(budget.take(a1, 40)).isTrue();
    assertThat(budget.take(a2, 30)).isFalse();

    assertThat(budget.take(b, 30)).as("behind a2 in the queue, but a2 waits for its token, not for the budget").isTrue();
    assertThat(budget.waiting()).isEqualTo(1);
  }

  @Test
  void aWaiterThatGoesAwayLeavesTheQueueAndOneThatAsksAgainKeepsItsPlace() {
    SendBudget budget = new SendBudget(100, clock::get);
    Stream holder = new Stream("a");
    Stream first = new Stream("b");
    Stream second = new Stream("c");
    assertThat(budget.take(holder, 90)).isTrue();
    assertThat(budget.take(first, 40)).isFalse();
    assertThat(budget.take(second, 40)).isFalse();

    assertThat(budget.take(first, 40)).as("signalled again while it waits (a heartbeat tick)").isFalse();
    budget.giveBack(holder);
    assertThat(first.granted).as("still first").hasValue(1);
    assertThat(second.granted).hasValue(1);

    Stream gone = new Stream("d");
    assertThat(budget.take(gone, 90)).isFalse();
    budget.giveBack(gone);
    assertThat(budget.waiting()).isZero();
    assertThat(gone.granted).hasValue(0);
  }

  @Test
  void aGrantLargerThanTheMessageNowToSendIsCutToItsSize() {
    SendBudget budget = new SendBudget(100, clock::get);
    Stream holder = new Stream("a");
    Stream s = new Stream("b");
    assertThat(budget.take(holder, 30)).isTrue();
    assertThat(budget.take(s, 80)).isFalse();
    budget.giveBack(holder);
    assertThat(s.granted).hasValue(1);

    assertThat(budget.take(s, 20)).as("the target moved on: a smaller message").isTrue();
    assertThat(budget.held()).isEqualTo(20);

    budget.giveBack(s);
    budget.giveBack(s);
    assertThat(budget.held()).isZero();
    assertThat(budget.heldBy("b")).isZero();
  }

  @Test
  void theWarningsSayTheBoundTheNextMessageAndWhichTokensHoldTheMost() throws Exception {
    long mib = 1 << 20;
    long snapshot = 26 * mib / 10;
    SendBudget budget = new SendBudget(8 * mib, clock::get);
    Stream a1 = new Stream("tok-a");
    String token = dev.flags.server.StandardErrorCapture.during(() -> {
      assertThat(budget.take(a1, snapshot)).isTrue();
      assertThat(budget.take(new Stream("tok-a"), snapshot)).isFalse();
    });
    assertThat(token).contains("the streams of token tok-a hold 2.6 MiB of messages their SDKs have not taken yet, of the"
        + " 4.0 MiB one token may hold (half of --max-sync-buffer-mib, 8.0 MiB), and its next (2.6 MiB) does not fit");

    String full = dev.flags.server.StandardErrorCapture.during(() -> {
      assertThat(budget.take(new Stream("tok-b"), snapshot)).isTrue();
      assertThat(budget.take(new Stream("tok-c"), snapshot)).isTrue();
      assertThat(budget.take(new Stream("tok-d"), mib / 2)).isFalse();
    });
    assertThat(full).contains("streams hold 7.8 MiB of messages their SDKs have not taken yet, of the 8.0 MiB the server"
        + " holds (--max-sync-buffer-mib), and the next (0.5 MiB) does not fit").contains("the tokens holding the most: ")
        .contains("tok-a (2.6 MiB)").contains("tok-b (2.6 MiB)").contains("tok-c (2.6 MiB)");
  }

  @Test
  void whileOthersWaitTheHoldersThatHaveHeldPastTheTimeoutAreOverdueAndWhatTheyHeldIsGivenToTheWaiting() {
    SendBudget budget = new SendBudget(100, clock::get);
    Stream stuck = new Stream("a");
    Stream fresh = new Stream("b");
    Stream waiting = new Stream("c");
    assertThat(budget.take(stuck, 60)).isTrue();
    clock.addAndGet(500);
    assertThat(budget.take(fresh, 30)).isTrue();
    assertThat(budget.take(waiting, 50)).as("60 + 30 + 50 is over 100").isFalse();

    clock.addAndGet(499);
    assertThat(budget.overdue(1_000)).as("held for 999 ns of 1,000: not yet").isEmpty();
    clock.addAndGet(1);
    assertThat(budget.overdue(1_000)).as("held for 1,000 ns; the other for 500").containsExactly(stuck);

    assertThat(budget.heldBy("a")).as("forgotten: what it held is given back").isZero();
    assertThat(waiting.granted).as("and the waiting stream gets it").hasValue(1);
    assertThat(budget.held()).isEqualTo(80);
    assertThat(budget.waiting()).isZero();
    budget.giveBack(stuck);
    assertThat(budget.held()).as("its own give-back, when its call ends, changes nothing").isEqualTo(80);
  }

  @Test
  void whileNobodyWaitsNobodyIsOverdueHoweverLongItHolds() {
    SendBudget budget = new SendBudget(100, clock::get);
    Stream stuck = new Stream("a");
    assertThat(budget.take(stuck, 60)).isTrue();
    clock.addAndGet(1_000_000);
    assertThat(budget.overdue(1_000)).isEmpty();
    assertThat(budget.heldBy("a")).isEqualTo(60);

    Stream late = new Stream("b");
    assertThat(budget.take(late, 50)).isFalse();
    assertThat(budget.overdue(1_000)).as("now that one waits").containsExactly(stuck);
  }

  @Test
  void aWaiterHeldBackByItsTokensShareHasOnlyThatTokensHoldersCut() {
    SendBudget budget = new SendBudget(100, clock::get);
    Stream stuck = new Stream("a");
    Stream slow = new Stream("b");
    Stream second = new Stream("a");
    assertThat(budget.take(stuck, 40)).isTrue();
    assertThat(budget.take(slow, 40)).isTrue();
    assertThat(budget.take(second, 20)).as("40 + 20 is over token a's half; 100 is not over the budget").isFalse();
    clock.addAndGet(1_000);

    assertThat(budget.overdue(1_000)).as("token b's slow reader holds nobody back").containsExactly(stuck);
    assertThat(second.granted).hasValue(1);
    assertThat(budget.heldBy("b")).isEqualTo(40);
  }

  @Test
  void aCutTokensWaitersAreServedAfterEveryoneElsesUntilOneOfItsBorrowersTakesAMessage() {
    SendBudget budget = new SendBudget(100, clock::get);
    Stream stuck = new Stream("a");
    Stream stuckAgain = new Stream("a");
    Stream reader = new Stream("b");
    assertThat(budget.take(stuck, 60)).isTrue();
    assertThat(budget.take(stuckAgain, 50)).as("queued first").isFalse();
    assertThat(budget.take(reader, 50)).as("queued second").isFalse();
    clock.addAndGet(1_000);

    assertThat(budget.overdue(1_000)).containsExactly(stuck);

    assertThat(reader.granted).as("served first: token a's was cut").hasValue(1);
    assertThat(stuckAgain.granted).as("then token a's, once the others fit: 50 + 50").hasValue(1);
    budget.giveBack(stuckAgain); // its stream ended, its message not taken: token a is still suspect
    Stream third = new Stream("a");
    Stream other = new Stream("c");
    assertThat(budget.take(third, 60)).isFalse();
    assertThat(budget.take(other, 60)).isFalse();
    budget.taken(reader);
    assertThat(other.granted).as("token c before token a, queued later").hasValue(1);
    assertThat(third.granted).hasValue(0);

    budget.taken(other);
    assertThat(third.granted).hasValue(1);
    budget.taken(third); // token a's borrower took its message: it reads again
    Stream fourth = new Stream("a");
    Stream fifth = new Stream("d");
    Stream holder = new Stream("e");
    assertThat(budget.take(holder, 60)).isTrue();
    assertThat(budget.take(fourth, 60)).isFalse();
    assertThat(budget.take(fifth, 60)).isFalse();
    budget.giveBack(holder);
    assertThat(fourth.granted).as("in its turn again").hasValue(1);
    assertThat(fifth.granted).hasValue(0);
  }

  @Test
  void aHolderIsTimedFromItsLatestMessageAndAGrantFromWhenItWasGranted() {
    SendBudget budget = new SendBudget(100, clock::get);
    Stream reader = new Stream("a");
    Stream waiter = new Stream("b");
    Stream other = new Stream("c");
    assertThat(budget.take(reader, 40)).isTrue();
    clock.addAndGet(900);
    budget.giveBack(reader); // taken
    assertThat(budget.take(reader, 40)).as("its next message").isTrue();
    assertThat(budget.take(waiter, 70)).isFalse();
    clock.addAndGet(900);
    assertThat(budget.overdue(1_000)).as("its latest message is 900 ns old").isEmpty();

    budget.giveBack(reader);
    assertThat(waiter.granted).hasValue(1);
    assertThat(budget.take(other, 40)).isFalse();
    clock.addAndGet(999);
    assertThat(budget.overdue(1_000)).as("granted 999 ns ago").isEmpty();
    clock.addAndGet(1);
    List<SendBudget.Borrower> overdue = budget.overdue(1_000);
    assertThat(overdue).containsExactly(waiter);
    assertThat(other.granted).hasValue(1);
  }

  @Test
  void onlyLargeMessagesAreCountedAndTheBudgetMustBePositive() {
    assertThat(SendBudget.large(SendBudget.LARGE - 1)).isFalse();
    assertThat(SendBudget.large(SendBudget.LARGE)).isTrue();
    assertThatThrownBy(() -> new SendBudget(0, clock::get)).hasMessage("send budget must be positive, was 0");
  }
}
