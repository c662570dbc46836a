package dev.flags.core;

import java.util.List;

/**
 * Immutable. A feature flag as a product owner writes it.
 *
 * <p>Evaluation order: a flag that is not {@code enabled} is off for everyone (the kill switch);
 * otherwise individual {@code targets} are tried, then {@code rules} in order, and the first match
 * decides; if nothing matches, {@code defaultValue} is served. A served {@code true} carries a variant
 * when the flag has variants. See {@code docs/flag-format.md}.
 *
 * @param key the flag's key (letters, digits, '.', '_', '-'; starts with a letter or digit; at most 128)
 * @param description what the flag is for; may be null
 * @param enabled false turns the flag off for everyone, whatever its rules say
 * @param salt the bucketing salt; null means the flag key
 * @param bucketBy the user attribute whose value puts a user into rollout and variant buckets (an account id, so that
 *                 every user of an account gets the same answer); null means the user's id
 * @param variants the A/B variants; empty for a plain on/off flag
 * @param targets individual targeting, tried before the rules
 * @param rules the rules, tried in order
 * @param defaultValue served when the flag is enabled and no target or rule matches
 * @param version the flag's version, assigned by the server; 0 for a flag read from a file without one
 */
public record Flag(String key, String description, boolean enabled, String salt, String bucketBy, List<Variant> variants,
                   List<Target> targets, List<Rule> rules, boolean defaultValue, long version) {

    /** Copies the lists; null lists become empty. */
    public Flag {
        variants = variants == null ? List.of() : List.copyOf(variants);
        targets = targets == null ? List.of() : List.copyOf(targets);
        rules = rules == null ? List.of() : List.copyOf(rules);
    }

    /** A flag that buckets users by their id (no {@link #bucketBy()}): the form before that field existed. */
    public Flag(String key, String description, boolean enabled, String salt, List<Variant> variants,
                List<Target> targets, List<Rule> rules, boolean defaultValue, long version) {
        this(key, description, enabled, salt, null, variants, targets, rules, defaultValue, version);
    }

    /** The syntax of a flag key, in words for error messages. */
    public static final String KEY_SYNTAX =
            "a flag key starts with a letter or digit and holds only letters, digits, '.', '_' and '-', at most 128";

    /**
     * Whether a text is a valid flag key (docs/flag-format.md): it starts with a letter or digit and
     * holds only letters, digits, '.', '_' and '-', at most 128 characters. No flag has any other key.
     *
     * @param key a text, possibly null
     * @return true if a flag could have this key
     */
    public static boolean isValidKey(String key) {
        return Syntax.isKey(key);
    }

    /** @return the salt used for bucketing: {@link #salt()} if set, else the key */
    public String effectiveSalt() {
        return salt == null ? key : salt;
    }

    /**
     * @param newVersion the version to carry
     * @return a copy of this flag with another version
     */
    public Flag withVersion(long newVersion) {
        return new Flag(key, description, enabled, salt, bucketBy, variants, targets, rules, defaultValue, newVersion);
    }

    /**
     * @param on the new switch position
     * @return a copy of this flag switched on or off
     */
    public Flag withEnabled(boolean on) {
        return new Flag(key, description, on, salt, bucketBy, variants, targets, rules, defaultValue, version);
    }
}
