package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.flags.server.auth.Principal;
import dev.flags.server.auth.Scope;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.FileJournal;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A grant's size check updates the size of the grants before it by the users it names; for that, every grant and
 * revocation leaves the size of the grants it made known, so that a grant right after a revocation does not sum
 * every grant again.
 */
class GrantSizeTest {

    private static final Principal ADMIN = new Principal("tok-admin", "admin", Scope.ADMIN, Set.of());

    @TempDir
    Path dir;

    @Test
    void everyGrantAndRevocationLeavesTheSizeOfItsGrantsKnown() throws Exception {
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            ChangeWriter writer = new ChangeWriter(journal, new Metrics(), env -> { });
            writer.append(Change.of(EntryType.ENVIRONMENT_CREATED, "production", "admin",
                    JsonMapper.builder().build().readTree("{}")));
            RoleService roles = new RoleService(journal, writer, Clock.systemUTC());
            for (int i = 0; i < 20; i++) {
                roles.setMember(ADMIN, "production", "beta-tester", "user-" + i, true, null, null);
                assertThat(EnvironmentLimits.grantBytesKnown(grants(journal))).as("after grant " + i).isTrue();
            }
            roles.setMember(ADMIN, "production", "beta-tester", "user-3", false, null, null);
            assertThat(EnvironmentLimits.grantBytesKnown(grants(journal))).as("after the revocation").isTrue();
            roles.setMember(ADMIN, "production", "beta-tester", "user-3", true, null, null);
            assertThat(EnvironmentLimits.grantBytesKnown(grants(journal))).as("after the grant again").isTrue();
            EnvironmentState state = journal.state().environment("production").orElseThrow();
            long expected = 0;
            for (int i = 0; i < 20; i++) {
                expected += ("user-" + i).length() + "beta-tester".length();
            }
            assertThat(EnvironmentLimits.servedBytes(state)).as("the size kept by updates is the sum").isEqualTo(expected);
        }
    }

    private static Map<String, Set<String>> grants(FileJournal journal) {
        return journal.state().environment("production").orElseThrow().roleGrants();
    }
}
