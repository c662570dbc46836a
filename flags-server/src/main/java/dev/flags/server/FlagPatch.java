package dev.flags.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.flags.core.Condition;
import dev.flags.core.Flag;
import dev.flags.core.Rule;
import dev.flags.core.Target;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * Immutable (stateless). Parses a PATCH body into a change of a flag. The operations a product owner
 * needs day to day, without resending the whole document:
 * <pre>{@code
 * {"enabled": false}                                    switch off (the kill switch) or on
 * {"default": true}                                     the answer when no rule matches
 * {"description": "..."}
 * {"percentage": {"rule": "eu canary", "value": 50}}     set (or add) a rule's rollout percentage
 * {"addRole": {"rule": 0, "role": "beta-tester"}}       add a role to a rule (removeRole too)
 * {"addRegion": {"rule": 1, "region": "eu-north"}}      add a region to a rule (removeRegion too)
 * {"addTarget": {"user": "u-1", "serve": true}}          target a user (moved from another target if in one)
 * {"removeTarget": {"user": "u-1"}}                      stop targeting a user
 * }</pre>
 * A rule is named by its index or its name. Several operations in one body apply in the order above.
 * Removing a rule's last role or region is refused: the rule would then match every user (every user its other
 * conditions match).
 */
final class FlagPatch {

    private static final Set<String> OPERATIONS = Set.of("enabled", "default", "description", "percentage",
            "addRole", "removeRole", "addRegion", "removeRegion", "addTarget", "removeTarget");

    private FlagPatch() {
    }

