package dev.flags.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Immutable (static functions only). What changed between two versions of a flag's document, as one
 * line per changed value, for {@code flags history --changes}: a product owner asking "what did v7 do?"
 * reads {@code rules["eu canary"].conditions[1].percentage: 10 -> 50} rather than two documents.
 *
 * <p>Objects are compared field by field. Rules are matched by name when every rule on both sides has
 * a distinct one (so that inserting a rule in front does not show every later rule as changed), else by
 * index, like every other array of objects. Arrays of plain values (roles, regions, user ids) are short
 * lists a reader takes in at once, so a change shows the whole list before and after.
 */
final class FlagChanges {

    /** Values longer than this are cut: a line per change, not a document per line. */
    static final int MAX_VALUE = 80;
    /** Changed values listed per version before the rest is only counted. */
    static final int MAX_LINES = 20;

    private FlagChanges() {}

    /**
     * The changes from one version's document to the next one's.
     *
     * @param before the earlier document
     * @param after the later document
     * @return one line per changed value, in the order of the fields' names (as the journal stores documents), a changed
     *     order of rules before the rules' own changes; at most {@value #MAX_LINES}
     *     and a count of the rest
     */
    static List<String> between(JsonNode before, JsonNode after) {
        List<String> lines = new ArrayList<>();
        // The document's version is the history line's own version: a change of it is no news.
        compare("", withoutVersion(before), withoutVersion(after), lines, MAX_VALUE);
        if (lines.size() > MAX_LINES) {
            int rest = lines.size() - MAX_LINES;
            lines = new ArrayList<>(lines.subList(0, MAX_LINES));
            lines.add("... and " + rest + " more (the API's history has every version's whole document)");
        }
        return lines;
    }

    /**
     * As {@link #between(JsonNode, JsonNode)}, every change and every value whole: for a review before a write,
     * where nothing may hide (a change past a long value's 80th character, a salt among many changes).
     */
    static List<String> all(JsonNode before, JsonNode after) {
        List<String> lines = new ArrayList<>();
        compare("", withoutVersion(before), withoutVersion(after), lines, Integer.MAX_VALUE);
        return lines;
    }

    private static void compare(String path, JsonNode before, JsonNode after, List<String> lines, int max) {
        if (same(before, after)) {
            return;
        }
        if (before.isObject() && after.isObject()) {
            Set<String> fields = new LinkedHashSet<>();
            before.fieldNames().forEachRemaining(fields::add);
            after.fieldNames().forEachRemaining(fields::add);
            for (String field : fields) {
                String at = path.isEmpty() ? field : path + "." + field;
                JsonNode was = before.get(field);
                JsonNode is = after.get(field);
                if (at.equals("targets") && arrayOrAbsent(was) && arrayOrAbsent(is) && hasUsers(was, is)) {
                    // User by user even where the flag had no targets before (or has none after): the first target
                    // is a user added, not a list.
                    if (!orEmpty(was).equals(orEmpty(is))) { // the same targets, beside another field's change, are no line
                        compareTargets(orEmpty(was), orEmpty(is), lines, max);
                    }
                } else if (was == null) {
                    lines.add(at + ": added " + show(is, max));
                } else if (is == null) {
                    lines.add(at + ": removed (was " + show(was, max) + ")");
                } else {
                    compare(at, was, is, lines, max);
                }
            }
        } else if (before.isArray() && after.isArray() && (hasObjects(before) || hasObjects(after))) {
            if (distinctNames(before) && distinctNames(after)) {
                compareByName(path, before, after, lines, max);
            } else {
                compareByIndex(path, before, after, lines, max);
            }
        } else {
            lines.add(path + ": " + show(before, max) + " -> " + show(after, max));
        }
    }

