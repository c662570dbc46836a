package dev.flags.benchmarks.eval;

import io.getunleash.DefaultUnleash;
import io.getunleash.Unleash;
import io.getunleash.UnleashContext;
import io.getunleash.event.ClientFeaturesResponse;
import io.getunleash.util.UnleashConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Thread-safe. Unleash's Java SDK, bootstrapped from {@code unleash.json} (the client features format)
 * and cut off from the network: its feature fetcher only ever answers "not changed", polling and
 * metrics are off, and its backup file lives in a fresh temporary directory.
 *
 * <p>Roles, regions and plans are context properties ({@code role}, {@code region}, {@code plan})
 * matched by {@code IN} constraints; the rollout is the built-in {@code flexibleRollout} with
 * stickiness {@code userId} and the flag key as group id.
 */
public final class UnleashFixture implements Fixture {

    private static final AtomicInteger INSTANCES = new AtomicInteger();

    private final DefaultUnleash unleash;
    private final UnleashContext[] users;

    private UnleashFixture(DefaultUnleash unleash, UnleashContext[] users) {
        this.unleash = unleash;
        this.users = users;
    }

    /** @return the client, holding the bootstrapped toggles */
    public static UnleashFixture start() {
        String toggles = Resources.text("unleash.json");
        Path backupDir;
        try {
            backupDir = Files.createTempDirectory("flags-bench-unleash-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        backupDir.toFile().deleteOnExit();
        UnleashConfig config = UnleashConfig.builder()
                .appName("flags-benchmarks")
                // One instance id per client, so that Unleash does not warn about duplicate clients.
                .instanceId("flags-benchmarks-" + INSTANCES.incrementAndGet())
                // Required by the builder; never contacted: the fetcher below replaces the HTTP one.
                .unleashAPI("http://127.0.0.1:9/api/")
                .unleashFeatureFetcherFactory(c -> ClientFeaturesResponse::notChanged)
                .toggleBootstrapProvider(() -> Optional.of(toggles))
                .backupFile(backupDir.resolve("unleash-backup.json").toString())
                .disablePolling()
                .disableMetrics()
                .synchronousFetchOnInitialisation(false)
                .build();
        DefaultUnleash unleash = new DefaultUnleash(config);
        List<UserSpec> specs = UserPool.users();
        UnleashContext[] users = new UnleashContext[specs.size()];
        for (int i = 0; i < users.length; i++) {
            UserSpec spec = specs.get(i);
            UnleashContext.Builder context = UnleashContext.builder().userId(spec.id()).addProperty("plan", spec.plan());
            if (spec.role() != null) {
                context.addProperty("role", spec.role());
            }
            if (spec.region() != null) {
                context.addProperty("region", spec.region());
            }
            users[i] = context.build();
        }
        return new UnleashFixture(unleash, users);
    }

    /** @return the client */
    public Unleash unleash() {
        return unleash;
    }

    /** @return the pool's users as Unleash contexts; callers must not change the array */
    public UnleashContext[] users() {
        return users;
    }

    @Override
    public String name() {
        return "Unleash";
    }

    @Override
    public boolean isEnabled(Scenario scenario, int userIndex) {
        return unleash.isEnabled(scenario.flagKey(), users[userIndex]);
    }

    @Override
    public Expected.Rollout rollout() {
        return Expected.UNLEASH;
    }

    @Override
    public void close() {
        unleash.shutdown();
    }
}
