package dev.flags.server;

import static dev.flags.server.ServerFixture.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.server.auth.Principal;
import dev.flags.server.auth.Scope;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.FileJournal;
import dev.flags.server.journal.Journal;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Product owners writing to one environment at the same moment, over real HTTP: a write without a
 * precondition is never refused because another write came first. And admins creating environments at the same
 * moment: the rules a creation is checked against hold for two at once.
 */
class ConcurrentWritesTest {

    @TempDir
    Path dir;

    @Test
    void overlappingWritesWithoutIfMatchAllSucceedAndEachGetsItsOwnVersion() throws Exception {
        try (FlagServer server = ServerFixture.start(dir.resolve("data"))) {
            ApiClient api = new ApiClient(server.httpPort());
            assertThat(api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}").status()).isEqualTo(201);
            int writers = 8;
            int writesEach = 15;
            ExecutorService pool = Executors.newFixedThreadPool(writers);
            try {
                List<Future<List<Integer>>> results = new ArrayList<>();
                for (int w = 0; w < writers; w++) {
                    String flag = "/api/v1/environments/production/flags/f" + w;
                    Callable<List<Integer>> writer = () -> {
                        List<Integer> statuses = new ArrayList<>();
                        statuses.add(api.put(flag, ADMIN, "{\"enabled\": false}").status());
                        for (int i = 0; i < writesEach; i++) {
                            statuses.add(api.patch(flag, ADMIN, "{\"enabled\": " + (i % 2 == 0) + "}").status());
                        }
                        statuses.add(api.delete(flag, ADMIN).status()); // archive
                        return statuses;
                    };
                    results.add(pool.submit(writer));
                }
                for (Future<List<Integer>> r : results) {
                    assertThat(r.get()).as("statuses of one writer").allSatisfy(s -> assertThat(s).isBetween(200, 201));
                }
            } finally {
                pool.shutdownNow();
            }
            long version = api.get("/api/v1/environments/production", ADMIN).json().get("version").asLong();
            assertThat(version).as("creation + every write, none lost or refused").isEqualTo(1 + writers * (writesEach + 2L));
        }
    }

    /**
     * QA67 F2: a key that differs from an existing one only in case is refused (409), but two creations at the same
     * moment, of prod and PROD, each checked a state without the other and both were made. Here the second one is sent
     * just as the first is about to append, after its checks.
     */
    @Test
    void environmentsWhoseKeysDifferOnlyInCaseAreNotBothCreatedWhenMadeAtTheSameMoment() throws Exception {
        try (FileJournal files = FileJournal.builder(dir.resolve("journal")).open()) {
            Principal admin = new Principal("tok-admin0000", "admin", Scope.ADMIN, Set.of());
            AtomicReference<Thread> second = new AtomicReference<>();
            ExecutorService pool = Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "second-create");
                second.set(t);
                return t;
            });
            AtomicReference<EnvironmentService> service = new AtomicReference<>();
            AtomicReference<Future<Object>> upper = new AtomicReference<>();
            // The journal as it is, but the first append of "prod" lets "PROD" be created first, if anything lets it.
            Journal journal = (Journal) Proxy.newProxyInstance(Journal.class.getClassLoader(), new Class<?>[] {Journal.class},
                    (proxy, method, args) -> {
                        if (method.getName().equals("append") && ((Change) args[0]).environment().equals("prod")
                                && upper.get() == null) {
                            upper.set(pool.submit(() -> {
                                try {
                                    return service.get().create(admin, "PROD", null, null, null);
                                } catch (ApiException e) {
                                    return e;
                                }
                            }));
                            awaitBlockedOrDone(second, upper.get());
                        }
                        try {
                            return method.invoke(files, args);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                    });
            ChangeWriter writer = new ChangeWriter(journal, new Metrics(), env -> { });
            service.set(new EnvironmentService(journal, writer));
            try {
                service.get().create(admin, "prod", null, null, null);
                Object answer = upper.get().get(10, TimeUnit.SECONDS);
                assertThat(answer).as("the creation of PROD while prod was being created").isInstanceOf(ApiException.class);
                assertThat(((ApiException) answer).status()).isEqualTo(409);
                assertThat(files.state().environments()).containsOnlyKeys("prod");
            } finally {
                pool.shutdownNow();
            }
        }
    }

    /** Until the thread waits (for a lock) or its work is done: without the lock it would be done at once. */
    private static void awaitBlockedOrDone(AtomicReference<Thread> thread, Future<?> work) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!work.isDone() && (thread.get() == null || !Set.of(Thread.State.WAITING, Thread.State.BLOCKED)
                .contains(thread.get().getState())) && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
    }
}
