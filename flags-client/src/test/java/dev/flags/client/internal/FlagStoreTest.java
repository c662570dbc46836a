package dev.flags.client.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.client.FlagChangeEvent;
import dev.flags.client.Freshness;
import dev.flags.client.FlagChangeEvent.Change;
import dev.flags.client.FlagChangeListener;
import dev.flags.client.FlagEvaluation;
import dev.flags.client.Source;
import dev.flags.core.Condition;
import dev.flags.core.Flag;
import dev.flags.core.FlagSet;
import dev.flags.core.Reason;
import dev.flags.core.Rule;
import dev.flags.core.User;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The snapshot holder: evaluation with sources, and which flags a new snapshot changed. */
class FlagStoreTest {

    private static final User USER = User.withId("u-1");

    private static Flag flag(String key, boolean on, long version) {
        return new Flag(key, null, true, null, List.of(), List.of(), List.of(), on, version);
    }

    private static Flag forRole(String key, String role) {
        return new Flag(key, null, true, null, List.of(), List.of(),
                List.of(new Rule(null, List.of(new Condition.Roles(List.of(role))), true, null)), false, 1);
    }

    private static FlagState state(long version, Map<String, Set<String>> grants, Flag... flags) {
        return FlagState.of(FlagSet.of(List.of(flags), grants, version), Source.LIVE);
    }

    /** A store of one flag whose unknown-flag lines' budget runs on {@code now}. */
    private static FlagStore productionWithClock(java.util.concurrent.atomic.AtomicLong now) {
        FlagStore store = new FlagStore(state(3, Map.of(), flag("billing-v2", true, 1)), Runnable::run, true,
                "environment \"production\"");
        store.nanoTime(now::get);
        return store;
    }

    @Test
    void unknownFlagLinesAreBoundedPerMinuteWhateverTheNumberOfKeysAndTheRestAreCounted() {
        java.util.concurrent.atomic.AtomicLong now = new java.util.concurrent.atomic.AtomicLong(1_000_000_000L);
        FlagStore store = productionWithClock(now);
        withStandardError(captured -> {
            for (int i = 0; i < 3_000; i++) {
                store.evaluate("promo-" + i, USER, false); // keys from requests: more than the memo of warned keys holds
            }
            assertThat(lines(captured)).as("one minute's lines").hasSize(FlagStore.UNKNOWN_LINES_PER_MINUTE);
            now.addAndGet(java.util.concurrent.TimeUnit.SECONDS.toNanos(61));
            store.evaluate("typo-flag", USER, false);
            List<String> lines = lines(captured);
            assertThat(lines).hasSize(FlagStore.UNKNOWN_LINES_PER_MINUTE + 1);
            assertThat(lines.get(lines.size() - 1)).contains("no flag \"typo-flag\" in environment \"production\"")
                    .endsWith("said once an hour per flag (and 2980 evaluations of unknown flags since the last such line left"
                            + " out: at most 20 such lines a minute for this Flags; each is named when asked for again in a later minute,"
                            + " and the usage report has them all)");
            store.evaluate("typo-flag", USER, false);
            assertThat(lines(captured)).as("once an hour per key still").hasSize(FlagStore.UNKNOWN_LINES_PER_MINUTE + 1);
            store.evaluate("promo-20", USER, false); // left out in the first minute: named now
            assertThat(lines(captured)).last().asString().contains("no flag \"promo-20\"");
            store.evaluate("promo-0", USER, false); // named in the first minute: not again within the hour
            assertThat(lines(captured)).hasSize(FlagStore.UNKNOWN_LINES_PER_MINUTE + 2);
        });
    }

