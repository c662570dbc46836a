package dev.flags.core;

import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Immutable. The user a flag is evaluated for: a sticky id, roles, a region and free attributes.
 *
 * <p>Each fluent call returns a new {@code User}; build one per request and reuse it for every flag
 * evaluated in that request.
 * <pre>{@code
 * User user = User.withId("u-42")
 *     .roles("beta-tester")
 *     .region("eu-west")
 *     .attribute("plan", "pro")
 *     .attribute("seats", 12);
 * boolean on = flags.isEnabled("billing-v2", user);
 * }</pre>
 *
 * <p>The id is the sticky key of percentage rollouts and variant splits: the same id always lands in
 * the same bucket. A user without an id ({@link #anonymous()}) is never inside a partial rollout. A flag
 * with a {@code bucketBy} takes the sticky key from that attribute instead (an account id: every user of
 * the account in the same bucket), and a user without a value for it is never inside that flag's partial
 * rollouts.
 * Attribute values are strings, numbers, booleans or instants.
 */
public final class User {

    /** The most attributes one user may carry; more is a programming error, not data. */
    public static final int MAX_ATTRIBUTES = 256;
    /** The longest id, role, region or attribute name accepted, in characters. */
    public static final int MAX_NAME_LENGTH = 1024;

    /*
     * Up to this many roles, hasRole scans an array: most users have none or a few, and comparing a
     * few strings (identical ones by reference first) is cheaper than hashing into a set.
     */
    private static final int MAX_SCANNED_ROLES = 8;
    private static final String[] NO_ROLES = new String[0];

    private static final User ANONYMOUS = new User(null, Set.of(), NO_ROLES, null, Map.of(), null);

    private final String id;
    private final Set<String> roles;
    private final String[] scannedRoles; // the roles in order when there are few of them, else null
    private final String region;
    private final Map<String, Object> attributes;
    /**
     * The first attribute name no flag can name (docs/flag-format.md), or null: taken, as a user built from a request
     * must not throw, and told to the evaluation's failure handler, since a condition meant for it never holds.
     */
    private final String unmatchableAttribute;

    private User(String id, Set<String> roles, String[] scannedRoles, String region, Map<String, Object> attributes,
                 String unmatchableAttribute) {
        this.id = id;
        this.roles = roles;
        this.scannedRoles = scannedRoles;
        this.region = region;
        this.attributes = attributes;
        this.unmatchableAttribute = unmatchableAttribute;
    }

    /**
     * Starts a user with the given sticky id.
     *
     * @param id the user's stable key, such as an account id; not null, not empty
     * @return a user with that id and nothing else
     * @throws NullPointerException if {@code id} is null
     * @throws IllegalArgumentException if {@code id} is empty or longer than {@value #MAX_NAME_LENGTH}
     */
    public static User withId(String id) {
        return new User(checkName(id, "id"), Set.of(), NO_ROLES, null, Map.of(), null);
    }

    /**
     * A user with no id, roles, region or attributes. It matches only rules that need none of them.
     *
     * @return the anonymous user
     */
    public static User anonymous() {
        return ANONYMOUS;
    }

    /**
     * Returns a copy of this user with these roles added (as the application knows them). A null or empty role is
     * skipped, as none: roles often come from request data ({@code "beta,,staff".split(",")}), and a user built from a
     * request must not throw where the flag would have answered.
     *
     * <p>Add a user's roles in one call ({@code user.roles(header.split(","))}), not one call per role: each call copies
     * the roles the user has, so a loop over many roles costs the square of their number (40,000 roles from a request
     * header held a thread for 30 s that way, QA90 F1).
     *
     * @param roles role names; null, or null and empty entries, add nothing
     * @return a new user
     * @throws IllegalArgumentException if a role is too long
     */
    public User roles(String... roles) {
        if (roles == null || roles.length == 0) {
            return this;
        }
        Set<String> merged = new LinkedHashSet<>(this.roles);
        for (String role : roles) {
            if (role != null && !role.isEmpty()) {
                merged.add(checkName(role, "role"));
            }
        }
        if (merged.size() == this.roles.size()) {
            return this;
        }
        return new User(id, Collections.unmodifiableSet(merged),
                merged.size() <= MAX_SCANNED_ROLES ? merged.toArray(NO_ROLES) : null, region, attributes, unmatchableAttribute);
    }

    /**
     * Returns a copy of this user in the given region, replacing any region it had. Null or empty means no region (a
     * request without the header the region comes from): such a user matches no region condition, and every other
     * condition as before.
     *
     * @param region a region name such as {@code eu-west}; null or empty for none
     * @return a new user
     * @throws IllegalArgumentException if {@code region} is too long
     */
    public User region(String region) {
        return new User(id, roles, scannedRoles, region == null || region.isEmpty() ? null : checkName(region, "region"),
                attributes, unmatchableAttribute);
    }

    /**
     * Returns a copy of this user with a string attribute set.
     *
     * <p>An attribute name that no flag can name ({@code "my attr"}, {@code "1plan"}: a flag's condition names an
     * attribute as a letter or {@code _}, then letters, digits, {@code _ . : -}, up to 128 characters) is taken, since
     * names may come from request data, but a condition meant for it never holds: the evaluation's
     * {@link EvaluationFailureHandler#unmatchableAttribute} is told (the SDK logs it, once an hour per name).
     *
     * @param name the attribute's name
     * @param value its value; not null
     * @return a new user
     * @throws NullPointerException if either argument is null
     * @throws IllegalArgumentException if the name is empty or too long, or too many attributes are set
     */
    public User attribute(String name, String value) {
        return with(name, Objects.requireNonNull(value, "value"));
    }

    /**
     * Returns a copy of this user with a numeric attribute set.
     *
     * @param name the attribute's name
     * @param value its value; must be finite
     * @return a new user
     * @throws IllegalArgumentException if the value is NaN or infinite, or the name is invalid
     */
    public User attribute(String name, double value) {
        if (!Double.isFinite(value)) {
            throw new IllegalArgumentException("attribute \"" + name + "\" must be a finite number, was " + value);
        }
        return with(name, value);
    }

    /**
     * Returns a copy of this user with a whole-number attribute set, kept exactly: a 64-bit id such as
     * {@code 1234567890123456789} compares as itself in numeric conditions, where a {@code double} would
     * round it (and two ids 100 apart would be equal).
     *
     * @param name the attribute's name
     * @param value its value
     * @return a new user
     * @throws IllegalArgumentException if the name is invalid
     */
    public User attribute(String name, long value) {
        return with(name, value);
    }

    /**
     * Returns a copy of this user with a boolean attribute set.
     *
     * @param name the attribute's name
     * @param value its value
     * @return a new user
     * @throws IllegalArgumentException if the name is invalid
     */
    public User attribute(String name, boolean value) {
        return with(name, value);
    }

    /**
     * Returns a copy of this user with a date-time attribute set, for {@code before} / {@code after}
     * conditions.
     *
     * @param name the attribute's name
     * @param value its value; not null
     * @return a new user
     * @throws NullPointerException if either argument is null
     */
    public User attribute(String name, Instant value) {
        return with(name, Objects.requireNonNull(value, "value"));
    }

    private User with(String name, Object value) {
        checkName(name, "attribute name");
        Map<String, Object> copy = new LinkedHashMap<>(attributes);
        copy.put(name, value);
        if (copy.size() > MAX_ATTRIBUTES) {
            throw new IllegalArgumentException("a user may have at most " + MAX_ATTRIBUTES + " attributes");
        }
        String unmatchable = unmatchableAttribute != null || Syntax.isAttribute(name) ? unmatchableAttribute : name;
        return new User(id, roles, scannedRoles, region, Collections.unmodifiableMap(copy), unmatchable);
    }

    private static String checkName(String value, String what) {
        Objects.requireNonNull(value, what);
        if (value.isEmpty()) {
            throw new IllegalArgumentException(what + " must not be empty");
        }
        if (value.length() > MAX_NAME_LENGTH) {
            throw new IllegalArgumentException(what + " must be at most " + MAX_NAME_LENGTH + " characters, was " + value.length());
        }
        return value;
    }

    /** @return the sticky id, or null for an anonymous user */
    public String id() {
        return id;
    }

    /** @return the roles the application gave this user; immutable, never null */
    public Set<String> roles() {
        return roles;
    }

    /** @return true if the application gave this user the role (server grants are checked by the evaluator) */
    public boolean hasRole(String role) {
        String[] few = scannedRoles;
        if (few == null) {
            return roles.contains(role);
        }
        for (String own : few) {
            if (own.equals(role)) {
                return true;
            }
        }
        return false;
    }

    /** @return the region, or null if none was given */
    public String region() {
        return region;
    }

    /**
     * @return the first attribute name this user was given that no flag can name (a flag's condition names an attribute
     *     as {@code [A-Za-z_][A-Za-z0-9_.:-]{0,127}}), or null if there is none
     */
    String unmatchableAttribute() {
        return unmatchableAttribute;
    }

    /** @return the attributes by name; immutable, never null */
    public Map<String, Object> attributes() {
        return attributes;
    }

    /**
     * @param name an attribute name
     * @return its value (a {@code String}, {@code Long}, {@code Double}, {@code Boolean} or {@code Instant}), or null if unset
     */
    public Object attribute(String name) {
        return attributes.get(name);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof User u && Objects.equals(id, u.id) && roles.equals(u.roles)
                && Objects.equals(region, u.region) && attributes.equals(u.attributes);
    }

    @Override
    public int hashCode() {
        return Objects.hash(id, roles, region, attributes);
    }

    @Override
    public String toString() {
        return "User{id=" + id + ", roles=" + roles + ", region=" + region + ", attributes=" + attributes.keySet() + "}";
    }
}
