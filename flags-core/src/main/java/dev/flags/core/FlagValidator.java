package dev.flags.core;

import java.math.BigDecimal;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Immutable (stateless). The rules a flag must obey, checked on the model so that flags built in code
 * and flags read from JSON pass the same checks. Every limit here is documented in
 * {@code docs/flag-format.md}.
 */
final class FlagValidator {

    /** The user's own fields, which an attribute name cannot reach. */
    private static final Set<String> NOT_ATTRIBUTES = Set.of("id", "region", "roles");

    private static final String ATTRIBUTE_SYNTAX = "must be an attribute name (a letter or '_', then letters, digits, "
            + "'_', '.', ':' or '-', at most 128), was ";


    static final int MAX_DESCRIPTION = 2_000;
    static final int MAX_RULE_NAME = 200;
    static final int MAX_VARIANTS = 100;
    static final int MAX_PAYLOAD = 65_536;
    static final int MAX_RULES = 1_000;
    static final int MAX_CONDITIONS = 100;
    static final int MAX_VALUES = 10_000;
    static final int MAX_VALUE_LENGTH = 1_024;
    static final int MAX_TARGETED_USERS = 10_000;

    private FlagValidator() {
    }

    /** Checks one flag, adding every problem under {@code path}. */
    static void validate(Flag flag, String path, Problems problems) {
        if (flag.key() == null) {
            problems.add(Problems.child(path, "key"), "is required");
        } else if (!Syntax.isKey(flag.key())) {
            problems.add(Problems.child(path, "key"), keySyntax(flag.key()));
        }
        if (flag.description() != null && flag.description().length() > MAX_DESCRIPTION) {
            problems.add(Problems.child(path, "description"),
                    "must be at most " + MAX_DESCRIPTION + " characters, was " + flag.description().length());
        }
        if (flag.salt() != null && !Syntax.isKey(flag.salt())) {
            problems.add(Problems.child(path, "salt"), keySyntax(flag.salt()));
        }
        if (flag.bucketBy() != null && !Syntax.isAttribute(flag.bucketBy())) {
            problems.add(Problems.child(path, "bucketBy"), ATTRIBUTE_SYNTAX + Problems.quote(flag.bucketBy()));
        } else if (flag.bucketBy() != null && NOT_ATTRIBUTES.contains(flag.bucketBy())) {
            // A user's id, region and roles are not attributes: a bucketBy of one would find no user's value.
            problems.add(Problems.child(path, "bucketBy"), "names a custom attribute of the user, and \"" + flag.bucketBy()
                    + "\" is not one: leave bucketBy out to bucket by the user's id (a region or roles cannot bucket)");
        }
        if (flag.version() < 0) {
            problems.add(Problems.child(path, "version"), "must not be negative, was " + flag.version());
        }
        Set<String> variantKeys = validateVariants(flag.variants(), Problems.child(path, "variants"), problems);
        validateTargets(flag.targets(), variantKeys, Problems.child(path, "targets"), problems);
        validateRules(flag.rules(), variantKeys, Problems.child(path, "rules"), problems);
    }

    private static Set<String> validateVariants(List<Variant> variants, String path, Problems problems) {
        if (variants.isEmpty()) {
            return Set.of(); // most flags are switches, and every SDK validates every changed flag
        }
        Set<String> keys = new HashSet<>();
        if (variants.size() > MAX_VARIANTS) {
            problems.add(path, "must have at most " + MAX_VARIANTS + " variants, has " + variants.size());
            return keys;
        }
        long total = 0;
        boolean weightsReadable = true;
        for (int i = 0; i < variants.size(); i++) {
            String at = Problems.index(path, i);
            Variant v = variants.get(i);
            if (v.key() == null) {
                problems.add(Problems.child(at, "key"), "is required");
            } else if (!Syntax.isKey(v.key())) {
                problems.add(Problems.child(at, "key"), keySyntax(v.key()));
            } else if (!keys.add(v.key())) {
                problems.add(Problems.child(at, "key"), "repeats the variant " + Problems.quote(v.key()) + "; variant keys must be unique");
            }
            String weightProblem = percentProblem(v.weight());
            if (weightProblem != null) {
                problems.add(Problems.child(at, "weight"), weightProblem);
                weightsReadable = false;
            } else {
                total += Bucketing.threshold(v.weight());
            }
            if (v.payload() != null && v.payload().length() > MAX_PAYLOAD) {
                problems.add(Problems.child(at, "payload"),
                        "must be at most " + MAX_PAYLOAD + " characters, was " + v.payload().length());
            }
        }
        if (!variants.isEmpty() && weightsReadable && total != Bucketing.BUCKETS) {
            problems.add(path, "weights must add up to 100, they add up to "
                    + BigDecimal.valueOf(total, 3).stripTrailingZeros().toPlainString());
        }
        return keys;
    }

