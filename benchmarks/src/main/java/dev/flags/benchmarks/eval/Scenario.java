package dev.flags.benchmarks.eval;

/**
 * Immutable. The six evaluation scenarios, with the flag key each implementation's flag file uses.
 */
public enum Scenario {
    /** A flag on for everyone. */
    S1_EVERYONE("s1-everyone"),
    /** A 50% rollout, bucketed by user id. */
    S2_HALF("s2-half"),
    /** On for users with the role {@code beta-tester}. */
    S3_BETA("s3-beta"),
    /** On for users in region {@code eu-west} or {@code eu-north}. */
    S4_EU("s4-eu"),
    /** Ten rules on attribute {@code plan}, one value each; only the tenth ({@code pro}) can match. */
    S5_TEN_RULES("s5-ten-rules"),
    /** A flag that no implementation defines: every answer is the default, false. */
    S6_UNKNOWN("s6-unknown");

    private final String flagKey;

    Scenario(String flagKey) {
        this.flagKey = flagKey;
    }

    /** @return the flag's key in every implementation's flag file */
    public String flagKey() {
        return flagKey;
    }
}
