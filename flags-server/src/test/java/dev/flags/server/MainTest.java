package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The command line's defaults are the config's, and every option is in docs/server.md. */
class MainTest {

    @Test
    void theLimitsDefaultsAreTheConfigsAndTheRequestBudgetsCanBeSwitchedOff() {
        Main main = new Main();
        new CommandLine(main).parseArgs();
        assertThat(new ApiLimits(main.apiChangesPerMinute, main.apiReadsPerMinute)).isEqualTo(ApiLimits.defaults());
        assertThat(main.maxSyncStreamsPerToken).isEqualTo(ServerConfig.defaults().maxSyncStreamsPerToken());

        Main off = new Main();
        new CommandLine(off).parseArgs("--api-changes-per-minute", "0", "--api-reads-per-minute", "0");
        assertThat(new ApiLimits(off.apiChangesPerMinute, off.apiReadsPerMinute)).isEqualTo(ApiLimits.none());
    }

    @Test
    void everyOptionIsDocumented() throws Exception {
        String doc = Files.readString(Path.of("..", "docs", "server.md"));
        for (CommandLine.Model.OptionSpec option : new CommandLine(new Main()).getCommandSpec().options()) {
            if (!option.usageHelp() && !option.versionHelp()) {
                assertThat(doc).as(option.longestName()).contains("`" + option.longestName() + "`");
            }
        }
    }

    @Test
    void aLimitOutOfRangeIsRefusedWithItsName() {
        assertThatThrownBy(() -> new ApiLimits(-1, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("changes per minute must be between 0 (no limit) and 1000000, was -1");
        assertThatThrownBy(() -> new ApiLimits(0, 1_000_001))
                .hasMessage("reads per minute must be between 0 (no limit) and 1000000, was 1000001");
        assertThatThrownBy(() -> ServerConfig.defaults().withMaxSyncStreamsPerToken(0))
                .hasMessage("max sync streams per token must be between 1 and 1000000, was 0");
    }
}