    @Test
    void anUnknownKeyOfAMegabyteIsWarnedOfButNotKeptWholeForTheHour() throws Exception {
        // Keys can come from requests: the memo of keys warned of held each one whole for an hour, up to 1,000 of them (a
        // gigabyte of keys of a megabyte, 20 a minute). It keeps what the line shows, cut at 200 characters.
        java.util.concurrent.atomic.AtomicLong now = new java.util.concurrent.atomic.AtomicLong(1_000_000_000L);
        FlagStore store = productionWithClock(now);
        java.lang.ref.ReferenceQueue<String> collected = new java.lang.ref.ReferenceQueue<>();
        withStandardError(captured -> {
            java.lang.ref.WeakReference<String> asked = askForAHugeUnknownKey(store, collected);
            assertThat(lines(captured)).singleElement().asString().contains("no flag \"" + "k".repeat(200) + "...\"");
            boolean gone = false;
            for (int i = 0; i < 50 && !gone; i++) {
                System.gc();
                try {
                    gone = collected.remove(100) == asked;
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                }
            }
            assertThat(gone).as("the key of a megabyte was let go").isTrue();
        });
    }

    /** Asks for a key of a megabyte, which nothing but the store may keep once this returns. */
    private static java.lang.ref.WeakReference<String> askForAHugeUnknownKey(FlagStore store,
            java.lang.ref.ReferenceQueue<String> collected) {
        String key = "k".repeat(1 << 20) + System.nanoTime(); // a new string, not one the JVM keeps
        assertThat(store.isEnabled(key, USER, false)).isFalse();
        return new java.lang.ref.WeakReference<>(key, collected);
    }

    @Test
    void evaluationsOfUnknownKeysOnceTheMinutesLinesAreSpentTakeNoLock() {
        java.util.concurrent.atomic.AtomicLong now = new java.util.concurrent.atomic.AtomicLong(1_000_000_000L);
        FlagStore store = productionWithClock(now);
        withStandardError(captured -> {
            for (int i = 0; i <= FlagStore.UNKNOWN_LINES_PER_MINUTE; i++) {
                store.evaluate("promo-" + i, USER, false); // the last one is over the budget
            }
            // Another thread in the budget's lock (a line being decided) does not hold up this minute's other evaluations:
            // request threads asking for keys from requests all took it on every evaluation (QA64 F6).
            java.util.concurrent.CompletableFuture<Boolean> other;
            synchronized (store.unknownLines) {
                other = java.util.concurrent.CompletableFuture.supplyAsync(() -> store.isEnabled("promo-999", USER, false));
                try {
                    assertThat(other.get(10, java.util.concurrent.TimeUnit.SECONDS)).isFalse();
                } catch (Exception e) {
                    throw new AssertionError("the evaluation waited for the lock", e);
                }
            }
            now.addAndGet(java.util.concurrent.TimeUnit.SECONDS.toNanos(61));
            store.evaluate("typo-flag", USER, false);
            assertThat(lines(captured)).last().asString().contains("no flag \"typo-flag\"")
                    .contains("(and 2 evaluations of unknown flags since the last such line left out");
        });
    }

    @Test
    void isEnabledOfAnUnknownFlagWarnsOnceButNotBeforeAnyFlagsCame() {
        withStandardError(captured -> {
            FlagStore none = new FlagStore(FlagState.none("the server has not been reached"), Runnable::run, true,
                    "environment \"production\"");
            assertThat(none.isEnabled("billing-v2", USER, false)).isFalse();
            assertThat(lines(captured)).as("no flags yet: every key is unknown, and that is said elsewhere").isEmpty();

            FlagStore store = new FlagStore(state(3, Map.of(), flag("billing-v2", true, 1)), Runnable::run, true,
                    "environment \"production\"");
            for (int i = 0; i < 3; i++) {
                assertThat(store.isEnabled("biling-v2", USER, true)).as("the caller's default").isTrue();
            }
            assertThat(lines(captured)).singleElement().asString().contains("no flag \"biling-v2\" in environment"
                    + " \"production\" (version 3): serving the caller's default; did you mean \"billing-v2\"?");
            assertThat(store.isEnabled("billing-v2", USER, false)).isTrue();
            assertThat(lines(captured)).as("a known flag is never warned of").hasSize(1);
        });
    }

