package dev.flags.benchmarks.eval;

import java.util.ArrayList;
import java.util.List;

/**
 * Immutable (stateless). The checks that run before anything is timed: every implementation must give
 * the expected answer for each of the 1,024 users in each scenario, twice in a row, and its 50% rollout
 * must hold 50% ± 5 points of the users. A benchmark of wrong answers measures nothing.
 */
public final class Checks {

    /** How far, in percentage points, a 50% rollout may stray over 1,024 users. */
    public static final double ROLLOUT_TOLERANCE_POINTS = 5.0;

    private static final int MAX_LISTED = 10;

    private Checks() {
    }

    /**
     * Checks every answer of an implementation.
     *
     * @param fixture the started implementation
     * @throws IllegalStateException listing the first wrong answers, if any is wrong
     */
    public static void verify(Fixture fixture) {
        List<String> problems = new ArrayList<>();
        List<UserSpec> users = UserPool.users();
        for (Scenario scenario : Scenario.values()) {
            int wrong = 0;
            int on = 0;
            for (int i = 0; i < users.size(); i++) {
                UserSpec user = users.get(i);
                boolean expected = Expected.answer(scenario, user, fixture.rollout());
                boolean first = fixture.isEnabled(scenario, i);
                boolean second = fixture.isEnabled(scenario, i);
                if (first) {
                    on++;
                }
                if (first != second) {
                    problems.add(scenario + ": " + user + " was " + first + ", then " + second + " (not deterministic)");
                } else if (first != expected) {
                    wrong++;
                    if (wrong <= MAX_LISTED) {
                        problems.add(scenario + ": " + user + " was " + first + ", expected " + expected);
                    }
                }
            }
            if (wrong > MAX_LISTED) {
                problems.add(scenario + ": " + (wrong - MAX_LISTED) + " more wrong answers");
            }
            if (scenario == Scenario.S2_HALF) {
                double percent = 100.0 * on / users.size();
                if (Math.abs(percent - 50.0) > ROLLOUT_TOLERANCE_POINTS) {
                    problems.add(scenario + ": " + String.format("%.1f", percent) + "% of users were inside a 50% rollout");
                }
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalStateException(fixture.name() + " gave wrong answers, so its timings would mean nothing:\n  "
                    + String.join("\n  ", problems));
        }
    }

    /**
     * Counts an implementation's "on" answers in one scenario.
     *
     * @param fixture the started implementation
     * @param scenario the scenario
     * @return how many of the 1,024 users got true
     */
    public static int countOn(Fixture fixture, Scenario scenario) {
        int on = 0;
        for (int i = 0; i < UserPool.SIZE; i++) {
            if (fixture.isEnabled(scenario, i)) {
                on++;
            }
        }
        return on;
    }
}
