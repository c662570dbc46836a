package dev.flags.client.openfeature;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flags.client.FlagChangeListener;
import dev.flags.client.FlagEvaluation;
import dev.flags.client.Flags;
import dev.flags.client.Freshness;
import dev.flags.client.Health;
import dev.flags.client.Source;
import dev.flags.client.StatusListener;
import dev.flags.client.testing.TestFlags;
import dev.flags.core.Condition;
import dev.flags.core.Flag;
import dev.flags.core.Operator;
import dev.flags.core.Rule;
import dev.flags.core.User;
import dev.openfeature.sdk.Client;
import dev.openfeature.sdk.ErrorCode;
import dev.openfeature.sdk.EventDetails;
import dev.openfeature.sdk.FlagEvaluationDetails;
import dev.openfeature.sdk.ImmutableContext;
import dev.openfeature.sdk.MutableContext;
import dev.openfeature.sdk.NoOpProvider;
import dev.openfeature.sdk.OpenFeatureAPI;
import dev.openfeature.sdk.ProviderEvaluation;
import dev.openfeature.sdk.ProviderState;
import dev.openfeature.sdk.Reason;
import dev.openfeature.sdk.Value;
import dev.openfeature.sdk.exceptions.FatalError;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The OpenFeature provider: types, reasons, error codes, context mapping, events. */
class FlagsProviderTest {

    private static final ImmutableContext CTX = new ImmutableContext("u-1");

    @TempDir
    Path dir;

    private static Flag rule(String key, Condition condition) {
        return new Flag(key, null, true, null, List.of(), List.of(),
                List.of(new Rule("r", List.of(condition), true, null)), false, 0);
    }

    @Test
    void booleanEvaluationsCarryOpenFeatureReasons() {
        TestFlags flags = TestFlags.create().enable("on").disable("killed").enableFor("targeted", "u-1");
        FlagsProvider p = FlagsProvider.of(flags);

        ProviderEvaluation<Boolean> on = p.getBooleanEvaluation("on", false, CTX);
        assertThat(on.getValue()).isTrue();
        assertThat(on.getReason()).isEqualTo(Reason.DEFAULT.name());
        assertThat(on.getErrorCode()).isNull();
        assertThat(on.getFlagMetadata().getLong("flagVersion")).isEqualTo(1L);
        assertThat(on.getFlagMetadata().getString("source")).isEqualTo("IN_MEMORY");

        ProviderEvaluation<Boolean> killed = p.getBooleanEvaluation("killed", true, CTX);
        assertThat(killed.getValue()).isFalse();
        assertThat(killed.getReason()).isEqualTo(Reason.DISABLED.name());

        ProviderEvaluation<Boolean> targeted = p.getBooleanEvaluation("targeted", false, CTX);
        assertThat(targeted.getValue()).isTrue();
        assertThat(targeted.getReason()).isEqualTo(Reason.TARGETING_MATCH.name());
        assertThat(targeted.getFlagMetadata().getString("flagsReason")).isEqualTo("TARGET_MATCH");
        assertThat(targeted.getFlagMetadata().getInteger("targetIndex")).as("a target's index, not a rule's").isZero();
        assertThat(targeted.getFlagMetadata().getInteger("ruleIndex")).isNull();

        ProviderEvaluation<Boolean> unknown = p.getBooleanEvaluation("nope", true, CTX);
        assertThat(unknown.getValue()).isTrue();
        assertThat(unknown.getReason()).isEqualTo(Reason.ERROR.name());
        assertThat(unknown.getErrorCode()).isEqualTo(ErrorCode.FLAG_NOT_FOUND);
        assertThat(unknown.getErrorMessage()).isEqualTo("no flag \"nope\"");
    }

