package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class HistoryServiceTest {

    @Test
    void anActorIsFoundByItsNameAloneOrWhole() {
        assertThat(HistoryService.actorMatches("alice", "alice (tok-1a2b3c4d)")).isTrue();
        assertThat(HistoryService.actorMatches("alice (tok-1a2b3c4d)", "alice (tok-1a2b3c4d)")).isTrue();
        assertThat(HistoryService.actorMatches("admin", "admin (admin)")).as("the bootstrap token").isTrue();
        assertThat(HistoryService.actorMatches("flags-server", "flags-server (grant expiry)")).isTrue();
        assertThat(HistoryService.actorMatches("alice", "alice (ops) (tok-1a2b3c4d)")).as("a token named 'alice (ops)'").isFalse();
        assertThat(HistoryService.actorMatches("alice (ops)", "alice (ops) (tok-1a2b3c4d)")).isTrue();
        assertThat(HistoryService.actorMatches("ali", "alice (tok-1a2b3c4d)")).isFalse();
        assertThat(HistoryService.actorMatches("alice", "alice")).isTrue();
    }
}
