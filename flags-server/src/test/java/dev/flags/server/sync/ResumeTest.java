package dev.flags.server.sync;

import static dev.flags.server.sync.SyncFixture.ENV;
import static dev.flags.server.sync.SyncFixture.bigUpdate;
import static dev.flags.server.sync.SyncFixture.createEnvironment;
import static dev.flags.server.sync.SyncFixture.createFlag;
import static dev.flags.server.sync.SyncFixture.flagEvent;
import static dev.flags.server.sync.SyncFixture.role;
import static dev.flags.server.sync.SyncFixture.updateFlag;
import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.protocol.v1.Delta;
import dev.flags.protocol.v1.FlagDocument;
import dev.flags.protocol.v1.RoleGrant;
import dev.flags.protocol.v1.Snapshot;
import dev.flags.protocol.v1.SyncMessage;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.EnvironmentState;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Subscribing from a version: exactly the missing changes, or a Snapshot when that is not possible. */
class ResumeTest extends SyncFixtureTest {

  /** production: flags a, b, c and user u-1 with role beta, at version 5. */
  private void seed() {
    f.write(createEnvironment(ENV));
    f.write(createFlag(ENV, "a"));
    f.write(createFlag(ENV, "b"));
    f.write(createFlag(ENV, "c"));
    f.write(role(EntryType.ROLE_GRANTED, ENV, "u-1", "beta"));
  }

  /** From version 5: a changes, u-2 joins beta, c is archived, d is created, u-1 leaves beta. */
  private void changeAfterSeed() {
    f.write(updateFlag(ENV, "a", true, 50));
    f.write(role(EntryType.ROLE_GRANTED, ENV, "u-2", "beta"));
    f.write(flagEvent(EntryType.FLAG_ARCHIVED, ENV, "c"));
    f.write(createFlag(ENV, "d"));
    f.write(role(EntryType.ROLE_REVOKED, ENV, "u-1", "beta"));
  }

  @Test
  void upToDateSubscriberGetsAHeartbeatAtOnceThenEachChangeAsADelta() throws Exception {
    f = SyncFixture.start(dir);
    seed();
    Recorder r = f.subscribe(5);

    SyncMessage first = r.next();
    assertThat(first.hasHeartbeat()).isTrue();
    assertThat(first.getHeartbeat().getVersion()).isEqualTo(5);

    f.write(updateFlag(ENV, "b", true, 10));
    Delta d = r.next().getDelta();
    assertThat(d.getFromVersion()).isEqualTo(5);
    assertThat(d.getVersion()).isEqualTo(6);
    assertThat(d.getUpsertedList()).extracting(FlagDocument::getKey).containsExactly("b");
    assertThat(d.getUpserted(0).getJson())
        .isEqualTo(f.env().flags().get("b").toString());
    assertThat(d.getRemovedList()).isEmpty();
    assertThat(d.getRoleGrantsList()).isEmpty();
    assertThat(d.getCommittedAtMillis()).isPositive();
    assertThat(r.poll()).isNull();
  }

  @Test
  void olderVersionGetsOneDeltaWithOnlyWhatChanged() throws Exception {
    f = SyncFixture.start(dir);
    seed();
    EnvironmentState atFive = f.env();
    changeAfterSeed();

    Recorder r = f.subscribe(5);
    SyncMessage first = r.next();

    assertThat(first.hasDelta()).as("%s", first).isTrue();
    Delta d = first.getDelta();
    assertThat(d.getFromVersion()).isEqualTo(5);
    assertThat(d.getVersion()).isEqualTo(10);
    assertThat(d.getUpsertedList()).extracting(FlagDocument::getKey).containsExactly("a", "d");
    assertThat(d.getRemovedList()).containsExactly("c");
    assertThat(d.getRoleGrantsList()).containsExactly(
        RoleGrant.newBuilder().setRole("beta").addUserIds("u-2").build());
    Replica replica = Replica.of(atFive);
    replica.apply(first);
    assertThat(replica.flags()).isEqualTo(Replica.flagsOf(f.env()));
    assertThat(replica.members()).isEqualTo(Replica.membersOf(f.env()));
    // Version 5 was never published (nobody was subscribed): it came from the journal, once.
    assertThat(f.broadcaster.historyLoads()).isEqualTo(1);
    assertThat(f.broadcaster.snapshotsSent()).isZero();
  }

