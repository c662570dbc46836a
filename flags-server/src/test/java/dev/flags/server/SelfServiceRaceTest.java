package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flags.server.auth.Principal;
import dev.flags.server.auth.Scope;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.FileJournal;
import dev.flags.server.journal.JournalEntry;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two admins marking the same role self-service at the same moment: one of them changes it, the other is told nothing
 * changed (it had read the role before the first wrote, and was told it changed too).
 */
class SelfServiceRaceTest {

    @TempDir
    Path dir;

    @Test
    void twoAdminsSettingARoleAtOnceAreNotBothToldTheyChangedIt() throws Exception {
        ObjectMapper json = new ObjectMapper();
        try (FileJournal journal = FileJournal.builder(dir).open()) {
            ChangeWriter writer = new ChangeWriter(journal, new Metrics(), env -> { });
            RoleService roles = new RoleService(journal, writer, Clock.systemUTC());
            writer.append(Change.of(EntryType.ENVIRONMENT_CREATED, "prod", "admin", json.createObjectNode()));
            Principal admin = new Principal("admin", "admin", Scope.ADMIN, Set.of());

            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                List<Thread> admins = new ArrayList<>();
                List<Future<JournalEntry>> sets = new ArrayList<>();
                try (EnvironmentLockHeld busy = new EnvironmentLockHeld(writer, "prod")) {
                    for (int i = 0; i < 2; i++) {
                        sets.add(pool.submit(() -> {
                            synchronized (admins) {
                                admins.add(Thread.currentThread());
                            }
                            return roles.setSelfService(admin, "prod", "beta-tester", true, Duration.ofDays(7), null);
                        }));
                    }
                    EnvironmentLockHeld.awaitWaiting(admins, 2, sets); // both came while the lock was held
                }
                long changed = 0;
                for (Future<JournalEntry> set : sets) {
                    changed += set.get(10, TimeUnit.SECONDS) != null ? 1 : 0;
                }
                assertThat(changed).as("admins told they changed the role").isEqualTo(1);
                assertThat(journal.read(1, 100)).filteredOn(e -> e.type() == EntryType.ROLE_MARKED_SELF_SERVICE).hasSize(1);
            } finally {
                pool.shutdownNow();
            }
        }
    }
}
