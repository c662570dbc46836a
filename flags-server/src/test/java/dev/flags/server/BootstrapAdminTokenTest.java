package dev.flags.server;

import static dev.flags.server.ServerFixture.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flags.server.journal.MutableClock;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bootstrap admin token turned off, on a real server: once named admin tokens exist, the unnamed
 * one that never expires stops working, and a server nobody could manage does not start.
 */
class BootstrapAdminTokenTest {

    private static final Instant T0 = Instant.parse("2026-12-04T09:00:00Z");

    @TempDir
    Path dir;
    private final MutableClock clock = new MutableClock(T0);

    private ServerConfig on() {
        return ServerFixture.config(dir);
    }

    private ServerConfig off() {
        return ServerFixture.config(dir).withAdminToken(null).withBootstrapAdminToken(false);
    }

    private static String adminToken(ApiClient api, String extra) {
        ApiClient.Response made = api.post("/api/v1/tokens", ADMIN, "{\"name\": \"ops\", \"scope\": \"admin\"" + extra + "}");
        assertThat(made.status()).as(made.body()).isEqualTo(201);
        return made.json().get("token").asText();
    }

    @Test
    void offWithANamedAdminTokenTheBootstrapTokenNoLongerWorksAndTheNamedOneDoes() throws Exception {
        String ops;
        String schedule;
        try (FlagServer server = FlagServer.start(on(), clock)) {
            ApiClient api = new ApiClient(server.httpPort());
            ops = adminToken(api, "");
            assertThat(api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}").status()).isEqualTo(201);
            assertThat(api.put("/api/v1/environments/production/flags/promo", ADMIN, "{\"enabled\": true}").status()).isEqualTo(201);
            schedule = api.post("/api/v1/environments/production/flags/promo/schedules", ADMIN,
                    "{\"at\": \"2026-12-04T10:00:00Z\", \"patch\": {\"enabled\": false}}").json().get("id").asText();
        }
        Files.writeString(dir.resolve(AdminToken.FILE_NAME), "flg_an-old-generated-token-0123456789\n");
        clock.advance(Duration.ofHours(2));
        try (FlagServer server = FlagServer.start(off(), clock)) {
            ApiClient api = new ApiClient(server.httpPort());
            ApiClient.Response ended = api.get("/api/v1/environments/production/schedules/" + schedule, ops);
            assertThat(ended.json().get("status").asText()).as("its maker may no longer act").isEqualTo("failed");
            assertThat(ended.json().get("reason").asText()).isEqualTo("the token that made it (admin) is the bootstrap admin"
                    + " token, which is turned off: a scheduled change runs only while its maker's token may act");
            assertThat(api.get("/api/v1/environments/production/flags/promo", ops).json().get("enabled").asBoolean()).isTrue();
            assertThat(api.get("/api/v1/tokens", ADMIN).status()).isEqualTo(401);
            assertThat(api.get("/api/v1/tokens", "flg_an-old-generated-token-0123456789").status())
                    .as("the file's token is not read").isEqualTo(401);
            ApiClient.Response tokens = api.get("/api/v1/tokens", ops);
            assertThat(tokens.status()).isEqualTo(200);
            assertThat(tokens.json().get("tokens").findValuesAsText("name")).containsExactly("ops");
        }
        try (FlagServer server = FlagServer.start(on(), clock)) {
            assertThat(new ApiClient(server.httpPort()).get("/api/v1/tokens", ADMIN).status()).as("on again: it works again")
                    .isEqualTo(200);
        }
    }

    @Test
    void offWithoutALiveAdminTokenTheServerDoesNotStartAndWritesNoTokenFile() throws Exception {
        String message = "the bootstrap admin token is off and the journal holds no live admin token: nobody could manage this"
                + " server. Start it with the bootstrap admin token on, make an admin token (flags tokens create NAME --scope"
                + " admin), then turn the bootstrap token off";
        assertThatThrownBy(() -> FlagServer.start(off(), clock)).isInstanceOf(IOException.class).hasMessage(message);
        assertThat(dir.resolve(AdminToken.FILE_NAME)).doesNotExist();

        // An admin token that expired counts as none; an editor token is no admin.
        try (FlagServer server = FlagServer.start(on(), clock)) {
            ApiClient api = new ApiClient(server.httpPort());
            adminToken(api, ", \"expiresIn\": \"PT1H\"");
            assertThat(api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}").status()).isEqualTo(201);
            ApiClient.Response editor = api.post("/api/v1/tokens", ADMIN, "{\"name\": \"ed\", \"scope\": \"editor\","
                    + " \"environments\": [\"production\"]}");
            assertThat(editor.status()).as(editor.body()).isEqualTo(201);
        }
        clock.advance(Duration.ofHours(2));
        assertThatThrownBy(() -> FlagServer.start(off(), clock)).hasMessage(message);
    }

    @Test
    void offTheLastAdminTokenThatMayActCannotBeRevoked() throws Exception {
        String ops;
        String second;
        String secondId;
        try (FlagServer server = FlagServer.start(on(), clock)) {
            ApiClient api = new ApiClient(server.httpPort());
            ops = adminToken(api, "");
            ApiClient.Response made = api.post("/api/v1/tokens", ADMIN, "{\"name\": \"ops-2\", \"scope\": \"admin\"}");
            second = made.json().get("token").asText();
            secondId = made.json().get("id").asText();
        }
        try (FlagServer server = FlagServer.start(off(), clock)) {
            ApiClient api = new ApiClient(server.httpPort());
            String opsId = api.get("/api/v1/tokens", ops).json().get("tokens").findValuesAsText("id").stream()
                    .filter(id -> !id.equals(secondId)).findFirst().orElseThrow();
            assertThat(api.delete("/api/v1/tokens/" + secondId, ops).status()).as("another admin remains").isEqualTo(200);

            ApiClient.Response last = api.delete("/api/v1/tokens/" + opsId, ops);
            assertThat(last.status()).isEqualTo(409);
            assertThat(last.json().get("detail").asText()).isEqualTo("token " + opsId + " is the last admin token that may"
                    + " act, and the bootstrap admin token is off: revoked, nobody could manage this server (and it would not"
                    + " start again). Make another admin token first, or restart with the bootstrap admin token on");
            assertThat(api.get("/api/v1/tokens", ops).status()).as("still an admin").isEqualTo(200);
            assertThat(api.get("/api/v1/tokens", second).status()).isEqualTo(401);
        }
        try (FlagServer server = FlagServer.start(on(), clock)) {
            ApiClient api = new ApiClient(server.httpPort());
            String opsId = api.get("/api/v1/tokens", ADMIN).json().get("tokens").findValuesAsText("id").get(0);
            assertThat(api.delete("/api/v1/tokens/" + opsId, ADMIN).status()).as("on: the bootstrap token is an admin")
                    .isEqualTo(200);
        }
    }

    @Test
    void aConfiguredTokenWithTheBootstrapTokenOffIsABadSetting() {
        assertThatThrownBy(() -> ServerFixture.config(dir).withBootstrapAdminToken(false))
                .isInstanceOf(BadSettingException.class)
                .hasMessage("FLAGS_ADMIN_TOKEN is set while the bootstrap admin token is off: unset FLAGS_ADMIN_TOKEN, or turn"
                        + " the bootstrap admin token on");
    }
}
