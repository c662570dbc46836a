package dev.flags.benchmarks.eval;

import dev.flags.core.FlagSet;
import dev.flags.core.User;
import java.util.List;

/** Thread-safe. Our evaluator, {@code flags-core}, loaded from {@code ours.json}. */
public final class OursFixture implements Fixture {

    private final FlagSet flags;
    private final User[] users;

    private OursFixture(FlagSet flags, User[] users) {
        this.flags = flags;
        this.users = users;
    }

    /** @return the evaluator, loaded */
    public static OursFixture start() {
        FlagSet flags = FlagSet.fromJson(Resources.text("ours.json"));
        List<UserSpec> specs = UserPool.users();
        User[] users = new User[specs.size()];
        for (int i = 0; i < users.length; i++) {
            users[i] = toUser(specs.get(i));
        }
        return new OursFixture(flags, users);
    }

    static User toUser(UserSpec spec) {
        User user = User.withId(spec.id()).attribute("plan", spec.plan());
        if (spec.role() != null) {
            user = user.roles(spec.role());
        }
        if (spec.region() != null) {
            user = user.region(spec.region());
        }
        return user;
    }

    /** @return the compiled flags */
    public FlagSet flags() {
        return flags;
    }

    /** @return the pool's users; callers must not change the array */
    public User[] users() {
        return users;
    }

    @Override
    public String name() {
        return "ours (flags-core)";
    }

    @Override
    public boolean isEnabled(Scenario scenario, int userIndex) {
        return flags.isEnabled(scenario.flagKey(), users[userIndex]);
    }

    @Override
    public Expected.Rollout rollout() {
        return Expected.OURS;
    }

    @Override
    public void close() {
        // nothing to stop
    }
}
