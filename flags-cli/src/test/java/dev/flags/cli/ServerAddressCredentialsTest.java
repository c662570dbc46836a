package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * A server address with a user and password in it ({@code https://bob:hunter2@host}, FLAGS_SERVER copied from a proxy's
 * or a git remote's URL) is never printed with them: not by a command's --help, which shows FLAGS_SERVER's value as the
 * default, nor by a message that quotes the address it refuses (QA88 F2).
 */
class ServerAddressCredentialsTest {

    private static final String SECRET = "hunter2";

    private static FlagsCommandTest.Run flags(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = FlagsCommand.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new FlagsCommandTest.Run(exit, out.toString(), err.toString());
    }

    @Test
    void anAddressRefusedForAnotherReasonIsQuotedWithoutItsUserAndPassword() {
        // Each is refused before the check of the user and password, for what it is else: each message quotes the address.
        String[] bad = {"ftp://bob:" + SECRET + "@flags.example.com", "https://bob:" + SECRET + "@flags.example.com/?x=1",
                "https://bob:" + SECRET + "@flags.example.com/api/v1", "https://bob:" + SECRET + "@flags example.com",
                "https://" + SECRET + "@flags.example.com#top"};
        for (String address : bad) {
            FlagsCommandTest.Run run = flags("list", "--server=" + address, "--token=t0ken");
            assertThat(run.exit()).as(address).isEqualTo(FlagsCommand.EXIT_USAGE);
            assertThat(run.err()).as(address).startsWith("flags: the server address").contains("://***@flags")
                    .doesNotContain(SECRET).doesNotContain("bob");
        }
        assertThat(flags("list", "--server=https://bob:" + SECRET + "@flags.example.com/api/v1", "--token=t0ken").err())
                .as("the address to give: without them, which the command never sends")
                .contains("give https://flags.example.com (set --server or FLAGS_SERVER)");
        assertThat(FlagsCommand.withoutUserInfo("https://flags.example.com:8443/x")).isEqualTo("https://flags.example.com:8443/x");
        assertThat(FlagsCommand.withoutUserInfo("https://a@b:c@flags.example.com/x@y"))
                .as("the last @ before the path ends them, as URI takes it").isEqualTo("https://***@flags.example.com/x@y");
    }

    @Test
    void aCommandsHelpShowsFlagsServerWithoutItsUserAndPassword() throws Exception {
        ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), FlagsCommand.class.getName(), "list", "--help").redirectErrorStream(true);
        builder.environment().put("FLAGS_SERVER", "https://bob:" + SECRET + "@flags.example.com");
        Process cli = builder.start();
        String printed = new String(cli.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(cli.waitFor()).as(printed).isZero();
        assertThat(printed).contains("--server").contains("https://***@flags.example.com").doesNotContain(SECRET);

        builder.environment().remove("FLAGS_SERVER");
        Process unset = builder.start();
        String help = new String(unset.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(unset.waitFor()).as(help).isZero();
        assertThat(help.replaceAll("\\s+", " ")).as("no variable: the default itself")
                .contains("(env FLAGS_SERVER, default http://localhost:8080)");
    }
}
