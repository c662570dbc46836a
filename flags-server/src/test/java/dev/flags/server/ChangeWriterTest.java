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

    /**
     * QA50a F2: a grant's expiry (the server's own write, not a read-modify-write) appended between a flag write's read
     * and its append made that write fail with 412, though it sent no If-Match. It waits for the environment's lock now.
     */
    @Test
    void anAppendOfTheServersOwnWaitsForAReadModifyWriteOfItsEnvironmentInFlight() throws Exception {
        try (FileJournal journal = FileJournal.builder(dir.resolve("journal")).open()) {
            ChangeWriter writer = new ChangeWriter(journal, new Metrics(), env -> { });
            writer.append(Change.of(EntryType.ENVIRONMENT_CREATED, "production", "admin", json()));
            writer.append(Change.of(EntryType.ROLE_GRANTED, "production", "admin", json().put("user", "tess").put("role", "qa")));
            java.util.concurrent.CountDownLatch read = new java.util.concurrent.CountDownLatch(1);
            java.util.concurrent.atomic.AtomicReference<Thread> expiry = new java.util.concurrent.atomic.AtomicReference<>();
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "expiry");
                expiry.set(t);
                return t;
            });
            try {
                long version = journal.state().environment("production").orElseThrow().version();
                java.util.concurrent.atomic.AtomicReference<java.util.concurrent.Future<?>> started = new java.util.concurrent.atomic.AtomicReference<>();
                writer.serialized("production", () -> {
                    // Read: the environment at `version`. Meanwhile the grant expires.
                    started.set(pool.submit(() -> writer.append(Change.of(EntryType.ROLE_REVOKED, "production", "flags-server",
                            json().put("user", "tess").put("role", "qa")))));
                    awaitBlockedOrDone(expiry, started.get());
                    return writer.append(Change.of(EntryType.FLAG_CREATED, "production", "alice", json().put("key", "a"))
                            .expectingVersion(version));
                });
                started.get().get(10, java.util.concurrent.TimeUnit.SECONDS); // revoked once the write was done
                assertThat(journal.state().environment("production").orElseThrow().version()).isEqualTo(version + 2);
                assertThat(journal.state().environment("production").orElseThrow().flags()).containsKey("a");
            } finally {
                pool.shutdownNow();
            }
        }
    }

    /** Until the thread waits (for the lock) or its work is done: without the lock it would be done at once. */
    private static void awaitBlockedOrDone(java.util.concurrent.atomic.AtomicReference<Thread> thread,
                                           java.util.concurrent.Future<?> work) {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
        while (!work.isDone() && (thread.get() == null || thread.get().getState() != Thread.State.WAITING)
                && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
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