    @Test
    void stringsIntegersDoublesAndObjectsComeFromTheServedVariant() {
        TestFlags flags = TestFlags.create()
                .serveVariant("colour", "green", "#00aa00")
                .serveVariant("plain", "treatment")
                .serveVariant("limit", "high", "42")
                .serveVariant("ratio", "quarter", " 0.25 ")
                .serveVariant("layout", "wide", "{\"columns\": 3, \"sidebar\": true, \"name\": \"wide\", \"sizes\": [1, 2.5],"
                        + " \"endsAtMillis\": 1764892800000}")
                .enable("boolean-only")
                .disable("off-ab");
        FlagsProvider p = FlagsProvider.of(flags);

        ProviderEvaluation<String> colour = p.getStringEvaluation("colour", "none", CTX);
        assertThat(colour.getValue()).isEqualTo("#00aa00");
        assertThat(colour.getVariant()).isEqualTo("green");
        assertThat(p.getStringEvaluation("plain", "none", CTX).getValue()).isEqualTo("treatment");
        assertThat(p.getIntegerEvaluation("limit", 0, CTX).getValue()).isEqualTo(42);
        assertThat(p.getDoubleEvaluation("ratio", 0.0, CTX).getValue()).isEqualTo(0.25);

        Value layout = p.getObjectEvaluation("layout", new Value(), CTX).getValue();
        assertThat(layout.asStructure().getValue("columns").asInteger()).isEqualTo(3);
        assertThat(layout.asStructure().getValue("sidebar").asBoolean()).isTrue();
        assertThat(layout.asStructure().getValue("name").asString()).isEqualTo("wide");
        assertThat(layout.asStructure().getValue("sizes").asList()).extracting(Value::asDouble).containsExactly(1.0, 2.5);
        // Past the int range: a double (OpenFeature has no long), never a wrapped-around integer.
        assertThat(layout.asStructure().getValue("endsAtMillis").asDouble()).isEqualTo(1764892800000.0);
        assertThat(layout.asStructure().asObjectMap()).containsEntry("endsAtMillis", 1764892800000.0);

        // Off for the user: the caller's default, with the reason that made it off.
        ProviderEvaluation<String> off = p.getStringEvaluation("off-ab", "fallback", CTX);
        assertThat(off.getValue()).isEqualTo("fallback");
        assertThat(off.getReason()).isEqualTo(Reason.DISABLED.name());
        assertThat(off.getErrorCode()).isNull();
    }

