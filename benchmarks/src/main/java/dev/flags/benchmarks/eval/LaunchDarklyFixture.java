package dev.flags.benchmarks.eval;

import com.launchdarkly.logging.LDLogLevel;
import com.launchdarkly.sdk.LDContext;
import com.launchdarkly.sdk.LDValue;
import com.launchdarkly.sdk.server.Components;
import com.launchdarkly.sdk.server.LDClient;
import com.launchdarkly.sdk.server.LDConfig;
import com.launchdarkly.sdk.server.integrations.FileData;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;

/**
 * Thread-safe. LaunchDarkly's Java server SDK, offline: flags come from its file data source
 * ({@code launchdarkly.json}, full flag form), no events are sent, and diagnostics are off.
 *
 * <p>Roles are an array attribute {@code roles}, region and plan are string attributes; each rule is
 * one {@code in} clause. The rollout is a fallthrough rollout of 50000/50000 with the flag key as salt.
 * Logging is at WARN, as a production service would run it (at INFO the SDK logs every evaluation of
 * an unknown flag).
 */
public final class LaunchDarklyFixture implements Fixture {

    private final LDClient client;
    private final LDContext[] users;

    private LaunchDarklyFixture(LDClient client, LDContext[] users) {
        this.client = client;
        this.users = users;
    }

    /** @return the client, initialized from the file */
    public static LaunchDarklyFixture start() {
        LDConfig config = new LDConfig.Builder()
                .dataSource(FileData.dataSource().filePaths(Resources.file("launchdarkly.json")).autoUpdate(false))
                .events(Components.noEvents())
                .diagnosticOptOut(true)
                .logging(Components.logging().level(LDLogLevel.WARN))
                .startWait(Duration.ofSeconds(10))
                .build();
        LDClient client = new LDClient("sdk-flags-benchmarks-offline", config);
        if (!client.isInitialized()) {
            closeQuietly(client);
            throw new IllegalStateException("LaunchDarkly did not initialize from its file data source");
        }
        List<UserSpec> specs = UserPool.users();
        LDContext[] users = new LDContext[specs.size()];
        for (int i = 0; i < users.length; i++) {
            UserSpec spec = specs.get(i);
            var context = LDContext.builder(spec.id()).set("plan", spec.plan());
            context.set("roles", spec.role() == null ? LDValue.arrayOf() : LDValue.arrayOf(LDValue.of(spec.role())));
            if (spec.region() != null) {
                context.set("region", spec.region());
            }
            users[i] = context.build();
        }
        return new LaunchDarklyFixture(client, users);
    }

    /** @return the client */
    public LDClient client() {
        return client;
    }

    /** @return the pool's users as contexts; callers must not change the array */
    public LDContext[] users() {
        return users;
    }

    @Override
    public String name() {
        return "LaunchDarkly";
    }

    @Override
    public boolean isEnabled(Scenario scenario, int userIndex) {
        return client.boolVariation(scenario.flagKey(), users[userIndex], false);
    }

    @Override
    public Expected.Rollout rollout() {
        return Expected.LAUNCHDARKLY;
    }

    @Override
    public void close() {
        closeQuietly(client);
    }

    private static void closeQuietly(LDClient client) {
        try {
            client.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
