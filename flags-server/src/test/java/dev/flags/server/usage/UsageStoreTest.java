package dev.flags.server.usage;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.server.journal.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The store's bounds: applications per flag, and what retain keeps. */
class UsageStoreTest {

    private static final Instant T0 = Instant.parse("2026-12-01T10:00:00Z");
    private final MutableClock clock = new MutableClock(T0);
    private final UsageStore store = new UsageStore(clock, Map.of());

    private static UsageStore.Mark mark(String key) {
        return new UsageStore.Mark(key, true, false);
    }

    @Test
    void aFlagKeepsItsTwentyMostRecentApplicationsAndAReportMovesItsApplicationToTheFront() {
        for (int i = 0; i < 21; i++) {
            store.record("production", "flags-java/0.1.0", "app-" + i, List.of(mark("billing-v2")));
            clock.advance(Duration.ofSeconds(1));
        }
        store.record("production", "flags-java/0.1.0", "app-1", List.of(mark("billing-v2")));
        List<ApplicationUse> apps = store.environment("production").orElseThrow().flags().get("billing-v2").applications();
        assertThat(apps).hasSize(UsageStore.MAX_APPLICATIONS);
        assertThat(apps.get(0)).isEqualTo(new ApplicationUse("app-1", "flags-java/0.1.0", T0.plusSeconds(21)));
        assertThat(apps.stream().map(ApplicationUse::name)).as("app-0 reported it least recently: dropped")
                .doesNotContain("app-0").contains("app-2", "app-20");
        assertThat(apps.get(1).name()).isEqualTo("app-20");

        store.record("production", "flags-go/1.0.0", "app-1", List.of(mark("billing-v2")));
        assertThat(store.environment("production").orElseThrow().flags().get("billing-v2").applications())
                .as("one entry per name and SDK").extracting(ApplicationUse::sdk).startsWith("flags-go/1.0.0", "flags-java/0.1.0");
    }

    @Test
    void aClockSteppedBackNeverMovesAFlagsLastUseBackInTime() {
        store.record("production", "flags-java/0.1.0", "checkout", List.of(new UsageStore.Mark("promo", true, true)));
        clock.set(T0.minus(Duration.ofHours(1))); // NTP stepped the clock back
        store.record("production", "flags-java/0.1.0", "checkout", List.of(new UsageStore.Mark("promo", true, true)));

        FlagUse use = store.environment("production").orElseThrow().flags().get("promo");
        assertThat(use.lastEvaluatedAt()).isEqualTo(T0);
        assertThat(use.lastServedTrueAt()).isEqualTo(T0);
        assertThat(use.lastServedFalseAt()).isEqualTo(T0);
    }

    @Test
    void retainDropsEnvironmentsAndFlagsThatAreGoneThenTheLeastRecentlyEvaluatedOverTheBound() {
        store.record("staging", "s", "a", List.of(mark("promo")));
        store.record("production", "s", "a", List.of(mark("archived-flag")));
        int over = UsageStore.MAX_FLAGS_PER_ENVIRONMENT + 5;
        List<String> keys = IntStream.range(0, over).mapToObj(i -> "flag-" + i).toList();
        for (int i = 0; i < over; i += 1_000) { // each batch a second later than the one before
            clock.advance(Duration.ofSeconds(1));
            List<UsageStore.Mark> batch = new ArrayList<>();
            keys.subList(i, Math.min(over, i + 1_000)).forEach(k -> batch.add(mark(k)));
            store.record("production", "s", "a", batch);
        }
        clock.advance(Duration.ofSeconds(1));
        store.record("production", "s", "a", List.of(mark("flag-0"))); // evaluated again: the most recent
        long changes = store.changes();
        Set<String> current = new HashSet<>(keys);
        store.retain(env -> env.equals("production") ? current : null);

        assertThat(store.environment("staging")).as("gone or archived").isEmpty();
        Set<String> kept = store.environment("production").orElseThrow().flags().keySet();
        assertThat(kept).hasSize(UsageStore.MAX_FLAGS_PER_ENVIRONMENT).doesNotContain("archived-flag").contains("flag-0")
                .as("every flag evaluated after the first batch").containsAll(keys.subList(1_000, over));
        Set<String> dropped = new HashSet<>(keys);
        dropped.removeAll(kept);
        assertThat(dropped).as("the least recently evaluated: 5 of the first batch (ties by key), not flag-0, evaluated again")
                .containsExactlyInAnyOrder("flag-1", "flag-10", "flag-100", "flag-101", "flag-102");
        assertThat(store.changes()).as("retaining records nothing").isEqualTo(changes);
    }

