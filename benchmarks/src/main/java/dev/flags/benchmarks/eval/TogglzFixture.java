package dev.flags.benchmarks.eval;

import java.util.List;
import java.util.Set;
import org.togglz.core.Feature;
import org.togglz.core.activation.DefaultActivationStrategyProvider;
import org.togglz.core.activation.GradualActivationStrategy;
import org.togglz.core.activation.Parameter;
import org.togglz.core.activation.ParameterBuilder;
import org.togglz.core.activation.UserRoleActivationStrategy;
import org.togglz.core.manager.FeatureManager;
import org.togglz.core.manager.FeatureManagerBuilder;
import org.togglz.core.repository.FeatureState;
import org.togglz.core.repository.mem.InMemoryStateRepository;
import org.togglz.core.spi.ActivationStrategy;
import org.togglz.core.user.FeatureUser;
import org.togglz.core.user.SimpleFeatureUser;
import org.togglz.core.user.thread.ThreadLocalUserProvider;
import org.togglz.core.util.NamedFeature;
import org.togglz.core.util.Strings;

/**
 * Thread-safe. Togglz, with features as an enum, states in its in-memory repository, and the current
 * user bound to the calling thread ({@link ThreadLocalUserProvider}), which is how Togglz learns who is
 * asking: every evaluation here binds the next user, asks, and releases the user.
 *
 * <p>S1 is an enabled feature without a strategy; S2 Togglz's {@code gradual} strategy; S3 its
 * {@code user-role} strategy (user attribute {@code roles}, a collection). Togglz has no region or
 * attribute-rule strategy, so S4 and S5 use the two small strategies below, written the way Togglz
 * writes its own: parameters are read from the feature state and split on every call.
 */
public final class TogglzFixture implements Fixture {

    /** The features, one per scenario that defines a flag. */
    public enum Features implements Feature {
        S1_EVERYONE, S2_HALF, S3_BETA, S4_EU, S5_TEN_RULES;

        /** A feature no repository knows, for S6; Togglz features are usually enum constants. */
        static final Feature UNKNOWN = new NamedFeature("S6_UNKNOWN");

        /** @return the feature of a scenario ({@link #UNKNOWN} for S6) */
        public static Feature of(Scenario scenario) {
            return switch (scenario) {
                case S1_EVERYONE -> S1_EVERYONE;
                case S2_HALF -> S2_HALF;
                case S3_BETA -> S3_BETA;
                case S4_EU -> S4_EU;
                case S5_TEN_RULES -> S5_TEN_RULES;
                case S6_UNKNOWN -> UNKNOWN;
            };
        }
    }

    private final FeatureManager manager;
    private final FeatureUser[] users;

    private TogglzFixture(FeatureManager manager, FeatureUser[] users) {
        this.manager = manager;
        this.users = users;
    }

    /** @return the feature manager, its states set */
    public static TogglzFixture start() {
        InMemoryStateRepository states = new InMemoryStateRepository();
        states.setFeatureState(new FeatureState(Features.S1_EVERYONE, true));
        states.setFeatureState(new FeatureState(Features.S2_HALF, true)
                .setStrategyId(GradualActivationStrategy.ID)
                .setParameter(GradualActivationStrategy.PARAM_PERCENTAGE, "50"));
        states.setFeatureState(new FeatureState(Features.S3_BETA, true)
                .setStrategyId(UserRoleActivationStrategy.ID)
                .setParameter(UserRoleActivationStrategy.PARAM_ROLES_NAME, "beta-tester"));
        states.setFeatureState(new FeatureState(Features.S4_EU, true)
                .setStrategyId(RegionActivationStrategy.ID)
                .setParameter(RegionActivationStrategy.PARAM_REGIONS, "eu-west, eu-north"));
        FeatureState tenRules = new FeatureState(Features.S5_TEN_RULES, true)
                .setStrategyId(AttributeRulesActivationStrategy.ID)
                .setParameter(AttributeRulesActivationStrategy.PARAM_ATTRIBUTE, "plan");
        for (int rule = 1; rule <= 10; rule++) {
            tenRules.setParameter(AttributeRulesActivationStrategy.PARAM_RULE_PREFIX + rule, rule < 10 ? "plan-" + rule : "pro");
        }
        states.setFeatureState(tenRules);

        DefaultActivationStrategyProvider strategies = new DefaultActivationStrategyProvider();
        strategies.addActivationStrategy(new RegionActivationStrategy());
        strategies.addActivationStrategy(new AttributeRulesActivationStrategy());
        FeatureManager manager = new FeatureManagerBuilder()
                .name("flags-benchmarks")
                .featureEnum(Features.class)
                .stateRepository(states)
                .userProvider(new ThreadLocalUserProvider())
                .activationStrategyProvider(strategies)
                .build();

        List<UserSpec> specs = UserPool.users();
        FeatureUser[] users = new FeatureUser[specs.size()];
        for (int i = 0; i < users.length; i++) {
            UserSpec spec = specs.get(i);
            SimpleFeatureUser user = new SimpleFeatureUser(spec.id());
            user.setAttribute(UserRoleActivationStrategy.USER_ATTRIBUTE_ROLES,
                    spec.role() == null ? Set.of() : Set.of(spec.role()));
            user.setAttribute("plan", spec.plan());
            if (spec.region() != null) {
                user.setAttribute("region", spec.region());
            }
            users[i] = user;
        }
        return new TogglzFixture(manager, users);
    }