  @Test
  void aStreamResumedWithADeltaAnnouncesTheHeartbeatIntervalRightBehindIt() throws Exception {
    // A Delta carries no interval: without the Heartbeat its SDK would judge this server's silence by the interval an
    // earlier server announced (QA76). The fixture's heartbeats are an hour apart, so only the announcement is here.
    f = SyncFixture.start(dir);
    seed();
    changeAfterSeed();
    Recorder r = f.subscribe(5);

    assertThat(r.next().getDelta().getVersion()).isEqualTo(10);
    SyncMessage second = r.next();
    assertThat(second.hasHeartbeat()).as("%s", second).isTrue();
    assertThat(second.getHeartbeat().getVersion()).isEqualTo(10);
    assertThat(second.getHeartbeat().getHeartbeatIntervalMillis()).isEqualTo(java.time.Duration.ofHours(1).toMillis());
    // Announced once: the next change is a Delta alone.
    f.write(updateFlag(ENV, "b", true, 10));
    assertThat(r.next().getDelta().getVersion()).isEqualTo(11);
    assertThat(r.poll()).isNull();
  }

  @Test
  void aResumeWhoseVersionIsNotRebuiltWithinAHeartbeatIntervalGetsASnapshot() throws Exception {
    // Rebuilds run one at a time: one queued behind others left the stream silent until its SDK gave it up (QA65 F5).
    f = SyncFixture.start(dir, b -> b.heartbeatInterval(java.time.Duration.ofMillis(200)));
    seed();
    changeAfterSeed();
    java.util.concurrent.CountDownLatch release = holdTheHistoryLoader();
    try {
      Recorder r = f.subscribe(5);
      SyncMessage first = r.next();
      assertThat(first.hasSnapshot()).as("%s", first).isTrue();
      assertThat(first.getSnapshot().getVersion()).isEqualTo(10);
      assertThat(f.broadcaster.historyLoads()).isZero(); // still queued
    } finally {
      release.countDown();
    }
  }