    @Test
    void wrongTypesAreTypeMismatchesAndBadJsonIsAParseError() {
        TestFlags flags = TestFlags.create().enable("boolean-only").serveVariant("colour", "green", "#00aa00")
                .serveVariant("plain", "treatment");
        FlagsProvider p = FlagsProvider.of(flags);

        ProviderEvaluation<String> s = p.getStringEvaluation("boolean-only", "d", CTX);
        assertThat(s.getValue()).isEqualTo("d");
        assertThat(s.getErrorCode()).isEqualTo(ErrorCode.TYPE_MISMATCH);
        assertThat(s.getErrorMessage()).contains("has no variants");

        ProviderEvaluation<Integer> i = p.getIntegerEvaluation("colour", 7, CTX);
        assertThat(i.getValue()).isEqualTo(7);
        assertThat(i.getErrorCode()).isEqualTo(ErrorCode.TYPE_MISMATCH);
        assertThat(i.getErrorMessage()).contains("is not an integer, was \"#00aa00\"");
        assertThat(p.getDoubleEvaluation("plain", 1.5, CTX).getErrorCode()).isEqualTo(ErrorCode.TYPE_MISMATCH);

        ProviderEvaluation<Value> o = p.getObjectEvaluation("colour", new Value("d"), CTX);
        assertThat(o.getValue().asString()).isEqualTo("d");
        assertThat(o.getErrorCode()).isEqualTo(ErrorCode.PARSE_ERROR);
        assertThat(o.getReason()).isEqualTo(Reason.ERROR.name());
        // An empty or blank payload, or JSON with more after it, is no JSON value either: never a null in place of the default.
        TestFlags odd = TestFlags.create().serveVariant("empty", "v", "").serveVariant("blank", "v", "   ")
                .serveVariant("trailing", "v", "{\"a\": 1} trailing");
        FlagsProvider q = FlagsProvider.of(odd);
        for (String key : List.of("empty", "blank", "trailing")) {
            ProviderEvaluation<Value> bad = q.getObjectEvaluation(key, new Value("d"), CTX);
            assertThat(bad.getValue().asString()).as(key).isEqualTo("d");
            assertThat(bad.getErrorCode()).as(key).isEqualTo(ErrorCode.PARSE_ERROR);
            assertThat(bad.getErrorMessage()).as(key).startsWith("the payload of variant \"v\" of flag \"" + key + "\" is not JSON");
        }
        assertThat(q.getObjectEvaluation("empty", new Value("d"), CTX).getErrorMessage()).endsWith("is not JSON: it is empty");
        // A number no double holds: refused as a double evaluation refuses it, never an Infinity in the structure.
        ProviderEvaluation<Value> huge = FlagsProvider.of(TestFlags.create().serveVariant("huge", "v", "{\"limit\": 1e400}"))
                .getObjectEvaluation("huge", new Value("d"), CTX);
        assertThat(huge.getValue().asString()).isEqualTo("d");
        assertThat(huge.getErrorCode()).isEqualTo(ErrorCode.PARSE_ERROR);
        assertThat(huge.getErrorMessage()).isEqualTo("the payload of variant \"v\" of flag \"huge\" holds a number beyond what"
                + " a double holds (about 1.8e308)");
        // and a double evaluation of such a number says the same, not "is not a number"
        TestFlags numbers = TestFlags.create().serveVariant("huge", "v", "1e400").serveVariant("nan", "v", "NaN")
                .serveVariant("small", "v", "-2.5e-3");
        ProviderEvaluation<Double> hugeDouble = FlagsProvider.of(numbers).getDoubleEvaluation("huge", 0.5, CTX);
        assertThat(hugeDouble.getValue()).isEqualTo(0.5);
        assertThat(hugeDouble.getErrorCode()).isEqualTo(ErrorCode.PARSE_ERROR);
        assertThat(hugeDouble.getErrorMessage()).isEqualTo(huge.getErrorMessage());
        ProviderEvaluation<Double> nan = FlagsProvider.of(numbers).getDoubleEvaluation("nan", 0.5, CTX);
        assertThat(nan.getErrorCode()).isEqualTo(ErrorCode.TYPE_MISMATCH);
        assertThat(nan.getErrorMessage()).isEqualTo("the payload of variant \"v\" of flag \"nan\" is not a number, was \"NaN\"");
        assertThat(FlagsProvider.of(numbers).getDoubleEvaluation("small", 0.5, CTX).getValue()).isEqualTo(-0.0025);
        ProviderEvaluation<Integer> epoch = FlagsProvider.of(TestFlags.create().serveVariant("epoch", "v", "1700000000000"))
                .getIntegerEvaluation("epoch", 7, CTX);
        assertThat(epoch.getValue()).isEqualTo(7);
        assertThat(epoch.getErrorCode()).isEqualTo(ErrorCode.TYPE_MISMATCH);
        assertThat(epoch.getErrorMessage()).isEqualTo("the payload of variant \"v\" of flag \"epoch\" is a whole number beyond"
                + " what an integer holds (-2147483648 to 2147483647), was \"1700000000000\": evaluate it as a double");
        // The integer and double evaluations agree on what a number is, JSON's numbers (QA70 F4: Integer.valueOf took
        // other scripts' digits, Double.parseDouble Java's literals)
        TestFlags javaOnly = TestFlags.create();
        for (String notJson : List.of("\u0663", "12d", "1f", "0x1p4", "+5", "007")) {
            javaOnly.serveVariant("f", "v", notJson);
            FlagsProvider provider = FlagsProvider.of(javaOnly);
            assertThat(provider.getIntegerEvaluation("f", 7, CTX).getErrorCode()).as("integer of " + notJson).isEqualTo(ErrorCode.TYPE_MISMATCH);
            assertThat(provider.getDoubleEvaluation("f", 0.5, CTX).getErrorCode()).as("double of " + notJson).isEqualTo(ErrorCode.TYPE_MISMATCH);
        }
        // An integer is a whole number in digits; the double evaluation takes every JSON number (client.md, "Types")
        for (String notWhole : List.of("0.5", "1e3", "42.0")) {
            javaOnly.serveVariant("f", "v", notWhole);
            FlagsProvider provider = FlagsProvider.of(javaOnly);
            assertThat(provider.getIntegerEvaluation("f", 7, CTX).getErrorCode()).as("integer of " + notWhole).isEqualTo(ErrorCode.TYPE_MISMATCH);
            assertThat(provider.getDoubleEvaluation("f", 0.5, CTX).getValue()).as("double of " + notWhole)
                    .isEqualTo(Double.parseDouble(notWhole));
        }
        javaOnly.serveVariant("f", "v", " -12 ");
        assertThat(FlagsProvider.of(javaOnly).getIntegerEvaluation("f", 7, CTX).getValue()).isEqualTo(-12);
        assertThat(FlagsProvider.of(javaOnly).getDoubleEvaluation("f", 0.5, CTX).getValue()).isEqualTo(-12.0);
    }

