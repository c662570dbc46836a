package dev.flags.client.testing;

import dev.flags.client.Flags;
import dev.flags.client.Freshness;
import dev.flags.client.Health;
import dev.flags.client.Source;
import dev.flags.client.StatusListener;
import dev.flags.client.internal.FlagState;
import dev.flags.client.internal.FlagStore;
import dev.flags.client.internal.StoreBackedFlags;
import dev.flags.core.Flag;
import dev.flags.core.FlagFormat;
import dev.flags.core.FlagSet;
import dev.flags.core.Target;
import dev.flags.core.User;
import dev.flags.core.Variant;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Thread-safe. An in-memory {@link Flags} for the tests of an application: the test sets flags
 * directly, with no server and no file, and the application under test uses it like the real one
 * (same evaluator, same reasons, same listeners).
 *
 * <pre>{@code
 * TestFlags flags = TestFlags.create()
 *     .enable("billing-v2")
 *     .enableFor("new-search", "u-1", "u-2")
 *     .serveVariant("checkout-button", "green");
 * BillingService service = new BillingService(flags);     // takes a Flags
 * assertThat(service.checkout(user)).isEqualTo(...);
 * flags.disable("billing-v2");                             // the kill switch, mid-test
 * }</pre>
 *
 * <p>Each change makes a new version of the whole set; as on the server, a change that changes nothing
 * (enabling a flag that is on, granting a role the users have, removing a flag there is not) makes no
 * version and no event. Listeners are called on the thread that made the change, before the change
 * method returns, so a test need not wait for them; a listener that throws (a failed assertion) makes
 * the change method throw it, after every listener had its call, so that the test fails. Every answer's
 * source is {@link Source#IN_MEMORY}; {@link #awaitReady} is true at once, and a status listener is
 * called once, on the registering thread, with source {@code IN_MEMORY} (test flags never change state; one that
 * throws makes {@link #addStatusListener} throw).
 */
public final class TestFlags extends StoreBackedFlags {

    /** A role name, as docs/flag-format.md has it: what a rule's {@code roles} condition can name. */
    private static final Pattern ROLE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:-]{0,127}");

    private long version;

    private TestFlags() {
        super(new FlagStore(FlagState.of(FlagSet.empty(), Source.IN_MEMORY), Runnable::run, false, "test flags", true));
    }

    /**
     * Creates an empty set: every flag is unknown (its default) until the test sets it.
     *
     * @return new test flags
     */
    public static TestFlags create() {
        return new TestFlags();
    }

    /**
     * Turns a flag on for everyone (creating it if needed).
     *
     * @param flagKey the flag's key
     * @return this
     * @throws dev.flags.core.FlagValidationException if the key is not a valid flag key
     */
    public TestFlags enable(String flagKey) {
        Objects.requireNonNull(flagKey, "flagKey");
        return set(new Flag(flagKey, null, true, null, List.of(), List.of(), List.of(), true, 0));
    }

    /**
     * Turns a flag off for everyone: the kill switch (creating it if needed). As on the server ({@code flags off}), only
     * the switch moves: the flag's rules, rollouts and variants stay, so that {@link #switchOn} brings back what it was.
     *
     * @param flagKey the flag's key
     * @return this
     * @throws dev.flags.core.FlagValidationException if the key is not a valid flag key
     */
    public synchronized TestFlags disable(String flagKey) { // read and set as one: a set() between would be undone
        Objects.requireNonNull(flagKey, "flagKey");
        java.util.Optional<Flag> existing = store.state().flags().flag(flagKey);
        // A new one is what enable() makes, switched off: switchOn() then gives what "on" means, on for everyone.
        return set(existing.isPresent() ? existing.get().withEnabled(false)
                : new Flag(flagKey, null, false, null, List.of(), List.of(), List.of(), true, 0));
    }

    /**
     * Turns a flag's switch back on, keeping its rules, rollouts and variants: the recovery after {@link #disable},
     * as {@code flags on} is on the server. Unlike {@link #enable}, which makes a flag on for everyone.
     *
     * @param flagKey the key of a flag this set has
     * @return this
     * @throws IllegalArgumentException if there is no such flag (nothing to switch on: {@link #enable} makes one)
     */
    public synchronized TestFlags switchOn(String flagKey) { // read and set as one, as disable()
        Objects.requireNonNull(flagKey, "flagKey");
        Flag existing = store.state().flags().flag(flagKey).orElseThrow(() -> new IllegalArgumentException("there is no"
                + " flag \"" + flagKey + "\" to switch on: set it first, or enable(\"" + flagKey + "\") for on for everyone"));
        return set(existing.withEnabled(true));
    }

    /**
     * Turns a flag on for the listed user ids only, off for everyone else.
     *
     * @param flagKey the flag's key
     * @param userIds the ids it is on for; at least one
     * @return this
     * @throws dev.flags.core.FlagValidationException if the key or an id is not valid
     */
    public TestFlags enableFor(String flagKey, String... userIds) {
        Objects.requireNonNull(flagKey, "flagKey");
        checkUserIds(userIds);
        if (userIds.length == 0) {
            throw new IllegalArgumentException("enableFor needs at least one user id (enable turns the flag on for everyone)");
        }
        return set(new Flag(flagKey, null, true, null, List.of(),
                List.of(new Target(List.of(userIds), true, null)), List.of(), false, 0));
    }

    /**
     * Turns an A/B flag on for everyone with one variant.
     *
     * @param flagKey the flag's key
     * @param variant the variant everyone gets
     * @return this
     * @throws dev.flags.core.FlagValidationException if the key or the variant is not valid
     */
    public TestFlags serveVariant(String flagKey, String variant) {
        return serveVariant(flagKey, variant, null);
    }

    /**
     * Turns an A/B flag on for everyone with one variant that carries a payload.
     *
     * @param flagKey the flag's key
     * @param variant the variant everyone gets
     * @param payload the variant's payload (a colour, a number, a JSON text); may be null
     * @return this
     * @throws dev.flags.core.FlagValidationException if the key or the variant is not valid
     */
    public TestFlags serveVariant(String flagKey, String variant, String payload) {
        Objects.requireNonNull(flagKey, "flagKey");
        Objects.requireNonNull(variant, "variant");
        return set(new Flag(flagKey, null, true, null, List.of(new Variant(variant, 100, payload)), List.of(),
                List.of(), true, 0));
    }

    /**
     * Adds or replaces a flag of any shape: rules, rollouts, variants, exactly as the server would
     * hold it. Its version is set to the new version of the set.
     *
     * @param flag the flag
     * @return this
     * @throws dev.flags.core.FlagValidationException listing every problem, if the flag is not valid
     */
    public synchronized TestFlags set(Flag flag) {
        Objects.requireNonNull(flag, "flag");
        java.util.Optional<Flag> existing = store.state().flags().flag(flag.key());
        if (existing.isPresent() && existing.get().equals(flag.withVersion(existing.get().version()))) {
            return this; // as the server: a change that changes nothing makes no version and no event
        }
        long next = version + 1;
        FlagSet set = store.state().flags().withFlag(flag.withVersion(next), next);
        version = next;
        store.publish(FlagState.of(set, Source.IN_MEMORY));
        return this;
    }

    /**
     * Adds or replaces a flag given as a flag document of flags-core's JSON format.
     *
     * @param flagJson one flag document, such as {@code {"key": "billing-v2", "enabled": true, ...}}
     * @return this
     * @throws dev.flags.core.FlagValidationException listing every problem, if the document is not valid
     */
    public TestFlags setJson(String flagJson) {
        return set(FlagFormat.readFlag(Objects.requireNonNull(flagJson, "flagJson")));
    }

    /**
     * Removes a flag: it is unknown again (its default).
     *
     * @param flagKey the flag's key
     * @return this
     */
    public synchronized TestFlags remove(String flagKey) {
        Objects.requireNonNull(flagKey, "flagKey");
        if (store.state().flags().flag(flagKey).isEmpty()) {
            return this;
        }
        version++;
        store.publish(FlagState.of(store.state().flags().withoutFlag(flagKey, version), Source.IN_MEMORY));
        return this;
    }

    /**
     * Grants a role to users, as a tester granting themselves {@code beta-tester} on the server would:
     * rules that name the role then match these users.
     *
     * @param role the role
     * @param userIds the users who get it (added to those who have it); at least one
     * @return this
     * @throws IllegalArgumentException if the role is not a role name, no user id is given, or one is not a user id
     */
    public synchronized TestFlags grantRole(String role, String... userIds) {
        Objects.requireNonNull(role, "role");
        if (!ROLE.matcher(role).matches()) {
            // A grant no rule could name would pass silently and match nothing: the test would test nothing.
            throw new IllegalArgumentException("role must be a role name (an ASCII letter or digit, then ASCII letters, digits,"
                    + " '.', '_', ':' or '-', at most 128 characters), was \"" + role + "\"");
        }
        checkUserIds(userIds);
        if (userIds.length == 0) {
            // A grant to nobody would pass and change nothing: the rule that names the role would match no user of the test.
            throw new IllegalArgumentException("grantRole needs at least one user id: grantRole(\"" + role + "\", \"u-1\")"
                    + " grants the role to user u-1 (a role is granted to users, as on the server)");
        }
        FlagSet current = store.state().flags();
        Map<String, Set<String>> grants = new HashMap<>(current.roleGrants());
        Set<String> members = new HashSet<>(grants.getOrDefault(role, Set.of()));
        if (!members.addAll(List.of(userIds))) {
            return this;
        }
        grants.put(role, members);
        version++;
        store.publish(FlagState.of(current.withRoleGrants(grants, version), Source.IN_MEMORY));
        return this;
    }

    /** Each user id is 1 to {@link User#MAX_NAME_LENGTH} characters, as a {@link User}'s id. */
    private static void checkUserIds(String... userIds) {
        Objects.requireNonNull(userIds, "userIds");
        for (int i = 0; i < userIds.length; i++) {
            if (userIds[i] == null) {
                throw new NullPointerException("userIds[" + i + "] is null");
            }
            if (userIds[i].isEmpty() || userIds[i].length() > User.MAX_NAME_LENGTH) {
                throw new IllegalArgumentException("userIds[" + i + "] must be a user id of 1 to " + User.MAX_NAME_LENGTH
                        + " characters, was " + userIds[i].length());
            }
        }
    }

    /**
     * Removes every flag and role grant.
     *
     * @return this
     */
    public synchronized TestFlags clear() {
        if (store.state().flags().size() == 0 && store.state().flags().roleGrants().isEmpty()) {
            return this;
        }
        version++;
        FlagSet empty = FlagSet.empty().withRoleGrants(Map.of(), version);
        store.publish(FlagState.of(empty, Source.IN_MEMORY));
        return this;
    }

    /**
     * Registers a status listener and calls it at once, on this thread, with the current state (source
     * {@link Source#IN_MEMORY}); test flags never change state, so that is its only call. A listener that throws
     * on it (a failed assertion) makes this method throw it, as a change method does, so that the test fails; it
     * is not kept. (A {@code Flags} of an application logs such a failure and keeps the listener.)
     *
     * @param listener the listener
     * @throws NullPointerException if {@code listener} is null
     */
    @Override
    public synchronized void addStatusListener(StatusListener listener) {
        // This lock first, as every change takes it before the store's: the listener's call runs under the store's lock,
        // and one that changes flags there (while another thread's change held this lock and waited for the store's)
        // deadlocked both threads.
        try {
            super.addStatusListener(listener);
        } catch (RuntimeException | Error e) {
            removeStatusListener(listener);
            throw e;
        }
    }

    /** @return true at once: test flags are always ready */
    @Override
    public boolean awaitReady(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        return true;
    }

    @Override
    public Freshness freshness() {
        return new Freshness(store.state().version(), Source.IN_MEMORY, false, null, null);
    }

    @Override
    public Health health() {
        return new Health(Health.Status.UP, "in memory: version " + store.state().version());
    }

    /** Stops calling listeners; test flags keep answering and can still be changed. */
    @Override
    public void close() {
        store.close();
    }

    @Override
    public String toString() {
        FlagSet s = store.state().flags();
        return "TestFlags{version=" + s.version() + ", flags=" + s.size() + "}";
    }
}
