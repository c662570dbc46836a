package dev.flags.core;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;

/**
 * Immutable (stateless). Reads and writes flags in their JSON format, described in
 * {@code docs/flag-format.md}.
 *
 * <p>Reading collects every problem of a document, each with its JSON path, and throws them together
 * in a {@link FlagValidationException}; nothing of an invalid document is returned. Unknown fields are
 * problems too, so a misspelt field ({@code "enabeld"}) is never silently ignored.
 * <pre>{@code
 * Flag flag = FlagFormat.readFlag("{\"key\": \"billing-v2\", \"enabled\": true}");
 * String json = FlagFormat.writeFlag(flag);
 * }</pre>
 */
public final class FlagFormat {

    /** The format version this release reads and writes. */
    public static final int FORMAT_VERSION = 1;
    /** The largest single flag document read, in bytes. */
    public static final int MAX_FLAG_BYTES = 1 << 20;
    /**
     * The largest flag file read, in bytes: 128 MiB. A flag file holds what {@code flags export} writes of an
     * environment, and a server lets one serve up to 48 MiB of flags and grants, counted as compact JSON; a file is
     * indented, which adds up to about a third for lists of user ids. (At 16 MiB, an environment a server served could
     * not be exported, nor given to an SDK's offline mode.)
     */
    public static final int MAX_FILE_BYTES = 128 << 20;
    /** The most flags one file may hold: as many as a server lets an environment serve. */
    public static final int MAX_FLAGS = 1_000_000;

    private static final ObjectMapper MAPPER = mapper();
    /** The longest number the reader takes, in characters (the parser's bound). */
    private static final int MAX_NUMBER_LENGTH = 64;
    private static final String TOO_LARGE = "is too large a number: beyond what a double holds (about 1.8e308)";
    /** Also a numeric operator's value in text that {@link WriteRules#numbers} refuses: the same words. */
    static final String TOO_SMALL = "is too small a number: nearer 0 than a double holds (about 4.9e-324), but not 0";

    private static final Set<String> FILE_FIELDS = Set.of("formatVersion", "flags", "roleGrants");
    private static final Set<String> FLAG_FIELDS = Set.of("key", "description", "enabled", "salt", "bucketBy", "variants",
            "targets", "rules", "default", "version");
    private static final Set<String> VARIANT_FIELDS = Set.of("key", "weight", "payload");
    private static final Set<String> TARGET_FIELDS = Set.of("userIds", "serve", "variant");
    private static final Set<String> RULE_FIELDS = Set.of("name", "conditions", "serve", "variant");
    private static final List<String> CONDITION_KINDS = List.of("roles", "regions", "userIds", "percentage", "attribute");
    private static final Set<String> USER_FIELDS = Set.of("id", "roles", "region", "attributes");
    private static final Set<String> ATTRIBUTE_FIELDS = Set.of("attribute", "operator", "values", "negate", "ignoreCase");

    /*
     * Where a part of a document cannot be read, a problem is reported at its path and a placeholder
     * takes its place, so that list indexes stay right for the checks that follow. Problems holds back
     * any later problem at or below a reported path, so a placeholder never adds a message.
     */
    private static final Condition UNREADABLE_CONDITION = new Condition.Percentage(Double.NaN);
    private static final String PLACEHOLDER = "0";

    private FlagFormat() {
    }

    private static ObjectMapper mapper() {
        JsonFactory factory = JsonFactory.builder()
                .streamReadConstraints(StreamReadConstraints.builder()
                        .maxNestingDepth(32)
                        .maxNumberLength(MAX_NUMBER_LENGTH)
                        .maxStringLength(MAX_FILE_BYTES)
                        .build())
                .build();
        // Duplicate fields are refused by the tree builder, which looks each field up anyway, rather
        // than by the parser's STRICT_DUPLICATE_DETECTION, which keeps a set of names per object: every
        // SDK reads every changed flag, and those sets were a fifth of the garbage of a read.
        return new ObjectMapper(factory)
                .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
                .enable(SerializationFeature.INDENT_OUTPUT)
                .configure(JsonParser.Feature.INCLUDE_SOURCE_IN_LOCATION, false);
    }

    /** The contents of a flag file: flags and role grants. */
    public record FlagFile(List<Flag> flags, Map<String, Set<String>> roleGrants) {
        /** Copies the collections. */
        public FlagFile {
            flags = List.copyOf(flags);
            roleGrants = copyGrants(roleGrants);
        }
    }

    // ---------------------------------------------------------------- reading

