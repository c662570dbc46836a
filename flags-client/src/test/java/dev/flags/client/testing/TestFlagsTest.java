package dev.flags.client.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flags.client.FlagChangeEvent;
import dev.flags.client.FlagEvaluation;
import dev.flags.client.FlagValueChangeEvent;
import dev.flags.client.FlagValueListener;
import dev.flags.client.Flags;
import dev.flags.client.Freshness;
import dev.flags.client.Health;
import dev.flags.client.Source;
import dev.flags.client.StatusListener;
import dev.flags.core.Condition;
import dev.flags.core.Flag;
import dev.flags.core.FlagValidationException;
import dev.flags.core.Reason;
import dev.flags.core.Rule;
import dev.flags.core.User;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The test helper behaves like the real SDK, and a test sets its flags directly. */
class TestFlagsTest {

    private static final User USER = User.withId("u-1");

    @Test
    void flagsAreUnknownUntilSet() {
        TestFlags flags = TestFlags.create();
        assertThat(flags.isEnabled("billing-v2", USER)).isFalse();
        assertThat(flags.isEnabled("billing-v2", USER, true)).isTrue();
        FlagEvaluation e = flags.evaluate("billing-v2", USER);
        assertThat(e.reason().kind()).isEqualTo(Reason.Kind.FLAG_NOT_FOUND);
        assertThat(e.source()).isEqualTo(Source.IN_MEMORY);
        assertThat(flags.awaitReady(Duration.ZERO)).isTrue();
        assertThat(flags.health().status()).isEqualTo(Health.Status.UP);
    }

    @Test
    void aListenerForAKeyNoFlagCanHaveIsRefusedAtOnce() {
        TestFlags flags = TestFlags.create();
        assertThatThrownBy(() -> flags.addListener("Billing V2!", event -> { }))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("no flag can have the key \"Billing V2!\" (a flag key starts with a letter or digit and"
                        + " holds only letters, digits, '.', '_' and '-', at most 128): a listener for it would never be called");
        assertThatThrownBy(() -> flags.addListener("", event -> { })).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> flags.addListener("line\nbreak", event -> { }))
                .hasMessageContaining("\"line\\u000abreak\"");