    @Test
    void theContextMapsToTheUser() {
        Flag seats = rule("many-seats", new Condition.Attribute("seats", Operator.NUM_GT, List.of("5"), false, false));
        Flag plan = rule("pro", new Condition.Attribute("plan", Operator.IN, List.of("pro"), false, false));
        Flag late = rule("late", new Condition.Attribute("signupAt", Operator.AFTER, List.of("2026-01-01T00:00:00Z"), false, false));
        TestFlags flags = TestFlags.create()
                .set(rule("beta", new Condition.Roles(List.of("beta-tester"))))
                .set(rule("eu", new Condition.Regions(List.of("eu-west"))))
                .set(seats).set(plan).set(late);
        FlagsProvider p = FlagsProvider.of(flags);

        MutableContext ctx = new MutableContext("u-9");
        ctx.add("roles", List.of(new Value("staff"), new Value("beta-tester")));
        ctx.add("region", "eu-west");
        ctx.add("seats", 12);
        MutableContext withLong = new MutableContext("u-9", java.util.Map.of("org", new Value(Long.valueOf(1234567890123456789L))));
        assertThat(FlagsProvider.toUser(withLong).attributes()).as("a 64-bit id, whole").containsEntry("org", 1234567890123456789L);
        ctx.add("plan", "pro");
        ctx.add("signupAt", Instant.parse("2026-06-01T00:00:00Z"));
        ctx.add("nested", List.of(new Value(1))); // ignored

        User user = FlagsProvider.toUser(ctx);
        assertThat(user.id()).isEqualTo("u-9");
        assertThat(user.roles()).containsExactly("staff", "beta-tester");
        assertThat(user.region()).isEqualTo("eu-west");
        assertThat(user.attributes()).containsEntry("seats", 12L).containsEntry("plan", "pro")
                .doesNotContainKey("nested").doesNotContainKey("targetingKey");
        for (String key : List.of("beta", "eu", "many-seats", "pro", "late")) {
            assertThat(p.getBooleanEvaluation(key, false, ctx).getValue()).as(key).isTrue();
        }
        assertThat(p.getBooleanEvaluation("beta", false, new ImmutableContext("u-9")).getValue()).isFalse();
        assertThat(FlagsProvider.toUser(new ImmutableContext(Map.of("roles", new Value("a, b")))).roles())
                .containsExactly("a", "b");
        MutableContext nulls = new MutableContext("u-2");
        nulls.add("roles", List.of(new Value("a"), new Value()));
        nulls.add("region", "");
        assertThat(FlagsProvider.toUser(nulls))
                .as("null roles and an empty region are none, as for User").satisfies(u -> {
                    assertThat(u.roles()).containsExactly("a");
                    assertThat(u.region()).isNull();
                });
        assertThat(FlagsProvider.toUser(null).id()).isNull();
        assertThat(FlagsProvider.toUser(new ImmutableContext()).id()).isNull();

        ProviderEvaluation<Boolean> bad = p.getBooleanEvaluation("beta", true,
                new ImmutableContext("u-1", Map.of("region", new Value(3))));
        assertThat(bad.getValue()).isTrue();
        assertThat(bad.getErrorCode()).isEqualTo(ErrorCode.INVALID_CONTEXT);
        assertThat(bad.getErrorMessage()).contains("region");
    }

