package dev.flags.server.sync;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.server.journal.CanonicalJson;
import dev.flags.server.journal.EnvironmentState;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The tag an SDK sends back: equal for states an SDK cannot tell apart, different otherwise. */
class StateTagTest {

  private static CanonicalJson flag(String key, boolean enabled) {
    return CanonicalJson.parse("{\"key\":\"" + key + "\",\"enabled\":" + enabled + "}");
  }

  private static EnvironmentState state(long version, Map<String, CanonicalJson> flags,
      Map<String, Set<String>> grants, boolean archived) {
    return new EnvironmentState("production", version, archived, CanonicalJson.parse("{}"), flags,
        Map.of("old", flag("old", true)), grants, Set.of());
  }

  @Test
  void equalFlagsAndGrantsHaveEqualTagsWhateverTheOrderOrVersionOrWhatAnSdkDoesNotSee() {
    Map<String, CanonicalJson> ab = new LinkedHashMap<>();
    ab.put("a", flag("a", true));
    ab.put("b", flag("b", false));
    Map<String, CanonicalJson> ba = new LinkedHashMap<>();
    ba.put("b", flag("b", false));
    ba.put("a", flag("a", true));
    long tag = StateTag.of(state(4, ab, Map.of("u-1", Set.of("beta", "staff")), false));
    assertThat(tag).isNotZero();
    assertThat(StateTag.of(state(9, ba, Map.of("u-1", Set.of("staff", "beta")), true)))
        .as("the version is compared on its own; archived flags and the archive mark are not sent").isEqualTo(tag);
  }

  @Test
  void anyDifferenceAnSdkWouldSeeChangesTheTag() {
    Map<String, CanonicalJson> flags = Map.of("a", flag("a", true), "b", flag("b", false));
    long tag = StateTag.of(state(4, flags, Map.of("u-1", Set.of("beta")), false));
    assertThat(StateTag.of(state(4, Map.of("a", flag("a", true), "b", flag("b", true)), Map.of("u-1", Set.of("beta")), false)))
        .as("a document").isNotEqualTo(tag);
    assertThat(StateTag.of(state(4, Map.of("a", flag("a", true)), Map.of("u-1", Set.of("beta")), false)))
        .as("a flag fewer").isNotEqualTo(tag);
    assertThat(StateTag.of(state(4, flags, Map.of("u-2", Set.of("beta")), false))).as("a grant's user").isNotEqualTo(tag);
    assertThat(StateTag.of(state(4, flags, Map.of("u-1", Set.of("staff")), false))).as("a grant's role").isNotEqualTo(tag);
    assertThat(StateTag.of(state(4, flags, Map.of(), false))).as("no grants").isNotEqualTo(tag);
    // A role and a user swapped must not cancel out.
    assertThat(StateTag.of(state(4, flags, Map.of("beta", Set.of("u-1")), false))).isNotEqualTo(tag);
  }

  @Test
  void statesThatShareTheirGrantsHaveTheTagsOfTheirOwnFlags() {
    EnvironmentState first = state(4, Map.of("a", flag("a", true)), Map.of("u-1", Set.of("beta")), false);
    long firstTag = StateTag.of(first);
    // A kill switch: the next state shares the grants map, whose share of the tag is then not computed again.
    EnvironmentState switched = state(5, Map.of("a", flag("a", false)), first.roleGrants(), false);
    assertThat(switched.roleGrants()).isSameAs(first.roleGrants());
    assertThat(StateTag.of(switched)).isNotEqualTo(firstTag)
        .isEqualTo(StateTag.of(state(5, Map.of("a", flag("a", false)), Map.of("u-1", Set.of("beta")), false)));
    assertThat(StateTag.of(state(6, Map.of("a", flag("a", true)), first.roleGrants(), false))).isEqualTo(firstTag);
  }
}
