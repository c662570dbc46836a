package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.flags.server.auth.Principal;
import dev.flags.server.auth.Scope;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.FileJournal;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PlaygroundTest {

    private static final Principal ADMIN = new Principal("tok-admin", "admin", Scope.ADMIN, Set.of());
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

    @Test
    void theCompiledSetOfAnEnvironmentDeletedForGoodIsLetGo(@TempDir Path dir) {
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            for (String env : new String[] {"pr-7", "production"}) {
                journal.append(Change.of(EntryType.ENVIRONMENT_CREATED, env, "admin", JSON.objectNode().put("name", env)));
                journal.append(Change.of(EntryType.FLAG_CREATED, env, "admin", JSON.objectNode().put("key", "f")));
            }
            Playground playground = new Playground(journal);
            assertThat(playground.flagSet(ADMIN, "pr-7").has("f")).isTrue();
            assertThat(playground.flagSet(ADMIN, "production").has("f")).isTrue();

            journal.append(Change.of(EntryType.ENVIRONMENT_ARCHIVED, "pr-7", "admin", JSON.objectNode()));
            journal.append(Change.of(EntryType.ENVIRONMENT_DELETED, "pr-7", "admin", JSON.objectNode()));
            journal.append(Change.of(EntryType.FLAG_UPDATED, "production", "admin",
                    JSON.objectNode().put("key", "f").put("enabled", true)));
            assertThat(playground.flagSet(ADMIN, "production").version()).isEqualTo(3);

            assertThat(playground.compiledEnvironments()).containsExactly("production");
        }
    }
}