        List<FlagChangeEvent> events = new ArrayList<>();
        flags.addListener("not-yet-created", events::add); // a valid key of a flag that does not exist yet
        flags.enable("not-yet-created");
        assertThat(events).extracting(FlagChangeEvent::change).containsExactly(FlagChangeEvent.Change.ADDED);
    }

    @Test
    void aMissingKeyOrUserIdIsSaidInTheTestAuthorsTerms() {
        TestFlags flags = TestFlags.create();
        assertThatThrownBy(() -> flags.enable(null)).isInstanceOf(NullPointerException.class).hasMessage("flagKey");
        assertThatThrownBy(() -> flags.disable(null)).isInstanceOf(NullPointerException.class).hasMessage("flagKey");
        assertThatThrownBy(() -> flags.serveVariant(null, "v")).isInstanceOf(NullPointerException.class).hasMessage("flagKey");
        assertThatThrownBy(() -> flags.enableFor("new-search")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("enableFor needs at least one user id (enable turns the flag on for everyone)");
    }

    @Test
    void enableDisableAndTarget() {
        TestFlags flags = TestFlags.create().enable("billing-v2").enableFor("new-search", "u-1", "u-2");
        assertThat(flags.isEnabled("billing-v2", USER)).isTrue();
        assertThat(flags.isEnabled("new-search", USER)).isTrue();
        assertThat(flags.isEnabled("new-search", User.withId("u-3"))).isFalse();
        assertThat(flags.evaluate("new-search", USER).reason().kind()).isEqualTo(Reason.Kind.TARGET_MATCH);

        flags.disable("billing-v2");
        assertThat(flags.isEnabled("billing-v2", USER, true)).isFalse();
        assertThat(flags.evaluate("billing-v2", USER).reason().kind()).isEqualTo(Reason.Kind.FLAG_OFF);

        flags.remove("billing-v2");
        assertThat(flags.evaluate("billing-v2", USER).reason().kind()).isEqualTo(Reason.Kind.FLAG_NOT_FOUND);
        flags.clear();
        assertThat(flags.allFlags(USER)).isEmpty();
    }

    @Test
    void variantsRulesAndRoleGrants() {
        Flag beta = new Flag("beta-only", null, true, null, List.of(), List.of(),
                List.of(new Rule("testers", List.of(new Condition.Roles(List.of("beta-tester"))), true, null)), false, 0);
        TestFlags flags = TestFlags.create().serveVariant("checkout-button", "green", "#00aa00").set(beta);
        assertThat(flags.variant("checkout-button", USER)).isEqualTo("green");
        assertThat(flags.evaluate("checkout-button", USER).payload()).isEqualTo("#00aa00");
        assertThat(flags.isEnabled("beta-only", USER)).isFalse();
        assertThat(flags.isEnabled("beta-only", USER.roles("beta-tester"))).isTrue();
        flags.grantRole("beta-tester", "u-1");
        assertThat(flags.isEnabled("beta-only", USER)).isTrue();
        assertThat(flags.evaluate("beta-only", USER).flagVersion()).isEqualTo(2);

        // the kill switch and the recovery: only the switch moves, the rule and the variant stay
        flags.disable("beta-only").disable("checkout-button");
        assertThat(flags.isEnabled("beta-only", USER)).isFalse();
        flags.switchOn("beta-only").switchOn("checkout-button");
        assertThat(flags.isEnabled("beta-only", User.withId("u-2"))).as("the rule decides again").isFalse();
        assertThat(flags.isEnabled("beta-only", USER)).isTrue();
        assertThat(flags.variant("checkout-button", USER)).isEqualTo("green");
        flags.disable("new-key"); // a flag the test never set: off, and switched on it is on for everyone, as enable() makes
        assertThat(flags.isEnabled("new-key", USER)).isFalse();
        assertThat(flags.switchOn("new-key").isEnabled("new-key", USER)).isTrue();
        assertThatThrownBy(() -> flags.switchOn("nope")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("there is no flag \"nope\" to switch on: set it first, or enable(\"nope\") for on for everyone");

        flags.setJson("{\"key\": \"from-json\", \"enabled\": true, \"default\": true}");
        assertThat(flags.isEnabled("from-json", USER)).isTrue();
        assertThatThrownBy(() -> flags.setJson("{\"key\": \"bad\", \"enabeld\": true}"))
                .isInstanceOf(FlagValidationException.class).hasMessageContaining("enabeld");
    }

    @Test
    void listenersAreCalledBeforeTheChangeReturns() {
        TestFlags flags = TestFlags.create();
        List<FlagChangeEvent> events = new ArrayList<>();
        flags.addListener("billing-v2", events::add);
        flags.enable("billing-v2").enable("other");
        assertThat(events).containsExactly(
                new FlagChangeEvent("billing-v2", FlagChangeEvent.Change.ADDED, 1, Source.IN_MEMORY));
        flags.disable("billing-v2");
        assertThat(events).hasSize(2).last().extracting(FlagChangeEvent::change).isEqualTo(FlagChangeEvent.Change.UPDATED);
    }

    @Test
    void aListenerThatThrowsFailsTheChangeCallAfterTheOthersHadTheirs() {
        TestFlags flags = TestFlags.create();
        List<String> seen = new ArrayList<>();
        flags.addListener(e -> {
            throw new AssertionError("expected billing-v2, got " + e.flagKey());
        });
        flags.addListener(e -> seen.add(e.flagKey()));
        assertThatThrownBy(() -> flags.enable("a")).as("a failed assertion in a listener fails the test")
                .isInstanceOf(AssertionError.class).hasMessage("expected billing-v2, got a");
        assertThat(seen).containsExactly("a");
        assertThat(flags.isEnabled("a", User.withId("u"))).as("the change itself happened").isTrue();
    }

    @Test
    void aChangeThatChangesNothingMakesNoVersionAndNoEvent() {
        TestFlags flags = TestFlags.create().enable("a").grantRole("beta", "u-1");
        List<FlagChangeEvent> events = new ArrayList<>();
        flags.addListener(events::add);
        long version = flags.freshness().version();
        flags.enable("a").grantRole("beta", "u-1").remove("never-there");
        assertThat(events).isEmpty();
        assertThat(flags.freshness().version()).isEqualTo(version);
        flags.clear().clear();
        assertThat(flags.freshness().version()).isEqualTo(version + 1);
    }

    @Test
    void anApplicationTakesItAsFlags() {
        Flags flags = TestFlags.create().enable("billing-v2");
        assertThat(new Checkout(flags).path(USER)).isEqualTo("v2");
        ((TestFlags) flags).disable("billing-v2");
        assertThat(new Checkout(flags).path(USER)).isEqualTo("v1");
    }

    /** Stands for application code that knows only {@link Flags}. */
    private record Checkout(Flags flags) {
        String path(User user) {
            return flags.isEnabled("billing-v2", user) ? "v2" : "v1";
        }
    }

    @Test
    void aGrantOrTargetNoRuleCouldMatchIsRefusedWithWhatIsWrong() {
        TestFlags flags = TestFlags.create();
        assertThatThrownBy(() -> flags.grantRole("", "u-1")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("role must be a role name (an ASCII letter or digit, then ASCII letters, digits, '.', '_', ':' or '-',"
                        + " at most 128 characters), was \"\"");
        assertThatThrownBy(() -> flags.grantRole("beta tester", "u-1")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> flags.grantRole("beta", "u-1", "")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("userIds[1] must be a user id of 1 to 1024 characters, was 0");
        assertThatThrownBy(() -> flags.enableFor("x", "u-1", null)).isInstanceOf(NullPointerException.class)
                .hasMessage("userIds[1] is null");
        // QA98 F2: a grant to nobody passed in silence, and the rule that names the role then matched no user of the test
        assertThatThrownBy(() -> flags.grantRole("beta-tester")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("grantRole needs at least one user id: grantRole(\"beta-tester\", \"u-1\") grants the role to"
                        + " user u-1 (a role is granted to users, as on the server)");
        assertThat(flags.freshness().version()).as("nothing was changed").isZero();
    }

    @Test
    void aStatusListenerIsCalledOnceOnTheCallingThreadWithInMemory() {
        TestFlags flags = TestFlags.create().enable("a");
        List<Freshness> status = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        StatusListener listener = f -> {
            threads.add(Thread.currentThread());
            status.add(f);
        };
        flags.addStatusListener(listener);
        assertThat(status).containsExactly(new Freshness(1, Source.IN_MEMORY, false, null, null));
        assertThat(threads).containsExactly(Thread.currentThread());

        flags.disable("a").remove("a"); // changes of flags are not changes of state
        assertThat(status).hasSize(1);

        assertThatThrownBy(() -> flags.addStatusListener(f -> {
            throw new IllegalStateException("broken");
        })).as("its one call, on the test's thread, fails the test").hasMessage("broken");
        flags.removeStatusListener(listener);
        flags.enable("b");
        assertThat(flags.isEnabled("b", USER)).isTrue();
        assertThat(status).hasSize(1);
    }

    /**
     * A status listener's call runs under the store's lock; one that changes flags from it, while another thread's
     * change (holding the test flags' lock) waits for the store's, deadlocked both: the locks were taken in two orders.
     */
    @Test
    @org.junit.jupiter.api.Timeout(30)
    void aStatusListenerThatChangesFlagsWhileAnotherThreadDoesDeadlocksNeither() throws Exception {
        TestFlags flags = TestFlags.create();
        java.util.concurrent.CountDownLatch inListener = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.atomic.AtomicReference<Thread> other = new java.util.concurrent.atomic.AtomicReference<>();
        Thread registering = new Thread(() -> flags.addStatusListener(f -> {
            inListener.countDown();
            Thread changing;
            while ((changing = other.get()) == null || changing.getState() != Thread.State.BLOCKED) {
                Thread.onSpinWait(); // until the other thread's change waits for a lock
            }
            flags.enable("from-listener");
        }), "registering");
        registering.setDaemon(true);
        registering.start();
        assertThat(inListener.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        Thread changing = new Thread(() -> flags.enable("from-other-thread"), "changing");
        changing.setDaemon(true);
        other.set(changing);
        changing.start();

        registering.join(10_000);
        changing.join(10_000);
        assertThat(registering.isAlive()).as("the registering thread ended").isFalse();
        assertThat(changing.isAlive()).as("the other thread's change ended").isFalse();
        assertThat(flags.isEnabled("from-listener", USER)).isTrue();
        assertThat(flags.isEnabled("from-other-thread", USER)).isTrue();
    }

    @Test
    void aValueListenerHearsOnlyOfChangesOfItsOwnUsersAnswerWithTheAnswerBeforeAndAfter() {
        TestFlags flags = TestFlags.create();
        User tess = User.withId("u-tess");
        List<FlagValueChangeEvent> heard = new ArrayList<>();
        FlagValueListener listener = heard::add;
        flags.addValueListener("billing-v2", tess, listener); // before the flag exists: its answer is the default

        flags.enableFor("billing-v2", "u-other");
        assertThat(heard).as("added, but off for tess as before").isEmpty();
        flags.enableFor("billing-v2", "u-other", "u-tess");
        assertThat(heard).hasSize(1);
        FlagValueChangeEvent on = heard.get(0);
        assertThat(on.flagKey()).isEqualTo("billing-v2");
        assertThat(on.user()).isSameAs(tess);
        assertThat(on.oldValue().value()).isFalse();
        assertThat(on.oldValue().reason().kind()).as("as of the change before, unheard").isEqualTo(Reason.Kind.DEFAULT);
        assertThat(on.newValue().value()).isTrue();
        assertThat(on.newValue().reason().kind()).isEqualTo(Reason.Kind.TARGET_MATCH);
        flags.enableFor("billing-v2", "u-tess");
        assertThat(heard).as("other users' answers changed, not hers").hasSize(1);
        flags.remove("billing-v2");
        assertThat(heard).hasSize(2);
        assertThat(heard.get(1).oldValue().value()).as("the answer of the change before").isTrue();
        assertThat(heard.get(1).newValue().value()).isFalse();

        // A variant, and a variant's payload, are the answer too.
        flags.serveVariant("checkout-button", "green", "#00aa00");
        flags.addValueListener("checkout-button", tess, listener);
        flags.serveVariant("checkout-button", "blue", "#0000cc");
        flags.serveVariant("checkout-button", "blue", "#0000ff");
        flags.serveVariant("checkout-button", "blue", "#0000ff");
        assertThat(heard).hasSize(4);
        assertThat(heard.get(2).oldValue().variant()).isEqualTo("green");
        assertThat(heard.get(2).newValue().variant()).isEqualTo("blue");
        assertThat(heard.get(3).oldValue().payload()).isEqualTo("#0000cc");
        assertThat(heard.get(3).newValue().payload()).isEqualTo("#0000ff");

        flags.removeValueListener(listener);
        flags.enable("billing-v2");
        flags.serveVariant("checkout-button", "green");
        assertThat(heard).as("removed, with both its registrations").hasSize(4);
        flags.removeValueListener(listener); // not registered: ignored

        assertThatThrownBy(() -> flags.addValueListener("billing v2", tess, listener)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no flag can have the key");
        assertThatThrownBy(() -> flags.addValueListener("billing-v2", null, listener)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> flags.addValueListener("billing-v2", tess, null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void aStatusListenerThatFailsOnItsCallMakesAddStatusListenerThrowAndIsNotKept() {
        TestFlags flags = TestFlags.create();
        List<Freshness> heard = new ArrayList<>();
        StatusListener failing = freshness -> {
            heard.add(freshness);
            throw new AssertionError("expected LIVE");
        };
        assertThatThrownBy(() -> flags.addStatusListener(failing)).isInstanceOf(AssertionError.class)
                .hasMessage("expected LIVE");
        assertThat(heard).hasSize(1);
        flags.removeStatusListener(failing); // not kept: nothing to remove, and no error
    }
}
