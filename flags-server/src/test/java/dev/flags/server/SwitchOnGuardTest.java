package dev.flags.server;

import static dev.flags.server.ServerFixture.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A kill switch is not undone as one line of another change: a revert to a version that is switched on, or a PUT of a
 * document that is, over a flag that is off now says so ({@code 409}) unless the request asks for the switch.
 */
class SwitchOnGuardTest {

    private static final String FLAG = "/api/v1/environments/production/flags/checkout-v2";
    private static final String RAMPED = "{\"enabled\": true, \"rules\": [{\"name\": \"everyone\", \"conditions\":"
            + " [{\"percentage\": 25}]}]}";

    @TempDir
    Path dir;
    private FlagServer server;
    private ApiClient api;
    /** The version that ramped the flag to 25%, switched on. */
    private long ramped;

    @BeforeEach
    void killedDuringAnIncident() throws Exception {
        server = ServerFixture.start(dir.resolve("data"));
        api = new ApiClient(server.httpPort());
        assertThat(api.post("/api/v1/environments", ADMIN, "{\"key\": \"production\"}").status()).isEqualTo(201);
        ramped = api.put(FLAG, ADMIN, RAMPED).json().get("version").asLong();
        assertThat(api.patch(FLAG, ADMIN, "{\"enabled\": false}").status()).as("the kill switch").isEqualTo(200);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private long version() {
        return api.get(FLAG, ADMIN).json().get("version").asLong();
    }

    private static void assertWouldSwitchOn(ApiClient.Response r, String detail) {
        assertThat(r.status()).as(r.body()).isEqualTo(409);
        assertThat(r.json().get("title").asText()).isEqualTo("would switch on");
        assertThat(r.json().get("switchesOn").asBoolean()).isTrue();
        assertThat(r.json().get("detail").asText()).contains(detail);
    }

    @Test
    void aRevertToAVersionThatIsOnOverAKillSwitchIsRefusedUnlessItSaysWhatToDoWithTheSwitch() {
        long killed = version();
        assertWouldSwitchOn(api.post(FLAG + "/revert", ADMIN, "{\"version\": " + ramped + "}"), "version " + ramped
                + " of flag \"checkout-v2\" is switched on, and in environment \"production\" the flag is off (its kill"
                + " switch?): nothing was written. Send \"switchOn\": true to switch it on with the revert, or \"keepOff\":"
                + " true to bring back the rest and keep it off");
        assertThat(version()).as("nothing written").isEqualTo(killed);

        ApiClient.Response both = api.post(FLAG + "/revert", ADMIN, "{\"version\": " + ramped + ", \"switchOn\": true,"
                + " \"keepOff\": true}");
        assertThat(both.status()).as(both.body()).isEqualTo(400);
        assertThat(api.post(FLAG + "/revert", ADMIN, "{\"version\": " + ramped + ", \"keepOff\": \"yes\"}").status())
                .isEqualTo(400);

        ApiClient.Response keptOff = api.post(FLAG + "/revert", ADMIN, "{\"version\": " + ramped + ", \"keepOff\": true}");
        assertThat(keptOff.status()).as(keptOff.body()).isEqualTo(200);
        assertThat(keptOff.json().get("enabled").asBoolean()).as("the rules came back, the switch stayed off").isFalse();
        assertThat(keptOff.json().at("/rules/0/conditions/0/percentage").asDouble()).isEqualTo(25);

        ApiClient.Response switchedOn = api.post(FLAG + "/revert", ADMIN, "{\"version\": " + ramped + ", \"switchOn\": true}");
        assertThat(switchedOn.status()).as(switchedOn.body()).isEqualTo(200);
        assertThat(switchedOn.json().get("enabled").asBoolean()).isTrue();

        long on = version();
        ApiClient.Response whileOn = api.post(FLAG + "/revert", ADMIN, "{\"version\": " + ramped + "}");
        assertThat(whileOn.status()).as("a flag that is on is not switched on by it: no question").isEqualTo(200);
        assertThat(api.post(FLAG + "/revert", ADMIN, "{\"version\": " + (on - 1) + "}").json().get("enabled").asBoolean())
                .as("a revert that switches a flag off needs nothing either").isFalse();
    }

    @Test
    void restoringAnArchivedFlagThatWasOnAsksTooSinceItWouldReleaseItAtOnce() {
        assertThat(api.patch(FLAG, ADMIN, "{\"enabled\": true}").status()).isEqualTo(200);
        long lastOn = version();
        assertThat(api.delete(FLAG, ADMIN).status()).isEqualTo(200);
        assertWouldSwitchOn(api.post(FLAG + "/revert", ADMIN, "{\"version\": " + lastOn + "}"), "the flag is not served"
                + " (archived or deleted): the revert would release it to every user its rules match at once");
        assertWouldSwitchOn(api.put(FLAG, ADMIN, RAMPED), "where it is archived (restoring it so would release it at once)");
        ApiClient.Response restoredOff = api.post(FLAG + "/revert", ADMIN, "{\"version\": " + lastOn + ", \"keepOff\": true}");
        assertThat(restoredOff.status()).as(restoredOff.body()).isEqualTo(201);
        assertThat(restoredOff.json().get("enabled").asBoolean()).as("restored, off").isFalse();
        assertThat(api.get(FLAG + "/history", ADMIN).json().get("versions").get(4).get("comment").asText())
                .as("the history says the switch was kept off").isEqualTo("revert to version " + lastOn + ", kept off");

        assertThat(api.delete(FLAG, ADMIN).status()).isEqualTo(200);
        ApiClient.Response asked = api.put(FLAG + "?switchOn=true", ADMIN, RAMPED);
        assertThat(asked.status()).as("a GitOps sync that says so restores it on: " + asked.body()).isEqualTo(201);
        assertThat(asked.json().get("enabled").asBoolean()).isTrue();
    }

    @Test
    void keepOffOverAFlagThatIsOnIsRefusedRatherThanLeavingItOnOrSwitchingItOff() {
        assertThat(api.patch(FLAG, ADMIN, "{\"enabled\": true}").status()).isEqualTo(200);
        long on = version();
        ApiClient.Response refused = api.post(FLAG + "/revert", ADMIN, "{\"version\": " + ramped + ", \"keepOff\": true}");
        assertThat(refused.status()).as(refused.body()).isEqualTo(409);
        assertThat(refused.json().get("detail").asText()).startsWith("\"keepOff\" keeps off a flag that is off; flag"
                + " \"checkout-v2\" is on in environment \"production\", and version " + ramped + " is on too");
        assertThat(version()).as("nothing written").isEqualTo(on);
    }

    @Test
    void aPutThatSwitchesOnAFlagThatIsOffWithoutNamingTheVersionItReadIsRefusedUnlessItSaysSo() {
        long killed = version();
        assertWouldSwitchOn(api.put(FLAG, ADMIN, RAMPED), "this document would switch flag \"checkout-v2\" on in environment"
                + " \"production\", where it is off (its kill switch?), and the write names no version it was read from:"
                + " nothing was written. Add ?switchOn=true to switch it on with this document, set \"enabled\": false in it"
                + " to keep it off, or send If-Match with the version you read");
        assertThat(version()).as("nothing written").isEqualTo(killed);
        assertThat(api.put(FLAG + "?switchOn=maybe", ADMIN, RAMPED).status()).isEqualTo(400);

        assertThat(api.put(FLAG, ADMIN, RAMPED.replace("\"enabled\": true", "\"enabled\": false")).status())
                .as("a document that keeps it off").isEqualTo(200);
        ApiClient.Response read = api.call("PUT", FLAG, ADMIN, RAMPED, Map.of("If-Match", "\"" + version() + "\""));
        assertThat(read.status()).as("the writer read the flag as it is, off, and switches it on").isEqualTo(200);
        assertThat(api.patch(FLAG, ADMIN, "{\"enabled\": false}").status()).isEqualTo(200);
        ApiClient.Response asked = api.put(FLAG + "?switchOn=true", ADMIN, RAMPED);
        assertThat(asked.status()).as(asked.body()).isEqualTo(200);
        assertThat(asked.json().get("enabled").asBoolean()).isTrue();
        assertThat(api.put("/api/v1/environments/production/flags/new-one", ADMIN, RAMPED).status())
                .as("a new flag is no kill switch undone").isEqualTo(201);
    }
}
