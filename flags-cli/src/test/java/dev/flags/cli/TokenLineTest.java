package dev.flags.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** {@code flags tokens list}'s line for one token, from the API's metadata. */
class TokenLineTest {

    private static final String SDK = "{\"id\": \"tok-1a2b3c4d5e6f\", \"name\": \"billing\", \"scope\": \"sdk\", \"environments\":"
            + " [\"production\"], \"createdAt\": \"2026-12-01T09:00:00Z\", \"createdBy\": \"admin (admin)\", \"expiresAt\": null,"
            + " \"expired\": false, \"lastUsedAt\": \"2026-12-01T09:05:00Z\", \"openStreams\": %d}";

    @Test
    void aTokenWithStreamsOpenSaysHowManyAndOneWithoutSaysNothingOfThem() throws Exception {
        assertThat(FlagsCommand.tokenLine(Api.JSON.readTree(SDK.formatted(3))))
                .endsWith("expires never  last used 2026-12-01T09:05:00Z  3 sync streams open");
        assertThat(FlagsCommand.tokenLine(Api.JSON.readTree(SDK.formatted(1)))).endsWith("  1 sync stream open");
        assertThat(FlagsCommand.tokenLine(Api.JSON.readTree(SDK.formatted(0)))).endsWith("last used 2026-12-01T09:05:00Z");
        assertThat(FlagsCommand.tokenLine(Api.JSON.readTree(SDK.replace(", \"openStreams\": %d", ""))))
                .as("a server from before openStreams").endsWith("last used 2026-12-01T09:05:00Z");
    }

    @Test
    void theScopeColumnFitsTheLongestScope() throws Exception {
        String sdk = FlagsCommand.tokenLine(Api.JSON.readTree(SDK.formatted(0)));
        String operator = FlagsCommand.tokenLine(Api.JSON.readTree(SDK.formatted(0).replace("\"sdk\"", "\"operator\"")));
        assertThat(sdk).contains(" sdk      [production]");
        assertThat(operator).contains(" operator [production]");
        assertThat(sdk.indexOf("[production]")).as("the environments line up (QA47a F9)").isEqualTo(operator.indexOf("[production]"));
    }
}
