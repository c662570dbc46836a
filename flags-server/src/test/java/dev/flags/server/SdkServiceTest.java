package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flags.server.auth.Principal;
import dev.flags.server.auth.Scope;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.flags.server.journal.Change;
import dev.flags.server.journal.EntryType;
import dev.flags.server.journal.FileJournal;
import dev.flags.server.sync.SdkStream;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the list of SDKs says while the server stops, and to a token of another environment. */
class SdkServiceTest {

    private static final Instant STARTED = Instant.parse("2026-12-06T15:00:00.750Z");
    private static final Principal ADMIN = new Principal("tok-admin", "admin", Scope.ADMIN, Set.of());

    @TempDir
    Path dir;

    @Test
    void aStoppingServerSaysSoInsteadOfListingNoSdk() throws Exception {
        Clock clock = Clock.fixed(STARTED.plusSeconds(5), ZoneOffset.UTC);
        AtomicBoolean stopping = new AtomicBoolean();
        try (FileJournal journal = FileJournal.builder(dir).clock(clock).open()) {
            journal.append(Change.of(EntryType.ENVIRONMENT_CREATED, "production", "admin",
                    new ObjectMapper().createObjectNode().put("name", "production")));
            SdkStream one = new SdkStream("a1b2c3d4e5f60718", "tok-sdk", "flags-java/1", "checkout", STARTED, 1, 1, STARTED);
            SdkService service = new SdkService(journal, env -> List.of(one), clock, stopping::get, STARTED);
            SdkService.Sdks before = service.list(ADMIN, "production", null, 10);
            assertThat(before.applied()).isEqualTo(1);
            assertThat(before.serverStartedAt()).as("to the second").isEqualTo(Instant.parse("2026-12-06T15:00:00Z"));

            stopping.set(true); // its streams are closed: an empty list would read as "nothing to wait for" (QA49a F1)
            assertThatThrownBy(() -> service.list(ADMIN, "production", null, 10))
                    .isInstanceOfSatisfying(ApiException.class, e -> {
                        assertThat(e.status()).isEqualTo(503);
                        assertThat(e.getMessage()).contains("the server is stopping");
                    });

            Principal staging = new Principal("tok-ed", "ed", Scope.EDITOR, Set.of("staging"));
            assertThatThrownBy(() -> service.list(staging, "production", null, 10))
                    .isInstanceOfSatisfying(ApiException.class, e -> {
                        assertThat(e.status()).isEqualTo(403);
                        assertThat(e.getMessage()).endsWith("this token is not for it");
                    });
        }
    }
}
