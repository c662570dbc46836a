package dev.flags.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The start-up line names the JVM and collector, and advises only where they cost a server with many SDKs. */
class JvmLineTest {

    private static final List<String> G1 = List.of("G1 Young Generation", "G1 Old Generation");

    @Test
    void java17WithG1GetsTheAdvice() {
        assertThat(FlagServer.jvmLine(Runtime.Version.parse("17.0.15+6"), G1))
                .startsWith("running on Java 17.0.15+6 with the G1 collector; with hundreds of SDKs connected")
                .contains("-XX:+UseParallelGC").contains("docs/server.md");
    }

    @Test
    void newerJavaOrAnotherCollectorIsOnlyNamed() {
        assertThat(FlagServer.jvmLine(Runtime.Version.parse("25.0.3+9"),
                List.of("G1 Young Generation", "G1 Concurrent GC", "G1 Old Generation")))
                .isEqualTo("running on Java 25.0.3+9 with the G1 collector");
        assertThat(FlagServer.jvmLine(Runtime.Version.parse("17.0.15+6"), List.of("PS Scavenge", "PS MarkSweep")))
                .isEqualTo("running on Java 17.0.15+6 with PS Scavenge and PS MarkSweep");
    }
}