    /**
     * Reads one flag document.
     *
     * @param json the document
     * @return the flag, validated
     * @throws FlagValidationException listing every problem, if the document is not a valid flag
     */
    public static Flag readFlag(String json) {
        return readFlag(json.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Reads one flag document from UTF-8 bytes.
     *
     * @param json the document
     * @return the flag, validated
     * @throws FlagValidationException listing every problem, if the document is not a valid flag
     */
    public static Flag readFlag(byte[] json) {
        Problems problems = new Problems();
        JsonNode node = parse(json, MAX_FLAG_BYTES, problems);
        Flag flag = node == null ? null : readFlag(node, "", problems);
        problems.throwIfAny();
        return flag;
    }

    /**
     * Reads one flag from a parsed JSON tree (the server's API bodies).
     *
     * @param node the flag object
     * @return the flag, validated
     * @throws FlagValidationException listing every problem
     */
    public static Flag readFlag(JsonNode node) {
        Problems problems = new Problems();
        Flag flag = readFlag(node, "", problems);
        problems.throwIfAny();
        return flag;
    }

    /**
     * Reads a flag file: {@code {"formatVersion": 1, "flags": [...], "roleGrants": {...}}}.
     *
     * @param json the file's contents
     * @return its flags and role grants, validated
     * @throws FlagValidationException listing every problem
     */
    public static FlagFile readFile(String json) {
        return readFile(json.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Reads a flag file from UTF-8 bytes.
     *
     * @param json the file's contents
     * @return its flags and role grants, validated
     * @throws FlagValidationException listing every problem
     */
    public static FlagFile readFile(byte[] json) {
        return readFile(json, MAX_FILE_BYTES, MAX_FLAGS);
    }

    /**
     * Reads a flag file from UTF-8 bytes, with bounds of its own (smaller or larger than a flag file's, {@link
     * #MAX_FILE_BYTES} and {@link #MAX_FLAGS}).
     *
     * @param json the file's content
     * @param maxBytes the most bytes it may have
     * @param maxFlags the most flags it may hold
     * @return the flags and role grants, validated
     * @throws FlagValidationException listing every problem, if the file is not valid
     */
    public static FlagFile readFile(byte[] json, int maxBytes, int maxFlags) {
        Problems problems = new Problems();
        JsonNode root = parse(json, maxBytes, problems);
        if (root == null) {
            problems.throwIfAny();
        }
        if (!root.isObject()) {
            problems.add("", "must be a JSON object with \"formatVersion\" and \"flags\", was " + describe(root));
            problems.throwIfAny();
        }
        if (root.has("key") && !root.has("flags") && !root.has("formatVersion")) {
            // The likeliest mix-up: one flag's document (as the server's API and `flags show` give it).
            problems.add("", "is one flag's document, not a flag file; a flag file is {\"formatVersion\": "
                    + FORMAT_VERSION + ", \"flags\": [ ...flag documents... ]}");
            problems.throwIfAny();
        }
        unknownFields(root, FILE_FIELDS, "", problems);
        JsonNode version = root.get("formatVersion");
        if (version == null) {
            problems.add("formatVersion", "is required (this release reads version " + FORMAT_VERSION + ")");
        } else if (!version.isIntegralNumber() || !version.canConvertToInt() || version.asInt() != FORMAT_VERSION) {
            // 1.0 is a 1 to most readers, but not to a format whose versions are whole numbers: say which was written.
            problems.add("formatVersion", "must be the whole number " + FORMAT_VERSION + ", the version this release reads, was "
                    + (version.isNumber() && !version.isIntegralNumber() ? "a decimal number (write " + FORMAT_VERSION
                    + ", without a decimal point or exponent)" : version));
        }
        List<Flag> flags = new ArrayList<>();
        JsonNode flagsNode = root.get("flags");
        if (flagsNode == null) {
            problems.add("flags", "is required (an array of flags, possibly empty)");
        } else if (!flagsNode.isArray()) {
            problems.add("flags", "must be an array of flags, was " + describe(flagsNode));
        } else if (flagsNode.size() > maxFlags) {
            problems.add("flags", "must hold at most " + maxFlags + " flags, holds " + flagsNode.size());
        } else {
            Map<String, Integer> seen = new HashMap<>();
            for (int i = 0; i < flagsNode.size(); i++) {
                String at = Problems.index("flags", i);
                Flag flag = readFlag(flagsNode.get(i), at, problems);
                // By the key as written, so that a repeated key is reported even where a copy has other problems.
                JsonNode keyNode = flagsNode.get(i).get("key");
                if (keyNode != null && keyNode.isTextual()) {
                    Integer previous = seen.putIfAbsent(keyNode.asText(), i);
                    if (previous != null) {
                        problems.flag(keyNode.asText());
                        problems.add(Problems.child(at, "key"), "repeats the flag key of flags[" + previous + "]; flag keys must be unique");
                        problems.flag(null);
                    }
                }
                if (flag != null && flag.key() != null) {
                    flags.add(flag);
                }
            }
        }
        Map<String, Set<String>> grants = readGrants(root.get("roleGrants"), problems);
        problems.throwIfAny();
        return new FlagFile(flags, grants);
    }

    private static Map<String, Set<String>> readGrants(JsonNode node, Problems problems) {
        Map<String, Set<String>> grants = new TreeMap<>();
        if (node == null) {
            return grants;
        }
        if (!node.isObject()) {
            problems.add("roleGrants", "must be an object of role name to user ids, was " + describe(node));
            return grants;
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String at = Problems.child("roleGrants", Problems.shortened(e.getKey()));
            if (!Syntax.isName(e.getKey())) {
                problems.add(at, "is not a role name (letters, digits, '.', '_', ':' or '-', starting with a letter or digit,"
                        + " at most " + Syntax.MAX_LENGTH + " characters)" + (e.getKey().length() > Syntax.MAX_LENGTH
                        ? ": it is " + e.getKey().length() + " characters long" : ", was " + Problems.quote(e.getKey())));
                continue;
            }
            List<String> ids = stringList(e.getValue(), at, problems);
            if (ids != null) {
                for (int i = 0; i < ids.size(); i++) {
                    if (ids.get(i).isEmpty() || ids.get(i).length() > User.MAX_NAME_LENGTH) {
                        problems.add(Problems.index(at, i), "must be a user id of 1 to " + User.MAX_NAME_LENGTH + " characters");
                    }
                }
                grants.put(e.getKey(), new LinkedHashSet<>(ids));
            }
        }
        return grants;
    }

    private static JsonNode parse(byte[] json, int limit, Problems problems) {
        if (json.length > limit) {
            problems.add("", "is too large: " + json.length + " bytes, the limit is " + limit);
            return null;
        }
        try {
            JsonNode node = readTree(MAPPER, json);
            if (node.isMissingNode()) {
                problems.add("", "is empty; expected a JSON object");
                return null;
            }
            return node;
        } catch (JsonProcessingException e) {
            problems.add("", "is not valid JSON" + jsonErrorLocation(e) + ": " + jsonErrorMessage(e));
            return null;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Reads a JSON text as {@link ObjectMapper#readTree(byte[])} does, but a refusal by one of the mapper's {@link
     * StreamReadConstraints} (a document nested too deeply) says where it is: Jackson's says not (QA57 F9).
     *
     * @param mapper the mapper, with its features and constraints
     * @param json the text, UTF-8
     * @return the tree; a missing node if the text holds no value
     * @throws JsonProcessingException if the text is not JSON the mapper takes, located where the parser can say
     * @throws IOException if the bytes cannot be read (they can always be)
     */
    public static JsonNode readTree(ObjectMapper mapper, byte[] json) throws IOException {
        try (JsonParser parser = mapper.createParser(json)) {
            try {
                JsonNode node = mapper.readTree(parser);
                return node == null ? MissingNode.getInstance() : node;
            } catch (StreamConstraintsException e) {
                // Thrown as the parser opens the value that goes one level too deep: the token's location is that value's.
                throw new JsonParseException(parser, e.getOriginalMessage(), parser.currentTokenLocation(), e);
            }
        }
    }

    /**
     * What is wrong with a JSON text, in words for the person who wrote it: Jackson's message without its
     * notes on how the parser is configured (the classes it binds to, the features that would allow
     * the input), which mean nothing to them.
     *
     * @param e the parser's exception
     * @return its message, such as {@code Unexpected character ('}' (code 125)): was expecting double-quote to start field name}
     */
    public static String jsonErrorMessage(JsonProcessingException e) {
        String message = e.getOriginalMessage() == null ? e.getClass().getSimpleName() : e.getOriginalMessage();
        message = message.replaceAll(" for `ObjectNode`.*$", "")
                .replaceAll("\\(([0-9,]+), from `[^`]*`\\)", "($1)")
                .replaceAll(":? *(not allowed as per|enable) `[^`]*`( to allow)?", "")
                .replaceAll(" *\\([^()]*`[^()]*\\)", "")
                .replaceAll("\\(start marker at \\[Source: [^\\]]*; line: (\\d+), column: (\\d+)\\]\\)",
                        "(opened at line $1, column $2)")
                .replaceAll(" *\\[Source: [^\\]]*\\]", "")
                // Jackson's words for a lone minus sign: two sentences run together ("end-of-inputNo digit following
                // sign"), or a context it has no name for ("end-of-input in null").
                .replace("end-of-inputNo digit", "end-of-input: no digit").replaceAll(" in null$", "");
        return message.trim();
    }

    /**
     * @param e the parser's exception
     * @return where in the text it happened, as {@code " (line 3, column 7)"}, or "" when the parser does not say
     */
    public static String jsonErrorLocation(JsonProcessingException e) {
        JsonLocation at = e.getLocation();
        return at == null || at.getLineNr() < 1 ? "" : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")";
    }

    private static Flag readFlag(JsonNode node, String path, Problems problems) {
        if (!node.isObject()) {
            problems.add(path, "must be a flag object, was " + describe(node));
            return null;
        }
        JsonNode keyNode = node.get("key");
        String key = keyNode != null && keyNode.isTextual() ? keyNode.asText() : null;
        problems.flag(key);
        try {
            int before = problems.size();
            unknownFields(node, FLAG_FIELDS, path, problems);
            String flagKey = string(node, "key", path, true, problems);
            String description = string(node, "description", path, false, problems);
            boolean enabled = bool(node, "enabled", path, false, problems);
            String salt = string(node, "salt", path, false, problems);
            String bucketBy = string(node, "bucketBy", path, false, problems);
            List<Variant> variants = list(node, "variants", path, problems, FlagFormat::readVariant);
            List<Target> targets = list(node, "targets", path, problems, FlagFormat::readTarget);
            List<Rule> rules = list(node, "rules", path, problems, FlagFormat::readRule);
            boolean defaultValue = bool(node, "default", path, false, problems);
            long version = 0;
            JsonNode v = node.get("version");
            if (v != null && !v.isNull()) {
                if (v.canConvertToLong() && v.isIntegralNumber()) {
                    version = v.asLong();
                } else {
                    problems.add(Problems.child(path, "version"), v.isIntegralNumber()
                            ? "must be a whole number up to " + Long.MAX_VALUE + ", was " + v.asText()
                            : v.isNumber() ? "must be a whole number, was a decimal number (write it without a decimal point"
                            + " or exponent)" : "must be a whole number, was " + describe(v));
                }
            }
            Flag flag = new Flag(flagKey, description, enabled, salt, bucketBy, variants, targets, rules, defaultValue, version);
            FlagValidator.validate(flag, path, problems);
            return problems.size() == before ? flag : null;
        } finally {
            problems.flag(null);
        }
    }

    private static Variant readVariant(JsonNode node, String path, Problems problems) {
        if (!object(node, path, "a variant object", problems)) {
            return new Variant(null, Double.NaN, null);
        }
        unknownFields(node, VARIANT_FIELDS, path, problems);
        String key = string(node, "key", path, true, problems);
        double weight = number(node, "weight", path, problems);
        String payload = string(node, "payload", path, false, problems);
        return new Variant(key, weight, payload);
    }

    private static Target readTarget(JsonNode node, String path, Problems problems) {
        if (!object(node, path, "a target object", problems)) {
            return new Target(List.of(), true, null);
        }
        unknownFields(node, TARGET_FIELDS, path, problems);
        String at = Problems.child(path, "userIds");
        List<String> ids = node.has("userIds") ? stringList(node.get("userIds"), at, problems) : null;
        if (!node.has("userIds")) {
            problems.add(at, "is required");
        }
        boolean serve = bool(node, "serve", path, true, problems);
        String variant = string(node, "variant", path, false, problems);
        return new Target(ids, serve, variant);
    }

    private static Rule readRule(JsonNode node, String path, Problems problems) {
        if (!object(node, path, "a rule object", problems)) {
            return new Rule(null, List.of(), true, null);
        }
        unknownFields(node, RULE_FIELDS, path, problems);
        String name = string(node, "name", path, false, problems);
        List<Condition> conditions = list(node, "conditions", path, problems, FlagFormat::readCondition);
        boolean serve = bool(node, "serve", path, true, problems);
        String variant = string(node, "variant", path, false, problems);
        return new Rule(name, conditions, serve, variant);
    }

    private static Condition readCondition(JsonNode node, String path, Problems problems) {
        if (!object(node, path, "a condition object", problems)) {
            return UNREADABLE_CONDITION;
        }
        List<String> kinds = new ArrayList<>();
        for (String kind : CONDITION_KINDS) {
            if (node.has(kind)) {
                kinds.add(kind);
            }
        }
        if (kinds.isEmpty()) {
            problems.add(path, "must have one of " + String.join(", ", CONDITION_KINDS));
            return UNREADABLE_CONDITION;
        }
        if (kinds.size() > 1) {
            problems.add(path, "must have only one of " + String.join(", ", CONDITION_KINDS) + ", has " + String.join(" and ", kinds)
                    + " (put them in separate conditions: conditions are ANDed)");
            return UNREADABLE_CONDITION;
        }
        String kind = kinds.get(0);
        if (!kind.equals("attribute")) {
            unknownFields(node, Set.of(kind), path, problems);
        }
        String at = Problems.child(path, kind);
        switch (kind) {
            case "roles":
                return new Condition.Roles(stringList(node.get(kind), at, problems));
            case "regions":
                return new Condition.Regions(stringList(node.get(kind), at, problems));
            case "userIds":
                return new Condition.UserIds(stringList(node.get(kind), at, problems));
            case "percentage":
                return new Condition.Percentage(number(node, kind, path, problems));
            default:
                return readAttribute(node, path, problems);
        }
    }

    private static Condition readAttribute(JsonNode node, String path, Problems problems) {
        unknownFields(node, ATTRIBUTE_FIELDS, path, problems);
        String attribute = string(node, "attribute", path, true, problems);
        String opName = string(node, "operator", path, true, problems);
        Operator operator = null;
        if (opName != null) {
            operator = Operator.fromJsonName(opName).orElse(null);
            if (operator == null) {
                List<String> names = new ArrayList<>();
                for (Operator o : Operator.values()) {
                    names.add(o.jsonName());
                }
                problems.add(Problems.child(path, "operator"), "is not a known operator: " + Problems.quote(opName)
                        + "; the operators are " + String.join(", ", names));
            }
        }
        String at = Problems.child(path, "values");
        List<String> values = null;
        JsonNode valuesNode = node.get("values");
        if (valuesNode == null) {
            problems.add(at, "is required");
        } else if (!valuesNode.isArray()) {
            problems.add(at, "must be an array of values, was " + describe(valuesNode));
        } else {
            values = new ArrayList<>();
            for (int i = 0; i < valuesNode.size(); i++) {
                JsonNode v = valuesNode.get(i);
                if (v.isTextual()) {
                    values.add(v.asText());
                } else if (v.isNumber()) {
                    String problem = valueNumberProblem(v);
                    if (problem != null) {
                        problems.add(Problems.index(at, i), problem);
                        values.add(PLACEHOLDER);
                    } else {
                        values.add(numberText(v));
                    }
                } else {
                    problems.add(Problems.index(at, i), "must be a string or a number, was " + describe(v));
                    values.add(PLACEHOLDER);
                }
            }
        }
        if (values != null && operator != null && operator.kind() == Operator.Kind.NUMBER) {
            // Canonical when read, not only when written: "1e3" was written 1E+3 and read back "1000", another flag.
            for (int i = 0; i < values.size(); i++) {
                String canonical = canonicalNumber(values.get(i));
                if (canonical != null) {
                    values.set(i, canonical);
                }
            }
        }
        boolean negate = bool(node, "negate", path, false, problems);
        boolean ignoreCase = bool(node, "ignoreCase", path, false, problems);
        // An unknown operator was reported; IN stands in so that the values are still checked.
        return new Condition.Attribute(attribute, operator == null ? Operator.IN : operator, values, negate, ignoreCase);
    }

    // ---------------------------------------------------------------- writing

    /**
     * Writes one flag as a JSON document (indented).
     *
     * @param flag the flag
     * @return its JSON text
     */
    public static String writeFlag(Flag flag) {
        return write(toJson(flag));
    }

    /**
     * Writes a flag file.
     *
     * @param flags the flags, in the order to write them
     * @param roleGrants role name to user ids; may be empty
     * @return the file's JSON text
     */
    public static String writeFile(Collection<Flag> flags, Map<String, Set<String>> roleGrants) {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        root.put("formatVersion", FORMAT_VERSION);
        ArrayNode array = root.putArray("flags");
        flags.forEach(f -> array.add(toJson(f)));
        if (!roleGrants.isEmpty()) {
            ObjectNode grants = root.putObject("roleGrants");
            new TreeMap<>(roleGrants).forEach((role, ids) -> {
                ArrayNode idArray = grants.putArray(role);
                ids.forEach(idArray::add);
            });
        }
        return write(root);
    }

    /**
     * Converts one flag to its JSON tree; fields that hold their default are left out.
     *
     * @param flag the flag
     * @return a new JSON object
     */
    public static ObjectNode toJson(Flag flag) {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put("key", flag.key());
        if (flag.description() != null) {
            n.put("description", flag.description());
        }
        n.put("enabled", flag.enabled());
        if (flag.salt() != null) {
            n.put("salt", flag.salt());
        }
        if (flag.bucketBy() != null) {
            n.put("bucketBy", flag.bucketBy());
        }
        if (!flag.variants().isEmpty()) {
            ArrayNode variants = n.putArray("variants");
            for (Variant v : flag.variants()) {
                ObjectNode vn = variants.addObject().put("key", v.key()).put("weight", decimal(v.weight()));
                if (v.payload() != null) {
                    vn.put("payload", v.payload());
                }
            }
        }
        if (!flag.targets().isEmpty()) {
            ArrayNode targets = n.putArray("targets");
            for (Target t : flag.targets()) {
                ObjectNode tn = targets.addObject();
                t.userIds().forEach(tn.putArray("userIds")::add);
                tn.put("serve", t.serve());
                if (t.variant() != null) {
                    tn.put("variant", t.variant());
                }
            }
        }
        if (!flag.rules().isEmpty()) {
            ArrayNode rules = n.putArray("rules");
            for (Rule r : flag.rules()) {
                ObjectNode rn = rules.addObject();
                if (r.name() != null) {
                    rn.put("name", r.name());
                }
                ArrayNode conditions = rn.putArray("conditions");
                r.conditions().forEach(c -> conditions.add(toJson(c)));
                rn.put("serve", r.serve());
                if (r.variant() != null) {
                    rn.put("variant", r.variant());
                }
            }
        }
        n.put("default", flag.defaultValue());
        if (flag.version() != 0) {
            n.put("version", flag.version());
        }
        return n;
    }

    private static ObjectNode toJson(Condition c) {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        if (c instanceof Condition.Roles r) {
            r.roles().forEach(n.putArray("roles")::add);
        } else if (c instanceof Condition.Regions r) {
            r.regions().forEach(n.putArray("regions")::add);
        } else if (c instanceof Condition.UserIds u) {
            u.userIds().forEach(n.putArray("userIds")::add);
        } else if (c instanceof Condition.Percentage p) {
            n.put("percentage", decimal(p.percentage()));
        } else if (c instanceof Condition.Attribute a) {
            n.put("attribute", a.attribute());
            n.put("operator", a.operator().jsonName());
            ArrayNode values = n.putArray("values");
            for (String v : a.values()) {
                String number = a.operator().kind() == Operator.Kind.NUMBER ? canonicalNumber(v) : null;
                if (number == null) {
                    values.add(v);
                } else if (number.length() <= MAX_NUMBER_LENGTH && new BigDecimal(number).toString().equals(number)) {
                    values.add(new BigDecimal(number)); // a JSON number, which any writer prints as it is here
                } else {
                    // As text: a writer prints 0.0000001 as 1E-7 (other languages' readers and jq differ on
                    // that form), and the reader refuses a number of more than 64 characters.
                    values.add(number);
                }
            }
            if (a.negate()) {
                n.put("negate", true);
            }
            if (a.ignoreCase()) {
                n.put("ignoreCase", true);
            }
        }
        return n;
    }

    /**
     * A numeric operator's value in one canonical text: written out in full, without white space, a sign
     * for a positive number or trailing zeros ({@code "1e3"}, {@code " 1000"} and {@code "0x1.f4p9"} are all
     * {@code "1000"}), so that a flag read, written and read again is the same flag. The meaning is kept:
     * {@link Matchers#decimal} reads the canonical text as the same number as the value.
     *
     * @return the canonical text, or null to keep the value as written: the validator refuses it (and says
     *         why), it is no number though a double reads it ({@code "1e-400"}: {@link WriteRules#numbers}), or its canonical text would be longer than {@link Matchers#decimal} reads exactly
     *         ({@code "1e-200"}, which as 202 digits would be read as the nearest double)
     */
    static String canonicalNumber(String value) {
        if (value.length() > FlagValidator.MAX_VALUE_LENGTH || FlagValidator.numberProblem(value) != null) {
            return null;
        }
        BigDecimal x = Matchers.decimal(value);
        if (x == null) {
            return null;
        }
        if (x.signum() == 0) {
            return "0"; // "-0" and "0.00" too; 0 may come with any scale
        }
        // A finite double: the exponent is at most 308, so stripping zeros cannot overflow the scale. It may be
        // -2147483647 ("1e-2147483647" is a double's 0): the length is judged before toPlainString writes it.
        BigDecimal stripped = x.stripTrailingZeros();
        long length = (stripped.signum() < 0 ? 1 : 0) + (stripped.scale() <= 0
                ? (long) stripped.precision() - stripped.scale()
                : Math.max(stripped.precision(), stripped.scale() + 1L) + 1);
        return length > Matchers.MAX_NUMBER_TEXT ? null : stripped.toPlainString();
    }

    private static BigDecimal decimal(double d) {
        BigDecimal b = BigDecimal.valueOf(d).stripTrailingZeros();
        return b.scale() < 0 ? b.setScale(0) : b;
    }

    private static String write(JsonNode node) {
        try {
            return MAPPER.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a JSON tree", e);
        }
    }

    // ---------------------------------------------------------------- users and evaluations

    /** The most roles a user read from JSON may hold (a playground request, {@code flags eval}): data, bounded like any input. */
    public static final int MAX_USER_ROLES = 1_000;

    /**
     * Reads a user from JSON: {@code {"id": "u-42", "roles": ["beta-tester"], "region": "eu-west",
     * "attributes": {"plan": "pro", "seats": 12, "trial": false}}}; every field is optional (no id is
     * an anonymous user). The playground, the command line and tools share this shape.
     *
     * @param node the user object
     * @return the user
     * @throws IllegalArgumentException with a message naming the bad field
     */
    public static User readUser(JsonNode node) {
        if (node == null || !node.isObject()) {
            throw new IllegalArgumentException("a user must be a JSON object such as {\"id\": \"u-42\", \"roles\": [\"beta-tester\"]}");
        }
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            if (!USER_FIELDS.contains(name)) {
                throw new IllegalArgumentException("user." + name + " is not a user field; the fields are attributes, id, region, roles");
            }
        }
        User user = node.hasNonNull("id") ? User.withId(textOf(node.get("id"), "user.id")) : User.anonymous();
        JsonNode roles = node.get("roles");
        if (roles != null && !roles.isNull()) {
            if (!roles.isArray()) {
                throw new IllegalArgumentException("user.roles must be an array of strings");
            }
            if (roles.size() > MAX_USER_ROLES) {
                throw new IllegalArgumentException("user.roles may hold at most " + MAX_USER_ROLES + " roles, had " + roles.size());
            }
            // All at once: one role at a time copied the user's roles each time, and a request's 100,000 roles took minutes.
            String[] names = new String[roles.size()];
            for (int i = 0; i < names.length; i++) {
                names[i] = textOf(roles.get(i), "user.roles[]");
            }
            user = user.roles(names);
        }
        if (node.hasNonNull("region")) {
            user = user.region(textOf(node.get("region"), "user.region"));
        }
        JsonNode attributes = node.get("attributes");
        if (attributes != null && !attributes.isNull()) {
            if (!attributes.isObject()) {
                throw new IllegalArgumentException("user.attributes must be an object");
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = attributes.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> a = it.next();
                JsonNode v = a.getValue();
                if (v.isIntegralNumber() && v.canConvertToLong()) {
                    user = user.attribute(a.getKey(), v.longValue()); // exactly: a 64-bit id is no double
                } else if (v.isIntegralNumber()) {
                    // Past 64 bits: its digits as text, which numeric operators read exactly and a bucketBy hashes as an
                    // SDK given the same id as text does; as a double, ids a thousand apart would be one.
                    user = user.attribute(a.getKey(), v.bigIntegerValue().toString());
                } else if (v.isNumber()) {
                    if (!Double.isFinite(v.doubleValue())) {
                        throw new IllegalArgumentException("user.attributes." + a.getKey() + " is too large a number");
                    }
                    user = user.attribute(a.getKey(), v.doubleValue());
                } else if (v.isBoolean()) {
                    user = user.attribute(a.getKey(), v.booleanValue());
                } else if (v.isTextual()) {
                    user = user.attribute(a.getKey(), v.asText());
                } else {
                    throw new IllegalArgumentException("user.attributes." + a.getKey() + " must be a string, number or boolean");
                }
            }
        }
        return user;
    }

    private static String textOf(JsonNode node, String what) {
        if (!node.isTextual()) {
            throw new IllegalArgumentException(what + " must be a string, was " + node);
        }
        return node.asText();
    }

    /**
     * Writes an evaluation as JSON: flag, value, variant and payload (when set), reason (kind, index,
     * ruleName, detail, when set) and flagVersion.
     *
     * @param e the evaluation
     * @return a new JSON object
     */
    public static ObjectNode toJson(Evaluation e) {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put("flag", e.flagKey());
        n.put("value", e.value());
        if (e.variant() != null) {
            n.put("variant", e.variant());
        }
        if (e.payload() != null) {
            n.put("payload", e.payload());
        }
        ObjectNode reason = n.putObject("reason");
        reason.put("kind", e.reason().kind().name());
        if (e.reason().ruleIndex() >= 0) {
            reason.put("index", e.reason().ruleIndex());
        }
        if (e.reason().ruleName() != null) {
            reason.put("ruleName", e.reason().ruleName());
        }
        if (e.reason().detail() != null) {
            reason.put("detail", e.reason().detail());
        }
        n.put("flagVersion", e.flagVersion());
        return n;
    }

    /**
     * Writes an explained evaluation as JSON: the evaluation as {@link #toJson(Evaluation)} writes it,
     * plus {@code "explanation"}, its steps in order, each {@code {"step": "switch" | "targets" |
     * "rule" | "default", "index": n (a target's or rule's), "ruleName": "..." (when set), "matched":
     * true|false, "detail": "..."}}.
     *
     * @param e the explanation
     * @return a new JSON object
     */
    public static ObjectNode toJson(Explanation e) {
        ObjectNode n = toJson(e.evaluation());
        ArrayNode steps = n.putArray("explanation");
        for (Explanation.Step step : e.steps()) {
            ObjectNode s = steps.addObject();
            s.put("step", step.kind().name().toLowerCase(java.util.Locale.ROOT));
            if (step.index() >= 0) {
                s.put("index", step.index());
            }
            if (step.ruleName() != null) {
                s.put("ruleName", step.ruleName());
            }
            s.put("matched", step.matched());
            s.put("detail", step.detail());
        }
        return n;
    }

    // ---------------------------------------------------------------- helpers

    private static void unknownFields(JsonNode node, Set<String> known, String path, Problems problems) {
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            if (!known.contains(name)) {
                problems.add(Problems.child(path, name), "is not a known field; the fields here are "
                        + String.join(", ", new java.util.TreeSet<>(known)));
            }
        }
    }

    private static boolean object(JsonNode node, String path, String what, Problems problems) {
        if (!node.isObject()) {
            problems.add(path, "must be " + what + ", was " + describe(node));
            return false;
        }
        return true;
    }

    private static String string(JsonNode node, String field, String path, boolean required, Problems problems) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            if (required) {
                problems.add(Problems.child(path, field), "is required");
            }
            return null;
        }
        if (!v.isTextual()) {
            problems.add(Problems.child(path, field), "must be a string, was " + describe(v));
            return null;
        }
        return v.asText();
    }

    private static boolean bool(JsonNode node, String field, String path, boolean absent, Problems problems) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            return absent;
        }
        if (!v.isBoolean()) {
            problems.add(Problems.child(path, field), "must be true or false, was " + describe(v));
            return absent;
        }
        return v.asBoolean();
    }

