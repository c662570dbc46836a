package dev.flags.client;

import dev.flags.core.Condition;
import dev.flags.core.Flag;
import dev.flags.core.FlagFormat;
import dev.flags.core.Rule;
import dev.flags.core.Variant;
import dev.flags.protocol.v1.FlagDocument;
import java.util.List;

/** Test fixtures: flags and the wire documents that carry them. */
final class Fixtures {

    private Fixtures() {
    }

    /** A flag on (or off) for everyone. */
    static Flag flag(String key, boolean on, long version) {
        return new Flag(key, null, true, null, List.of(), List.of(), List.of(), on, version);
    }

    /** A flag on for users with the role only. */
    static Flag forRole(String key, String role, long version) {
        return new Flag(key, null, true, null, List.of(), List.of(),
                List.of(new Rule("role " + role, List.of(new Condition.Roles(List.of(role))), true, null)), false, version);
    }

    /** An A/B flag on for everyone with one variant carrying a payload. */
    static Flag variant(String key, String variant, String payload, long version) {
        return new Flag(key, null, true, null, List.of(new Variant(variant, 100, payload)), List.of(), List.of(), true,
                version);
    }

    static FlagDocument doc(Flag flag) {
        return FlagDocument.newBuilder().setKey(flag.key()).setJson(FlagFormat.writeFlag(flag)).build();
    }

    static FlagDocument doc(String key, boolean on, long version) {
        return doc(flag(key, on, version));
    }
}
