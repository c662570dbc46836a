package dev.flags.server;

import static dev.flags.server.ServerFixture.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A clone is one journal entry, of at most 16 MiB, and --max-environment-mib goes up to 48: an environment that serves
 * more cannot be cloned. The refusal used to be a 400 that told to delete archived flags, of an environment that had
 * none (QA72 F4); it is a 409 that says the way out.
 */
class CloneSizeTest {

    @TempDir
    Path dataDir;

    @Test
    void anEnvironmentTooLargeForOneEntryIsA409ThatSaysHowToCopyItInstead() {
        try (FlagServer server = FlagServer.start(ServerFixture.config(dataDir)
                .withEnvironmentLimits(new EnvironmentLimits(10_000, 48)))) {
            ApiClient api = new ApiClient(server.httpPort());
            assertThat(api.post("/api/v1/environments", ADMIN, "{\"key\": \"big\"}").status()).isEqualTo(201);
            StringBuilder users = new StringBuilder();
            for (int i = 0; i < 1000; i++) {
                users.append(i == 0 ? "" : ",").append("\"u").append(i).append('-').append("x".repeat(900)).append('"');
            }
            String doc = "{\"enabled\": false, \"targets\": [{\"userIds\": [" + users + "], \"serve\": true}], \"rules\": []}";
            for (int i = 0; i < 20; i++) {
                assertThat(api.put("/api/v1/environments/big/flags/f" + i, ADMIN, doc).status()).isEqualTo(201);
            }
            long bytes = api.get("/api/v1/environments/big", ADMIN).json().get("bytes").asLong();
            assertThat(bytes).as("served bytes, of a limit of 48 MiB").isLessThan(48L << 20);
            assertThat(bytes).isGreaterThan(16L << 20);
            ApiClient.Response clone = api.post("/api/v1/environments", ADMIN, "{\"key\": \"big-copy\", \"cloneFrom\": \"big\"}");
            assertThat(clone.status()).as(clone.body()).isEqualTo(409);
            assertThat(clone.json().get("detail").asText()).contains("more than one journal entry holds (16777216, 16 MiB),"
                    + " and a clone is one entry; create the environment and copy the flags one write each instead (flags"
                    + " export --as-code, then flags apply into the new environment)").doesNotContain("archived");
            assertThat(api.get("/api/v1/environments/big-copy", ADMIN).status()).as("nothing made").isEqualTo(404);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
