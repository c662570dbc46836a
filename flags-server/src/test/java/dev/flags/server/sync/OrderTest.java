package dev.flags.server.sync;

import static dev.flags.server.sync.SyncFixture.ENV;
import static dev.flags.server.sync.SyncFixture.createEnvironment;
import static dev.flags.server.sync.SyncFixture.createFlag;
import static dev.flags.server.sync.SyncFixture.flagEvent;
import static dev.flags.server.sync.SyncFixture.role;
import static dev.flags.server.sync.SyncFixture.updateFlag;
import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.server.journal.EntryType;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Many writers at once: every subscriber sees every version in order, and ends at the journal. */
class OrderTest extends SyncFixtureTest {

  private static final int WRITERS = 6;
  private static final int CHANGES_PER_WRITER = 80;

  @Test
  void concurrentWritesReachEverySubscriberInOrderWithoutGapsOrDuplicates() throws Exception {
    f = SyncFixture.start(dir);
    f.write(createEnvironment(ENV));
    for (int i = 0; i < 10; i++) {
      f.write(createFlag(ENV, "shared-" + i));
    }
    long start = f.version();
    List<Recorder> early = new ArrayList<>();
    List<Replica> earlyReplicas = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      // From the start version and from nothing; as an SDK that takes member changes and as an older one.
      Recorder r = f.subscribe(i % 2 == 0 ? start : 0, i >= 2);
      early.add(r);
      earlyReplicas.add(i % 2 == 0 ? Replica.of(f.env()) : Replica.empty());
    }

    ExecutorService pool = Executors.newFixedThreadPool(WRITERS);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<?>> writers = new ArrayList<>();
    for (int w = 0; w < WRITERS; w++) {
      int writer = w;
      writers.add(pool.submit(() -> {
        go.await();
        write(writer);
        return null;
      }));
    }
    go.countDown();
    // Subscribers that join while the writers are busy: from nothing, and from the start version.
    Recorder lateFromZero = f.subscribe(0, true);
    Recorder lateFromStart = f.subscribe(start, true);
    Replica lateStartReplica = Replica.of(f.journal.stateAt(sequenceOf(start))
        .environment(ENV).orElseThrow());
    for (Future<?> w : writers) {
      w.get(60, TimeUnit.SECONDS);
    }
    pool.shutdown();

    long end = f.version();
    assertThat(end).isEqualTo(start + (long) WRITERS * CHANGES_PER_WRITER);
    List<Replica> all = new ArrayList<>();
    for (int i = 0; i < early.size(); i++) {
      all.add(early.get(i).applyUntil(earlyReplicas.get(i), end));
    }
    all.add(lateFromZero.applyUntil(Replica.empty(), end));
    all.add(lateFromStart.applyUntil(lateStartReplica, end));
    for (Replica replica : all) {
      assertThat(replica.flags()).isEqualTo(Replica.flagsOf(f.env()));
      assertThat(replica.members()).isEqualTo(Replica.membersOf(f.env()));
    }
    for (Recorder r : early) {
      assertThat(r.poll()).as("nothing after the last version").isNull();
    }
  }

  private long sequenceOf(long version) {
    return f.journal.read(1, 10_000).stream()
        .filter(e -> ENV.equals(e.environment()) && e.version() == version)
        .findFirst().orElseThrow().sequence();
  }

  /** One writer's changes: only its own flags and users, so that no change conflicts. */
  private void write(int writer) {
    Random random = new Random(writer);
    List<String> live = new ArrayList<>();
    Set<String> granted = new HashSet<>();
    for (int i = 0; i < CHANGES_PER_WRITER; i++) {
      int op = random.nextInt(6);
      String user = "u-" + writer + "-" + random.nextInt(4);
      String member = user + "/beta-" + (writer % 2);
      if (op == 0 || live.isEmpty()) {
        String key = "w" + writer + "-" + i;
        f.write(createFlag(ENV, key));
        live.add(key);
      } else if (op == 1 && live.size() > 1) {
        f.write(flagEvent(random.nextBoolean() ? EntryType.FLAG_ARCHIVED : EntryType.FLAG_DELETED,
            ENV, live.remove(random.nextInt(live.size()))));
      } else if (op == 2) {
        if (granted.add(member)) {
          f.write(role(EntryType.ROLE_GRANTED, ENV, user, "beta-" + (writer % 2)));
        } else {
          granted.remove(member);
          f.write(role(EntryType.ROLE_REVOKED, ENV, user, "beta-" + (writer % 2)));
        }
      } else if (op == 5) {
        f.write(updateFlag(ENV, "shared-" + random.nextInt(10), random.nextBoolean(),
            random.nextInt(101)));
      } else {
        f.write(updateFlag(ENV, live.get(random.nextInt(live.size())), random.nextBoolean(),
            random.nextInt(101)));
      }
    }
  }
}
