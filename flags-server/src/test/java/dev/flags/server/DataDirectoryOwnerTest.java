package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** A server run by mistake as another user than the one who owns its data directory says so at start. */
class DataDirectoryOwnerTest {

    @Test
    void rootOnTheServiceUsersDirectoryIsWarnedOfTheRefusalItsFilesWillCause() {
        assertThat(FlagServer.anotherUsersDirectory(Path.of("/var/lib/flags"), "root", "flags"))
                .isEqualTo("the server runs as root on the data directory /var/lib/flags, which belongs to flags: what it"
                        + " writes now (journal segments, checkpoints, usage.json) will belong to root, and the next start as"
                        + " flags will be refused; stop it and start it as flags (then, if it wrote anything, 'chown -R flags"
                        + " /var/lib/flags' as root first)");
        assertThat(FlagServer.anotherUsersDirectory(Path.of("/srv/my flags"), "alice", "flags")).as("quoted for a shell")
                .contains("'chown -R flags '/srv/my flags'' as root first");
    }

    @Test
    void theOwnerItselfOrAnOwnerThatCannotBeToldIsNotWarned() {
        assertThat(FlagServer.anotherUsersDirectory(Path.of("/var/lib/flags"), "flags", "flags")).isNull();
        assertThat(FlagServer.anotherUsersDirectory(Path.of("C:\\flags"), "flags", null)).isNull();
        assertThat(FlagServer.anotherUsersDirectory(Path.of("/var/lib/flags"), "", "flags")).isNull();
    }
}
