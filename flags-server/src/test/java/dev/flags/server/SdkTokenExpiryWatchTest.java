package dev.flags.server;

import static dev.flags.server.ServerFixture.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.server.auth.Principal;
import dev.flags.server.auth.Scope;
import dev.flags.server.journal.MutableClock;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SdkTokenExpiryWatchTest {

    private final MutableClock clock = new MutableClock(Instant.parse("2026-12-06T12:00:00Z"));
    private final List<Principal> tokens = new ArrayList<>();
    private final List<String> warnings = new ArrayList<>();
    private final SdkTokenExpiryWatch watch = new SdkTokenExpiryWatch(() -> List.copyOf(tokens), clock, warnings::add);

    private Principal token(String id, Scope scope, Duration expiresIn) {
        return new Principal(id, id + "-name", scope, scope == Scope.ADMIN ? Set.of() : Set.of("production"), null,
                clock.instant().plus(expiresIn));
    }

    @Test
    void anSdkTokenIsWarnedOfOnceADayInItsLastWeekAndNoOtherToken() {
        tokens.add(token("tok-aaaaaaaaaaaa", Scope.SDK, Duration.ofDays(9)));
        tokens.add(token("tok-editor00000", Scope.EDITOR, Duration.ofDays(1)));
        tokens.add(token("tok-admin000000", Scope.ADMIN, Duration.ofDays(1)));
        tokens.add(new Principal("tok-forever0000", "forever", Scope.SDK, Set.of("production"))); // never expires
        for (int hour = 0; hour < 24 * 4; hour++) { // 4 days, looked at every hour: 2 of them inside the last 7
            watch.check();
            clock.advance(Duration.ofHours(1));
        }
        assertThat(warnings).hasSize(2);
        assertThat(warnings.get(0)).isEqualTo("sdk token tok-aaaaaaaaaaaa (\"tok-aaaaaaaaaaaa-name\", environment"
                + " \"production\") expires at 2026-12-15T12:00:00Z, in 7 days: then its SDKs' sync streams are closed and"
                + " refused, and the applications built with it serve the flags they hold, stale, until they are given a new"
                + " token. Make one (flags tokens create NAME --scope sdk -e production --expires-in 1y), deploy it, then"
                + " revoke this one");
        assertThat(warnings.get(1)).contains("in 6 days");

        clock.set(Instant.parse("2026-12-15T11:30:00Z"));
        watch.check();
        assertThat(warnings).hasSize(3).last().asString().contains("in under an hour");
        clock.set(Instant.parse("2026-12-15T12:00:00Z"));
        watch.check();
        clock.advance(Duration.ofDays(2));
        watch.check();
        assertThat(warnings).as("expired: its streams' close is the token expiry's to tell").hasSize(3);
    }

    @Test
    void aTokenRevokedAndAnotherMadeIsWarnedOfOnItsOwn() {
        Principal old = token("tok-aaaaaaaaaaaa", Scope.SDK, Duration.ofDays(2));
        tokens.add(old);
        watch.check();
        tokens.remove(old); // revoked
        tokens.add(token("tok-bbbbbbbbbbbb", Scope.SDK, Duration.ofDays(3)));
        clock.advance(Duration.ofHours(1));
        watch.check();
        watch.check();
        assertThat(warnings).hasSize(2);
        assertThat(warnings.get(1)).startsWith("sdk token tok-bbbbbbbbbbbb ");
    }

    @Test
    void aServerSaysAtItsStartThatAnSdkTokenExpiresSoon(@TempDir Path dataDir) throws Exception {
        String id;
        try (FlagServer server = ServerFixture.start(dataDir)) {
            ApiClient api = new ApiClient(server.httpPort());
            api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}");
            ApiClient.Response made = api.post("/api/v1/tokens", ADMIN, "{\"name\": \"billing-service\", \"scope\": \"sdk\","
                    + " \"environments\": [\"production\"], \"expiresIn\": \"P2D\"}");
            assertThat(made.status()).as(made.body()).isEqualTo(201);
            id = made.json().get("id").asText();
        }
        String logged = StandardErrorCapture.during(() -> ServerFixture.start(dataDir).close());
        assertThat(logged.lines().filter(l -> l.contains("sdk token " + id))).singleElement().asString()
                .contains("WARN").contains("(\"billing-service\", environment \"production\") expires at ")
                .contains(", in 2 days: then its SDKs' sync streams are closed")
                .doesNotContain("flg_");
    }
}
