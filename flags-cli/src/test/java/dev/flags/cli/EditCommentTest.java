package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flags.server.FlagServer;
import dev.flags.server.ServerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code flags edit -m} with a comment the real server refuses: the comment is at fault, not the document (QA71 F7). */
class EditCommentTest {

    private static final String ADMIN = "cli-test-admin-token-0123456789";
    /** A word shaped as a server token, which the server keeps out of the journal. */
    private static final String TOKEN_SHAPED = "flg_" + "A".repeat(43);

    @TempDir
    Path dir;
    private FlagServer server;
    private Path kept;

    @BeforeEach
    void start() throws Exception {
        server = FlagServer.start(ServerConfig.defaults().withDataDir(dir.resolve("data")).withPorts(0, 0)
                .withBindAddress("127.0.0.1").withAdminToken(ADMIN));
        assertThat(FlagsCommandTest.against(server, ADMIN, "environments", "create", "production").exit()).isZero();
        assertThat(FlagsCommandTest.against(server, ADMIN, "create", "billing-v2", "-e", "production").exit()).isZero();
    }

    @AfterEach
    void stop() throws Exception {
        server.close();
        if (kept != null) {
            Files.deleteIfExists(kept);
            Files.deleteIfExists(kept.getParent());
        }
    }

    @Test
    void aRefusedCommentIsNotBlamedOnTheDocument() {
        FlagsCommandTest.Run r = FlagsCommandTest.against(server, ADMIN, "edit", "billing-v2", "-e", "production", "--reopen",
                "--editor", "sed -i -e 's/\"enabled\" *: *false/\"enabled\" : true/'", "-m", "deployed with " + TOKEN_SHAPED);
        Matcher file = Pattern.compile("\\S*flags-edit-\\d+/[^\\s:]+\\.json").matcher(r.err());
        if (file.find()) {
            kept = Path.of(file.group());
        }
        assertThat(r.exit()).as(r.err()).isEqualTo(1);
        assertThat(r.err()).contains("flags: the server refused the comment (-m), not the document: the comment",
                "nothing was written; your edit is kept: flags put billing-v2 ", " -m \"...\" writes it with another comment")
                .doesNotContain("mended", TOKEN_SHAPED);
        assertThat(kept).as("the edit is kept").isNotNull();
        assertThat(FlagsCommandTest.against(server, ADMIN, "show", "billing-v2", "-e", "production").out())
                .contains("\"enabled\" : false");
    }
}
