package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flags.server.auth.Principal;
import dev.flags.server.auth.Scope;
import dev.flags.server.auth.TokenService;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.FileJournal;
import dev.flags.server.journal.JournalEntry;
import dev.flags.server.journal.MutableClock;
import dev.flags.server.journal.Schedule;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The timer that applies scheduled changes, on a journal and a clock the test moves (as GrantExpiryTest's rig). */
class ScheduleRunnerTest {

    private static final Instant T0 = Instant.parse("2026-12-04T09:00:00Z");
    private static final ObjectMapper MAPPER = new ObjectMapper();

    @TempDir
    Path dir;

    private static Change change(EntryType type, String json) {
        try {
            return Change.of(type, "production", "alice (tok-1)", MAPPER.readTree(json));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Change schedule(String id, Instant at, String patch) {
        return change(EntryType.SCHEDULE_CREATED, "{\"id\": \"" + id + "\", \"flag\": \"promo\", \"at\": \"" + at
                + "\", \"patch\": " + patch + "}").withComment("why " + id);
    }

    /** A journal, its write path, the flags and the timer, wired as the server wires them. */
    private static final class Rig implements AutoCloseable {
        final MutableClock clock = new MutableClock(T0);
        final FileJournal journal;
        final ScheduleRunner runner;
        final ChangeWriter writer;
        final FlagService flags;
        final BlockingQueue<String> changed = new LinkedBlockingQueue<>();

        Rig(Path dir) {
            this(dir, null);
        }

        /**
         * With the timer reading {@code timerClock}, and not told of changes: only the rounds the test runs happen (a
         * change would start one of the timer's own, which could end what the test's round left).
         */
        Rig(Path dir, java.time.Clock timerClock) {
            journal = FileJournal.builder(dir).clock(clock).open();
            runner = new ScheduleRunner(journal, timerClock == null ? clock : timerClock);
            writer = new ChangeWriter(journal, new Metrics(), env -> {
                changed.add(env);
                if (timerClock == null) {
                    runner.environmentChanged(env);
                }
            });
            flags = new FlagService(journal, writer);
            // alice's token, which makes the schedules: a scheduled change is its maker's, refused once it is revoked
            writer.append(Change.of(EntryType.TOKEN_CREATED, null, "admin (admin)", MAPPER.createObjectNode().put("id", "tok-1")
                    .put("hash", "not-a-secret's-hash").put("name", "alice").put("scope", "editor")
                    .set("environments", MAPPER.createArrayNode().add("production"))));
            writer.append(change(EntryType.ENVIRONMENT_CREATED, "{}"));
            writer.append(change(EntryType.FLAG_CREATED, "{\"key\": \"promo\", \"enabled\": false, \"rules\": []}"));
        }

        EnvironmentState env() {
            return journal.state().environment("production").orElseThrow();
        }

        Schedule.Status status(String id) {
            return env().schedules().get(id).status();
        }

        boolean enabled() {
            return FlagService.parse(env().flags().get("promo")).flag().enabled();
        }

        long entries(EntryType type) {
            return journal.read(1, 1000).stream().filter(e -> e.type() == type).count();
        }

        /** What the timer does at that time, twice: a second round finds nothing left to do. */
        void runDueTwice(Instant at) {
            clock.set(at);
            runner.runDue();
            runner.runDue();
        }

        void awaitChange() throws InterruptedException {
            assertThat(changed.poll(10, TimeUnit.SECONDS)).as("a change by the timer").isEqualTo("production");
        }

        @Override
        public void close() {
            runner.close();
            journal.close();
        }
    }

    @Test
    void aScheduleWithNothingToChangeEndsOnTimeWhileOtherWritesOfItsEnvironmentKeepComing() throws Exception {
        // Read outside the environment's lock, a write committed before the end made each attempt of the round a 412 (as
        // QA84 F1). (The server's timer starts a round at each write of an environment with a schedule due, which made
        // it less likely to last; still, each round could lose the same way.)
        Rig[] rig = new Rig[1];
        MutableClock timerTime = new MutableClock(T0);
        BusyEnvironmentClock timerClock = new BusyEnvironmentClock(timerTime, n -> rig[0].writer
                .append(change(EntryType.ROLE_GRANTED, "{\"user\": \"busy-" + n + "\", \"role\": \"beta\"}")));
        try (Rig r = new Rig(dir, timerClock)) {
            rig[0] = r;
            r.writer.append(schedule("sch-000000000011", T0.plusSeconds(60), "{\"enabled\": false}")); // already off
            r.runner.start(r.writer, r.flags, (token, madeAt, dueAt) -> null);
            r.clock.set(T0.plusSeconds(120));
            timerTime.set(T0.plusSeconds(120));
            timerClock.busyWhileThisThreadReads();
            r.runner.runDue();
            timerClock.quiet();
            assertThat(r.env().roleGrants()).as("every write of the busy environment made it").containsKeys("busy-1");
            assertThat(r.status("sch-000000000011")).as("due at " + T0.plusSeconds(60) + "; " + timerClock.writes()
                    + " other writes came meanwhile").isEqualTo(Schedule.Status.APPLIED);
        }
    }

    @Test
    void aScheduleWhoseMakersTokenWasRevokedOrExpiredFailsInsteadOfApplying() throws Exception {
        try (Rig rig = new Rig(dir)) {
            Change byMallory = schedule("sch-000000000009", T0.plusSeconds(60), "{\"enabled\": true}");
            rig.writer.append(new Change(byMallory.type(), byMallory.environment(), "mallory (ops) (tok-0bad0bad0bad)",
                    byMallory.comment(), byMallory.payload(), Change.ANY_VERSION, null));
            rig.writer.append(schedule("sch-000000000010", T0.plusSeconds(60), "{\"description\": \"by admin\"}"));
            rig.runner.start(rig.writer, rig.flags, (token, madeAt, dueAt) -> token.equals("tok-0bad0bad0bad") ? "was revoked or has expired" : null);
            rig.runDueTwice(T0.plusSeconds(120));
            assertThat(rig.enabled()).as("mallory left: her change does not happen").isFalse();
            Schedule failed = rig.env().schedules().get("sch-000000000009");
            assertThat(failed.status()).isEqualTo(Schedule.Status.FAILED);
            assertThat(failed.reason()).isEqualTo("the token that made it (tok-0bad0bad0bad) was revoked or has expired: a"
                    + " scheduled change runs only while its maker's token may act");
            assertThat(rig.status("sch-000000000010")).as("a schedule by a live token").isEqualTo(Schedule.Status.APPLIED);
            assertThat(ScheduleRunner.tokenOf("alice (tok-1a2b3c4d)")).isEqualTo("tok-1a2b3c4d");
            assertThat(ScheduleRunner.tokenOf("admin (admin)")).isEqualTo("admin");
            assertThat(ScheduleRunner.tokenOf("admin")).isNull();
        }
    }

    @Test
    void aScheduleWhoseMakersTokenIsRevokedAfterItsCheckIsNotAppliedAfterTheRevocation() throws Exception {
        // QA92 F2: the maker's token was judged under the environment's lock, but a revocation takes no environment's
        // lock: one committed between the check and the append was answered, and the scheduled change landed after it.
        try (Rig rig = new Rig(dir)) {
            TokenService tokens = new TokenService(rig.journal, rig.writer::append, "bootstrap-admin-token-0123456789",
                    id -> { }, rig.clock, null);
            Principal alice = tokens.create("alice", Scope.EDITOR, Set.of("production"), null, null, "admin (admin)", "")
                    .principal();
            ScheduleService schedules = new ScheduleService(rig.journal, rig.writer, rig.flags, rig.clock,
                    tokens::whyNoLongerActing);
            Schedule on = schedules.create(alice, "production", "promo", MAPPER.getNodeFactory().textNode(
                    T0.plusSeconds(60).toString()), MAPPER.readTree("{\"enabled\": true}"), "");
            rig.clock.set(T0.plusSeconds(120));
            java.util.concurrent.atomic.AtomicBoolean revoked = new java.util.concurrent.atomic.AtomicBoolean();
            rig.runner.start(rig.writer, rig.flags, (token, madeAt, dueAt) -> {
                String why = tokens.whyNoLongerActing(token, madeAt, dueAt);
                if (why == null && token.equals(alice.tokenId()) && revoked.compareAndSet(false, true)) {
                    // An admin's revocation, committed and answered just after the check said the token may act
                    assertThat(tokens.revoke(alice.tokenId(), "admin (admin)")).isTrue();
                }
                return why;
            });
            assertThat(revoked).as("revoked between the check and the append").isTrue();
            assertThat(rig.enabled()).as("the change of a token revoked before it was written").isFalse();
            Schedule failed = rig.env().schedules().get(on.id());
            assertThat(failed.status()).isEqualTo(Schedule.Status.FAILED);
            assertThat(failed.reason()).contains("(" + alice.tokenId() + ") was revoked");
        }
    }

    @Test
    void aScheduleDueWhileItsMakersTokenWasLiveAppliesLateButOneOfATokenRevokedSinceDoesNot() throws Exception {
        // QA79 F2: the maker's token's expiry was judged when the schedule ran, not at its time: a schedule applied late
        // (the server stopped at its time, an archived environment restored, retries) failed if the token expired meanwhile.
        try (Rig rig = new Rig(dir)) {
            TokenService tokens = new TokenService(rig.journal, rig.writer::append, "bootstrap-admin-token-0123456789",
                    id -> { }, rig.clock, null);
            Instant expiry = T0.plusSeconds(2 * 3600);
            Principal alice = tokens.create("alice", Scope.EDITOR, Set.of("production"), null, expiry, "admin (admin)", "")
                    .principal();
            Principal bob = tokens.create("bob", Scope.EDITOR, Set.of("production"), null, expiry, "admin (admin)", "")
                    .principal();
            ScheduleService schedules = new ScheduleService(rig.journal, rig.writer, rig.flags, rig.clock,
                    tokens::whyNoLongerActing);
            com.fasterxml.jackson.databind.JsonNode at = MAPPER.getNodeFactory().textNode(T0.plusSeconds(3600).toString());
            Schedule on = schedules.create(alice, "production", "promo", at, MAPPER.readTree("{\"enabled\": true}"), "");
            Schedule byBob = schedules.create(bob, "production", "promo", MAPPER.getNodeFactory().textNode(
                    T0.plusSeconds(3660).toString()), MAPPER.readTree("{\"description\": \"b\"}"), "");
            // The server stops before their time (both tokens live at it); bob's token is revoked after it, and both
            // tokens expire, before the server starts again.
            rig.clock.set(T0.plusSeconds(5400));
            tokens.revoke(bob.tokenId(), "admin (admin)");
            rig.clock.set(T0.plusSeconds(3 * 3600));

            assertThat(schedules.fates("production", "promo")).as("what the list says will become of them")
                    .extracting(f -> f.schedule().id() + ": " + f.willFail())
                    .containsExactly(on.id() + ": null", byBob.id() + ": the token that made it (" + bob.tokenId() + ") was"
                            + " revoked: a scheduled change runs only while its maker's token may act");
            rig.runner.start(rig.writer, rig.flags, tokens::whyNoLongerActing); // as the server does at start

            Schedule applied = rig.env().schedules().get(on.id());
            assertThat(applied.reason()).as("why it ended").isNull();
            assertThat(applied.status()).isEqualTo(Schedule.Status.APPLIED);
            assertThat(rig.enabled()).isTrue();
            Schedule failed = rig.env().schedules().get(byBob.id());
            assertThat(failed.status()).as("a revoked token's pending change never runs").isEqualTo(Schedule.Status.FAILED);
            assertThat(failed.reason()).contains("(" + bob.tokenId() + ") was revoked");
        }
    }

    @Test
    void schedulesDueWhileStoppedAreAppliedAtStartAndTheOthersAtTheirTimeEachOnce() throws Exception {
        try (Rig rig = new Rig(dir)) {
            rig.writer.append(schedule("sch-000000000001", T0.plusSeconds(60), "{\"enabled\": true}"));
            rig.writer.append(schedule("sch-000000000002", T0.plusSeconds(3600), "{\"description\": \"later\"}"));
            rig.clock.set(T0.plusSeconds(120));

            rig.runner.start(rig.writer, rig.flags, (token, madeAt, dueAt) -> null); // on this thread, as the server does before its ports open
            assertThat(rig.enabled()).isTrue();
            assertThat(rig.status("sch-000000000001")).isEqualTo(Schedule.Status.APPLIED);
            assertThat(rig.status("sch-000000000002")).isEqualTo(Schedule.Status.PENDING);
            assertThat(rig.runner.nextAt()).isEqualTo(T0.plusSeconds(3600));
            JournalEntry applied = rig.journal.read(1, 100).stream().filter(e -> e.type() == EntryType.SCHEDULE_APPLIED)
                    .findFirst().orElseThrow();
            assertThat(applied.actor()).isEqualTo("flags-server (schedule sch-000000000001 by alice (tok-1))");
            assertThat(applied.comment()).isEqualTo("why sch-000000000001");

            rig.runDueTwice(T0.plusSeconds(3600));
            assertThat(FlagService.parse(rig.env().flags().get("promo")).flag().description()).isEqualTo("later");
            assertThat(rig.entries(EntryType.SCHEDULE_APPLIED)).as("each applied once, however often the timer runs").isEqualTo(2);
            assertThat(rig.runner.nextAt()).as("nothing pending").isNull();
            rig.runner.close();
            assertThat(rig.runner.appliedCount()).isEqualTo(2);
        }
    }

    @Test
    void aChangeThatNoLongerAppliesEndsAsFailedOnceAndOneThatChangesNothingEndsUnchanged() throws Exception {
        try (Rig rig = new Rig(dir)) {
            rig.writer.append(schedule("sch-000000000001", T0.plusSeconds(60), "{\"enabled\": false}"));
            rig.writer.append(schedule("sch-000000000002", T0.plusSeconds(120),
                    "{\"percentage\": {\"rule\": 0, \"value\": 50}}"));
            rig.writer.append(schedule("sch-000000000003", T0.plusSeconds(180), "{\"enabled\": true}"));
            rig.runner.start(rig.writer, rig.flags, (token, madeAt, dueAt) -> null);
            rig.clock.set(T0.plusSeconds(150));
            rig.runDueTwice(T0.plusSeconds(150));
            assertThat(rig.status("sch-000000000001")).isEqualTo(Schedule.Status.APPLIED);
            assertThat(rig.env().schedules().get("sch-000000000001").reason())
                    .isEqualTo("the flag already was as the change makes it");
            Schedule failed = rig.env().schedules().get("sch-000000000002");
            assertThat(failed.status()).isEqualTo(Schedule.Status.FAILED);
            assertThat(failed.reason()).isEqualTo("flag \"promo\" has no rule 0; it has no rules (rules are added by writing the"
                    + " flag's whole document: a PUT, or flags edit promo)");
            assertThat(rig.entries(EntryType.SCHEDULE_ENDED)).as("never retried").isEqualTo(2);

            rig.writer.append(change(EntryType.FLAG_DELETED, "{\"key\": \"promo\"}"));
            rig.runDueTwice(T0.plusSeconds(180));
            assertThat(rig.status("sch-000000000003")).isEqualTo(Schedule.Status.FAILED);
            assertThat(rig.env().schedules().get("sch-000000000003").reason())
                    .isEqualTo("there is no flag \"promo\" in environment \"production\"; create it first with a PUT of its document"
                            + " (flags create or flags put)");
            assertThat(rig.entries(EntryType.SCHEDULE_ENDED)).isEqualTo(3);
        }
    }

    @Test
    void aScheduleInAnArchivedEnvironmentWaitsUntilItIsRestored() throws Exception {
        try (Rig rig = new Rig(dir)) {
            rig.writer.append(schedule("sch-000000000001", T0.plusSeconds(60), "{\"enabled\": true}"));
            rig.writer.append(change(EntryType.ENVIRONMENT_ARCHIVED, "{}"));
            rig.clock.set(T0.plusSeconds(120));
            rig.runner.start(rig.writer, rig.flags, (token, madeAt, dueAt) -> null);
            rig.runner.runDue();
            assertThat(rig.status("sch-000000000001")).as("an archived environment accepts no changes")
                    .isEqualTo(Schedule.Status.PENDING);
            rig.changed.clear();

            rig.writer.append(change(EntryType.ENVIRONMENT_RESTORED, "{}"));
            assertThat(rig.changed.poll()).isEqualTo("production"); // the restore
            rig.awaitChange(); // and, at once, the scheduled change
            assertThat(rig.enabled()).isTrue();
        }
    }

    @Test
    void aRoundThatCannotWriteTriesAgainInThirtySecondsNotAtOnce() throws Exception {
        try (Rig rig = new Rig(dir)) {
            rig.writer.append(schedule("sch-000000000001", T0.plusSeconds(60), "{\"enabled\": true}"));
            rig.writer.append(schedule("sch-000000000002", T0.plusSeconds(3600), "{\"enabled\": false}"));
            rig.clock.set(T0.plusSeconds(120));
            rig.writer.drain(Duration.ZERO); // every write now fails, as when the journal has stopped
            rig.runner.start(rig.writer, rig.flags, (token, madeAt, dueAt) -> null);
            assertThat(rig.status("sch-000000000001")).as("not failed: the journal refused, the change did fit")
                    .isEqualTo(Schedule.Status.PENDING);
            assertThat(rig.runner.nextAt()).isEqualTo(T0.plusSeconds(120).plus(ScheduleRunner.RETRY));
            rig.clock.set(T0.plusSeconds(3590));
            rig.runner.runDue();
            assertThat(rig.runner.nextAt()).as("a schedule not due yet comes before the retry").isEqualTo(T0.plusSeconds(3600));
        }
    }

    @Test
    void theTimerIsSetForTheEarliestScheduleAsTheyAreMadeAndACancelledOneIsNotApplied() throws Exception {
        try (Rig rig = new Rig(dir)) {
            rig.runner.start(rig.writer, rig.flags, (token, madeAt, dueAt) -> null);
            assertThat(rig.runner.nextAt()).as("nothing scheduled").isNull();
            rig.writer.append(schedule("sch-000000000001", T0.plusSeconds(60), "{\"enabled\": true}"));
            assertThat(rig.runner.nextAt()).isEqualTo(T0.plusSeconds(60));
            rig.writer.append(schedule("sch-000000000002", T0.plusSeconds(30), "{\"description\": \"soon\"}"));
            assertThat(rig.runner.nextAt()).as("an earlier one moves the timer").isEqualTo(T0.plusSeconds(30));
            rig.writer.append(schedule("sch-000000000003", T0.plusSeconds(90), "{\"default\": true}"));
            assertThat(rig.runner.nextAt()).as("a later one does not").isEqualTo(T0.plusSeconds(30));

            rig.writer.append(change(EntryType.SCHEDULE_CANCELLED, "{\"id\": \"sch-000000000001\"}"));
            rig.runDueTwice(T0.plusSeconds(120));
            assertThat(rig.enabled()).as("cancelled before its time").isFalse();
            assertThat(rig.entries(EntryType.SCHEDULE_APPLIED)).isEqualTo(2);
        }
    }

    @Test
    void theActorNamesTheScheduleAndWhoMadeItWithinTheJournalsLimitKeepingTheMakersTokenId() {
        Schedule s = new Schedule("sch-000000000001", "promo", T0, dev.flags.server.journal.CanonicalJson.parse("{}"),
                "x".repeat(200) + " (tok-0a0b0c0d0e0f)", T0, "", Schedule.Status.PENDING, null, null, null, 0);
        String actor = ScheduleRunner.actor(s);
        // QA79 F4: the end was cut, and with it the token id, the one part of the maker that is unique.
        assertThat(actor).hasSize(256).startsWith("flags-server (schedule sch-000000000001 by xxx")
                .endsWith("xxx... (tok-0a0b0c0d0e0f))");
        assertThat(ScheduleRunner.tokenOf(actor.substring(0, actor.length() - 1))).isEqualTo("tok-0a0b0c0d0e0f");
        Schedule shortName = new Schedule("sch-000000000001", "promo", T0, dev.flags.server.journal.CanonicalJson.parse("{}"),
                "alice (tok-0a0b0c0d0e0f)", T0, "", Schedule.Status.PENDING, null, null, null, 0);
        assertThat(ScheduleRunner.actor(shortName)).as("kept whole when it fits")
                .isEqualTo("flags-server (schedule sch-000000000001 by alice (tok-0a0b0c0d0e0f))");
    }

    @Test
    void aRoundThatFailsWithAnErrorIsLoggedAndTriedAgainLater() throws Exception {
        // QA72 F2: the timer (DueTimer, grant expiries' too) caught RuntimeException only. An Error (an OutOfMemoryError on
        // a server near its heap) ended the round before the timer was set again: nothing logged, and what was due waited
        // until some later write happened to move the timer.
        try (Rig rig = new Rig(dir)) {
            rig.writer.append(schedule("sch-000000000001", T0.plusSeconds(60), "{\"enabled\": true}"));
            rig.clock.set(T0.plusSeconds(120));
            java.util.concurrent.atomic.AtomicInteger calls = new java.util.concurrent.atomic.AtomicInteger();

            String logged = StandardErrorCapture.during(() -> rig.runner.start(rig.writer, rig.flags, (token, madeAt, dueAt) -> {
                if (calls.incrementAndGet() == 1) {
                    throw new OutOfMemoryError("Java heap space (injected by the test)");
                }
                return null;
            })); // the round at start runs on this thread, and meets the Error

            assertThat(calls.get()).isEqualTo(1);
            assertThat(logged).contains("ERROR", "trying again in 30 s", "Java heap space (injected by the test)");
            assertThat(rig.status("sch-000000000001")).isEqualTo(Schedule.Status.PENDING);
            assertThat(rig.runner.nextAt()).as("set again, for the retry").isEqualTo(T0.plusSeconds(120).plus(DueTimer.RETRY));
            rig.runDueTwice(T0.plusSeconds(150)); // what the timer does at that time
            assertThat(rig.status("sch-000000000001")).isEqualTo(Schedule.Status.APPLIED);
        }
    }

    @Test
    void aFaultInOneEnvironmentLeavesTheRoundToTheOthers() throws Exception {
        faultOfOneEnvironment(new IllegalStateException("a fault of that environment (injected by the test)"));
    }

    @Test
    void aRefusalOfOneEnvironmentsWriteLeavesTheRoundToTheOthers() throws Exception {
        faultOfOneEnvironment(ApiException.badRequest("a refusal of that environment's write (injected by the test)"));
    }

    /** The first environment a round comes to fails with the fault; the other's schedule applies in that round. */
    private void faultOfOneEnvironment(RuntimeException fault) throws Exception {
        try (Rig rig = new Rig(dir)) {
            rig.writer.append(schedule("sch-000000000001", T0.plusSeconds(60), "{\"enabled\": true}"));
            ObjectMapper json = MAPPER;
            rig.writer.append(Change.of(EntryType.ENVIRONMENT_CREATED, "staging", "alice (tok-1)", json.readTree("{}")));
            rig.writer.append(Change.of(EntryType.FLAG_CREATED, "staging", "alice (tok-1)",
                    json.readTree("{\"key\": \"promo\", \"enabled\": false, \"rules\": []}")));
            rig.writer.append(Change.of(EntryType.SCHEDULE_CREATED, "staging", "alice (tok-1)", json.readTree(
                    "{\"id\": \"sch-000000000002\", \"flag\": \"promo\", \"at\": \"" + T0.plusSeconds(60)
                            + "\", \"patch\": {\"enabled\": true}}")));
            rig.clock.set(T0.plusSeconds(120));
            java.util.concurrent.atomic.AtomicInteger calls = new java.util.concurrent.atomic.AtomicInteger();

            String logged = StandardErrorCapture.during(() -> rig.runner.start(rig.writer, rig.flags, (token, madeAt, dueAt) -> {
                if (calls.incrementAndGet() == 1) { // the first environment the round comes to, whichever it is
                    throw fault;
                }
                return null;
            }));

            java.util.List<Schedule.Status> statuses = java.util.stream.Stream.of("production", "staging")
                    .map(env -> rig.journal.state().environment(env).orElseThrow().schedules().values().iterator().next().status())
                    .toList();
            assertThat(statuses).as("the other environment's schedule applied in the same round")
                    .containsExactlyInAnyOrder(Schedule.Status.PENDING, Schedule.Status.APPLIED);
            assertThat(logged).contains("ERROR", "the other environments go on, this one is tried again in 30 s",
                    "injected by the test");
            assertThat(rig.runner.nextAt()).as("set again, for the retry").isEqualTo(T0.plusSeconds(120).plus(DueTimer.RETRY));
            rig.runDueTwice(T0.plusSeconds(150));
            assertThat(rig.status("sch-000000000001")).isEqualTo(Schedule.Status.APPLIED);
            assertThat(rig.journal.state().environment("staging").orElseThrow().schedules().get("sch-000000000002").status())
                    .isEqualTo(Schedule.Status.APPLIED);
        }
    }
}