    @Test
    void theStoreStartsFromWhatWasReadWithTheApplicationsInTheirOrder() {
        FlagUse use = new FlagUse(T0, T0, null, List.of(new ApplicationUse("new", "s", T0.plusSeconds(5)),
                new ApplicationUse("old", "s", T0)));
        UsageStore read = new UsageStore(clock, Map.of("production", new EnvironmentUsage(T0, Map.of("promo", use))));
        assertThat(read.snapshot()).isEqualTo(Map.of("production", new EnvironmentUsage(T0, Map.of("promo", use))));
        clock.set(T0.plusSeconds(60));
        read.record("production", "s", "old", List.of(new UsageStore.Mark("promo", false, true)));
        FlagUse after = read.environment("production").orElseThrow().flags().get("promo");
        assertThat(after.applications()).extracting(ApplicationUse::name).containsExactly("old", "new");
        assertThat(after.lastServedTrueAt()).isEqualTo(T0);
        assertThat(after.lastServedFalseAt()).isEqualTo(T0.plusSeconds(60));
        assertThat(read.environment("production").orElseThrow().since()).as("kept from the file").isEqualTo(T0);
    }

    private static List<String> names(UsageStore s, String env, String flag) {
        return s.environment(env).orElseThrow().flags().get(flag).applications().stream().map(ApplicationUse::name).toList();
    }

    private static int entries(UsageStore s) {
        return s.snapshot().values().stream().mapToInt(e -> e.flags().values().stream().mapToInt(f -> f.applications().size()).sum()
                + e.unknownFlags().values().stream().mapToInt(u -> u.applications().size()).sum()).sum();
    }

    @Test
    void overTheServerWideBoundTheEntriesOfTheKeyReportedLeastRecentlyGoFirstWhateverItsEnvironment() {
        UsageStore small = new UsageStore(clock, Map.of(), 5, 100);
        small.record("production", "s", "a", List.of(mark("x"), mark("y")));
        clock.advance(Duration.ofSeconds(1));
        small.record("staging", "s", "b", List.of(mark("x")));
        clock.advance(Duration.ofSeconds(1));
        small.record("production", "s", "b", List.of(mark("y")));
        assertThat(entries(small)).isEqualTo(4);
        clock.advance(Duration.ofSeconds(1));
        small.record("staging", "s", "c", List.of(), List.of("x", "w")); // 6 entries: one goes

        assertThat(entries(small)).isEqualTo(5);
        FlagUse productionX = small.environment("production").orElseThrow().flags().get("x");
        assertThat(productionX.applications()).as("production's x was reported least recently").isEmpty();
        assertThat(productionX.lastEvaluatedAt()).as("its times are kept").isEqualTo(T0);
        assertThat(names(small, "production", "y")).containsExactly("b", "a");
        assertThat(names(small, "staging", "x")).containsExactly("b");

        clock.advance(Duration.ofSeconds(1));
        small.record("production", "s", "d", List.of(mark("z")));
        assertThat(entries(small)).isEqualTo(5);
        assertThat(names(small, "staging", "x")).as("now the least recently reported key (at +1 s)").isEmpty();
        assertThat(names(small, "production", "y")).containsExactly("b", "a");
        clock.advance(Duration.ofSeconds(1));
        small.record("production", "s", "d", List.of(mark("w")));
        assertThat(names(small, "production", "y")).as("then production's y (at +2 s): its oldest entry first").containsExactly("b");
        assertThat(small.environment("staging").orElseThrow().unknownFlags().get("x").applications()).extracting(ApplicationUse::name)
                .containsExactly("c");
        assertThat(names(small, "production", "z")).containsExactly("d");
        assertThat(entries(small)).isEqualTo(5);
    }

