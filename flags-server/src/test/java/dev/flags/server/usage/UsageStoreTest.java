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
