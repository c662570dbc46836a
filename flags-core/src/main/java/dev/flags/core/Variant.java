package dev.flags.core;

/**
 * Immutable. A variant of an A/B flag: users who are served {@code true} are split between the
 * flag's variants by weight.
 *
 * @param key the variant's key, such as "treatment"
 * @param weight its share in percent (0 to 100, three decimals at most); a flag's weights sum to 100
 * @param payload an optional string the application may use (a colour, a JSON text); may be null
 */
public record Variant(String key, double weight, String payload) {
}