    @Test
    void aTokenAskedForAsAFlagKeyIsNeverLoggedInClear() {
        String token = "flg_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v"; // token-shaped: flg_ and 43 of base64url
        withStandardError(captured -> {
            FlagStore store = new FlagStore(state(3, Map.of(), flag("billing-v2", true, 1)), Runnable::run, true,
                    "environment \"production\"");
            assertThat(store.isEnabled(token, USER, true)).as("the caller's default, as for any unknown key").isTrue();
            store.evaluate(token + "_v2", USER, false);
            // Near the cut at 200 characters: hidden before the cut, or the cut would leave a token's first characters.
            store.variant("x".repeat(180) + token, USER);
            String all = captured.toString(java.nio.charset.StandardCharsets.UTF_8);
            assertThat(lines(captured)).hasSize(3);
            assertThat(lines(captured).get(0)).contains("no flag \"flg_***\" in environment \"production\"");
            assertThat(lines(captured).get(1)).contains("no flag \"flg_***_v2\"");
            assertThat(lines(captured).get(2)).contains("no flag \"" + "x".repeat(180) + "flg_***\"");
            assertThat(all).doesNotContain(token.substring(4, 20));
        });
        assertThat(FlagStore.shown("a b " + token)).isEqualTo("a b flg_***");
    }

    @Test
    void anAttributeNoFlagCanNameIsWarnedOfOnceAnHourPerNameAndAtMostAHundredNames() {
        withStandardError(captured -> {
            FlagStore store = new FlagStore(state(3, Map.of(), flag("billing-v2", true, 1)), Runnable::run, true,
                    "environment \"production\"");
            User typo = USER.attribute("my plan", "pro");
            for (int i = 0; i < 3; i++) {
                assertThat(store.isEnabled("billing-v2", typo, false)).as("answered as ever").isTrue();
                store.evaluate("billing-v2", typo, false);
            }
            assertThat(store.isEnabled("billing-v2", USER.attribute("plan", "pro"), false)).isTrue();
            assertThat(unmatchable(captured)).singleElement().asString().contains("flags: the application gives users the"
                    + " attribute \"my plan\", a name no flag can name (a letter or _, then letters, digits, _ . : or -, at"
                    + " most 128 characters): a condition meant for it never holds. A typo in the code? Said once an hour per"
                    + " name, in environment \"production\"");
            for (int i = 0; i < 500; i++) { // names from request data: bounded
                store.isEnabled("billing-v2", USER.attribute("header " + i, "x"), false);
            }
            assertThat(unmatchable(captured)).hasSize(FlagStore.MAX_UNMATCHABLE_NAMES).last().asString()
                    .endsWith("; the 100th such name: no more are named for an hour");
            assertThat(unmatchable(captured).get(FlagStore.MAX_UNMATCHABLE_NAMES - 2)).doesNotContain("no more are named");
            store.isEnabled("billing-v2", USER.attribute("line\nbreak", "x"), false);
            assertThat(captured.toString(java.nio.charset.StandardCharsets.UTF_8)).doesNotContain("line\nbreak");
        });
    }

    /** Runs a test with standard error, where the SDK's logger writes, captured, and puts it back after. */
    private static void withStandardError(java.util.function.Consumer<java.io.ByteArrayOutputStream> test) {
        java.io.PrintStream err = System.err;
        java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        System.setErr(new java.io.PrintStream(captured, true, java.nio.charset.StandardCharsets.UTF_8));
        try {
            test.accept(captured);
        } finally {
            System.setErr(err);
        }
    }

    private static List<String> unmatchable(java.io.ByteArrayOutputStream captured) {
        return captured.toString(java.nio.charset.StandardCharsets.UTF_8).lines().filter(l -> l.contains("a name no flag can"
                + " name")).toList();
    }

    private static List<String> lines(java.io.ByteArrayOutputStream captured) {
        return captured.toString(java.nio.charset.StandardCharsets.UTF_8).lines().filter(l -> l.contains("no flag \"")).toList();
    }

    @Test
    void changesAreAddedUpdatedOrRemovedInKeyOrder() {
        FlagState before = state(1, Map.of(), flag("a", true, 1), flag("b", true, 1), flag("c", true, 1));
        FlagState after = state(2, Map.of(), flag("a", true, 1), flag("b", false, 2), flag("d", true, 1));
        assertThat(FlagStore.changes(before, after)).containsExactly(
                new FlagChangeEvent("b", Change.UPDATED, 2, Source.LIVE),
                new FlagChangeEvent("c", Change.REMOVED, 2, Source.LIVE),
                new FlagChangeEvent("d", Change.ADDED, 2, Source.LIVE));
    }

