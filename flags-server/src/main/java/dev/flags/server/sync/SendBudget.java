package dev.flags.server.sync;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Thread-safe. Bounds the bytes of large sync messages the server has handed to gRPC and its SDKs have
 * not yet taken, in all and per token.
 *
 * <p>gRPC copies every message into the connection's buffers, and a buffer is freed only once the bytes
 * are on their way over the network: a snapshot (up to an environment's size, megabytes) written to a
 * stream whose SDK does not read stays in the server's memory until it does. Each stream holds at most
 * one such message (its writer waits for the stream to be {@linkplain
 * io.grpc.stub.ServerCallStreamObserver#isReady() ready} before the next), but without a bound a client
 * that opens streams and never reads them, up to the streams a token may have, would fill the server's
 * memory with copies of the same snapshot. With it, a message of {@link #LARGE} bytes or more waits
 * until the budget has room: its stream is queued and woken in turn.
 *
 * <p>Two bounds: {@code total} for the whole server, and half of it for the streams of any one token,
 * so that one token's clients cannot hold back every other token's. A message larger than a bound is
 * still sent when nothing else holds that bound, so that no message waits forever. The queue is served
 * in order, except that a stream whose token is at its share lets the ones behind it pass.
 *
 * <p>A borrower that holds its bytes too long while others wait is {@linkplain #overdue cut}: otherwise two or
 * three tokens whose streams never read could hold all of the budget, and every other token's snapshots, and a
 * connected SDK's next large message with every change behind it, would wait until those streams ended. Its token's
 * waiters are then served after everyone else's, until one of its borrowers takes a message.
 */
final class SendBudget {

  private static final Logger LOG = LoggerFactory.getLogger(SendBudget.class);

  /**
   * Messages smaller than this are not counted: a Delta of a flag or two, a Heartbeat, so that the fan-out of
   * ordinary changes takes no lock here. A stream holds at most one message its SDK has not taken, and is not ready
   * for the next while this much of it is queued (its onReady threshold), so the small ones cost at most twice this
   * per stream: 80 MiB for the 10,000 streams a token may have by default. (At 64 KiB,
   * one token's streams that never read held 640 MiB of snapshots just under it, more than the memory outside the
   * heap that gRPC may use, and starved every other token's SDKs.)
   */
  static final int LARGE = 4 * 1024;

  /** Whoever holds or waits for a part of the budget: a stream's writer, or a one-off snapshot. */
  interface Borrower {
    /** The id of the token the borrower's stream was opened with. */
    String tokenId();

    /** Called, outside the budget's lock, once the bytes asked for are held for the borrower: send them. */
    void granted();

    /**
     * Ends the borrower's call on the wire, so that what gRPC holds for it is freed, and gives back what it holds:
     * its client has not taken its message for too long while others wait (see {@link #overdue}).
     *
     * @param why what the server's side of the call is told
     */
    void cut(String why);
  }

  private final long total;
  private final long perToken;
  private final LongSupplier nanoTime;
  /** Guarded by this. Bytes held, in all. */
  private long held;
  /** Guarded by this. Bytes held by each borrower; a borrower holding nothing has no entry. */
  private final Map<Borrower, Long> holders = new HashMap<>();
  /** Guarded by this. When each holder's bytes were held for the message it sends (System.nanoTime's scale). */
  private final Map<Borrower, Long> heldSince = new HashMap<>();
  /** Guarded by this. Bytes held by the borrowers of each token; a token holding nothing has no entry. */
  private final Map<String, Long> heldByToken = new HashMap<>();
  /** Guarded by this. Borrowers waiting, in the order they asked, with the bytes each asked for. */
  private final LinkedHashMap<Borrower, Long> waiting = new LinkedHashMap<>();
  /** Guarded by this. Tokens whose streams wait for their share, already logged: one WARN per episode. */
  private final Set<String> warnedTokens = new HashSet<>();
  /**
   * Guarded by this. Tokens one of whose borrowers was cut for holding its bytes too long, until one of their borrowers
   * takes its message ({@link #taken}): their waiters are served after everyone else's. Without it, streams that never
   * read, reconnecting as SDKs do, took their turn again and again, each holding the room it was given until it was
   * cut, and a reader queued behind them waited two heartbeat intervals for each.
   */
  private final Set<String> suspects = new HashSet<>();
  /** Guarded by this. Whether streams wait for the server's bound, already logged. */
  private boolean warnedFull;

  /**
   * @param total bytes all borrowers together may hold; each token's borrowers may hold half of it
   * @param nanoTime the clock of {@link #overdue}, in nanoseconds
   * @throws IllegalArgumentException if total is not positive
   */
  SendBudget(long total, LongSupplier nanoTime) {
    if (total <= 0) {
      throw new IllegalArgumentException("send budget must be positive, was " + total);
    }
    this.total = total;
    this.perToken = Math.max(1, total / 2);
    this.nanoTime = nanoTime;
  }

  /** @return whether a message of this many bytes must be counted */
  static boolean large(int bytes) {
    return bytes >= LARGE;
  }

  /**
   * Holds {@code bytes} for the borrower, who is about to send a message of that size, or queues it.
   * What the borrower already held (a grant it has not used yet) counts towards it.
   *
   * @return true if the bytes are held now: send; false if the borrower waits, and is told by {@link
   *     Borrower#granted()} when they are held
   */
  boolean take(Borrower borrower, long bytes) {
    List<Borrower> woken;
    boolean now;
    String warning = null;
    synchronized (this) {
      Long asked = waiting.get(borrower);
      if (asked != null && asked == bytes) {
        return false; // still waiting (signalled for a heartbeat, say): nothing changed that could let it through
      }
      Long has = holders.get(borrower);
      if (has != null && has >= bytes) {
        add(borrower, bytes - has);
        heldSince.put(borrower, nanoTime.getAsLong()); // its message is written now
        woken = has > bytes ? grantWaiting() : List.of();
        now = true;
      } else {
        if (has != null) {
          add(borrower, -has); // granted too little for the message it now has to send: asks again
        }
        waiting.put(borrower, bytes); // one that waits already keeps its place
        woken = grantWaiting();
        now = woken.remove(borrower);
        if (!now) {
          warning = waitWarning(borrower.tokenId(), bytes);
        }
      }
      notifyAll();
    }
    if (warning != null) {
      LOG.warn(warning);
    }
    tell(woken);
    return now;
  }

  /** Why a borrower waits, once per episode (not once per waiting stream): null if already said. */
  private String waitWarning(String tokenId, long bytes) {
    long token = heldByToken.getOrDefault(tokenId, 0L);
    if (token > 0 && token + bytes > perToken) {
      return warnedTokens.add(tokenId) ? "sync: the streams of token " + tokenId + " hold " + mib(token) + " of messages"
          + " their SDKs have not taken yet, of the " + mib(perToken) + " one token may hold (half of --max-sync-buffer-mib, "
          + mib(total) + "), and its next (" + mib(bytes) + ") does not fit; its other streams wait (are its SDKs reading?)"
          : null;
    }
    if (!warnedFull) {
      warnedFull = true;
      // Which tokens to look at (or revoke) first: the operator should not have to piece it together from earlier lines.
      String most = heldByToken.entrySet().stream()
          .sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(5)
          .map(e -> e.getKey() + " (" + mib(e.getValue()) + ")").collect(java.util.stream.Collectors.joining(", "));
      return "sync: streams hold " + mib(held) + " of messages their SDKs have not taken yet, of the " + mib(total)
          + " the server holds (--max-sync-buffer-mib), and the next (" + mib(bytes) + ") does not fit; new snapshots wait"
          + " until some are taken; the tokens holding the most: " + most;
    }
    return null;
  }

  private static String mib(long bytes) {
    return String.format(Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024.0));
  }

  /**
   * Gives back all the borrower holds, and forgets it if it waits: its stream has ended (or its message was taken: see
   * {@link #taken}). Safe to call any number of times, from any thread.
   */
  void giveBack(Borrower borrower) {
    release(borrower, false);
  }

  /**
   * As {@link #giveBack}, for a borrower whose message its client has taken: if it held bytes, its token reads, and
   * its waiters are served in their turn again.
   */
  void taken(Borrower borrower) {
    release(borrower, true);
  }

  private void release(Borrower borrower, boolean taken) {
    List<Borrower> woken;
    synchronized (this) {
      if (taken && holders.containsKey(borrower)) {
        suspects.remove(borrower.tokenId());
      }
      waiting.remove(borrower); // a waiter gone may have blocked the ones behind it: granted below
      Long has = holders.get(borrower);
      if (has != null) {
        add(borrower, -has);
      }
      woken = grantWaiting();
      notifyAll();
    }
    tell(woken);
  }

  /**
   * The borrowers to cut: while any borrower waits for room, those that hold it back and have held their bytes for
   * {@code timeout} or longer, that is, whose clients have not taken their message in that time. A waiter whose
   * token is at its share is held back by that token's holders only; any other, by every holder. Each is forgotten here (what it
   * held is given back, and the waiting are granted what now fits); the caller cuts them, outside this lock.
   * While nothing waits, nobody is cut: a stream that does not read then holds no one back, and costs only what
   * the budget bounds.
   *
   * @param timeoutNanos how long a borrower may hold its bytes while others wait
   * @return the borrowers to cut, possibly none
   */
  List<Borrower> overdue(long timeoutNanos) {
    List<Borrower> overdue = new ArrayList<>(0);
    List<Borrower> woken;
    synchronized (this) {
      if (waiting.isEmpty()) {
        return overdue;
      }
      // Whom the waiting wait for: a waiter whose token is at its share waits for that token's holders only; any
      // other waits for room in the whole budget, which every holder takes.
      boolean anyHolderBlocks = false;
      Set<String> tokensThatBlock = new HashSet<>();
      for (Map.Entry<Borrower, Long> e : waiting.entrySet()) {
        String tokenId = e.getKey().tokenId();
        long token = heldByToken.getOrDefault(tokenId, 0L);
        if (token > 0 && token + e.getValue() > perToken) {
          tokensThatBlock.add(tokenId);
        } else {
          anyHolderBlocks = true;
        }
      }
      long now = nanoTime.getAsLong();
      for (Map.Entry<Borrower, Long> e : heldSince.entrySet()) {
        Borrower holder = e.getKey();
        if (now - e.getValue() >= timeoutNanos && (anyHolderBlocks || tokensThatBlock.contains(holder.tokenId()))) {
          overdue.add(holder);
        }
      }
      for (Borrower b : overdue) {
        add(b, -holders.get(b));
        suspects.add(b.tokenId());
      }
      woken = overdue.isEmpty() ? List.of() : grantWaiting();
      notifyAll();
    }
    tell(woken);
    return overdue;
  }

  /**
   * @param timeoutNanos how long
   * @return the borrowers that have held their bytes for that long or longer, whoever waits: at a stop, those whose
   *     clients do not read, which a close would wait on
   */
  synchronized List<Borrower> heldLongerThan(long timeoutNanos) {
    long now = nanoTime.getAsLong();
    List<Borrower> stuck = new ArrayList<>(0);
    heldSince.forEach((holder, since) -> {
      if (now - since >= timeoutNanos) {
        stuck.add(holder);
      }
    });
    return stuck;
  }

  /** @return the bytes held now, in all (a gauge) */
  synchronized long held() {
    return held;
  }

  /** @return how many borrowers wait for room now (a gauge) */
  synchronized int waiting() {
    return waiting.size();
  }

  /** @return the bytes the borrowers of a token hold now */
  synchronized long heldBy(String tokenId) {
    return heldByToken.getOrDefault(tokenId, 0L);
  }

  /** @return the bytes all borrowers together may hold */
  long total() {
    return total;
  }

  /** @return the bytes the borrowers of one token may hold */
  long perToken() {
    return perToken;
  }

  /** For tests: waits until the budget's state satisfies a condition. */
  synchronized boolean await(Predicate<SendBudget> condition, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.test(this)) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    return true;
  }

  /**
   * Grants the waiters that fit, in order, those of {@linkplain #suspects suspect} tokens after all the others; returns
   * them, to be told outside the lock.
   */
  private List<Borrower> grantWaiting() {
    if (waiting.isEmpty()) {
      return new ArrayList<>(0);
    }
    List<Borrower> granted = new ArrayList<>();
    if (grantInOrder(granted, false) && !suspects.isEmpty()) {
      grantInOrder(granted, true);
    }
    return granted;
  }

  /** @return false if a waiter did not fit the whole budget: those behind it, suspect ones too, wait behind it */
  private boolean grantInOrder(List<Borrower> granted, boolean ofSuspects) {
    for (Iterator<Map.Entry<Borrower, Long>> it = waiting.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<Borrower, Long> e = it.next();
      String tokenId = e.getKey().tokenId();
      if (suspects.contains(tokenId) != ofSuspects) {
        continue;
      }
      long bytes = e.getValue();
      long token = heldByToken.getOrDefault(tokenId, 0L);
      if (token > 0 && token + bytes > perToken) {
        continue; // its token is at its share: the ones behind it may pass
      }
      if (held > 0 && held + bytes > total) {
        return false; // in order: a large message is not starved by smaller ones behind it
      }
      it.remove();
      add(e.getKey(), bytes);
      heldSince.put(e.getKey(), nanoTime.getAsLong());
      granted.add(e.getKey());
    }
    return true;
  }

  private void add(Borrower borrower, long bytes) {
    held += bytes;
    if (holders.merge(borrower, bytes, (a, b) -> a + b == 0 ? null : a + b) == null) {
      heldSince.remove(borrower);
    }
    if (heldByToken.merge(borrower.tokenId(), bytes, (a, b) -> a + b == 0 ? null : a + b) == null) {
      warnedTokens.remove(borrower.tokenId()); // the episode is over: say it again next time
    }
    if (held <= total / 2) {
      warnedFull = false;
    }
  }

  private static void tell(List<Borrower> woken) {
    for (Borrower b : woken) {
      b.granted();
    }
  }
}
