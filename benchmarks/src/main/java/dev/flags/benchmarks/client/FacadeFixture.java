package dev.flags.benchmarks.client;

import dev.flags.benchmarks.eval.Expected;
import dev.flags.benchmarks.eval.Fixture;
import dev.flags.benchmarks.eval.OursFixture;
import dev.flags.benchmarks.eval.Scenario;
import dev.flags.client.Flags;
import dev.flags.client.Source;
import dev.flags.core.User;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Thread-safe. The SDK facade, {@link Flags}, run offline from a copy of the evaluation benchmark's
 * own flag file ({@code eval/ours.json}), beside the bare {@link dev.flags.core.FlagSet} compiled from the same file,
 * with the same 1,024 users: so the two differ only by the facade.
 */
public final class FacadeFixture implements Fixture {

    /** The evaluation benchmark's flag file, read from the classpath. */
    static final String FLAG_FILE = "/dev/flags/benchmarks/eval/ours.json";

    private final Flags flags;
    private final OursFixture bare;
    private final Path dir;

    private FacadeFixture(Flags flags, OursFixture bare, Path dir) {
        this.flags = flags;
        this.bare = bare;
        this.dir = dir;
    }

    /**
     * Copies the flag file to a temporary directory and builds {@code Flags.builder().offlineFile(..)} on it.
     *
     * @return the started facade, with the bare evaluator beside it
     * @throws IllegalStateException if the SDK did not load the file
     */
    public static FacadeFixture start() {
        OursFixture ours = OursFixture.start();
        Path dir;
        Path file;
        try (InputStream in = FacadeFixture.class.getResourceAsStream(FLAG_FILE)) {
            if (in == null) {
                throw new IllegalStateException("no " + FLAG_FILE + " on the classpath");
            }
            dir = Files.createTempDirectory("flags-facade-bench");
            file = dir.resolve("ours.json");
            Files.copy(in, file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot copy " + FLAG_FILE + " to a temporary file", e);
        }
        Flags flags = Flags.builder().offlineFile(file).build();
        if (!flags.awaitReady(Duration.ofSeconds(10)) || flags.freshness().source() != Source.OFFLINE_FILE) {
            flags.close();
            throw new IllegalStateException("the SDK did not load " + file + ": " + flags.freshness());
        }
        return new FacadeFixture(flags, ours, dir);
    }

    /** @return the facade */
    public Flags flags() {
        return flags;
    }

    /** @return the bare evaluator, compiled from the same file, as the evaluation benchmark runs it */
    public OursFixture bare() {
        return bare;
    }

    /** @return the pool's users (the same objects for both); callers must not change the array */
    public User[] users() {
        return bare.users();
    }

    @Override
    public String name() {
        return "ours through the Flags facade (flags-client, offline file)";
    }

    @Override
    public boolean isEnabled(Scenario scenario, int userIndex) {
        return flags.isEnabled(scenario.flagKey(), bare.users()[userIndex]);
    }

    @Override
    public Expected.Rollout rollout() {
        return Expected.OURS;
    }

    @Override
    public void close() {
        flags.close();
        try {
            Files.deleteIfExists(dir.resolve("ours.json"));
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            // a temporary directory left behind is harmless
        }
    }
}