    @Test
    void comparingOnlyTheTouchedKeysFindsWhatTheFullComparisonFinds() {
        FlagState before = state(1, Map.of(), flag("a", true, 1), flag("b", true, 1), flag("c", true, 1));
        FlagState after = state(2, Map.of(), flag("a", true, 1), flag("b", false, 2), flag("d", true, 1));
        // "a" is touched but equal (a delta may resend a flag unchanged); "e" is in neither state.
        assertThat(FlagStore.changes(before, after, Set.of("e", "d", "c", "b", "a")))
                .isEqualTo(FlagStore.changes(before, after))
                .hasSize(3);
        assertThat(FlagStore.changes(before, after, Set.of("b"))).containsExactly(
                new FlagChangeEvent("b", Change.UPDATED, 2, Source.LIVE));
    }

    @Test
    void aChangedRoleGrantUpdatesOnlyTheFlagsThatNameTheRole() {
        FlagState before = state(1, Map.of("beta", Set.of("u-1"), "staff", Set.of("u-2")),
                forRole("beta-flag", "beta"), forRole("staff-flag", "staff"), flag("plain", true, 1));
        FlagState after = state(2, Map.of("beta", Set.of("u-1", "u-3"), "staff", Set.of("u-2")),
                forRole("beta-flag", "beta"), forRole("staff-flag", "staff"), flag("plain", true, 1));
        assertThat(FlagStore.changes(before, after)).containsExactly(
                new FlagChangeEvent("beta-flag", Change.UPDATED, 2, Source.LIVE));
    }

    @Test
    void aListenerThatOverflowsItsStackStopsNeitherTheOthersNorTheDelivery() {
        FlagState v1 = state(1, Map.of(), flag("a", true, 1));
        List<Runnable> queued = new ArrayList<>();
        FlagStore store = new FlagStore(v1, queued::add, false, "test");
        List<FlagChangeEvent> others = new ArrayList<>();
        List<Freshness> statuses = new ArrayList<>();
        store.addListener(null, e -> {
            throw new StackOverflowError(); // a listener's own endless recursion, unwound by the time it reaches the SDK
        });
        store.addListener(null, others::add);
        store.addStatusListener(f -> {
            throw new StackOverflowError();
        });
        store.addStatusListener(statuses::add);
        queued.forEach(Runnable::run); // the status listeners' first call
        queued.clear();
        store.publish(state(2, Map.of(), flag("a", false, 2)));
        queued.forEach(Runnable::run); // logged (as any listener's failure), not thrown out of the listener thread
        assertThat(others).containsExactly(new FlagChangeEvent("a", Change.UPDATED, 2, Source.LIVE));
        assertThat(statuses).hasSize(1);
    }

    @Test
    void aListenerHearsOnlyChangesPublishedAfterItWasRegisteredAndNoneAfterItWasRemoved() {
        FlagState v1 = state(1, Map.of(), flag("a", true, 1));
        FlagState v2 = state(2, Map.of(), flag("a", false, 2));
        FlagState v3 = state(3, Map.of(), flag("a", true, 3));
        List<Runnable> queued = new ArrayList<>(); // the listener executor, run by hand
        FlagStore store = new FlagStore(v1, queued::add, false, "test");
        List<FlagChangeEvent> early = new ArrayList<>();
        List<FlagChangeEvent> late = new ArrayList<>();
        List<FlagChangeEvent> removed = new ArrayList<>();
        FlagChangeListener removedListener = removed::add;
        store.addListener("a", early::add);
        store.addListener(null, removedListener);

        // Registered once the new state is in place (as after awaitReady() returned), before delivery.
        store.publish(v2, null, () -> store.addListener(null, late::add));
        store.removeListener(removedListener);
        queued.forEach(Runnable::run);
        queued.clear();
        assertThat(early).containsExactly(new FlagChangeEvent("a", Change.UPDATED, 2, Source.LIVE));
        assertThat(late).as("published before it was registered").isEmpty();
        assertThat(removed).as("removed before the delivery").isEmpty();

        store.publish(v3);
        queued.forEach(Runnable::run);
        assertThat(late).containsExactly(new FlagChangeEvent("a", Change.UPDATED, 3, Source.LIVE));
        assertThat(early).hasSize(2);
        assertThat(removed).isEmpty();
    }