    /** @return the feature manager */
    public FeatureManager manager() {
        return manager;
    }

    /** @return the pool's users; callers must not change the array */
    public FeatureUser[] users() {
        return users;
    }

    @Override
    public String name() {
        return "Togglz";
    }

    @Override
    public boolean isEnabled(Scenario scenario, int userIndex) {
        return isActive(manager, users[userIndex], Features.of(scenario));
    }

    /**
     * Binds the user to the calling thread, asks, and releases the user again, as a request filter
     * around one call would (Togglz refuses to bind a second user to a thread).
     */
    static boolean isActive(FeatureManager manager, FeatureUser user, Feature feature) {
        ThreadLocalUserProvider.bind(user);
        try {
            return manager.isActive(feature);
        } finally {
            ThreadLocalUserProvider.release();
        }
    }

    @Override
    public Expected.Rollout rollout() {
        return Expected.TOGGLZ;
    }

    @Override
    public void close() {
        // nothing to stop
    }

    /** Stateless. Active for users whose attribute {@code region} is one of the parameter's regions. */
    public static final class RegionActivationStrategy implements ActivationStrategy {

        static final String ID = "region";
        static final String PARAM_REGIONS = "regions";

        @Override
        public String getId() {
            return ID;
        }

        @Override
        public String getName() {
            return "Users by region";
        }

        @Override
        public boolean isActive(FeatureState state, FeatureUser user) {
            if (user == null) {
                return false;
            }
            Object region = user.getAttribute("region");
            String regions = state.getParameter(PARAM_REGIONS);
            return region != null && Strings.isNotBlank(regions) && Strings.splitAndTrim(regions, ",").contains(region);
        }

        @Override
        public Parameter[] getParameters() {
            return new Parameter[] {ParameterBuilder.create(PARAM_REGIONS).label("Regions")};
        }
    }

    /**
     * Stateless. Rules on one user attribute, tried in order: active if the attribute's value is one
     * of the values of parameter {@code rule1}, else of {@code rule2}, and so on up to {@code rule10}.
     */
    public static final class AttributeRulesActivationStrategy implements ActivationStrategy {

        static final String ID = "attribute-rules";
        static final String PARAM_ATTRIBUTE = "attribute";
        static final String PARAM_RULE_PREFIX = "rule";
        static final int MAX_RULES = 10;

        @Override
        public String getId() {
            return ID;
        }

        @Override
        public String getName() {
            return "Rules on a user attribute";
        }

        @Override
        public boolean isActive(FeatureState state, FeatureUser user) {
            String attribute = state.getParameter(PARAM_ATTRIBUTE);
            if (user == null || attribute == null) {
                return false;
            }
            Object value = user.getAttribute(attribute);
            if (value == null) {
                return false;
            }
            for (int rule = 1; rule <= MAX_RULES; rule++) {
                String values = state.getParameter(PARAM_RULE_PREFIX + rule);
                if (Strings.isNotBlank(values) && Strings.splitAndTrim(values, ",").contains(value)) {
                    return true;
                }
            }
            return false;
        }

        @Override
        public Parameter[] getParameters() {
            Parameter[] parameters = new Parameter[MAX_RULES + 1];
            parameters[0] = ParameterBuilder.create(PARAM_ATTRIBUTE).label("Attribute");
            for (int rule = 1; rule <= MAX_RULES; rule++) {
                parameters[rule] = ParameterBuilder.create(PARAM_RULE_PREFIX + rule).label("Rule " + rule).optional();
            }
            return parameters;
        }
    }
}
