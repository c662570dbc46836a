package dev.flags.examples.billing;

/** Immutable. The billing path in production today. */
final class LegacyBilling {

    /** @return a receipt of the old path */
    String charge(String userId, long cents) {
        return "v1:" + userId + ":" + cents;
    }
}
