package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.FileJournal;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How the write path answers a change the journal refuses. */
class ChangeWriterTest {

    @TempDir
    Path dir;

    private static ObjectNode json() {
        return JsonNodeFactory.instance.objectNode();
    }

    @Test
    void aChangeThatLostARaceWithAnEnvironmentsDeleteIsAnsweredAsThatRequestALittleLaterWouldBe() {
        try (FileJournal journal = FileJournal.builder(dir.resolve("journal")).open()) {
            ChangeWriter writer = new ChangeWriter(journal, new Metrics(), env -> { });
            writer.append(Change.of(EntryType.ENVIRONMENT_CREATED, "pr-7", "admin", json()));
            writer.append(Change.of(EntryType.FLAG_CREATED, "pr-7", "admin", json().put("key", "a")));
            ApiException twice = catchThrowableOfType(() -> writer.append(Change.of(EntryType.FLAG_CREATED, "pr-7", "admin",
                    json().put("key", "a"))), ApiException.class);
            assertThat(twice.status()).as("a conflict of an environment that is there stays one").isEqualTo(409);
            writer.append(Change.of(EntryType.ENVIRONMENT_ARCHIVED, "pr-7", "admin", json()));
            writer.append(Change.of(EntryType.ENVIRONMENT_DELETED, "pr-7", "admin", json()));

            for (Change late : new Change[] {
                Change.of(EntryType.ENVIRONMENT_RESTORED, "pr-7", "admin", json()),
                Change.of(EntryType.ENVIRONMENT_DELETED, "pr-7", "admin", json()),
                Change.of(EntryType.FLAG_UPDATED, "pr-7", "admin", json().put("key", "a"))}) {
                ApiException e = catchThrowableOfType(() -> writer.append(late), ApiException.class);
                assertThat(e.status()).as(late.type().toString()).isEqualTo(404);
                assertThat(e.getMessage()).isEqualTo(Access.deleted("pr-7"));
            }
            ApiException again = catchThrowableOfType(() -> writer.append(Change.of(EntryType.ENVIRONMENT_CREATED, "pr-7",
                    "admin", json())), ApiException.class);
            assertThat(again.status()).as("a create of the key is a conflict: the key is taken for good").isEqualTo(409);
            assertThat(again.getMessage()).endsWith("its key is not used again: choose another key");
        }
    }
}