    @Test
    void staleCachedAndNotReadyAnswersSaySo() {
        TestFlags test = TestFlags.create().enable("on");
        assertThat(FlagsProvider.of(new FromSource(test, Source.STALE)).getBooleanEvaluation("on", false, CTX).getReason())
                .isEqualTo("STALE");
        assertThat(FlagsProvider.of(new FromSource(test, Source.CACHE_FILE)).getBooleanEvaluation("on", false, CTX)
                .getReason()).isEqualTo(Reason.CACHED.name());
        assertThat(FlagsProvider.of(new FromSource(test, Source.LIVE)).getBooleanEvaluation("on", false, CTX)
                .getReason()).isEqualTo(Reason.DEFAULT.name());

        try (Flags none = Flags.builder().offlineFile(dir.resolve("missing.json")).build()) {
            ProviderEvaluation<Boolean> e = FlagsProvider.of(none).getBooleanEvaluation("on", true, CTX);
            assertThat(e.getValue()).isTrue();
            assertThat(e.getErrorCode()).isEqualTo(ErrorCode.PROVIDER_NOT_READY);
            assertThat(e.getErrorMessage()).contains("does not exist");
        }
    }

    @Test
    void throughTheOpenFeatureApiWithChangeEvents() throws Exception {
        TestFlags flags = TestFlags.create().enable("billing-v2");
        OpenFeatureAPI api = OpenFeatureAPI.getInstance();
        String domain = "flags-provider-test";
        api.setProviderAndWait(domain, FlagsProvider.owning(flags));
        try {
            Client client = api.getClient(domain);
            BlockingQueue<EventDetails> changes = new LinkedBlockingQueue<>();
            client.onProviderConfigurationChanged(changes::add);

            FlagEvaluationDetails<Boolean> d = client.getBooleanDetails("billing-v2", false, CTX);
            assertThat(d.getValue()).isTrue();
            assertThat(d.getReason()).isEqualTo("DEFAULT");
            assertThat(client.getBooleanDetails("missing", true, CTX).getErrorCode()).isEqualTo(ErrorCode.FLAG_NOT_FOUND);

            flags.disable("billing-v2");
            EventDetails event = changes.poll(10, TimeUnit.SECONDS);
            assertThat(event).isNotNull();
            assertThat(event.getFlagsChanged()).containsExactly("billing-v2");
            assertThat(event.getEventMetadata().getString("change")).isEqualTo("UPDATED");
            assertThat(event.getEventMetadata().getString("source")).isEqualTo("IN_MEMORY");
            assertThat(event.getEventMetadata().getLong("version")).isPositive();
            assertThat(client.getBooleanValue("billing-v2", true, CTX)).isFalse();
        } finally {
            api.setProviderAndWait(domain, new NoOpProvider());
        }
    }

