package dev.flags.core;

import java.util.List;

/** Test fixtures: flags built in code and flag files as text. */
final class Fixtures {

    private Fixtures() {
    }

    static Flag flag(String key, boolean enabled, Rule... rules) {
        return new Flag(key, null, enabled, null, List.of(), List.of(), List.of(rules), false, 1);
    }

    static Rule rule(String name, Condition... conditions) {
        return new Rule(name, List.of(conditions), true, null);
    }

    static Condition.Roles roles(String... roles) {
        return new Condition.Roles(List.of(roles));
    }

    static Condition.Regions regions(String... regions) {
        return new Condition.Regions(List.of(regions));
    }

    static Condition.Percentage percentage(double p) {
        return new Condition.Percentage(p);
    }

    static Condition.Attribute attribute(String name, Operator op, String... values) {
        return new Condition.Attribute(name, op, List.of(values), false, false);
    }

    /** A flag file holding one flag document. */
    static String file(String flagJson) {
        return "{\"formatVersion\": 1, \"flags\": [" + flagJson + "]}";
    }
}