    private static double number(JsonNode node, String field, String path, Problems problems) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            problems.add(Problems.child(path, field), "is required");
            return Double.NaN;
        }
        if (!v.isNumber()) {
            problems.add(Problems.child(path, field), "must be a number, was " + describe(v));
            return Double.NaN;
        }
        if (!finite(v)) {
            problems.add(Problems.child(path, field), TOO_LARGE);
            return Double.NaN;
        }
        return v.doubleValue();
    }

    /**
     * Whether a number node holds a number a double holds. Read as a double, 1e400 is Infinity, which no flag may
     * hold; read exactly (this class's reader, the server's), it is as far out of range, and said so in the same words.
     */
    private static boolean finite(JsonNode number) {
        return Double.isFinite(number.doubleValue());
    }

    /**
     * Why a number in a condition's {@code values} cannot be taken, or null. Judged from its precision and
     * scale, before anything writes it out: the parser bounds a number's text (64 characters), not its
     * exponent, and a value is kept written out in full. {@code 1e2147483647}, 12 characters, is two
     * thousand million digits that way ({@code toPlainString} failed with a NegativeArraySizeException), and
     * {@code 1e50000000} took 100 MB before it was refused as too long. Beyond a double's range either way
     * it is no number any SDK compares, and the server's reader (doubles) would make it Infinity or 0.
     */
    private static String valueNumberProblem(JsonNode v) {
        if (!finite(v)) {
            return TOO_LARGE;
        }
        BigDecimal x = v.decimalValue();
        if (x.signum() == 0) {
            return null; // 0E-2147483647 too: it is written "0"
        }
        long exponent = (long) x.precision() - x.scale() - 1; // of the leading digit: 2 for 123, -3 for 0.00123
        // doubleValue() only once the exponent is known to be small: it costs little then.
        if (exponent > 308 || Double.isInfinite(x.doubleValue())) {
            return TOO_LARGE;
        }
        if (exponent < -324 || x.doubleValue() == 0) {
            return TOO_SMALL;
        }
        return null;
    }

    /**
     * The text of a number in a condition's {@code values}, one canonical form whatever node the reader made
     * of it, written out in full without trailing zeros: {@code 12.0}, {@code 12} and {@code 1.2e1} are all
     * {@code "12"}, as {@link Matchers#text} makes a user's number. The server reads request bodies as
     * doubles, where {@code 12.0} gave {@code "12.0"}, and a file reader as BigDecimals, where it gave
     * {@code "12"}: one document was two flags, and a user with 12 seats matched {@code in [12.0]} only
     * offline. Only for a number {@link #valueNumberProblem} took: its exponent is then small.
     */
    private static String numberText(JsonNode v) {
        BigDecimal x = v.decimalValue(); // a double's is BigDecimal.valueOf(d): its shortest text, as Matchers.text reads it
        // 0 may come with any scale (0e-2147483647 from a reader that keeps it as written).
        return x.signum() == 0 ? "0" : x.stripTrailingZeros().toPlainString();
    }

    private static List<String> stringList(JsonNode node, String path, Problems problems) {
        if (node == null || !node.isArray()) {
            problems.add(path, "must be an array of strings, was " + describe(node));
            return null;
        }
        List<String> out = new ArrayList<>(node.size());
        for (int i = 0; i < node.size(); i++) {
            JsonNode v = node.get(i);
            if (v.isTextual()) {
                out.add(v.asText());
            } else {
                problems.add(Problems.index(path, i), "must be a string, was " + describe(v));
                out.add(PLACEHOLDER);
            }
        }
        return out;
    }

    private static <T> List<T> list(JsonNode node, String field, String path, Problems problems,
                                    Reader<T> reader) {
        JsonNode v = node.get(field);
        String at = Problems.child(path, field);
        if (v == null || v.isNull()) {
            return List.of();
        }
        if (!v.isArray()) {
            problems.add(at, "must be an array, was " + describe(v));
            return List.of();
        }
        List<T> out = new ArrayList<>(v.size());
        for (int i = 0; i < v.size(); i++) {
            out.add(reader.read(v.get(i), Problems.index(at, i), problems));
        }
        return out;
    }

    private interface Reader<T> {
        T read(JsonNode node, String path, Problems problems);
    }

    private static String describe(JsonNode node) {
        if (node == null || node.isNull()) {
            return "null";
        }
        if (!finite(node)) {
            return "a number too large for a double"; // not "Infinity": that is not what was written
        }
        if (node.isTextual()) {
            return Problems.quote(node.asText());
        }
        if (node.isArray()) {
            return "an array";
        }
        if (node.isObject()) {
            return "an object";
        }
        return node.toString();
    }

    static Map<String, Set<String>> copyGrants(Map<String, Set<String>> grants) {
        Map<String, Set<String>> copy = new LinkedHashMap<>();
        grants.forEach((k, v) -> copy.put(Objects.requireNonNull(k, "role"), unmodifiableHashSet(v)));
        return Collections.unmodifiableMap(copy);
    }

    /**
     * An unmodifiable copy that hashes into buckets, for sets that may hold thousands of user ids: {@code
     * Set.copyOf}'s open addressing degrades with ids whose hash codes run in sequence ({@code user-14700},
     * {@code user-14701}, ...): with a role of 14,700 such members, {@code isEnabled} for a user outside it took
     * 10 µs instead of 10 ns (docs/BENCHMARKS.md, "Large lists of user ids").
     *
     * @throws NullPointerException if {@code values} is or holds null
     */
    static Set<String> unmodifiableHashSet(Collection<String> values) {
        Set<String> copy = new HashSet<>(Math.max(16, (int) (values.size() / 0.75f) + 1));
        for (String value : values) {
            copy.add(Objects.requireNonNull(value, "user id"));
        }
        return Collections.unmodifiableSet(copy);
    }

}