    @Test
    void aReportOfAnApplicationOverTheDistinctBoundCountsForTheTimesAndIsListedOnceAnotherIsForgotten() {
        UsageStore small = new UsageStore(clock, Map.of(), 100, 2);
        small.record("production", "s", "a", List.of(mark("x")));
        small.record("production", "s", "b", List.of(mark("y")));
        clock.advance(Duration.ofSeconds(1));
        small.record("production", "s", "c", List.of(mark("z")));
        FlagUse z = small.environment("production").orElseThrow().flags().get("z");
        assertThat(z.lastEvaluatedAt()).isEqualTo(T0.plusSeconds(1));
        assertThat(z.applications()).as("a and b are the two").isEmpty();
        assertThat(small.unlistedReports()).as("counted (QA48a F3: the bound was reached without a word)").isEqualTo(1);

        small.retain(env -> Set.of("y", "z")); // x archived: a is listed nowhere
        small.record("production", "s", "c", List.of(mark("z")));
        assertThat(names(small, "production", "z")).containsExactly("c");
        assertThat(small.unlistedReports()).isEqualTo(1);
    }

    @Test
    void oneEnvironmentListsAtMostItsShareOfTheApplicationsAndLeavesTheRestToTheOthers() {
        UsageStore shared = new UsageStore(clock, Map.of(), 100, 4, 2);
        shared.record("production", "s", "a", List.of(mark("x")));
        shared.record("production", "s", "b", List.of(mark("y")));
        shared.record("production", "s", "new-name-1", List.of(mark("x"))); // a token reporting under ever new names
        shared.record("production", "s", "new-name-2", List.of(mark("z")), List.of("typo"));
        assertThat(names(shared, "production", "x")).containsExactly("a");
        assertThat(shared.environment("production").orElseThrow().flags().get("z").lastEvaluatedAt())
                .as("counted for the flag's times all the same").isEqualTo(T0);
        assertThat(shared.environment("production").orElseThrow().unknownFlags().get("typo").applications()).isEmpty();
        assertThat(shared.unlistedReports()).isEqualTo(2);
        shared.record("production", "s", "b", List.of(mark("x"))); // one it lists already: listed for another key too
        assertThat(names(shared, "production", "x")).containsExactly("b", "a");

        // The server's bound (4) is not reached: staging's new applications are listed.
        shared.record("staging", "s", "c", List.of(mark("x")));
        shared.record("staging", "s", "d", List.of(mark("x")));
        assertThat(names(shared, "staging", "x")).containsExactly("d", "c");
        assertThat(shared.unlistedReports()).isEqualTo(2);

        shared.retain(env -> env.equals("production") ? Set.of("x", "z") : Set.of("x")); // y archived: b still lists x
        shared.forgetEnvironment("staging");
        shared.record("production", "s", "new-name-3", List.of(mark("z")));
        assertThat(names(shared, "production", "z")).as("still a and b: the share is full").isEmpty();
        shared.retain(env -> Set.of("z")); // x archived: a and b are listed nowhere in production
        shared.record("production", "s", "new-name-3", List.of(mark("z")));
        assertThat(names(shared, "production", "z")).containsExactly("new-name-3");

        // Read from the file, within the share too: the most recently reported kept.
        Map<String, EnvironmentUsage> read = Map.of("production", new EnvironmentUsage(T0, Map.of("x", new FlagUse(T0, null,
                null, List.of(new ApplicationUse("c", "s", T0.plusSeconds(3)), new ApplicationUse("b", "s", T0.plusSeconds(2)),
                        new ApplicationUse("a", "s", T0.plusSeconds(1)))))));
        assertThat(names(new UsageStore(clock, read, 100, 4, 2), "production", "x")).containsExactly("c", "b");
    }

