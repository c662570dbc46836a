package dev.flags.benchmarks.eval;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Immutable. The 1,024 users every implementation evaluates, the same for all of them.
 *
 * <p>Roles, regions and plans cycle with co-prime periods (3, 7, 4), so every combination occurs and
 * the answers vary from one user to the next. Each user has at most one role, because Unleash's context
 * carries one value per property. No user has a plan that matches rules 1 to 9 of scenario S5, so S5
 * always walks all ten rules; only plan {@code pro} matches the tenth.
 */
public final class UserPool {

    /** How many users the pool holds; a power of two, so a benchmark cycles with a mask. */
    public static final int SIZE = 1024;
    /** {@code index & MASK} cycles through the pool. */
    public static final int MASK = SIZE - 1;

    private static final String[] ROLES = {"beta-tester", "support", null};
    private static final String[] REGIONS = {"eu-west", "us-east", "eu-north", "ap-south", "eu-central", "sa-east", null};
    private static final String[] PLANS = {"pro", "free", "team", "enterprise"};

    private static final List<UserSpec> USERS = build();

    private UserPool() {
    }

    private static List<UserSpec> build() {
        List<UserSpec> users = new ArrayList<>(SIZE);
        for (int i = 0; i < SIZE; i++) {
            users.add(new UserSpec("user-" + i, ROLES[i % ROLES.length], REGIONS[i % REGIONS.length],
                    PLANS[i % PLANS.length]));
        }
        return Collections.unmodifiableList(users);
    }

    /** @return the 1,024 users, in a fixed order */
    public static List<UserSpec> users() {
        return USERS;
    }
}
