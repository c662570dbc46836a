package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.server.journal.MutableClock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The record of which bootstrap admin token the server runs with ({@code admin-token-since}) keeps a salted PBKDF2 of
 * it, not an unsalted hash that would let whoever reads the data directory test guesses of a short token an operator
 * chose at the speed of SHA-256 (QA85); a record of an earlier release still tells the same token from another.
 */
class AdminTokenSinceTest {

    private static final String TOKEN = "operator-chosen-token-1";
    private static final Instant T0 = Instant.parse("2026-12-07T15:00:00Z");

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(T0);

    private Path file() {
        return dir.resolve(AdminToken.SINCE_FILE);
    }

    /** What releases before the salted fingerprint wrote: the first 8 bytes of SHA-256(SHA-256(token)), in hex. */
    private static String legacy(String token) throws Exception {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        return HexFormat.of().formatHex(sha.digest(sha.digest(token.getBytes(java.nio.charset.StandardCharsets.UTF_8))), 0, 8);
    }

    @Test
    void theRecordIsASaltedSlowHashThatTellsTheSameTokenFromAnother() throws Exception {
        assertThat(AdminToken.since(dir, TOKEN, clock)).isEqualTo(new AdminToken.Since(Instant.EPOCH, false));
        String first = Files.readString(file());
        assertThat(first).matches("pbkdf2-sha256:20000:[0-9a-f]{32}:[0-9a-f]{64} 1970-01-01T00:00:00Z\n")
                .doesNotContain(legacy(TOKEN)).doesNotContain(TOKEN);
        assertThat(AdminToken.fingerprint(TOKEN)).as("a new salt each time").isNotEqualTo(first.split(" ")[0]);

        assertThat(AdminToken.since(dir, TOKEN, clock)).as("the same token").isEqualTo(new AdminToken.Since(Instant.EPOCH, false));
        assertThat(Files.readString(file())).as("left as it was").isEqualTo(first);

        clock.set(T0.plusSeconds(60));
        assertThat(AdminToken.since(dir, "another-token-of-24-chars", clock)).isEqualTo(new AdminToken.Since(T0.plusSeconds(60), true));
        assertThat(Files.readString(file())).endsWith(" " + T0.plusSeconds(60) + "\n");
    }

    @Test
    void aRecordOfAnEarlierReleaseIsReadAndWrittenAgainSalted() throws Exception {
        Files.writeString(file(), legacy(TOKEN) + " 2026-12-01T10:00:00Z\n");
        assertThat(AdminToken.since(dir, TOKEN, clock)).isEqualTo(new AdminToken.Since(Instant.parse("2026-12-01T10:00:00Z"), false));
        assertThat(Files.readString(file())).as("the same instant, the unsalted hash gone")
                .matches("pbkdf2-sha256:20000:[0-9a-f]{32}:[0-9a-f]{64} 2026-12-01T10:00:00Z\n");

        Files.writeString(file(), legacy(TOKEN) + " 2026-12-01T10:00:00Z\n");
        assertThat(AdminToken.since(dir, "another-token-of-24-chars", clock)).as("another token than the record's")
                .isEqualTo(new AdminToken.Since(T0, true));
    }

    @Test
    void aRecordWithAnEditedRoundCountIsDamagedNotRun() throws Exception {
        String fingerprint = AdminToken.fingerprint(TOKEN).replace(":20000:", ":9999999:");
        Files.writeString(file(), fingerprint + " 2026-12-01T10:00:00Z\n");
        assertThat(AdminToken.since(dir, TOKEN, clock)).as("taken as no record, as the damaged file is: not minutes of hashing")
                .isEqualTo(new AdminToken.Since(Instant.EPOCH, false));
    }
}