  @Test
  void aTokenQueuesAtMostFourRebuildsAndItsFurtherResumesGetASnapshotAtOnce() throws Exception {
    // Whoever holds an sdk token could resume from every version the environment ever had, each a rebuild from the
    // journal queued for the one loader, hours of it on a large journal, while other tokens' resumes waited (QA95 F2).
    f = SyncFixture.start(dir); // a heartbeat of an hour: a resume waiting for its rebuild stays silent
    seed();
    changeAfterSeed();
    java.util.concurrent.CountDownLatch release = holdTheHistoryLoader();
    java.util.concurrent.CountDownLatch firsts = new java.util.concurrent.CountDownLatch(9);
    java.util.concurrent.CountDownLatch snapshots = new java.util.concurrent.CountDownLatch(5);
    java.util.concurrent.ConcurrentLinkedQueue<SyncMessage> first = new java.util.concurrent.ConcurrentLinkedQueue<>();
    try {
      for (long v = 1; v <= 9; v++) { // versions 1 to 9 of 10, none rebuilt yet
        f.stub(SyncFixture.SDK).subscribe(SyncFixture.request(ENV, v), new io.grpc.stub.StreamObserver<>() {
          private boolean seen;

          @Override
          public void onNext(SyncMessage m) {
            if (!seen) {
              seen = true;
              first.add(m);
              if (m.hasSnapshot()) {
                snapshots.countDown();
              }
              firsts.countDown();
            }
          }

          @Override
          public void onError(Throwable t) {
          }

          @Override
          public void onCompleted() {
          }
        });
      }
      assertThat(snapshots.await(20, java.util.concurrent.TimeUnit.SECONDS))
          .as("five of the nine get their snapshot while the loader is held up").isTrue();
    } finally {
      release.countDown();
    }
    Recorder other = f.subscribe(SyncFixture.ADMIN, ENV, 9);
    assertThat(other.next().hasDelta()).as("another token's resume is not refused its rebuild").isTrue();
    assertThat(firsts.await(20, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    assertThat(first).filteredOn(SyncMessage::hasDelta).hasSize(4);
    assertThat(first).filteredOn(SyncMessage::hasSnapshot).hasSize(5);
  }

  @Test
  void roleThatLosesItsLastMemberIsSentWithAnEmptyList() throws Exception {
    f = SyncFixture.start(dir);
    seed();
    Recorder r = f.subscribe(5);
    assertThat(r.next().hasHeartbeat()).isTrue();

    f.write(role(EntryType.ROLE_GRANTED, ENV, "u-1", "gamma"));
    assertThat(r.next().getDelta().getRoleGrantsList()).containsExactly(
        RoleGrant.newBuilder().setRole("gamma").addUserIds("u-1").build());
    f.write(role(EntryType.ROLE_REVOKED, ENV, "u-1", "beta"));
    assertThat(r.next().getDelta().getRoleGrantsList()).containsExactly(
        RoleGrant.newBuilder().setRole("beta").build());
  }

  @Test
  void resumingAfterARestartCostsADeltaNotASnapshot() throws Exception {
    f = SyncFixture.start(dir);
    seed();
    f.write(createEnvironment("staging"));
    for (int i = 0; i < 50; i++) {
      f.write(createFlag("staging", "s-" + i)); // other environments' entries in between
    }
    Replica replica = f.subscribe(0).applyUntil(Replica.empty(), 5);

    f.restart();
    changeAfterSeed();
    Recorder r = f.subscribe(5);
    SyncMessage first = r.next();

    assertThat(first.hasDelta()).as("%s", first).isTrue();
    replica.apply(first);
    assertThat(replica.version).isEqualTo(10);
    assertThat(replica.flags()).isEqualTo(Replica.flagsOf(f.env()));
    assertThat(replica.members()).isEqualTo(Replica.membersOf(f.env()));
    assertThat(f.broadcaster.snapshotsSent()).isZero();
    assertThat(f.broadcaster.deltasSent()).isEqualTo(1);
  }

  @Test
  void manySubscribersResumingAtOneVersionShareOneJournalLoad() throws Exception {
    f = SyncFixture.start(dir);
    seed();
    EnvironmentState atFive = f.env();
    changeAfterSeed();
    f.restart();

    List<Recorder> recorders = new ArrayList<>();
    for (int i = 0; i < 25; i++) {
      recorders.add(f.subscribe(5));
    }
    SyncMessage expected = null;
    for (Recorder r : recorders) {
      SyncMessage m = r.next();
      assertThat(m.hasDelta()).isTrue();
      if (expected == null) {
        expected = m;
      }
      assertThat(m).isEqualTo(expected);
    }
    Replica replica = Replica.of(atFive);
    replica.apply(expected);
    assertThat(replica.flags()).isEqualTo(Replica.flagsOf(f.env()));
    assertThat(f.broadcaster.historyLoads()).isEqualTo(1);
  }

  @Test
  void deltasForResumingStreamsAreKeptWithinABound() throws Exception {
    f = SyncFixture.start(dir);
    f.write(createEnvironment(ENV));
    for (int i = 0; i < 10; i++) {
      f.write(createFlag(ENV, "f" + i));
    }
    for (int round = 1; round <= 2; round++) {
      for (int i = 0; i < 10; i++) {
        f.write(bigUpdate(ENV, "f" + i, round, 50_000));
      }
    }
    long current = f.version();
    // An sdk token resuming from one old version after another, each stream cancelled after its Delta (QA77 F1): each
    // Delta holds most of the half-megabyte environment, and none of them is of use to a stream still open.
    for (long v = 11; v < current; v++) {
      Recorder r = f.subscribe(v);
      Delta d = r.next().getDelta();
      assertThat(d.getFromVersion()).isEqualTo(v);
      assertThat(d.getVersion()).isEqualTo(current);
      r.cancel();
    }
    assertThat(f.broadcaster.topic(ENV).target().cachedDeltaBytes()).isPositive()
        .isLessThanOrEqualTo(Topic.MAX_CACHED_DELTA_BYTES);

    Recorder again = f.subscribe(11); // past the bound, a Delta is still sent, built for its stream alone
    assertThat(again.next().getDelta().getUpsertedCount()).isEqualTo(10);
  }

  @Test
  void versionZeroGetsASnapshotOfEverything() throws Exception {
    f = SyncFixture.start(dir, b -> b.heartbeatInterval(java.time.Duration.ofSeconds(7)));
    seed();
    f.write(role(EntryType.ROLE_GRANTED, ENV, "u-0", "beta"));

    Snapshot s = f.subscribe(0).next().getSnapshot();

    assertThat(s.getEnvironment()).isEqualTo(ENV);
    assertThat(s.getVersion()).isEqualTo(6);
    assertThat(s.getFlagsList()).extracting(FlagDocument::getKey).containsExactly("a", "b", "c");
    assertThat(s.getFlags(0).getJson()).isEqualTo(f.env().flags().get("a").toString());
    assertThat(s.getRoleGrantsList()).containsExactly(
        RoleGrant.newBuilder().setRole("beta").addUserIds("u-0").addUserIds("u-1").build());
    assertThat(s.getHeartbeatIntervalMillis()).isEqualTo(7000);
    assertThat(f.broadcaster.snapshotsSent()).isEqualTo(1);
  }

  @Test
  void versionAheadOfTheServerGetsASnapshot() throws Exception {
    f = SyncFixture.start(dir);
    seed();

    SyncMessage first = f.subscribe(42).next();

    assertThat(first.hasSnapshot()).isTrue();
    assertThat(first.getSnapshot().getVersion()).isEqualTo(5);
  }

  @Test
  void versionTooFarBackGetsASnapshot() throws Exception {
    f = SyncFixture.start(dir, b -> b.historySearchLimit(20));
    seed();
    f.write(createEnvironment("staging"));
    for (int i = 0; i < 100; i++) {
      f.write(createFlag("staging", "s-" + i));
    }
    f.write(updateFlag(ENV, "a", true, 5));

    SyncMessage first = f.subscribe(2).next();

    assertThat(first.hasSnapshot()).as("%s", first).isTrue();
    assertThat(first.getSnapshot().getVersion()).isEqualTo(6);
    Replica replica = Replica.empty();
    replica.apply(first);
    assertThat(replica.flags()).isEqualTo(Replica.flagsOf(f.env()));
  }

  @Test
  void sameDistanceWithinTheSearchLimitGetsADelta() throws Exception {
    f = SyncFixture.start(dir);
    seed();
    EnvironmentState atTwo = f.journal.stateAt(2).environment(ENV).orElseThrow();
    f.write(createEnvironment("staging"));
    for (int i = 0; i < 100; i++) {
      f.write(createFlag("staging", "s-" + i));
    }
    f.write(updateFlag(ENV, "a", true, 5));

    SyncMessage first = f.subscribe(2).next();

    assertThat(first.hasDelta()).as("%s", first).isTrue();
    Replica replica = Replica.of(atTwo);
    replica.apply(first);
    assertThat(replica.flags()).isEqualTo(Replica.flagsOf(f.env()));
    assertThat(replica.members()).isEqualTo(Replica.membersOf(f.env()));
  }

  /** @return a latch that lets the history loader go on: until it is counted down, every rebuild waits in its queue */
  private java.util.concurrent.CountDownLatch holdTheHistoryLoader() {
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    f.broadcaster.historyLoader().execute(() -> {
      try {
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    return release;
  }
}