    @Test
    void aProviderSetAgainAfterAnotherReplacedItEmitsChangesAgain() throws Exception {
        TestFlags flags = TestFlags.create().enable("billing-v2");
        java.util.concurrent.Semaphore removals = new java.util.concurrent.Semaphore(0); // at initialize and at shutdown
        FlagsProvider provider = FlagsProvider.of(new FromSource(flags, Source.IN_MEMORY, removals::release));
        OpenFeatureAPI api = OpenFeatureAPI.getInstance();
        String domain = "flags-provider-set-again";
        api.setProviderAndWait(domain, provider);
        api.setProviderAndWait(domain, new NoOpProvider()); // which shuts the provider down, on a thread of OpenFeature's
        assertThat(removals.tryAcquire(2, 10, TimeUnit.SECONDS)).as("initialized, then shut down").isTrue();
        api.setProviderAndWait(domain, provider);
        try {
            BlockingQueue<EventDetails> changes = new LinkedBlockingQueue<>();
            api.getClient(domain).onProviderConfigurationChanged(changes::add);
            flags.disable("billing-v2");
            // QA70 F3: its event executor was shut for good by the first shutdown, and no event came any more
            EventDetails event = changes.poll(10, TimeUnit.SECONDS);
            assertThat(event).as("a change event after the provider was set again").isNotNull();
            assertThat(event.getFlagsChanged()).containsExactly("billing-v2");
        } finally {
            api.setProviderAndWait(domain, new NoOpProvider());
        }
    }

    @Test
    void anOwningProviderWhoseShutdownClosedItsFlagsIsRefusedWhenSetAgain() {
        // QA98 F1: set again, it was READY over flags it had closed: frozen answers and no events, silently.
        TestFlags flags = TestFlags.create().enable("billing-v2");
        FlagsProvider provider = FlagsProvider.owning(flags);
        provider.initialize(new ImmutableContext());
        provider.shutdown(); // its last: the flags are closed
        OpenFeatureAPI api = OpenFeatureAPI.getInstance();
        String domain = "flags-provider-owning-set-again";
        try {
            assertThatThrownBy(() -> api.setProviderAndWait(domain, provider))
                    .isInstanceOf(FatalError.class)
                    .hasMessage("this FlagsProvider owned its Flags and closed them at its shutdown, so it cannot be set"
                            + " again: make a new Flags and FlagsProvider.owning(it), or use FlagsProvider.of(flags) for a"
                            + " provider that may be set again");
            Client client = api.getClient(domain);
            assertThat(client.getProviderState()).isEqualTo(ProviderState.FATAL);
            FlagEvaluationDetails<Boolean> d = client.getBooleanDetails("billing-v2", false, CTX);
            assertThat(d.getValue()).isFalse(); // the caller's default, not the closed flags' frozen answer
            assertThat(d.getErrorCode()).isEqualTo(ErrorCode.PROVIDER_FATAL);
        } finally {
            api.setProviderAndWait(domain, new NoOpProvider());
        }
    }

    @Test
    void theShutdownOfARegistrationThatANewerOneFollowedLeavesTheProviderEmitting() {
        // OpenFeature shuts a replaced provider down later, on a thread of its own: set again meanwhile, the provider is
        // initialized again first, and that late shutdown took its listeners away for good (no more events, silently).
        FromSource flags = new FromSource(TestFlags.create().enable("billing-v2"), Source.IN_MEMORY);
        FlagsProvider provider = FlagsProvider.of(flags);
        provider.initialize(new ImmutableContext());
        provider.initialize(new ImmutableContext()); // set again
        provider.shutdown(); // the first registration's, late
        assertThat(flags.listeners()).as("change and status listener").hasSize(2);
        provider.shutdown(); // the second's
        assertThat(flags.listeners()).isEmpty();
    }