    @Test
    void theReportsOfOneSecondShareTheirTimeAndAnApplicationIsOneObject() {
        store.record("production", new String("flags-java/0.1.0"), new String("checkout"), List.of(mark("promo")));
        clock.advance(Duration.ofMillis(300));
        store.record("staging", new String("flags-java/0.1.0"), new String("checkout"), List.of(mark("billing-v2")), List.of("typo"));
        FlagUse promo = store.environment("production").orElseThrow().flags().get("promo");
        EnvironmentUsage staging = store.environment("staging").orElseThrow();
        ApplicationUse first = promo.applications().get(0);
        for (ApplicationUse other : List.of(staging.flags().get("billing-v2").applications().get(0),
                staging.unknownFlags().get("typo").applications().get(0))) {
            assertThat(other.name()).isSameAs(first.name());
            assertThat(other.sdk()).isSameAs(first.sdk());
            assertThat(other.lastReportAt()).isSameAs(first.lastReportAt());
        }
        assertThat(staging.flags().get("billing-v2").lastEvaluatedAt()).isSameAs(promo.lastEvaluatedAt());
    }

    @Test
    void whatIsLoadedSharesItsApplicationsAndTimesAndIsBoundedKeepingTheMostRecentlyReported() {
        // Equal values in distinct objects, as a reader that shared nothing would give them.
        Function<Integer, ApplicationUse> app = s -> new ApplicationUse(new String("a"), new String("sdk"),
                Instant.parse("2026-12-01T10:00:0" + s + "Z"));
        Map<String, EnvironmentUsage> read = Map.of(
                "production", new EnvironmentUsage(T0, Map.of(
                        "p1", new FlagUse(T0, null, null, List.of(app.apply(2), new ApplicationUse("b", "sdk", T0))),
                        "p2", new FlagUse(T0, null, null, List.of(app.apply(1))))),
                "staging", new EnvironmentUsage(T0, Map.of("s1", new FlagUse(T0, null, null, List.of(
                        new ApplicationUse("c", "sdk", T0.plusSeconds(3)), app.apply(2))))));

        UsageStore all = new UsageStore(clock, read);
        assertThat(all.snapshot()).isEqualTo(read);
        ApplicationUse p1 = all.environment("production").orElseThrow().flags().get("p1").applications().get(0);
        ApplicationUse p2 = all.environment("production").orElseThrow().flags().get("p2").applications().get(0);
        ApplicationUse s1 = all.environment("staging").orElseThrow().flags().get("s1").applications().get(1);
        assertThat(p2.name()).isSameAs(p1.name()).isSameAs(s1.name());
        assertThat(p2.sdk()).isSameAs(p1.sdk()).isSameAs(s1.sdk());
        assertThat(s1.lastReportAt()).isSameAs(p1.lastReportAt());

        UsageStore bounded = new UsageStore(clock, read, 3, 100);
        assertThat(names(bounded, "staging", "s1")).as("reported last, at +3 s").containsExactly("c", "a");
        assertThat(names(bounded, "production", "p1")).as("at +2 s: one entry left of the three").containsExactly("a");
        assertThat(names(bounded, "production", "p2")).as("at +1 s").isEmpty();
        assertThat(bounded.environment("production").orElseThrow().flags().get("p2").lastEvaluatedAt()).isEqualTo(T0);

        bounded.record("production", "sdk", "d", List.of(mark("p3")));
        assertThat(names(bounded, "production", "p1")).as("the least recently reported key, as loaded").isEmpty();
        assertThat(names(bounded, "staging", "s1")).containsExactly("c", "a");
    }

    private static final ApplicationUse CHECKOUT = new ApplicationUse("checkout", "flags-java/0.1.0", T0);