    @Test
    void pastAHundredChangesWaitingForTheListenersLaterOnesJoinTheLastInsteadOfQueueingEachWithItsState() {
        withStandardError(captured -> listenersBehind(captured));
    }

    private static void listenersBehind(java.io.ByteArrayOutputStream captured) {
        FlagState v1 = state(1, Map.of(), flag("a", true, 1));
        List<Runnable> queued = new ArrayList<>(); // the listener executor, held up by a listener that blocks
        FlagStore store = new FlagStore(v1, queued::add, false, "test");
        List<FlagChangeEvent> heard = new ArrayList<>();
        store.addListener(null, heard::add);
        List<String> order = new ArrayList<>();
        store.addStatusListener(f -> order.add("status " + f.source()));
        queued.forEach(Runnable::run);
        queued.clear();
        order.clear();
        store.addListener(null, e -> order.add("change " + e.version()));

        for (int v = 2; v <= FlagStore.MAX_WAITING + 1; v++) { // each one's own delivery: a value listener hears each
            store.publish(state(v, Map.of(), flag("a", v % 2 == 0, v)));
        }
        assertThat(queued).hasSize(FlagStore.MAX_WAITING);
        int lastAlone = FlagStore.MAX_WAITING + 1;
        store.publish(state(lastAlone + 1, Map.of(), flag("a", true, lastAlone + 1), flag("b", true, lastAlone + 1)));
        store.publish(state(lastAlone + 2, Map.of(), flag("a", true, lastAlone + 2)), Set.of("a", "b"));
        assertThat(queued).as("joined the last one waiting").hasSize(FlagStore.MAX_WAITING);
        // A status event, then a listener added: a change after either must not join changes from before them.
        store.publish(state(lastAlone + 3, Map.of(), flag("a", false, lastAlone + 3)).withSource(Source.STALE));
        List<FlagChangeEvent> late = new ArrayList<>();
        store.addListener(null, late::add);
        store.publish(state(lastAlone + 4, Map.of(), flag("a", true, lastAlone + 4)).withSource(Source.STALE));
        assertThat(queued).hasSize(FlagStore.MAX_WAITING + 3);

        queued.forEach(Runnable::run);
        // The last alone joined by two: a from its state before to the newest (b came and went, which is no change).
        assertThat(heard.subList(lastAlone - 3, lastAlone + 1)).extracting(FlagChangeEvent::version)
                .containsExactly((long) lastAlone - 1, (long) lastAlone + 2, (long) lastAlone + 3, (long) lastAlone + 4);
        assertThat(heard).hasSize(lastAlone + 1).extracting(FlagChangeEvent::flagKey).containsOnly("a");
        assertThat(order.subList(order.size() - 3, order.size())).containsExactly("status STALE",
                "change " + (lastAlone + 3), "change " + (lastAlone + 4));
        assertThat(late).extracting(FlagChangeEvent::version).containsExactly((long) lastAlone + 4);
        assertThat(behind(captured)).as("said once, while they were behind").singleElement().asString()
                .contains("the change listeners of test are 100 changes behind");

        // Caught up: the next time they fall that far behind is said again.
        queued.clear();
        for (int v = lastAlone + 5; v <= lastAlone + 5 + FlagStore.MAX_WAITING; v++) {
            store.publish(state(v, Map.of(), flag("a", v % 2 == 0, v)).withSource(Source.STALE));
        }
        assertThat(queued).hasSize(FlagStore.MAX_WAITING);
        assertThat(behind(captured)).hasSize(2);
    }

    private static List<String> behind(java.io.ByteArrayOutputStream captured) {
        return captured.toString(java.nio.charset.StandardCharsets.UTF_8).lines().filter(l -> l.contains("changes behind"))
                .toList();
    }