    static UnaryOperator<Flag> parse(JsonNode body) {
        if (body == null || !body.isObject() || body.isEmpty()) {
            throw ApiException.badRequest("the body must be a JSON object with at least one of " + new java.util.TreeSet<>(OPERATIONS));
        }
        for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            if (!OPERATIONS.contains(name)) {
                throw ApiException.badRequest(LogText.quoted(name, 80) + " is not a patch operation; the operations are " + new java.util.TreeSet<>(OPERATIONS));
            }
        }
        List<UnaryOperator<Flag>> steps = new ArrayList<>();
        if (body.has("enabled")) {
            boolean on = bool(body, "enabled");
            steps.add(f -> f.withEnabled(on));
        }
        if (body.has("default")) {
            boolean value = bool(body, "default");
            steps.add(f -> new Flag(f.key(), f.description(), f.enabled(), f.salt(), f.bucketBy(), f.variants(), f.targets(), f.rules(), value, f.version()));
        }
        if (body.has("description")) {
            JsonNode d = body.get("description");
            if (!d.isTextual() && !d.isNull()) {
                throw ApiException.badRequest("description must be a string, was " + shown(d));
            }
            String text = d.isNull() ? null : d.asText();
            steps.add(f -> new Flag(f.key(), text, f.enabled(), f.salt(), f.bucketBy(), f.variants(), f.targets(), f.rules(), f.defaultValue(), f.version()));
        }
        if (body.has("percentage")) {
            JsonNode op = object(body, "percentage", "value");
            JsonNode value = op.get("value");
            if (value == null || !value.isNumber()) {
                throw ApiException.badRequest("percentage.value must be a number from 0 to 100, was " + shown(value));
            }
            if (!Double.isFinite(value.doubleValue())) {
                // 1e400 reads as Infinity, which cannot even be written into the document that validation checks.
                throw ApiException.badRequest("percentage.value must be a number from 0 to 100, was too large a number");
            }
            double pct = value.doubleValue();
            JsonNode rule = op.get("rule");
            steps.add(f -> withRule(f, rule, r -> {
                List<Condition> conditions = new ArrayList<>();
                boolean replaced = false;
                for (Condition c : r.conditions()) {
                    if (c instanceof Condition.Percentage && !replaced) {
                        conditions.add(new Condition.Percentage(pct));
                        replaced = true;
                    } else {
                        conditions.add(c);
                    }
                }
                if (!replaced) {
                    conditions.add(new Condition.Percentage(pct));
                }
                return new Rule(r.name(), conditions, r.serve(), r.variant());
            }));
        }
        addListOperation(body, "addRole", "role", true, true, steps);
        addListOperation(body, "removeRole", "role", true, false, steps);
        addListOperation(body, "addRegion", "region", false, true, steps);
        addListOperation(body, "removeRegion", "region", false, false, steps);
        addTargetOperations(body, steps);
        return f -> {
            Flag result = f;
            for (UnaryOperator<Flag> step : steps) {
                result = step.apply(result);
            }
            return result;
        };
    }

    private static void addListOperation(JsonNode body, String op, String field, boolean roles, boolean add,
                                         List<UnaryOperator<Flag>> steps) {
        if (!body.has(op)) {
            return;
        }
        JsonNode node = object(body, op, field);
        JsonNode valueNode = node.get(field);
        if (valueNode == null || !valueNode.isTextual()) {
            throw ApiException.badRequest(op + "." + field + " must be a string, was " + shown(valueNode));
        }
        if (add) { // a remove still takes out a value stored before the check
            Keys.withoutToken(valueNode.asText(), op + "." + field);
        }
        String value = roles ? Keys.role(valueNode.asText()) : Keys.region(valueNode.asText());
        JsonNode rule = node.get("rule");
        steps.add(f -> withRule(f, rule, r -> {
            List<Condition> conditions = new ArrayList<>();
            boolean done = false;
            for (Condition c : r.conditions()) {
                List<String> values = roles && c instanceof Condition.Roles rc ? rc.roles()
                        : !roles && c instanceof Condition.Regions gc ? gc.regions() : null;
                if (values == null || done) {
                    conditions.add(c);
                    continue;
                }
                List<String> changed = new ArrayList<>(values);
                if (add && !changed.contains(value)) {
                    changed.add(value);
                } else if (!add && !changed.remove(value)) {
                    throw ApiException.conflict("rule " + describe(rule) + " has no " + field + " \"" + value
                            + "\" to remove; its " + field + "s are " + values);
                }
                if (changed.isEmpty()) {
                    // Dropping the condition would widen the rule to every user (a rule without
                    // conditions matches everyone): a release by accident, so it takes a deliberate PUT.
                    // With other conditions it widens to every user they match: as much a release by accident.
                    String widened = r.conditions().size() == 1 ? "without it the rule would match every user"
                            : "without it the rule would no longer check " + field + "s, and would match every user its"
                            + " other conditions match";
                    throw ApiException.conflict("\"" + value + "\" is the last " + field + " of rule " + describe(rule)
                            + ": " + widened + ". Add another " + field
                            + " first, or change the rule with a PUT of the whole flag (flags edit or flags put)");
                }
                done = true;
                conditions.add(roles ? new Condition.Roles(changed) : new Condition.Regions(changed));
            }
            if (!done) {
                if (!add) {
                    throw ApiException.conflict("rule " + describe(rule) + " has no " + field + " condition to remove \"" + value + "\" from");
                }
                conditions.add(roles ? new Condition.Roles(List.of(value)) : new Condition.Regions(List.of(value)));
            }
            return new Rule(r.name(), conditions, r.serve(), r.variant());
        }));
    }

    /**
     * Individual targeting, one user at a time: a user is in one target at most, so adding moves the user from another
     * target, and a target left without users goes.
     */
    private static void addTargetOperations(JsonNode body, List<UnaryOperator<Flag>> steps) {
        if (body.has("addTarget")) {
            JsonNode op = targetObject(body, "addTarget", List.of("user", "serve", "variant"));
            String user = targetUser(op, "addTarget");
            JsonNode serveNode = op.get("serve");
            if (serveNode != null && !serveNode.isNull() && !serveNode.isBoolean()) {
                throw ApiException.badRequest("addTarget.serve must be true or false, was " + shown(serveNode));
            }
            boolean serve = serveNode == null || serveNode.isNull() || serveNode.booleanValue(); // as absent, as variant's null
            JsonNode variantNode = op.get("variant");
            if (variantNode != null && !variantNode.isNull() && !variantNode.isTextual()) {
                throw ApiException.badRequest("addTarget.variant must be a variant's key, was " + shown(variantNode));
            }
            String variant = variantNode == null || variantNode.isNull() ? null : variantNode.asText();
            if (variant != null && !serve) {
                throw ApiException.badRequest("addTarget.variant is what a user served true gets; with \"serve\": false"
                        + " the user gets false and no variant");
            }
            steps.add(f -> {
                if (f.targets().stream().anyMatch(t -> t.serve() == serve && java.util.Objects.equals(t.variant(), variant)
                        && t.userIds().contains(user))) {
                    return f; // already so: no new version (a rewrite would merge other targets that give the same answer)
                }
                List<Target> targets = withoutUser(f.targets(), user);
                int same = -1;
                for (int i = 0; i < targets.size(); i++) {
                    Target t = targets.get(i);
                    if (t.serve() == serve && java.util.Objects.equals(t.variant(), variant)) {
                        same = i;
                        break;
                    }
                }
                if (same < 0) {
                    targets.add(new Target(List.of(user), serve, variant));
                } else {
                    List<String> ids = new ArrayList<>(targets.get(same).userIds());
                    ids.add(user);
                    targets.set(same, new Target(ids, serve, variant));
                }
                return withTargets(f, targets);
            });
        }
        if (body.has("removeTarget")) {
            JsonNode op = targetObject(body, "removeTarget", List.of("user"));
            // The journal's rule only, as a role's revoke: a user id stored before the stricter check can still be taken out.
            JsonNode userNode = op.get("user");
            if (userNode == null || !userNode.isTextual()) {
                throw ApiException.badRequest("removeTarget.user must be a user id (a string), was " + shown(userNode));
            }
            String user = Keys.userId(userNode.asText());
            if (body.has("addTarget") && user.equals(body.get("addTarget").path("user").asText(null))) {
                // Operations apply in a fixed order, not as written: both of one user would read as either.
                throw ApiException.badRequest("addTarget and removeTarget name the same user, \"" + LogText.escape(user)
                        + "\": send one of them (addTarget alone moves a user to another answer)");
            }
            steps.add(f -> {
                if (f.targets().stream().noneMatch(t -> t.userIds().contains(user))) {
                    throw ApiException.conflict("flag \"" + f.key() + "\" does not target user " + LogText.quoted(user, 80)
                            + (f.targets().isEmpty() ? "; it targets nobody" : "; see its \"targets\" (flags show " + f.key() + ")"));
                }
                return withTargets(f, withoutUser(f.targets(), user));
            });
        }
    }

    private static JsonNode targetObject(JsonNode body, String name, List<String> fields) {
        JsonNode v = body.get(name);
        if (!v.isObject()) {
            throw ApiException.badRequest(name + " must be an object, was " + shown(v));
        }
        for (Iterator<String> it = v.fieldNames(); it.hasNext(); ) {
            String field = it.next();
            if (!fields.contains(field)) {
                throw ApiException.badRequest(name + " has an unknown field " + LogText.quoted(field, 80) + "; it takes \""
                        + String.join("\", \"", fields) + "\"");
            }
        }
        return v;
    }

    private static String targetUser(JsonNode op, String name) {
        JsonNode user = op.get("user");
        if (user == null || !user.isTextual()) {
            throw ApiException.badRequest(name + ".user must be a user id (a string), was " + shown(user));
        }
        return Keys.grantedUserId(user.asText());
    }

    /** The targets without the user; a target that held only that user goes. Mutable. */
    private static List<Target> withoutUser(List<Target> targets, String user) {
        List<Target> out = new ArrayList<>();
        for (Target t : targets) {
            if (!t.userIds().contains(user)) {
                out.add(t);
            } else if (t.userIds().size() > 1) {
                List<String> ids = new ArrayList<>(t.userIds());
                ids.remove(user);
                out.add(new Target(ids, t.serve(), t.variant()));
            }
        }
        return out;
    }

    private static Flag withTargets(Flag f, List<Target> targets) {
        return new Flag(f.key(), f.description(), f.enabled(), f.salt(), f.bucketBy(), f.variants(), targets, f.rules(),
                f.defaultValue(), f.version());
    }

    private static Flag withRule(Flag f, JsonNode ruleRef, UnaryOperator<Rule> change) {
        int index = ruleIndex(f, ruleRef);
        List<Rule> rules = new ArrayList<>(f.rules());
        rules.set(index, change.apply(rules.get(index)));
        return new Flag(f.key(), f.description(), f.enabled(), f.salt(), f.bucketBy(), f.variants(), f.targets(), rules, f.defaultValue(), f.version());
    }

    private static int ruleIndex(Flag f, JsonNode ref) {
        if (ref != null && ref.isIntegralNumber()) {
            // Checked before it is narrowed: 4294967296 must not wrap around to rule 0.
            if (!ref.canConvertToInt() || ref.intValue() < 0 || ref.intValue() >= f.rules().size()) {
                throw ApiException.conflict("flag \"" + f.key() + "\" has no rule " + shown(ref) + "; " + ruleList(f));
            }
            return ref.intValue();
        }
        if (ref != null && ref.isTextual()) {
            List<Integer> named = new ArrayList<>();
            for (int i = 0; i < f.rules().size(); i++) {
                if (ref.asText().equals(f.rules().get(i).name())) {
                    named.add(i);
                }
            }
            if (named.size() > 1) {
                // Changing the first of them could be changing the wrong rule: say so instead of guessing.
                throw ApiException.conflict("flag \"" + f.key() + "\" has " + named.size() + " rules named " + shown(ref)
                        + " (rules " + named + "); name the rule by its index instead");
            }
            if (named.isEmpty()) {
                throw ApiException.conflict("flag \"" + f.key() + "\" has no rule named " + shown(ref) + "; " + ruleList(f));
            }
            return named.get(0);
        }
        throw ApiException.badRequest("rule must be a rule's index (a whole number from 0) or its name, was "
                + (ref != null && ref.isNumber() && !Double.isFinite(ref.doubleValue()) ? "too large a number" : shown(ref)));
    }

    /** @return the flag's rules by index and name, as a conflict names them to choose from (the first 20) */
    private static String ruleList(Flag f) {
        if (f.rules().isEmpty()) {
            return "it has no rules (rules are added by writing the flag's whole document: a PUT, or flags edit "
                    + f.key() + ")";
        }
        List<String> rules = new ArrayList<>();
        for (int i = 0; i < Math.min(f.rules().size(), 20); i++) {
            String name = f.rules().get(i).name();
            rules.add(i + " " + (name == null ? "(no name)" : "\"" + LogText.escape(name) + "\""));
        }
        return "its rules, by index: " + String.join(", ", rules) + (f.rules().size() > 20 ? ", ..." : "");
    }

    private static String describe(JsonNode ref) {
        return shown(ref);
    }

    /**
     * A value from the body, for a message: as JSON, cut to 80 characters as every other echo of what a client sent is
     * (a rule named by 900 KB of text came back whole, QA67 F4), and never cut inside a character.
     */
    private static String shown(JsonNode value) {
        String text = String.valueOf(value);
        if (text.length() <= 80) {
            return text;
        }
        int end = Character.isHighSurrogate(text.charAt(76)) ? 76 : 77;
        return text.substring(0, end) + "...";
    }

    private static boolean bool(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (!v.isBoolean()) {
            throw ApiException.badRequest(field + " must be true or false, was " + shown(v));
        }
        return v.asBoolean();
    }

    /** The operation's object, which may hold "rule" and the one value field, nothing else. */
    private static JsonNode object(JsonNode body, String field, String valueField) {
        JsonNode v = body.get(field);
        if (!v.isObject()) {
            throw ApiException.badRequest(field + " must be an object, was " + shown(v));
        }
        for (Iterator<String> it = v.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            if (!name.equals("rule") && !name.equals(valueField)) {
                throw ApiException.badRequest(field + " has an unknown field " + LogText.quoted(name, 80) + "; it takes \"rule\" and \""
                        + valueField + "\"");
            }
        }
        return v;
    }
}