    /**
     * Targets user by user: who was added, removed or given another answer. By position, a user moved from one
     * target to another read as a target's {@code serve} flipping, and a long list cut at 80 characters never named
     * the user.
     */
    private static void compareTargets(JsonNode before, JsonNode after, List<String> lines, int max) {
        java.util.Map<String, String> was = answers(before);
        java.util.Map<String, String> is = answers(after);
        is.forEach((user, answer) -> {
            String at = "targets[" + show(com.fasterxml.jackson.databind.node.TextNode.valueOf(user), max) + "]";
            String old = was.get(user);
            if (old == null) {
                lines.add(at + ": added " + answer);
            } else if (!old.equals(answer)) {
                lines.add(at + ": " + old + " -> " + answer);
            }
        });
        was.forEach((user, answer) -> {
            if (!is.containsKey(user)) {
                lines.add("targets[" + show(com.fasterxml.jackson.databind.node.TextNode.valueOf(user), max) + "]: removed (was "
                        + answer + ")");
            }
        });
        if (was.equals(is)) {
            lines.add("targets: reordered (no user's answer changed)");
        }
    }

    private static boolean arrayOrAbsent(JsonNode node) {
        return node == null || node.isArray();
    }

    private static JsonNode orEmpty(JsonNode array) {
        return array == null ? com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.arrayNode() : array;
    }

    /** Whether either side targets a user: targets without users are shown as they are. */
    private static boolean hasUsers(JsonNode before, JsonNode after) {
        return !answers(orEmpty(before)).isEmpty() || !answers(orEmpty(after)).isEmpty();
    }

    /** Each targeted user's answer, {@code true}, {@code false} or {@code true (green)}, in the targets' order. */
    private static java.util.Map<String, String> answers(JsonNode targets) {
        java.util.Map<String, String> out = new java.util.LinkedHashMap<>();
        for (JsonNode t : targets) {
            String answer = t.path("serve").asBoolean(true) + (t.hasNonNull("variant") ? " (" + show(t.get("variant")) + ")" : "");
            t.path("userIds").forEach(id -> out.putIfAbsent(id.asText(), answer));
        }
        return out;
    }

    private static void compareByIndex(String path, JsonNode before, JsonNode after, List<String> lines, int max) {
        int common = Math.min(before.size(), after.size());
        for (int i = 0; i < common; i++) {
            compare(path + "[" + i + "]", before.get(i), after.get(i), lines, max);
        }
        for (int i = common; i < after.size(); i++) {
            lines.add(path + "[" + i + "]: added " + show(after.get(i), max));
        }
        for (int i = common; i < before.size(); i++) {
            lines.add(path + "[" + i + "]: removed (was " + show(before.get(i), max) + ")");
        }
    }

    private static void compareByName(String path, JsonNode before, JsonNode after, List<String> lines, int max) {
        List<String> namesBefore = names(before);
        List<String> namesAfter = names(after);
        List<String> keptBefore = new ArrayList<>(namesBefore);
        keptBefore.retainAll(namesAfter);
        List<String> keptAfter = new ArrayList<>(namesAfter);
        keptAfter.retainAll(namesBefore);
        if (!keptBefore.equals(keptAfter)) {
            // First: the order decides which rule matches, so a move matters even if no rule's content changed,
            // and it must not fall into the count of lines left out.
            lines.add(path + ": order " + quoted(keptBefore, max) + " -> " + quoted(keptAfter, max));
        }
        for (int i = 0; i < after.size(); i++) {
            String name = namesAfter.get(i);
            String at = path + "[" + show(after.get(i).get("name"), max) + "]";
            int was = namesBefore.indexOf(name);
            if (was < 0) {
                lines.add(at + ": added at " + i + " " + show(withoutName(after.get(i)), max));
            } else {
                compare(at, before.get(was), after.get(i), lines, max);
            }
        }
        for (int i = 0; i < before.size(); i++) {
            if (!namesAfter.contains(namesBefore.get(i))) {
                lines.add(path + "[" + show(before.get(i).get("name"), max) + "]: removed (was " + show(withoutName(before.get(i)), max)
                        + ")");
            }
        }
    }

