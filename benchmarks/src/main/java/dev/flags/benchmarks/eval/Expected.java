package dev.flags.benchmarks.eval;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Set;
import org.apache.commons.codec.digest.DigestUtils;
import org.apache.commons.codec.digest.MurmurHash3;

/**
 * Immutable (stateless). The answer each implementation must give, computed independently of it.
 *
 * <p>Scenarios S1 and S3 to S6 have one right answer for everybody. The 50% rollout of S2 depends on
 * each implementation's documented bucketing, recomputed here with commons-codec's murmur3 and SHA-1.
 */
public final class Expected {

    private static final Set<String> EU = Set.of("eu-west", "eu-north");

    private Expected() {
    }

    /**
     * The answer an implementation must give.
     *
     * @param scenario the scenario
     * @param user the user
     * @param rollout that implementation's S2 bucketing
     * @return the expected answer
     */
    public static boolean answer(Scenario scenario, UserSpec user, Rollout rollout) {
        return switch (scenario) {
            case S1_EVERYONE -> true;
            case S2_HALF -> rollout.inHalf(scenario.flagKey(), user.id());
            case S3_BETA -> "beta-tester".equals(user.role());
            case S4_EU -> user.region() != null && EU.contains(user.region());
            case S5_TEN_RULES -> "pro".equals(user.plan());
            case S6_UNKNOWN -> false;
        };
    }

    /** Stateless. One implementation's documented bucketing of a 50% rollout. */
    @FunctionalInterface
    public interface Rollout {
        /**
         * @param flagKey the flag's key (which every flag file here also uses as its salt)
         * @param userId the user's id
         * @return whether the user is inside the flag's 50% rollout
         */
        boolean inHalf(String flagKey, String userId);
    }

    private static int murmur3(String input) {
        return MurmurHash3.hash32x86(input.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Ours (docs/flag-format.md): {@code unsigned(murmur3_x86_32(salt + ":" + id)) mod 100000 <
     * round(p × 1000)}.
     */
    public static final Rollout OURS = (flagKey, userId) ->
            Integer.toUnsignedLong(murmur3(flagKey + ":" + userId)) % 100_000 < 50_000;

    /**
     * Unleash's flexibleRollout with stickiness userId: {@code normalized = unsigned(murmur3_x86_32(groupId
     * + ":" + id)) mod 100 + 1}, inside iff {@code normalized <= rollout}. The group id is the flag key.
     */
    public static final Rollout UNLEASH = (flagKey, userId) ->
            Integer.toUnsignedLong(murmur3(flagKey + ":" + userId)) % 100 + 1 <= 50;

    /**
     * LaunchDarkly: the first 15 hex digits of {@code sha1(flagKey + "." + salt + "." + contextKey)} as
     * a fraction of {@code 0xFFFFFFFFFFFFFFF} (in float), inside the first variation iff below its
     * weight, 50000 / 100000. The salt is the flag key.
     */
    public static final Rollout LAUNCHDARKLY = (flagKey, userId) -> {
        String hash = DigestUtils.sha1Hex(flagKey + "." + flagKey + "." + userId).substring(0, 15);
        float bucket = (float) Long.parseLong(hash, 16) / (float) 0xFFFFFFFFFFFFFFFL;
        return bucket < 50_000 / 100_000F;
    };

    /**
     * flagd's {@code fractional} (provider 0.11.x): {@code abs(murmur3_x86_32(flagKey + targetingKey))
     * / Integer.MAX_VALUE × 100} in float, inside the first bucket ("on", weight 50 of 100) iff below 50.
     */
    public static final Rollout FLAGD = (flagKey, userId) -> {
        float bucket = Math.abs(murmur3(flagKey + userId)) * 1.0F / Integer.MAX_VALUE * 100;
        return bucket < 50 * 100F / 100;
    };

    /**
     * Togglz's GradualActivationStrategy: {@code abs((trim(lowercase(username)) + ":" +
     * featureName).hashCode()) % 100 < percentage}, String.hashCode being Java's. The flag key maps to
     * the feature's enum name.
     */
    public static final Rollout TOGGLZ = (flagKey, userId) -> {
        String featureName = TogglzFixture.Features.of(Scenario.S2_HALF).name();
        int hash = (userId.toLowerCase(Locale.ENGLISH).trim() + ":" + featureName).hashCode();
        return Math.abs(hash) % 100 < 50;
    };
}
