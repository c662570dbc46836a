package dev.flags.benchmarks.eval;

import dev.openfeature.contrib.providers.flagd.Config;
import dev.openfeature.contrib.providers.flagd.FlagdOptions;
import dev.openfeature.contrib.providers.flagd.FlagdProvider;
import dev.openfeature.sdk.Client;
import dev.openfeature.sdk.EvaluationContext;
import dev.openfeature.sdk.ImmutableContext;
import dev.openfeature.sdk.OpenFeatureAPI;
import dev.openfeature.sdk.Value;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Thread-safe. flagd's OpenFeature provider with its in-process evaluator, reading {@code flagd.json}
 * from a file (resolver {@code FILE}: no flagd daemon, no network), called the way applications call
 * it: through an OpenFeature {@link Client}.
 *
 * <p>Roles are a list attribute {@code roles}, region and plan strings; targeting is JsonLogic
 * ({@code in}, {@code if} chains) and the rollout is flagd's {@code fractional} operator.
 */
public final class FlagdFixture implements Fixture {

    private static final String DOMAIN = "flags-benchmarks-flagd";

    private final FlagdProvider provider;
    private final Client client;
    private final EvaluationContext[] users;

    private FlagdFixture(FlagdProvider provider, Client client, EvaluationContext[] users) {
        this.provider = provider;
        this.client = client;
        this.users = users;
    }

    /** @return the client, its provider ready */
    public static FlagdFixture start() {
        FlagdOptions options = FlagdOptions.builder()
                .resolverType(Config.Resolver.FILE)
                .offlineFlagSourcePath(Resources.file("flagd.json").toString())
                // The file never changes; look at it rarely.
                .offlinePollIntervalMs(60_000)
                // Its first read of the file must finish within this (1 s by default, which a loaded machine missed in a
                // test run): the benchmarks time evaluations, never this start.
                .deadline(30_000)
                .build();
        FlagdProvider provider = new FlagdProvider(options);
        OpenFeatureAPI api = OpenFeatureAPI.getInstance();
        api.setProviderAndWait(DOMAIN, provider);
        Client client = api.getClient(DOMAIN);
        List<UserSpec> specs = UserPool.users();
        EvaluationContext[] users = new EvaluationContext[specs.size()];
        for (int i = 0; i < users.length; i++) {
            UserSpec spec = specs.get(i);
            Map<String, Value> attributes = new HashMap<>();
            attributes.put("plan", new Value(spec.plan()));
            attributes.put("roles", new Value(spec.role() == null ? List.of() : List.of(new Value(spec.role()))));
            if (spec.region() != null) {
                attributes.put("region", new Value(spec.region()));
            }
            users[i] = new ImmutableContext(spec.id(), attributes);
        }
        return new FlagdFixture(provider, client, users);
    }

    /** @return the OpenFeature client bound to the flagd provider */
    public Client client() {
        return client;
    }

    /** @return the pool's users as evaluation contexts; callers must not change the array */
    public EvaluationContext[] users() {
        return users;
    }

    @Override
    public String name() {
        return "flagd (in-process)";
    }

    @Override
    public boolean isEnabled(Scenario scenario, int userIndex) {
        return client.getBooleanValue(scenario.flagKey(), false, users[userIndex]);
    }

    @Override
    public Expected.Rollout rollout() {
        return Expected.FLAGD;
    }

    @Override
    public void close() {
        provider.shutdown();
    }
}