    /**
     * Whether both are the same value, numbers compared by value at any depth: a document the CLI writes (its
     * percentages are decimals) against the server's ({@code 0} read as an integer), or a list {@code [100]} against
     * {@code [1e2]}; as JSON nodes they differ, to a reader "0 -> 0" is no change (QA56 F1, QA59 F3).
     */
    private static boolean same(JsonNode before, JsonNode after) {
        if (before.equals(after)) {
            return true;
        }
        if (before.isNumber() && after.isNumber()) {
            return before.decimalValue().compareTo(after.decimalValue()) == 0;
        }
        if (before.isArray() && after.isArray() && before.size() == after.size()) {
            for (int i = 0; i < before.size(); i++) {
                if (!same(before.get(i), after.get(i))) {
                    return false;
                }
            }
            return true;
        }
        if (before.isObject() && after.isObject() && before.size() == after.size()) {
            for (java.util.Iterator<String> names = before.fieldNames(); names.hasNext(); ) {
                String name = names.next();
                if (!after.has(name) || !same(before.get(name), after.get(name))) {
                    return false;
                }
            }
            return true;
        }
        return false;
    }

    private static boolean hasObjects(JsonNode array) {
        for (JsonNode element : array) {
            if (element.isObject()) {
                return true;
            }
        }
        return false;
    }

    private static boolean distinctNames(JsonNode array) {
        Set<String> seen = new HashSet<>();
        for (JsonNode element : array) {
            JsonNode name = element.get("name");
            if (name == null || !name.isTextual() || !seen.add(name.asText())) {
                return false;
            }
        }
        return true;
    }

    private static List<String> names(JsonNode array) {
        List<String> names = new ArrayList<>();
        array.forEach(element -> names.add(element.get("name").asText()));
        return names;
    }

    /**
     * The document without its version, every object's fields in name order: the journal's documents are stored so, and
     * a flag read from the API is not, so that {@code flags diff} and {@code flags promote} printed the same changes in
     * two orders, each value's JSON with its fields in two orders too.
     */
    private static JsonNode withoutVersion(JsonNode document) {
        return document.isObject() ? sorted(((ObjectNode) document.deepCopy()).without("version")) : document;
    }

    private static JsonNode sorted(JsonNode node) {
        if (node.isObject()) {
            ObjectNode in = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
            List<String> names = new ArrayList<>();
            node.fieldNames().forEachRemaining(names::add);
            names.sort(null);
            names.forEach(name -> in.set(name, sorted(node.get(name))));
            return in;
        }
        if (node.isArray()) {
            com.fasterxml.jackson.databind.node.ArrayNode in = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.arrayNode();
            node.forEach(element -> in.add(sorted(element)));
            return in;
        }
        return node;
    }

    private static JsonNode withoutName(JsonNode rule) {
        return ((ObjectNode) rule.deepCopy()).without("name");
    }

    /** Names as JSON strings (escaped like every value), joined, cut like one value. */
    private static String quoted(List<String> names, int max) {
        com.fasterxml.jackson.databind.node.ArrayNode list = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.arrayNode();
        names.forEach(list::add);
        String shown = show(list, max);
        return shown.substring(1, shown.endsWith("…") ? shown.length() : shown.length() - 1);
    }

    /** A value as compact JSON on one line, cut at {@value #MAX_VALUE} characters. */
    static String show(JsonNode value) {
        return show(value, MAX_VALUE);
    }

    /** A value as compact JSON on one line, cut at {@code max} characters. */
    private static String show(JsonNode value, int max) {
        // JSON escapes C0 controls in strings; not C1 controls (U+009B starts a terminal escape), the Unicode
        // line separators some terminals break at, or the bidirectional controls that reorder what is shown.
        String json = value.toString();
        StringBuilder text = new StringBuilder(json.length());
        for (int i = 0; i < json.length(); i++) {
            char c = json.charAt(i);
            if (FlagsCommand.unsafe(c)) {
                text.append(String.format("\\u%04x", (int) c));
            } else {
                text.append(c);
            }
        }
        if (text.length() <= max) {
            return text.toString();
        }
        int cut = Character.isHighSurrogate(text.charAt(max - 1)) ? max - 1 : max;
        return text.substring(0, cut) + "…";
    }
}