    @Test
    void aProviderSetAgainWhileItsFormerRegistrationShutsDownGoesOnEmitting() throws Exception {
        // The same race, the other way: the late shutdown has begun when the provider is initialized again.
        CountDownLatch shutdownBegun = new CountDownLatch(1);
        CountDownLatch goOn = new CountDownLatch(1);
        AtomicBoolean holdNext = new AtomicBoolean();
        FromSource flags = new FromSource(TestFlags.create().enable("billing-v2"), Source.IN_MEMORY, () -> { }, () -> {
            if (holdNext.compareAndSet(true, false)) {
                shutdownBegun.countDown();
                try {
                    goOn.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        FlagsProvider provider = FlagsProvider.of(flags);
        provider.initialize(new ImmutableContext());
        holdNext.set(true);
        Thread shutdown = new Thread(provider::shutdown, "late-shutdown");
        shutdown.start();
        assertThat(shutdownBegun.await(10, TimeUnit.SECONDS)).isTrue();
        Thread setAgain = new Thread(() -> provider.initialize(new ImmutableContext()), "set-again");
        setAgain.start();
        // Either done (it ran while the shutdown was held) or waiting for the shutdown to end: only then let it go on.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (setAgain.isAlive() && setAgain.getState() != Thread.State.BLOCKED && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        goOn.countDown();
        shutdown.join(10_000);
        setAgain.join(10_000);
        assertThat(flags.listeners()).as("change and status listener of the registration set again").hasSize(2);
    }

    /** Answers of a {@link TestFlags}, as if they came from another source; keeps the listeners registered. */
    private record FromSource(TestFlags flags, Source source, Runnable onStatusListenerRemoved,
            Runnable beforeListenerRemoved, java.util.Set<Object> listeners) implements Flags {

        FromSource(TestFlags flags, Source source) {
            this(flags, source, () -> { });
        }

        FromSource(TestFlags flags, Source source, Runnable onStatusListenerRemoved) {
            this(flags, source, onStatusListenerRemoved, () -> { });
        }

        FromSource(TestFlags flags, Source source, Runnable onStatusListenerRemoved, Runnable beforeListenerRemoved) {
            this(flags, source, onStatusListenerRemoved, beforeListenerRemoved,
                    java.util.concurrent.ConcurrentHashMap.newKeySet());
        }
        @Override
        public boolean isEnabled(String flagKey, User user) {
            return flags.isEnabled(flagKey, user);
        }

        @Override
        public boolean isEnabled(String flagKey, User user, boolean defaultValue) {
            return flags.isEnabled(flagKey, user, defaultValue);
        }

        @Override
        public String variant(String flagKey, User user) {
            return flags.variant(flagKey, user);
        }

        @Override
        public FlagEvaluation evaluate(String flagKey, User user) {
            return evaluate(flagKey, user, false);
        }

        @Override
        public FlagEvaluation evaluate(String flagKey, User user, boolean defaultValue) {
            FlagEvaluation e = flags.evaluate(flagKey, user, defaultValue);
            return new FlagEvaluation(e.flagKey(), e.value(), e.variant(), e.payload(), e.reason(), e.flagVersion(),
                    source, e.version());
        }

        @Override
        public Map<String, FlagEvaluation> allFlags(User user) {
            return flags.allFlags(user);
        }

        @Override
        public void addListener(String flagKey, FlagChangeListener listener) {
            flags.addListener(flagKey, listener);
        }

        @Override
        public void addListener(FlagChangeListener listener) {
            flags.addListener(listener);
            listeners.add(listener);
        }

        @Override
        public void removeListener(FlagChangeListener listener) {
            beforeListenerRemoved.run();
            flags.removeListener(listener);
            listeners.remove(listener);
        }

        @Override
        public void addValueListener(String flagKey, User user, dev.flags.client.FlagValueListener listener) {
            flags.addValueListener(flagKey, user, listener);
        }

        @Override
        public void removeValueListener(dev.flags.client.FlagValueListener listener) {
            flags.removeValueListener(listener);
        }

        @Override
        public void addStatusListener(StatusListener listener) {
            flags.addStatusListener(listener);
            listeners.add(listener);
        }

        @Override
        public void removeStatusListener(StatusListener listener) {
            flags.removeStatusListener(listener);
            listeners.remove(listener);
            onStatusListenerRemoved.run();
        }

        @Override
        public boolean awaitReady(Duration timeout) {
            return true;
        }

        @Override
        public Freshness freshness() {
            return flags.freshness();
        }

        @Override
        public Health health() {
            return flags.health();
        }

        @Override
        public void close() {
        }
    }
}
