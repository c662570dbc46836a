package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flags.server.auth.Principal;
import dev.flags.server.auth.Scope;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.EnvironmentState;
import dev.flags.server.journal.FileJournal;
import dev.flags.server.journal.Journal;
import dev.flags.server.journal.Schedule;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.AbstractQueuedSynchronizer;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * QA91 F2: a change to an environment is answered with the environment as that change left it, even when an admin deletes
 * the environment for good at the same moment. The cancel of a schedule (which an archived environment takes), an archive
 * and a restore each read the environment again after their append, outside its lock: a delete committed in between made
 * that read fail, and a change that was durable was answered 500, an internal error with a stack trace in the log.
 */
class DeleteRaceTest {

    private static final Principal ADMIN = new Principal("tok-admin0000", "admin", Scope.ADMIN, Set.of());
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void aScheduleCancelledAsItsArchivedEnvironmentIsDeletedIsAnsweredWithTheCancelledSchedule() throws Exception {
        race(EntryType.SCHEDULE_CANCELLED, true, rig -> () -> {
            Schedule s = rig.schedules.cancel(ADMIN, "prod", "sch-000000000001", null);
            assertThat(s.status()).isEqualTo(Schedule.Status.CANCELLED);
        });
    }

    @Test
    void anEnvironmentArchivedAsAnotherAdminDeletesItIsAnsweredWithItsArchivedState() throws Exception {
        race(EntryType.ENVIRONMENT_ARCHIVED, false, rig -> () -> {
            EnvironmentState archived = rig.environments.archive(ADMIN, "prod", null);
            assertThat(archived.archived()).isTrue();
        });
    }

    @Test
    void anEnvironmentRestoredAsAnotherAdminArchivesAndDeletesItIsAnsweredWithItsRestoredState() throws Exception {
        race(EntryType.ENVIRONMENT_RESTORED, true, rig -> () -> {
            EnvironmentState restored = rig.environments.restore(ADMIN, "prod", null);
            assertThat(restored.archived()).isFalse();
        });
    }

    /** What a test does on its rig. */
    private interface Action {
        Runnable on(Rig rig);
    }

    private record Rig(FileJournal files, EnvironmentService environments, ScheduleService schedules) {}

    /**
     * Runs {@code action}; once its change of type {@code type} is appended, at its next read of the state, another
     * thread deletes the environment for good (archiving it first unless it is archived), as far as the locks let it.
     */
    private void race(EntryType type, boolean archivedFirst, Action action) throws Exception {
        try (FileJournal files = FileJournal.builder(dir.resolve("journal")).open()) {
            AtomicBoolean appended = new AtomicBoolean();
            AtomicReference<Future<?>> delete = new AtomicReference<>();
            AtomicReference<Thread> deleter = new AtomicReference<>();
            AtomicReference<Thread> racer = new AtomicReference<>();
            AtomicReference<Supplier<Object>> deleteIt = new AtomicReference<>();
            ExecutorService pool = Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "delete");
                deleter.set(t);
                return t;
            });
            Journal journal = (Journal) Proxy.newProxyInstance(Journal.class.getClassLoader(), new Class<?>[] {Journal.class},
                    (proxy, method, args) -> {
                        if (method.getName().equals("state") && appended.get() && delete.get() == null
                                && Thread.currentThread() == racer.get()) {
                            delete.set(pool.submit(() -> deleteIt.get().get()));
                            awaitBlockedOrDone(deleter, delete.get());
                        }
                        Object result;
                        try {
                            result = method.invoke(files, args);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                        if (method.getName().equals("append") && ((Change) args[0]).type() == type) {
                            appended.set(true);
                        }
                        return result;
                    });
            ChangeWriter writer = new ChangeWriter(journal, new Metrics(), env -> { });
            EnvironmentService environments = new EnvironmentService(journal, writer);
            FlagService flags = new FlagService(journal, writer);
            ScheduleService schedules = new ScheduleService(journal, writer, flags, Clock.systemUTC(), (t, m, d) -> null);
            deleteIt.set(() -> {
                if (!files.state().environment("prod").orElseThrow().archived()) {
                    environments.archive(ADMIN, "prod", null);
                }
                return environments.delete(ADMIN, "prod", null);
            });
            files.append(Change.of(EntryType.ENVIRONMENT_CREATED, "prod", "admin", JSON.createObjectNode()));
            files.append(Change.of(EntryType.FLAG_CREATED, "prod", "admin", JSON.readTree(
                    "{\"key\": \"f\", \"enabled\": false}")));
            files.append(Change.of(EntryType.SCHEDULE_CREATED, "prod", "admin", JSON.readTree("{\"id\": \"sch-000000000001\","
                    + " \"flag\": \"f\", \"at\": \"2030-01-01T00:00:00Z\", \"patch\": {\"enabled\": true}}")));
            if (archivedFirst) {
                files.append(Change.of(EntryType.ENVIRONMENT_ARCHIVED, "prod", "admin", JSON.createObjectNode()));
            }
            try {
                racer.set(Thread.currentThread());
                action.on(new Rig(files, environments, schedules)).run();
                delete.get().get(10, TimeUnit.SECONDS); // the delete goes through once the change is answered
                assertThat(files.state().wasDeleted("prod")).isTrue();
            } finally {
                pool.shutdownNow();
            }
        }
    }

    /**
     * Until the thread waits for a lock (an environment's) or its work is done; not while it waits for its append's
     * force, which ends by itself.
     */
    private static void awaitBlockedOrDone(AtomicReference<Thread> thread, Future<?> work) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!work.isDone() && (thread.get() == null
                || !(LockSupport.getBlocker(thread.get()) instanceof AbstractQueuedSynchronizer))
                && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
    }
}