    private static void validateTargets(List<Target> targets, Set<String> variantKeys, String path, Problems problems) {
        if (targets.isEmpty()) {
            return;
        }
        Map<String, Integer> seen = new HashMap<>();
        int users = 0;
        for (int i = 0; i < targets.size(); i++) {
            String at = Problems.index(path, i);
            Target t = targets.get(i);
            if (t.userIds().isEmpty()) {
                problems.add(Problems.child(at, "userIds"), "must list at least one user id");
            }
            users += t.userIds().size();
            for (int j = 0; j < t.userIds().size(); j++) {
                String id = t.userIds().get(j);
                String idPath = Problems.index(Problems.child(at, "userIds"), j);
                if (userIdProblem(id) != null) {
                    problems.add(idPath, userIdProblem(id));
                } else {
                    Integer previous = seen.putIfAbsent(id, i);
                    if (previous != null) {
                        problems.add(idPath, "targets the user " + Problems.quote(id) + " again (already in targets["
                                + previous + "]); a user may be targeted once");
                    }
                }
            }
            validateServedVariant(t.serve(), t.variant(), variantKeys, Problems.child(at, "variant"), problems);
        }
        if (users > MAX_TARGETED_USERS) {
            problems.add(path, "may target at most " + MAX_TARGETED_USERS + " users in all, targets " + users);
        }
    }

    private static void validateRules(List<Rule> rules, Set<String> variantKeys, String path, Problems problems) {
        if (rules.size() > MAX_RULES) {
            problems.add(path, "must have at most " + MAX_RULES + " rules, has " + rules.size());
            return;
        }
        for (int i = 0; i < rules.size(); i++) {
            String at = Problems.index(path, i);
            Rule r = rules.get(i);
            if (r.name() != null && (r.name().isBlank() || r.name().length() > MAX_RULE_NAME)) {
                problems.add(Problems.child(at, "name"), "must be 1 to " + MAX_RULE_NAME + " characters and not blank");
            }
            validateServedVariant(r.serve(), r.variant(), variantKeys, Problems.child(at, "variant"), problems);
            String conditionsPath = Problems.child(at, "conditions");
            if (r.conditions().size() > MAX_CONDITIONS) {
                problems.add(conditionsPath, "must have at most " + MAX_CONDITIONS + " conditions, has " + r.conditions().size());
                continue;
            }
            int percentages = 0;
            for (int j = 0; j < r.conditions().size(); j++) {
                Condition c = r.conditions().get(j);
                String cAt = Problems.index(conditionsPath, j);
                if (c instanceof Condition.Percentage p && !Double.isNaN(p.percentage()) && ++percentages == 2) {
                    problems.add(cAt, "is a second percentage condition; a rule may have one");
                }
                validateCondition(c, cAt, problems);
            }
        }
    }

    private static void validateServedVariant(boolean serve, String variant, Set<String> variantKeys, String path,
                                              Problems problems) {
        if (variant == null) {
            return;
        }
        if (!serve) {
            problems.add(path, "can only be given where true is served");
        } else if (!variantKeys.contains(variant)) {
            problems.add(path, "names the variant " + Problems.quote(variant) + ", which the flag does not have");
        }
    }

    private static void validateCondition(Condition condition, String path, Problems problems) {
        if (condition instanceof Condition.Roles r) {
            validateNames(r.roles(), Problems.child(path, "roles"), "role", problems);
        } else if (condition instanceof Condition.Regions r) {
            validateNames(r.regions(), Problems.child(path, "regions"), "region", problems);
        } else if (condition instanceof Condition.UserIds u) {
            String at = Problems.child(path, "userIds");
            if (listSizeOk(u.userIds(), at, problems)) {
                for (int i = 0; i < u.userIds().size(); i++) {
                    String problem = userIdProblem(u.userIds().get(i));
                    if (problem != null) {
                        problems.add(Problems.index(at, i), problem);
                    }
                }
            }
        } else if (condition instanceof Condition.Percentage p) {
            String problem = percentProblem(p.percentage());
            if (problem != null) {
                problems.add(Problems.child(path, "percentage"), problem);
            }
        } else if (condition instanceof Condition.Attribute a) {
            validateAttribute(a, path, problems);
        } else {
            problems.add(path, "is an unknown kind of condition");
        }
    }