    @Test
    void afterCloseNoListenerIsCalledNotEvenForEventsAlreadyQueuedOrOneBeingDelivered() {
        FlagState v1 = state(1, Map.of(), flag("a", true, 1), flag("b", true, 1));
        List<Runnable> queued = new ArrayList<>(); // the listener executor, run by hand
        FlagStore store = new FlagStore(v1, queued::add, false, "test");
        List<FlagChangeEvent> heard = new ArrayList<>();
        store.addListener(null, e -> {
            heard.add(e);
            store.close(); // an application that shuts down on a change, from its listener
        });
        store.addListener(null, heard::add);
        store.addStatusListener(f -> heard.add(null));
        queued.forEach(Runnable::run); // the status listener's first call, at registration
        queued.clear();
        heard.clear();

        store.publish(state(2, Map.of(), flag("a", false, 2), flag("b", false, 2)));
        store.publish(state(3, Map.of(), flag("a", true, 3), flag("b", false, 2)).withSource(Source.STALE));
        queued.forEach(Runnable::run);
        assertThat(heard).as("only the call that closed; nothing after it, this event's or a queued one's")
                .containsExactly(new FlagChangeEvent("a", Change.UPDATED, 2, Source.LIVE));
    }

    @Test
    void aSourceChangeAloneIsNoChange() {
        FlagState live = state(1, Map.of(), flag("a", true, 1));
        List<FlagChangeEvent> events = new ArrayList<>();
        FlagStore store = new FlagStore(live, Runnable::run, false, "test");
        store.addListener(null, events::add);
        store.publish(live.withSource(Source.STALE));
        store.publish(live);
        assertThat(events).isEmpty();
    }

    @Test
    void evaluationsSayWhereTheFlagsCameFrom() {
        FlagStore store = new FlagStore(FlagState.none("nothing yet"), Runnable::run, false, "test");
        FlagEvaluation none = store.evaluate("a", USER, true);
        assertThat(none.value()).isTrue();
        assertThat(none.source()).isEqualTo(Source.DEFAULTS);
        assertThat(none.reason().detail()).isEqualTo("no flags yet: nothing yet");
        assertThat(store.allFlags(USER)).isEmpty();
        FlagEvaluation nullKeyNoFlags = store.evaluate(null, USER, true);
        assertThat(nullKeyNoFlags.reason().kind()).as("the caller's error, with flags or without").isEqualTo(Reason.Kind.ERROR);
        assertThat(nullKeyNoFlags.reason().detail()).isEqualTo("the flag key was null");
        assertThat(nullKeyNoFlags.value()).isTrue();
        assertThat(nullKeyNoFlags.source()).isEqualTo(Source.DEFAULTS);

        store.publish(state(4, Map.of(), flag("a", false, 2)).withSource(Source.STALE));
        FlagEvaluation stale = store.evaluate("a", USER, true);
        assertThat(stale.value()).isFalse();
        assertThat(stale.source()).isEqualTo(Source.STALE);
        assertThat(stale.version()).isEqualTo(4);
        assertThat(stale.flagVersion()).isEqualTo(2);
        assertThat(stale.reason().kind()).isEqualTo(Reason.Kind.DEFAULT);
        FlagEvaluation nullKey = store.evaluate(null, USER, true);
        assertThat(nullKey.reason().kind()).isEqualTo(Reason.Kind.ERROR);
        assertThat(nullKey.reason().detail()).isEqualTo("the flag key was null");
        assertThat(nullKey.value()).as("the caller's default").isTrue();
        assertThat(store.evaluate("a", null, true).reason().kind()).isEqualTo(Reason.Kind.ERROR);
    }

    @Test
    void aKeyInTheLogCannotForgeALine() {
        assertThat(FlagStore.printable("../../etc passwd\n\u0000x\u2028")).isEqualTo("../../etc passwd\\u000a\\u0000x\\u2028");
        assertThat(FlagStore.printable("z\u202eevil\u2066")).as("a request's key cannot reorder the line a reader sees")
                .isEqualTo("z\\u202eevil\\u2066");
        String plain = "billing-v2";
        assertThat(FlagStore.printable(plain)).isSameAs(plain);
    }
}