    @Test
    void anUnknownKeyKeepsWhenItWasLastAskedForAndByWhichApplicationsMostRecentFirst() {
        store.record("production", "flags-java/0.1.0", "checkout", List.of(mark("promo")), List.of("biling-v2", "old-flow"));
        clock.advance(Duration.ofMinutes(1).plusMillis(700));
        store.record("production", "flags-go/1.2.0", "", List.of(), List.of("biling-v2"));

        EnvironmentUsage usage = store.environment("production").orElseThrow();
        assertThat(usage.flags().keySet()).as("unknown keys are kept apart from the flags").containsExactly("promo");
        Instant later = T0.plusSeconds(60);
        assertThat(usage.unknownFlags()).isEqualTo(Map.of(
                "biling-v2", new UnknownFlagUse(later, List.of(new ApplicationUse(ApplicationUse.UNNAMED, "flags-go/1.2.0", later),
                        CHECKOUT)),
                "old-flow", new UnknownFlagUse(T0, List.of(CHECKOUT))));
    }

    @Test
    void anEnvironmentKeepsItsThousandMostRecentlyAskedUnknownKeysAsTheyAreRecorded() {
        List<String> first = IntStream.range(0, UsageStore.MAX_UNKNOWN_FLAGS_PER_ENVIRONMENT).mapToObj(i -> "typo-" + i).toList();
        store.record("production", "s", "a", List.of(), first);
        clock.advance(Duration.ofSeconds(1));
        store.record("production", "s", "a", List.of(), List.of("typo-0")); // asked again: the most recent
        clock.advance(Duration.ofSeconds(1));
        store.record("production", "s", "a", List.of(), List.of("new-1", "new-2"));

        Set<String> kept = store.environment("production").orElseThrow().unknownFlags().keySet();
        assertThat(kept).as("bounded at once, before any write").hasSize(UsageStore.MAX_UNKNOWN_FLAGS_PER_ENVIRONMENT)
                .contains("typo-0", "new-1", "new-2", "typo-3", "typo-999")
                .as("the least recently asked, in the order the report listed them").doesNotContain("typo-1", "typo-2");

        UsageStore reread = new UsageStore(clock, store.snapshot());
        clock.advance(Duration.ofSeconds(1));
        reread.record("production", "s", "a", List.of(), List.of("new-3"));
        assertThat(reread.environment("production").orElseThrow().unknownFlags().keySet())
                .as("read back, the least recently asked still goes first (ties by key)")
                .hasSize(UsageStore.MAX_UNKNOWN_FLAGS_PER_ENVIRONMENT).contains("new-3", "typo-0", "typo-3", "typo-100")
                .doesNotContain("typo-10");
    }

    @Test
    void retainDropsUnknownKeysThatAreFlagsNowAndThoseNotAskedForInThirtyDays() {
        store.record("production", "s", "a", List.of(), List.of("stale", "created-since", "still-asked"));
        clock.advance(UsageStore.UNKNOWN_FLAG_RETENTION.minusSeconds(1));
        store.record("production", "s", "a", List.of(), List.of("still-asked"));
        store.retain(env -> Set.of("created-since"));
        assertThat(store.environment("production").orElseThrow().unknownFlags().keySet())
                .as("29 days, 23:59:59 ago is kept; a flag now is dropped").containsExactlyInAnyOrder("stale", "still-asked");

        clock.advance(Duration.ofSeconds(1));
        store.retain(env -> Set.of());
        assertThat(store.environment("production").orElseThrow().unknownFlags().keySet()).as("exactly 30 days is kept")
                .containsExactlyInAnyOrder("stale", "still-asked");
        clock.advance(Duration.ofSeconds(1));
        store.retain(env -> Set.of());
        assertThat(store.environment("production").orElseThrow().unknownFlags().keySet()).as("over 30 days: dropped")
                .containsExactly("still-asked");
    }
}