    private static void validateAttribute(Condition.Attribute a, String path, Problems problems) {
        if (a.attribute() == null) {
            problems.add(Problems.child(path, "attribute"), "is required");
        } else if (!Syntax.isAttribute(a.attribute())) {
            problems.add(Problems.child(path, "attribute"), ATTRIBUTE_SYNTAX + Problems.quote(a.attribute()));
        }
        if (a.ignoreCase() && a.operator().kind() != Operator.Kind.STRING) {
            problems.add(Problems.child(path, "ignoreCase"), "only applies to string operators (in, notIn, contains, "
                    + "startsWith, endsWith), not to " + a.operator().jsonName());
        }
        String at = Problems.child(path, "values");
        if (!listSizeOk(a.values(), at, problems)) {
            return;
        }
        for (int i = 0; i < a.values().size(); i++) {
            String value = a.values().get(i);
            String vAt = Problems.index(at, i);
            if (value == null) {
                problems.add(vAt, "must not be null");
                continue;
            }
            if (value.length() > MAX_VALUE_LENGTH) {
                problems.add(vAt, "must be at most " + MAX_VALUE_LENGTH + " characters, was " + value.length());
                continue;
            }
            String problem = switch (a.operator().kind()) {
                case STRING -> null;
                case REGEX -> regexProblem(value);
                case NUMBER -> numberProblem(value);
                case SEMVER -> SemVer.parse(value) == null
                        ? "must be a semantic version such as 1.4.0 or 2.0.0-beta.1, was " + Problems.quote(value) : null;
                case DATE -> dateProblem(value);
            };
            if (problem != null) {
                problems.add(vAt, problem);
            }
        }
    }

    private static void validateNames(List<String> names, String path, String what, Problems problems) {
        if (!listSizeOk(names, path, problems)) {
            return;
        }
        for (int i = 0; i < names.size(); i++) {
            String name = names.get(i);
            if (name == null || !Syntax.isName(name)) {
                problems.add(Problems.index(path, i), "must be a " + what + " name (letters, digits, '.', '_', ':' or '-', "
                        + "starting with a letter or digit, at most 128), was " + Problems.quote(name));
            }
        }
    }

    private static boolean listSizeOk(List<String> values, String path, Problems problems) {
        if (values.isEmpty()) {
            problems.add(path, "must list at least one value");
            return false;
        }
        if (values.size() > MAX_VALUES) {
            problems.add(path, "must list at most " + MAX_VALUES + " values, lists " + values.size());
            return false;
        }
        return true;
    }

    static String percentProblem(double value) {
        if (!Double.isFinite(value)) {
            return "must be a number between 0 and 100";
        }
        if (!(value >= 0 && value <= 100)) {
            return "must be between 0 and 100, was " + BigDecimal.valueOf(value).stripTrailingZeros().toPlainString();
        }
        if (Math.abs(value * 1000 - Math.rint(value * 1000)) > 1e-6) {
            return "must have at most three decimals (0.001% steps), was " + BigDecimal.valueOf(value).stripTrailingZeros().toPlainString(); // 0.0001, not 0.00010
        }
        return null;
    }

    private static String userIdProblem(String id) {
        if (id == null || id.isEmpty()) {
            return "must be a non-empty user id";
        }
        if (id.length() > User.MAX_NAME_LENGTH) {
            return "must be at most " + User.MAX_NAME_LENGTH + " characters, was " + id.length();
        }
        return null;
    }

    private static String regexProblem(String value) {
        return Patterns.readProblem(value); // what a write may add is WriteRules.patterns'
    }

    static String numberProblem(String value) {
        try {
            double d = Double.parseDouble(value);
            if (Double.isFinite(d) && !value.isBlank() && !value.endsWith("d") && !value.endsWith("f")
                    && !value.endsWith("D") && !value.endsWith("F")) {
                return null;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        return "must be a number, was " + Problems.quote(value);
    }

    private static String dateProblem(String value) {
        try {
            Instant.parse(value);
            return null;
        } catch (DateTimeParseException e) {
            return "must be an ISO-8601 instant such as 2026-12-01T09:00:00Z, was " + Problems.quote(value);
        }
    }

    static String keySyntax(String value) {
        return "must start with a letter or digit and contain only letters, digits, '.', '_' or '-' (at most 128), was "
                + Problems.quote(value);
    }
}
