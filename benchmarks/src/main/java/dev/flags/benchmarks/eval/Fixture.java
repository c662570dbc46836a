package dev.flags.benchmarks.eval;

/**
 * Thread-safe once started. One implementation, loaded with the six scenarios' flags and the pool's
 * 1,024 users converted to its own user type; the benchmarks read its parts directly, the checks go
 * through {@link #isEnabled}.
 */
public interface Fixture extends AutoCloseable {

    /** @return the implementation's short name, as the report shows it */
    String name();

    /**
     * Evaluates a scenario's flag for one user of the pool, exactly as the benchmark does.
     *
     * @param scenario the scenario
     * @param userIndex the user's index in {@link UserPool#users()}
     * @return the implementation's answer
     */
    boolean isEnabled(Scenario scenario, int userIndex);

    /** @return this implementation's documented bucketing of scenario S2 */
    Expected.Rollout rollout();

    /** Stops the implementation's threads, if it has any. Idempotent. */
    @Override
    void close();
}
