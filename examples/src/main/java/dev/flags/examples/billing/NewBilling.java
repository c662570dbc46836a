package dev.flags.examples.billing;

/** Immutable. The new billing path, shipped dark behind {@code billing-v2}. */
final class NewBilling {

    /** @return a receipt of the new path */
    String charge(String userId, long cents) {
        return "v2:" + userId + ":" + cents;
    }
}
